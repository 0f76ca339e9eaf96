"""Every control of the app in one table: the key bindings, the help screen and the command palette read it.

Keeping the key, the action and the words together means the footer, the help
screen and the palette cannot disagree about what a key does.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Control:
    """One thing the learner can do: its key, the action it runs, a short label and a sentence of help."""

    key: str
    action: str  # an action of the main screen, or "app.<name>" for one of the app's own
    label: str  # the footer's word
    help: str  # the help screen's and the command palette's sentence
    show: bool = True  # shown in the footer (the others are on the help screen and in the palette)
    key_display: str | None = None

    @property
    def title(self) -> str:
        """The command palette's entry."""
        return self.help.split(":")[0]

    def binding(self) -> Binding:
        return Binding(self.key, self.action, self.label, show=self.show, key_display=self.key_display)


# What happens on the simulated network: the main screen's actions.
SIMULATION_CONTROLS: tuple[Control, ...] = (
    Control("s", "step", "Step", "Step: advance one trace event (one write on the wire, one decision)"),
    Control("b", "back", "Back", "Back: undo the last step; mailboxes, queues and connections go back too"),
    Control("space", "run_pause", "Run/Pause", "Run or pause: step on its own at the chosen speed"),
    Control("d", "run_to('deliver')", "→Delivery", "Run to the next delivery into a mailbox"),
    Control("x", "run_to('bounce')", "→Bounce", "Run to the next bounce (a delivery status notification)"),
    Control("f", "run_to('fault')", "→Fault", "Run to the next fault firing (or ending)"),
    Control("r", "reset", "Reset", "Reset: start the scenario again from its beginning"),
    Control("j", "jump", "Jump", "Jump to an event: go to the point just after event number N"),
    Control("i", "inject", "Fault", "Inject a fault: open the fault panel and type a fault spec"),
    Control("o", "pick", "Scenario", "Pick a scenario: a built-in one, or a .toml file by its path"),
    Control("e", "seed", "Seed", "Change the seed: the same scenario with other luck (loss, probabilities)"),
    Control("plus", "faster", "Faster", "Faster: more steps per second while running", False, "+"),
    Control("minus", "slower", "Slower", "Slower: fewer steps per second while running", False, "-"),
    Control("l", "load", "Load", "Load test: submit thousands of messages and run them in the background", False),
    Control("a", "run_all", "Run all", "Run all: run until nothing is left to happen, in the background", False),
)

# The app's own: other screens, looks, leaving.
APP_CONTROLS: tuple[Control, ...] = (
    Control("question_mark", "app.help", "Help", "Help: the panes and the keys", key_display="?"),
    Control("p", "app.play", "Play", "Play the client: type SMTP, POP3 or IMAP commands to a server", False),
    Control("c", "app.compare", "Compare", "Compare POP3 and IMAP on two devices for one mailbox", False),
    Control("L", "app.lessons", "Lessons", "Lessons: the course, page by page, with quizzes and scenarios to try"),
    Control("t", "app.toggle_theme", "Theme", "Theme: switch between the light and the dark theme", False),
    Control("q", "app.quit", "Quit", "Quit the app"),
)
