"""The Stepper: step a scenario forwards and back in a notebook, break it, and watch every view follow.

A thin front over `Simulation`: each button calls one facade method and then redraws the
views (the sequence diagram as SVG, the list of events, the selected event's details, the
mailboxes, the queues and a status line) from the simulation as it now is.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
from traitlets import Float, Int, Unicode, observe

from simulator import faults as catalogue
from simulator.notebook._markup import esc, following, heading, notice_box, wire_text
from simulator.sim import Simulation
from simulator.trace import Note, TraceEvent
from simulator.views.mailboxes import PanelLine, device_lines, mailbox_lines, queue_lines
from simulator.views.sequence import render_sequence_svg
from simulator.views.transcript import clock, render_transcript

SHOWN = 12  # lines per mailbox or queue: a load test puts thousands in one
LABEL_LENGTH = 100  # characters of an event's summary in the list
PLAY_MAX = 1_000_000  # the Play widget counts ticks, each one a step; it stops at its max
DIAGRAM_CLASS = "smtpsim-diagram"
NOTHING_LEFT = "Nothing left to happen: inject a fault, step back, or reset."
NOTHING_YET = "Nothing has happened yet: press Step or Play."
# Every lifeline in view however many hosts talk: the diagram shrinks to its pane's width, never grows past it.
FIT_WIDTH = f"<style>.{DIAGRAM_CLASS} svg {{max-width: 100%; height: auto;}}</style>"


class Stepper(widgets.VBox):
    """A scenario to step through, with buttons, an auto-stepping Play, a fault box and live views.

    Args:
        scenario: a built-in scenario name or the path of a .toml file.
        seed: the random seed; the same seed replays the same run.
        faults: fault specs injected at the start (they stay in after reset()).
        steps: how many steps to take before showing it.

    Raises:
        ScenarioError: the scenario cannot be loaded.
        FaultSpecError: one of `faults` cannot be understood or names what the world lacks.
    """

    position = Int(0, help="how many trace events have happened")
    now = Float(0.0, help="simulated seconds at the last step")
    notice = Unicode("", help="the last thing the learner was told")

    def __init__(self, scenario: str = "basic", seed: int = 1, faults: Sequence[str] = (), steps: int = 0) -> None:
        self.scenario = scenario
        self.seed = seed
        self.initial_faults = tuple(faults)
        self._sim = self._build()
        self._drawn: list[TraceEvent] | None = None  # the trace the diagram shows
        self._listed: list[TraceEvent] = []  # the trace the event list shows
        self._labels: list[str] = []
        self._quiet = False  # set while this widget moves the Play or the list itself
        self._notice_bad = False  # the notice reports something that could not be done

        self.step_button = widgets.Button(description="Step", tooltip="one trace event forward")
        self.back_button = widgets.Button(description="Back", tooltip="undo the last step")
        self.run_button = widgets.Button(description="Run", tooltip="run until nothing is left")
        self.reset_button = widgets.Button(description="Reset", tooltip="start the scenario again")
        self.play = widgets.Play(value=0, min=0, max=PLAY_MAX, step=1, interval=200, description="Play")
        self.speed = widgets.IntSlider(value=5, min=1, max=20, description="Steps/s")
        self.fault_menu = widgets.Combobox(
            placeholder="a fault spec, e.g. down:mx.example.org,for=3600",
            description="Fault",
            ensure_option=False,
            layout=widgets.Layout(width="28em"),
        )
        self.inject_button = widgets.Button(description="Inject", tooltip="break this now")
        self.fault_kinds = widgets.HTML(_kinds_html())
        self.status = widgets.HTML()
        self.diagram = widgets.HTML()
        self.diagram.add_class(DIAGRAM_CLASS)
        self.transcript = widgets.HTML()
        # min_width 0: a diagram with many lifelines scrolls sideways instead of squeezing the event list.
        self.views = widgets.Tab(
            children=[self.diagram, self.transcript], layout=widgets.Layout(flex="3 1 0%", min_width="0")
        )
        self.views.titles = ("Sequence diagram", "Transcript")
        self.events = widgets.Select(options=(), rows=12, layout=widgets.Layout(width="100%"))
        self.detail = widgets.HTML(layout=widgets.Layout(overflow="auto", max_height="24em"))
        self.mailboxes = widgets.HTML(layout=widgets.Layout(flex="1 1 0%"))
        self.queues = widgets.HTML(layout=widgets.Layout(flex="1 1 0%"))

        self.step_button.on_click(lambda _: self.step())
        self.back_button.on_click(lambda _: self.back())
        self.run_button.on_click(lambda _: self.run())
        self.reset_button.on_click(lambda _: self.reset())
        self.inject_button.on_click(lambda _: self.inject(self.fault_menu.value))
        self.play.observe(self._on_tick, names="value")
        self.speed.observe(self._on_speed, names="value")
        self.events.observe(self._on_select, names="value")
        self.play.interval = _interval(self.speed.value)

        super().__init__(
            children=[
                widgets.HBox(
                    [self.step_button, self.back_button, self.run_button, self.reset_button, self.play, self.speed]
                ),
                widgets.HBox([self.fault_menu, self.inject_button]),
                self.fault_kinds,
                self.status,
                widgets.HBox(
                    [
                        self.views,
                        widgets.VBox(
                            [self.events, self.detail], layout=widgets.Layout(flex="2 1 0%", min_width="22em")
                        ),
                    ]
                ),
                widgets.HBox([self.mailboxes, self.queues]),
            ]
        )
        self._offer_faults()
        self._sim.seek(steps)
        self._refresh()

    @property
    def sim(self) -> Simulation:
        """The simulation shown (a new one after reset())."""
        return self._sim

    # --- actions ---------------------------------------------------------------------------

    def step(self) -> None:
        """One trace event forward; says so when nothing is left to happen."""
        if self._sim.step() is None:
            self._stop_playing()
            self._tell(NOTHING_LEFT)
        else:
            self._tell("")
        self._refresh()

    def back(self) -> None:
        """Undo the last step: the world, the views and the selection go back with it."""
        self._stop_playing()
        if not self._sim.trace:
            self._tell("At the start: nothing to undo.")
        else:
            self._sim.back()
            self._tell("")
        self._refresh()

    def run(self) -> None:
        """Run until nothing is left to happen."""
        self._stop_playing()
        taken = self._sim.run()
        self._tell(f"Ran {taken} step{'' if taken == 1 else 's'}. {NOTHING_LEFT}")
        self._refresh()

    def reset(self) -> None:
        """Start the scenario again with the same seed and the faults given at creation."""
        self._stop_playing()
        self._sim = self._build()
        self._drawn = None
        self._quiet = True
        try:
            self.play.value = 0
        finally:
            self._quiet = False
        self._offer_faults()
        self._tell(f"Back at the start of {self.scenario} (seed {self.seed}).")
        self._refresh()

    def inject(self, spec: str) -> bool:
        """Break the world now with a fault spec (`Simulation.inject_spec`: `for=` counts from now);
        False, and a notice, if it cannot be."""
        spec = spec.strip()
        if not spec:
            self._tell("Type or pick a fault spec first.", bad=True)
            return False
        try:
            fault = self._sim.inject_spec(spec)
        except catalogue.FaultSpecError as exc:
            self._tell(str(exc), bad=True)
            return False
        self._tell(f"Injected {fault.spec()}: step on to see what it does.")
        self._refresh()
        return True

    # --- callbacks ---------------------------------------------------------------------------

    def _on_tick(self, change: dict[str, object]) -> None:
        if not self._quiet and change["new"] != change["old"]:
            self.step()

    def _on_speed(self, change: dict[str, object]) -> None:
        self.play.interval = _interval(self.speed.value)

    def _on_select(self, change: dict[str, object]) -> None:
        if not self._quiet:
            new = change["new"]
            self._show_detail(new if isinstance(new, int) else None)

    # --- views -------------------------------------------------------------------------------

    def _build(self) -> Simulation:
        return Simulation.from_scenario(self.scenario, seed=self.seed, faults=self.initial_faults)

    def _offer_faults(self) -> None:
        sim = self._sim
        self.fault_menu.options = tuple(catalogue.examples(sim.hosts(), [u.address for u in sim.spec.user]))

    def _stop_playing(self) -> None:
        self.play.playing = False

    def _tell(self, text: str, *, bad: bool = False) -> None:
        self._notice_bad = bad
        if self.notice == text:
            self._show_status()  # the same words again: the status line still changes
        self.notice = text

    @observe("notice")
    def _notice_changed(self, change: dict[str, object]) -> None:
        self._show_status()

    def _refresh(self) -> None:
        """Redraw every view from the simulation as it is now."""
        sim = self._sim
        trace = sim.trace
        self.position = len(trace)
        self.now = sim.now
        self._draw(trace)
        self._list(trace)
        self.mailboxes.value = _panel_html(mailbox_lines(sim.mailboxes()) + device_lines(sim.devices.values()))
        self.queues.value = _panel_html(queue_lines(sim.queues(), sim.now))
        self._show_status()

    def _draw(self, trace: list[TraceEvent]) -> None:
        if self._drawn is not None and self._drawn == trace:  # identity first, so cheap when unchanged
            return
        self._drawn = trace
        svg = render_sequence_svg(trace, title=f"{self.scenario} (seed {self.seed})")
        hint = "" if trace else f"<p><i>{NOTHING_YET}</i></p>"
        # Both views keep their newest lines in view as the learner steps.
        self.diagram.value = FIT_WIDTH + following(hint + svg)
        # The same events in swaks' notation (-> client, <- server, ~> <~ inside TLS), explained line by line.
        transcript = esc(render_transcript(trace)) if trace else f"<i>{NOTHING_YET}</i>"
        self.transcript.value = following(f"<pre style='font-size:85%;line-height:1.3;margin:0'>{transcript}</pre>")

    def _list(self, trace: list[TraceEvent]) -> None:
        """Show the events in the list and select the last, so that the details follow the cursor."""
        if trace != self._listed:
            same = 0
            for old, new in zip(self._listed, trace, strict=False):
                if old is not new:
                    break
                same += 1
            self._labels = self._labels[:same] + [_label(e) for e in trace[same:]]
            self._listed = trace
            self._quiet = True
            try:
                self.events.options = tuple(zip(self._labels, range(len(trace)), strict=True))
                self.events.value = len(trace) - 1 if trace else None
            finally:
                self._quiet = False
        elif trace and self.events.value != len(trace) - 1:
            self._quiet = True
            try:
                self.events.value = len(trace) - 1
            finally:
                self._quiet = False
        self._show_detail(len(trace) - 1 if trace else None)

    def _show_detail(self, seq: int | None) -> None:
        if seq is None or not 0 <= seq < len(self._listed):
            self.detail.value = "<i>Nothing has happened yet.</i>"
            return
        self.detail.value = _detail_html(self._listed[seq])

    def _show_status(self) -> None:
        sim = self._sim
        lines = [
            f"<b>{esc(self.scenario)}</b> (seed {self.seed}) · t = {esc(clock(sim.now))} ({sim.now:.3f} s) · "
            f"{len(sim.trace)} events"
        ]
        for outcome in sim.outcome():
            where = f" at {outcome.where}" if outcome.where else ""
            detail = f": {outcome.detail}" if outcome.detail else ""
            lines.append(
                f"{esc(outcome.message_id)} {esc(outcome.sender)} → {esc(outcome.recipient)}: "
                f"<b>{esc(outcome.status)}</b>{esc(where + detail)}"
            )
        html = "<br>".join(lines)
        if self.notice:
            html += notice_box(self.notice, "bad" if self._notice_bad else "info")
        self.status.value = html


def _interval(speed: int) -> int:
    """Milliseconds between two Play ticks at `speed` steps per second."""
    return round(1000 / max(speed, 1))


def _label(event: TraceEvent) -> str:
    summary = event.summary if len(event.summary) <= LABEL_LENGTH else event.summary[: LABEL_LENGTH - 3] + "..."
    return f"{event.seq} {event.time:.3f} {summary}"


def _kinds_html() -> str:
    rows = "".join(f"<li><b>{esc(kind)}</b>: {esc(models)}</li>" for kind, models in catalogue.kinds().items())
    return (
        f"<details><summary>Fault kinds</summary><p><code>{esc(catalogue.GRAMMAR)}</code></p><ul>{rows}</ul></details>"
    )


def _detail_html(event: TraceEvent) -> str:
    """Everything about one event: who to whom, summary, explanation, RFC, the bytes, each unit."""
    conn = f" (connection {event.conn})" if event.conn is not None else ""
    parts = [
        f"<b>#{event.seq} {esc(event.kind)} {esc(event.protocol)}</b> t = {event.time:.3f} s<br>",
        f"{esc(event.src)} → {esc(event.dst)}{esc(conn)}",
        f"<p><b>{esc(event.summary)}</b><br>{esc(event.explain)}<br><i>{esc(event.rfc)}</i></p>",
    ]
    if event.data:
        parts.append(f"<b>On the wire</b><pre>{esc(wire_text(event.data))}</pre>")
    for note in event.notes:
        parts.append(_note_html(note))
    return "".join(parts)


def _note_html(note: Note) -> str:
    inner = "".join(_note_html(n) for n in note.inner)
    return (
        f'<div style="margin-left:1em"><b>• {esc(note.summary)}</b><br>{esc(note.explain)}<br>'
        f"<i>{esc(note.rfc)}</i>{inner}</div>"
    )


def _panel_html(lines: list[PanelLine]) -> str:
    """Lines of the mail panel (simulator.views.mailboxes) as HTML: headings, and items indented by depth."""
    out = []
    for line in lines:
        if line.heading:
            out.append(heading(line.text))
        else:
            out.append(f'<div style="margin-left:{1.5 * line.depth}em">{esc(line.text)}</div>')
    return "".join(out)
