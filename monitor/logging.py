"""Structured logs (structlog): one event name and the fields that matter.

Mobile numbers and email addresses are masked wherever they appear in an
event, so a log shipped to a shared system never carries a head's number.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

_MOBILE = re.compile(r"\+\d{7,15}")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def mask_mobile(number: str) -> str:
    """``+8613800000001`` → ``+86138****0001``."""
    if len(number) < 9:
        return number[:2] + "****"
    return number[:-8] + "****" + number[-4:]


def mask(text: str) -> str:
    text = _MOBILE.sub(lambda m: mask_mobile(m.group(0)), text)
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: _mask_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_mask_value(v) for v in value)
    return value


def mask_contacts(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    return {key: _mask_value(value) for key, value in event.items()}


def configure_logging(log_format: str = "console", level: str = "INFO") -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            mask_contacts,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        # Look sys.stderr up when a logger is made, not now: whoever replaces it
        # later (a test's capture, a daemoniser) still gets the events.
        logger_factory=lambda *_args: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=False,
    )
