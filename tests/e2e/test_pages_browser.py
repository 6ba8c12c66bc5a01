"""The duty officer's pages in a real headless Chromium against a real
`sunclock serve --demo`: sign in, register through the form, watch the
countdown, record the release, see it met; and the same pages on a phone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from e2e_processes import REPO, start_sunclock, stop, wait_until
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import missing_tool

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO / "test-artifacts"
PASSWORD = "sunclock-demo"
TITLE = "港区危化品仓库泄漏"
COUNTDOWN = re.compile(r"^\d+:\d{2}:\d{2}$")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, base = start_sunclock(tmp_path_factory.mktemp("pages"), "--demo")
    yield base
    stop(proc)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        missing_tool("Debian's Chromium is not installed at /usr/bin/chromium (Debian package chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield launched
        launched.close()


def sign_in(page: Page, base: str, name: str) -> None:
    page.goto(base + "/")
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("值班看板")


def fill_register_form(page: Page, title: str, minutes_ago: int) -> None:
    page.get_by_label("事件名称").fill(title)
    page.get_by_label("事件级别").select_option("I")
    occurred = page.get_by_label("发生时间")
    assert occurred.input_value() == ""  # no default: the legal clock runs from when it happened
    now_local = datetime.fromisoformat(occurred.get_attribute("data-now-local"))  # the server's "now"
    started = now_local - timedelta(minutes=minutes_ago)
    occurred.fill(started.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("责任单位").select_option("EMB")
    page.get_by_label("地点").fill("高栏港区")
    page.get_by_label("事件概况").fill("储罐阀门破裂，已疏散周边人员。")
    page.get_by_role("button", name="登记").click()


def shot(page: Page, name: str, *, full_page: bool = True) -> None:
    page.screenshot(path=str(ARTIFACTS / f"pages-{name}.png"), full_page=full_page)


def test_duty_officer_registers_watches_the_clock_and_records_the_release(server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    sign_in(page, server, "duty")
    # The demo's incidents: one release overdue (red, counting up), one due within the hour (amber).
    overdue = page.locator(".countdown.overdue .cd-time").first
    expect(overdue).to_have_text(re.compile(r"^\+1:0\d:\d{2}$"))
    expect(page.locator(".countdown.soon .cd-time").first).to_have_text(re.compile(r"^0:[0-5]\d:\d{2}$"))
    was = overdue.text_content()
    page.wait_for_function("([el, was]) => el.textContent > was", arg=[overdue.element_handle(), was])
    shot(page, "board-desktop")

    page.get_by_role("link", name="登记事件").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("登记突发事件")
    page.get_by_role("button", name="登记").click()  # nothing filled in: messages next to the fields
    expect(page.locator("#title-error")).to_have_text("此项必填。")
    expect(page.locator("#severity-error")).to_have_text("此项必填。")
    expect(page.locator("#department-error")).to_have_text("此项必填。")
    expect(page.get_by_label("事件名称")).to_be_focused()
    shot(page, "register-errors")

    fill_register_form(page, TITLE, minutes_ago=30)

    expect(page).to_have_url(re.compile(r"/incidents/\d+\?saved=registered"))
    expect(page.get_by_role("status")).to_have_text("事件已登记，时限开始计算。")
    release = page.locator("#obligation-authoritative_release")
    clock = release.locator(".countdown .cd-time")
    expect(clock).to_have_text(re.compile(r"^4:[23]\d:\d{2}$"))  # about 4 h 30 min left of the 5 h
    first = clock.text_content()
    page.wait_for_function("([el, was]) => el.textContent !== was", arg=[clock.element_handle(), first])
    expect(release.locator(".countdown")).to_have_class(re.compile(r"\bok\b"))
    shot(page, "incident-registered")

    page.get_by_role("link", name="值班看板").first.click()
    card = page.locator(".card", has_text=TITLE)
    expect(card.locator(".countdown .cd-time").first).to_have_text(COUNTDOWN)
    incident_url = card.get_by_role("link", name=TITLE).get_attribute("href")

    page.goto(server + incident_url)
    page.get_by_role("combobox", name="时限要求").select_option("authoritative_release")
    page.get_by_label("证据链接").fill("https://www.doumen.gov.cn/xxgk/2026/release-1.html")
    page.get_by_role("button", name="记录").click()
    expect(page.get_by_role("status")).to_have_text("已记录。")
    expect(release.locator(".badge")).to_have_text("按时完成")
    expect(release.locator(".countdown")).to_have_count(0)
    shot(page, "incident-release-met")

    page.get_by_role("link", name="值班看板").first.click()
    expect(page.locator(".card", has_text=TITLE).locator(".badge.s-met")).to_have_text("按时完成")

    # The registration notice went to the outbox (no Twilio, no SMTP here); the scheduler sends it at once.
    def in_outbox() -> bool:
        page.goto(server + "/outbox")
        return page.locator(".message", has_text=TITLE).count() > 0

    wait_until(in_outbox, 30, "the registration notice in the outbox")
    shot(page, "outbox")

    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Outbox")
    page.get_by_role("link", name="Board").click()
    expect(page.locator(".card", has_text=TITLE).locator(".badge.s-met")).to_have_text("met")
    shot(page, "board-english")
    context.close()


def test_board_and_incident_page_fit_a_phone(server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="zh-CN")
    page = context.new_page()
    sign_in(page, server, "emb-head")
    cards = page.locator(".card")
    expect(cards.first).to_be_visible()
    # A department head sees only their own department's incidents.
    assert "区卫生健康局" not in page.locator("#board").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "board-phone")
    shot(page, "board-phone-top", full_page=False)


    # The board refreshes itself: an incident registered elsewhere appears without a reload.
    duty = browser.new_context(locale="zh-CN")
    elsewhere = duty.new_page()
    sign_in(elsewhere, server, "duty")
    elsewhere.goto(server + "/incidents/new")
    fill_register_form(elsewhere, "码头油轮起火", minutes_ago=10)
    expect(elsewhere).to_have_url(re.compile(r"/incidents/\d+"))
    duty.close()
    expect(page.locator(".card", has_text="码头油轮起火")).to_be_visible(timeout=40_000)

    cards.first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="记录完成情况")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "incident-phone")
    shot(page, "incident-phone-top", full_page=False)
    context.close()


def test_keyboard_alone_signs_in(server, browser):
    context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="zh-CN")
    page = context.new_page()
    page.goto(server + "/signin")
    expect(page.get_by_label("用户名")).to_be_focused()
    page.keyboard.type("supervisor")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("值班看板")
    page.keyboard.press("Tab")  # the skip link comes first
    expect(page.get_by_role("link", name="跳到正文")).to_be_focused()
    context.close()


def test_an_admin_adds_a_department_with_contacts_from_the_page(server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    sign_in(page, server, "admin")
    page.get_by_role("link", name="责任单位").click()
    page.get_by_label("单位代码").fill("WATER")
    page.get_by_label("单位名称").fill("区水务局")
    first = page.get_by_role("group", name="联系人 1")
    first.get_by_label("姓名").fill("周局长")
    first.get_by_label("手机号").fill("13800000011")  # not E.164: refused next to the field
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#contacts-0-mobile-error")).to_have_text("手机号须为国际格式，如 +8613800000001。")
    shot(page, "department-errors")
    page.get_by_role("group", name="联系人 1").get_by_label("手机号").fill("+8613800000011")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_role("status")).to_have_text("责任单位已保存。")
    expect(page.get_by_role("row", name=re.compile("WATER"))).to_contain_text("周局长")
    context.close()


def test_a_supervisor_reads_the_report_and_a_draft_notice_on_screen_and_in_print(server, browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    sign_in(page, server, "supervisor")
    page.get_by_role("link", name="合规报告").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("信息发布时限执行情况")
    expect(page.locator('svg.chart g.bar[data-department="区卫生健康局"]')).to_be_visible()
    shot(page, "reports")
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.get_by_role("button", name="查询")).to_be_hidden()
    shot(page, "reports-print")
    page.emulate_media(media="screen")
    page.get_by_role("link", name="问责案件").click()
    page.get_by_role("link", name="通报草稿").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("关于区卫生健康局未按时限发布权威信息的通报")
    shot(page, "notice")
    page.emulate_media(media="print")
    expect(page.get_by_role("link", name="返回问责案件")).to_be_hidden()
    shot(page, "notice-print")
    context.close()


# Words, not keys (issue 19): what a person reads on every page, in Chromium.
def internal_keys() -> set[str]:
    from rules import load_rules
    from rules.vocabulary import (
        Channel,
        Decision,
        IncidentState,
        NotificationState,
        ObligationState,
        StepKind,
        TimelineKind,
        WaiverState,
    )

    keys = {o.key for rule in load_rules(REPO / "rules").rules for o in rule.obligations}
    for enum in (StepKind, ObligationState, IncidentState, NotificationState, Decision, TimelineKind, WaiverState,
                 Channel):
        keys |= {member.value for member in enum}
    return keys


def keys_read(page: Page, keys: set[str]) -> list[str]:
    text = re.sub(r"\S+@\S+|https?://\S+", " ", page.evaluate("document.body.innerText"))
    return sorted(k for k in keys if re.search(rf"(?<![A-Za-z_#]){re.escape(k)}(?![A-Za-z_])", text))


def test_no_chinese_page_shows_an_internal_key_or_the_zone_name(server, browser):
    keys = internal_keys()
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    for user in ("duty", "supervisor", "admin"):
        context.clear_cookies()
        sign_in(page, server, user)
        incidents = sorted({a.get_attribute("href") for a in page.locator(".card-title a").all()})
        assert incidents
        urls = ["/", "/incidents/new", "/outbox", "/cases", "/reports", "/admin/users", "/admin/boards",
                "/admin/departments", "/admin/signins", "/account", *incidents]
        for url in urls:
            page.goto(server + url)
            assert keys_read(page, keys) == [], (user, url, keys_read(page, keys))
            assert "Asia/Shanghai" not in page.evaluate("document.body.innerText"), (user, url)
    # The acknowledgement page, from a link in a stored message.
    page.goto(server + "/outbox")
    link = re.search(r"https?://\S+/ack/[\w.\-]+", page.evaluate("document.body.innerText")).group(0)
    page.goto(server + "/ack/" + link.rsplit("/ack/", 1)[1])
    expect(page.get_by_role("heading", level=1)).to_have_text("签收提醒")
    assert keys_read(page, keys) == []
    assert "剩余" in page.inner_text("body") or "已超时" in page.inner_text("body")
    shot(page, "ack")
    context.close()


def test_the_register_form_warns_of_a_late_registration_before_it_is_sent(server, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    sign_in(page, server, "duty")
    page.goto(server + "/incidents/new")
    occurred = page.get_by_label("发生时间")
    expect(page.locator("#late-check")).to_be_hidden()
    now_local = datetime.fromisoformat(occurred.get_attribute("data-now-local"))
    occurred.fill((now_local - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    expect(page.locator("#late-check")).to_be_visible()
    expect(page.locator("#late-warning")).to_contain_text("延迟登记")
    shot(page, "register-late-warning")
    occurred.fill((now_local - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M"))
    expect(page.locator("#late-check")).to_be_hidden()
    context.close()


def test_a_wall_board_counts_down_in_its_title_and_says_when_it_is_offline(server, browser):
    admin = browser.new_context(locale="zh-CN")
    page = admin.new_page()
    sign_in(page, server, "admin")
    page.goto(server + "/admin/boards")
    page.get_by_label("名称").fill("值班室大屏")
    page.get_by_role("button", name="创建链接").click()
    wall_url = page.locator("#wall-url").text_content()
    admin.close()

    wall = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    screen = wall.new_page()
    screen.goto(server + "/wall/" + wall_url.rsplit("/wall/", 1)[1])
    expect(screen.get_by_role("heading", level=1)).to_have_text("值班看板")
    expect(screen.locator(".card").first).to_be_visible()
    screen.wait_for_function("document.title.includes('已超时') || document.title.includes('剩余')")
    assert re.search(r"\d+:\d{2}:\d{2} · 值班看板$", screen.title())
    wall.set_offline(True)
    expect(screen.locator("#offline")).to_be_visible(timeout=40_000)
    expect(screen.locator("#offline")).to_contain_text("与服务器失去连接 — 最后更新于")
    shot(screen, "wall-offline", full_page=False)
    wall.set_offline(False)
    expect(screen.locator("#offline")).to_be_hidden(timeout=40_000)
    assert "/signin" not in screen.url
    wall.close()
