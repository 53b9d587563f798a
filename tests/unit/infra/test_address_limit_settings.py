"""The per-address limit in front of key lookups is read from the environment like every other setting."""

from __future__ import annotations

import pytest

from infra.settings import SettingsError, load_settings


def test_the_address_limit_has_defaults_and_is_read_from_the_environment() -> None:
    default = load_settings({})
    chosen = load_settings({"AIWF_ADDRESS_RATE_PER_S": "3", "AIWF_ADDRESS_BURST": "7"})

    assert (default.address_rate_per_s, default.address_burst) == (10, 50)
    assert (chosen.address_rate_per_s, chosen.address_burst) == (3, 7)
    with pytest.raises(SettingsError, match="AIWF_ADDRESS_BURST"):
        load_settings({"AIWF_ADDRESS_BURST": "0"})
