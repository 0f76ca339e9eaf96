"""The Textual app behind `smtpsim tui`: the main screen, its helpers, themes and the other screens."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from typing import ClassVar

from textual.app import App
from textual.binding import BindingType

from simulator.lessons import Lesson, LessonError, Try, lessons
from simulator.sim import Simulation
from simulator.tui.commands import ControlCommands
from simulator.tui.controls import APP_CONTROLS
from simulator.tui.screens.help import HelpScreen
from simulator.tui.screens.lessons import LessonsScreen
from simulator.tui.screens.main import LOAD_MESSAGES, MainScreen

DARK, LIGHT = "textual-dark", "textual-light"


class SmtpsimApp(App[None]):
    """Step through a scenario, break it, and look at every byte; `?` explains the panes and keys."""

    TITLE = "smtpsim"
    BINDINGS: ClassVar[list[BindingType]] = [c.binding() for c in APP_CONTROLS]
    COMMANDS = App.COMMANDS | {ControlCommands}

    def __init__(
        self,
        simulation: Simulation,
        *,
        load_messages: int = LOAD_MESSAGES,
        lesson: str | None = None,
        lessons: Sequence[Lesson] | None = None,
    ) -> None:
        """Args:
        simulation: the world to show, as built by `Simulation.from_scenario`.
        load_messages: how many messages the load test (key l) submits.
        lesson: the id of a lesson to open the Lessons screen on at start; None opens the main screen.
        lessons: the course; None reads `simulator.lessons.lessons()` when the Lessons screen first opens.
        """
        super().__init__()
        self.main_screen = MainScreen(simulation, load_messages=load_messages)
        self.theme = DARK
        self._start_lesson = lesson
        self._lessons = list(lessons) if lessons is not None else None
        self.lessons_screen: LessonsScreen | None = None

    def on_mount(self) -> None:
        self.push_screen(self.main_screen)
        if self._start_lesson is not None:
            self.open_lessons(self._start_lesson)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_theme(self) -> None:
        self.theme = LIGHT if self.theme == DARK else DARK

    def action_play(self) -> None:
        """Type SMTP, POP3 or IMAP by hand to a server of this world."""
        self._open("simulator.tui.screens.play", "PlayScreen", "Playing the client")

    def action_compare(self) -> None:
        """POP3 and IMAP side by side for one mailbox."""
        self._open("simulator.tui.screens.compare", "CompareScreen", "The compare screen")

    def action_lessons(self) -> None:
        """The course's lessons, on the page each was left at."""
        self.open_lessons(None)

    def open_lessons(self, lesson_id: str | None) -> None:
        """Show the Lessons screen, on this lesson if one is given."""
        screen = self._lessons_screen()
        if screen is None:
            return
        if lesson_id is not None:
            try:
                screen.show_lesson(lesson_id)
            except KeyError:
                self.notify(f"There is no lesson {lesson_id}.", severity="error")
        if screen not in self.screen_stack:  # under a dialog it is already open: the dialog closes onto it
            self.push_screen(screen, self._try)

    def _lessons_screen(self) -> LessonsScreen | None:
        """The one Lessons screen, built once and kept (installed), so that pages and answers survive leaving it."""
        if self.lessons_screen is None:
            if self._lessons is None:  # read when first asked for: a lesson's mistake does not stop the app
                try:
                    self._lessons = lessons()
                except LessonError as exc:
                    self.notify(str(exc), title="A lesson cannot be read", severity="error", timeout=10)
                    return None
            self.lessons_screen = LessonsScreen(self._lessons)
            self.install_screen(self.lessons_screen, "lessons")
        return self.lessons_screen

    def _try(self, spec: Try | None) -> None:
        """Open a lesson's scenario: load it on the main screen, then show the screen the lesson asks for."""
        if spec is None or not self.main_screen.hold():  # nothing to try, or a background run to pause first
            return
        while self.screen is not self.main_screen and len(self.screen_stack) > 1:
            self.pop_screen()  # a compare or play screen under the lesson works on the world being replaced
        if not self.main_screen.load(spec.scenario, spec.seed, spec.faults, spec.steps):
            return
        if spec.widget == "compare":
            self.action_compare()
        elif spec.widget == "console":
            self._open("simulator.tui.screens.play", "PlayScreen", "Playing the client", server=(spec.host, spec.port))

    def _open(self, module: str, name: str, what: str, **options: object) -> None:
        if not self.main_screen.hold():  # the other screen works on the same simulation
            return
        try:
            screen_class = getattr(import_module(module), name)
        except (ImportError, AttributeError):
            self.notify(f"{what} is not available in this version.", severity="warning")
            return
        if type(self.screen) is not screen_class:  # already in front: a second copy would only stack
            self.push_screen(screen_class(self.main_screen.simulation, **options))
