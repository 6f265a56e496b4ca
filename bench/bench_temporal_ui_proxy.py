"""What the API's /temporal/ proxy adds to one Temporal UI data call: the same call straight to the dev
server's UI and through the API (session check, then the fixed upstream).

    make dev   # in another terminal
    .venv/bin/python bench/bench_temporal_ui_proxy.py [API_URL] [UI_URL]

Defaults: http://localhost:8000 and http://localhost:8233. Logs in as the demo supervisor via /ui/login.
"""

from __future__ import annotations

import re
import statistics
import sys
import time

import httpx

PATH = "/temporal/api/v1/namespaces/default"  # light: the dev server rate-limits list calls
ROUNDS = 200


def _median_and_p95(client: httpx.Client) -> tuple[float, float]:
    for _ in range(10):
        client.get(PATH)
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        response = client.get(PATH)
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    samples.sort()
    return statistics.median(samples), samples[int(ROUNDS * 0.95) - 1]


def main() -> None:
    api_url = sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8000"
    ui_url = sys.argv[2] if len(sys.argv) > 2 else "http://localhost:8233"
    with httpx.Client(base_url=api_url) as api, httpx.Client(base_url=ui_url) as ui:
        page = api.get("/ui/login").text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf is not None, "no login form at /ui/login"
        form = {"login_id": "supervisor", "password": "supervisor-demo-2026", "csrf_token": csrf.group(1)}
        api.post("/ui/login", data=form)
        for name, client in (("direct", ui), ("proxied", api)):
            median, p95 = _median_and_p95(client)
            print(f"{name:8s} median {median:5.1f} ms   p95 {p95:5.1f} ms   ({ROUNDS} calls of {PATH})")


if __name__ == "__main__":
    main()
