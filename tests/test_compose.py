"""docker-compose.yml cannot be run here (no Docker engine), so its wiring is checked statically:
every kaigo service is configured only through Settings fields, and every service has a healthcheck or is a
one-shot job that others wait for."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from kaigo.config import Settings
from kaigo.search_attributes import ALL_KEYS

ROOT = Path(__file__).resolve().parent.parent
KAIGO_SERVICES = ("migrate", "worker", "notice-worker", "api")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_kaigo_services_use_only_settings_variables(compose: dict[str, Any]) -> None:
    fields = {name.upper() for name in Settings.model_fields}
    for service in KAIGO_SERVICES:
        environment = compose["services"][service]["environment"]
        unknown = set(environment) - fields
        assert not unknown, f"{service}: {sorted(unknown)} are not Settings fields"
        assert {"DATABASE_URL", "TEMPORAL_ADDRESS", "SECRET_KEY", "KAIGO_ENV"} <= set(environment)


def test_kaigo_services_run_in_production_mode_with_required_secrets(compose: dict[str, Any]) -> None:
    for service in KAIGO_SERVICES:
        environment = compose["services"][service]["environment"]
        assert environment["KAIGO_ENV"] == "production"
        assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?")  # compose refuses to start without it


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    one_shot = {"temporal-schema", "temporal-namespace", "migrate"}
    for name, service in compose["services"].items():
        if name in one_shot:
            dependants = [
                other
                for other, spec in compose["services"].items()
                if name in (spec.get("depends_on") or {})
                and spec["depends_on"][name]["condition"] == "service_completed_successfully"
            ]
            assert dependants, f"nothing waits for the one-shot job {name}"
        else:
            assert "healthcheck" in service, f"{name} has no healthcheck"


def test_depends_on_names_existing_services(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for dependency in service.get("depends_on") or {}:
            assert dependency in compose["services"], f"{name} depends on unknown {dependency}"


def test_namespace_job_registers_exactly_kaigos_search_attributes() -> None:
    script = (ROOT / "deploy/temporal/setup-namespace.sh").read_text()
    line = next(line for line in script.splitlines() if line.startswith("for attr in"))
    registered = dict(re.findall(r"(\w+)=(\w+)", line))
    expected = {key.name: key.indexed_value_type.name.title() for key in ALL_KEYS}
    assert registered == expected


def test_worker_healthcheck_reads_the_heartbeat_file_it_is_given(compose: dict[str, Any]) -> None:
    worker = compose["services"]["worker"]
    check = worker["healthcheck"]["test"]
    assert check[check.index("--file") + 1] == worker["environment"]["WORKER_HEARTBEAT_FILE"]
