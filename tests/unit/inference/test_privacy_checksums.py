"""Check keys against vectors worked out by hand (arithmetic in the comments) and published examples.

Modular shortcuts used below: 100 ≡ 3 (mod 97), so 10^2k ≡ 3^k: 10^4 ≡ 9, 10^6 ≡ 27, 10^10 ≡ 243 ≡ 49,
10^12 ≡ 729 ≡ 50. And 99999 ≡ 89, so the RIP agency part is 99999·10^12 ≡ 89·50 = 4450 ≡ 85 (mod 97).
"""

from __future__ import annotations

import pytest

from inference.privacy.checksums import ccp_key, iban_valid, rib_key, rib_valid, rip_key


@pytest.mark.parametrize(
    ("account", "key"),
    [
        # 0012345678, weights 13..4: 1·11 + 2·10 + 3·9 + 4·8 + 5·7 + 6·6 + 7·5 + 8·4 = 228 -> 28
        ("0012345678", 28),
        # leading zeros weigh nothing: 12345678 is the same account
        ("12345678", 28),
        # 23115007 -> 0023115007: 2·11 + 3·10 + 1·9 + 1·8 + 5·7 + 0·6 + 0·5 + 7·4 = 132 -> 32
        ("23115007", 32),
        # 1234567 -> 0001234567: 1·10 + 2·9 + 3·8 + 4·7 + 5·6 + 6·5 + 7·4 = 168 -> 68
        ("1234567", 68),
        # 7654321 -> 0007654321: 7·10 + 6·9 + 5·8 + 4·7 + 3·6 + 2·5 + 1·4 = 224 -> 24
        ("7654321", 24),
    ],
)
def test_the_ccp_cle_is_the_weighted_digit_sum_mod_100(account: str, key: int) -> None:
    assert ccp_key(account) == key


@pytest.mark.parametrize(
    ("account", "key"),
    [
        # 12345678 = 97·127275 + 3; (3·3 + 85) mod 97 = 94; 97 - 94 = 3
        ("0012345678", 3),
        # 23115007 = 97·238299 + 4; (4·3 + 85) mod 97 = 0; 97 - 0 = 97 (dzkit: 00799999002311500797)
        ("23115007", 97),
        # 200 = 97·2 + 6; (6·3 + 85) mod 97 = 6; 97 - 6 = 91 (dz-format: rip_of("200") = ...0000020091)
        ("200", 91),
        # 7654321 = 97·78910 + 51; (51·3 + 85) mod 97 = 238 mod 97 = 44; 97 - 44 = 53
        ("7654321", 53),
    ],
)
def test_the_rip_key_is_the_rib_key_of_agency_99999(account: str, key: int) -> None:
    assert rip_key(account) == key
    assert rib_valid(f"00799999{account.zfill(10)}{key:02d}")


@pytest.mark.parametrize(
    ("agency", "account", "key"),
    [
        # R = 1·10^10 + 1 ≡ 49 + 1 = 50; R·100 ≡ 50·3 = 150 ≡ 53; 97 - 53 = 44
        ("00001", "0000000001", 44),
        # 112·10^10 ≡ 15·49 = 735 ≡ 56; 1123000001 = 1123·10^6 + 1 ≡ 56·27 + 1 = 1513 ≡ 58;
        # R ≡ 56 + 58 = 114 ≡ 17; ·3 = 51; 97 - 51 = 46 (dz-format says 47 is wrong for this RIB)
        ("00112", "1123000001", 46),
        # 600·10^10 ≡ 18·49 = 882 ≡ 9; 123456789 = 1234·10^5 + 56789 ≡ 70·90 + 44 = 6344 ≡ 39;
        # R ≡ 48; ·3 = 144 ≡ 47; 97 - 47 = 50
        ("00600", "0123456789", 50),
    ],
)
def test_the_rib_key_leaves_the_bank_code_out(agency: str, account: str, key: int) -> None:
    assert rib_key(agency + account) == key
    for bank in ("001", "002", "021"):  # any bank code: the key does not change
        assert rib_valid(f"{bank}{agency}{account}{key:02d}")


def test_a_rib_with_another_key_is_not_valid() -> None:
    assert not rib_valid("00200112112300000147")
    assert not rib_valid("00799999001234567845")


def test_key_97_and_its_00_spelling_are_the_same_remainder() -> None:
    assert rib_valid("00799999002311500797")
    assert rib_valid("00799999002311500700")


@pytest.mark.parametrize(
    ("iban", "valid"),
    [
        ("GB82WEST12345698765432", True),  # the ISO 13616 / Wikipedia example
        ("GB82TEST12345698765432", False),  # one letter changed
        ("FR7630006000011234567890189", True),
        # DZ + check digits + a RIP: 98 - (int("00799999001234567803" "1335" "00") mod 97) = 66
        ("DZ6600799999001234567803", True),
        ("DZ5900799999001234567803", False),
    ],
)
def test_iban_check_digits_follow_iso_13616(iban: str, valid: bool) -> None:
    assert iban_valid(iban) is valid
