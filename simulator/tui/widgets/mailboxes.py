"""The mailboxes and queues pane: what each user's store holds, what waits in each queue and until when."""

from __future__ import annotations

from rich.text import Text

from simulator.mail.headers import header_values
from simulator.sim import Simulation
from simulator.tui.widgets.text_pane import TextPane
from simulator.views.transcript import clock

SHOWN = 12  # lines per mailbox or queue; a load test puts thousands in one


def _subject(content: bytes) -> str:
    found = header_values(content, "Subject")
    return repr(found[0]) if found else "(no subject)"


class MailboxesAndQueues(TextPane):
    """Mailboxes, outbound queues with next-retry times, and what each reading device shows."""

    DEFAULT_CSS = """
    MailboxesAndQueues { height: auto; }
    """

    def show(self, sim: Simulation) -> None:
        out = Text()
        out.append("Mailboxes\n", style="bold underline")
        for user in sim.spec.user:
            try:
                messages = sim.mailbox(user.address)
            except KeyError:
                continue  # a user whose mail is kept elsewhere (a sender only)
            out.append(f"{user.address}: {len(messages)} message{'s' if len(messages) != 1 else ''}\n")
            for stored in messages[-SHOWN:]:
                out.append(f"  UID {stored.uid} at {clock(stored.arrived)} {_subject(stored.content)}\n")
        out.append("\nQueues\n", style="bold underline")
        for host in sim.hosts():
            if host.role != "mail-server":
                continue
            entries = sim.queue(host.name)
            out.append(f"{host.name}: {len(entries)} queued\n")
            for entry in entries[:SHOWN]:
                pending = ", ".join(r.address for r in entry.pending) or "-"
                wait = max(entry.next_attempt - sim.now, 0.0)
                retry = "sending now" if entry.in_flight else f"next try {clock(entry.next_attempt)} (in {wait:.0f} s)"
                out.append(f"  {entry.queue_id} to {pending}\n")
                out.append(f"    {entry.attempts} tr{'y' if entry.attempts == 1 else 'ies'}; {retry}\n")
            if len(entries) > SHOWN:
                out.append(f"  ... and {len(entries) - SHOWN} more\n")
        if sim.devices:
            out.append("\nDevices\n", style="bold underline")
            for device in sim.devices.values():
                subjects = ", ".join(repr(m.subject) for m in list(device.messages.values())[:SHOWN])
                out.append(f"{device.name} ({device.profile}) shows {len(device.messages)}: {subjects}\n")
        self.show_text(out)
