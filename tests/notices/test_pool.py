"""The render pool: PDFs rendered in spawned processes are the PDFs rendered here, and a renderer that dies
(killed for memory, a crash in a C library) costs the notices in flight a retry, not the pool."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from concurrent.futures.process import BrokenProcessPool

import pytest

from notices import fixtures
from notices.pool import RenderPool
from notices.render import render_notice

KIND = "certification_result"  # rare kanji (髙, 﨑, 𠮷 outside the BMP): the font cut matters


@pytest.fixture
async def pool() -> AsyncIterator[RenderPool]:
    pool = RenderPool(1)
    yield pool
    pool.close()


async def test_a_pool_process_renders_the_same_bytes_as_this_process(pool: RenderPool) -> None:
    data, issuer = fixtures.load(KIND), fixtures.issuer()
    there = await pool.render(KIND, data, issuer.model_dump())
    here = render_notice(KIND, data, issuer)
    assert (there.pdf, there.pages, there.sha256) == (here.pdf, here.pages, here.sha256)


async def test_a_killed_renderer_fails_its_notice_and_the_next_one_renders(pool: RenderPool) -> None:
    data, issuer = fixtures.load(KIND), fixtures.issuer().model_dump()
    await pool.warm_up()
    for pid in list(pool._executor._processes):  # private, but the test needs the processes to kill
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(BrokenProcessPool):
        await pool.render(KIND, data, issuer)
    again = await pool.render(KIND, data, issuer)
    assert again.pdf.startswith(b"%PDF") and again.pages >= 1
