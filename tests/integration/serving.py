"""Run `smtpsim serve` as a child process and read what it spooled.

Shared by the integration tests through the `served` fixture in conftest.py;
the classes live here so that test modules can import them for annotations.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 10.0  # upper bound only: we return as soon as the ready line arrives
EXIT_TIMEOUT = 5.0


def read_line(stream: IO[bytes], timeout: float) -> bytes:
    """Read one line from a pipe, failing after `timeout` seconds instead of hanging."""
    fd = stream.fileno()
    buf = b""
    deadline = time.monotonic() + timeout
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError(f"no complete line within {timeout}s; got {buf!r}")
        chunk = os.read(fd, 1)  # one byte at a time: never read past the line
        if not chunk:
            raise EOFError(f"stream closed after {buf!r}")
        buf += chunk
    return buf


def start_smtpsim(
    args: list[str], stderr_path: Path, timeout: float
) -> tuple[subprocess.Popen[bytes], dict[str, object]]:
    """Start `smtpsim ARGS` from the checkout and block until it prints its one JSON line (ports or a URL);
    fail the test, with its stderr, if it does not within `timeout` seconds."""
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", *args],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
    assert process.stdout is not None
    try:
        line = read_line(process.stdout, timeout)
    except (TimeoutError, EOFError) as exc:
        process.kill()
        process.wait()
        pytest.fail(f"smtpsim {' '.join(args)} never said it was ready: {exc}; stderr:\n{stderr_path.read_text()}")
    printed: dict[str, object] = json.loads(line)
    return process, printed


@dataclass(frozen=True)
class SpooledMessage:
    """One message `serve --spool` wrote: QUEUEID.eml and its QUEUEID.json envelope."""

    queue_id: str
    content: bytes = field(repr=False)
    envelope: dict[str, object]


@dataclass
class Served:
    """A running `smtpsim serve --spool DIR --ca-cert FILE` with the ports it printed."""

    process: subprocess.Popen[bytes]
    smtp: int
    submission: int
    pop3: int
    imap: int
    submissions: int  # implicit TLS (465 in the world)
    pop3s: int  # implicit TLS (995)
    imaps: int  # implicit TLS (993)
    spool: Path
    stderr_path: Path
    ca_cert: Path  # the world CA that serve wrote: what a verifying client trusts

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def messages(self) -> list[SpooledMessage]:
        """Every message in the spool, oldest queue file first; temporary files are not messages."""
        found = []
        for meta in sorted(self.spool.glob("*.json"), key=lambda p: p.stat().st_mtime_ns):
            envelope = json.loads(meta.read_text(encoding="utf-8"))
            found.append(SpooledMessage(meta.stem, meta.with_suffix(".eml").read_bytes(), envelope))
        return found

    def submitted(self) -> SpooledMessage:
        """What the submission port accepted: the first message spooled. The relay's copy for the MX
        may be spooled a few milliseconds later, or not yet: the world runs in real time."""
        messages = self.messages()
        assert messages, "expected a spooled message, found none"
        return messages[0]

    def only_message(self) -> SpooledMessage:
        messages = self.messages()
        assert len(messages) == 1, f"expected one spooled message, found {[m.queue_id for m in messages]}"
        return messages[0]

    def terminate(self) -> None:
        """Send SIGTERM (once); `wait()` collects the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self) -> int:
        try:
            return self.process.wait(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"smtpsim serve did not exit within {EXIT_TIMEOUT}s of SIGTERM; stderr:\n{self.stderr}")


def start_serve(tmp_path: Path) -> Served:
    """Start `smtpsim serve --spool --ca-cert` and block until it prints its ports."""
    spool = tmp_path / "spool"
    stderr_path = tmp_path / "serve.stderr"
    ca_cert = tmp_path / "world-ca.pem"
    args = ["serve", "--spool", str(spool), "--ca-cert", str(ca_cert)]
    process, ports = start_smtpsim(args, stderr_path, READY_TIMEOUT)
    assert set(ports) == {"smtp", "submission", "pop3", "imap", "submissions", "pop3s", "imaps"}, ports
    return Served(
        process, ports["smtp"], ports["submission"], ports["pop3"], ports["imap"],
        ports["submissions"], ports["pop3s"], ports["imaps"], spool, stderr_path, ca_cert,
    )  # fmt: skip


def require_tool(name: str) -> str:
    """The path of a command-line tool; skip without it, except in CI where a missing tool fails."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{name} is not installed, and CI=true: install it (see .ci/run)")
        pytest.skip(f"{name} is not installed")
    return path
