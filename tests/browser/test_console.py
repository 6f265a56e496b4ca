"""The web console in Debian's chromium against `kaigo dev` as a newcomer starts it (the stack of
tests/browser/conftest.py).

- The walk of cli/console_tour.py (the one `kaigo console screenshots` runs): a new resident's 新規
  application filed by the clerk, the survey assigned and its 74 items filled on a tablet, the opinion,
  the 一次判定 CSV, the secretariat's board material, two members' votes, the chair's close, the 結果通知書
  on the case page.
- Staff without mynumber:read see the 個人番号 masked; a reveal asks for the reason and is audited.
- A form from an ended session, and one posted from another page of the same site, are refused politely.
- Two tabs claiming one task: the second gets a clear message and the task as it is now.
- Keyboard only: log in and claim a task without a mouse, the focus always visible.

Screenshots land in the test's tmp directory.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from cli import console_tour
from cli.seed import demo_password
from models.common import today_in_japan
from tests.browser.conftest import NEEDS_CHROMIUM
from tests.dev_stack import Stack

pytestmark = [pytest.mark.integration, NEEDS_CHROMIUM]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with console_tour.chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def walked(
    stack: Stack, browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    tour = console_tour.Tour(stack.api, browser, tmp_path_factory.mktemp("console-screens"))
    try:
        result = console_tour.run(tour)
        yield {**result, "shots": tour.shots}
    finally:
        tour.close()


def _application(stack: Stack) -> tuple[str, dict[str, str]]:
    """A new case for a new resident, filed over the API; its case page URL."""
    resident = console_tour.new_resident(stack.api, "試験 秋子")
    body = {"insured_no": resident["insured_no"], "kind": "new", "applied_on": today_in_japan().isoformat()}
    filed = httpx.post(
        f"{stack.api}/certification-applications",
        json=body | {"applicant_kind": "self"},
        headers=stack.login("intake"),
    )
    assert filed.status_code == 201, filed.text
    return f"{stack.api}/console/cases/{filed.json()['workflow_id']}", resident


def _person(browser: Browser, stack: Stack, login_id: str) -> Page:
    context = browser.new_context(viewport=console_tour.DESKTOP, locale="ja-JP")
    page = context.new_page()
    page.goto(f"{stack.api}/ui/login")
    page.get_by_label("ログインID").fill(login_id)
    page.get_by_label("パスワード").fill(demo_password(login_id))
    page.get_by_role("button", name="ログイン").click()
    expect(page.locator("header .who")).to_contain_text(login_id)
    return page


def test_a_new_case_goes_from_intake_to_its_notice_in_the_browser(
    walked: dict[str, Any], browser: Browser, stack: Stack
) -> None:
    intake = _person(browser, stack, "intake")
    intake.goto(walked["case_url"])
    expect(intake.locator("h1")).to_contain_text("決定済み")
    timeline = intake.locator("#h-timeline ~ ol")
    for step in (
        "申請を受付",
        "認定調査を完了",
        "一次判定結果の取込を完了",
        "審査会で集計",
        "認定を決定",
        "通知書を発行",
    ):
        expect(timeline).to_contain_text(step)
    intake.goto(walked["notice_url"])
    expect(intake.get_by_text("要介護2").first).to_be_visible()
    names = {p.name for p in walked["shots"]}
    assert {"inbox.png", "survey-tablet.png", "board-vote.png", "board-close.png", "dashboard.png"} <= names
    assert "renewal-case.png" in names  # the decision started its 更新案内 term, shown with its window
    intake.context.close()


def test_without_the_permission_the_my_number_stays_masked_and_a_reveal_is_audited(
    walked: dict[str, Any], browser: Browser, stack: Stack, tmp_path: Path
) -> None:
    restriction = _person(browser, stack, "restriction")
    restriction.goto(walked["case_url"])
    expect(restriction.locator("#my-number")).to_have_text("登録あり (表示する権限がありません)")
    expect(restriction.get_by_text("個人番号を全桁表示する")).to_have_count(0)
    # Nowhere on the page either (not even in the HTML). The last four digits alone are not looked for in
    # the whole text: they may appear by chance in the postal code or a date.
    assert walked["my_number"] not in restriction.content()
    restriction.context.close()

    intake = _person(browser, stack, "intake")
    intake.goto(walked["case_url"])
    expect(intake.locator("#my-number")).to_have_text(f"********{walked['my_number'][-4:]}")
    intake.get_by_text("個人番号を全桁表示する").click()
    intake.get_by_role("button", name="理由を記録して表示する").click()
    expect(intake.locator("#err-reason")).to_have_text("表示する理由を2文字以上で入力してください")
    intake.get_by_label("表示する理由 (操作記録に残ります)").fill("本人からの照会 (電話)")
    intake.get_by_role("button", name="理由を記録して表示する").click()
    expect(intake.locator("#my-number")).to_have_text(walked["my_number"])
    intake.screenshot(path=tmp_path / "revealed.png")
    audit = httpx.get(
        f"{stack.api}/audit-events",
        params={"action": "mynumber.reveal", "atena_no": walked["atena_no"]},
        headers=stack.login("supervisor"),
    ).json()
    assert [(e["actor"], e["detail"]["reason"]) for e in audit["items"]] == [
        ("intake", "本人からの照会 (電話)")
    ]
    intake.context.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_forms_from_an_ended_session_or_another_page_are_refused_politely(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    case_url, _ = _application(stack)
    tab = _person(browser, stack, "intake")
    console_tour.open_task(tab, case_url, "主治医意見書の依頼")
    # The session ends in another tab (logout, login): the page still shows the old form.
    other = tab.context.new_page()
    other.goto(f"{stack.api}/ui/login")
    other.get_by_role("button", name="ログアウト").click()
    other.get_by_label("ログインID").fill("intake")
    other.get_by_label("パスワード").fill(demo_password("intake"))
    other.get_by_role("button", name="ログイン").click()
    tab.get_by_role("button", name="このタスクを取得する").click()
    expect(tab.locator("h1")).to_have_text("この操作はできませんでした")
    expect(tab.get_by_role("alert")).to_contain_text("画面の有効期限が切れたか、別の画面から送信されました")
    expect(tab.get_by_role("link", name="前の画面に戻る")).to_be_visible()
    tab.screenshot(path=tmp_path / "csrf.png")

    # A page on another port of the same host (same-site: the Strict cookie goes along) posts a form.
    form = (
        f'<!doctype html><form method="post" action="{stack.api}/console/tasks/'
        f'{_task_id(other, case_url)}/claim"><input name="version" value="1">'
        '<input name="csrf_token" value="guessed"><button>OK</button></form>'
    ).encode()

    class Evil(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(form)

        def log_message(self, *args: object) -> None:
            pass

    port = _free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Evil)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        other.goto(f"http://localhost:{port}/")
        other.get_by_role("button", name="OK").click()
        expect(other.get_by_role("alert")).to_contain_text("別の画面から送信されました")
    finally:
        server.shutdown()
    other.goto(case_url)
    expect(other.locator("#h-tasks ~ div")).to_contain_text("未着手")  # nothing was claimed
    tab.context.close()


def _task_id(page: Page, case_url: str) -> str:
    page.goto(case_url)
    href = page.locator("#h-tasks ~ div a", has_text="主治医意見書の依頼").first.get_attribute("href") or ""
    return href.rsplit("/", 1)[1]


def test_two_tabs_claiming_one_task_the_second_sees_who_has_it(
    stack: Stack, browser: Browser, tmp_path: Path
) -> None:
    case_url, resident = _application(stack)
    first = _person(browser, stack, "intake")
    second = first.context.new_page()
    for tab in (first, second):
        tab.goto(f"{stack.api}/console/inbox?insured_no={resident['insured_no']}")
        expect(tab.get_by_role("link", name="主治医意見書の依頼")).to_be_visible(timeout=30_000)
    first.locator("tr", has_text="主治医意見書の依頼").get_by_role("button", name="取得").click()
    expect(first.locator("h1")).to_contain_text("主治医意見書の依頼")
    second.locator("tr", has_text="主治医意見書の依頼").get_by_role("button", name="取得").click()
    expect(second.get_by_role("alert")).to_contain_text("他の職員が先にこのタスクを更新しました")
    expect(second.locator("dl.facts")).to_contain_text("intake")  # who has it now, and its version
    expect(second.get_by_role("button", name="提出する")).to_be_visible()
    second.screenshot(path=tmp_path / "stale-claim.png")
    first.context.close()
    assert case_url


def test_keyboard_only_log_in_and_claim_with_the_focus_always_visible(stack: Stack, browser: Browser) -> None:
    case_url, resident = _application(stack)
    page = browser.new_context(viewport=console_tour.TABLET, locale="ja-JP").new_page()
    page.goto(f"{stack.api}/console/inbox?insured_no={resident['insured_no']}")
    expect(page.get_by_label("ログインID")).to_be_focused()  # the login ID field has the focus on arrival
    page.keyboard.type("intake")
    page.keyboard.press("Tab")
    page.keyboard.type(demo_password("intake"))
    page.keyboard.press("Enter")
    expect(page.locator("header .who")).to_contain_text("intake")
    expect(page.get_by_role("link", name="主治医意見書の依頼")).to_be_visible(timeout=30_000)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "本文へ移動"  # first stop: skip link
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate("[document.activeElement.tagName, document.activeElement.textContent.trim()]")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", f"no visible focus on {focused}"
        if focused == ["BUTTON", "取得"]:
            break
    else:
        raise AssertionError("the claim button was not reachable by Tab")
    page.keyboard.press("Enter")
    expect(page.locator("dl.facts")).to_contain_text("intake")
    page.context.close()
    assert case_url
