"""What Alibaba Cloud SMS's answer codes mean for a retry: the one table the
Aliyun channel reads, as :mod:`alerts.twilio_errors` is for Twilio.

SendSms reports most refusals in a 200 answer whose ``Code`` is not ``OK``
(``isv.*``: the request or the account; ``isp.*``: Aliyun's side); the API
gateway refuses with an HTTP error and a code of its own (signature, access
key, throttling).
"""

from __future__ import annotations

# Codes whose meaning is known (Alibaba Cloud SMS, API错误码); True = permanent:
# sending the same message again cannot succeed, so the policy falls back to
# email at once instead of retrying for a quarter of an hour. An empty account,
# a spent daily quota or a refused template are permanent here: nobody fixes
# them within the retry window, and the alert must reach the person now.
ALIYUN_ERROR_CODES: dict[str, tuple[bool, str]] = {
    # The recipient
    "isv.MOBILE_NUMBER_ILLEGAL": (True, "invalid mobile number"),
    "isv.MOBILE_COUNT_OVER_LIMIT": (True, "too many mobile numbers in one request"),
    "isv.DOMESTIC_NUMBER_NOT_SUPPORTED": (True, "an international template cannot send to a mainland number"),
    "isv.BLACK_KEY_CONTROL_LIMIT": (True, "the number or the text is blocked"),
    # Signature and template
    "isv.SMS_SIGNATURE_ILLEGAL": (True, "signature not approved or unknown: check SUNCLOCK_ALIYUN_SMS_SIGN_NAME"),
    "isv.SMS_SIGN_ILLEGAL": (True, "signature forbidden"),
    "isv.SIGN_STATE_ILLEGAL": (True, "signature not usable"),
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL": (True, "signature and template types do not match"),
    "isv.SMS_TEMPLATE_ILLEGAL": (True, "template not approved or unknown: check the template file's code"),
    "isv.TEMPLATE_MISSING_PARAMETERS": (True, "a template variable has no value: check the template file's params"),
    "isv.TEMPLATE_PARAMS_ILLEGAL": (True, "a template variable's value is not allowed"),
    "isv.PARAM_LENGTH_LIMIT": (True, "a template variable's value is too long"),
    "isv.PARAM_NOT_SUPPORT_URL": (True, "a template variable may not hold a link"),
    "isv.INVALID_JSON_PARAM": (True, "template variables are not valid JSON"),
    "isv.INVALID_PARAMETERS": (True, "invalid request parameters"),
    "isv.SMS_CONTENT_ILLEGAL": (True, "the text is not allowed"),
    "isv.EXTEND_CODE_ERROR": (True, "extension code used by several signatures"),
    # The account
    "isv.AMOUNT_NOT_ENOUGH": (True, "account balance too low"),
    "isv.OUT_OF_SERVICE": (True, "account out of service (balance)"),
    "isv.DAY_LIMIT_CONTROL": (True, "daily sending limit reached"),
    "isv.MONTH_LIMIT_CONTROL": (True, "monthly sending limit reached"),
    "isv.ACCOUNT_NOT_EXISTS": (True, "account does not exist: check the access key"),
    "isv.ACCOUNT_ABNORMAL": (True, "account abnormal"),
    "isv.PRODUCT_UN_SUBSCRIPT": (True, "SMS not activated for this account"),
    "isv.PRODUCT_UNSUBSCRIBE": (True, "product not activated"),
    "isv.DENY_IP_RANGE": (True, "sending from this IP region is refused"),
    "isp.RAM_PERMISSION_DENY": (True, "the access key may not send SMS (RAM)"),
    # The API gateway
    "InvalidAccessKeyId.NotFound": (True, "unknown access key: check SUNCLOCK_ALIYUN_ACCESS_KEY_ID"),
    "InvalidAccessKeyId.Inactive": (True, "access key disabled"),
    "IncompleteSignature": (True, "request signature incomplete"),
    "SignatureDoesNotMatch": (True, "signature mismatch: check SUNCLOCK_ALIYUN_ACCESS_KEY_SECRET"),
    "Forbidden.RAM": (True, "the access key may not send SMS (RAM)"),
    "InvalidTimeStamp.Expired": (True, "request time refused: check this machine's clock"),
    "SignatureNonceUsed": (False, "signature nonce reused"),
    # Transient: Aliyun's side, or too many at once
    "isp.SYSTEM_ERROR": (False, "Aliyun system error"),
    "isp.GATEWAY_ERROR": (False, "Aliyun gateway error"),
    "isv.BUSINESS_LIMIT_CONTROL": (False, "throttled: too many messages to this number"),
    "Throttling": (False, "throttled"),
    "Throttling.User": (False, "throttled: too many requests from this account"),
    "Throttling.Api": (False, "throttled: too many requests to SendSms"),
    "Throttling.System": (False, "throttled: Aliyun is busy"),
    "ServiceUnavailable": (False, "Aliyun service unavailable"),
    "InternalError": (False, "Aliyun internal error"),
}


def classify_aliyun_error(code: str | None, status: int | None) -> tuple[bool, str]:
    """(permanent, reason) for an answer's code and HTTP status (200 for a
    refusal in the body). Codes not in the table: ``isp.*``, throttling and
    server errors are worth retrying; other refusals are not."""
    if code and code in ALIYUN_ERROR_CODES:
        return ALIYUN_ERROR_CODES[code]
    label = f"Aliyun error {code}" if code else "Aliyun error"
    if code and (code.startswith("isp.") or code.startswith("Throttling")):
        return (False, label)
    if status is not None and (status == 429 or status >= 500):
        return (False, f"{label} (HTTP {status})")
    if code and code.startswith("isv."):
        return (True, label)
    if status is not None and 400 <= status < 500:
        return (True, f"{label} (HTTP {status})")
    return (False, f"{label} (HTTP {status})" if status else label)
