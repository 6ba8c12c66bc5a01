"""The database going away is an expected event (monitor/outage.py): logged once
per outage, counted, retried with backoff, answered 503 with Retry-After."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import OperationalError
from structlog.testing import capture_logs
from support import register

from alerts.base import Message, Receipt
from monitor.api.app import create_app
from monitor.clock import FrozenClock
from monitor.metrics import Metrics
from monitor.outage import Outage, is_connection_error
from monitor.pages.auth import _serializer
from monitor.pages.render import SESSION_COOKIE
from monitor.runtime import Runtime
from monitor.scheduler import Scheduler
from tests.conftest import ADMIN_TOKEN, START, make_settings


class Refused(Exception):
    pass


class Deadlock(Exception):
    sqlstate = "40P01"


def refused() -> OperationalError:
    return OperationalError("SELECT 1", {}, Refused("connection refused: is the server running on 127.0.0.1:5432?"))


def events(logs: list[dict], name: str) -> list[dict]:
    return [entry for entry in logs if entry["event"] == name]


def test_connection_errors_are_told_from_other_database_errors():
    assert is_connection_error(refused())
    assert is_connection_error(ConnectionRefusedError())
    assert not is_connection_error(OperationalError("SELECT 1", {}, Deadlock("deadlock detected")))
    assert not is_connection_error(ValueError("a bug"))


def test_an_outage_is_logged_once_counted_every_time_and_backs_off_to_30_seconds():
    clock = FrozenClock(START)
    metrics = Metrics(CollectorRegistry())
    outage = Outage(clock=clock, metrics=metrics)
    with capture_logs() as logs:
        for _ in range(8):
            outage.failed(refused(), "scheduler_run")
            assert not outage.may_try()
            clock.advance(seconds=outage.delays[-1])
            assert outage.may_try()
        outage.succeeded()
        outage.succeeded()  # no outage, nothing to say
    assert outage.delays == [1, 2, 4, 8, 16, 30, 30, 30]
    assert [e["where"] for e in events(logs, "database_unavailable")] == ["scheduler_run"]
    [recovered] = events(logs, "database_recovered")
    assert recovered["outage_seconds"] == sum(outage.delays) and recovered["failures"] == 8
    assert metrics.registry.get_sample_value("sunclock_database_errors_total") == 8
    # The next outage starts from one second again.
    outage.failed(refused(), "sender")
    assert outage.delays == [1]


class FlakyDispatcher:
    """The real dispatcher, but the database is away for its first ``fails`` runs."""

    def __init__(self, real, clock: FrozenClock, fails: int):
        self.real, self.clock, self.fails, self.tries = real, clock, fails, []

    def __getattr__(self, name: str):
        return getattr(self.real, name)

    async def detect_breaches(self, now, stale=False):
        if stale:
            self.tries.append(self.clock.now())
            if len(self.tries) <= self.fails:
                raise refused()
        return await self.real.detect_breaches(now, stale=stale)


async def test_the_scheduler_backs_off_during_an_outage_and_recovers_without_a_restart(runtime, clock):
    flaky = FlakyDispatcher(runtime.dispatcher, clock, fails=3)
    scheduler = Scheduler(dispatcher=flaky, deliverer=runtime.deliverer, sessions=runtime.sessions, clock=clock,
                          metrics=runtime.metrics, sweep_seconds=1)
    with capture_logs() as logs:
        for _ in range(9):  # one sweep a second
            await scheduler._wake()
            if scheduler._task is not None:
                await scheduler._task
            clock.advance(seconds=1)
    assert [(t - START).total_seconds() for t in flaky.tries] == [0, 1, 3, 7, 8]  # then every second again
    assert scheduler.outage.delays == [1, 2, 4]
    assert len(events(logs, "database_unavailable")) == 1
    assert not events(logs, "scheduler_run_failed")
    [recovered] = events(logs, "database_recovered")
    assert recovered["outage_seconds"] == 7
    assert runtime.metrics.registry.get_sample_value("sunclock_database_errors_total") == 3
    assert scheduler.last_run == START.replace(second=8)


class SessionsThatGoAway:
    """A session factory whose database is away while ``down`` is set."""

    def __init__(self, real):
        self.real, self.down = real, False

    def __call__(self):
        if self.down:
            raise refused()
        return self.real()


class OutageDuringSend:
    """A channel that accepts the message, and the database goes away just then."""

    def __init__(self, name: str, sessions: SessionsThatGoAway):
        self.name, self.sessions, self.sent = name, sessions, []

    async def send(self, message: Message) -> Receipt:
        self.sent.append(message.to)
        self.sessions.down = True
        return Receipt(provider=self.name, provider_id=f"{self.name}-{len(self.sent)}")

    async def aclose(self) -> None:
        pass


async def test_a_send_recorded_during_an_outage_is_recorded_once_the_database_is_back(client, seeded, runtime,
                                                                                      clock):
    sessions = SessionsThatGoAway(runtime.sessions)
    runtime.deliverer.sessions = sessions
    runtime.deliverer.settings = runtime.deliverer.settings.model_copy(update={"send_concurrency": 1})
    runtime.deliverer.channels = {name: OutageDuringSend(name, sessions) for name in ("sms", "email")}
    waits = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.advance(seconds=seconds)
        sessions.down = len(waits) < 3  # back after the third wait

    runtime.deliverer.sleep = sleep
    incident = await register(client, START)
    with capture_logs() as logs:
        await runtime.scheduler.run_once()
    assert waits[:3] == [1, 2, 4]
    assert len(events(logs, "database_unavailable")) == 1 and events(logs, "database_recovered")
    rows = (await client.get("/api/v1/notifications", params={"incident_id": incident["id"]})).json()
    assert rows and all(r["state"] == "sent" and r["attempts"] == 1 for r in rows)
    sent = [to for channel in runtime.deliverer.channels.values() for to in channel.sent]
    assert len(sent) == len(rows)


@pytest.fixture
async def unreachable(clock: FrozenClock) -> AsyncIterator[httpx.AsyncClient]:
    """The service with its database on a port nobody listens on."""
    settings = make_settings("postgresql+psycopg://postgres@127.0.0.1:1/sunclock")
    runtime = Runtime.build(settings, clock=clock, migrate_schema=False)
    app = create_app(runtime, run_scheduler=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sunclock.test",
                                 headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as c:
        c.runtime = runtime
        yield c
    await runtime.close()


async def test_requests_during_an_outage_are_answered_503_with_retry_after(unreachable):
    with capture_logs() as logs:
        for path in ("/api/v1/incidents", "/api/v1/departments", "/api/v1/incidents/1"):
            answer = await unreachable.get(path)
            assert answer.status_code == 503, (path, answer.text)
            assert answer.headers["Retry-After"] == "5"
            assert answer.json()["code"] == "database_unavailable" and "database" in answer.json()["detail"]
        # A page: its session is looked up in the database.
        signed = _serializer(unreachable.runtime.settings.signing_key).dumps({"s": "some-session", "c": "csrf"})
        unreachable.cookies.set(SESSION_COOKIE, signed)
        page = await unreachable.get("/cases")
        assert page.status_code == 503 and page.headers["Retry-After"] == "5"
        assert (await unreachable.get("/healthz")).status_code == 200
        ready = await unreachable.get("/readyz")
        assert ready.status_code == 503 and ready.headers["Retry-After"] == "5"
        assert ready.json()["database"].startswith("unreachable")
        scraped = await unreachable.get("/metrics")  # this process's own metrics, still
        assert scraped.status_code == 200 and "sunclock_database_errors_total 6.0" in scraped.text
    assert len(events(logs, "database_unavailable")) == 1
    assert unreachable.runtime.metrics.registry.get_sample_value("sunclock_database_errors_total") == 6
