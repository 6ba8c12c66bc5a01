"""alerts.render: wording, local times, SMS length, escaping."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from alerts.render import (
    LANGUAGES,
    SMS_LIMIT,
    STEPS,
    DeadlineInfo,
    MessageContext,
    format_remaining,
    format_time,
    render,
    sms_units,
)

OCCURRED = datetime(2026, 11, 28, 6, 30, tzinfo=UTC)  # 14:30 in Shanghai
RELEASE = DeadlineInfo("authoritative_release", "发布权威信息", OCCURRED + timedelta(hours=5), "pending")
PRESS = DeadlineInfo("press_conference", "举行新闻发布会", OCCURRED + timedelta(hours=24), "pending")
ACK = "https://sunclock.example.org/ack/eyJuIjo0Mn0.sig"

# When each step of the release ladder fires (spec §3), as an offset from the due time.
STEP_TIMES = {
    "registered": OCCURRED + timedelta(minutes=1),
    "reminder": RELEASE.due_at - timedelta(hours=2),
    "warning": RELEASE.due_at - timedelta(hours=1),
    "final_warning": RELEASE.due_at - timedelta(minutes=30),
    "breached": RELEASE.due_at,
    "overdue": RELEASE.due_at + timedelta(hours=2, minutes=3),
    "waiver_requested": OCCURRED + timedelta(hours=1),
}


def context(step: str, *, title: str = "XX化工厂爆炸", now: datetime | None = None, **changes) -> MessageContext:
    ctx = MessageContext(
        step=step,
        occurrence=3 if step == "overdue" else 1,
        incident_id=42,
        incident_title=title,
        severity="I",
        department_name="区应急管理局",
        occurred_at=OCCURRED,
        deadlines=(RELEASE, PRESS) if step == "registered" else
        (replace(RELEASE, waiver_reason="经核实为误报"),) if step == "waiver_requested" else (RELEASE,),
        now=now or STEP_TIMES[step],
        ack_url=ACK,
        recipient_name="张主任",
    )
    return replace(ctx, **changes)


def sms_text(body: str) -> str:
    text, link = body.rsplit("\n", 1)
    assert link == ACK
    return text


@pytest.mark.parametrize(
    ("delta", "zh", "en"),
    [
        (timedelta(hours=1, minutes=59, seconds=59), "剩余1小时59分", "1h59m left"),
        (timedelta(hours=2), "剩余2小时", "2h left"),
        (timedelta(minutes=30), "剩余30分钟", "30m left"),
        (timedelta(hours=23, minutes=59), "剩余23小时59分", "23h59m left"),
        (timedelta(seconds=59), "已到时限", "due now"),
        (timedelta(0), "已到时限", "due now"),
        (-timedelta(seconds=59), "已到时限", "due now"),
        (-timedelta(hours=2, minutes=3), "已超时2小时3分", "overdue by 2h03m"),
        (-timedelta(hours=1), "已超时1小时", "overdue by 1h"),
        (-timedelta(minutes=5, seconds=30), "已超时5分钟", "overdue by 5m"),
        (-timedelta(hours=30), "已超时30小时", "overdue by 30h"),
    ],
)
def test_format_remaining(delta, zh, en):
    assert format_remaining(delta, "zh") == zh
    assert format_remaining(delta, "en") == en


@pytest.mark.parametrize(
    ("at", "zone", "zh", "en"),
    [
        (OCCURRED, "Asia/Shanghai", "11月28日 14:30", "28 Nov 14:30"),
        (datetime(2026, 11, 28, 16, 30, tzinfo=UTC), "Asia/Shanghai", "11月29日 00:30", "29 Nov 00:30"),
        (OCCURRED, "Europe/London", "11月28日 06:30", "28 Nov 06:30"),
        (OCCURRED.astimezone(ZoneInfo("Asia/Shanghai")), "Asia/Shanghai", "11月28日 14:30", "28 Nov 14:30"),
    ],
)
def test_format_time_in_the_given_zone(at, zone, zh, en):
    assert format_time(at, "zh", ZoneInfo(zone)) == zh
    assert format_time(at, "en", ZoneInfo(zone)) == en


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("step", STEPS)
def test_every_step_renders_an_sms_naming_incident_duty_due_time_and_time_left(step, language):
    message = render(context(step), "sms", language=language)

    text = sms_text(message.body)
    assert sms_units(text) <= SMS_LIMIT
    assert "XX化工厂爆炸" in text
    assert "发布权威信息" in text
    assert ("11月28日 19:30" if language == "zh" else "28 Nov 19:30") in text
    if step == "waiver_requested":
        assert "经核实为误报" in text  # the reason the department gave
    if step == "breached":
        return  # sent on the dot: "not done by <due>" is the time statement
    remaining = format_remaining(RELEASE.due_at - STEP_TIMES[step], language)
    assert remaining in text
    facts = json.loads(message.html)  # no HTML part: the facts, for a provider of approved templates (Aliyun)
    assert (facts["step"], facts["incident"], facts["time_left"]) == (step, "XX化工厂爆炸", remaining)
    assert facts["duty"].startswith("发布权威信息")  # registered names every duty: 发布权威信息、举行新闻发布会


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("step", STEPS)
def test_every_step_renders_an_email_with_text_and_html_ending_with_the_link(step, language):
    message = render(context(step), "email", language=language)

    assert message.body.rstrip().endswith(ACK)
    assert message.html is not None and ACK in message.html
    for part in (message.subject, message.body, message.html):
        assert "XX化工厂爆炸" in part
        assert "发布权威信息" in part
    assert "\n" not in message.subject
    assert "区应急管理局" in message.body
    assert "张主任" in message.body


@pytest.mark.parametrize(
    ("step", "language", "start"),
    [
        ("registered", "zh", "【登记】Ⅰ级 "),
        ("reminder", "zh", "【提醒】Ⅰ级 "),
        ("warning", "zh", "【预警】Ⅰ级 "),
        ("final_warning", "zh", "【最后预警】Ⅰ级 "),
        ("breached", "zh", "【超时】Ⅰ级 "),
        ("overdue", "zh", "【逾期】Ⅰ级 "),
        ("overdue", "en", "[OVERDUE] Level I "),
        ("final_warning", "en", "[FINAL WARNING] Level I "),
    ],
)
def test_subject_starts_with_step_marker_and_severity_for_lock_screen_triage(step, language, start):
    assert render(context(step), "email", language=language).subject.startswith(start)


def test_overdue_subject_reads_like_the_example():
    now = RELEASE.due_at + timedelta(hours=1, minutes=0, seconds=20)
    subject = render(context("overdue", now=now), "email").subject
    assert subject == "【逾期】Ⅰ级 XX化工厂爆炸 发布权威信息 已超时1小时"


def test_long_title_gives_way_in_the_subject_but_duty_and_time_stay():
    subject = render(context("warning", title="某" * 200), "email").subject
    assert subject.endswith("发布权威信息 剩余1小时")
    assert "…" in subject
    assert len(subject) < 60


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", ["sms", "email"])
def test_registered_message_covers_both_deadlines(language, channel):
    message = render(context("registered"), channel, language=language)

    for part in (message.subject, message.body):
        assert "发布权威信息" in part and "举行新闻发布会" in part
    with_year = channel == "email"
    expected = format_time(PRESS.due_at, language, ZoneInfo("Asia/Shanghai"), with_year=with_year)
    assert expected in message.body


def test_late_registration_shows_an_already_overdue_deadline():
    late = OCCURRED + timedelta(hours=6)
    message = render(context("registered", now=late), "sms")
    assert "已超时1小时" in message.body
    assert "剩余18小时" in message.body


def test_overdue_sms_counts_repeats():
    assert "第3次" in render(context("overdue"), "sms").body
    assert "#3" in render(context("overdue"), "sms", language="en").body


def test_breach_on_the_dot_does_not_say_overdue_by_nothing():
    text = render(context("breached"), "sms").body
    assert "已超时" not in text and "已到时限" not in text
    late = render(context("breached", now=RELEASE.due_at + timedelta(minutes=40)), "sms").body
    assert "已超时40分钟" in late


def test_chinese_sms_asks_for_reply_1():
    assert "回复1确认收到" in render(context("warning"), "sms").body
    assert "【Sunclock】" in render(context("warning"), "sms").body


def test_html_is_escaped_and_text_is_not():
    title = '<script>alert("x")</script> & 爆炸'
    message = render(context("breached", title=title), "email")

    assert "<script>" not in message.html
    assert "&lt;script&gt;" in message.html
    assert "&amp; 爆炸" in message.html
    assert title in message.body  # plain text is shown as typed
    assert title in render(context("breached", title=title), "sms").body


def test_line_breaks_in_the_title_are_flattened():
    message = render(context("reminder", title="XX化工厂\n爆炸\r\n事故"), "email")
    assert "\n" not in message.subject and "\r" not in message.subject
    assert "XX化工厂 爆炸 事故" in message.subject


def test_times_follow_the_timezone_argument():
    message = render(context("reminder"), "sms", timezone="Europe/London")
    assert "11月28日 11:30" in message.body


@pytest.mark.parametrize(
    "bad",
    [
        {"step": "escalated"},
        {"deadlines": ()},
        {"now": STEP_TIMES["warning"].replace(tzinfo=None)},
    ],
)
def test_bad_context_is_rejected(bad):
    ctx = replace(context("warning"), **bad)
    with pytest.raises(ValueError):
        render(ctx, "sms")


def test_unknown_language_and_channel_are_rejected():
    with pytest.raises(ValueError):
        render(context("warning"), "sms", language="fr")
    with pytest.raises(ValueError):
        render(context("warning"), "fax")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@example(  # emoji-like characters count two units each: cut by units, not characters
    title="𐀀" * 21 + "𝒉𝒔𝒕𝒔𝒔𝒗𝒘𝒙", step="registered", language="en", offset_minutes=0, occurrence=1, severity="I"
)
@given(
    title=st.text(max_size=200),
    step=st.sampled_from(STEPS),
    language=st.sampled_from(LANGUAGES),
    offset_minutes=st.integers(min_value=-100 * 60, max_value=30 * 60),
    occurrence=st.integers(min_value=1, max_value=24),
    severity=st.sampled_from(["I", "II", "III", "IV"]),
)
def test_sms_fits_two_segments_for_any_title_up_to_200_characters(
    title, step, language, offset_minutes, occurrence, severity
):
    now = RELEASE.due_at + timedelta(minutes=offset_minutes)
    ctx = context(step, title=title, now=now, occurrence=occurrence, severity=severity)

    text = sms_text(render(ctx, "sms", language=language).body)

    assert sms_units(text) <= SMS_LIMIT
    # Shortening the title never costs the duty or its due time.
    assert "发布权威信息" in text
    assert ("11月28日 19:30" if language == "zh" else "28 Nov 19:30") in text
    flat = " ".join(title.split())
    if flat not in text:
        # Shortened, but only as far as needed (an emoji is 2 units, a
        # trailing space is dropped before the ellipsis), and never to nothing.
        assert any(flat[:keep].rstrip() + "…" in text for keep in range(1, len(flat)))
        assert sms_units(text) >= SMS_LIMIT - 3


@given(title=st.text(alphabet=st.characters(min_codepoint=0x1F300, max_codepoint=0x1F6FF), min_size=1, max_size=200))
def test_sms_length_counts_emoji_as_two_units(title):
    text = sms_text(render(context("overdue", title=title), "sms").body)
    assert sms_units(text) <= SMS_LIMIT


REPLY = DeadlineInfo("reply", "依申请公开答复", datetime(2025, 10, 30, 15, 59, 59, tzinfo=UTC), "pending")
RESPONSE = DeadlineInfo("response", "舆情回应", OCCURRED + timedelta(hours=48), "pending")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize(("kind", "deadline", "named"), [
    ("public_opinion", RESPONSE, ("政务舆情", "Public opinion")),
    ("disclosure_request", REPLY, ("依申请公开", "Disclosure request")),
])
def test_each_kind_is_named_in_its_messages_and_the_sms_still_fits(kind, deadline, named, step, language):
    now = deadline.due_at - timedelta(days=7) if step != "overdue" else deadline.due_at + timedelta(days=1)
    ctx = context(step, title="关于某化工项目环境影响评价材料的政府信息公开申请" * 2, now=now, kind=kind,
                  severity="IV", deadlines=(replace(deadline, waiver_reason="申请人撤回申请"),))
    sms = sms_text(render(ctx, "sms", language=language).body)
    assert sms_units(sms) <= SMS_LIMIT
    assert deadline.title in sms
    email = render(ctx, "email", language=language)
    assert named[0 if language == "zh" else 1] in email.subject + email.body
    assert "Ⅳ级" not in email.subject and "Level IV" not in email.subject  # the kind, not a grade, heads it


def test_a_working_day_limit_is_told_in_days_and_the_registration_names_the_duty():
    ctx = context("reminder", kind="disclosure_request", severity="IV", deadlines=(REPLY,),
                  now=REPLY.due_at - timedelta(days=7, hours=14, minutes=59))
    assert "剩余7天14小时" in render(ctx, "sms").body
    assert "7d14h left" in render(ctx, "sms", language="en").body
    registered = render(replace(ctx, step="registered"), "email")
    assert "政府信息公开申请" in registered.body and "法定期限内答复" in registered.body
    assert "申请已登记" in render(replace(ctx, step="registered"), "sms").body


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("step", STEPS)
def test_every_step_renders_a_call_naming_incident_duty_and_time_left_ending_with_the_link(step, language):
    message = render(context(step), "voice", language=language)

    spoken = sms_text(message.body)  # the link is the last line, as for SMS
    assert "XX化工厂爆炸" in spoken and "发布权威信息" in spoken and "区应急管理局" in spoken
    assert ("按1" if language == "zh" else "Press 1") in spoken
    assert "Ⅰ" not in spoken  # said as 一级 / level 1, not a Roman numeral a speech engine may misread
    assert ("一级" if language == "zh" else "level 1") in spoken
    if step not in ("breached", "waiver_requested"):
        assert format_remaining(RELEASE.due_at - STEP_TIMES[step], language) in spoken
    assert message.html is None


def test_final_warning_call_in_chinese_reads_like_the_example():
    spoken = sms_text(render(context("final_warning"), "voice").body)
    assert spoken == ("这里是Sunclock最后预警。区应急管理局，XX化工厂爆炸，一级突发事件，"
                      "“发布权威信息”于11月28日 19:30截止，剩余30分钟，请立即落实。确认收到请按1。")


def test_an_overdue_call_says_how_long_overdue():
    spoken = sms_text(render(context("breached", now=RELEASE.due_at + timedelta(minutes=20)), "voice").body)
    assert "已超时20分钟" in spoken and "已启动问责" in spoken


def test_a_long_title_is_shortened_in_a_call():
    spoken = sms_text(render(context("final_warning", title="很" * 120), "voice").body)
    assert "很" * 39 + "…" in spoken and "很" * 40 not in spoken and "剩余30分钟" in spoken
