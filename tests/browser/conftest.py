"""One `kaigo dev` stack for the whole browser suite (it takes ~20 s to start; every module shares it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cli.console_tour import CHROMIUM
from tests.dev_stack import Stack, new_stack

NEEDS_CHROMIUM = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is missing: `make test` installs it (apt-get install chromium)",
)


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = new_stack(tmp_path_factory.mktemp("browser-stack"))
    process = stack.start()
    yield stack
    stack.stop(process)
