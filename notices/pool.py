"""Where notices render: a pool of worker processes, or (for the rare staff correction) a thread.

Rendering is CPU work in Python (WeasyPrint layout); in a thread of a process that also serves workflow
tasks or HTTP requests it competes with them for the GIL. The pool renders in processes of their own, one
per core by default, each loading the font once (notices.fonts) and warmed with one render so the first
real notice does not pay the imports. Processes are spawned, not forked: the parent runs threads (the
Temporal core, the event loop) that a fork would copy in an unknown state.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from notices.render import RenderedNotice, render_notice

Renderer = Callable[[str, Mapping[str, Any], Mapping[str, Any]], Awaitable[RenderedNotice]]


async def render_in_thread(kind: str, data: Mapping[str, Any], issuer: Mapping[str, Any]) -> RenderedNotice:
    """Render in a thread of this process: for the API's occasional correction, off the event loop."""
    return await asyncio.to_thread(render_notice, kind, data, issuer)


def _start_process(log_level: str, log_format: str) -> None:
    from kaigo.logs import configure_logging
    from notices import fixtures

    # A terminal's Ctrl-C reaches the whole process group; the parent decides when renderers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(log_level, log_format)
    render_notice("expiry_reminder", fixtures.load("expiry_reminder"), fixtures.issuer())


class RenderPool:
    """Notices rendered in `processes` worker processes (default: one per core)."""

    def __init__(self, processes: int | None = None, *, log_level: str = "INFO", log_format: str = "json"):
        self.processes = processes or os.cpu_count() or 1
        self._log = (log_level, log_format)
        self._executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_process,
            initargs=self._log,
        )

    async def render(self, kind: str, data: Mapping[str, Any], issuer: Mapping[str, Any]) -> RenderedNotice:
        executor = self._executor
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor, render_notice, kind, dict(data), dict(issuer))
        except BrokenProcessPool:
            # A renderer died (killed for memory, a crash in a C library): the executor refuses all work
            # from then on. Start fresh processes for the next attempts; this one fails and is retried.
            if self._executor is executor:
                self._executor = self._start()
                executor.shutdown(wait=False, cancel_futures=True)
            raise

    async def warm_up(self) -> None:
        """Start every process now (each renders one fixture), not on the first notices."""
        from notices import fixtures

        data, issuer = fixtures.load("expiry_reminder"), fixtures.issuer().model_dump()
        await asyncio.gather(*(self.render("expiry_reminder", data, issuer) for _ in range(self.processes)))

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
