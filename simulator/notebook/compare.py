"""Compare: the same mailbox read with POP3 (download and delete) and with IMAP, side by side.

It shows `Simulation.compare_retrieval` (the same runs and figures as `smtpsim compare`
and the terminal app's compare screen): one column per profile with what each device
ends up showing, and a table of bytes, round trips and commands.
"""

from __future__ import annotations

import ipywidgets as widgets

from simulator.compare import COLUMNS, COMPARED, PROFILE_TITLES, Comparison, ProfileResult
from simulator.notebook._markup import esc, notice_box
from simulator.sim import Simulation

NO_DEVICES = (
    "No device reads mail in this scenario (none has check times), so there is nothing to compare. "
    "Try one where devices check a mailbox: pop3-vs-imap, pop3-download-delete or imap-two-devices."
)


class Compare(widgets.VBox):
    """POP3 against IMAP for the scenario's reading devices: a column per profile and a table of figures.

    Each profile is a run of the scenario from its start with the same seed (the runs are made
    once, when the widget is built).

    Raises:
        ScenarioError: the scenario cannot be loaded.
    """

    def __init__(self, scenario: str = "pop3-vs-imap", seed: int = 1) -> None:
        self.scenario = scenario
        self.seed = seed
        self.sim = Simulation.from_scenario(scenario, seed=seed)
        self.profiles: tuple[str, ...] = ()
        self.comparison: Comparison | None = None
        self.message = widgets.HTML()
        self.columns = widgets.HBox()
        self.table = widgets.HTML()
        super().__init__(children=[self.message, self.columns, self.table])
        self._show()

    def _show(self) -> None:
        sim = self.sim
        readers = sim.readers()  # a device that never checks would show the same nothing in both runs
        if not readers:
            self.message.value = notice_box(NO_DEVICES)
            return
        try:
            comparison = sim.compare_retrieval(COMPARED)
        except ValueError as exc:  # a profile the scenario's servers do not offer
            self.message.value = notice_box(f"These runs cannot be compared: {exc}", "bad")
            return
        self.comparison = comparison
        self.profiles = tuple(result.profile for result in comparison.results)
        users = sorted({h.user for h in readers})
        sides = " and ".join(PROFILE_TITLES.get(p, p) for p in self.profiles)
        self.message.value = (
            f"<p><b>The same history, read two ways.</b> Mailbox {esc(', '.join(users))}, read by "
            f"{esc(', '.join(h.name for h in readers))}: the scenario runs from the start once per way of reading "
            f"({esc(sides)}), with the same messages, check times and seed. The figures come from each "
            "run's trace.</p>"
        )
        self.columns.children = [
            widgets.HTML(_side(result), layout=widgets.Layout(flex="1 1 0%", margin="0 1em 0 0"))
            for result in comparison.results
        ]
        self.table.value = _table(comparison)


def _side(result: ProfileResult) -> str:
    """One column: what each device shows after the run, and what stayed on the server."""
    out = [f"<h4>{esc(PROFILE_TITLES.get(result.profile, result.profile))}</h4>"]
    for device in result.devices:
        items = "".join(f"<li>{esc(subject)}</li>" for subject in device.shows) or "<li><i>nothing</i></li>"
        out.append(
            f"<div><b>{esc(device.device)}</b> shows {len(device.shows)}, {device.unread} unread<ul>{items}</ul></div>"
        )
    out.append(f"<p><i>Left on the server: {result.left_on_server} message(s)</i></p>")
    return "".join(out)


def _table(comparison: Comparison) -> str:
    """The figures, one row per profile and device."""
    head = "".join(f'<th style="text-align:left;padding:2px 8px">{esc(name)}</th>' for name in COLUMNS)
    rows = [
        "<tr>" + "".join(f'<td style="padding:2px 8px">{esc(c)}</td>' for c in cells) + "</tr>"
        for cells in comparison.rows()
    ]
    return f'<table class="smtpsim-compare"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
