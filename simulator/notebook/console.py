"""Console: play the client in a notebook, typing SMTP, POP3 or IMAP lines to a server of the world.

A thin front over `simulator.console.Console` (the same facade as the terminal app's play
screen): each line typed is sent, and the dialogue shows it with every reply and what it
means. The connection is part of the world, so `sim.trace` and `sim.mailbox()` show it too.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import ipywidgets as widgets
from traitlets import Unicode

from simulator import console as play
from simulator.notebook._markup import esc, following, notice_box
from simulator.sim import Simulation
from simulator.trace import TraceEvent

PLACEHOLDERS = {
    "SMTP": "EHLO console.localhost",
    "POP3": "USER name@domain, then PASS password",
    "IMAP": "{tag} LOGIN name@domain password",
}
WHO = {"client": ("C:", "#006064"), "server": ("S:", "#1b5e20"), "world": ("*", "#8d6e00")}
REFUSED_COLOR = "#b71c1c"


class Console(widgets.VBox):
    """A telnet-like line to one server port: type a line, read the server's answer and what it means.

    It connects when built; a server or port that cannot be reached is said in the output.

    Raises:
        ScenarioError: the scenario cannot be loaded.
    """

    notice = Unicode("", help="the last thing that could not be done")

    def __init__(self, scenario: str = "basic", host: str = "mx.example.org", port: int = 25, seed: int = 1) -> None:
        self.scenario = scenario
        self.sim = Simulation.from_scenario(scenario, seed=seed)
        self.console: play.Console | None = None
        self._lines: list[str] = []  # the dialogue so far, as HTML fragments
        self.line = widgets.Text(placeholder="connecting...", layout=widgets.Layout(width="40em"))
        self.send_button = widgets.Button(description="Send")
        self.hang_up_button = widgets.Button(description="Hang up")
        self.reconnect_button = widgets.Button(description="Connect again", tooltip="a new connection, same world")
        self.output = widgets.HTML()
        self.hint = widgets.HTML()
        self.send_button.on_click(lambda _: self._send_typed())
        self.hang_up_button.on_click(lambda _: self.hang_up())
        self.reconnect_button.on_click(lambda _: self.reconnect())
        with warnings.catch_warnings():
            # Deprecated in ipywidgets 8 for observing `value`, which also fires on leaving the box;
            # the front end still sends this on Enter, which is what a line to send wants.
            warnings.simplefilter("ignore", DeprecationWarning)
            self.line.on_submit(lambda _: self._send_typed())
        super().__init__(
            children=[
                self.output,
                self.hint,
                widgets.HBox([self.line, self.send_button, self.hang_up_button, self.reconnect_button]),
            ]
        )
        self.host, self.port = host, port
        self._connect(host, port)

    def send(self, line: str, buffers: list[bytes] | None = None) -> None:
        """Type one line (CRLF is added) and show what the server answers.

        This overrides ipywidgets' Widget.send (a message to the front end), which focus() and
        blur() call with a dict: such a message is passed on as before.
        """
        if not isinstance(line, str):
            super().send(line, buffers)
            return
        console = self.console
        if console is None:
            self._fail("Not connected: there is no connection to send on.")
            return
        try:
            events = console.send(line)
        except play.ConsoleError as exc:
            self._fail(f"Not sent: {exc}.")
            self._update()  # the world may have closed it meanwhile (the server's idle timeout)
            return
        self.notice = ""
        self._show(events)
        if console.unanswered:
            self._say(f"(no answer in {play.REPLY_WAIT:g} simulated seconds: the server is not responding)")
        self._update()

    def hang_up(self) -> None:
        """Close the connection without a goodbye, as closing telnet does."""
        if self.console is not None and self.console.is_open:
            self._show(self.console.hang_up())
        self._update()

    def reconnect(self) -> None:
        """Hang up if still connected, then open a new connection to the same server in the same world:
        what the last session changed (a message deleted at QUIT, a flag set) is still there."""
        self.hang_up()
        self.console = None
        self._connect(self.host, self.port)

    # --- internals -------------------------------------------------------------------------

    def _connect(self, host: str, port: int) -> None:
        try:
            console = play.Console(self.sim, host, port)
            self._say(f"--- connecting to {console.service.label} from {play.CONSOLE_HOST} ---")
            events = console.connect()
        except play.ConsoleError as exc:
            self._fail(f"Cannot connect: {exc}.")
            self._update()
            return
        self.console = console
        self._show(events)
        self._update()

    def _send_typed(self) -> None:
        typed = self.line.value
        self.send(typed)
        if not self.notice:
            self.line.value = ""

    def _show(self, events: Sequence[TraceEvent]) -> None:
        previous = ""
        for unit in play.describe_exchange(events):
            mark, color = WHO[unit.who]
            if unit.refused:
                color = REFUSED_COLOR
            for text in unit.lines:
                self._lines.append(f'<div style="color:{color}"><b>{esc(mark)}</b> {esc(text)}</div>')
            note = f"{unit.explain} [{unit.rfc}]" if unit.rfc else unit.explain
            if note and note != previous:  # a message's lines all mean the same: say it once
                self._lines.append(f'<div style="margin-left:2.5em;color:#616161"><i>{esc(note)}</i></div>')
            previous = note
        self._render()

    def _say(self, text: str) -> None:
        self._lines.append(f"<div><b>{esc(text)}</b></div>")
        self._render()

    def _fail(self, text: str) -> None:
        self.notice = text
        self._lines.append(notice_box(text, "bad"))
        self._render()

    def _render(self) -> None:
        # The newest reply stays in view as the dialogue grows, as in a terminal.
        self.output.value = following("".join(self._lines), style="font-family:monospace")

    def _update(self) -> None:
        """The hint and the input follow the connection: what comes next, or that it is closed."""
        console = self.console
        is_open = console is not None and console.is_open
        self.line.disabled = not is_open
        self.send_button.disabled = not is_open
        self.hang_up_button.disabled = not is_open
        if console is None:
            self.hint.value = "<i>Not connected.</i>"
            self.line.placeholder = ""
            return
        self.hint.value = f"<b>Expects next:</b> {esc(console.expects().text)}"
        self.line.placeholder = PLACEHOLDERS[console.protocol].format(tag=console.next_tag) if is_open else "closed"
