"""TwilioSmsChannel and TwilioVoiceChannel against Twilio's published OpenAPI contract, served by Prism.

Prism (``@stoplight/prism-cli``) mocks the API from the contract and validates
every request against it: a request that breaks the contract gets a 422
problem document instead of the 201 Message. So a SID in the receipt means
the real twilio client, as the channel drives it, sends what Twilio accepts.

Needs node and Prism: ``npm install --prefix .cache/prism @stoplight/prism-cli@5.14.2``
(or SUNCLOCK_PRISM=/path/to/prism), and the contract in ``../shared/contracts``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from alerts_fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER

from alerts.base import DeliveryError, Message
from alerts.sms import TwilioSmsChannel
from alerts.voice import TwilioVoiceChannel
from tests.e2e.e2e_processes import free_port, stop

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
CONTRACT = REPO_ROOT.parent / "shared" / "contracts" / "twilio_api_v2010.json"
STARTUP_DEADLINE = 60.0  # seconds; parsing the 1.8 MB contract takes a few


def _prism_path() -> Path:
    configured = os.environ.get("SUNCLOCK_PRISM")
    return Path(configured) if configured else REPO_ROOT / ".cache" / "prism" / "node_modules" / ".bin" / "prism"


def _wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    """Poll until Prism accepts connections (readiness, not a sleep for time to pass)."""
    deadline = time.monotonic() + STARTUP_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Prism exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            try:
                # Pause between polls, but wake at once if Prism dies.
                process.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                pass
    pytest.fail(f"Prism did not listen on port {port} within {STARTUP_DEADLINE:g} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def prism_url(tmp_path_factory: pytest.TempPathFactory, missing_peer):
    if not CONTRACT.is_file():
        missing_peer(f"Twilio contract not found at {CONTRACT}")
    if shutil.which("node") is None:
        missing_peer("node is not installed (Prism runs on node)")
    prism = _prism_path()
    if not prism.exists():
        missing_peer(
            f"Prism not found at {prism}; install it with "
            "`npm install --prefix .cache/prism @stoplight/prism-cli@5.14.2` or set SUNCLOCK_PRISM"
        )

    port = free_port()
    log = tmp_path_factory.mktemp("prism") / "prism.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(prism), "mock", "-h", "127.0.0.1", "-p", str(port), str(CONTRACT)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        _wait_for_port(port, process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(process)


def _message(**changes) -> Message:
    fields = dict(
        channel="sms",
        to="+8613800000001",
        subject="",
        body="【Sunclock】提醒：XX化工厂爆炸（Ⅰ级）「发布权威信息」截止11月28日 19:30，剩余2小时。回复1确认收到\nhttps://sunclock.example.org/ack/t",
        status_callback="https://sunclock.example.org/webhooks/twilio/status",
    )
    fields.update(changes)
    return Message(**fields)


async def test_sms_request_satisfies_the_twilio_contract(prism_url: str):
    channel = TwilioSmsChannel(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, api_base=prism_url, timeout=10.0)
    try:
        receipt = await channel.send(_message())
    finally:
        await channel.aclose()

    # Any non-2xx answer would have raised; Prism answers 201 with the
    # contract's example Message only for a valid request.
    assert receipt.provider == "twilio"
    assert receipt.provider_id is not None and receipt.provider_id.startswith("SM")


async def test_sms_without_status_callback_satisfies_the_contract(prism_url: str):
    channel = TwilioSmsChannel(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, api_base=prism_url, timeout=10.0)
    try:
        receipt = await channel.send(_message(status_callback=None))
    finally:
        await channel.aclose()

    assert receipt.provider_id.startswith("SM")


@pytest.mark.parametrize(
    ("account_sid", "changes"),
    [
        ("ACnot-a-valid-sid", {}),  # path parameter breaks ^AC[0-9a-fA-F]{32}$
        (ACCOUNT_SID, {"status_callback": "not a url"}),  # StatusCallback must be a URI
    ],
    ids=["bad-account-sid", "bad-status-callback"],
)
async def test_prism_rejects_requests_that_break_the_contract(prism_url: str, account_sid, changes):
    # Proves the positive tests above mean something: Prism does validate.
    channel = TwilioSmsChannel(account_sid, AUTH_TOKEN, FROM_NUMBER, api_base=prism_url, timeout=10.0)
    try:
        with pytest.raises(DeliveryError) as caught:
            await channel.send(_message(**changes))
    finally:
        await channel.aclose()

    assert caught.value.code == "422"
    assert caught.value.permanent


def _call(**changes) -> Message:
    fields = dict(
        channel="voice",
        to="+8613800000001",
        subject="",
        body="这里是Sunclock最后预警。区应急管理局，XX化工厂爆炸，一级突发事件，“发布权威信息”于11月28日 19:30截止，"
             "剩余30分钟，请立即落实。确认收到请按1。\nhttps://sunclock.example.org/ack/WzEsMl0.aXsZ.sig",
        status_callback="https://sunclock.example.org/webhooks/twilio/status",
    )
    fields.update(changes)
    return Message(**fields)


async def _place(prism_url: str, message: Message, account_sid: str = ACCOUNT_SID):
    channel = TwilioVoiceChannel(account_sid, AUTH_TOKEN, FROM_NUMBER, public_url="https://sunclock.example.org",
                                 api_base=prism_url, timeout=10.0)
    try:
        return await channel.send(message)
    finally:
        await channel.aclose()


async def test_call_request_satisfies_the_twilio_contract(prism_url: str):
    receipt = await _place(prism_url, _call())

    # Prism answers 201 with the contract's example Call only for a valid request.
    assert receipt.provider == "twilio"
    assert receipt.provider_id is not None and receipt.provider_id.startswith("CA")


async def test_call_without_status_callback_satisfies_the_contract(prism_url: str):
    assert (await _place(prism_url, _call(status_callback=None))).provider_id.startswith("CA")


@pytest.mark.parametrize(
    ("account_sid", "changes"),
    [("ACnot-a-valid-sid", {}), (ACCOUNT_SID, {"status_callback": "not a url"})],
    ids=["bad-account-sid", "bad-status-callback"],
)
async def test_prism_rejects_calls_that_break_the_contract(prism_url: str, account_sid, changes):
    with pytest.raises(DeliveryError) as caught:
        await _place(prism_url, _call(**changes), account_sid)

    assert caught.value.code == "422"
    assert caught.value.permanent


async def test_reading_the_message_log_satisfies_the_twilio_contract(prism_url: str):
    # The log read before a reclaimed SMS is sent again (monitor/reconcile.py):
    # GET …/Messages.json with To and DateSent>, as the contract describes it.
    from datetime import UTC, datetime

    channel = TwilioSmsChannel(ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, api_base=prism_url, timeout=10.0)
    try:
        found = await channel.sent_since("+8613800000001", datetime(2026, 11, 28, 2, 0, tzinfo=UTC))
    finally:
        await channel.aclose()

    # Prism answers a valid request with the contract's example page of messages.
    assert found and all(m.provider_id[:2] in ("SM", "MM") for m in found)
