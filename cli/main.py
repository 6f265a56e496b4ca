"""`kaigo` — the operator's command line (also what `make dev`, compose and the Dockerfile run)."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.notices import notices_app
from kaigo.config import get_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

# No rich tracebacks with locals: locals can hold personal data or secrets.
app = typer.Typer(
    help="kaigo-flow: 介護保険の手続をワークフローで運用する",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

_ROOT = Path(__file__).resolve().parent.parent


@app.command()
def dev() -> None:
    """Run everything on embedded defaults: PostgreSQL, Temporal dev server, worker, API."""
    from cli import devstack

    raise typer.Exit(devstack.run(get_settings(), _ROOT))


@app.command()
def migrate() -> None:
    """Apply database migrations up to the newest."""
    from kaigo import embedded
    from kaigo import migrate as migrations

    migrations.upgrade_to_head(embedded.database_url(get_settings()))
    typer.echo("database is at the newest migration")


@app.command()
def seed() -> None:
    """Load the demo data (idempotent)."""
    from cli.seed import seed_all
    from kaigo import embedded
    from kaigo import migrate as migrations

    settings = get_settings()
    url = embedded.database_url(settings)
    migrations.upgrade_to_head(url)
    added = asyncio.run(seed_all(url, with_staff=settings.is_dev))
    typer.echo(
        f"added {added} demo records" + ("" if settings.is_dev else " (no demo staff outside development)")
    )


@app.command()
def api(
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="apply migrations first")
    ] = True,
) -> None:
    """Serve the HTTP API: API_WORKERS processes (default: one per core), uvloop and httptools."""

    import uvicorn

    from kaigo.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    if migrate_first:
        from kaigo import migrate as migrations

        migrations.upgrade_to_head(settings.require_database_url())
    uvicorn.run(
        "cli.main:served_app",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        workers=settings.effective_api_workers,
        loop="uvloop",
        http="httptools",
        log_config=None,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )


def served_app() -> FastAPI:
    """The app factory uvicorn calls in each worker process (a fresh interpreter: configure logging)."""
    from api.main import create_app
    from kaigo.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    # The ~200k objects of the imported modules live as long as the process: moved out of the collector's
    # reach, a full collection no longer walks them (75 ms on this code, a pause in every request then).
    gc.collect()
    gc.freeze()
    return app


@app.command()
def worker() -> None:
    """Run a Temporal worker for all kaigo-flow workflows and activities."""
    import worker as worker_module

    worker_module.main()


@app.command("notice-worker")
def notice_worker() -> None:
    """Run the notice worker: issues notices on their own task queue, rendering in a process pool."""
    import notice_worker as notice_worker_module

    notice_worker_module.main()


@app.command("worker-alive")
def worker_alive(
    file: Annotated[Path, typer.Option(help="the worker's WORKER_HEARTBEAT_FILE")],
    max_age: Annotated[int, typer.Option(help="seconds since the last heartbeat")] = 60,
) -> None:
    """Exit 0 if the worker touched its heartbeat file recently (container healthcheck)."""
    import time

    try:
        age = time.time() - file.stat().st_mtime
    except FileNotFoundError:
        typer.echo("no heartbeat yet", err=True)
        raise typer.Exit(1) from None
    if age > max_age:
        typer.echo(f"last heartbeat {age:.0f} s ago", err=True)
        raise typer.Exit(1)


audit_app = typer.Typer(help="操作記録 (audit trail)", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    anchors: Annotated[
        bool,
        typer.Option(
            "--anchors/--no-anchors",
            help="compare with the chain heads anchored in Temporal (--no-anchors: the chain alone)",
        ),
    ] = True,
) -> None:
    """Walk the hash chain and compare it with its anchors; report the first broken link (exit 1)."""
    from datetime import timedelta

    from kaigo import embedded
    from kaigo.security.audit import Anchor, verify_database

    settings = get_settings()
    url = embedded.database_url(settings)
    found: list[Anchor] = []
    if anchors:
        from cli.audit_anchors import AnchorsUnavailable, fetch_anchors

        try:
            found = asyncio.run(fetch_anchors(settings))
        except AnchorsUnavailable as exc:
            typer.echo(
                f"cannot read the anchors from Temporal: {exc} (--no-anchors checks the chain alone)",
                err=True,
            )
            raise typer.Exit(2) from None
    report = verify_database(
        url,
        anchors=found,
        max_lag=timedelta(seconds=settings.audit_chain_max_lag_seconds),
    )
    checked = f"{report.anchors_checked} anchors checked" if anchors else "anchors not checked"
    if not report.intact:
        where = f"id {report.broken_at}" if report.broken_at is not None else "the end of the chain"
        typer.echo(f"audit chain BROKEN at {where}: {report.reason} ({checked})", err=True)
        raise typer.Exit(1)
    if not report.complete:
        typer.echo(
            f"audit chain intact: {report.rows} rows, but {report.stale_unchained} rows have waited "
            f"more than {settings.audit_chain_max_lag_seconds} s to be chained "
            f"(oldest id {report.oldest_stale_id}): is an API process running? "
            "(`kaigo audit chain` chains them now)",
            err=True,
        )
        raise typer.Exit(1)
    pending = f", {report.unchained} rows being chained" if report.unchained else ""
    typer.echo(f"audit chain intact: {report.rows} rows{pending} ({checked})")


@audit_app.command("chain")
def audit_chain() -> None:
    """Chain the rows not chained yet (the API does this continuously; for when no API runs)."""
    from kaigo import embedded
    from kaigo.security.audit_chain import chain_once

    chained = asyncio.run(chain_once(embedded.database_url(get_settings())))
    if chained is None:
        typer.echo("an API process is chaining (it holds the chainer lock); nothing to do")
        return
    typer.echo(f"chained {chained} rows")


@app.command()
def purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count only, delete nothing")] = False,
) -> None:
    """Delete 除票 persons and closed records older than RETENTION_YEARS (the audit trail is kept)."""
    from cli.operator_jobs import run_purge
    from kaigo import embedded

    result = asyncio.run(run_purge(get_settings(), embedded.database_url(get_settings()), dry_run=dry_run))
    verb = "would delete" if dry_run else "deleted"
    typer.echo(
        f"{verb} {result.persons} persons and {result.tasks} tasks (removed/closed before {result.cutoff})"
    )


app.add_typer(notices_app, name="notices")

import_app = typer.Typer(help="前のシステムからのデータの取り込み (移行)", no_args_is_help=True)
app.add_typer(import_app, name="import")


@import_app.command("certifications")
def import_certifications(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="認定の CSV")],
    encoding: Annotated[
        str | None,
        typer.Option(help="文字コード (utf-8, cp932 など; 省略時は見出し行から判別)"),
    ] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="進捗を表示する")] = True,
) -> None:
    """Import certifications from a previous system's CSV: all lines or none; a re-import adds nothing."""
    from cli.certification_import_job import run
    from kaigo import embedded
    from services.certification_import import CertificationCsvError

    settings = get_settings()
    try:
        result = asyncio.run(
            run(settings, embedded.database_url(settings), file, encoding=encoding, progress=progress)
        )
    except CertificationCsvError as error:
        for issue in error.issues:
            typer.echo(str(issue), err=True)
        typer.echo(f"誤りが {len(error.issues)} 件あります。何も登録していません", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{result.message} (取り込み記録 {result.import_id})")


console_app = typer.Typer(help="Web コンソール", no_args_is_help=True)
app.add_typer(console_app, name="console")


@console_app.command("screenshots")
def console_screenshots(
    api: Annotated[str | None, typer.Option(help="a running `make dev` API (default: API_PORT's)")] = None,
    out: Annotated[Path, typer.Option(help="where the PNGs go")] = _ROOT / "docs" / "console",
) -> None:
    """Walk a new 新規 case through the console in Debian's chromium and write a PNG of each page.

    Needs a running `make dev` (demo staff, the demo board meeting today) and the dev dependencies
    (Playwright); the browser is /usr/bin/chromium, never a downloaded one.
    """
    from cli import console_tour

    settings = get_settings()
    url = api or f"http://{settings.api_host}:{settings.api_port}"
    with console_tour.chromium() as browser:
        tour = console_tour.Tour(url, browser, out)
        try:
            result = console_tour.run(tour)
        finally:
            tour.close()
    for path in tour.shots:
        typer.echo(f"wrote {path.relative_to(_ROOT) if path.is_relative_to(_ROOT) else path}")
    typer.echo(f"case: {result['case_url']}")


staff_app = typer.Typer(help="職員アカウント", no_args_is_help=True)
app.add_typer(staff_app, name="staff")


@staff_app.command("create")
def staff_create(
    login_id: Annotated[str, typer.Argument(help="ログインID")],
    display_name: Annotated[str, typer.Option(help="表示名")],
    role: Annotated[list[str], typer.Option(help="役割 (複数可): intake, surveyor, board_member, ...")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Create a staff account (e.g. the first administrator of a new installation)."""
    from pydantic import ValidationError

    from cli.operator_jobs import create_staff_account
    from kaigo import embedded
    from kaigo.errors import ProblemError

    try:
        asyncio.run(
            create_staff_account(
                embedded.database_url(get_settings()), login_id, display_name, role, password
            )
        )
    except ProblemError as exc:
        typer.echo(exc.detail, err=True)
        raise typer.Exit(2) from None
    except ValidationError as exc:
        for error in exc.errors():
            typer.echo(f"{'.'.join(map(str, error['loc']))}: {error['msg']}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"created {login_id}")


@app.command()
def routes(
    write_readme: Annotated[bool, typer.Option("--write-readme", help="update README.md's tables")] = False,
) -> None:
    """Print the route × permission tables (API, then web console), or write them into the README."""
    from api.console.routers import CONSOLE_ROUTERS
    from api.main import ROUTERS
    from api.route_table import markdown_table

    tables = {"routes": markdown_table(ROUTERS), "console-routes": markdown_table(CONSOLE_ROUTERS)}
    if not write_readme:
        typer.echo("\n\n".join(tables.values()))
        return
    readme = _ROOT / "README.md"
    text = readme.read_text()
    for marker, table in tables.items():
        head, rest = text.split(f"<!-- {marker}:start -->\n", 1)
        _, tail = rest.split(f"<!-- {marker}:end -->", 1)
        text = f"{head}<!-- {marker}:start -->\n{table}\n<!-- {marker}:end -->{tail}"
    readme.write_text(text)
