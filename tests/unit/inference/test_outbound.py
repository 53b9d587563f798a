"""What leaves the process: fail-closed classification, shared placeholders, restored answers."""

from __future__ import annotations

import msgspec
import pytest

from domain.types import Sensitivity
from inference import outbound
from inference.outbound import classify_outbound, pseudonymise_all, restore_json


def test_the_verdict_is_the_highest_sensitivity_of_all_texts() -> None:
    verdict = classify_outbound(["Bonjour", "appelle le 0555 12 34 56", '{"rip": "00799999001234567845"}'])

    assert verdict.sensitivity == Sensitivity.SENSITIVE
    assert verdict.kinds == ("phone", "rip")
    assert verdict.describe() == "sensitive (phone, rip)"


def test_a_classifier_that_raises_makes_everything_sensitive(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(text: str) -> None:
        raise RuntimeError(text)

    monkeypatch.setattr(outbound, "classify", broken)

    verdict = classify_outbound(["Bonjour"])

    assert verdict.sensitivity == Sensitivity.SENSITIVE
    assert verdict.describe() == "classifier failed (RuntimeError), treated as sensitive"


def test_one_value_keeps_one_placeholder_across_texts() -> None:
    texts, mapping = pseudonymise_all(
        ["appelle le 0555 12 34 56", "ou écris à karim@example.dz", "rappel: 0555 12 34 56 et 0661 23 45 67"]
    )

    assert texts == ("appelle le ⟦PHONE_1⟧", "ou écris à ⟦EMAIL_1⟧", "rappel: ⟦PHONE_1⟧ et ⟦PHONE_2⟧")
    assert mapping == {
        "⟦PHONE_1⟧": "0555 12 34 56",
        "⟦EMAIL_1⟧": "karim@example.dz",
        "⟦PHONE_2⟧": "0661 23 45 67",
    }


def test_a_placeholder_already_in_some_text_is_never_reused() -> None:
    texts, mapping = pseudonymise_all(["voir ⟦PHONE_1⟧", "appelle le 0555 12 34 56"])

    assert texts == ("voir ⟦PHONE_1⟧", "appelle le ⟦PHONE_2⟧")
    assert mapping == {"⟦PHONE_2⟧": "0555 12 34 56"}


def test_restoring_puts_values_back_in_every_json_string_and_keeps_it_valid() -> None:
    mapping = {"⟦PHONE_1⟧": '05 "55"', "⟦EMAIL_1⟧": "a@b.dz"}
    document = msgspec.json.encode({"summary": "call ⟦PHONE_1⟧", "facts": [{"⟦EMAIL_1⟧": ["⟦EMAIL_1⟧", 3]}]})

    restored = msgspec.json.decode(restore_json(document, mapping))

    assert restored == {"summary": 'call 05 "55"', "facts": [{"a@b.dz": ["a@b.dz", 3]}]}


def test_without_placeholders_the_document_is_returned_untouched() -> None:
    assert restore_json(b'{"a": 1.50}', {}) == b'{"a": 1.50}'
