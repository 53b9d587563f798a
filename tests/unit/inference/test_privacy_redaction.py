"""redact / pseudonymise / restore: stable placeholders, exact round trips."""

from __future__ import annotations

from inference.privacy import Sensitivity, classify, classify_many, pseudonymise, redact, restore


def test_redact_replaces_each_span_with_a_placeholder_of_its_kind() -> None:
    text = "Karim 0555 12 34 56, RIP 00799999001234567803"
    assert redact(text, classify(text).findings) == "Karim ⟦PHONE_1⟧, RIP ⟦RIP_1⟧"


def test_the_same_value_gets_the_same_placeholder_within_one_call() -> None:
    text = "appelle 0555123456, sinon 0661234567, mais d'abord 0555123456"
    masked, mapping = pseudonymise(text)
    assert masked == "appelle ⟦PHONE_1⟧, sinon ⟦PHONE_2⟧, mais d'abord ⟦PHONE_1⟧"
    assert mapping == {"⟦PHONE_1⟧": "0555123456", "⟦PHONE_2⟧": "0661234567"}


def test_restore_puts_the_originals_back_in_a_model_answer() -> None:
    masked, mapping = pseudonymise("Écris à amina@gmail.com ou au +213 661 23 45 67.")
    answer = "J'ai écrit à ⟦EMAIL_1⟧ et laissé un message au ⟦PHONE_1⟧."
    assert masked == "Écris à ⟦EMAIL_1⟧ ou au ⟦PHONE_1⟧."
    restored = restore(answer, mapping)
    assert restored == "J'ai écrit à amina@gmail.com et laissé un message au +213 661 23 45 67."


def test_restore_leaves_unknown_placeholders_alone() -> None:
    assert restore("voir ⟦PHONE_9⟧", {"⟦PHONE_1⟧": "0555123456"}) == "voir ⟦PHONE_9⟧"


def test_a_text_that_already_holds_a_placeholder_keeps_it_and_round_trips() -> None:
    text = "ancien ⟦PHONE_1⟧, nouveau 0555123456"
    masked, mapping = pseudonymise(text)
    assert masked == "ancien ⟦PHONE_1⟧, nouveau ⟦PHONE_2⟧"
    assert restore(masked, mapping) == text


def test_spans_nested_in_an_invoice_go_with_the_invoice() -> None:
    text = "Facture n° 88, NIF 000016001234567, Net à payer 45 000 DA"
    classification = classify(text)
    assert classification.kinds == {"invoice", "nif"}
    assert redact(text, classification.findings) == "⟦INVOICE_1⟧"


def test_pseudonymised_internal_text_classifies_as_public() -> None:
    masked, _ = pseudonymise("Contact: karim@atlas.dz, 0770 11 22 33")
    assert classify(masked).sensitivity is Sensitivity.PUBLIC


def test_classify_many_takes_the_highest_level_and_says_which_text_each_finding_is_from() -> None:
    texts = ["commande #1023 partie", "appelle 0555123456", "CCP 12345678 28"]
    classification = classify_many(texts)
    assert classification.sensitivity is Sensitivity.SENSITIVE
    assert [(finding.kind, finding.text_index) for finding in classification.findings] == [
        ("phone", 1),
        ("ccp", 2),
    ]
    for finding in classification.findings:
        assert texts[finding.text_index][finding.start : finding.end] == finding.text


def test_classify_many_of_nothing_is_public() -> None:
    assert classify_many([]).sensitivity is Sensitivity.PUBLIC
