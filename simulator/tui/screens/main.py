"""The main screen: the world's panes and every control that moves, breaks or rebuilds the simulation.

The screen owns the `Simulation` and is the only thing that changes it. Stepping by
hand runs here; anything that may take long (running to the next delivery, a load
test of thousands of messages) runs in a thread worker that posts its progress back,
while the panes keep the last picture and the keys keep answering.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, TabbedContent, TabPane
from textual.worker import Worker, WorkerState, get_current_worker

from simulator import faults
from simulator.scenarios import ScenarioError
from simulator.scenarios.schema import ClientHost
from simulator.sim import EngineState, Simulation
from simulator.trace import TraceEvent
from simulator.tui.controls import SIMULATION_CONTROLS
from simulator.tui.dialogs.number import NumberDialog
from simulator.tui.messages import RunProgress
from simulator.tui.screens.picker import PickerScreen
from simulator.tui.widgets.faults import FaultPanel
from simulator.tui.widgets.inspector import Inspector
from simulator.tui.widgets.mailboxes import MailboxesAndQueues
from simulator.tui.widgets.sequence import SequenceDiagram
from simulator.tui.widgets.status import StatusLine
from simulator.tui.widgets.topology import Topology
from simulator.tui.widgets.transcript import Transcript

SPEEDS = (1, 2, 5, 10, 20, 50)  # steps per second while running
DEFAULT_SPEED = 2  # an index into SPEEDS: 5 steps a second, slow enough to read the arrows
CHUNK = 2000  # steps a background run takes between two looks at whether to pause
LOAD_MESSAGES = 10_000
LOAD_RATE = 20.0  # load-test messages submitted per simulated second, a busy office's outbound mail
SETTLED = ("delivered", "bounced", "rejected")
STOPS = {"deliver": "delivery", "bounce": "bounce", "fault": "fault"}  # run-to targets: event kind -> word


@dataclass(frozen=True)
class _Injected:
    step: int  # how many events had happened when it was injected
    spec: str


class MainScreen(Screen[None]):
    """Sequence diagram and transcript on the left; inspector, topology, mail and faults on the right."""

    CSS_PATH = "main.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [c.binding() for c in SIMULATION_CONTROLS]

    def __init__(self, simulation: Simulation, *, load_messages: int = LOAD_MESSAGES) -> None:
        super().__init__()
        self.simulation = simulation
        self.load_messages = load_messages
        self._states: dict[int, list[EngineState]] = {}  # engine states just after event `seq`
        self._injected: list[_Injected] = []
        self._speed = DEFAULT_SPEED
        self._timer: Timer | None = None
        self._background_run: Worker[str] | None = None
        self._pause = threading.Event()

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="panes"):
            with Vertical(id="left"):
                yield SequenceDiagram(id="sequence")
                yield Transcript(id="transcript")
            with TabbedContent(id="tabs", initial="tab-inspector"):
                with TabPane("Event", id="tab-inspector"):
                    yield Inspector(id="inspector")
                with TabPane("Hosts", id="tab-topology"), VerticalScroll():
                    yield Topology(id="topology")
                with TabPane("Mail", id="tab-mail"), VerticalScroll():
                    yield MailboxesAndQueues(id="mailboxes")
                with TabPane("Faults", id="tab-faults"):
                    yield FaultPanel(id="faults")
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#sequence").border_title = "Sequence"
        self.query_one("#transcript").border_title = "Transcript"
        self.refresh_views()

    def on_screen_resume(self) -> None:
        # Another screen may have changed the world meanwhile (playing the client sends real commands).
        if self.is_mounted and self._background_run is None:
            self.refresh_views()

    # --- what is shown ----------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the simulation is moving on its own (a timer or a background run)."""
        return self._timer is not None or self._background_run is not None

    def refresh_views(self) -> None:
        """Redraw every pane from the simulation as it is now."""
        sim = self.simulation
        trace = sim.trace
        engines = sim.engine_states()
        if trace:
            self._states[len(trace) - 1] = engines
        self.query_one(SequenceDiagram).show(trace)
        self.query_one(Transcript).show(trace)
        self._inspect(trace, len(trace) - 1)
        hosts = sim.hosts()
        connections: dict[str, int] = {}
        for engine in engines:
            connections[engine.host] = connections.get(engine.host, 0) + 1
        self.query_one(Topology).show(hosts, connections)
        self.query_one(MailboxesAndQueues).show(sim)
        in_effect = [f"{f.spec} (scenario)" for f in sim.spec.fault]
        in_effect += [f"{i.spec} (after event {i.step - 1})" if i.step else i.spec for i in self._injected]
        self.query_one(FaultPanel).show(hosts, [u.address for u in sim.spec.user], in_effect)
        self._show_status()

    def _show_status(self, doing: str = "") -> None:
        sim = self.simulation
        if not doing:
            doing = f"running, {SPEEDS[self._speed]} steps/s" if self._timer else f"paused ({SPEEDS[self._speed]}/s)"
        self.query_one(StatusLine).show(
            f"{sim.scenario} · seed {sim.seed} · {len(sim.trace)} events · t={sim.now:.3f} s · {doing}"
        )
        self.sub_title = f"{sim.scenario} (seed {sim.seed})"

    def _inspect(self, trace: list[TraceEvent], seq: int) -> None:
        if not 0 <= seq < len(trace):
            self.query_one(Inspector).show(None, None, None)
            return
        before = self._states.get(seq - 1) if seq else []
        self.query_one(Inspector).show(trace[seq], before, self._states.get(seq))

    def on_transcript_event_selected(self, message: Transcript.EventSelected) -> None:
        if self._background_run is None:  # the trace is not to be read while a worker steps it
            self._inspect(self.simulation.trace, message.seq)

    def _forget_after(self, steps: int) -> None:
        """What was recorded about events from `steps` on no longer holds (stepped back, or the future changed)."""
        self._states = {seq: s for seq, s in self._states.items() if seq < steps}
        self._injected = [i for i in self._injected if i.step <= steps]

    def hold(self) -> bool:
        """Stop running on the timer, so that another screen may use the simulation; False during a background run.

        A background run cannot be stopped on the spot (its worker finishes its chunk first), so
        then this says how to pause it and the caller leaves the simulation alone.
        """
        if self._refuse_while_running():
            return False
        self._stop_timer()
        self._show_status()
        return True

    def _refuse_while_running(self) -> bool:
        if self._background_run is not None:
            self.notify("A run is going on: press space to pause it first.", severity="warning")
            return True
        return False

    # --- stepping -----------------------------------------------------------------------------

    def action_step(self) -> None:
        if self._refuse_while_running():
            return
        if self.simulation.step() is None:
            self.notify("Nothing is left to happen. Inject a fault, reset (r), or pick another scenario (o).")
        self.refresh_views()

    def action_back(self) -> None:
        if self._refuse_while_running():
            return
        sim = self.simulation
        if not sim.trace:
            self.notify("Already at the start.")
            return
        sim.back()
        self._forget_after(len(sim.trace))
        self.refresh_views()

    def action_run_pause(self) -> None:
        if self._background_run is not None:
            self._pause.set()
        elif self._timer is not None:
            self._stop_timer()
            self._show_status()
        else:
            self._start_timer()
            self._show_status()

    def _start_timer(self) -> None:
        self._timer = self.set_interval(1 / SPEEDS[self._speed], self._tick)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    def _tick(self) -> None:
        if self.simulation.step() is None:
            self._stop_timer()
            self.notify("Finished: nothing is left to happen.")
        self.refresh_views()

    def action_faster(self) -> None:
        self._set_speed(self._speed + 1)

    def action_slower(self) -> None:
        self._set_speed(self._speed - 1)

    def _set_speed(self, index: int) -> None:
        self._speed = min(max(index, 0), len(SPEEDS) - 1)
        if self._timer is not None:
            self._stop_timer()
            self._start_timer()
        self._show_status()

    def action_run_to(self, kind: str) -> None:
        """Run in the background until the next event of this kind ("deliver", "bounce", "fault")."""
        word = STOPS.get(kind, kind)
        self._start_run(f"to the next {word}", lambda event: event.kind == kind)

    def action_run_all(self) -> None:
        self._start_run("until nothing is left to happen", None)

    def action_load(self) -> None:
        """Submit `load_messages` messages between the world's first two users and run them all."""
        sim = self.simulation
        senders = [h.user for h in sim.spec.host if isinstance(h, ClientHost) and h.msa is not None]
        if not senders:
            self.notify("This world has no mail program that submits mail.", severity="error")
            return
        sender = senders[0]
        others = [u.address for u in sim.spec.user if u.address != sender]
        recipient = others[0] if others else sender
        count = self.load_messages

        def submit_all(sim: Simulation) -> None:
            start = sim.now
            for n in range(count):
                body = f"Subject: load test {n + 1}\r\n\r\nMessage {n + 1} of {count}.\r\n"
                sim.submit(sender, [recipient], body, at=start + n / LOAD_RATE)

        self._start_run(f"{count} messages from {sender} to {recipient}", None, prepare=submit_all)

    def action_jump(self) -> None:
        if self._refuse_while_running():
            return
        last = len(self.simulation.trace) - 1
        self.app.push_screen(
            NumberDialog("Jump", "Go to just after event number (0 is the first event):", max(last, 0)),
            self._jump,
        )

    def _jump(self, number: int | None) -> None:
        if number is None:
            return
        sim = self.simulation
        if number < 0:
            self.notify("Event numbers start at 0.", severity="error")
            return
        if number < len(sim.trace):
            sim.seek(number + 1)
            self._forget_after(number + 1)
            self.refresh_views()
        else:
            self._start_run(f"to event {number}", lambda event: event.seq >= number)

    # --- background runs ------------------------------------------------------------------------

    def _start_run(
        self,
        label: str,
        until: Callable[[TraceEvent], bool] | None,
        prepare: Callable[[Simulation], None] | None = None,
    ) -> None:
        if self._refuse_while_running():
            return
        self._stop_timer()
        self._pause.clear()
        self.query_one(StatusLine).start(None)
        self._show_status(f"running {label}… (space pauses)")
        self._background_run = self._run_in_background(self.simulation, label, until, prepare)

    @work(thread=True, exclusive=True, group="run", exit_on_error=False)
    def _run_in_background(
        self,
        sim: Simulation,
        label: str,
        until: Callable[[TraceEvent], bool] | None,
        prepare: Callable[[Simulation], None] | None,
    ) -> str:
        """Step in chunks, reporting progress after each, until the stop, quiet, or a pause."""
        worker = get_current_worker()
        counted = prepare is not None
        if prepare is not None:
            prepare(sim)
        total = len(sim.outcome()) if counted else None
        reached = False

        def stop(event: TraceEvent) -> bool:
            nonlocal reached
            reached = until is not None and until(event)
            return reached

        steps = 0
        while not (self._pause.is_set() or worker.is_cancelled):
            taken = sim.run(until=stop if until is not None else None, max_steps=CHUNK)
            steps += taken
            done = sum(o.status in SETTLED for o in sim.outcome()) if counted else steps
            self.post_message(RunProgress(steps, done, total))
            if reached or taken < CHUNK:
                break
        ran = f"{steps} step{'' if steps == 1 else 's'}"
        if self._pause.is_set():
            return f"Paused after {ran}."
        if until is not None and not reached:
            return f"Ran {ran}: nothing is left to happen, and {label.removeprefix('to ')} never came."
        return f"Ran {ran} {label}."

    def on_run_progress(self, message: RunProgress) -> None:
        status = self.query_one(StatusLine)
        status.progress(message.done, message.total)
        settled = f", {message.done}/{message.total} messages settled" if message.total is not None else ""
        self._show_status(f"running: {message.steps} steps{settled}… (space pauses)")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is not self._background_run or event.state not in (
            WorkerState.SUCCESS,
            WorkerState.ERROR,
            WorkerState.CANCELLED,
        ):
            return
        self._background_run = None
        self.query_one(StatusLine).stop()
        if event.state is WorkerState.SUCCESS:
            self.notify(str(event.worker.result))
        elif event.state is WorkerState.ERROR:
            self.notify(f"The run stopped: {event.worker.error}", severity="error")
        self._forget_after(len(self.simulation.trace))
        self.refresh_views()

    # --- breaking and rebuilding -----------------------------------------------------------------

    def action_inject(self) -> None:
        self.query_one(TabbedContent).active = "tab-faults"
        self.query_one(FaultPanel).focus_spec()

    def on_fault_panel_inject(self, message: FaultPanel.Inject) -> None:
        if self._refuse_while_running():
            return
        if self._inject(message.spec):
            self.notify(f"Injected {self._injected[-1].spec}: step on to see what it does.")
        self.refresh_views()

    def _inject(self, spec: str) -> bool:
        """Inject a fault from its spec from this point on; a bad spec is an error notification and changes nothing."""
        sim = self.simulation
        try:
            fault = sim.inject_spec(spec)  # `for=` counts from this point
        except faults.FaultSpecError as exc:
            self.notify(str(exc), title="Cannot inject that fault", severity="error")
            return False
        steps = len(sim.trace)
        self._forget_after(steps)
        self._injected.append(_Injected(steps, fault.spec()))
        return True

    def action_reset(self) -> None:
        sim = self.simulation
        self._replace(sim.scenario, sim.seed)

    def action_pick(self) -> None:
        if self._refuse_while_running():
            return
        self.app.push_screen(PickerScreen(self.simulation.scenario), self._picked)

    def _picked(self, target: str | None) -> None:
        if target is not None:
            self._replace(target, None)

    def action_seed(self) -> None:
        if self._refuse_while_running():
            return
        self.app.push_screen(
            NumberDialog("Seed", "The random seed (the same seed replays the same run):", self.simulation.seed),
            self._seeded,
        )

    def _seeded(self, seed: int | None) -> None:
        if seed is not None:
            self._replace(self.simulation.scenario, seed)

    def load(self, scenario: str, seed: int | None = None, fault_specs: Sequence[str] = (), steps: int = 0) -> bool:
        """Start `scenario` afresh with this seed and these faults injected at its start, then take `steps`
        steps, as a lesson asks.

        The same paths as the picker and the fault panel, so a lesson's world is shown as if the learner
        had built it by hand. False (with an error notification) when the scenario cannot be built, and
        the world stays as it was; or when a fault cannot be injected, and the world is the new one
        with the faults that could.
        """
        if not self._replace(scenario, seed, announce=not fault_specs):
            return False
        injected = [spec for spec in fault_specs if self._inject(spec)]
        if steps:
            self.simulation.seek(steps)
        if fault_specs or steps:
            self.refresh_views()
            with_faults = f" with {', '.join(injected)}" if injected else ""
            self.notify(f"{scenario} (seed {self.simulation.seed}){with_faults}: press s to step.")
        return len(injected) == len(fault_specs)

    def _replace(self, scenario: str, seed: int | None, *, announce: bool = True) -> bool:
        """Start `scenario` afresh; a scenario that cannot be loaded is an error notification and changes nothing."""
        if self._refuse_while_running():
            return False
        try:
            sim = Simulation.from_scenario(scenario, seed=seed)
        except ScenarioError as exc:
            self.notify(str(exc), title="Cannot open that scenario", severity="error", timeout=10)
            return False
        self._stop_timer()
        self.simulation = sim
        self._states.clear()
        self._injected.clear()
        self.refresh_views()
        if announce:
            self.notify(f"{sim.scenario} (seed {sim.seed}): press s to step.")
        return True
