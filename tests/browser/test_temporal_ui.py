"""A supervisor follows a running case in the Temporal UI, in Debian's chromium with default settings, against
`kaigo dev` as a newcomer starts it: after the browser login the case shows its summary, its current details
("調査・意見書待ち") and its decoded input; staff without codec:decode see ciphertext only; without any login
the UI is not shown at all; after logout the cookie opens nothing.

Screenshots land in the test's tmp directory (printed on failure) so a person can see what was asserted.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from cli.console_tour import CHROMIUM, CHROMIUM_ARGS
from tests.browser.conftest import NEEDS_CHROMIUM
from tests.dev_stack import Stack

INSURED_NO = "0100000002"  # a seeded demo resident
WAITING = "調査・意見書待ち"
pytestmark = [pytest.mark.integration, NEEDS_CHROMIUM]


@pytest.fixture(scope="module")
def case(stack: Stack) -> str:
    """A certification case started over HTTP, waiting for its survey and the physician's opinion."""
    intake = stack.login("intake")
    application = httpx.post(
        f"{stack.api}/certification-applications",
        json={"insured_no": INSURED_NO, "kind": "new", "applied_on": date.today().isoformat()}
        | {"applicant_kind": "self"},
        headers=intake,
    )
    assert application.status_code == 201, application.text
    body = application.json()
    deadline = time.monotonic() + 60
    while body["stage"] != "survey_opinion":
        assert time.monotonic() < deadline, f"case stuck in stage {body['stage']}"
        time.sleep(0.3)
        body = httpx.get(f"{stack.api}/certification-applications/{body['id']}", headers=intake).json()
    return str(body["workflow_id"])


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[BrowserContext]:
    """Chromium with a fresh profile and default settings; CJK fonts so screenshots are readable."""
    import noto_cjk_sans_jp_regular

    fonts = tmp_path / "fonts.conf"
    fonts.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        "<include ignore_missing='yes'>/etc/fonts/fonts.conf</include>"
        f"<dir>{Path(noto_cjk_sans_jp_regular.__file__).parent}</dir>"
        f"<cachedir>{tmp_path / 'fontcache'}</cachedir></fontconfig>"
    )
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path / "profile",
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            env={"FONTCONFIG_FILE": str(fonts), "HOME": str(tmp_path)},
            viewport={"width": 1400, "height": 1000},
        )
        yield context
        context.close()


def _log_in(page: Page, stack: Stack, login_id: str, workflow_id: str) -> None:
    page.goto(f"{stack.api}/temporal/namespaces/default/workflows/{workflow_id}")
    expect(page).to_have_url(re.compile(r"/ui/login\?next="))  # no session: the login, not the UI
    page.get_by_label("ログインID").fill(login_id)
    page.get_by_label("パスワード").fill(f"{login_id}-demo-2026")
    page.get_by_role("button", name="ログイン").click()
    expect(page).to_have_url(re.compile(rf"/temporal/namespaces/default/workflows/{workflow_id}"))


def _input_text(page: Page, expected: re.Pattern[str]) -> str:
    """The workflow's Input box once it shows `expected` (the UI decodes after the page has loaded)."""
    main = page.locator("main")
    shown = re.compile(r"Input[\s\S]*" + expected.pattern + r"[\s\S]*Result")
    expect(main).to_contain_text(shown, timeout=30_000)
    return main.inner_text().split("Input", 1)[1].split("Result", 1)[0]


def _open_user_metadata(page: Page) -> None:
    page.get_by_text("User Metadata", exact=True).first.click()
    expect(page.get_by_role("heading", name="Summary")).to_be_visible(timeout=20_000)


def _frame_text(page: Page, frame_id: str) -> str:
    return page.frame_locator(f"#{frame_id}").locator("body").inner_text(timeout=20_000)


def test_a_supervisor_sees_the_decoded_case_and_others_only_ciphertext(
    stack: Stack, case: str, browser: BrowserContext, tmp_path: Path
) -> None:
    page = browser.new_page()

    # Staff who follow cases but may not decode: the case is there, its data is ciphertext.
    _log_in(page, stack, "intake", case)
    expect(page.get_by_text(case).first).to_be_visible(timeout=30_000)
    ciphertext = _input_text(page, re.compile(r"[A-Za-z0-9+/]{40,}"))  # the encrypted payload, base64
    page.screenshot(path=tmp_path / "intake-input.png")
    assert INSURED_NO not in ciphertext and "insured_no" not in ciphertext
    _open_user_metadata(page)
    expect(page.get_by_text("No summary available")).to_be_visible()
    page.screenshot(path=tmp_path / "intake-metadata.png")
    assert WAITING not in page.content() and WAITING not in _frame_text(page, "user-metadata-current-details")

    # Log out from the login page; the UI is closed again.
    page.goto(f"{stack.api}/ui/login")
    page.get_by_role("button", name="ログアウト").click()
    expect(page.get_by_text("ログアウトしました")).to_be_visible()

    # A supervisor: the input, the summary and the current details, decoded in the browser.
    _log_in(page, stack, "supervisor", case)
    decoded = _input_text(page, re.compile(r'"insured_no"'))
    page.screenshot(path=tmp_path / "supervisor-input.png")
    assert f'"insured_no": "{INSURED_NO}"' in decoded
    _open_user_metadata(page)
    expect(page.frame_locator("#user-metadata-current-details").get_by_text(WAITING)).to_be_visible(
        timeout=20_000
    )
    assert f"被保険者番号 {INSURED_NO}" in _frame_text(page, "user-metadata-summary")
    assert "決定期限" in _frame_text(page, "user-metadata-details")
    page.screenshot(path=tmp_path / "supervisor-metadata.png")

    # Each decode was audited under the supervisor's name.
    supervisor = stack.login("supervisor")
    query = {"actor": "supervisor", "action": "codec.decode"}
    audit = httpx.get(f"{stack.api}/audit-events", params=query, headers=supervisor).json()
    assert audit["total"] >= 3  # input, summary, details, current details

    # After logout, a kept copy of the cookie opens neither the codec nor the UI.
    [cookie] = [c for c in browser.cookies() if c["name"] == "kaigo_codec_token"]
    page.goto(f"{stack.api}/ui/login")
    page.get_by_role("button", name="ログアウト").click()
    expect(page.get_by_text("ログアウトしました")).to_be_visible()
    kept = {"Cookie": f"kaigo_codec_token={cookie['value']}"}
    assert httpx.post(f"{stack.api}/codec/decode", json={"payloads": []}, headers=kept).status_code == 401
    assert httpx.get(f"{stack.api}/temporal/api/v1/namespaces", headers=kept).status_code == 401
