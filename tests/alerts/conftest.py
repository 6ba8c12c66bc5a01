"""Fixtures for the delivery tests: real network peers on 127.0.0.1."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
from alerts_fake_smtp import RecordingHandler, smtp_server
from alerts_fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, FakeTwilio

from alerts.email import SmtpEmailChannel
from alerts.sms import TwilioSmsChannel
from tests.conftest import missing_tool


@pytest.fixture(scope="session")
def missing_peer() -> Callable[[str], NoReturn]:
    """Skip for a missing peer, fail in CI (one rule for the whole suite)."""
    return missing_tool


@pytest.fixture
async def fake_twilio():
    async with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as server:
        yield server


@pytest.fixture
async def sms(fake_twilio: FakeTwilio):
    channel = TwilioSmsChannel(
        ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, api_base=fake_twilio.base_url, timeout=2.0
    )
    yield channel
    await channel.aclose()


@pytest.fixture
def smtp_handler() -> RecordingHandler:
    return RecordingHandler()


@pytest.fixture
def plain_smtp(smtp_handler: RecordingHandler):
    with smtp_server(smtp_handler) as controller:
        yield controller


@pytest.fixture
def email_channel(plain_smtp) -> SmtpEmailChannel:
    return SmtpEmailChannel(
        plain_smtp.hostname, plain_smtp.port, from_addr="Sunclock <sunclock@alerts.example.org>", timeout=5.0
    )


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles | None:
    """A self-signed certificate for 127.0.0.1, made with the openssl CLI; None without it."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    folder = tmp_path_factory.mktemp("tls")
    files = TlsFiles(cert=folder / "cert.pem", key=folder / "key.pem")
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
            "-keyout", str(files.key), "-out", str(files.cert), "-days", "2",
            "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )
    return files


@pytest.fixture
def tls(tls_files: TlsFiles | None, missing_peer) -> TlsFiles:
    if tls_files is None:
        missing_peer("the openssl command is needed to make a test certificate")
    return tls_files
