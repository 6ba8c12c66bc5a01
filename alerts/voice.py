"""Phone calls through Twilio's Calls API, for the last warnings (SPEC §15.2).

A call says the rendered ``voice.txt`` text (``<Say language="zh-CN">``) inside
a ``<Gather numDigits="1">`` whose ``action`` is the key-press webhook,
``{public_url}/webhooks/twilio/voice/{token}``, where ``token`` is the signed
acknowledgement token of the message's own link (the last line of the body,
as for SMS). Pressing 1 acknowledges like following the link.

The TwiML goes inline (``twiml=``), not as a ``url=`` Twilio fetches when the
call is answered: the text was rendered (and re-checked) just before sending,
like an SMS; no TwiML endpoint has to be public, signed and fast at the moment
a head picks up; and an answered call cannot find the service unreachable and
play Twilio's error message instead of the warning. Only the key press and the
call's outcome come back to us, on signed webhooks.

The call's outcome arrives on the status callback (``completed`` means it was
answered: delivered; ``busy``, ``no-answer``, ``failed`` and ``canceled`` are
failures that fall back, see :data:`alerts.policy.FALLBACKS`). This module
loads no HTTP client at import: the webhooks read its TwiML and statuses.
"""

from __future__ import annotations

from twilio.base import values
from twilio.twiml.voice_response import VoiceResponse

from alerts.base import ChannelName, DeliveryError, Message, Receipt

# Where a key press arrives, below the public URL, followed by "/{token}".
GATHER_PATH = "/webhooks/twilio/voice"
ACK_DIGIT = "1"
SAY_LANGUAGE = {"zh": "zh-CN", "en": "en-US"}
# How long Twilio waits for the key after the text was said, in seconds.
GATHER_SECONDS = 6
# Twilio refuses inline TwiML longer than this.
TWIML_LIMIT = 4000

# A call's final statuses (Twilio's CallStatus): answered, or not reached.
CALL_ANSWERED = "completed"
CALL_NOT_REACHED: dict[str, str] = {
    "busy": "the line was busy",
    "no-answer": "nobody answered",
    "failed": "the call could not be placed",
    "canceled": "the call was canceled before it was answered",
}


def split_ack_link(body: str) -> tuple[str, str]:
    """(the text to say, the acknowledgement token) of a rendered voice body."""
    speech, _, link = body.rstrip().rpartition("\n")
    token = link.rsplit("/", 1)[-1]
    if not speech.strip() or "/" not in link or not token:
        raise DeliveryError("a voice message must end with its acknowledgement link", permanent=True,
                            code="no_ack_link")
    return speech.strip(), token


def call_twiml(speech: str, *, action: str, language: str) -> str:
    """What the call says: the text, asking for a key, said a second time when
    no key came (the first words are often lost while the phone is raised)."""
    say_language = SAY_LANGUAGE[language]
    for times in (2, 1):
        response = VoiceResponse()
        for _ in range(times):
            gather = response.gather(num_digits=1, action=action, method="POST", timeout=GATHER_SECONDS)
            gather.say(speech, language=say_language)
        twiml = str(response)
        if len(twiml) <= TWIML_LIMIT:
            return twiml
    raise DeliveryError(f"the spoken text is too long for a call ({len(twiml)} > {TWIML_LIMIT} characters)",
                        permanent=True, code="twiml_too_long")


def reply_twiml(text: str, *, language: str, again: str | None = None) -> str:
    """The answer to a key press: ``text`` said, then (``again``: the action URL)
    one more chance to press the key, or the end of the call."""
    response = VoiceResponse()
    if again is None:
        response.say(text, language=SAY_LANGUAGE[language])
        response.hangup()
    else:
        response.gather(num_digits=1, action=again, method="POST", timeout=GATHER_SECONDS).say(
            text, language=SAY_LANGUAGE[language])
    return str(response)


class TwilioVoiceChannel:
    name: ChannelName = ChannelName.VOICE
    provider = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_: str,
        *,
        public_url: str,
        language: str = "zh",
        api_base: str | None = None,
        timeout: float = 10.0,
    ):
        # Loaded here, as in alerts.channels: the client and aiohttp are only
        # needed by an install that places calls.
        from alerts.sms import TwilioApi

        if language not in SAY_LANGUAGE:
            raise ValueError(f"no voice for language {language!r}; expected one of {', '.join(SAY_LANGUAGE)}")
        if not public_url.startswith(("http://", "https://")):
            raise ValueError(f"the public URL must start with http:// or https://, got {public_url!r}")
        self._api = TwilioApi(account_sid, auth_token, api_base=api_base, timeout=timeout)
        self._from = from_
        self._gather = public_url.rstrip("/") + GATHER_PATH
        self._language = language

    async def send(self, message: Message) -> Receipt:
        from alerts.sms import receipt_for

        if message.channel != ChannelName.VOICE:
            raise ValueError(f"TwilioVoiceChannel cannot send a {message.channel!r} message")
        speech, token = split_ack_link(message.body)
        twiml = call_twiml(speech, action=f"{self._gather}/{token}", language=self._language)
        created = await self._api.create(lambda client: client.calls.create_async(
            to=message.to,
            from_=self._from,
            twiml=twiml,
            status_callback=message.status_callback or values.unset,
            status_callback_method="POST" if message.status_callback else values.unset,
        ))
        return receipt_for(created.sid, self.provider)

    @property
    def timeout(self) -> float:
        return self._api.timeout

    async def aclose(self) -> None:
        await self._api.aclose()
