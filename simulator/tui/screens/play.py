"""Play the client: type SMTP, POP3 or IMAP by hand to a server of the world, as with telnet.

The screen is a thin front for `simulator.console`: it picks the server, sends each
line the learner types, and shows the dialogue with every reply's explanation and RFC
under it, plus what the server expects next. The connection is part of the world: the
main screen's transcript and sequence diagram show it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.padding import Padding
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.screen import Screen
from textual.suggester import Suggester
from textual.widgets import Footer, Header, Input, Label, RichLog, Select, Static

from simulator.console import REPLY_WAIT, Console, ConsoleError, Service, describe_exchange, services
from simulator.sim import Simulation
from simulator.trace import TraceEvent

PLACEHOLDERS = {
    "SMTP": "EHLO console.localhost   (Tab or → completes a command)",
    "POP3": "USER name@domain, then PASS password   (Tab or → completes a command)",
    "IMAP": "{tag} LOGIN name@domain password   (every line starts with a tag; Tab or → completes)",
}
# How a reply that refuses looks at its start, per protocol: 4xx/5xx, -ERR, a tagged NO or BAD.


class VerbSuggester(Suggester):
    """Suggests the command the learner has started typing, from the console's protocol."""

    def __init__(self, screen: PlayScreen) -> None:
        super().__init__(use_cache=False, case_sensitive=True)  # IMAP tags change with every line
        self._screen = screen

    async def get_suggestion(self, value: str) -> str | None:
        console = self._screen.console
        return console.complete(value) if console is not None else None


class PlayScreen(Screen[None]):
    """Pick a server and port, then type lines to it; Escape hangs up and goes back."""

    CSS_PATH = "play.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", "Back"),
        Binding("ctrl+r", "reconnect", "Connect again"),
        Binding("tab", "complete", "Complete", show=False, priority=True),
    ]

    def __init__(self, simulation: Simulation, *, server: tuple[str, int] | None = None) -> None:
        """Args:
        simulation: the world whose servers to type to.
        server: (host, port) to connect to at once, as a lesson asks; the learner picks one when None.
        """
        super().__init__()
        self.simulation = simulation
        self.console: Console | None = None
        self._services = services(simulation)
        self._server = server

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="play-bar"):
            yield Label("Server:", id="play-label")
            options = [(s.label, s) for s in self._services]
            yield Select[Service](options, prompt="Pick a server and port", id="play-server", compact=True)
        yield RichLog(id="play-log", wrap=True, markup=False, auto_scroll=True, min_width=20)
        yield Static("Pick a server to connect to.", id="play-hint")
        yield Input(placeholder="Pick a server first", suggester=VerbSuggester(self), id="play-line", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Play the client"
        self.sub_title = "type commands by hand, as with telnet"
        log = self.query_one(RichLog)
        if not self._services:
            log.write(Text("This world has no mail server to type to.", style="bold"))
        else:
            log.write(
                Text(
                    "Pick a server and a port. Your connection comes from console.localhost and is part of the "
                    "world: the main screen's transcript and sequence diagram show it too.",
                    style="italic",
                )
            )
        self.query_one(Select).focus()
        chosen = [s for s in self._services if (s.host, s.port) == self._server]
        if chosen:
            self.query_one(Select).value = chosen[0]  # Select.Changed connects, as if picked by hand
        elif self._server is not None:
            host, port = self._server
            self.notify(f"{host} port {port} is not a server to type to here: pick one.", severity="warning")

    # --- connecting ---------------------------------------------------------------------------

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, Service):
            self._connect(event.value)

    def action_reconnect(self) -> None:
        value = self.query_one(Select).value
        if isinstance(value, Service):
            self._connect(value)
        else:
            self.notify("Pick a server and port first.", severity="warning")

    def _connect(self, service: Service) -> None:
        self._hang_up()
        log = self.query_one(RichLog)
        try:
            console = Console(self.simulation, service.host, service.port)
            self.console = console
            log.write(Text(f"\n--- connecting to {service.label} ---", style="bold"))
            self._show(console.connect())
        except ConsoleError as error:
            self.notify(str(error), title="Cannot connect", severity="error")
            self._update_hint()
            return
        line = self.query_one(Input)
        line.placeholder = PLACEHOLDERS[console.protocol].format(tag=console.next_tag)
        line.focus()
        self._update_hint()

    def _hang_up(self) -> None:
        if self.console is not None and self.console.is_open:
            self._show(self.console.hang_up())

    def action_leave(self) -> None:
        self._hang_up()
        self.dismiss()

    # --- typing ---------------------------------------------------------------------------------

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        console = self.console
        if console is None:
            self.notify("Pick a server and port first.", severity="warning")
            return
        try:
            events = console.send(event.value)
        except ConsoleError as error:
            self.notify(f"{error}. Ctrl+R connects again.", title="Not sent", severity="error")
            return
        event.input.value = ""
        if console.protocol == "IMAP":
            event.input.placeholder = PLACEHOLDERS["IMAP"].format(tag=console.next_tag)
        self._show(events)
        if console.unanswered:
            silence = f"(no answer in {REPLY_WAIT:g} simulated seconds: the server is not responding)"
            self.query_one(RichLog).write(Padding(Text(silence, style="bold"), (0, 0, 0, 4)))
        self._update_hint()

    def action_complete(self) -> None:
        """Tab takes the suggested completion in the line; elsewhere it moves the focus on, as usual."""
        line = self.query_one(Input)
        if line.has_focus and self.console is not None:
            completion = self.console.complete(line.value)
            if completion is not None:
                line.value = completion
                line.cursor_position = len(completion)
                return
        self.focus_next()

    # --- showing -------------------------------------------------------------------------------

    def _show(self, events: Sequence[TraceEvent]) -> None:
        log = self.query_one(RichLog)
        previous = ""
        for unit in describe_exchange(events):
            refused = unit.refused
            for text in unit.lines:
                log.write(_wire_text(unit.who, text, refused))
            note = f"{unit.explain} [{unit.rfc}]" if unit.rfc else unit.explain
            if note and note != previous:  # a message's lines all mean the same: say it once
                log.write(Padding(Text(note, style="dim italic"), (0, 0, 0, 4)))
            previous = note

    def _update_hint(self) -> None:
        hint = self.query_one("#play-hint", Static)
        if self.console is None:
            hint.update("Pick a server to connect to.")
            return
        expected = self.console.expects()
        hint.update(Text.assemble(("Expects next: ", "bold"), expected.text))


def _wire_text(who: str, text: str, refused: bool) -> Text:
    """One line of the dialogue: C: for the learner, S: for the server (red when it refuses), * for the world."""
    if who == "client":
        return Text.assemble(("C: ", "bold cyan"), (text, "cyan"))
    if who == "server":
        return Text.assemble(("S: ", "bold"), (text, "bold red" if refused else "green"))
    return Text.assemble(("*  ", "bold yellow"), (text, "yellow"))
