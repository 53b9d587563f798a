"""Invoices: text that is one or quotes one, told by signals that gather within a few lines.

Signals: an invoice word or number ("Facture N° 2024/153", "فاتورة رقم"), tax terms (HT, TVA, TTC,
"ضريبة القيمة المضافة"), amounts in DA/DZD/دج, seller identifiers (NIF, RC). One signal is business
talk ("1500 DA", "la facture est payée"); an invoice needs an anchor, something concrete, and a score.

Speed: a few anchors (invoice words, TVA, TTC) are found with `str.find` on the lower-cased text,
and only windows around them are read, one `in` test per keyword: a regex alternation of all the
keywords would start on t, s, n, a, d ... and be tried at nearly every letter.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from inference.privacy.digits import DIGIT_CHARS, DIGITS
from inference.privacy.types import Finding

_WORDS = ("factur", "invoice", "fatura", "faktura", "فاتورة", "فواتير")
# What opens a window: each is one `str.find` pass over the whole text, so only the common ones;
# "faktura", "hors taxes" and the like still count as signals inside a window.
_LATIN_ANCHORS = ("factur", "invoice", "fatura", "tva", "ttc")
_ANCHORS = (*_LATIN_ANCHORS, "فاتورة", "فواتير", "ضريبة")
# Literal (lower-case) -> (kind, canonical value). Each is looked for with `in` / `str.find` inside
# the windows: a regex alternation of them starts on t, s, n, a, d ... and is tried at nearly every letter.
_LATIN: dict[str, tuple[str, str]] = {
    **{word: ("word", word) for word in _WORDS[:4]},
    **dict.fromkeys(("n°", "nº", "numéro", "numero", "#"), ("ref", "")),
    **dict.fromkeys(("ht", "h.t", "hors tax", "hors-tax"), ("tax", "ht")),
    **dict.fromkeys(("ttc", "t.t.c", "toutes taxes"), ("tax", "ttc")),
    **dict.fromkeys(("tva", "t.v.a", "vat"), ("tax", "tva")),
    **dict.fromkeys(("net à payer", "net a payer", "sous-total", "sous total", "subtotal"), ("tax", "total")),
    **dict.fromkeys(("sub-total", "total due"), ("tax", "total")),
    **dict.fromkeys(("nif", "nis", "rc", "n.i.f", "art. imp"), ("ident", "")),
    **dict.fromkeys(("da", "dzd", "dinar"), ("amount", "")),
}
_ARABIC: dict[str, tuple[str, str]] = {
    **{word: ("word", word) for word in _WORDS[4:]},
    "رقم": ("ref", ""),
    **dict.fromkeys(("مع احتساب",), ("tax", "ttc")),
    **dict.fromkeys(("ضريبة", "الرسم على"), ("tax", "tva")),
    **dict.fromkeys(("المبلغ الإجمالي", "خارج الرسم"), ("tax", "total")),
    **dict.fromkeys(("التعريف الجبائي", "السجل التجاري"), ("ident", "")),
    **dict.fromkeys(("دج", "د.ج"), ("amount", "")),
}
_REF = re.compile(
    r"n[°ºo]\.?\s*(?:de\s+(?:la\s+)?)?factur|num[ée]ro\s+(?:de\s+(?:la\s+)?)?factur|#\s*factur"
    rf"|factur\w*\s*(?:n[°ºo]\.?|num[ée]ro|#|no\.?)\s*:?\s*[a-z{DIGITS}]"
    rf"|invoice\s*(?:#|no\.?|number|n°)\s*:?\s*[a-z{DIGITS}]"
    r"|رقم\s+الفاتورة|رقم\s+فاتورة|فاتورة\s+رقم"
)
_AMOUNT_CHARS = f"{DIGIT_CHARS} \u00a0.,"
_WINDOW = 120  # characters each side of an anchor: invoice signals sit on neighbouring lines
_GAP = 120  # signals further apart than this belong to different parts or documents

# (start, end, kind, value): plain tuples, as there may be thousands per document.
Signal = tuple[int, int, str, str]


def scan_invoices(text: str) -> Iterator[Finding]:
    lower = text.lower()
    if len(lower) != len(text):  # a rare letter changed length when lower-cased: offsets would lie
        lower = "".join(char.lower()[0] for char in text)
    for low, high in _windows(lower):
        for cluster in _clusters(sorted(_signals(text, lower, low, high))):
            finding = _judge(text, cluster)
            if finding is not None:
                yield finding


def _windows(lower: str) -> list[tuple[int, int]]:
    anchors = _LATIN_ANCHORS if lower.isascii() else _ANCHORS
    positions: list[int] = []
    for anchor in anchors:
        pos = lower.find(anchor)
        while pos >= 0:
            positions.append(pos)
            pos = lower.find(anchor, pos + len(anchor))
    windows: list[tuple[int, int]] = []
    for pos in sorted(positions):
        low, high = max(0, pos - _WINDOW), min(len(lower), pos + _WINDOW)
        if windows and low <= windows[-1][1]:
            windows[-1] = (windows[-1][0], high)
        else:
            windows.append((low, high))
    return windows


def _positions(lower: str, anchor: str, low: int = 0, high: int | None = None) -> Iterator[int]:
    pos = lower.find(anchor, low, high)
    while pos >= 0:
        yield pos
        pos = lower.find(anchor, pos + len(anchor), high)


def _signals(text: str, lower: str, low: int, high: int) -> Iterator[Signal]:
    window = lower[low:high]
    keywords = _LATIN.items() if window.isascii() else (*_LATIN.items(), *_ARABIC.items())
    for literal, (kind, value) in keywords:
        if literal not in window:  # most are absent: skip them before making a generator
            continue
        for pos in _positions(lower, literal, low, high):
            signal = _signal(text, lower, pos, literal, kind=kind, value=value)
            if signal is not None:
                yield signal


def _signal(text: str, lower: str, pos: int, literal: str, *, kind: str, value: str) -> Signal | None:
    end = pos + len(literal)
    if literal.isascii() and literal[0].isalpha() and not _starts_word(lower, pos):
        return None  # "rc" in "merci", "ht" in "light"; Arabic words take prefixes: "الفاتورة"
    if kind in ("word", "ref"):
        ref = _REF.match(lower, pos)
        if ref is not None:
            return (pos, ref.end(), "ref", "")
        return (pos, end, "word", value) if kind == "word" else None
    if not _ends_word(lower, end):
        return None
    if kind == "amount":
        return _amount(lower, pos, end)
    if literal == "ht" and text[pos : pos + 2] != "HT":
        return None  # lower-case "ht" is a chat fragment; the tax term is written in capitals
    return (pos, end, kind, value)


def _amount(lower: str, start: int, end: int) -> Signal | None:
    """A currency counts when digits stand right before it: "1 900 DA", "2500دج"."""
    before = lower[max(0, start - 24) : start]
    digits = before.rstrip(_AMOUNT_CHARS)
    if len(digits) == len(before) or not any(char.isdigit() for char in before[len(digits) :]):
        return None
    return (start - (len(before) - len(digits)), end, "amount", "")


def _starts_word(lower: str, pos: int) -> bool:
    return pos == 0 or not lower[pos - 1].isalnum()


def _ends_word(lower: str, end: int) -> bool:
    return end == len(lower) or not (lower[end].isascii() and lower[end].isalnum())


def _clusters(signals: list[Signal]) -> Iterator[list[Signal]]:
    cluster: list[Signal] = []
    end = 0
    for signal in signals:
        if cluster and signal[0] - end > _GAP:
            yield cluster
            cluster = []
        cluster.append(signal)
        end = max(end, signal[1])
    if cluster:
        yield cluster


def _judge(text: str, cluster: list[Signal]) -> Finding | None:
    kinds = {signal[2] for signal in cluster}
    taxes = {signal[3] for signal in cluster if signal[2] == "tax"}
    ref, amount, ident = "ref" in kinds, "amount" in kinds, "ident" in kinds
    word = ref or "word" in kinds
    score = word + ref + min(len(taxes), 2) + amount + ident
    if score < 3 or not (word or len(taxes) >= 2) or not (ref or amount or ident):
        return None
    facts = [("invoice number", ref), ("invoice word", word and not ref), ("tax terms", bool(taxes))]
    facts += [("amounts in DA", amount), ("seller identifiers", ident)]
    start, end = cluster[0][0], max(signal[1] for signal in cluster)
    return Finding(
        kind="invoice",
        start=start,
        end=end,
        text=text[start:end],
        checksum_valid=None,
        confidence="high" if score >= 4 else "medium",
        reason="invoice context: " + ", ".join(name for name, seen in facts if seen),
    )
