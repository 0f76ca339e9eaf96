"""The compare screen: the same mailbox read with POP3 and with IMAP, on the same devices, side by side.

It runs the scenario once per retrieval profile (`Simulation.compare_retrieval`, the
same runs and figures as `smtpsim compare`) in a worker, then shows what each device
ends up with under each protocol, and the table of bytes, round trips and commands.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from simulator.compare import COLUMNS, PROFILE_TITLES, Comparison, ProfileResult
from simulator.sim import Simulation

POP3_PROFILES = ("pop3-download-delete", "pop3-leave-on-server")
NO_DEVICES = (
    "No device reads mail in this scenario, so there is nothing to compare. Pick one where devices "
    "check a mailbox (pop3-vs-imap, pop3-download-delete, imap-two-devices) with the scenario picker."
)


class CompareScreen(Screen[None]):
    """POP3 against IMAP for the scenario's reading devices; Escape goes back."""

    CSS_PATH = "compare.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave", "Back"),
        Binding("v", "pop3_variant", "POP3: delete / keep"),
    ]

    def __init__(self, simulation: Simulation) -> None:
        super().__init__()
        self.simulation = simulation
        self.pop3_profile = POP3_PROFILES[0]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="compare-intro")
        with Horizontal(id="compare-sides"):
            with VerticalScroll(id="compare-pop3", classes="side"):
                yield Static(id="compare-pop3-body")
            with VerticalScroll(id="compare-imap", classes="side"):
                yield Static(id="compare-imap-body")
        yield DataTable[str](id="compare-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "POP3 and IMAP compared"
        self.sub_title = self.simulation.scenario
        self._start()

    def _start(self) -> None:
        intro = self.query_one("#compare-intro", Static)
        if not self.simulation.devices:
            self.add_class("empty")
            intro.update(Text(NO_DEVICES))
            return
        readers = sorted({device.user for device in self.simulation.devices.values()})
        intro.update(
            Text.assemble(
                ("The same history, read two ways. ", "bold"),
                f"Mailbox {', '.join(readers)}, read by {', '.join(self.simulation.devices)}: the scenario runs "
                f"from the start once with every device on {PROFILE_TITLES[self.pop3_profile]} and once on IMAP "
                "(same messages, same check times, same seed). Running…",
            )
        )
        self._compare((self.pop3_profile, "imap"))

    @work(thread=True, exclusive=True)
    def _compare(self, profiles: tuple[str, str]) -> None:
        # Each run is a new Simulation from the scenario's start: the learner's own is not touched.
        try:
            comparison = self.simulation.compare_retrieval(profiles)
        except ValueError as error:
            self.app.call_from_thread(self._failed, str(error))
            return
        self.app.call_from_thread(self._show, comparison)

    def _failed(self, reason: str) -> None:
        self.query_one("#compare-intro", Static).update(Text(f"These runs cannot be compared: {reason}"))
        self.notify(reason, title="No comparison", severity="error")

    def _show(self, comparison: Comparison) -> None:
        pop3, imap = comparison.results
        self.query_one("#compare-intro", Static).update(
            Text.assemble(
                ("The same history, read two ways. ", "bold"),
                f"Left: every device on {PROFILE_TITLES[pop3.profile]}; right: on {PROFILE_TITLES[imap.profile]}. "
                "The figures come from each run's trace.",
            )
        )
        self.query_one("#compare-pop3-body", Static).update(_side(pop3))
        self.query_one("#compare-imap-body", Static).update(_side(imap))
        rows = comparison.rows()
        table = self.query_one(DataTable)
        table.clear(columns=True)
        # Widths given, not measured later: the table is laid out once, the same way every time.
        for i, name in enumerate(COLUMNS):
            table.add_column(name, width=max(len(name), *(len(row[i]) for row in rows)))
        table.add_rows(rows)

    def action_pop3_variant(self) -> None:
        """Compare IMAP with the other way of using POP3: deleting from the server, or leaving a copy there."""
        if not self.simulation.devices:
            return
        index = POP3_PROFILES.index(self.pop3_profile)
        self.pop3_profile = POP3_PROFILES[(index + 1) % len(POP3_PROFILES)]
        self._start()

    def action_leave(self) -> None:
        self.dismiss()


def _side(result: ProfileResult) -> Text:
    """One column: what each device shows after the run, and what stayed on the server."""
    text = Text()
    text.append(PROFILE_TITLES.get(result.profile, result.profile) + "\n", style="bold underline")
    for device in result.devices:
        text.append(f"\n{device.device}\n", style="bold")
        text.append(f"  shows {len(device.shows)}, {device.unread} unread\n")
        for subject in device.shows:
            text.append(f"  • {subject}\n")
        if not device.shows:
            text.append("  (nothing)\n", style="dim")
    text.append(f"\nLeft on the server: {result.left_on_server} message(s)", style="italic")
    return text
