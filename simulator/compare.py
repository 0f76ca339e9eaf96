"""POP3 against IMAP on the same mailbox history: what each device ends up with, and what it cost.

`compare_retrieval` runs one scenario once per retrieval profile, with every
reading device switched to that profile and everything else the same (the same
messages at the same times, the same checks, the same seed), and reads the
outcome off each run: what every device shows, what is left on the server, and,
from the trace alone, the bytes each device sent and received, its round trips
and the commands it sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from simulator.scenarios.schema import RETRIEVAL_PROFILES, ClientHost, ScenarioSpec
from simulator.trace import TraceEvent

RETRIEVAL_PROTOCOLS = ("POP3", "IMAP")
COMPARED = ("pop3-download-delete", "imap")  # what compare_retrieval() runs unless told
COLUMNS = ("profile", "device", "shows", "unread", "on server", "sent", "received", "round trips", "commands")
PROFILE_TITLES = {
    "pop3-download-delete": "POP3, download and delete",
    "pop3-leave-on-server": "POP3, leave on server",
    "imap": "IMAP",
    "imap-idle": "IMAP with IDLE",
}


@dataclass(frozen=True)
class DeviceResult:
    """One device after a run with one profile."""

    device: str
    shows: tuple[str, ...]  # the subjects of the messages it shows, in order
    unread: int  # how many of those it shows without \\Seen
    bytes_sent: int
    bytes_received: int
    round_trips: int  # times it waited on the server: each connection's handshake, and each write
    commands: int  # protocol commands in those writes


@dataclass(frozen=True)
class ProfileResult:
    """One run of the scenario with every reading device on `profile`."""

    profile: str
    devices: tuple[DeviceResult, ...]
    left_on_server: int  # messages still in the users' INBOXes


@dataclass(frozen=True)
class Comparison:
    """The runs side by side; `table()` renders them for a terminal or a notebook."""

    scenario: str
    results: tuple[ProfileResult, ...]

    def rows(self) -> list[tuple[str, ...]]:
        """One row per profile and device, under COLUMNS, as text."""
        return [
            (
                result.profile, d.device, str(len(d.shows)), str(d.unread), str(result.left_on_server),
                f"{d.bytes_sent} B", f"{d.bytes_received} B", str(d.round_trips), str(d.commands),
            )
            for result in self.results
            for d in result.devices
        ]  # fmt: skip

    def table(self) -> str:
        rows = [COLUMNS, *self.rows()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def with_profile(spec: ScenarioSpec, profile: str) -> ScenarioSpec:
    """The scenario with every device that reads mail switched to `profile`, checked again.

    Raises:
        ValueError: the profile is unknown, or the scenario's servers do not offer its protocol.
    """
    if profile not in RETRIEVAL_PROFILES:
        raise ValueError(f"unknown retrieval profile {profile!r}; expected one of {', '.join(RETRIEVAL_PROFILES)}")
    hosts = [
        h.model_copy(update={"retrieval": profile}) if isinstance(h, ClientHost) and h.retrieval is not None else h
        for h in spec.host
    ]
    # Expectations describe the scenario's own profile; a comparison is its own lesson.
    changed = spec.model_copy(update={"host": hosts, "expect_device": [], "expect_mailbox": []})
    try:
        return ScenarioSpec.model_validate(changed.model_dump(by_alias=True))
    except ValidationError as exc:
        problem = str(exc.errors(include_url=False)[0]["msg"]).removeprefix("Value error, ")
        raise ValueError(f"{profile} does not fit this scenario: {problem}") from None


def device_traffic(trace: Sequence[TraceEvent], device: str) -> tuple[int, int, int, int]:
    """(bytes sent, bytes received, round trips, commands) of a device's retrieval sessions, from the trace.

    A round trip is a wait for the server: opening a connection (SYN, then the greeting) and each
    write of commands, however many it holds; a client that pipelines makes fewer round trips than
    it sends commands.
    """
    sent = received = trips = commands = 0
    for event in trace:
        if event.protocol not in RETRIEVAL_PROTOCOLS:
            continue
        if event.kind == "connect" and event.src == device:
            trips += 1
            continue
        if event.kind != "send":
            continue
        if event.src == device:
            sent += len(event.data)
            trips += 1
            commands += len(event.units)
        elif event.dst == device:
            received += len(event.data)
    return sent, received, trips, commands
