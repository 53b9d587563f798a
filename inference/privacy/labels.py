"""Labels that name an identifier just before it: "CCP", "NIF :", "رقم التعريف الجبائي", "compte" ...

A label decides the kind of an ambiguous number (15 digits: NIF or NIS?) and lets shapes through
that would be too weak alone (a short CCP account, a 15-digit number with spaces).

Labels are found by walking back over the words before the number, a few dictionary look-ups:
a regex alternation of them all would be tried at every character of every window.
"""

from __future__ import annotations

import re
from typing import Literal

from inference.privacy.digits import DIGITS, D

Label = Literal["ccp", "rip", "nif", "nis", "rc", "rib"]

# The last word of each label, lower-cased, as it stands right before the number.
_WORDS: dict[str, Label] = {
    **dict.fromkeys(("ccp", "c.c.p", "baridimob", "بريدي", "البريدي", "موب"), "ccp"),
    **dict.fromkeys(("rip", "r.i.p", "البريدية"), "rip"),
    **dict.fromkeys(("nif", "n.i.f", "fiscal", "fiscale", "tin", "الجبائي", "جبائي", "الضريبي"), "nif"),
    **dict.fromkeys(("nis", "n.i.s", "statistique", "الإحصائي", "إحصائي", "الاحصائي"), "nis"),
    **dict.fromkeys(("rc", "r.c", "nrc", "cnrc", "commerce", "التجاري", "تجاري"), "rc"),
    **dict.fromkeys(("rib", "r.i.b", "iban", "bancaire", "compte", "account", "bank", "hsab", "7sab"), "rib"),
    **dict.fromkeys(("حساب", "الحساب", "حسابي", "البنكي", "بنكي", "البنكية", "الجاري"), "rib"),
}
# Two-word labels whose last word alone would say something else.
_PAIRS: dict[tuple[str, str], Label] = {
    ("tax", "id"): "nif",
    ("البريدي", "الجاري"): "ccp",
    ("بريدي", "جاري"): "ccp",
    ("baridi", "mob"): "ccp",
    ("سي", "بي"): "ccp",  # "سي سي بي", CCP spelled in Arabic letters
    # "postal" alone is the "code postal" of every address
    ("courant", "postal"): "ccp",
    ("compte", "postal"): "ccp",
    ("identité", "postal"): "rip",
    ("identité", "postale"): "rip",
    ("d'identité", "postal"): "rip",
    ("d'identité", "postale"): "rip",
}
_PAIR_ENDS = frozenset(end for _, end in _PAIRS)
_NUMBER = re.compile(rf"[{DIGITS}.,:/\-]*{D}[{DIGITS}.,:/\-]*")  # "12", "2024/01"; not Darija "ta3i"
_NUMERO = ("n°", "nº")
_PUNCTUATION = " \t:;,.()[]{}<>\"'«»=#*-_/|°"
_LOOKBACK = 40  # characters read before the number: the gap and a two-word label
_MAX_GAP = 24  # characters allowed between the label and the number: "n° :", "de la société :"


def label_before(text: str, pos: int) -> Label | None:
    """The label closest before `pos`, if nothing but a short digit-free gap separates them."""
    words = text[max(0, pos - _LOOKBACK) : pos].lower().split()
    gap = 0
    for index in range(len(words) - 1, -1, -1):
        raw = words[index]
        plain = raw.isalpha()
        word = raw if plain else _bare(raw)  # most words are plain: skip the stripping
        label = _WORDS.get(word)
        if index and word in _PAIR_ENDS:
            label = _PAIRS.get((_bare(words[index - 1]), word), label)
        if label is not None:
            return label
        if not plain and _NUMBER.fullmatch(word):
            return None  # another number stands between: the label, if any, is its own
        gap += len(raw) + 1
        if gap > _MAX_GAP:
            return None
    return None


def _bare(word: str) -> str:
    """ "N°RC:" -> "rc"; "(nif)" -> "nif"; "c.c.p." -> "c.c.p"."""
    word = word.strip(_PUNCTUATION)
    return word[2:].lstrip(_PUNCTUATION) if word[:2] in _NUMERO else word
