"""Structured logs (structlog): one event name and the fields that matter.

Mobile numbers and email addresses are masked in what is finally written,
not field by field: an exception's message, a traceback's source lines, the
``[parameters: …]`` of an SQL error and the repr of any object a field holds
are masked as well as plain strings. Records of the standard library's loggers
(the web server's crash reports, libraries) go through the same renderer.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from alerts.masking import mask, mask_mobile

__all__ = ["configure_logging", "mask", "mask_mobile"]


class MaskedRenderer:
    """A renderer whose output is masked, whatever the event held."""

    def __init__(self, renderer: Any):
        self.renderer = renderer

    def __call__(self, logger: Any, name: str, event: dict[str, Any]) -> str:
        return mask(self.renderer(logger, name, event))


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (a test's capture, a daemoniser)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def _renderer(log_format: str) -> MaskedRenderer:
    return MaskedRenderer(
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()))


def _route_standard_logging(log_format: str, level: int) -> None:
    """Records of ``logging`` loggers are rendered (and masked) like our events.
    Libraries' chatter below WARNING stays out, as it did before."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, structlog.stdlib.add_log_level,
                           structlog.processors.TimeStamper(fmt="iso", utc=True)],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, _renderer(log_format)])
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    handler.setLevel(max(level, logging.WARNING))
    handler.set_name("sunclock")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "sunclock"]:
        root.removeHandler(old)
    root.addHandler(handler)


def configure_logging(log_format: str = "console", level: str = "INFO") -> None:
    numeric_level = logging.getLevelName(level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _renderer(log_format),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        # Look sys.stderr up when a logger is made, not now: whoever replaces it
        # later (a test's capture, a daemoniser) still gets the events.
        logger_factory=lambda *_args: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=False,
    )
    _route_standard_logging(log_format, numeric_level)
