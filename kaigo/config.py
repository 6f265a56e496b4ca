"""All configuration in one place, read from the environment (and an optional .env file).

Every process — API, worker, CLI, dev supervisor — builds the same `Settings`; docker-compose sets the same
variable names (tests/test_compose.py keeps the two in step).
"""

from __future__ import annotations

import base64
import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.certification import CertificationPolicy
from models.procedure import notice_task_queue
from models.renewal import RenewalPolicy
from models.renewal_batch import RenewalBatchPolicy
from models.restriction import RestrictionPolicy

Environment = Literal["development", "test", "production"]

# Development defaults for secrets. They are public (they are in this file), so anything but a
# development or test environment refuses to start with them.
PLACEHOLDER_PREFIX = "changethis"
_DEV_SECRET = PLACEHOLDER_PREFIX + "-dev-secret-not-for-production-use-0000"


def _dev_keyring(label: str) -> str:
    """A `key-id:base64-key` keyring whose id marks it as a public development placeholder."""
    key = base64.b64encode(hashlib.sha256(f"kaigo-dev-{label}".encode()).digest()).decode()
    return f"{PLACEHOLDER_PREFIX}-dev:{key}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    kaigo_env: Environment = "development"

    # Unset → `kaigo dev` starts embedded servers and passes their addresses to its children.
    database_url: str | None = None
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    temporal_task_queue: str = "kaigo-flow"

    data_dir: Path = Path(".data")
    api_host: str = "localhost"  # binds the IPv4 loopback; also the one host name every printed address uses
    api_port: int = Field(default=8000, ge=1, le=65535)
    temporal_port: int = Field(default=7233, ge=1, le=65535)
    temporal_ui_port: int = Field(default=8233, ge=1, le=65535)
    # The Temporal UI server that the API serves under /temporal/ (api/routes/temporal_ui.py); it must run
    # with the public path /temporal. Unset → the dev server's UI on this machine (TEMPORAL_UI_PORT).
    temporal_ui_upstream: str | None = Field(default=None, pattern=r"^https?://[A-Za-z0-9.\-\[\]:]+/?$")
    # API worker processes (uvicorn --workers); unset → one per CPU core. Each has its own database pool.
    api_workers: int | None = Field(default=None, ge=1, le=64)
    # Connections per process (API worker, Temporal worker); as many again may open briefly under bursts.
    db_pool_size: int = Field(default=10, ge=1, le=100)

    # The worker touches this file while it is healthy (container healthcheck: `kaigo worker-alive`).
    worker_heartbeat_file: Path | None = None
    # Processes the notice worker renders PDFs in; 0 = one per CPU core.
    notice_render_processes: int = Field(default=0, ge=0, le=64)

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"

    # Secrets (repr=False marks them: never printed, refused as placeholders outside development/test).
    secret_key: str = Field(default=_DEV_SECRET, min_length=32, repr=False)  # signs staff JWTs
    # Keyrings: comma-separated `key-id:base64(32 bytes)`; the first key encrypts, all keys decrypt, so a
    # new key can be put first and old ciphertexts still read (rotation).
    data_keys: str = Field(default=_dev_keyring("data"), repr=False)  # 個人番号 at rest (AES-GCM)
    blind_index_key: str = Field(default=_dev_keyring("blind-index"), repr=False)  # HMAC for exact search
    payload_keys: str = Field(default=_dev_keyring("payload"), repr=False)  # Temporal payload codec

    access_token_minutes: int = Field(default=30, ge=1, le=24 * 60)
    login_failure_window_minutes: int = Field(default=15, ge=1)
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_client: int = Field(default=20, ge=1)
    retention_years: int = Field(default=5, ge=1, le=150)  # 除票 persons and closed records are purged after
    # The audit chain head is recorded in a Temporal workflow history this often (AuditAnchorWorkflow).
    audit_anchor_minutes: int = Field(default=5, ge=1, le=24 * 60)
    # `kaigo audit verify` fails when a row has waited longer than this to be chained.
    audit_chain_max_lag_seconds: int = Field(default=300, ge=5)

    # The handling offices (本庁・支所) a case or task can belong to: `code:label` pairs, comma-separated.
    # OFFICE_CODE is the default office of a case whose intake clerk has none of their own.
    offices: str = Field(
        default="honcho:本庁,higashi:東旭川支所,nagayama:永山支所",
        pattern=r"^[a-z0-9-]{1,32}:[^,:]{1,40}(,[a-z0-9-]{1,32}:[^,:]{1,40})*$",
    )
    office_code: str = Field(default="honcho", pattern=r"^[a-z0-9-]{1,32}$")
    # A browser session (web console and Temporal UI) ends after ACCESS_TOKEN_MINUTES without a request,
    # and at the latest this many hours after its login.
    console_session_hours: int = Field(default=10, ge=1, le=24)
    insurer_no: str = Field(default="012047", pattern=r"^[0-9]{6}$")  # 保険者番号 (旭川市)
    certification_policy: CertificationPolicy = Field(
        default_factory=CertificationPolicy
    )  # JSON, e.g. {"opinion_due_days": 10}
    restriction_policy: RestrictionPolicy = Field(
        default_factory=RestrictionPolicy
    )  # JSON, e.g. {"explanation_days": 14}
    renewal_batch_policy: RenewalBatchPolicy = Field(
        default_factory=RenewalBatchPolicy
    )  # JSON, e.g. {"run_cron": "30 17 * * *"}: the day's print batch of renewal reminders
    renewal_policy: RenewalPolicy = Field(
        default_factory=RenewalPolicy
    )  # JSON, e.g. {"second_notice": false, "only_service_users": true}

    # Printed on every notice (通知書): the issuing city, its mayor, the desk to contact, and the prefecture's
    # review board named in the 教示 (appeal instructions).
    city_name: str = "旭川市"
    issuer_name: str = "旭川市長"  # the 処分庁 as an office: named in the 教示 and on the 弁明書
    mayor_name: str = "○○　○○"  # printed after the office in each notice's header: 旭川市長　○○　○○
    department_name: str = "福祉保険部 介護保険課"
    contact_address: str = "〒070-8525 北海道旭川市7条通9丁目"
    contact_phone: str = "0166-00-0000"
    review_board_name: str = "北海道介護保険審査会"

    @field_validator("database_url")
    @classmethod
    def _psycopg_driver(cls, url: str | None) -> str | None:
        """Accept the usual postgres:// forms and pin SQLAlchemy to psycopg 3."""
        if url is None:
            return None
        for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url.removeprefix(prefix)
        raise ValueError("DATABASE_URL must start with postgresql://")

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.kaigo_env in ("development", "test"):
            return self
        for name in self.secret_field_names():
            if str(getattr(self, name)).startswith(PLACEHOLDER_PREFIX):
                raise ValueError(f"{name.upper()} still has its development placeholder; set a real secret")
        return self

    @model_validator(mode="after")
    def _office_is_listed(self) -> Settings:
        if self.office_code not in self.office_labels:
            raise ValueError(f"OFFICE_CODE {self.office_code} is not one of OFFICES ({self.offices})")
        return self

    @property
    def office_labels(self) -> dict[str, str]:
        """Office code → its name, in the configured order."""
        return dict(pair.split(":", 1) for pair in self.offices.split(","))

    @classmethod
    def secret_field_names(cls) -> list[str]:
        return [name for name, field in cls.model_fields.items() if field.repr is False]

    @property
    def temporal_ui_upstream_url(self) -> str:
        return (self.temporal_ui_upstream or f"http://localhost:{self.temporal_ui_port}").rstrip("/")

    @property
    def notice_task_queue(self) -> str:
        """The notice worker's task queue: workflows send issue_notice here, and nothing else runs on it."""
        return notice_task_queue(self.temporal_task_queue)

    @property
    def is_dev(self) -> bool:
        return self.kaigo_env == "development"

    def require_database_url(self) -> str:
        if self.database_url is None:
            raise RuntimeError("DATABASE_URL is not set (run `make dev` to start the embedded PostgreSQL)")
        return self.database_url

    @property
    def effective_api_workers(self) -> int:
        return self.api_workers or os.cpu_count() or 1

    def require_temporal_address(self) -> str:
        if self.temporal_address is None:
            raise RuntimeError("TEMPORAL_ADDRESS is not set (run `make dev` to start the embedded Temporal)")
        return self.temporal_address


@lru_cache
def get_settings() -> Settings:
    return Settings()
