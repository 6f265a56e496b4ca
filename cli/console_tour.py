"""A walk through the web console in Debian's chromium (Playwright, never a downloaded browser): a new
resident's 新規 application from intake to its 結果通知書, as the demo staff, with a screenshot of each page.

`kaigo console screenshots` runs it against a running `make dev` and writes docs/console/*.png; the browser
tests (tests/browser/test_console.py) run the same steps and assert what each person sees. Development only:
it uses the demo accounts and the demo board that meets today.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from api.console.schema_form import flatten
from cli.seed import demo_password
from models.common import today_in_japan

ROOT = Path(__file__).resolve().parent.parent
WALKTHROUGH = ROOT / "docs" / "walkthrough"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
TABLET = {"width": 820, "height": 1180}  # a 10.9" tablet held upright, as surveyors carry them


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's chromium with the Noto CJK font of the hash-locked wheel (no system fonts needed)."""
    import noto_cjk_sans_jp_regular

    with tempfile.TemporaryDirectory(prefix="kaigo-chromium-") as tmp:
        fonts = Path(tmp) / "fonts.conf"
        fonts.write_text(
            '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
            "<include ignore_missing='yes'>/etc/fonts/fonts.conf</include>"
            f"<dir>{Path(noto_cjk_sans_jp_regular.__file__).parent}</dir>"
            f"<cachedir>{Path(tmp) / 'fontcache'}</cachedir></fontconfig>"
        )
        env = {**os.environ, "FONTCONFIG_FILE": str(fonts), "HOME": tmp}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, env=env
            )
            try:
                yield browser
            finally:
                browser.close()


def walkthrough_body(name: str, **values: str) -> Any:
    """A request body of docs/walkthrough/ with its placeholders filled (the same bodies as the API docs)."""
    today = today_in_japan().isoformat()  # the business date, as the API's defaults use it
    text = (WALKTHROUGH / name).read_text()
    for key, value in {"TODAY": today, "TODAY_YYYYMMDD": today.replace("-", ""), **values}.items():
        text = text.replace("${" + key + "}", value)
    return json.loads(text) if name.endswith(".json") else text


def fill(page: Page, payload: dict[str, Any], prefix: str = "payload") -> None:
    """Type a payload into a form whose fields are named by payload path (api/console/schema_form.py)."""
    page.locator(f'form [name^="{prefix}."]').first.wait_for(state="attached")  # the form's page has loaded
    for name, value in flatten(payload, prefix).items():
        field = page.locator(f'[name="{name}"], [name="{name}:lines"]').first
        if field.count() == 0:
            continue
        if not field.is_visible():  # a 特記事項 box folded away: open it as a person would
            page.locator("details", has=field).locator("summary").first.click()
        kind = field.get_attribute("type")
        tag = field.evaluate("e => e.tagName")
        if kind == "radio":
            page.locator(f'input[name="{name}"][value="{value}"]').check()
        elif tag == "SELECT":
            field.select_option(str(value))
        else:
            field.fill(str(value))


@dataclass
class Person:
    login_id: str
    context: BrowserContext
    page: Page


@dataclass
class Tour:
    api: str
    browser: Browser
    out: Path | None
    people: dict[str, Person] = field(default_factory=dict)
    shots: list[Path] = field(default_factory=list)

    def person(self, login_id: str, viewport: dict[str, int] = DESKTOP) -> Person:
        """A staff member in a browser of their own, logged in through /ui/login."""
        if login_id not in self.people:
            context = self.browser.new_context(viewport=viewport, locale="ja-JP", timezone_id="Asia/Tokyo")
            page = context.new_page()
            page.goto(f"{self.api}/console/")
            expect(page).to_have_url(re.compile(r"/ui/login\?next="))
            page.get_by_label("ログインID").fill(login_id)
            page.get_by_label("パスワード").fill(demo_password(login_id))
            page.get_by_role("button", name="ログイン").click()
            expect(page.locator("header .who")).to_contain_text(login_id)
            self.people[login_id] = Person(login_id, context, page)
        return self.people[login_id]

    def shot(self, page: Page, name: str, *, full_page: bool = False) -> None:
        if self.out is None:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        self.shots.append(path)

    def close(self) -> None:
        for person in self.people.values():
            person.context.close()


def new_resident(api: str, name: str = "試験 春子") -> dict[str, str]:
    """A fictional resident with an insured number and a 個人番号, registered over the API by the demo
    clerk."""
    token = httpx.post(
        f"{api}/auth/token", data={"username": "intake", "password": demo_password("intake")}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    for attempt in range(50):
        atena_no = f"9{today_in_japan():%y%m%d}{os.getpid() % 1000:03d}{attempt:02d}"[:12]
        person = httpx.post(
            f"{api}/persons",
            headers=headers,
            json={
                "atena_no": atena_no, "name_kanji": name, "name_kana": "シケン ハルコ",
                "birth_date": "1944-05-05", "sex": "2", "postal_code": "070-0031",
                "address": "北海道旭川市一条通9丁目",
            },
        )  # fmt: skip
        if person.status_code == 201:
            break
    else:
        raise RuntimeError(f"no free 宛名番号 for a tour resident: {person.text}")
    insured_no = f"08{atena_no[-8:]}"
    insured = httpx.post(
        f"{api}/insured",
        headers=headers,
        json={"insured_no": insured_no, "atena_no": atena_no, "category": "1", "acquired_on": "2009-05-05",
              "acquisition_reason": "age_65"},
    )  # fmt: skip
    insured.raise_for_status()
    my_number = _valid_my_number(atena_no)
    httpx.put(f"{api}/persons/{atena_no}/my-number", headers=headers, json={"my_number": my_number})
    return {"atena_no": atena_no, "insured_no": insured_no, "my_number": my_number}


def _valid_my_number(seed: str) -> str:
    """A 個人番号 with a correct check digit (rules/mynumber.py), derived from the 宛名番号."""
    from rules.mynumber import check_digit

    body = seed[-11:]
    return body + str(check_digit(body))


def open_task(page: Page, case_url: str, label: str) -> str:
    """Open the case page and follow the open task of `label` (waits for the workflow to create it)."""
    for _ in range(120):
        page.goto(case_url)
        row = page.locator("#h-tasks ~ div table tr", has=page.get_by_text("未完了")).filter(has_text=label)
        if row.count():
            row.first.get_by_role("link", name=label).click()
            page.wait_for_url(re.compile(r"/console/tasks/"))
            return page.url
        page.wait_for_timeout(500)
    raise AssertionError(f"no open task {label} on {case_url}")


def claim(page: Page) -> None:
    page.get_by_role("button", name="このタスクを取得する").click()
    expect(page.get_by_role("button", name="提出する")).to_be_visible()


def submit(page: Page) -> None:
    page.get_by_role("button", name="提出する").click()
    page.wait_for_load_state()
    refused = page.locator(".banner.error")
    if refused.count():
        raise AssertionError(f"{page.url}: the form was refused: {refused.inner_text()}")
    expect(page.locator(".banner.ok")).to_be_visible(timeout=30_000)


def run(tour: Tour, *, survey_errors: bool = True) -> dict[str, str]:
    """The whole case; returns what the callers assert on (case URL, insured number, notice URL)."""
    api = tour.api
    resident = new_resident(api)

    login = tour.browser.new_context(viewport=DESKTOP, locale="ja-JP")
    page = login.new_page()
    page.goto(f"{api}/ui/login")
    tour.shot(page, "login")
    login.close()

    # 1. Intake: find the resident, file a 新規 application.
    intake = tour.person("intake").page
    intake.goto(f"{api}/console/applications/new?insured_no={resident['insured_no']}")
    fill(intake, {"kind": "new", "applicant_kind": "self"}, "application")
    tour.shot(intake, "intake")
    intake.get_by_role("button", name="申請を受け付ける").click()
    expect(intake.locator(".banner.ok")).to_contain_text("申請を受け付けました")
    case_url = intake.url.split("?")[0]
    tour.shot(intake, "case")

    # 2. The supervisor assigns the survey to the city surveyor.
    supervisor = tour.person("supervisor").page
    supervisor.goto(f"{api}/console/inbox?insured_no={resident['insured_no']}")
    expect(supervisor.get_by_role("link", name="認定調査")).to_be_visible()
    tour.shot(supervisor, "inbox")
    open_task(supervisor, case_url, "認定調査")
    supervisor.get_by_label("割り当てる職員").select_option("surveyor")
    supervisor.get_by_role("button", name="割り当てる").click()
    expect(supervisor.locator("dl.facts")).to_contain_text("surveyor")

    # 3. The surveyor fills the 74 items on a tablet.
    surveyor = tour.person("surveyor", TABLET).page
    surveyor.goto(f"{api}/console/inbox")
    surveyor.locator("tr", has_text=resident["insured_no"]).get_by_role("link", name="認定調査").click()
    expect(surveyor.locator("#survey-progress")).to_contain_text("0 / 74")
    task_url = surveyor.url
    survey = walkthrough_body("survey.json")
    if survey_errors:
        fill(surveyor, {"overview": survey["overview"]})
        surveyor.get_by_role("button", name="提出する").click()
        expect(surveyor.locator(".banner.error")).to_contain_text("未回答")
        tour.shot(surveyor, "survey-errors")
        surveyor.goto(task_url)
    fill(surveyor, survey)
    surveyor.evaluate("document.querySelector('#group-1').scrollIntoView()")
    tour.shot(surveyor, "survey-tablet")
    submit(surveyor)

    # 4. Intake: the physician's opinion, requested and received.
    open_task(intake, case_url, "主治医意見書の依頼")
    claim(intake)
    fill(intake, walkthrough_body("opinion_request.json"))
    submit(intake)
    open_task(intake, case_url, "主治医意見書の受領")
    claim(intake)
    fill(intake, walkthrough_body("opinion.json"))
    tour.shot(intake, "opinion-receipt")
    submit(intake)

    # 5. 一次判定: the result CSV uploaded.
    open_task(intake, case_url, "一次判定結果の取込")
    claim(intake)
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "primary_result.csv"
        csv_path.write_text(walkthrough_body("primary_result.csv", INSURED_NO=resident["insured_no"]))
        intake.get_by_label("一次判定結果 (CSV、UTF-8)").set_input_files(str(csv_path))
        tour.shot(intake, "primary-result")
        submit(intake)

    # 6. The secretariat marks the 特記事項 for the board.
    intake.goto(case_url)
    material = intake.locator("#h-material")
    expect(material).to_be_visible(timeout=30_000)
    for box in intake.locator('input[type=checkbox][name^="include."]').all():
        box.check()
    intake.get_by_label("主治医意見書の要点 (審査会に示す内容)").fill(
        "両膝の痛みのため屋外歩行に見守りが必要。"
    )
    intake.get_by_role("button", name="審査会資料を登録する").click()
    expect(intake.locator(".banner.ok")).to_contain_text("審査会資料を登録しました")

    # 7. The board: two members vote, the chair (also a member) votes and closes.
    vote = walkthrough_body("board_vote.json")
    for member in ("board2", "board"):
        board = tour.person(member).page
        for _ in range(60):
            board.goto(f"{api}/console/board")
            if board.get_by_role("link", name="判定する").count():
                break
            board.wait_for_timeout(500)
        if member == "board2":
            tour.shot(board, "board")
        board.get_by_role("link", name="判定する").last.click()
        fill(board, vote)
        if member == "board2":
            tour.shot(board, "board-vote")
        submit(board)
    chair = tour.person("board").page
    chair.goto(f"{api}/console/board")
    chair.get_by_role("link", name="締めくくる").last.click()
    expect(chair.locator("#h-tally")).to_be_visible()
    fill(chair, walkthrough_body("board_close.json"))
    tour.shot(chair, "board-close")
    submit(chair)

    # 8. The decision and the 結果通知書 on the case page; the supervisor's dashboard.
    for _ in range(120):
        intake.goto(case_url)
        if intake.get_by_role("link", name="PDF (正本)").count():
            break
        intake.wait_for_timeout(500)
    expect(intake.get_by_text("認定結果通知書").first).to_be_visible()
    tour.shot(intake, "case-decided", full_page=True)
    notice_url = intake.get_by_role("link", name="HTML プレビュー").first.get_attribute("href") or ""
    # 9. The renewal term the decision started (更新案内): its window as days left.
    term_url = case_url.replace("/cases/certification-", "/cases/renewal-")
    for _ in range(60):
        opened = intake.goto(term_url)
        if opened is not None and opened.ok:
            break
        intake.wait_for_timeout(500)
    expect(intake.get_by_text("更新申請の最終日").first).to_be_visible()
    tour.shot(intake, "renewal-case", full_page=True)
    supervisor.goto(f"{api}/console/dashboard")
    tour.shot(supervisor, "dashboard", full_page=True)
    supervisor.set_viewport_size(TABLET)
    supervisor.goto(f"{api}/console/inbox")
    tour.shot(supervisor, "inbox-tablet")
    return {"case_url": case_url, "notice_url": f"{api}{notice_url}", **resident}
