"""The command palette's entries: one per control, found by name (ctrl+p)."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from simulator.tui.controls import APP_CONTROLS, SIMULATION_CONTROLS, Control
from simulator.tui.screens.main import MainScreen


class ControlCommands(Provider):
    """Every action of the app; the simulation's own only when the main screen is the one in front."""

    def _controls(self) -> list[Control]:
        simulation = list(SIMULATION_CONTROLS) if isinstance(self.screen, MainScreen) else []
        return [*simulation, *APP_CONTROLS]

    def _run(self, control: Control) -> None:
        # The simulation's actions belong to the main screen; "app." ones name their own namespace.
        self.app.call_later(self.app.run_action, control.action, self.screen)

    async def discover(self) -> Hits:
        for control in self._controls():
            yield DiscoveryHit(control.title, partial(self._run, control), help=self._help(control))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for control in self._controls():
            score = matcher.match(control.title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(control.title), partial(self._run, control), help=self._help(control)
                )

    @staticmethod
    def _help(control: Control) -> str:
        return f"{control.help} (key: {control.key_display or control.key})"
