"""The compare screen: POP3 and IMAP side by side, driven with Pilot."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from simulator import Simulation
from simulator.tui.screens.compare import CompareScreen


class CompareApp(App[None]):
    """The smallest app that shows a CompareScreen."""

    def __init__(self, simulation: Simulation) -> None:
        super().__init__()
        self.simulation = simulation

    def on_mount(self) -> None:
        self.push_screen(CompareScreen(self.simulation))


def compare(scenario: str, script: Callable[[Pilot[None], CompareScreen], Awaitable[None]]) -> None:
    app = CompareApp(Simulation.from_scenario(scenario))

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, CompareScreen)
            await script(pilot, screen)

    run_headless(main())


def run_headless(main: Coroutine[Any, Any, None]) -> None:
    """Run a Pilot script on an event loop of its own, in a thread of its own.

    pytest-playwright's sync API (the browser tests) keeps an event loop running in the main
    thread for the rest of the session, and asyncio.run() refuses to start there.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, main).result()


async def settle(pilot: Pilot[None]) -> None:
    """Wait for the comparison's worker, then for the screen to show what it posted back."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def text_of(screen: CompareScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


def rows(screen: CompareScreen) -> list[list[str]]:
    table: DataTable[str] = screen.query_one(DataTable)
    return [list(table.get_row_at(i)) for i in range(table.row_count)]


def test_pop3_and_imap_side_by_side_with_the_comparison_table() -> None:
    async def script(pilot: Pilot[None], screen: CompareScreen) -> None:
        pop3, imap = text_of(screen, "#compare-pop3-body"), text_of(screen, "#compare-imap-body")
        assert pop3.startswith("POP3, download and delete") and imap.startswith("IMAP")
        # Download-and-delete: the laptop takes both messages at t=30, the phone never sees them.
        assert "phone.example.org\n  shows 0, 0 unread" in pop3 and "Left on the server: 0" in pop3
        assert "phone.example.org\n  shows 2, 0 unread" in imap and "Left on the server: 2" in imap
        assert "Re: Lunch on Friday?" in imap
        table = rows(screen)
        comparison = Simulation.from_scenario("pop3-vs-imap").compare_retrieval()
        expected = [line.split() for line in comparison.table().splitlines()[2:]]
        # The same figures as `smtpsim compare` (its table writes "140 B" as two words).
        assert [" ".join(row).split() for row in table] == expected

    compare("pop3-vs-imap", script)


def test_v_compares_imap_with_pop3_leaving_mail_on_the_server() -> None:
    async def script(pilot: Pilot[None], screen: CompareScreen) -> None:
        await pilot.press("v")
        await settle(pilot)
        pop3 = text_of(screen, "#compare-pop3-body")
        assert pop3.startswith("POP3, leave on server")
        assert "phone.example.org\n  shows 2, 2 unread" in pop3  # it got copies, but POP3 keeps no \Seen
        assert {row[0] for row in rows(screen)} == {"pop3-leave-on-server", "imap"}

    compare("pop3-vs-imap", script)


def test_a_scenario_without_reading_devices_gets_a_clear_message() -> None:
    async def script(pilot: Pilot[None], screen: CompareScreen) -> None:
        assert "No device reads mail in this scenario" in text_of(screen, "#compare-intro")
        assert rows(screen) == []
        assert not screen.query_one("#compare-sides").display
        await pilot.press("v")  # nothing to switch: still no crash and no runs
        await settle(pilot)
        assert rows(screen) == []

    compare("bounce", script)


def test_escape_goes_back() -> None:
    async def script(pilot: Pilot[None], screen: CompareScreen) -> None:
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, CompareScreen)

    compare("bounce", script)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_snapshot(snap_compare: Callable[..., bool], size: tuple[int, int]) -> None:
    async def settled(pilot: Pilot[None]) -> None:
        await settle(pilot)

    app = CompareApp(Simulation.from_scenario("pop3-vs-imap"))
    with ThreadPoolExecutor(max_workers=1) as pool:  # see run_headless
        assert pool.submit(snap_compare, app, terminal_size=size, run_before=settled).result()
