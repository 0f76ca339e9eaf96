"""The mailboxes and queues pane: what each user's store holds, what waits in each queue and until when."""

from __future__ import annotations

from rich.text import Text

from simulator.sim import Simulation
from simulator.tui.widgets.text_pane import TextPane
from simulator.views.mailboxes import device_lines, mailbox_lines, queue_lines


class MailboxesAndQueues(TextPane):
    """Mailboxes (INBOX and Junk), outbound queues with next-retry times, and what each reading device shows."""

    DEFAULT_CSS = """
    MailboxesAndQueues { height: auto; }
    """

    def show(self, sim: Simulation) -> None:
        lines = mailbox_lines(sim.mailboxes()) + queue_lines(sim.queues(), sim.now) + device_lines(sim.devices.values())
        out = Text()
        for number, line in enumerate(lines):
            if line.heading:
                out.append(("\n" if number else "") + line.text + "\n", style="bold underline")
            else:
                out.append("  " * line.depth + line.text + "\n")
        self.show_text(out)
