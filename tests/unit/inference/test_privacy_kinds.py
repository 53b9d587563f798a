"""Each identifier kind: valid, wrong key (still sensitive), malformed (explicitly not flagged or low).

Keys used here are derived in test_privacy_checksums.py: CCP 12345678 -> clé 28, its RIP key 03;
CCP 1234567 -> clé 68; RIB 001 00001 0000000001 -> key 44.
"""

from __future__ import annotations

import pytest

from inference.privacy import Finding, Sensitivity, classify

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
EASTERN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def only(text: str) -> Finding:
    findings = classify(text).findings
    assert len(findings) == 1, findings
    return findings[0]


def assert_finding(text: str, kind: str, value: str, *, checksum: bool | None, confidence: str) -> None:
    finding = only(text)
    assert (finding.kind, finding.text, finding.checksum_valid, finding.confidence) == (
        kind,
        value,
        checksum,
        confidence,
    )
    assert text[finding.start : finding.end] == value


# -- CCP ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "checksum", "confidence"),
    [
        ("CCP 12345678 28", "12345678 28", True, "high"),
        ("CCP 12345678 45", "12345678 45", False, "medium"),
        ("3andi compte ccp 0012345678 clé 28", "0012345678 clé 28", True, "high"),
        ("3andi compte ccp 0012345678 clé 90", "0012345678 clé 90", False, "medium"),
        ("virement sur 0012345678 cle 28 stp", "0012345678 cle 28", True, "high"),
        ("ccp: 001234567828", "001234567828", True, "high"),
        ("CCP n° 1234567-68", "1234567-68", True, "high"),
        ("CCP 123456", "123456", None, "medium"),
        ("رقم الحساب البريدي الجاري 12345678 المفتاح 28", "12345678 المفتاح 28", True, "high"),
        ("ابعثلي على السي سي بي 12345678 28", "12345678 28", True, "high"),
        ("ab3atli 3la ccp ta3i 12345678 45", "12345678 45", False, "medium"),
    ],
)
def test_ccp_accounts_are_sensitive_with_their_key_checked(
    text: str, value: str, checksum: bool | None, confidence: str
) -> None:
    assert_finding(text, "ccp", value, checksum=checksum, confidence=confidence)
    assert classify(text).sensitivity is Sensitivity.SENSITIVE


@pytest.mark.parametrize("table", [ARABIC_INDIC, EASTERN])
def test_ccp_in_arabic_indic_digits_is_read_like_western_digits(table: dict[int, int]) -> None:
    text = "CCP 12345678 28".translate(table)
    assert_finding(text, "ccp", "12345678 28".translate(table), checksum=True, confidence="high")


def test_an_unlabelled_dashed_account_and_key_is_flagged_by_shape() -> None:
    assert_finding("réf 1234567-68", "ccp", "1234567-68", checksum=True, confidence="medium")
    assert_finding(
        "1234567-89", "ccp", "1234567-89", checksum=False, confidence="low"
    )  # recall first: still flagged


def test_a_dated_lot_number_is_not_taken_for_an_account() -> None:
    assert classify("lot 20241125-01 expédié").findings == ()


def test_an_unlabelled_spaced_account_and_key_needs_a_valid_key() -> None:
    assert_finding("versé 12345678 28 hier", "ccp", "12345678 28", checksum=True, confidence="low")
    assert classify("versé 12345678 45 hier").findings == ()  # any two numbers, not flagged


@pytest.mark.parametrize("text", ["CCP 1234", "ccp de 12 pièces", "le CCP est fermé"])
def test_a_ccp_label_without_an_account_number_is_not_flagged(text: str) -> None:
    assert classify(text).sensitivity is Sensitivity.PUBLIC


# -- RIP / RIB ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "checksum", "confidence"),
    [
        ('{"account": "00799999001234567803"}', "00799999001234567803", True, "high"),
        ('{"account": "00799999001234567845"}', "00799999001234567845", False, "medium"),
        ("RIP 007 99999 0012345678 03", "007 99999 0012345678 03", True, "high"),
        ("RIP: 0079 9999 0012 3456 7803", "0079 9999 0012 3456 7803", True, "high"),
        ("rip dyali 007-99999-0012345678-45", "007-99999-0012345678-45", False, "medium"),
    ],
)
def test_rips_are_sensitive_with_their_mod_97_key_checked(
    text: str, value: str, checksum: bool | None, confidence: str
) -> None:
    assert_finding(text, "rip", value, checksum=checksum, confidence=confidence)


@pytest.mark.parametrize(
    ("text", "value", "checksum", "confidence"),
    [
        ("RIB: 001 00001 0000000001 44", "001 00001 0000000001 44", True, "high"),
        ("RIB: 001 00001 0000000001 45", "001 00001 0000000001 45", False, "medium"),
        ("my bank account is 00100001000000000144", "00100001000000000144", True, "high"),
        ("00100001000000000145", "00100001000000000145", False, "low"),  # one piece, no label: still flagged
        ("الحساب البنكي 00100001000000000144", "00100001000000000144", True, "high"),
    ],
)
def test_ribs_are_sensitive_even_with_a_wrong_key(
    text: str, value: str, checksum: bool | None, confidence: str
) -> None:
    assert_finding(text, "rib", value, checksum=checksum, confidence=confidence)


def test_rip_in_arabic_indic_digits() -> None:
    text = "RIP 00799999001234567803".translate(ARABIC_INDIC)
    assert_finding(
        text, "rip", "00799999001234567803".translate(ARABIC_INDIC), checksum=True, confidence="high"
    )


def test_spaced_groups_of_twenty_digits_are_not_a_rib_when_nothing_says_so() -> None:
    assert classify("ventes 1500 2000 2500 3000 3500").findings == ()


def test_a_labelled_rib_one_digit_short_is_flagged_low() -> None:
    assert_finding("RIB 0010000100000000014", "rib", "0010000100000000014", checksum=False, confidence="low")


# -- NIF / NIS / RC ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "value", "confidence"),
    [
        ("NIF: 000016001234567", "nif", "000016001234567", "high"),
        ("N.I.F 000 016 001 234 567", "nif", "000 016 001 234 567", "high"),
        ("NIF 00001600123456700012", "nif", "00001600123456700012", "high"),
        ("رقم التعريف الجبائي: 000016001234567", "nif", "000016001234567", "high"),
        ("NIS 000116001234567", "nis", "000116001234567", "high"),
        ("رقم التعريف الإحصائي 000116001234567", "nis", "000116001234567", "high"),
        ("NIF 0000160012345", "nif", "0000160012345", "low"),  # two digits short: a typo, still flagged
        ("id 123456789012345", "nif", "123456789012345", "low"),  # unlabelled 15 digits in one piece
    ],
)
def test_tax_and_statistics_numbers_are_sensitive(text: str, kind: str, value: str, confidence: str) -> None:
    assert_finding(text, kind, value, checksum=None, confidence=confidence)
    assert classify(text).sensitivity is Sensitivity.SENSITIVE


def test_nif_in_eastern_arabic_indic_digits() -> None:
    text = "NIF 000016001234567".translate(EASTERN)
    assert_finding(text, "nif", "000016001234567".translate(EASTERN), checksum=None, confidence="high")


def test_fifteen_spaced_digits_without_a_label_are_not_a_nif() -> None:
    assert classify("quantités 150 200 250 300 350").findings == ()


@pytest.mark.parametrize(
    ("text", "value", "confidence"),
    [
        ("RC: 16/00-1234567 B 19", "16/00-1234567 B 19", "high"),
        ("RC n° 99B0123456", "99B0123456", "high"),
        ("registre 01B 0015609-16/00", "01B 0015609-16/00", "medium"),
        ("السجل التجاري رقم 16/00-1234567 ب 19", "16/00-1234567 ب 19", "high"),
        ("RC : 0123456", "0123456", "medium"),
    ],
)
def test_trade_register_numbers_are_sensitive(text: str, value: str, confidence: str) -> None:
    assert_finding(text, "rc", value, checksum=None, confidence=confidence)


# -- phones, e-mails, IBANs --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "confidence"),
    [
        ("appelle au 0555 12 34 56", "0555 12 34 56", "high"),
        ("tel 0661-23-45-67", "0661-23-45-67", "high"),
        ("+213 771 23 45 67", "+213 771 23 45 67", "high"),
        ("00213 555 12 34 56", "00213 555 12 34 56", "high"),
        ("(+213) 21 23 45 67", "(+213) 21 23 45 67", "medium"),
        ("fixe 021.23.45.67", "021.23.45.67", "medium"),
        ('{"phone": "+213555123456"}', "+213555123456", "high"),
        ("رقم الهاتف ٠٥٥٥١٢٣٤٥٦", "٠٥٥٥١٢٣٤٥٦", "high"),
    ],
)
def test_algerian_phone_numbers_are_internal(text: str, value: str, confidence: str) -> None:
    assert_finding(text, "phone", value, checksum=None, confidence=confidence)
    assert classify(text).sensitivity is Sensitivity.INTERNAL


@pytest.mark.parametrize(
    "text",
    [
        "le 07-12-2024 15 colis",  # a date, then a quantity
        "0555",  # too short
        "0855 12 34 56",  # no operator 8
        "555 12 34 56",  # no trunk 0 and no country code
        "05551234567",  # eleven digits
    ],
)
def test_phone_lookalikes_are_not_flagged(text: str) -> None:
    assert classify(text).findings == ()


def test_emails_are_internal() -> None:
    assert_finding(
        "écris à karim.benali@example.dz stp",
        "email",
        "karim.benali@example.dz",
        checksum=None,
        confidence="high",
    )
    assert classify("@karim tu peux voir ?").findings == ()


@pytest.mark.parametrize(
    ("text", "value", "checksum", "confidence"),
    [
        ("IBAN GB82 WEST 1234 5698 7654 32", "GB82 WEST 1234 5698 7654 32", True, "high"),
        ("iban: FR76 3000 6000 0112 3456 7890 189 EUR", "FR76 3000 6000 0112 3456 7890 189", True, "high"),
        ("DZ66 0079 9999 0012 3456 7803", "DZ66 0079 9999 0012 3456 7803", True, "high"),
        ("DZ59 0079 9999 0012 3456 7803", "DZ59 0079 9999 0012 3456 7803", False, "medium"),
    ],
)
def test_iban_like_strings_are_sensitive(text: str, value: str, checksum: bool, confidence: str) -> None:
    assert_finding(text, "iban", value, checksum=checksum, confidence=confidence)


def test_a_product_code_shaped_like_an_iban_head_is_not_flagged() -> None:
    assert classify("ref AB12 CDEF GHIJ KLMN").findings == ()


# -- invoices ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Facture N° 2024/0153\nTotal HT 10 000 DA\nTVA 19% 1 900 DA\nTTC 11 900 DA",
        "Total HT: 12000 DA, TVA 19%: 2280 DA, TTC: 14280 DA",
        "فاتورة رقم 153 المبلغ الإجمالي 11900 دج",
        "الفاتورة رقم 12 بمبلغ 5000 دج",  # the word carries its article: ال + فاتورة
        "Invoice #1023, total 4500 DZD, VAT included",
        "N° de facture : F-2024-77, montant TTC 3500 DA",
        "hak la fatura: 12000 DA TTC, NIF dyal la boite f lekher",
    ],
)
def test_invoices_are_sensitive(text: str) -> None:
    classification = classify(text)
    assert "invoice" in classification.kinds
    assert classification.sensitivity is Sensitivity.SENSITIVE


@pytest.mark.parametrize(
    "text",
    [
        "la facture de 1500 DA est payée",
        "Le prix est 1500 DA TTC",
        "envoie-moi la facture n° 45 stp",
        "on parle de la TVA et du HT demain",
        "1500 DA",
    ],
)
def test_talk_about_invoices_and_amounts_alone_stay_public(text: str) -> None:
    assert classify(text).sensitivity is Sensitivity.PUBLIC
