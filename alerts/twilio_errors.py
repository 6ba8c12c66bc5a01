"""What Twilio's errors mean for a retry: the one table both the SMS channel and
the status-callback handler read. Kept apart from :mod:`alerts.sms` so that the
handler does not load the Twilio client (and aiohttp) on an install without SMS.
"""

from __future__ import annotations

# Twilio error codes (https://www.twilio.com/docs/api/errors) whose meaning is
# known; True = permanent: sending the same message again cannot succeed, so the
# policy falls back to email. Codes not listed are judged by HTTP status below.
TWILIO_ERROR_CODES: dict[int, tuple[bool, str]] = {
    20003: (True, "authentication failed: check the account SID and auth token"),
    20404: (True, "resource not found: check the account SID"),
    20429: (False, "too many requests"),
    20500: (False, "Twilio internal error"),
    20503: (False, "Twilio temporarily unavailable"),
    21211: (True, "invalid 'To' number"),
    21214: (True, "'To' number cannot be reached"),
    21217: (True, "'To' number does not appear valid"),
    21401: (True, "invalid phone number"),
    21408: (True, "sending to this region is not enabled"),
    21602: (True, "message body is required"),
    21604: (True, "'To' number is required"),
    21606: (True, "'From' number cannot send SMS"),
    21608: (True, "trial account cannot send to unverified numbers"),
    21610: (True, "recipient has unsubscribed (replied STOP)"),
    21612: (True, "'To' number cannot be reached from this 'From' number"),
    21614: (True, "'To' number is not a mobile number"),
    21617: (True, "message body too long"),
    21659: (True, "'From' number is not a Twilio number of this account"),
    30001: (False, "queue overflow"),
    30002: (True, "account suspended"),
    30003: (True, "unreachable destination handset"),
    30004: (True, "message blocked"),
    30005: (True, "unknown destination handset"),
    30006: (True, "landline or unreachable carrier"),
    30007: (True, "message filtered by the carrier"),
    30008: (True, "unknown delivery error"),
}


def classify_twilio_error(status: int | None, code: int | None) -> tuple[bool, str]:
    """(permanent, reason) for an HTTP status and/or a Twilio error code.

    ``status`` is None for status-callback errors, which carry only a code.
    """
    if code is not None and code in TWILIO_ERROR_CODES:
        return TWILIO_ERROR_CODES[code]
    if status is None:
        return (False, f"Twilio error {code}")
    if status == 429:
        return (False, "rate limited (HTTP 429)")
    if status >= 500:
        return (False, f"Twilio server error (HTTP {status})")
    if 400 <= status < 500:
        return (True, f"request rejected (HTTP {status})")
    return (False, f"unexpected HTTP status {status}")
