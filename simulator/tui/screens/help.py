"""The help screen: what each pane shows and what each key does (read from the controls table)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Markdown

from simulator.tui.controls import APP_CONTROLS, SIMULATION_CONTROLS, Control

PANES = """\
# smtpsim: how email moves

A world of simulated mail programs, mail servers and a DNS server exchanges real SMTP,
POP3 and IMAP bytes. You move through it one **trace event** at a time: a connection
opened, one write on the wire, a DNS answer, a queue decision, a delivery, a fault firing.

## Panes

- **Sequence**: the hosts as columns and every event as an arrow between them, growing
  as you step. TLS writes are marked, faults stand out.
- **Transcript**: one row per event. Move the highlight (arrow keys, mouse) to inspect an
  older event; stepping brings it back to the newest.
- **Event** (the inspector): the highlighted event whole: the bytes as text and as hex, what they mean,
  the RFC section, each unit of a pipelined or encrypted write, the protocol engines' states
  just before and just after it, and the protocol's state diagram with the current state lit.
- **Hosts** (the topology): every host with its role, whether it is up, how it uses TLS, its queue and
  its open connections.
- **Mail**: each mailbox, each outbound queue with its next retry time, and what each
  reading device shows.
- **Faults**: type a fault spec (the right arrow takes the suggested example from this
  world) and press Enter to break the world from this point on, or Escape to leave the
  input. The kinds are listed with what real trouble each models. Stepping back past an
  injection undoes it.

The line under the panes says where you are: scenario, seed, events so far, simulated
time, and whether it is running (with a progress bar for long background runs).
"""


def _rows(controls: tuple[Control, ...]) -> str:
    lines = ["| key | what it does |", "|---|---|"]
    lines += [f"| `{c.key_display or c.key}` | {c.help} |" for c in controls]
    return "\n".join(lines)


def help_markdown() -> str:
    return (
        f"{PANES}\n## Keys on the main screen\n\n{_rows(SIMULATION_CONTROLS)}\n\n"
        f"## Everywhere\n\n{_rows(APP_CONTROLS)}\n| `ctrl+p` | The command palette: every action by name |\n\n"
        "Press Escape or ? to close this help."
    )


class HelpScreen(ModalScreen[None]):
    """The panes and keys, closed with Escape, ? or q."""

    CSS_PATH = "help.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(help_markdown())
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)
