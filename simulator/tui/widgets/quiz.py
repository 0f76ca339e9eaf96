"""One quiz question of a lesson as a form: the prompt, the options (or a line to type in), Check, and the feedback.

The question itself decides what is right and what to say (`simulator.lessons.quiz`):
this widget only offers its options, passes the learner's answer to `check()` and shows
the `Feedback`, marked ✓ or ✗ so that right and wrong do not depend on colour alone.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Input, Markdown, RadioButton, RadioSet, Static

from simulator.lessons import REVEAL_AFTER, Feedback, Question

RIGHT, WRONG = "✓", "✗"


class QuizForm(Vertical):
    """A question to answer: choose an option (or type one) and press Check; `correct` and `attempts` record it."""

    DEFAULT_CSS = """
    QuizForm {
        height: auto;
        border: round $secondary;
        padding: 0 1;
        margin: 1 0;
    }
    QuizForm:focus-within {
        border: round $accent;
    }
    QuizForm > Markdown {
        margin: 0;
    }
    QuizForm RadioSet {
        width: 1fr;
    }
    QuizForm .quiz-answer-bar {
        height: auto;
    }
    QuizForm .quiz-answer-bar Input {
        width: 32;
    }
    QuizForm .quiz-check, QuizForm .quiz-reveal {
        margin-left: 1;
    }
    QuizForm .quiz-feedback {
        height: auto;
        margin-top: 1;
    }
    QuizForm .quiz-feedback.-right {
        color: $text-success;
        text-style: bold;
    }
    QuizForm .quiz-feedback.-wrong {
        color: $text-error;
        text-style: bold;
    }
    """

    def __init__(self, question: Question, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.question = question
        self.correct: bool | None = None  # None until an answer is checked; then whether the last one was right
        self.attempts = 0  # answers checked (an empty answer is not one)
        self.feedback: Feedback | None = None
        self.revealed = False  # the learner asked to see the answer

    def compose(self) -> ComposeResult:
        yield Markdown(f"**Question.** {self.question.prompt}")
        options = self.question.options()
        reveal = Button("Show the answer", classes="quiz-reveal")
        reveal.display = False  # offered only after REVEAL_AFTER wrong answers: trying comes first
        if options is None:
            with Horizontal(classes="quiz-answer-bar"):
                yield Input(placeholder="your answer; Enter checks", classes="quiz-input")
                yield Button("Check", classes="quiz-check")
                yield reveal
        else:
            # Content, not str: an option is shown as written, never read as markup.
            yield RadioSet(*(RadioButton(Content(option)) for option in options), classes="quiz-options")
            with Horizontal(classes="quiz-answer-bar"):
                yield Button("Check", classes="quiz-check")
                yield reveal
        yield Static("", classes="quiz-feedback")

    def on_mount(self) -> None:
        self.border_title = "Quiz"

    @property
    def typed(self) -> bool:
        """Whether the answer is typed in (no options to choose from)."""
        return self.question.options() is None

    def current_answer(self) -> int | str | None:
        """What the learner has chosen or typed so far; None when nothing yet."""
        if self.typed:
            value = self.query_one(Input).value.strip()
            return value or None
        index = self.query_one(RadioSet).pressed_index
        return index if index >= 0 else None

    def check(self) -> Feedback:
        """Check the current answer and show what the question says to it."""
        answer = self.current_answer()
        if answer is None:
            hint = "Type an answer first." if self.typed else "Pick one of the answers first."
            feedback = Feedback(False, hint)
        else:
            feedback = self.question.check(answer)
            self.attempts += 1
            self.correct = feedback.correct
        self.feedback = feedback
        line = self.query_one(".quiz-feedback", Static)
        line.update(Content(f"{RIGHT if feedback.correct else WRONG} {feedback.text}"))
        line.set_class(feedback.correct, "-right")
        line.set_class(not feedback.correct, "-wrong")
        if feedback.correct and self.typed and self.query_one(Input).has_focus:
            self.query_one(".quiz-check", Button).focus()  # out of the answer line, so that the page's keys work
        stuck = answer is not None and not feedback.correct and self.attempts >= REVEAL_AFTER
        self.query_one(".quiz-reveal", Button).display = stuck and not self.revealed
        return feedback

    def reveal(self) -> str:
        """Show the answer and why, in the question's own words; checking an answer afterwards still works."""
        text = self.question.reveal()
        self.revealed = True
        self.query_one(".quiz-reveal", Button).display = False
        line = self.query_one(".quiz-feedback", Static)
        line.update(Content(f"→ {text}"))
        line.set_class(False, "-right")
        line.set_class(False, "-wrong")
        return text

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.has_class("quiz-check"):
            event.stop()
            self.check()
        elif event.button.has_class("quiz-reveal"):
            event.stop()
            self.reveal()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.check()
