"""The acknowledgement page behind the signed link in every message (签收).

The token is the only credential: it names one step and one contact, so the
page needs no sign-in. An acknowledgement is recorded and shown; it never
touches an obligation or a step (SPEC §2: it never stops the legal clock).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import structlog
from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from jinja2 import Environment
from sqlmodel.ext.asyncio.session import AsyncSession

from alerts.render import format_remaining
from monitor.acks import (
    REGISTERED_DUTY,
    STEP_LABELS,
    AckLinkInvalid,
    AckTarget,
    acknowledge,
    acknowledged_at,
    load_target,
    read_token,
    sent_notification,
)
from monitor.api.responses import page_answers
from monitor.catalogue import phrase
from monitor.deps import ClockDep, RuntimeDep, SessionDep
from monitor.errors import ErrorCode
from monitor.models import Obligation
from monitor.terms import OBLIGATION_STATE, chinese
from rules.vocabulary import ObligationState, StepKind

log = structlog.get_logger("sunclock.ack")
router = APIRouter(tags=["acknowledgements"], responses=page_answers(400, 404, 410, 413, 422))
STATE_WORDS = chinese(OBLIGATION_STATE)
LANG = "zh"  # the page is written in Chinese (its labels below); its texts come from the catalogue

_PAGE = Environment(autoescape=True).from_string("""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ heading }} · 阳光时钟</title>
<style>body{font-family:sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.6}
dt{color:#555}dd{margin:0 0 .6rem}.late{color:#b00020}
button{font-size:1.1rem;padding:.5rem 1.5rem}.done{color:#1a7f37}</style>
</head><body>
<h1>{{ heading }}</h1>
{% if message %}<p{% if done %} class="done"{% endif %}>{{ message }}</p>{% endif %}
{% if t %}<dl>
<dt>事件</dt><dd>{{ t.incident.title }}（编号 {{ t.incident.id }}）</dd>
<dt>事项</dt><dd>{{ duty }}</dd>
<dt>提醒</dt><dd>{{ step }}</dd>
{% for o in t.duties %}<dt>「{{ o.title }}」截止时间</dt><dd>{{ local(o.due_at) }}<br>
<strong class="{{ 'late' if o.state == 'breached' else '' if o.state == 'pending' else 'done' }}">
{{- duty_state(o) }}</strong></dd>{% endfor %}
<dt>接收人</dt><dd>{{ t.contact.name }}</dd>
<dt>签收状态</dt><dd>{% if acked %}已签收（{{ local(acked) }}）{% else %}未签收{% endif %}</dd>
</dl>
{% if not acked %}<form method="post" action="{{ action }}"><button type="submit">确认签收</button></form>{% endif %}
<p><small>签收仅表示已收到提醒，不影响法定时限的计算。</small></p>
{% endif %}
</body></html>""")


def _page(status: int, heading: str, message: str | None = None, **context: object) -> HTMLResponse:
    return HTMLResponse(_PAGE.render(heading=phrase(heading, LANG), message=message and phrase(message, LANG),
                                     **context), status_code=status)


def _refusal(status: int, code: ErrorCode) -> HTMLResponse:
    return _page(status, f"{code}.title", code)


async def _resolve(token: str, runtime: RuntimeDep, session: AsyncSession) -> AckTarget | HTMLResponse:
    try:
        ref = read_token(runtime.settings.signing_key, token, runtime.clock.now())
    except AckLinkInvalid as exc:
        return _refusal(410 if exc.expired else 400, exc.code)
    target = await load_target(session, ref.step_id, ref.contact_id)
    if target is None:
        log.warning("ack_target_missing", step_id=ref.step_id, contact_id=ref.contact_id)
        return _refusal(404, ErrorCode.ACK_TARGET_MISSING)
    target.notification_id = await sent_notification(session, ref.step_id, ref.contact_id)
    if target.notification_id is None:
        log.warning("ack_not_sent", step_id=ref.step_id, contact_id=ref.contact_id)
        return _refusal(404, ErrorCode.ACK_NOT_SENT)
    return target


def _details(target: AckTarget, runtime: RuntimeDep, token: str, acked: datetime | None) -> dict:
    zone = runtime.settings.zone
    step = target.step
    repeat = f"（第 {step.occurrence} 次）" if step.kind == StepKind.OVERDUE else ""
    label = STEP_LABELS.get(step.kind, step.kind) + repeat
    duty = REGISTERED_DUTY if not step.obligation_key else "、".join(o.title for o in target.duties)
    return {"t": target, "duty": duty, "step": label, "acked": acked, "action": f"/ack/{token}",
            "local": lambda at: at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
            "duty_state": lambda o: duty_status(o, runtime.clock.now(), zone)}


def duty_status(obligation: Obligation, now: datetime, zone: ZoneInfo) -> str:
    """Time left (or overdue) while the duty is owed; otherwise that it is already met, late or waived."""
    state = obligation.state
    if state in (ObligationState.PENDING, ObligationState.BREACHED):
        return format_remaining(obligation.due_at - now, LANG)
    done = f"，完成于 {obligation.fulfilled_at.astimezone(zone):%m-%d %H:%M}" if obligation.fulfilled_at else ""
    return f"{STATE_WORDS.get(state, state)}{done}，无需再办"


@router.get("/ack/{token}", response_class=HTMLResponse)
async def show(token: str, runtime: RuntimeDep, session: SessionDep) -> HTMLResponse:
    target = await _resolve(token, runtime, session)
    if isinstance(target, HTMLResponse):
        return target
    acked = await acknowledged_at(session, target)
    return _page(200, "ack.title", None, **_details(target, runtime, token, acked))


@router.post("/ack/{token}", response_class=HTMLResponse)
async def confirm(token: str, runtime: RuntimeDep, session: SessionDep, clock: ClockDep) -> HTMLResponse:
    target = await _resolve(token, runtime, session)
    if isinstance(target, HTMLResponse):
        return target
    now = clock.now()
    recorded = await acknowledge(session, target, "link", now, notification_id=target.notification_id)
    await session.commit()
    acked = await acknowledged_at(session, target)
    message = "ack.recorded" if recorded else "ack.repeated"
    return _page(200, "ack.done.title", message, done=True, **_details(target, runtime, token, acked))
