"""Shared by the HTTP benches: a throw-away embedded PostgreSQL, bulk seeding, the real API as `make dev`
starts it (`python -m cli api --no-migrate`, its own process(es)), latency statistics and a sampler of
what PostgreSQL sessions are waiting on.

Seeding writes the rows GET /cases/{id} and POST /tasks/search read today (person, case_record,
certification_application, case_event, task, staff) in one function, `seed`, so a schema change is adapted
in one place.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import psycopg

from kaigo import embedded, migrate
from kaigo.config import Settings
from kaigo.security.passwords import hash_password
from kaigo.security.tokens import issue_token
from models.certification_tasks import CERTIFICATION

ROOT = Path(__file__).resolve().parent.parent
SECRET = Settings(_env_file=None).secret_key  # type: ignore[call-arg]  # the development default


@dataclass
class Database:
    url: str  # SQLAlchemy URL
    server: object

    @property
    def libpq(self) -> str:
        return embedded.libpq_url(self.url)


@contextlib.contextmanager
def database(prefix: str) -> Iterator[Database]:
    with tempfile.TemporaryDirectory(prefix=f"kaigo-bench-{prefix}-") as tmp:
        server = embedded.start_postgres(Path(tmp) / "pg")
        url = embedded.socket_url(server, "bench")
        embedded.ensure_database(url)
        migrate.upgrade_to_head(url)
        try:
            yield Database(url, server)
        finally:
            server.cleanup()  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------------ seed


@dataclass
class Seeded:
    case_ids: list[str]
    insured_nos: list[str]
    staff: list[tuple[str, str]]  # (login id, role)
    tokens: dict[str, str] = field(default_factory=dict)


STAFF_PASSWORD = "bench-password-2026"
STAFF_ROLES = (("intake", 250), ("restriction", 30), ("supervisor", 20))


def seed(db: Database, *, cases: int, open_per_case: int, closed_per_case: int) -> Seeded:
    """Persons with one certification case each, its timeline (4 events) and its tasks; 300 staff.

    Open tasks rotate through every task kind (so through every candidate role), a third assigned to a
    staff member; due dates run from 30 days ago to 60 days ahead, so about a third are overdue.
    """
    kinds = list(CERTIFICATION.task_kinds)
    kind_rows = ",".join(f"({i}, '{k}', '{CERTIFICATION.role_for(k).value}')" for i, k in enumerate(kinds))
    staff = [(f"bench{role[:3]}{n:03d}", role) for role, count in STAFF_ROLES for n in range(count)]
    with psycopg.connect(db.libpq, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute(
            """
            INSERT INTO person (atena_no, name_kanji, name_kana, kana_key, birth_date, sex, postal_code,
                                address, created_at, updated_at)
            SELECT (300000000000 + i)::text, '試験 太郎', 'シケン タロウ', 'シケンタロウ', date '1945-04-01',
                   '1', '0700031', '北海道旭川市一条通8丁目', now(), now()
            FROM generate_series(1, %(n)s) AS i
            """,
            {"n": cases},
        )
        conn.execute(
            """
            INSERT INTO case_record (id, case_type, subject_atena_no, insured_no, office, state, stage,
                due_on, details, exclusive_key, opened_by, opened_at, updated_at)
            SELECT 'certification-' || md5(i::text), 'certification', (300000000000 + i)::text,
                   lpad(i::text, 10, '9'), 'honcho', 'open', 'survey_opinion', current_date + 20,
                   '調査・意見書待ち', 'certification:' || lpad(i::text, 10, '9'), 'benchint000', now(), now()
            FROM generate_series(1, %(n)s) AS i
            """,
            {"n": cases},
        )
        conn.execute(
            """
            INSERT INTO certification_application (id, workflow_id, insured_no, atena_no, kind,
                category, applied_on, applicant_kind, renewal_delay_consent,
                decision_deadline, created_by, created_at, updated_at)
            SELECT md5(i::text), 'certification-' || md5(i::text), lpad(i::text, 10, '9'),
                   (300000000000 + i)::text, 'new', '1', current_date - 10, 'self', false,
                   current_date + 20, 'benchint000', now(), now()
            FROM generate_series(1, %(n)s) AS i
            """,
            {"n": cases},
        )
        conn.execute(
            """
            INSERT INTO case_event (case_id, event_key, subject_atena_no, step, actor, at, detail)
            SELECT 'certification-' || md5(i::text), 'step-' || s, (300000000000 + i)::text,
                   (ARRAY['application', 'survey_requested', 'opinion_requested', 'opinion_received'])[s],
                   'benchint000', now() - make_interval(days => 10 - s), '{}'::jsonb
            FROM generate_series(1, %(n)s) AS i, generate_series(1, 4) AS s
            """,
            {"n": cases},
        )
        staff_values = ",".join(f"('{login}', '{role}')" for login, role in staff)
        conn.execute(
            f"""
            INSERT INTO staff (login_id, display_name, password_hash, roles, active, token_version,
                               created_at, updated_at)
            SELECT login, '試験職員', %(hash)s, ARRAY[role]::varchar[], true, 0, now(), now()
            FROM (VALUES {staff_values}) AS s(login, role)
            """,
            {"hash": hash_password(STAFF_PASSWORD)},
        )
        # Open and closed tasks: kind rotates, role follows the kind, a third of open ones assigned.
        for state, per_case in (("open", open_per_case), ("completed", closed_per_case)):
            if per_case == 0:
                continue
            conn.execute(
                f"""
                WITH kinds(n, kind, role) AS (VALUES {kind_rows}),
                     staff(n, login) AS (
                        SELECT row_number() OVER () - 1, login FROM (VALUES {staff_values}) AS s(login, role))
                INSERT INTO task (id, case_id, workflow_id, kind, candidate_role, assignee,
                                  subject_atena_no, insured_no, state, priority, due_at, version,
                                  created_at, closed_at, closed_by, delegable)
                SELECT gen_random_uuid(), 'certification-' || md5(i::text), 'certification-' || md5(i::text),
                       k.kind, k.role,
                       CASE WHEN %(state)s = 'open' AND (i + t) %% 3 = 0
                            THEN (SELECT login FROM staff WHERE staff.n = (i * 7 + t) %% {len(staff)}) END,
                       (300000000000 + i)::text, lpad(i::text, 10, '9'), %(state)s, 50,
                       now() + make_interval(mins => ((i * 37 + t * 101) %% (90 * 24 * 60)) - 30 * 24 * 60),
                       1, now() - make_interval(mins => (i + t) %% 10000),
                       CASE WHEN %(state)s = 'open' THEN NULL ELSE now() END,
                       CASE WHEN %(state)s = 'open' THEN NULL ELSE 'benchint000' END, true
                FROM generate_series(1, %(n)s) AS i, generate_series(1, %(per)s) AS t
                JOIN kinds k ON k.n = (t %% {len(kinds)})
                """,
                {"n": cases, "per": per_case, "state": state},
            )
        conn.execute("VACUUM ANALYZE")
    return Seeded(
        case_ids=[f"certification-{_md5(i)}" for i in range(1, cases + 1)],
        insured_nos=[str(i).rjust(10, "9") for i in range(1, cases + 1)],
        staff=staff,
        tokens=issue_tokens(staff),
    )


def _md5(i: int) -> str:
    import hashlib

    return hashlib.md5(str(i).encode()).hexdigest()  # the seed's ids, not security


def issue_tokens(staff: list[tuple[str, str]]) -> dict[str, str]:
    return {
        login: issue_token(secret=SECRET, login_id=login, version=0, lifetime=timedelta(hours=2))[0]
        for login, _ in staff
    }


# ------------------------------------------------------------------------------------------------- API


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Api:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_api(db: Database, log_dir: Path, **env: str) -> Api:
    """`python -m cli api --no-migrate`, as `make dev` runs it; Temporal is not needed for reads."""
    port = free_port()
    log_path = log_dir / f"api-{port}.log"
    environment = {
        **os.environ,
        "DATABASE_URL": db.url,
        "TEMPORAL_ADDRESS": "127.0.0.1:1",  # lazy client, never called by the benched routes
        "API_HOST": "127.0.0.1",
        "API_PORT": str(port),
        "KAIGO_ENV": "development",
        **env,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "cli", "api", "--no-migrate"],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    api = Api(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the API exited ({process.returncode}); see {log_path}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{api.base_url}/healthz", timeout=2) as response,
        ):
            if response.status == 200:
                return api
        time.sleep(0.3)
    api.stop()
    raise TimeoutError("the API did not start within 60 s")


# ------------------------------------------------------------------------------------------ statistics


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def summary_ms(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    return (
        f"p50 {pct(samples, 50) * 1000:7.1f}  p95 {pct(samples, 95) * 1000:7.1f}  "
        f"p99 {pct(samples, 99) * 1000:7.1f}  max {max(samples) * 1000:7.1f} ms  (n={len(samples)})"
    )


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else 0.0


class ActivitySampler:
    """Samples pg_stat_activity every 100 ms: sessions waiting on a lock (advisory or row) and active ones."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.lock_waits: list[int] = []
        self.active: list[int] = []
        self.chain_lag: list[
            float
        ] = []  # age of the oldest unchained audit row (s), where rows are chained later
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ActivitySampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with psycopg.connect(self.db.libpq, autocommit=True) as conn:
            chained_later = conn.execute(
                "SELECT 1 FROM information_schema.columns "
                "WHERE table_name = 'audit_event' AND column_name = 'chain_seq'"
            ).fetchone()
            while not self._stop.is_set():
                if chained_later:
                    lag = conn.execute(
                        "SELECT extract(epoch FROM now() - min(at)) FROM audit_event WHERE chain_seq IS NULL"
                    ).fetchone()[0]  # type: ignore[index]
                    self.chain_lag.append(float(lag or 0.0))
                waiting, active = conn.execute(
                    """
                    SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'),
                           count(*) FILTER (WHERE state = 'active')
                    FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid()
                    """
                ).fetchone()  # type: ignore[misc]
                self.lock_waits.append(waiting)
                self.active.append(active)
                time.sleep(0.1)

    def report(self) -> str:
        lag = (
            f"; oldest unchained audit row: mean {mean(self.chain_lag):.2f} s, "
            f"max {max(self.chain_lag):.2f} s"
            if self.chain_lag
            else ""
        )
        return (
            f"sessions waiting on a lock: mean {mean([float(x) for x in self.lock_waits]):.2f}, "
            f"max {max(self.lock_waits, default=0)}; active sessions mean "
            f"{mean([float(x) for x in self.active]):.2f}{lag}"
        )
