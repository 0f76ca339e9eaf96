"""The fault panel: type a fault spec to break the world at the current point; the kinds are listed below."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Input, Static

from simulator import faults
from simulator.sim import HostStatus
from simulator.tui.widgets.text_pane import TextPane


class FaultPanel(VerticalScroll):
    """An input for a fault spec (with completion from this world's examples), the faults in effect, the kinds."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "leave", "Back to the controls")]

    DEFAULT_CSS = """
    FaultPanel > Input { margin: 0 0 1 0; }
    FaultPanel > Static { height: auto; }
    """

    class Inject(Message):
        """The learner asked for this fault spec to be injected now."""

        def __init__(self, spec: str) -> None:
            super().__init__()
            self.spec = spec

    def compose(self) -> ComposeResult:
        yield Input(placeholder="a fault spec: → completes, Enter injects, Esc leaves", id="fault-spec")
        yield TextPane(id="faults-in-effect")
        kinds = Text()
        kinds.append("Fault kinds\n", style="bold underline")
        kinds.append(f"{faults.GRAMMAR}\n", style="italic")
        for kind, models in faults.kinds().items():
            kinds.append(f"{kind}", style="bold")
            kinds.append(f"  {models}\n")
        yield Static(kinds, id="fault-kinds")

    def show(self, hosts: list[HostStatus], addresses: list[str], in_effect: list[str]) -> None:
        """Offer this world's examples and list the faults installed so far."""
        self.query_one("#fault-spec", Input).suggester = SuggestFromList(faults.examples(hosts, addresses))
        listed = Text()
        listed.append("Faults in this run\n", style="bold underline")
        listed.append("\n".join(in_effect) if in_effect else "none yet")
        self.query_one("#faults-in-effect", TextPane).show_text(listed)

    def action_leave(self) -> None:
        """Give the keys back to the screen's controls."""
        self.screen.set_focus(None)

    def focus_spec(self) -> None:
        self.query_one("#fault-spec", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        spec = event.value.strip()
        if spec:
            self.post_message(self.Inject(spec))
