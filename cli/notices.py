"""`kaigo notices …`: the bulk print export for the print contractor, and the notice preview page."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kaigo.config import get_settings

if TYPE_CHECKING:
    from services.print_export import RunReport

notices_app = typer.Typer(
    help="通知書: 印刷委託用の一括出力、作成中・欠番の確認、プレビュー", no_args_is_help=True
)

_ROOT = Path(__file__).resolve().parent.parent
_DAY = ["%Y-%m-%d"]


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        return "unknown"


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


async def _run(
    database_url: str,
    *,
    job_id: str | None,
    request: dict[str, object],
    out: Path,
    actor: str,
    on_job: Callable[[str], None],
) -> RunReport:
    """Plan a new job (or load the one to resume), then produce its batches with a progress bar."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from kaigo.db import make_engine, make_sessionmaker, transaction
    from kaigo.errors import ProblemError
    from kaigo.security import audit
    from models.print_export import NoticeExportCreate
    from services import print_export

    engine = make_engine(database_url, pool_size=1)
    sessions = make_sessionmaker(engine)
    try:
        if job_id is None:
            async with transaction(sessions) as session:
                job = await print_export.plan(
                    session=session, request=NoticeExportCreate.model_validate(request), requested_by=actor
                )
                note = print_export.AuditNote(
                    "notice.export.plan",
                    None,
                    {
                        "job_id": job.id,
                        "kind": job.kind,
                        "notices": job.notice_count,
                        "batches": job.batch_count,
                    },
                )
                await audit.append(
                    session, print_export.to_entries([note], actor=actor, resource="kaigo notices export")
                )
        else:
            async with sessions() as session:
                job = await print_export.get_job(session=session, job_id=job_id)
            differing = [
                name for name, value in request.items() if value is not None and getattr(job, name) != value
            ]
            if differing:
                raise ProblemError(
                    422,
                    "export-options",
                    f"再開するジョブと条件が違います: {', '.join(differing)} (再開では省略できます)",
                )
        on_job(job.id)
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("通"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=Console(stderr=True)) as progress:
            task = progress.add_task(f"{job.kind} {job.id[:8]}", total=job.notice_count)
            return await print_export.run_to_directory(
                sessions,
                job_id=job.id,
                out_dir=out,
                actor=actor,
                on_notice=lambda: progress.advance(task),  # called from the merge thread; rich locks
                on_skip=lambda count: progress.advance(task, count),
            )
    finally:
        await engine.dispose()


@notices_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="出力先ディレクトリ (なければ作成)")],
    kind: Annotated[str | None, typer.Option(help="通知書の種類 (例: expiry_reminder)")] = None,
    issued_from: Annotated[
        datetime | None, typer.Option("--issued-from", formats=_DAY, help="発行日 (から) YYYY-MM-DD")
    ] = None,
    issued_to: Annotated[
        datetime | None, typer.Option("--issued-to", formats=_DAY, help="発行日 (まで、当日を含む)")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="1ファイルの通知書数 [既定: 500]")] = None,
    job_id: Annotated[str | None, typer.Option("--job-id", help="中断したジョブを再開する")] = None,
    include_exported: Annotated[
        bool, typer.Option("--include-exported", help="既に出力した通知書も含める (再印刷)")
    ] = False,
    operator: Annotated[
        str | None, typer.Option(help="操作者名 (操作記録に残す) [既定: OS のユーザー]")
    ] = None,
) -> None:
    """Bundle issued notices into one PDF per batch plus a manifest CSV, sorted by postal code.

    Resumable: rerun with --job-id (printed at the start) to skip the batches already done.
    """
    from pydantic import ValidationError

    from kaigo import embedded
    from kaigo.errors import ProblemError

    request: dict[str, object] = {
        "kind": kind,
        "issued_from": _day(issued_from),
        "issued_to": _day(issued_to),
        "batch_size": batch_size,
        "include_exported": include_exported or None,
    }
    if job_id is None:
        if kind is None or issued_from is None or issued_to is None:
            typer.echo("--kind, --issued-from, --issued-to を指定してください (再開は --job-id)", err=True)
            raise typer.Exit(2)
        request = {**request, "batch_size": batch_size or 500, "include_exported": include_exported}
    actor = f"cli:{operator or _operator()}"[:64]
    started: list[str] = []
    try:
        report = asyncio.run(
            _run(
                embedded.database_url(get_settings()),
                job_id=job_id,
                request=request,
                out=out,
                actor=actor,
                on_job=lambda new_id: _started(started, new_id, resumed=job_id is not None),
            )
        )
    except ProblemError as exc:
        typer.echo(exc.detail, err=True)
        raise typer.Exit(0 if exc.code == "no-notices" else 1) from None
    except ValidationError as exc:
        for error in exc.errors():
            typer.echo(f"{'.'.join(map(str, error['loc']))}: {error['msg']}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        if started:
            typer.echo(
                f"中断しました。再開: kaigo notices export --job-id {started[0]} --out {out}", err=True
            )
        raise typer.Exit(130) from None
    _summary(report, out)


def _started(started: list[str], job_id: str, *, resumed: bool) -> None:
    started.append(job_id)
    typer.echo(f"{'resuming' if resumed else 'started'} export job {job_id}")


def _summary(report: RunReport, out: Path) -> None:
    for batch in report.batches:
        typer.echo(
            f"{batch.pdf_sha256}  {out / batch.pdf_name}  ({batch.notice_count} notices, {batch.pages} pages)"
        )
        typer.echo(f"{batch.manifest_sha256}  {out / batch.manifest_name}")
    typer.echo(
        f"job {report.job.id}: {report.job.notice_count} notices in {report.job.batch_count} batch(es); "
        f"this run: {len(report.exported)} produced, {len(report.skipped)} already done, "
        f"{len(report.rewritten)} rewritten"
    )


@notices_app.command("previews")
def previews(
    out_dir: Annotated[Path, typer.Option(help="PNG の出力先 (Markdown はその隣)")] = _ROOT
    / "docs"
    / "notices",
) -> None:
    """Render every notice kind from its fixture to PNG and write the Markdown page (docs/notices.md)."""
    from notices.preview import PreviewToolMissing, write_previews

    try:
        markdown = write_previews(out_dir)
    except PreviewToolMissing as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {markdown} and {out_dir}/*.png")


async def _unfinished(database_url: str, *, complete: bool, actor: str) -> list[str]:
    from kaigo.db import make_engine, make_sessionmaker
    from notices.pool import RenderPool
    from services import notices

    engine = make_engine(database_url, pool_size=2)
    sessions = make_sessionmaker(engine)
    lines = []
    try:
        async with sessions() as session:
            rows = await notices.unfinished(session)
        pool = RenderPool(1, log_level="WARNING") if complete and rows else None
        try:
            for record, void in rows:
                state = f"欠番 ({void.reason}: {void.detail})" if void else "作成中"
                if pool is not None and void is None:
                    try:
                        issued = await notices.complete(sessions, record, render=pool.render, actor=actor)
                        state = f"作成しました ({issued.pages} 頁, sha256 {issued.sha256[:12]}…)"
                    except notices.NoticeVoided as error:
                        state = f"欠番にしました ({error.void.reason}: {error.void.detail})"
                taken = f"{record.created_at:%Y-%m-%d %H:%M}"
                lines.append("\t".join((record.document_no, record.kind, record.id, taken, state)))
        finally:
            if pool is not None:
                pool.close()
    finally:
        await engine.dispose()
    return lines


@notices_app.command("unfinished")
def unfinished(
    complete: Annotated[
        bool, typer.Option("--complete", help="作成中の通知書を保存データから作成する (作成できなければ欠番)")
    ] = False,
    operator: Annotated[str | None, typer.Option(help="操作者名 (欠番の記録に残す)")] = None,
) -> None:
    """List numbers without a stored PDF: 作成中 (numbered, not rendered yet) and 欠番 (with the reason).

    A notice stays 作成中 only if every attempt to render it failed (its workflow retries); --complete
    renders those from their stored data, exactly as the notice worker would.
    """
    from kaigo import embedded

    actor = f"cli:{operator or _operator()}"[:32]
    lines = asyncio.run(_unfinished(embedded.database_url(get_settings()), complete=complete, actor=actor))
    for line in lines:
        typer.echo(line)
    typer.echo(f"{len(lines)} 件", err=True)
