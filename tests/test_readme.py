"""The README's configuration table documents every setting (and nothing that does not exist)."""

from __future__ import annotations

import re
from pathlib import Path

from kaigo.config import Settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_configuration_table_lists_every_setting() -> None:
    section = README.read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    documented = {name for cell in first_cells for name in re.findall(r"`([A-Z_]+)`", cell)}
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - documented == set(), "settings missing from the README table"
    assert documented - fields == set(), "README documents settings that do not exist"
