"""The terminal app's controls, driven headless with Textual's Pilot, on the default world (seed 1)."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from rich.console import Console
from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable, Input, Markdown, OptionList, ProgressBar, Static

from simulator import Simulation
from simulator.tui.commands import ControlCommands
from simulator.tui.controls import APP_CONTROLS, SIMULATION_CONTROLS
from simulator.tui.dialogs.number import NumberDialog
from simulator.tui.screens.help import HelpScreen
from simulator.tui.screens.main import CHUNK, MainScreen
from simulator.tui.screens.picker import PickerScreen
from tests.tui.helpers import drive, make_app


def front(app: App[None]) -> Screen[object]:
    """The screen in front (typed loosely, so that it can be compared after an isinstance check)."""
    return app.screen


def rows(screen: MainScreen) -> int:
    return screen.query_one("#transcript", DataTable).row_count


def shown(screen: MainScreen, selector: str) -> str:
    """The text a Static shows, Rich tables included."""
    console = Console(width=120, no_color=True, file=io.StringIO())
    console.print(screen.query_one(selector, Static).content)
    return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]


async def wait_for_run(pilot: Pilot[None]) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_step_shows_each_event_in_the_transcript_diagram_and_inspector() -> None:
    app, _ = make_app()

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        await pilot.press("s", "s", "s")
        assert len(screen.simulation.trace) == 3
        assert rows(screen) == 3
        assert "EHLO laptop.example.com" in shown(screen, "#sequence-text")
        inspector = shown(screen, "#inspector-text")
        assert "EHLO laptop.example.com" in inspector  # the newest event, selected
        assert "RFC 5321 §4.1.1.1" in inspector
        assert "45 48 4c 4f" in inspector  # "EHLO" in hex
        assert "smtp.example.com: GREETED (smtp)" in inspector  # the server's state before EHLO...
        assert "smtp.example.com: READY (smtp)" not in inspector  # ...and still GREETED: the 250 has not gone out

    drive(app, script)


def test_inspector_shows_engine_states_before_and_after_and_lights_the_current_state() -> None:
    app, _ = make_app()

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        await pilot.press(*"ssss")  # connect, 220, EHLO, 250
        inspector = shown(screen, "#inspector-text")
        assert "250 smtp.example.com" in inspector
        assert "before: laptop.example.com: EHLO (smtp-client); smtp.example.com: GREETED (smtp)" in inspector
        assert "after:  laptop.example.com: EHLO (smtp-client); smtp.example.com: READY (smtp)" in inspector
        assert "==> EHLO" in inspector  # the state diagram of the client, which reads this reply, lit
        # Highlighting an older event shows that one, with its own states.
        screen.query_one("#transcript", DataTable).move_cursor(row=2)
        await pilot.pause()
        inspector = shown(screen, "#inspector-text")
        assert "EHLO laptop.example.com" in inspector
        assert "before: laptop.example.com: GREETING (smtp-client)" in inspector
        assert "after:  laptop.example.com: EHLO (smtp-client)" in inspector
        assert "==> GREETED" in inspector  # the server's diagram: it reads the EHLO

    drive(app, script)


def test_back_undoes_the_last_step_and_says_so_at_the_start() -> None:
    app, notes = make_app()

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        await pilot.press("s", "s", "s", "b")
        assert len(screen.simulation.trace) == 2
        assert rows(screen) == 2
        assert "EHLO" not in shown(screen, "#sequence-text")
        await pilot.press("b", "b", "b")
        assert screen.simulation.trace == []
        assert "Already at the start." in notes.messages()

    drive(app, script)


def test_run_steps_on_its_own_until_paused() -> None:
    app, _ = make_app()

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        await pilot.press("minus", "plus", "plus")  # from 5 steps a second to 2, then to 10
        assert "paused (10/s)" in shown(screen, "#status-text")
        await pilot.press("minus")
        await pilot.press("space")
        assert screen.running
        assert "running, 5 steps/s" in shown(screen, "#status-text")
        for _ in range(100):  # poll, bounded: the timer steps the world meanwhile
            if len(screen.simulation.trace) >= 2:
                break
            await pilot.pause(0.05)
        await pilot.press("space")
        assert not screen.running
        stopped = len(screen.simulation.trace)
        assert 2 <= stopped < 36  # it moved, and it stopped before the end of the run
        await pilot.pause(0.3)
        assert len(screen.simulation.trace) == stopped
        assert "paused (5/s)" in shown(screen, "#status-text")

    drive(app, script)


def test_run_to_the_next_delivery_stops_at_the_delivery() -> None:
    app, notes = make_app()

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        await pilot.press("d")
        await wait_for_run(pilot)
        sim = screen.simulation
        assert sim.trace[-1].kind == "deliver"
        assert len(sim.mailbox("bob@example.org")) == 1
        assert "bob@example.org: 1 message" in shown(screen, "#mailboxes")
        assert any("to the next delivery" in m for m in notes.messages())
        await pilot.press("s")  # the world goes on from there: the 250 for the final dot
        assert sim.trace[-1].summary.startswith("250 2.0.0 Ok: queued as")

    drive(app, script)


def test_run_to_the_next_bounce_and_fault() -> None:
    app, _ = make_app("bounce")

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        await pilot.press("x")
        await wait_for_run(pilot)
        assert screen.simulation.trace[-1].kind == "bounce"

    drive(app, script)
    app, _ = make_app("mx-down-retry")

    async def faulty(pilot: Pilot[None], screen: MainScreen) -> None:
        await pilot.press("f")
        await wait_for_run(pilot)
        assert screen.simulation.trace[-1].kind == "fault"
        assert "DOWN" in shown(screen, "#topology")  # mx.example.org, in the topology

    drive(app, faulty)


def test_reset_starts_the_scenario_again() -> None:
    app, _ = make_app(seed=3)

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        await pilot.press(*"sssss", "r")
        assert screen.simulation.trace == []
        assert screen.simulation.seed == 3
        assert rows(screen) == 0

    drive(app, script)


def test_picker_opens_another_built_in_scenario() -> None:
    app, _ = make_app()

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        await pilot.press("o")
        assert isinstance(app.screen, PickerScreen)
        options = app.screen.query_one(OptionList)
        assert options.get_option_at_index(options.highlighted or 0).id == "basic"  # the current one
        options.highlighted = options.get_option_index("bounce")
        await pilot.press("enter")
        assert front(app) is screen
        assert screen.simulation.scenario == "bounce"
        assert shown(screen, "#status-text").startswith("bounce · seed 1 · 0 events")

    drive(app, script)


def test_picker_with_a_bad_scenario_file_notifies_and_keeps_the_world(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('description = "no hosts"\nhost = []\n', encoding="utf-8")
    app, notes = make_app()

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        for target in (str(bad), str(tmp_path / "missing.toml")):
            await pilot.press("o")
            path = app.screen.query_one("#picker-path", Input)
            path.focus()
            path.value = target
            await pilot.press("enter")
            assert front(app) is screen
        assert len(notes.errors()) == 2
        assert "bad.toml" in notes.errors()[0]
        assert screen.simulation.scenario == "basic"
        await pilot.press("s")  # still alive and stepping
        assert len(screen.simulation.trace) == 1

    drive(app, script)


def test_an_injected_fault_changes_what_happens_next() -> None:
    app, notes = make_app()

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        await pilot.press(*"sss")  # before the relay connects to the MX
        await pilot.press("i")
        spec = screen.query_one("#fault-spec", Input)
        assert spec.has_focus
        await pilot.press(*"down:mx", "right")  # typed keys go to the input; the right arrow completes
        assert spec.value == "down:mx.example.org,for=3600"  # this world's example
        assert len(screen.simulation.trace) == 3  # "s" and "d" were typed, not run
        await pilot.press("enter")
        assert not notes.errors()
        # injected at the current point: its hour counts from there
        at = screen.simulation.now
        assert f"down:mx.example.org,at={at:g},for=3600 (after event 2)" in shown(screen, "#faults-in-effect")
        await pilot.press("escape")  # out of the input: keys are controls again
        await pilot.press("d")
        await wait_for_run(pilot)
        trace = screen.simulation.trace
        defer = next(e for e in trace if e.kind == "defer")
        deliver = next(e for e in trace if e.kind == "deliver")
        assert defer.seq < deliver.seq
        assert deliver.time >= at + 3600  # delivered on a retry once the MX was back

    drive(app, script)


def test_an_impossible_fault_is_an_error_notification() -> None:
    app, notes = make_app()

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        await pilot.press("i")
        spec = screen.query_one("#fault-spec", Input)
        for text in ("down:nosuchhost.example", "explode:mx.example.org"):
            spec.value = text
            await pilot.press("enter")
        assert len(notes.errors()) == 2
        assert "no host named 'nosuchhost.example'" in notes.errors()[0]
        assert "unknown kind 'explode'" in notes.errors()[1]
        assert "none yet" in shown(screen, "#faults-in-effect")

    drive(app, script)


def test_jump_goes_back_and_forward_to_an_event() -> None:
    app, _ = make_app()

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        await pilot.press(*"ssssssssss", "j")
        assert isinstance(app.screen, NumberDialog)
        app.screen.query_one(Input).value = "3"
        await pilot.press("enter")
        assert len(screen.simulation.trace) == 4  # just after event 3
        assert rows(screen) == 4
        await pilot.press("j")
        app.screen.query_one(Input).value = "20"
        await pilot.press("enter")
        await wait_for_run(pilot)
        assert len(screen.simulation.trace) == 21
        assert screen.simulation.trace[-1].seq == 20

    drive(app, script)


def test_seed_change_rebuilds_the_world_with_the_new_seed() -> None:
    app, _ = make_app()

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        await pilot.press("s", "e")
        assert isinstance(app.screen, NumberDialog)
        app.screen.query_one(Input).value = "7"
        await pilot.press("enter")
        assert screen.simulation.seed == 7
        assert screen.simulation.trace == []
        await pilot.press("e", "escape")  # backing out changes nothing
        assert screen.simulation.seed == 7

    drive(app, script)


def test_help_opens_and_closes() -> None:
    app, _ = make_app()

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        text = app.screen.query_one(Markdown).source
        for pane in ("Sequence", "Transcript", "Event", "Hosts", "Mail", "Faults"):
            assert f"**{pane}**" in text
        for control in (*SIMULATION_CONTROLS, *APP_CONTROLS):
            assert control.help in text
        await pilot.press("s")  # not a control here: the world stays put
        assert screen.simulation.trace == []
        await pilot.press("escape")
        assert front(app) is screen

    drive(app, script)


def test_command_palette_runs_an_action_by_name() -> None:
    app, _ = make_app()

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        await pilot.press("ctrl+p")
        await pilot.press(*"delivery")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await wait_for_run(pilot)
        assert screen.simulation.trace[-1].kind == "deliver"

    drive(app, script)


def test_command_palette_lists_every_action_with_its_key() -> None:
    app, _ = make_app()

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        everything = [c.title for c in (*SIMULATION_CONTROLS, *APP_CONTROLS)]
        hits = [hit async for hit in ControlCommands(screen).discover()]
        assert [hit.text for hit in hits] == everything
        assert hits[0].help == f"{SIMULATION_CONTROLS[0].help} (key: s)"
        await pilot.press("question_mark")  # elsewhere only the app's own actions make sense
        assert [hit.text async for hit in ControlCommands(app.screen).discover()] == [c.title for c in APP_CONTROLS]

    drive(app, script)


def test_theme_toggles_between_light_and_dark() -> None:
    app, _ = make_app()

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        assert app.current_theme.dark
        await pilot.press("t")
        assert not app.current_theme.dark
        await pilot.press("t")
        assert app.current_theme.dark

    drive(app, script)


def test_no_color_is_honoured_and_nothing_depends_on_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app, _ = make_app("mx-down-retry")

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        assert app.no_color
        await pilot.press("f", *"sssss")
        assert "DOWN" in shown(screen, "#topology")  # said in words
        assert "==> " in shown(screen, "#inspector-text")  # the current state is marked, not coloured

    drive(app, script)


def test_a_long_run_goes_in_a_worker_with_progress_while_keys_are_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    app, notes = make_app(load_messages=100)
    sim = app.main_screen.simulation
    # Hold the worker inside its first chunk until the UI has answered a key, so the test
    # shows the key handled while the run is going, whatever the machine's speed.
    answered = threading.Event()
    run = Simulation.run

    def held_run(self: Simulation, *args: object, **kwargs: object) -> int:
        answered.wait(timeout=10)
        return run(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sim, "run", held_run.__get__(sim))

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        await pilot.press("l")
        assert screen.running
        await pilot.press("t")  # the UI answers while the world runs
        assert not app.current_theme.dark
        await pilot.press("s", "p")  # a control that changes the world, or a screen that uses it, waits
        assert [m for m in notes.messages() if "press space to pause" in m] == [
            "A run is going on: press space to pause it first."
        ] * 2
        assert front(app) is screen
        answered.set()
        await wait_for_run(pilot)
        assert not screen.running
        outcomes = screen.simulation.outcome()
        assert len(outcomes) == 101  # the scenario's message and the load test's
        assert all(o.status == "delivered" for o in outcomes)
        bar = screen.query_one(ProgressBar)
        assert bar.total == 101
        assert bar.progress == 101
        assert "bob@example.org: 101 messages" in shown(screen, "#mailboxes")

    drive(app, script)


def test_a_long_run_pauses_on_space(monkeypatch: pytest.MonkeyPatch) -> None:
    app, notes = make_app(load_messages=400)
    sim = app.main_screen.simulation
    pressed = threading.Event()
    run = Simulation.run

    def held_run(self: Simulation, *args: object, **kwargs: object) -> int:
        pressed.wait(timeout=10)  # the first chunk waits for the key, as a slow machine would
        return run(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sim, "run", held_run.__get__(sim))

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        await pilot.press("l", "space")
        pressed.set()
        await wait_for_run(pilot)
        assert not screen.running
        # The pause is seen between chunks: one chunk ran, and the load test is not through.
        assert f"Paused after {CHUNK} steps." in notes.messages()
        assert len(screen.simulation.trace) == CHUNK
        assert any(o.status != "delivered" for o in screen.simulation.outcome())
        assert "paused" in shown(screen, "#status-text")

    drive(app, script)


def test_play_and_compare_say_when_they_are_not_available(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> object:
        raise ModuleNotFoundError(name)

    monkeypatch.setattr("simulator.tui.app.import_module", missing)
    app, notes = make_app()

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        await pilot.press("p", "c")
        assert front(app) is screen
        assert [m for m in notes.messages() if "not available" in m] == [
            "Playing the client is not available in this version.",
            "The compare screen is not available in this version.",
        ]

    drive(app, script)


@pytest.mark.parametrize(("key", "module", "name"), [("p", "play", "PlayScreen"), ("c", "compare", "CompareScreen")])
def test_play_and_compare_open_on_the_same_simulation_and_stop_the_timer(key: str, module: str, name: str) -> None:
    screen_class = getattr(pytest.importorskip(f"simulator.tui.screens.{module}"), name)
    app, _ = make_app("pop3-vs-imap")

    async def script(pilot: Pilot[None], screen: MainScreen) -> None:
        await pilot.press("space", key)
        assert isinstance(app.screen, screen_class)
        assert app.screen.simulation is screen.simulation
        assert not screen.running  # the timer must not step the world under the other screen
        await pilot.press(key)  # pressed again there: no second copy stacked
        assert len(app.screen_stack) == 3  # the default screen, the main screen, this one
        await app.pop_screen()
        await pilot.pause()
        assert front(app) is screen

    drive(app, script)
