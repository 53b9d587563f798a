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
        ("AIWF_IDEMPOTENCY_TTL_S", "a day"),
        ("AIWF_IDEMPOTENCY_TTL_S", "59"),
        ("AIWF_IDEMPOTENCY_TTL_S", "2592001"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings({variable: value})


def test_an_empty_variable_counts_as_unset() -> None:
    assert load_settings({"REDIS_URL": "  "}).redis_url is None


def test_the_idempotency_ttl_is_read_in_seconds_and_a_bad_one_names_its_range() -> None:
    assert load_settings({}).idempotency_ttl_s == 86400
    assert load_settings({"AIWF_IDEMPOTENCY_TTL_S": "3600"}).idempotency_ttl_s == 3600

    message = r"AIWF_IDEMPOTENCY_TTL_S='30' is not valid: .* from 60 to 2592000"
    with pytest.raises(SettingsError, match=message):
        load_settings({"AIWF_IDEMPOTENCY_TTL_S": "30"})


def test_the_public_url_defaults_to_where_the_api_listens_and_can_be_set() -> None:
    assert load_settings({}).api_url == "http://127.0.0.1:8080"
    assert load_settings({"AIWF_HOST": "0.0.0.0", "AIWF_PORT": "9000"}).api_url == "http://127.0.0.1:9000"
    assert load_settings({"AIWF_HOST": "::1"}).api_url == "http://[::1]:8080"
    assert (
        load_settings({"AIWF_PUBLIC_URL": "https://aiwf.example/api/"}).api_url == "https://aiwf.example/api"
    )


@pytest.mark.parametrize("value", ["aiwf.example", "ftp://aiwf.example", "https://", "https://x/?a=1"])
def test_a_public_url_that_is_not_one_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="AIWF_PUBLIC_URL"):
        load_settings({"AIWF_PUBLIC_URL": value})
