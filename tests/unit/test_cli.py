"""The `kaigo` command line pieces that containers depend on."""

from __future__ import annotations

import os
import time
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app

runner = CliRunner()


def test_worker_alive_passes_on_a_fresh_heartbeat(tmp_path: Path) -> None:
    beat = tmp_path / "alive"
    beat.touch()
    assert runner.invoke(app, ["worker-alive", "--file", str(beat), "--max-age", "60"]).exit_code == 0


def test_worker_alive_fails_on_a_stale_or_missing_heartbeat(tmp_path: Path) -> None:
    beat = tmp_path / "alive"
    beat.touch()
    old = time.time() - 120
    os.utime(beat, (old, old))
    stale = runner.invoke(app, ["worker-alive", "--file", str(beat), "--max-age", "60"])
    assert stale.exit_code == 1 and "last heartbeat" in stale.output
    missing = runner.invoke(app, ["worker-alive", "--file", str(tmp_path / "none")])
    assert missing.exit_code == 1 and "no heartbeat yet" in missing.output
