"""Signed acknowledgement links: single-purpose, expiring, tamper-evident."""

from __future__ import annotations

from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

ACK_SALT = "sunclock.ack.v1"
ACK_VALID_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class AckTarget:
    step_id: int
    contact_id: int


class AckLinkInvalid(Exception):
    def __init__(self, reason: str, *, expired: bool = False):
        super().__init__(reason)
        self.expired = expired


def _serializer(key: bytes) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=ACK_SALT)


def make_token(key: bytes, step_id: int, contact_id: int) -> str:
    return _serializer(key).dumps([step_id, contact_id])


def read_token(key: bytes, token: str, *, max_age: int = ACK_VALID_SECONDS) -> AckTarget:
    try:
        step_id, contact_id = _serializer(key).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise AckLinkInvalid("this acknowledgement link has expired", expired=True) from exc
    except (BadSignature, ValueError, TypeError) as exc:
        raise AckLinkInvalid("this acknowledgement link is not valid") from exc
    return AckTarget(int(step_id), int(contact_id))


def ack_url(public_url: str, key: bytes, step_id: int, contact_id: int) -> str:
    return f"{public_url}/ack/{make_token(key, step_id, contact_id)}"
