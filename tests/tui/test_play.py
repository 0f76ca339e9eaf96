"""Play the client: the PlayScreen driven with Pilot, on the default world."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input, RichLog, Select, Static

from simulator import Simulation, faults
from simulator.console import CONSOLE_HOST, Service
from simulator.tui.app import SmtpsimApp
from simulator.tui.screens.play import PlayScreen

MX_SMTP = Service("mx.example.org", 25, "SMTP")


class PlayApp(App[None]):
    """The smallest app that shows a PlayScreen, with the notifications it raised kept."""

    def __init__(self, simulation: Simulation) -> None:
        super().__init__()
        self.simulation = simulation
        self.notes: list[tuple[str, str]] = []

    def on_mount(self) -> None:
        self.push_screen(PlayScreen(self.simulation))

    def notify(self, message: str, **kwargs: Any) -> None:
        self.notes.append((message, kwargs.get("severity", "information")))
        super().notify(message, **kwargs)


Script = Callable[[Pilot[None], PlayScreen], Awaitable[None]]


def play(simulation: Simulation, script: Script) -> PlayApp:
    app = PlayApp(simulation)

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, PlayScreen)
            await script(pilot, screen)

    run_headless(main())
    return app


def run_headless(main: Coroutine[Any, Any, None]) -> None:
    """Run a Pilot script on an event loop of its own, in a thread of its own.

    pytest-playwright's sync API (the browser tests) keeps an event loop running in the main
    thread for the rest of the session, and asyncio.run() refuses to start there.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, main).result()


async def connect(pilot: Pilot[None], screen: PlayScreen, service: Service = MX_SMTP) -> None:
    screen.query_one(Select).value = service
    await pilot.pause()


async def type_line(pilot: Pilot[None], text: str) -> None:
    """Type a line key by key and press Enter."""
    await pilot.press(*(("space" if c == " " else c) for c in text), "enter")


async def enter(pilot: Pilot[None], screen: PlayScreen, text: str) -> None:
    """Put a whole line in the input and press Enter (quicker than key by key, for long dialogues)."""
    screen.query_one(Input).value = text
    await pilot.press("enter")


def log_text(screen: PlayScreen) -> str:
    return "\n".join("".join(segment.text for segment in strip) for strip in screen.query_one(RichLog).lines)


def hint(screen: PlayScreen) -> str:
    return str(screen.query_one("#play-hint", Static).render())


def test_a_whole_typed_smtp_dialogue_delivers_into_bobs_mailbox() -> None:
    sim = Simulation.from_scenario("basic")
    sim.run()
    before = len(sim.mailbox("bob@example.org"))

    async def script(pilot: Pilot[None], screen: PlayScreen) -> None:
        await connect(pilot, screen)
        assert "S: 220 mx.example.org ESMTP" in log_text(screen)
        assert screen.query_one(Input).has_focus
        await type_line(pilot, "EHLO me")
        for line in (
            "MAIL FROM:<learner@console.localhost>", "RCPT TO:<bob@example.org>", "DATA",
            "From: learner@console.localhost", "To: bob@example.org", "Subject: typed in the terminal", "",
            "Hello Bob, this came in by hand.", ".", "QUIT",
        ):  # fmt: skip
            await enter(pilot, screen, line)
        await pilot.pause()
        shown = log_text(screen)
        assert "C: RCPT TO:<bob@example.org>" in shown
        assert "S: 354 End data with <CR><LF>.<CR><LF>" in shown
        assert "S: 250 2.0.0 Ok: queued as" in shown
        assert "S: 221 2.0.0 Bye" in shown

    play(sim, script)
    messages = sim.mailbox("bob@example.org")
    assert len(messages) == before + 1
    assert b"Subject: typed in the terminal" in messages[-1].content
    assert any(e.src == CONSOLE_HOST and e.data == b"QUIT\r\n" for e in sim.trace)  # in the world's own trace


def test_a_bad_command_shows_the_servers_500_with_its_explanation() -> None:
    sim = Simulation.from_scenario("basic")

    async def script(pilot: Pilot[None], screen: PlayScreen) -> None:
        await connect(pilot, screen)
        await enter(pilot, screen, "EHLO console.localhost")
        await pilot.press("enter")  # an empty command line
        await pilot.pause()
        lines = log_text(screen).splitlines()
        refusal = next(i for i, line in enumerate(lines) if line.startswith("S: 500"))
        assert lines[refusal] == "S: 500 5.5.2 Error: bad syntax"
        assert "An empty or malformed command line. [RFC 5321 §4.1.1]" in lines[refusal + 1]

    play(sim, script)


def test_completion_offers_mail_from() -> None:
    sim = Simulation.from_scenario("basic")

    async def script(pilot: Pilot[None], screen: PlayScreen) -> None:
        await connect(pilot, screen)
        line = screen.query_one(Input)
        await pilot.press("M", "A")
        await pilot.pause()
        await pilot.press("right")  # takes the suggestion shown after the cursor
        assert line.value == "MAIL FROM:"
        line.value = "rc"
        await pilot.press("tab")
        assert line.value == "RCPT TO:" and line.has_focus

    play(sim, script)


def test_the_hint_changes_after_ehlo() -> None:
    sim = Simulation.from_scenario("basic")

    async def script(pilot: Pilot[None], screen: PlayScreen) -> None:
        assert "Pick a server" in hint(screen)
        await connect(pilot, screen)
        assert hint(screen).startswith("Expects next: GREETED") and "EHLO, HELO" in hint(screen)
        await enter(pilot, screen, "EHLO console.localhost")
        await pilot.pause()
        assert hint(screen).startswith("Expects next: READY") and ": MAIL FROM;" in hint(screen)

    play(sim, script)


def test_escape_hangs_up_and_goes_back() -> None:
    sim = Simulation.from_scenario("basic")

    async def script(pilot: Pilot[None], screen: PlayScreen) -> None:
        await connect(pilot, screen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, PlayScreen)

    play(sim, script)
    console_events = [e for e in sim.trace if CONSOLE_HOST in (e.src, e.dst)]
    assert console_events[0].kind == "connect" and sim.trace[-1].kind == "close"


def test_a_refused_connection_and_a_line_without_one_are_notifications() -> None:
    sim = Simulation.from_scenario("basic")
    sim.inject(faults.NodeDown(node="mx.example.org", at=0, duration=3600))

    async def script(pilot: Pilot[None], screen: PlayScreen) -> None:
        screen.query_one(Input).focus()
        await enter(pilot, screen, "EHLO x")  # nothing picked yet
        await connect(pilot, screen)
        screen.query_one(Input).focus()
        await enter(pilot, screen, "EHLO x")  # the connection was refused
        await pilot.pause()

    app = play(sim, script)
    assert [severity for _, severity in app.notes] == ["warning", "error", "error"]
    assert "refused" in app.notes[1][0] and "closed" in app.notes[2][0]


def test_the_app_opens_play_on_p_and_a_typed_dialogue_delivers() -> None:
    # The same dialogue through the real app: p opens the play screen on the app's own world, Escape
    # goes back, and the typed connection is part of the world's trace like any other.
    sim = Simulation.from_scenario("basic")
    app = SmtpsimApp(sim)

    async def main() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("p")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, PlayScreen) and screen.simulation is sim
            await connect(pilot, screen)
            for line in (
                "EHLO me", "MAIL FROM:<learner@console.localhost>", "RCPT TO:<bob@example.org>", "DATA",
                "Subject: typed in the app", "", "Hello.", ".", "QUIT",
            ):  # fmt: skip
                await enter(pilot, screen, line)
            await pilot.pause()
            assert "S: 250 2.0.0 Ok: queued as" in log_text(screen)
            await pilot.press("escape")
            await pilot.pause()
            assert not isinstance(app.screen, PlayScreen)

    run_headless(main())
    assert [m for m in sim.mailbox("bob@example.org") if b"Subject: typed in the app" in m.content]
    assert any(e.src == CONSOLE_HOST and e.data.startswith(b"MAIL FROM:") for e in sim.trace)
