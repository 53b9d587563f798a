from __future__ import annotations

from pathlib import Path

import pytest

from infra.settings import Durability, Settings, SettingsError, load_settings


def test_no_variables_gives_the_embedded_default() -> None:
    settings = load_settings({})

    assert settings == Settings()
    assert settings.redis_url is None
    assert settings.data_dir == Path(".aiwf")


def test_variables_are_parsed_into_their_types() -> None:
    settings = load_settings(
        {
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
            "AIWF_PARTITIONS": "16",
            "AIWF_DURABILITY": "FSYNC",
            "AIWF_DATA_DIR": "/tmp/x",
        }
    )

    assert settings.partitions == 16
    assert settings.durability is Durability.FSYNC
    assert settings.data_dir == Path("/tmp/x")


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AIWF_PARTITIONS", "many"),
        ("AIWF_PARTITIONS", "0"),
        ("AIWF_DURABILITY", "sometimes"),
        ("REDIS_URL", "localhost:6379"),
        ("DATABASE_URL", "mysql://x"),
        ("AIWF_PORT", "70000"),
        ("AIWF_KEY_PREFIX", "a b"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings({variable: value})


def test_an_empty_variable_counts_as_unset() -> None:
    assert load_settings({"REDIS_URL": "  "}).redis_url is None
