"""The mail panel: what each user's mailbox holds, what waits in each queue and until when, what each device shows.

One text for every front end (the terminal app's Mail pane and the notebook Stepper's), built
from the facade's public tables, so that both say the same thing in the same words. A line is
a heading or an item at a depth of indentation; each front end only styles them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from simulator.mail.headers import header_values
from simulator.mail.queue import QueueEntry
from simulator.mail.store import StoredMessage
from simulator.views.transcript import clock

SHOWN = 12  # lines per mailbox or queue: a load test puts thousands in one


@dataclass(frozen=True)
class PanelLine:
    """One line of the panel: a heading, or an item at a depth of indentation (0, 1 or 2)."""

    text: str
    heading: bool = False
    depth: int = 0


class _Shown(Protocol):
    @property
    def subject(self) -> str: ...


class Device(Protocol):
    """A reading device as the panel reads it (the facade's `devices`)."""

    @property
    def name(self) -> str: ...

    @property
    def profile(self) -> str: ...

    @property
    def messages(self) -> Mapping[str, _Shown]: ...


def subject(content: bytes) -> str:
    """The Subject of a stored message, or a placeholder."""
    found = header_values(content, "Subject")
    return found[0] if found else "(no subject)"


def mailbox_lines(mailboxes: Mapping[str, Mapping[str, Sequence[StoredMessage]]]) -> list[PanelLine]:
    """Each user's INBOX, then their other folders that hold mail (Junk), newest messages last.

    Args:
        mailboxes: as `Simulation.mailboxes()` gives them: {"bob@example.org": {"INBOX": [...], "Junk": [...]}}.
    """
    out = [PanelLine("Mailboxes", heading=True)]
    for address, folders in mailboxes.items():
        inbox = folders.get("INBOX", ())
        out.append(PanelLine(f"{address}: {_count(len(inbox), 'message')}"))
        out.extend(PanelLine(_stored(m), depth=1) for m in inbox[-SHOWN:])
        for name, messages in folders.items():
            if name != "INBOX" and messages:
                out.append(PanelLine(f"{name}: {_count(len(messages), 'message')}", depth=1))
                out.extend(PanelLine(_stored(m), depth=2) for m in messages[-SHOWN:])
    return out


def queue_lines(queues: Mapping[str, Sequence[QueueEntry]], now: float) -> list[PanelLine]:
    """Each mail server's queue: every entry, whom it still waits to reach, its tries and its next one.

    Args:
        queues: as `Simulation.queues()` gives them.
        now: the simulated time, for "next try in N s".
    """
    out = [PanelLine("Queues", heading=True)]
    for host, entries in queues.items():
        out.append(PanelLine(f"{host}: {len(entries)} queued"))
        for entry in entries[:SHOWN]:
            pending = ", ".join(r.address for r in entry.pending) or "-"
            wait = max(entry.next_attempt - now, 0.0)
            retry = "sending now" if entry.in_flight else f"next try at {clock(entry.next_attempt)} (in {wait:.0f} s)"
            tries = f"{entry.attempts} tr{'y' if entry.attempts == 1 else 'ies'}"
            out += [PanelLine(f"{entry.queue_id} to {pending}", depth=1), PanelLine(f"{tries}; {retry}", depth=2)]
        if len(entries) > SHOWN:
            out.append(PanelLine(f"... and {len(entries) - SHOWN} more", depth=1))
    return out


def device_lines(devices: Iterable[Device]) -> list[PanelLine]:
    """What each reading device shows (nothing at all when the world has no device)."""
    out = []
    for device in devices:
        subjects = [m.subject for m in device.messages.values()]
        shown = ", ".join(repr(s) for s in subjects[:SHOWN]) or "nothing"
        out.append(PanelLine(f"{device.name} ({device.profile}) shows {len(subjects)}: {shown}"))
    return [PanelLine("Devices", heading=True), *out] if out else []


def _stored(message: StoredMessage) -> str:
    return f"UID {message.uid} at {clock(message.arrived)} {subject(message.content)!r}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
