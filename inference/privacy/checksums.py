"""Check keys of Algerian account numbers and of IBANs; sources and worked examples in ADR 0010.

All functions take Western digits (see `digits.to_ascii`).
"""

from __future__ import annotations

RIP_PREFIX = "00799999"  # bank 007 (Algérie Poste) + agency 99999: every RIP starts so


def ccp_key(account: str) -> int:
    """Clé of a CCP account: digits weighted 4, 5, 6, ... from the right, sum mod 100.

    Same as weights 13..4 on the account padded to 10 digits (leading zeros weigh nothing).
    """
    return sum(int(digit) * weight for weight, digit in enumerate(reversed(account), start=4)) % 100


def rib_key(agency_and_account: str) -> int:
    """Key of a RIB/RIP per Bank of Algeria instruction 06-2004: 97 - (agency·account·100 mod 97).

    The 3-digit bank code is left out of the computation.
    """
    return 97 - int(agency_and_account) * 100 % 97


def rip_key(ccp_account: str) -> int:
    """Key of the RIP of a CCP account: the RIB key with agency 99999."""
    return rib_key("99999" + ccp_account.zfill(10))


def rib_valid(rib: str) -> bool:
    """A 20-digit RIB/RIP is valid when agency·account·key ≡ 0 (mod 97).

    This accepts key 97 and its occasional `00` spelling, which are the same remainder.
    """
    return len(rib) == 20 and int(rib[3:]) % 97 == 0


def iban_valid(compact: str) -> bool:
    """ISO 13616: move the first 4 characters to the end, letters to 10..35, the number mod 97 is 1."""
    rotated = compact[4:] + compact[:4]
    if not rotated.isascii() or not rotated.isalnum():
        return False
    return int("".join(str(int(char, 36)) for char in rotated)) % 97 == 1
