"""Settings: one place for configuration; production refuses the public development secrets."""

import pytest
from pydantic import ValidationError

from kaigo.config import Settings


def test_development_accepts_placeholder_secret() -> None:
    assert Settings(_env_file=None, kaigo_env="development").is_dev  # type: ignore[call-arg]


REAL_KEY = "k2026:" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU="
REAL_SECRETS = {
    "secret_key": "x" * 40,
    "data_keys": REAL_KEY,
    "blind_index_key": REAL_KEY,
    "payload_keys": REAL_KEY,
}


@pytest.mark.parametrize("placeholder", sorted(REAL_SECRETS))
def test_production_refuses_each_placeholder_secret(placeholder: str) -> None:
    others = {k: v for k, v in REAL_SECRETS.items() if k != placeholder}
    with pytest.raises(ValidationError, match=f"{placeholder.upper()} still has its development placeholder"):
        Settings(_env_file=None, kaigo_env="production", **others)  # type: ignore[call-arg]


def test_production_starts_with_real_secrets_and_never_prints_them() -> None:
    settings = Settings(_env_file=None, kaigo_env="production", **REAL_SECRETS)  # type: ignore[call-arg]
    assert "x" * 40 not in repr(settings) and REAL_KEY not in repr(settings)


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db"])
def test_database_url_is_pinned_to_psycopg(url: str) -> None:
    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    assert settings.database_url == "postgresql+psycopg://u@h/db"


def test_database_url_must_be_postgresql() -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL must start with postgresql://"):
        Settings(_env_file=None, database_url="mysql://u@h/db")  # type: ignore[call-arg]


def test_environment_variables_configure_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal:7233")
    monkeypatch.setenv("API_PORT", "9000")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.temporal_address, settings.api_port) == ("temporal:7233", 9000)
