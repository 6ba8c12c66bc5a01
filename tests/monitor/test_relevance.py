"""Which late messages are still true (monitor.relevance.why_stale), as a table."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from monitor.relevance import why_stale
from tests.conftest import START

DUE = START + timedelta(hours=5)


@dataclass
class Duty:
    state: str
    due_at: datetime = DUE


@pytest.mark.parametrize(("kind", "duty", "decision", "now", "reason"), [
    ("registered", None, None, DUE + timedelta(days=1), None),
    ("reminder", Duty("pending"), None, DUE - timedelta(minutes=1), None),
    ("final_warning", Duty("pending"), None, DUE, "its deadline has passed"),
    ("warning", Duty("pending"), None, DUE + timedelta(seconds=1), "its deadline has passed"),
    ("reminder", Duty("met"), None, DUE - timedelta(hours=2), "its obligation is met"),
    ("warning", Duty("waived"), None, DUE - timedelta(hours=1), "its obligation is waived"),
    ("breached", Duty("breached"), "pending", DUE + timedelta(minutes=5), None),
    ("breached", Duty("met_late"), "pending", DUE + timedelta(minutes=5), "its obligation is met_late"),
    ("breached", Duty("pending", DUE + timedelta(hours=1)), "pending", DUE, "its deadline lies in the future again"),
    ("overdue", Duty("breached"), None, DUE + timedelta(hours=1), None),
    ("overdue", Duty("breached"), "pending", DUE + timedelta(hours=1), None),
    ("overdue", Duty("breached"), "summons", DUE + timedelta(hours=1), "its accountability case was decided (summons)"),
    ("overdue", Duty("pending", DUE + timedelta(hours=3)), "pending", DUE + timedelta(hours=1),
     "its obligation is no longer breached"),
])
def test_a_late_message_is_sent_only_while_it_is_still_true(kind, duty, decision, now, reason):
    assert why_stale(kind, duty, decision, now) == reason
