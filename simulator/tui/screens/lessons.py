"""The Lessons screen: the course's lessons, one page at a time, with their quizzes and scenarios to try.

The lessons are written once in `simulator.lessons` (Markdown with quiz and scenario
blocks) and shown here as they are: prose and code as Markdown, each question as a
`QuizForm`, each scenario as a button that opens it in the simulator. Which screen a
scenario opens, and how it is loaded, is the app's business: this screen answers with
the `Try` that was pressed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text as RichText
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, ContentSwitcher, Footer, Header, Markdown, OptionList, Static
from textual.widgets.option_list import Option

from simulator.lessons import Ask, Code, Explore, Lesson, Page, Text, Try
from simulator.tui.widgets.quiz import QuizForm

NO_LESSONS = "No lessons are installed (they live in simulator/lessons/text/)."
WHERE_TRIED = {
    "stepper": "the main screen, to step through",
    "compare": "the compare screen: POP3 and IMAP side by side",
    "console": "the play screen, to type to {host} port {port} yourself",
}


class TryButton(Button):
    """A lesson's scenario to explore; pressing it leaves the lesson for the simulator."""

    def __init__(self, spec: Try) -> None:
        super().__init__(Content(f"Try it: open {spec.scenario} in the simulator"), classes="lesson-try")
        self.spec = spec


def code_markdown(source: str) -> str:
    """A notebook cell as Markdown: a caption, then the source in a fenced Python block."""
    fence = "````" if "```" in source else "```"
    return f"*Python, to run in a notebook or in `python`:*\n\n{fence}python\n{source}\n{fence}"


class LessonsScreen(Screen[Try | None]):
    """Lessons on the left, the current page on the right; answers with the scenario to try, or None on Escape."""

    CSS_PATH = "lessons.tcss"
    # In a quiz's answer line these keys are typed (Textual gives printable keys to an Input): Tab leaves it.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right_square_bracket", "next_page", "Next page", key_display="]"),
        Binding("left_square_bracket", "previous_page", "Previous page", key_display="["),
        Binding("escape", "leave", "Back"),
    ]

    def __init__(self, lessons: Sequence[Lesson], current: str | None = None) -> None:
        """Args:
        lessons: the course, in order (`simulator.lessons.lessons()`).
        current: the id of the lesson to open on; the first one when None.
        """
        super().__init__()
        self.lessons = list(lessons)
        self._pages = {lesson.id: lesson.pages() for lesson in self.lessons}
        self._page_shown = {lesson.id: 0 for lesson in self.lessons}  # each lesson's page, kept while away
        self.lesson: Lesson | None = self.lessons[0] if self.lessons else None
        self._composed = False  # pages are built on demand, once the screen's own widgets are there
        if current is not None:
            self.show_lesson(current)

    # --- where we are ---------------------------------------------------------------------------

    @property
    def pages(self) -> list[Page]:
        """The current lesson's pages."""
        return self._pages[self.lesson.id] if self.lesson is not None else []

    @property
    def page(self) -> int:
        """The index of the page shown in the current lesson."""
        return self._page_shown[self.lesson.id] if self.lesson is not None else 0

    def show_lesson(self, lesson_id: str, page: int | None = None) -> None:
        """Go to a lesson (by id or file name), on the page it was left at unless `page` is given."""
        found = next((lesson for lesson in self.lessons if lesson_id in (lesson.id, lesson.slug)), None)
        if found is None:
            raise KeyError(f"no lesson {lesson_id!r}")
        self.lesson = found
        if page is not None:
            self._page_shown[found.id] = min(max(page, 0), len(self._pages[found.id]) - 1)
        self._show()

    # --- drawing --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="lessons-panes"):
            options = [Option(self._entry(lesson), id=f"lesson-{lesson.id}") for lesson in self.lessons]
            yield OptionList(*options, id="lessons-list")
            with Vertical(id="lessons-right"):
                yield Static(id="lessons-where")
                yield ContentSwitcher(id="lessons-pages")
        yield Footer()

    @staticmethod
    def _entry(lesson: Lesson) -> RichText:
        entry = RichText()
        entry.append(lesson.id, style="bold")
        entry.append(f"  {lesson.title}\n")
        entry.append(f"    {lesson.meta.minutes} min", style="dim")
        return entry

    def on_mount(self) -> None:
        self.title = "Lessons"
        self.query_one("#lessons-list").border_title = "Lessons"
        self._composed = True
        if self.lesson is None:
            self.query_one("#lessons-where", Static).update(NO_LESSONS)
            return
        self._show()

    def _show(self) -> None:
        """Show the current lesson's current page, building it the first time it is shown."""
        if not self._composed or self.lesson is None:
            return
        lesson, index = self.lesson, self.page
        page = self.pages[index]
        self.sub_title = f"{lesson.id} {lesson.title}"
        self.query_one("#lessons-where", Static).update(
            Content.assemble(
                (f"Lesson {lesson.id}", "bold"),
                f" · {lesson.title} · page {index + 1} of {len(self.pages)}: ",
                (page.title, "bold"),
            )
        )
        switcher = self.query_one(ContentSwitcher)
        page_id = f"page-{lesson.id}-{index}"
        found = switcher.query_children(f"#{page_id}")
        if found:
            shown = found.first()
        else:
            shown = VerticalScroll(*self._page_widgets(lesson, index), id=page_id, classes="lesson-page")
            shown.display = False
            switcher.mount(shown)
        switcher.current = page_id
        shown.focus()  # the keys scroll the page in view, not one hidden with the page before
        options = self.query_one(OptionList)
        options.highlighted = self.lessons.index(lesson)

    def _page_widgets(self, lesson: Lesson, index: int) -> list[Widget]:
        """The parts of one page in order, with the goals before the first and the summary after the last."""
        page = self._pages[lesson.id][index]
        widgets: list[Widget] = [Markdown(f"# {page.title}", classes="lesson-heading")]
        if index == 0:
            widgets.append(Markdown(lesson.goals_markdown(), classes="lesson-goals"))
        for part in page.parts:
            if isinstance(part, Text):
                widgets.append(Markdown(part.markdown, classes="lesson-text"))
            elif isinstance(part, Code):
                widgets.append(Markdown(code_markdown(part.source), classes="lesson-code"))
            elif isinstance(part, Ask):
                widgets.append(QuizForm(part.question, id=f"quiz-{lesson.id}-{part.question.id}"))
            elif isinstance(part, Explore):
                where = WHERE_TRIED[part.spec.widget].format(host=part.spec.host, port=part.spec.port)
                widgets.append(Static(Content(f"Opens {where}."), classes="lesson-try-caption"))
                widgets.append(TryButton(part.spec))
        if index == len(self._pages[lesson.id]) - 1:
            widgets.append(Markdown(lesson.summary_markdown(), classes="lesson-summary"))
        return widgets

    # --- moving ---------------------------------------------------------------------------------

    def action_next_page(self) -> None:
        self._turn(+1)

    def action_previous_page(self) -> None:
        self._turn(-1)

    def _turn(self, by: int) -> None:
        if self.lesson is None:
            return
        target = self.page + by
        if not 0 <= target < len(self.pages):
            end = "last" if by > 0 else "first"
            self.notify(f"This is the {end} page of lesson {self.lesson.id}; the list on the left has the others.")
            return
        self._page_shown[self.lesson.id] = target
        self._show()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.show_lesson(event.option.id.removeprefix("lesson-"))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if isinstance(event.button, TryButton):
            event.stop()
            self.dismiss(event.button.spec)

    def action_leave(self) -> None:
        self.dismiss(None)
