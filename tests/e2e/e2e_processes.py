"""Real processes for end-to-end tests: a `sunclock serve` and readiness polling."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(ready: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll a real process until it is ready (this waits for a server, not for time to pass)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what} was not ready within {timeout:.0f} s")


def start_sunclock(workdir: Path, *extra: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    environment = os.environ | {"SUNCLOCK_DATABASE_URL": f"sqlite:///{workdir / 'sunclock.db'}",
                                "SUNCLOCK_PORT": str(port), "SUNCLOCK_LOG_FORMAT": "json"} | (env or {})
    # Appended: a process started again in place (after a kill) keeps the log of the one before.
    log = open(workdir / "sunclock.log", "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, "-m", "monitor", "serve", *extra], cwd=workdir, env=environment,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError((workdir / "sunclock.log").read_text(errors="replace"))
        return httpx.get(base + "/readyz", timeout=1).status_code == 200

    wait_until(ready, 60, "sunclock serve")
    return proc, base


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
