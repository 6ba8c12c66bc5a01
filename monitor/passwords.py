"""Password rules, as China's classified-protection reviews (等保) expect of a
sign-in: long enough, not one kind of character alone, not the user's own name
(written forwards or backwards),
not one of the passwords every guesser tries first. One place, used wherever a
password is set: user create, a reset, a change."""

from __future__ import annotations

import secrets
import string

from monitor.errors import ErrorCode, Invalid

MIN_LENGTH = 8
MAX_LENGTH = 256
# The first guesses of every password list, and this product's own words.
COMMON = frozenset({
    "12345678", "123456789", "1234567890", "password", "password1", "password123", "qwertyui", "qwerty123",
    "11111111", "88888888", "66666666", "abc12345", "abcd1234", "a1234567", "iloveyou", "admin123",
    "sunclock", "sunclock1", "sunclock123", "changeme", "woaini1314", "1qaz2wsx", "p@ssw0rd",
})
_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits)


def kinds(password: str) -> int:
    """How many kinds of character: lower case, upper case, digits, anything else (symbols, Chinese)."""
    found = {i for ch in password for i, chars in enumerate(_CLASSES) if ch in chars}
    return len(found) + (1 if any(not any(ch in c for c in _CLASSES) for ch in password) else 0)


def check(password: str, name: str = "") -> None:
    """Refuse a password that breaks a rule, naming the rule (field ``password``)."""
    if len(password) < MIN_LENGTH:
        raise Invalid("a password has at least 8 characters", field="password", code=ErrorCode.PASSWORD_SHORT)
    if len(password) > MAX_LENGTH:
        raise Invalid("a password has at most 256 characters", field="password", code=ErrorCode.PASSWORD_LONG)
    if kinds(password) < 2:
        raise Invalid("a password mixes at least two kinds of character (letters, digits, symbols)",
                      field="password", code=ErrorCode.PASSWORD_ONE_KIND)
    lowered = password.lower()
    if name and lowered in (name.lower(), name.lower()[::-1]):
        raise Invalid("a password may not be the user name", field="password",
                      code=ErrorCode.PASSWORD_HAS_NAME)
    if lowered in COMMON:
        raise Invalid("this password is among the first that any guesser tries", field="password",
                      code=ErrorCode.PASSWORD_COMMON)


def generate() -> str:
    """A password for a reset, shown once: 16 characters of letters and digits in groups, easy to read out."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    while True:
        groups = ["".join(secrets.choice(alphabet) for _ in range(4)) for _ in range(4)]
        candidate = "-".join(groups)
        if kinds(candidate) >= 3:
            return candidate
