"""Properties over generated texts: offsets slice to the reported text, findings never overlap
(invoices aside), redaction round-trips, and sensitivity is the maximum of the findings' kinds."""

from __future__ import annotations

import itertools
import json
import random
import uuid
from pathlib import Path

import pytest

from inference.privacy import KIND_SENSITIVITY, Sensitivity, classify, max_sensitivity, pseudonymise, restore

_SEED_TEXTS = [
    entry["text"]
    for entry in json.loads((Path(__file__).parent / "privacy_corpus.json").read_text(encoding="utf-8"))
]
_NOISE = [" ", "\n", ", ", " - ", "٫", "\u00a0", "é", "ت", "#", "0", "٣", "DA", "+", "@", "(", "⟦", "⟧"]


def _texts(count: int, seed: int) -> list[str]:
    """Corpus messages glued together and cut at random places, with noise between them."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        parts = [rng.choice(_SEED_TEXTS) for _ in range(rng.randrange(1, 4))]
        glued = rng.choice(_NOISE).join(parts)
        low = rng.randrange(0, max(1, len(glued) // 3))
        high = rng.randrange(max(low + 1, len(glued) * 2 // 3), len(glued) + 1)
        out.append(glued[low:high])
    return out


TEXTS = _texts(400, seed=20261125)


@pytest.mark.parametrize("seed", range(4))
def test_offsets_always_slice_to_the_reported_text(seed: int) -> None:
    for text in TEXTS[seed::4]:
        for finding in classify(text).findings:
            assert 0 <= finding.start < finding.end <= len(text)
            assert text[finding.start : finding.end] == finding.text


def test_entity_findings_never_overlap() -> None:
    for text in TEXTS:
        entities = [finding for finding in classify(text).findings if finding.kind != "invoice"]
        for left, right in itertools.pairwise(entities):
            assert left.end <= right.start, (text, left, right)


def test_sensitivity_is_the_highest_level_of_the_kinds_found() -> None:
    for text in TEXTS:
        classification = classify(text)
        expected = max_sensitivity(KIND_SENSITIVITY[finding.kind] for finding in classification.findings)
        assert classification.sensitivity is expected


def test_pseudonymise_then_restore_gives_back_the_original_text() -> None:
    for text in TEXTS:
        masked, mapping = pseudonymise(text)
        assert restore(masked, mapping) == text
        assert all(value not in masked for value in mapping.values() if len(value) > 6)


def test_max_sensitivity_orders_public_internal_sensitive() -> None:
    assert max_sensitivity([]) is Sensitivity.PUBLIC
    assert max_sensitivity([Sensitivity.INTERNAL, Sensitivity.PUBLIC]) is Sensitivity.INTERNAL
    assert max_sensitivity([Sensitivity.SENSITIVE, Sensitivity.INTERNAL]) is Sensitivity.SENSITIVE


def test_kinds_map_to_the_documented_levels() -> None:
    internal = {kind for kind, level in KIND_SENSITIVITY.items() if level is Sensitivity.INTERNAL}
    assert internal == {"phone", "email"}
    assert len(KIND_SENSITIVITY) == 10


def test_text_without_digits_or_at_sign_is_public_at_once() -> None:
    assert classify("Bonjour, la facture est payée, merci !").sensitivity is Sensitivity.PUBLIC
    assert classify("").findings == ()


def test_the_digits_of_a_uuid_are_never_read_as_a_bank_or_register_number() -> None:
    """Regression: about 1 random UUID in 125 read as an RC or a CCP, so a workflow's node ids sealed it."""
    rng = random.Random(20261206)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(5000)]

    assert [i for i in ids if classify(json.dumps({"id": i, "webhookId": i.upper()})).findings] == []


def test_a_number_written_beside_a_uuid_is_still_found() -> None:
    node = "69218219-81b9-4161-9cf6-e198fb47c294"

    assert [f.kind for f in classify(f"RIP 00799999002345678165 (node {node})").findings] == ["rip"]
    assert [f.kind for f in classify(f"{node}: appelle le 0555 12 34 56").findings] == ["phone"]
