"""Digits as people type them: Western 0-9, Arabic-Indic ٠-٩ and Eastern Arabic-Indic ۰-۹.

Every pattern matches the original text, so offsets stay true; only matched values are normalised.
"""

from __future__ import annotations

import re

DIGITS = "0-9\u0660-\u0669\u06f0-\u06f9"  # body of a regex character class
D = f"[{DIGITS}]"
DIGIT_CHARS = "0123456789" + "".join(map(chr, range(0x660, 0x66A))) + "".join(map(chr, range(0x6F0, 0x6FA)))

_TO_ASCII = str.maketrans(
    "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669"
    "\u06f0\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6\u06f7\u06f8\u06f9",
    "01234567890123456789",
)
_NOT_DIGIT = re.compile(f"[^{DIGITS}]+")


def to_ascii(value: str) -> str:
    """`value` with every Arabic-Indic digit replaced by its Western digit, one character for one."""
    return value if value.isascii() else value.translate(_TO_ASCII)


def only_digits(value: str) -> str:
    """The Western digits of `value`, separators and letters dropped."""
    return to_ascii(_NOT_DIGIT.sub("", value))
