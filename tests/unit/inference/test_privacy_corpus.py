"""Every message of privacy_corpus.json: French, Arabic script, Darija and English, public or not.

Ordinary business talk (orders, Yalidine, "1500 DA", dates, "#1023", years) must stay public; each
sensitive or internal message must be found with exactly the kinds it holds.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import msgspec
import pytest

from inference.privacy import Sensitivity, classify


class Entry(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    lang: str
    expected_sensitivity: Sensitivity
    expected_kinds: tuple[str, ...]


CORPUS = msgspec.json.decode(
    (Path(__file__).parent / "privacy_corpus.json").read_bytes(), type=tuple[Entry, ...]
)


def test_the_corpus_covers_four_languages_and_all_three_levels() -> None:
    assert len(CORPUS) >= 100
    assert set(Counter(entry.lang for entry in CORPUS)) == {"fr", "ar", "darija", "en"}
    levels = Counter(entry.expected_sensitivity for entry in CORPUS)
    assert min(levels[level] for level in Sensitivity) >= 10
    kinds = {kind for entry in CORPUS for kind in entry.expected_kinds}
    assert kinds == {"ccp", "rip", "rib", "nif", "nis", "rc", "phone", "email", "iban", "invoice"}


@pytest.mark.parametrize("entry", CORPUS, ids=[f"{i:03d}-{entry.lang}" for i, entry in enumerate(CORPUS)])
def test_each_corpus_message_gets_its_expected_sensitivity_and_kinds(entry: Entry) -> None:
    classification = classify(entry.text)
    assert classification.sensitivity is entry.expected_sensitivity, classification.findings
    assert sorted(classification.kinds) == sorted(entry.expected_kinds), classification.findings


def test_the_corpus_file_is_valid_json_with_the_documented_fields() -> None:
    raw = json.loads((Path(__file__).parent / "privacy_corpus.json").read_text(encoding="utf-8"))
    assert all(set(item) == {"text", "lang", "expected_sensitivity", "expected_kinds"} for item in raw)
