"""The Lessons screen: lesson 01 walked page by page with the keys, its quizzes answered wrong then right, Try.

The right answers come from the question objects themselves (never written here), so these
tests follow the lesson as its author changes it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input, Markdown, RadioSet, Static

from simulator import Simulation, cli
from simulator.lessons import (
    BrokenLineQuestion,
    ChoiceQuestion,
    Explore,
    Lesson,
    NextReplyQuestion,
    Question,
    lesson,
    parse,
)
from simulator.tui.app import SmtpsimApp
from simulator.tui.commands import ControlCommands
from simulator.tui.controls import APP_CONTROLS
from simulator.tui.screens.compare import CompareScreen
from simulator.tui.screens.help import HelpScreen
from simulator.tui.screens.lessons import LessonsScreen, TryButton
from simulator.tui.screens.main import MainScreen
from simulator.tui.screens.play import PlayScreen
from simulator.tui.widgets.quiz import RIGHT, WRONG, QuizForm
from tests.tui.helpers import drive, make_app

LESSONS = next(c for c in APP_CONTROLS if c.action == "app.lessons")

# A small lesson of our own with each kind of question and each kind of scenario to try.
SAMPLE = """\
+++
id = "42"
title = "Every kind of part"
minutes = 5
goals = ["answer each kind of question"]
summary = ["all kinds shown"]
+++

Before the first heading.

## Questions

```quiz
id = "first"
kind = "choice"
prompt = "Who speaks first in SMTP?"
choices = ["The client", "The server"]
answer = 1
wrong = ["No: the client waits for the greeting.", ""]
```

```quiz
id = "rcpt"
kind = "next-reply"
prompt = "What does mx.example.org answer to `RCPT TO:<bob@example.org>`?"
scenario = "bounce"
after = "RCPT TO:<bob@example.org>"
server = "mx.example.org"
```

```quiz
id = "broken"
kind = "broken-line"
prompt = "Which line broke the signature?"
scenario = "dkim-tampered"
mailbox = "bob@example.org"
subject = "everyone"
```

## Scenarios

```python
stepper.sim.outcome()
```

```try
scenario = "mx-down-retry"
seed = 7
faults = ["greylist:mx.example.org=300"]
steps = 4
```

```try
scenario = "pop3-vs-imap"
widget = "compare"
```

```try
scenario = "basic"
widget = "console"
host = "mx.example.org"
port = 25
```
"""


@pytest.fixture
def sample(tmp_path: Path) -> Lesson:
    path = tmp_path / "42-every-kind.md"
    path.write_text(SAMPLE, encoding="utf-8")
    return parse(path.read_text(encoding="utf-8"), str(path))


# --- helpers ------------------------------------------------------------------------------------


def answers(question: Question) -> tuple[int | str, int | str]:
    """A wrong answer and the right one, read off the question."""
    if isinstance(question, ChoiceQuestion):
        return next(i for i in range(len(question.choices)) if i != question.answer), question.answer
    if isinstance(question, NextReplyQuestion):
        right = question.code
        return ("550" if right != "550" else "250"), right
    assert isinstance(question, BrokenLineQuestion)
    options = question.options()
    assert options is not None
    right = question.breaking[0]
    return next(i for i in range(len(options)) if i not in question.breaking), right


def lessons_screen(pilot: Pilot[None]) -> LessonsScreen:
    screen = pilot.app.screen
    assert isinstance(screen, LessonsScreen)
    return screen


def where(screen: LessonsScreen) -> str:
    return str(screen.query_one("#lessons-where", Static).content)


def page_shown(screen: LessonsScreen) -> str:
    """The id of the page in view."""
    assert screen.lesson is not None
    return f"page-{screen.lesson.id}-{screen.page}"


def feedback(form: QuizForm) -> str:
    return str(form.query_one(".quiz-feedback", Static).content)


async def answer_by_keys(pilot: Pilot[None], form: QuizForm, answer: int | str) -> None:
    """Answer as a learner at the keyboard: arrows and Enter in the options, then Tab to Check and Enter."""
    if isinstance(answer, str):
        line = form.query_one(Input)
        line.focus()
        line.value = ""
        await pilot.press(*answer, "enter")
    else:
        options = form.query_one(RadioSet)
        options.focus()
        await pilot.pause()
        at = max(options.pressed_index, 0)  # the highlight starts on the chosen option, else on the first
        await pilot.press(*(["down"] * (answer - at) if answer >= at else ["up"] * (at - answer)), "enter")
        await pilot.press("tab")
        assert isinstance(pilot.app.focused, Button)
        assert pilot.app.focused.has_class("quiz-check")
        await pilot.press("enter")
    await pilot.pause()


async def answer_wrong_then_right(pilot: Pilot[None], form: QuizForm) -> None:
    question = form.question
    wrong, right = answers(question)
    await answer_by_keys(pilot, form, wrong)
    assert form.correct is False
    assert form.attempts == 1
    assert feedback(form) == f"{WRONG} {question.check(wrong).text}"
    assert form.query_one(".quiz-feedback").has_class("-wrong")
    await answer_by_keys(pilot, form, right)
    assert form.correct is True
    assert form.attempts == 2
    assert feedback(form).startswith(f"{RIGHT} ")
    assert feedback(form) == f"{RIGHT} {question.check(right).text}"
    assert form.query_one(".quiz-feedback").has_class("-right")


async def walk(pilot: Pilot[None], course: Lesson) -> list[QuizForm]:
    """Page through a lesson from its first page to its last with `]`, answering every quiz on the way."""
    screen = lessons_screen(pilot)
    pages = course.pages()
    forms: list[QuizForm] = []
    for number, page in enumerate(pages):
        assert screen.page == number
        assert f"page {number + 1} of {len(pages)}: {page.title}" in where(screen)
        shown = screen.query_one(f"#{page_shown(screen)}")
        assert shown.display
        headings = [m.source for m in shown.query(Markdown)]
        assert headings[0] == f"# {page.title}"
        assert (course.goals_markdown() in headings) == (number == 0)
        assert (course.summary_markdown() in headings) == (number == len(pages) - 1)
        for form in shown.query(QuizForm):
            await answer_wrong_then_right(pilot, form)
            forms.append(form)
        await pilot.press("right_square_bracket")
    assert screen.page == len(pages) - 1  # the last page stays: there is no page after it
    return forms


# --- lesson 01 ----------------------------------------------------------------------------------


def test_lesson_01_walked_with_the_keys_every_quiz_wrong_then_right_then_try() -> None:
    course = lesson("01")
    app, notes = make_app()

    async def script(pilot: Pilot[None], main: MainScreen) -> None:
        await pilot.press(LESSONS.key)
        screen = lessons_screen(pilot)
        assert screen.lesson is not None
        assert screen.lesson.id == "01"  # the first lesson of the course
        forms = await walk(pilot, course)
        assert [f.question.id for f in forms] == [q.id for q in course.questions]
        assert "This is the last page of lesson 01" in notes.messages()[-1]
        # Back to the first page, and the answers are still there.
        await pilot.press(*["left_square_bracket"] * len(course.pages()))
        assert screen.page == 0
        assert all(form.correct for form in forms)
        # The first scenario to try: loaded on the main screen, which comes to the front.
        tries = [part.spec for page in course.pages() for part in page.parts if isinstance(part, Explore)]
        spec = tries[0]
        while not screen.query(TryButton).filter(f"#{page_shown(screen)} TryButton"):
            await pilot.press("right_square_bracket")
        button = screen.query_one(f"#{page_shown(screen)} TryButton", TryButton)
        assert str(button.label) == f"Try it: open {spec.scenario} in the simulator"
        button.focus()
        await pilot.press("enter")
        await pilot.pause()
        assert pilot.app.screen is main
        assert main.simulation.scenario == spec.scenario
        assert main.simulation.seed == spec.seed
        assert main.simulation.trace == []
        await pilot.press("s")  # and it runs there
        assert len(main.simulation.trace) == 1
        # L again: the lesson where it was left.
        left_at = screen.page
        await pilot.press(LESSONS.key)
        assert lessons_screen(pilot) is screen
        assert screen.page == left_at
        assert all(form.correct for form in forms)

    drive(app, script)


def test_escape_goes_back_to_the_main_screen() -> None:
    app, _ = make_app()

    async def script(pilot: Pilot[None], main: MainScreen) -> None:
        await pilot.press(LESSONS.key)
        lessons_screen(pilot)
        await pilot.press("escape")
        assert pilot.app.screen is main
        assert main.simulation.scenario == "basic"

    drive(app, script)


# --- every kind of part, on a lesson of our own ---------------------------------------------------


def test_each_kind_of_question_wrong_then_right(sample: Lesson) -> None:
    app, _ = make_app(lessons=[sample], lesson="42")

    async def script(pilot: Pilot[None], main: MainScreen) -> None:
        await pilot.pause()
        screen = lessons_screen(pilot)
        assert "Lesson 42" in where(screen)
        forms = await walk(pilot, sample)
        assert [type(f.question) for f in forms] == [ChoiceQuestion, NextReplyQuestion, BrokenLineQuestion]
        assert forms[1].query(Input)  # the reply code is typed, the others chosen
        assert not forms[0].query(Input)

    drive(app, script)


def test_checking_without_an_answer_asks_for_one_and_is_no_attempt(sample: Lesson) -> None:
    app, _ = make_app(lessons=[sample], lesson="42")

    async def script(pilot: Pilot[None], main: MainScreen) -> None:
        await pilot.pause()
        screen = lessons_screen(pilot)
        await pilot.press("right_square_bracket")
        form = screen.query_one("#quiz-42-first", QuizForm)
        form.query_one(Button).press()
        await pilot.pause()
        assert feedback(form) == f"{WRONG} Pick one of the answers first."
        assert form.attempts == 0
        assert form.correct is None

    drive(app, script)


def test_after_two_wrong_answers_the_answer_can_be_shown(sample: Lesson) -> None:
    app, _ = make_app(lessons=[sample], lesson="42")

    async def script(pilot: Pilot[None], main: MainScreen) -> None:
        await pilot.pause()
        screen = lessons_screen(pilot)
        await pilot.press("right_square_bracket")
        form = screen.query_one("#quiz-42-first", QuizForm)
        reveal = form.query_one(".quiz-reveal", Button)
        wrong, right = answers(form.question)
        await answer_by_keys(pilot, form, wrong)
        assert not reveal.display, "one wrong answer: try again first"
        await answer_by_keys(pilot, form, wrong)
        assert reveal.display, "offered after the second wrong answer"
        reveal.press()
        await pilot.pause()
        assert form.revealed and feedback(form) == f"→ {form.question.reveal()}"
        assert not reveal.display
        await answer_by_keys(pilot, form, right)
        assert form.correct is True and not reveal.display

    drive(app, script)


def test_code_is_shown_as_python_to_run(sample: Lesson) -> None:
    app, _ = make_app(lessons=[sample], lesson="42")

    async def script(pilot: Pilot[None], main: MainScreen) -> None:
        await pilot.pause()
        screen = lessons_screen(pilot)
        await pilot.press("right_square_bracket", "right_square_bracket")
        code = screen.query_one(f"#{page_shown(screen)} .lesson-code", Markdown).source
        assert "```python\nstepper.sim.outcome()\n```" in code
        assert "notebook" in code
        assert "python" in code.split("\n")[0]

    drive(app, script)


async def press_try(pilot: Pilot[None], number: int) -> None:
    screen = lessons_screen(pilot)
    screen.show_lesson("42", page=2)
    await pilot.pause()
    buttons = list(screen.query(f"#{page_shown(screen)} TryButton").results(TryButton))
    buttons[number].press()
    await pilot.pause()


def test_try_a_stepper_loads_the_scenario_with_its_seed_and_faults(sample: Lesson) -> None:
    app, _ = make_app(lessons=[sample], lesson="42")

    async def script(pilot: Pilot[None], main: MainScreen) -> None:
        await pilot.pause()
        await press_try(pilot, 0)
        assert pilot.app.screen is main
        assert (main.simulation.scenario, main.simulation.seed) == ("mx-down-retry", 7)
        in_effect = str(main.query_one("#faults-in-effect", Static).content)
        assert "greylist:mx.example.org=300" in in_effect
        assert len(main.simulation.trace) == 4, "the lesson's steps are taken, as the notebook's Stepper does"

    drive(app, script)


def test_try_compare_opens_the_compare_screen_on_that_scenario(sample: Lesson) -> None:
    app, _ = make_app(lessons=[sample], lesson="42")

    async def script(pilot: Pilot[None], main: MainScreen) -> None:
        await pilot.pause()
        await press_try(pilot, 1)
        assert isinstance(pilot.app.screen, CompareScreen)
        assert pilot.app.screen.simulation.scenario == "pop3-vs-imap"
        await pilot.app.workers.wait_for_complete()
        await pilot.press("escape")
        assert pilot.app.screen is main

    drive(app, script)


def test_try_console_opens_the_play_screen_connected_to_its_server(sample: Lesson) -> None:
    app, _ = make_app(lessons=[sample], lesson="42")

    async def script(pilot: Pilot[None], main: MainScreen) -> None:
        await pilot.pause()
        await press_try(pilot, 2)
        play = pilot.app.screen
        assert isinstance(play, PlayScreen)
        assert play.console is not None
        assert (play.console.service.host, play.console.service.port) == ("mx.example.org", 25)

    drive(app, script)


# --- found where every control is found -------------------------------------------------------------


def test_help_and_palette_list_lessons() -> None:
    app, _ = make_app()

    async def script(pilot: Pilot[None], main: MainScreen) -> None:
        hits = [hit async for hit in ControlCommands(main).discover()]
        assert LESSONS.title in [hit.text for hit in hits]
        assert LESSONS.title == "Lessons"
        await pilot.press("question_mark")
        assert isinstance(pilot.app.screen, HelpScreen)
        assert f"| `{LESSONS.key}` | {LESSONS.help} |" in pilot.app.screen.query_one(Markdown).source
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.press(*"Lessons")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(pilot.app.screen, LessonsScreen)

    drive(app, script)


# --- the command line -----------------------------------------------------------------------------


def test_tui_with_an_unknown_lesson_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert cli.main(["tui", "--lesson", "99"]) == cli.USAGE_ERROR
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert "99" in err


def test_tui_with_a_lesson_opens_the_lessons_screen_on_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    opened: list[tuple[str, str | None]] = []

    class App:
        def __init__(self, simulation: Simulation, *, lesson: str | None = None) -> None:
            opened.append((simulation.scenario, lesson))

        def run(self) -> None:
            pass

    monkeypatch.setattr("simulator.tui.app.SmtpsimApp", App)
    assert cli.main(["tui", "--lesson", "01-first-smtp-dialogue"]) == 0  # by id or by file name
    assert opened == [("basic", "01")]


# --- how it looks ---------------------------------------------------------------------------------


def test_snapshot(snap_compare: Callable[..., bool], sample: Lesson) -> None:
    """The questions page of the sample lesson, the choice answered wrong (the ✗ line)."""
    app = SmtpsimApp(Simulation.from_scenario("basic", seed=1), lessons=[sample], lesson="42")

    async def answer_wrong(pilot: Pilot[None]) -> None:
        await pilot.press("right_square_bracket")
        await pilot.pause()
        form = pilot.app.screen.query_one("#quiz-42-first", QuizForm)
        await answer_by_keys(pilot, form, 0)

    assert snap_compare(app, run_before=answer_wrong, terminal_size=(120, 40))
