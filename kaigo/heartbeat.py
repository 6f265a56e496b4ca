"""The workers' liveness file: touched while the event loop runs (compose's healthcheck reads its age)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

HEARTBEAT_INTERVAL_S = 15.0


async def heartbeat_until(stop: asyncio.Event, heartbeat_file: Path | None) -> None:
    """Wait for a stop signal, touching the heartbeat file meanwhile (a stuck loop stops touching it)."""
    while not stop.is_set():
        if heartbeat_file is not None:
            heartbeat_file.touch()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=HEARTBEAT_INTERVAL_S)
