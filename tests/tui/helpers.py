"""Shared helpers for the terminal app's Pilot tests: an app on a built-in world, and what it notified."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from textual.pilot import Pilot

from simulator import Simulation
from simulator.tui.app import SmtpsimApp
from simulator.tui.screens.main import MainScreen

SIZE = (120, 40)


@dataclass
class Notes:
    """The notifications an app showed, as (message, severity)."""

    seen: list[tuple[str, str]] = field(default_factory=list)

    def errors(self) -> list[str]:
        return [m for m, severity in self.seen if severity == "error"]

    def messages(self) -> list[str]:
        return [m for m, _ in self.seen]


def make_app(scenario: str = "basic", seed: int = 1, **options: Any) -> tuple[SmtpsimApp, Notes]:
    """An app on a built-in scenario, with its notifications recorded (and still shown)."""
    app = SmtpsimApp(Simulation.from_scenario(scenario, seed=seed), **options)
    notes = Notes()
    shown = app.notify

    def notify(message: str, **kwargs: Any) -> None:
        notes.seen.append((str(message), kwargs.get("severity", "information")))
        shown(message, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    return app, notes


def drive(app: SmtpsimApp, script: Callable[[Pilot[None], MainScreen], Awaitable[None]]) -> None:
    """Run the app headless at SIZE and play the script against it."""

    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await script(pilot, app.main_screen)

    asyncio.run(main())
