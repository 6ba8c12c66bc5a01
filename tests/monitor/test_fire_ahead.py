"""Steps fired ahead of their time (SUNCLOCK_FIRE_AHEAD_SECONDS): the database
work is done early, the messages go out at the step's time, and a duty met in
between stops them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from support import hours, register

from alerts.outbox import OutboxChannel
from monitor.dispatch import fired_ahead
from monitor.models import EscalationStep, Notification, TimelineEntry
from monitor.runtime import Runtime
from monitor.scheduler import next_due
from rules.deadlines import DueStep
from tests.conftest import START, make_settings

AHEAD = timedelta(seconds=2)
RELEASE_DUE = START + hours(5)


@pytest.fixture
async def runtime(database_url, clock):
    """The engine firing two seconds ahead; its waits move the frozen clock."""
    rt = Runtime.build(make_settings(database_url, fire_ahead_seconds=AHEAD.total_seconds()), clock=clock,
                       migrate_schema=False, channels={name: OutboxChannel(name) for name in ("sms", "email", "voice")})
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)
        clock.advance(seconds=seconds)

    rt.deliverer.sleep = sleep
    rt.waited = waited
    yield rt
    await rt.close()


async def rows_of(runtime, step: str) -> list[Notification]:
    async with runtime.sessions() as session:
        return list((await session.execute(select(Notification).where(Notification.step == step)
                                           .order_by(Notification.id))).scalars())


async def entries(runtime, kind: str) -> list[TimelineEntry]:
    async with runtime.sessions() as session:
        return list((await session.execute(select(TimelineEntry).where(TimelineEntry.kind == kind)
                                           .order_by(TimelineEntry.id))).scalars())


async def test_a_step_fired_ahead_goes_out_at_its_planned_time_and_not_before(seeded, runtime, clock):
    await register(seeded, START)
    await runtime.scheduler.run_once()
    reminder = RELEASE_DUE - hours(2)
    clock.set(reminder - timedelta(seconds=1.5))

    firing = await runtime.dispatcher.fire(clock.now())
    assert {row.planned_at for row in firing.claimed} == {reminder} and len(firing.claimed) == 2
    # Recorded and leased already, and not sent: the moment has not come.
    assert [r.state for r in await rows_of(runtime, "reminder")] == ["sending", "sending"]
    fired = await entries(runtime, "step_fired")
    assert fired[-1].detail["step"] == "reminder" and fired[-1].at == reminder

    await runtime.deliverer.send_claimed(firing.claimed, firing.token)
    assert runtime.waited == [1.5]
    sent = await rows_of(runtime, "reminder")
    assert [(r.state, r.send_started_at, r.late) for r in sent] == [("sent", reminder, False)] * 2
    async with runtime.sessions() as session:
        step = (await session.execute(select(EscalationStep).where(
            EscalationStep.kind == "reminder", EscalationStep.obligation_key == "authoritative_release"))).scalar_one()
    assert (step.state, step.fired_at, step.late) == ("fired", reminder, False)


async def test_a_breach_notice_fired_ahead_is_skipped_when_the_duty_is_met_before_its_moment(seeded, runtime,
                                                                                             clock):
    incident = await register(seeded, START)
    clock.set(RELEASE_DUE - timedelta(seconds=10))  # the warnings before it are sent (catch-up: the last one)
    while await runtime.scheduler.run_once():
        pass
    clock.set(RELEASE_DUE - timedelta(seconds=1.5))
    firing = await runtime.dispatcher.fire(clock.now())
    # The head by SMS, email and call, the supervisor by SMS and email.
    assert {row.planned_at for row in firing.claimed} == {RELEASE_DUE} and len(firing.claimed) == 5
    met = await seeded.post(f"/api/v1/incidents/{incident['id']}/milestones",
                            json={"obligation": "authoritative_release", "at": clock.now().isoformat()})
    assert met.status_code == 201, met.text

    await runtime.deliverer.send_claimed(firing.claimed, firing.token)
    breached = await rows_of(runtime, "breached")
    assert [(r.state, r.send_started_at) for r in breached] == [("skipped", None)] * 5
    assert all(r.last_error == "skipped: its obligation is met" for r in breached)
    skipped = await entries(runtime, "notification_skipped")
    assert [(e.detail["step"], e.at) for e in skipped] == [("breached", RELEASE_DUE)]


async def test_a_breach_notice_whose_wait_ends_early_waits_again_and_goes_out_at_its_deadline(seeded, runtime,
                                                                                              clock):
    # uvloop times a sleep from the start of the loop's turn: after a long turn it
    # ends early by the clock. Judged then, the notice would read "its deadline
    # lies in the future again" and be skipped.
    await register(seeded, START)
    clock.set(RELEASE_DUE - timedelta(seconds=10))
    while await runtime.scheduler.run_once():
        pass
    clock.set(RELEASE_DUE - timedelta(seconds=1.5))
    firing = await runtime.dispatcher.fire(clock.now())
    assert {row.planned_at for row in firing.claimed} == {RELEASE_DUE}

    async def early(seconds: float) -> None:
        runtime.waited.append(seconds)
        clock.advance(seconds=seconds - 0.004 if len(runtime.waited) == 1 else seconds)  # first 4 ms short

    runtime.deliverer.sleep = early
    # One sender: no other message's wait moves the clock on before the first is judged.
    runtime.deliverer.settings = runtime.deliverer.settings.model_copy(update={"send_concurrency": 1})
    await runtime.deliverer.send_claimed(firing.claimed, firing.token)
    breached = await rows_of(runtime, "breached")
    assert [r.state for r in breached] == ["sent"] * 5
    assert all(r.send_started_at >= RELEASE_DUE for r in breached)
    assert runtime.waited[0] == 1.5 and runtime.waited[1] > 0  # it waited again for the rest


async def test_the_next_wake_is_ahead_of_a_step_unless_a_run_already_saw_it_that_far_ahead(seeded, runtime, clock):
    await register(seeded, START)
    await runtime.scheduler.run_once()
    reminder = RELEASE_DUE - hours(2)
    assert await next_due(runtime.sessions, AHEAD) == reminder - AHEAD
    assert await next_due(runtime.sessions, AHEAD, looked=reminder - hours(1)) == reminder - AHEAD
    # A run that saw it ahead and left it (catch-up among several) is woken at its time.
    assert await next_due(runtime.sessions, AHEAD, looked=reminder - timedelta(seconds=1)) == reminder


def due(step_id: int, kind: str, at_seconds: float, group: str = "release", deadline_seconds: float = 60) -> DueStep:
    return DueStep(step_id, (1, group), kind, 1, START + timedelta(seconds=at_seconds),
                   START + timedelta(seconds=deadline_seconds))


def test_only_a_step_alone_in_its_obligation_and_still_true_at_its_time_is_fired_ahead():
    steps = [
        due(1, "reminder", 1, group="alone"),  # fired ahead
        due(2, "final_warning", 0, group="pair"), due(3, "breached", 1, group="pair"),  # catch-up at its time
        due(4, "warning", 1.5, group="late", deadline_seconds=1),  # its deadline passes first
        due(5, "breached", 1, group="deadline", deadline_seconds=1),  # the breach at its deadline: fired ahead
        DueStep(6, (1, ""), "registered", 1, START + timedelta(seconds=1), None),
        DueStep(7, (1, ""), "waiver_requested", 1, START + timedelta(seconds=1), None),
    ]
    assert [s.id for s in fired_ahead(steps, START)] == [1, 5, 6, 7]


async def test_a_run_does_not_wait_for_what_it_fired_ahead_and_stopping_sends_it_at_its_time(seeded, runtime, clock):
    await register(seeded, START)
    await runtime.scheduler.run_once()
    reminder = RELEASE_DUE - hours(2)
    clock.set(reminder - timedelta(seconds=1.5))
    moment_came = asyncio.Event()

    async def sleep(seconds: float) -> None:
        until = clock.now() + timedelta(seconds=seconds)
        await moment_came.wait()
        clock.set(max(clock.now(), until))  # several senders wait for the same moment

    runtime.deliverer.sleep = sleep
    await runtime.scheduler.run_once()  # waits for what it sends now, not for what waits for its moment
    assert [r.state for r in await rows_of(runtime, "reminder")] == ["sending", "sending"]
    moment_came.set()
    await runtime.scheduler.stop()  # lets the sends under way finish
    assert [(r.state, r.send_started_at) for r in await rows_of(runtime, "reminder")] == [("sent", reminder)] * 2
