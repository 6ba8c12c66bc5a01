"""Message wording: the engine's facts in, an SMS or an email out.

The words live in ``alerts/templates/<language>/<step>.<part>``, one file per
step kind and part (``sms.txt``, ``subject.txt``, ``email.txt``,
``email.html``, ``voice.txt``: what a phone call says); this module only
prepares the values (local times, time left) and keeps the SMS within two UCS-2
segments by shortening the incident title. SMS and voice bodies end with the
acknowledgement link on a line of its own (a call turns it into its key-press
address, alerts/voice.py).

An SMS has no HTML part: its ``html`` slot carries the message's facts as JSON
(:func:`sms_facts`), for a provider that fills an approved template instead of
sending our text (Alibaba Cloud SMS, :mod:`alerts.aliyun_sms`). They are stored
with the notification and rendered again with the text before a retry.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from alerts.base import ChannelName
from rules.vocabulary import Language, MatterKind, Severity, StepKind, TemplateFact

# One template set per step kind and language (tests check each exists).
STEPS: tuple[StepKind, ...] = tuple(StepKind)
LANGUAGES: tuple[Language, ...] = tuple(Language)

# Two concatenated UCS-2 segments hold 2 x 67 characters. The SMS text is kept
# within that; the acknowledgement link follows on its own line (§5).
SMS_LIMIT = 134

# A lock screen shows about this much of a subject; the step marker, severity
# and obligation must stay visible, so a long incident title gives way.
SUBJECT_TITLE_MAX = 30

# A call reads the title aloud; a long one would bury the deadline.
VOICE_TITLE_MAX = 40
# Severity as a voice says it: "Ⅰ级" read by a speech engine is a gamble, "一级" is not.
_SPOKEN = {"zh": {"I": "一", "II": "二", "III": "三", "IV": "四"}, "en": {"I": "1", "II": "2", "III": "3", "IV": "4"}}

ELLIPSIS = "…"
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ROMAN = {Severity.I: "Ⅰ", Severity.II: "Ⅱ", Severity.III: "Ⅲ", Severity.IV: "Ⅳ"}
# What a message calls each kind of matter (SPEC §13.1), zh and en. An
# emergency is named by its grade; the other kinds' rules apply whatever the
# severity, so a message names the kind instead.
_MATTER = {
    MatterKind.EMERGENCY: ("突发事件", "Emergency"),
    MatterKind.PUBLIC_OPINION: ("政务舆情", "Public opinion"),
    MatterKind.DISCLOSURE_REQUEST: ("依申请公开", "Disclosure request"),
}


@dataclass(frozen=True)
class DeadlineInfo:
    key: str  # e.g. "authoritative_release"
    title: str  # e.g. "发布权威信息"
    due_at: datetime  # aware UTC
    state: str  # an ObligationState
    waiver_reason: str | None = None  # why a waiver was requested, for waiver_requested


@dataclass(frozen=True)
class MessageContext:
    step: str  # a StepKind
    occurrence: int  # 1.. for overdue repeats, else 1
    incident_id: int
    incident_title: str
    severity: str  # a Severity
    department_name: str
    occurred_at: datetime  # aware UTC
    deadlines: tuple[DeadlineInfo, ...]  # registered: every obligation; other steps: the one obligation
    now: datetime  # aware UTC; "time left"/"overdue by" computed from it
    ack_url: str  # signed acknowledgement link
    recipient_name: str
    kind: str = MatterKind.EMERGENCY  # the incident's kind of matter (a MatterKind)


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    body: str  # sms text or email plain text; ends with the ack link
    html: str | None  # email: the HTML part; sms: the facts as JSON (see the module's docstring)


def format_remaining(delta: timedelta, language: str) -> str:
    """Time left (positive ``delta``) or overdue (negative), in whole minutes.

    Minutes are truncated: claiming a minute more than is left would mislead.
    """
    _check_language(language)
    seconds = int(delta.total_seconds())
    if abs(seconds) < 60:
        return "已到时限" if language == Language.ZH else "due now"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    if hours >= 72:  # a limit counted in working days: hours would be a number nobody reads
        days, hours = divmod(hours, 24)
        if language == Language.ZH:
            span = f"{days}天{hours}小时" if hours else f"{days}天"
            return f"剩余{span}" if seconds > 0 else f"已超时{span}"
        span = f"{days}d{hours}h" if hours else f"{days}d"
        return f"{span} left" if seconds > 0 else f"overdue by {span}"
    if language == Language.ZH:
        span = f"{hours}小时{minutes}分" if hours and minutes else f"{hours}小时" if hours else f"{minutes}分钟"
        return f"剩余{span}" if seconds > 0 else f"已超时{span}"
    span = f"{hours}h{minutes:02d}m" if hours and minutes else f"{hours}h" if hours else f"{minutes}m"
    return f"{span} left" if seconds > 0 else f"overdue by {span}"


def format_time(at: datetime, language: str, zone: ZoneInfo, *, with_year: bool = False) -> str:
    """``11月28日 14:30`` / ``28 Nov 14:30`` in ``zone``."""
    _check_language(language)
    local = _aware(at, "time").astimezone(zone)
    clock = f"{local:%H:%M}"
    if language == Language.ZH:
        year = f"{local.year}年" if with_year else ""
        return f"{year}{local.month}月{local.day}日 {clock}"
    year = f" {local.year}" if with_year else ""
    return f"{local.day} {_MONTHS_EN[local.month - 1]}{year} {clock}"


def sms_units(text: str) -> int:
    """Length in UCS-2/UTF-16 code units, which is what SMS segments count."""
    return len(text.encode("utf-16-le")) // 2


def render(
    ctx: MessageContext,
    channel: ChannelName,
    *,
    language: str = Language.ZH,
    timezone: str = "Asia/Shanghai",
) -> RenderedMessage:
    _check_language(language)
    if ctx.step not in STEPS:
        raise ValueError(f"unknown step {ctx.step!r}; expected one of {', '.join(STEPS)}")
    if channel not in tuple(ChannelName):
        raise ValueError(f"unknown channel {channel!r}")
    if not ctx.deadlines:
        raise ValueError("a message needs at least one deadline")
    values = _values(ctx, language, ZoneInfo(timezone))

    def part(name: str, **extra: object) -> str:
        template = _environment().get_template(f"{language}/{ctx.step}.{name}")
        return template.render({**values, **extra}).strip()

    subject = part("subject.txt", title=_shorten(values["title"], SUBJECT_TITLE_MAX))
    if channel == ChannelName.SMS:
        text = _fit_sms(lambda title: part("sms.txt", title=title), values["title"])
        facts = json.dumps(sms_facts(ctx, values), ensure_ascii=False)
        return RenderedMessage(subject=subject, body=f"{text}\n{ctx.ack_url}", html=facts)
    if channel == ChannelName.VOICE:
        spoken = part("voice.txt", title=_shorten(values["title"], VOICE_TITLE_MAX),
                      sev_spoken=_SPOKEN[language].get(ctx.severity, ctx.severity))
        return RenderedMessage(subject=subject, body=f"{spoken}\n{ctx.ack_url}", html=None)
    return RenderedMessage(
        subject=subject,
        body=part("email.txt", title=values["title"]),
        html=part("email.html", title=values["title"]),
    )


@functools.cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(Path(__file__).with_name("templates")),
        # HTML parts are escaped (a title is user input); text parts are not,
        # or an SMS would show "&lt;".
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        undefined=StrictUndefined,  # a misspelt variable fails loudly, not as blank text
        auto_reload=False,  # shipped with the package: no need to stat the files on every message
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _values(ctx: MessageContext, language: str, zone: ZoneInfo) -> dict[str, object]:
    now = _aware(ctx.now, "now")
    deadlines = [
        {
            "key": d.key,
            "title": _one_line(d.title),
            "due_at": d.due_at,
            "state": d.state,
            "due": format_time(d.due_at, language, zone),
            "due_long": format_time(d.due_at, language, zone, with_year=True),
            "remaining": format_remaining(_aware(d.due_at, "due_at") - now, language),
            # A minute's grace, like format_remaining's "due now", so a breach
            # notice sent on the dot does not say "overdue by 0m".
            "overdue": d.due_at - now <= -timedelta(minutes=1),
        }
        for d in ctx.deadlines
    ]
    return {
        "step": ctx.step,
        "occurrence": ctx.occurrence,
        "incident_id": ctx.incident_id,
        "title": _one_line(ctx.incident_title),
        "severity": ctx.severity,
        "sev": _ROMAN.get(ctx.severity, ctx.severity),
        "kind": ctx.kind,
        "matter": _matter(ctx.kind, language),
        "grade": _grade(ctx, language),
        "department": ctx.department_name,
        "occurred": format_time(ctx.occurred_at, language, zone, with_year=True),
        "recipient": ctx.recipient_name,
        "ack_url": ctx.ack_url,
        "timezone": zone.key,
        "deadlines": deadlines,
        "d": deadlines[0],
        "reason": _one_line(ctx.deadlines[0].waiver_reason or ""),
    }


def _matter(kind: str, language: str) -> str:
    words = _MATTER.get(kind)  # type: ignore[call-overload]
    return kind if words is None else words[0 if language == Language.ZH else 1]


def _grade(ctx: MessageContext, language: str) -> str:
    """How the messages' brackets name the matter: ``Ⅰ级`` / ``Level I`` for an emergency, else its kind."""
    if ctx.kind != MatterKind.EMERGENCY:
        return _matter(ctx.kind, language)
    return f"{_ROMAN.get(ctx.severity, ctx.severity)}级" if language == Language.ZH else f"Level {ctx.severity}"


def sms_facts(ctx: MessageContext, values: dict) -> dict[str, str]:
    """What a templated SMS may say, each a short string: the step and kind of
    matter that choose the template, and every :class:`TemplateFact`. An
    incident-wide notice (registered, waiver_requested) names all its duties
    and the nearest deadline."""
    deadlines = values["deadlines"]
    first = min(deadlines, key=lambda d: d["due_at"])
    link = urlsplit(ctx.ack_url)
    facts = {
        TemplateFact.INCIDENT: values["title"],
        TemplateFact.SEVERITY: values["sev"],
        TemplateFact.DEPARTMENT: values["department"],
        TemplateFact.DUTY: "、".join(dict.fromkeys(d["title"] for d in deadlines)),
        TemplateFact.DUE: first["due"],
        TemplateFact.DUE_DATETIME: first["due_at"].astimezone(ZoneInfo(values["timezone"])).strftime("%Y-%m-%d %H:%M"),
        TemplateFact.TIME_LEFT: first["remaining"],
        TemplateFact.OCCURRED: values["occurred"],
        TemplateFact.RECIPIENT: values["recipient"],
        TemplateFact.REASON: values["reason"],
        TemplateFact.ACK_LINK: ctx.ack_url,
        TemplateFact.ACK_PATH: link.path.lstrip("/") + (f"?{link.query}" if link.query else ""),
    }
    return {"step": ctx.step, "kind": ctx.kind, **{str(name): value for name, value in facts.items()}}


def _fit_sms(render_sms: Callable[[str], str], title: str) -> str:
    """The SMS text, the incident title shortened until it fits SMS_LIMIT."""
    text = render_sms(title)
    kept = title
    while sms_units(text) > SMS_LIMIT and kept:
        excess = sms_units(text) - SMS_LIMIT
        # Drop exactly the excess (in units: an emoji counts two), plus one
        # unit for the ellipsis the first time it is added.
        budget = sms_units(kept) - excess - (1 if kept is title else 0)
        kept = _cut_units(kept, max(0, budget)).rstrip()
        text = render_sms(kept + ELLIPSIS)
    if sms_units(text) > SMS_LIMIT:
        # Only reachable with an absurdly long obligation title in a rule file:
        # sending a cut text beats sending a third segment nobody budgeted for.
        text = _cut_units(text, SMS_LIMIT - 1) + ELLIPSIS
    return text


def _cut_units(text: str, limit: int) -> str:
    used = 0
    for index, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > limit:
            return text[:index]
    return text


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def _one_line(text: str) -> str:
    # Line breaks would break an email header and waste SMS characters.
    return " ".join(text.split())


def _aware(at: datetime, what: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware")
    return at


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r}; expected one of {', '.join(LANGUAGES)}")
