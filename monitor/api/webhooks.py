"""Twilio's callbacks: delivery status (of messages and calls) and SMS replies (SPEC §5, §15.2).

Both are public URLs, so a request counts only with a valid
``X-Twilio-Signature`` over the URL Twilio was given (``public_url`` + path,
not whatever host the proxy in front of us forwarded) and the form fields.
"""

from __future__ import annotations

from datetime import datetime

import structlog
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from sqlalchemy import select, update
from sqlmodel.ext.asyncio.session import AsyncSession
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from alerts.twilio_errors import classify_twilio_error
from alerts.voice import CALL_ANSWERED, CALL_NOT_REACHED
from monitor import timeline
from monitor.acks import SENT_STATES, STEP_LABELS, acknowledge, load_target
from monitor.api.responses import plain_errors
from monitor.catalogue import phrase
from monitor.deps import ClockDep, RuntimeDep, SessionDep
from monitor.errors import ErrorCode
from monitor.models import Notification
from monitor.runtime import Runtime
from monitor.schemas import unstorable_character
from rules.vocabulary import Channel, NotificationState, Outcome, TimelineKind

log = structlog.get_logger("sunclock.webhooks")
router = APIRouter(prefix="/webhooks/twilio", tags=["webhooks"])

ACK_WORDS = ("1", "收到")
# Twilio's own status words (not Sunclock's notification states).
FAILED = ("failed", "undelivered")
REPLY_LANG = "zh"  # replies go to Chinese offices, like the messages they answer


async def _signed_form(request: Request, runtime: Runtime) -> dict[str, str]:
    token = runtime.settings.twilio_auth_token
    if token is None:
        # Nothing was sent through Twilio, so nothing can be reported back.
        raise HTTPException(404, "SMS is not configured (SUNCLOCK_TWILIO_AUTH_TOKEN unset): no callbacks accepted")
    form = await request.form()
    params = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    url = runtime.settings.public_url + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    signature = request.headers.get("x-twilio-signature", "")
    if not signature or not RequestValidator(token.get_secret_value()).validate(url, params, signature):
        log.warning("twilio_signature_rejected", path=request.url.path, signed=bool(signature))
        raise HTTPException(403, "the X-Twilio-Signature is missing or does not match")
    if any(unstorable_character(key + value) is not None for key, value in params.items()):
        raise HTTPException(422, "a form field holds a character that cannot be stored (such as NUL)")
    return params


def _error_code(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


@router.post("/status", response_class=Response, responses={
    200: {"description": "recorded, or nothing to record", "content": {}}, **plain_errors(403, 404, 413, 422)})
async def status(request: Request, runtime: RuntimeDep, session: SessionDep, clock: ClockDep) -> Response:
    params = await _signed_form(request, runtime)
    sid = params.get("MessageSid") or params.get("SmsSid")
    outcome = params.get("MessageStatus") or params.get("SmsStatus")
    if sid is None and "CallStatus" in params:  # a call's outcome (alerts/voice.py)
        sid, outcome = params.get("CallSid"), params["CallStatus"]
        if outcome == CALL_ANSWERED:
            outcome = "delivered"
    if outcome != "delivered" and outcome not in FAILED and outcome not in CALL_NOT_REACHED:
        return Response(status_code=200)  # queued/sent/ringing/...: what we recorded at send time already says so
    row = (await session.exec(select(Notification).where(Notification.provider_id == sid))).scalars().first()
    if row is None:
        # Answer 2xx anyway: Twilio would retry an error for a message we never knew.
        log.warning("twilio_status_unknown_sid", sid=sid, status=outcome)
        return Response(status_code=200)
    now = clock.now()
    fell_back = await (_delivered if outcome == "delivered" else _failed)(session, runtime, row, params, now)
    await session.commit()
    if fell_back:
        runtime.poke()
    return Response(status_code=200)


def _who(row: Notification) -> dict:
    return {"step": row.step, "channel": row.channel, "recipient": row.recipient_name,
            "obligation": row.obligation_key or None}


async def _move(session: AsyncSession, row: Notification, **values: object) -> bool:
    # Only a sent message moves on, once: a repeated or out-of-order callback
    # never turns delivered into failed or the reverse.
    result = await session.execute(update(Notification).where(
        Notification.id == row.id, Notification.state == NotificationState.SENT).values(**values))
    if result.rowcount != 1:
        log.info("twilio_status_ignored", notification_id=row.id, state=row.state, wanted=values["state"])
    return result.rowcount == 1


async def _delivered(session: AsyncSession, runtime: Runtime, row: Notification, _params: dict,
                     now: datetime) -> bool:
    if await _move(session, row, state=NotificationState.DELIVERED, delivered_at=now):
        runtime.metrics.notifications.labels(row.channel, Outcome.DELIVERED).inc()
        await timeline.record(session, row.incident_id, TimelineKind.NOTIFICATION_DELIVERED, "twilio", now, **_who(row))
        log.info("notification_delivered", notification_id=row.id, incident_id=row.incident_id, channel=row.channel)
    return False


async def _failed(session: AsyncSession, runtime: Runtime, row: Notification, params: dict, now: datetime) -> bool:
    code = _error_code(params.get("ErrorCode"))
    permanent, reason = classify_twilio_error(None, code)
    status = params.get("MessageStatus") or params.get("SmsStatus")
    if status is None:
        # A call that nobody answered, busy or not placed: SPEC §15.2 counts
        # each as failed for fallback (the number may be fine: the head is not).
        status = params.get("CallStatus", "")
        permanent, reason = True, CALL_NOT_REACHED.get(status, reason)
    error = f"{status} (Twilio error {code}): {reason}" if code is not None else f"{status}: {reason}"
    if not await _move(session, row, state=NotificationState.FAILED, last_error=error):
        return False
    # The carrier gave up after Twilio accepted: only a permanent cause (a
    # wrong or unreachable number) is worth the other channel; a transient one
    # is left as failed rather than re-sent blindly.
    fallback_id = await runtime.deliverer.record_failure(session, row, error, now, actor="twilio",
                                                         try_fallback=permanent)
    return fallback_id is not None


def _twiml(key: str, **params: object) -> Response:
    reply = MessagingResponse()
    reply.message(phrase(key, REPLY_LANG, **params))
    return Response(str(reply), media_type="application/xml")


@router.post("/sms", response_class=Response, responses={
    200: {"description": "the TwiML reply to the sender", "content": {"application/xml": {}}},
    **plain_errors(403, 404, 413, 422)})
async def sms_reply(request: Request, runtime: RuntimeDep, session: SessionDep, clock: ClockDep) -> Response:
    params = await _signed_form(request, runtime)
    sender, body = params.get("From", ""), params.get("Body", "").strip()
    if body not in ACK_WORDS:
        return _twiml(ErrorCode.SMS_NOT_AN_ACK)
    latest = (await session.exec(select(Notification).where(
        Notification.channel == Channel.SMS, Notification.to == sender, Notification.state.in_(SENT_STATES))
        .order_by(Notification.sent_at.desc(), Notification.id.desc()).limit(1))).scalars().first()
    target = await load_target(session, latest.step_id, latest.contact_id) if latest else None
    if target is None:
        log.warning("sms_ack_no_message", sender=sender)
        return _twiml(ErrorCode.SMS_NO_MESSAGE)
    what = f"“{target.incident.title}”{STEP_LABELS.get(target.step.kind, target.step.kind)}"
    recorded = await acknowledge(session, target, Channel.SMS, clock.now(), notification_id=latest.id)
    await session.commit()
    if recorded is None:
        return _twiml("sms.repeated", what=what)
    return _twiml("sms.recorded", what=what)
