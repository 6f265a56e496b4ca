"""`kaigo import certifications FILE.csv`: the operator's side of services/certification_import.py —
engine, keyed hash, audit entry, a progress bar on stderr, and the reconciliation trigger after the commit."""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kaigo.config import Settings
from kaigo.db import make_engine, make_sessionmaker
from kaigo.security.audit import AuditEntry, Outcome
from kaigo.security.field_crypto import FieldCipher
from models.certification_import import ImportChannel
from models.common import today_in_japan
from services import certification_import as importer


@dataclass(frozen=True)
class JobResult:
    import_id: str
    rows: int
    added: int
    already: int
    reconciliation_started: bool

    @property
    def message(self) -> str:
        return importer.summary(self.added, self.already, self.reconciliation_started)


def operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in some containers
        return "cli:unknown"


async def run(
    settings: Settings, database_url: str, file: Path, *, encoding: str | None, progress: bool
) -> JobResult:
    """Import `file`; raises importer.CertificationCsvError listing every problem (nothing imported)."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

    actor = operator()

    def entry(outcome: Outcome, detail: dict[str, Any]) -> AuditEntry:
        resource = f"kaigo import certifications {file.name}"[:200]
        return AuditEntry(
            actor=actor, action="certification.import", outcome=outcome, resource=resource, detail=detail
        )

    engine = make_engine(database_url, pool_size=1)
    bar = Progress(
        TextColumn("認定の取り込み"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]} 行"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not progress,
        transient=False,
    )
    try:
        with file.open("rb") as stream, bar:
            task = bar.add_task("import", total=file.stat().st_size, rows=0)

            def advanced(rows: int) -> None:
                bar.update(task, completed=stream.tell(), rows=rows)

            import_id, counts = await importer.import_file(
                make_sessionmaker(engine),
                stream,
                encoding=encoding,
                key=FieldCipher.from_settings(settings).blind_index,
                actor=actor,
                channel=ImportChannel.CLI,
                audit_entry=entry,
                today=today_in_japan(),
                on_chunk=advanced,
            )
    finally:
        await engine.dispose()
    started = await _trigger(settings)
    return JobResult(import_id, counts.rows, counts.added, counts.already, started)


async def _trigger(settings: Settings) -> bool:
    """Connect only now, after the commit; a Temporal that cannot be reached is not the import's failure.
    From a plain shell beside `make dev` (no TEMPORAL_ADDRESS) it is the embedded server."""
    from kaigo import embedded, temporal_client

    address = embedded.temporal_address(settings)
    try:
        async with temporal_client.bounded():
            client = await temporal_client.connect(settings.model_copy(update={"temporal_address": address}))
    except Exception:  # any failure to connect: the daily run starts the terms
        return False
    return await importer.trigger_reconciliation(client)
