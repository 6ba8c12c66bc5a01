"""The key press of a phone call (SPEC §15.2): pressing 1 acknowledges.

Twilio posts the ``<Gather>`` result to ``/webhooks/twilio/voice/{token}``, the
action the call was given (alerts/voice.py); ``token`` is the signed token of
the message's acknowledgement link. A request counts only with a valid
``X-Twilio-Signature`` (403 otherwise), like every Twilio callback; the answer
is TwiML that the caller hears.
"""

from __future__ import annotations

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from alerts.voice import ACK_DIGIT, GATHER_PATH, reply_twiml
from monitor.acks import AckLinkInvalid, acknowledge, load_target, read_token
from monitor.api.responses import plain_errors
from monitor.api.webhooks import _signed_form
from monitor.catalogue import phrase
from monitor.deps import ClockDep, RuntimeDep, SessionDep
from monitor.models import Notification
from monitor.terms import catalogue
from rules.vocabulary import Channel, NotificationState

log = structlog.get_logger("sunclock.webhooks")
router = APIRouter(tags=["webhooks"])

# The call was placed by us (the signed token is in its action URL, and Twilio
# signed the request), so a press counts while its row is still being recorded
# as sent, and after the call's outcome came back.
CALLED = (NotificationState.SENDING, NotificationState.SENT, NotificationState.DELIVERED)


def _twiml(text: str, language: str, *, again: str | None = None) -> Response:
    return Response(reply_twiml(text, language=language, again=again), media_type="application/xml")


@router.post(GATHER_PATH + "/{token}", response_class=Response, responses={
    200: {"description": "the TwiML the caller hears", "content": {"application/xml": {}}},
    **plain_errors(403, 404, 413, 422)})
async def key_press(token: str, request: Request, runtime: RuntimeDep, session: SessionDep,
                    clock: ClockDep) -> Response:
    params = await _signed_form(request, runtime)
    language, now = runtime.settings.language, clock.now()
    try:
        link = read_token(runtime.settings.signing_key, token, now)
    except AckLinkInvalid as exc:
        log.warning("voice_ack_bad_token", code=exc.code)
        return _twiml(phrase("voice.no_message", language), language)
    target = await load_target(session, link.step_id, link.contact_id)
    call = (await session.execute(select(Notification.id).where(
        Notification.step_id == link.step_id, Notification.contact_id == link.contact_id,
        Notification.channel == Channel.VOICE, Notification.state.in_(CALLED)))).scalar_one_or_none()
    if target is None or call is None:
        log.warning("voice_ack_no_call", step_id=link.step_id, contact_id=link.contact_id)
        return _twiml(phrase("voice.no_message", language), language)
    if params.get("Digits", "").strip() != ACK_DIGIT:
        return _twiml(phrase("voice.press_1", language), language,
                      again=runtime.settings.public_url + request.url.path)
    step = catalogue(language).get(f"step.{target.step.kind}", target.step.kind)
    what = f"“{target.incident.title}”{step}" if language == "zh" else f"the {step} for {target.incident.title}"
    recorded = await acknowledge(session, target, Channel.VOICE, now, notification_id=call)
    await session.commit()
    return _twiml(phrase("voice.repeated" if recorded is None else "voice.recorded", language, what=what), language)
