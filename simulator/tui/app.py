"""The Textual app behind `smtpsim tui`: the main screen, its helpers, themes and the other screens."""

from __future__ import annotations

from importlib import import_module
from typing import ClassVar

from textual.app import App
from textual.binding import BindingType

from simulator.sim import Simulation
from simulator.tui.commands import ControlCommands
from simulator.tui.controls import APP_CONTROLS
from simulator.tui.screens.help import HelpScreen
from simulator.tui.screens.main import LOAD_MESSAGES, MainScreen

DARK, LIGHT = "textual-dark", "textual-light"


class SmtpsimApp(App[None]):
    """Step through a scenario, break it, and look at every byte; `?` explains the panes and keys."""

    TITLE = "smtpsim"
    BINDINGS: ClassVar[list[BindingType]] = [c.binding() for c in APP_CONTROLS]
    COMMANDS = App.COMMANDS | {ControlCommands}

    def __init__(self, simulation: Simulation, *, load_messages: int = LOAD_MESSAGES) -> None:
        """Args:
        simulation: the world to show, as built by `Simulation.from_scenario`.
        load_messages: how many messages the load test (key l) submits.
        """
        super().__init__()
        self.main_screen = MainScreen(simulation, load_messages=load_messages)
        self.theme = DARK

    def on_mount(self) -> None:
        self.push_screen(self.main_screen)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    def action_play(self) -> None:
        """Type SMTP, POP3 or IMAP by hand to a server of this world."""
        self._open("simulator.tui.screens.play", "PlayScreen", "Playing the client")

    def action_compare(self) -> None:
        """POP3 and IMAP side by side for one mailbox."""
        self._open("simulator.tui.screens.compare", "CompareScreen", "The compare screen")

    def _open(self, module: str, name: str, what: str) -> None:
        if not self.main_screen.hold():  # the other screen works on the same simulation
            return
        try:
            screen_class = getattr(import_module(module), name)
        except (ImportError, AttributeError):
            self.notify(f"{what} is not available in this version.", severity="warning")
            return
        if type(self.screen) is not screen_class:  # already in front: a second copy would only stack
            self.push_screen(screen_class(self.main_screen.simulation))
