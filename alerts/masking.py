"""The one masker for mobile numbers and email addresses (SPEC §10):
``+8613800000001`` → ``+86138****0001``, ``h.wang@emb.example.org`` →
``h***@emb.example.org``. Delivery errors quote numbers, logs print whatever
an exception says; both mask with this, so a number reads the same everywhere."""

from __future__ import annotations

import re

# E.164 with its plus, or a mainland mobile written without it (a provider's
# error text, a hand-typed value in an SQL error), but not any long digit run:
# ids and timestamps stay readable.
_MOBILE = re.compile(r"\+\d{7,15}|(?<![\d.])(?:86)?1[3-9]\d{9}(?![\d.])")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def mask_mobile(number: str) -> str:
    """``+8613800000001`` → ``+86138****0001``."""
    if len(number) < 9:
        return number[:2] + "****"
    return number[:-8] + "****" + number[-4:]


def mask(text: str) -> str:
    text = _MOBILE.sub(lambda m: mask_mobile(m.group(0)), text)
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
