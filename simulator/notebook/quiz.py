"""Quiz: one question of a lesson in a notebook, with its answers to choose from (or a box to type in).

The question decides what is right (`simulator.lessons.quiz`): this widget only offers its
options, passes the learner's answer to `check()`, and shows the feedback.
"""

from __future__ import annotations

import ipywidgets as widgets
from traitlets import Bool, Int

from simulator.lessons.quiz import REVEAL_AFTER, BrokenLineQuestion, ChoiceQuestion, Feedback, NextReplyQuestion
from simulator.notebook._markup import inline_code, notice_box

QUIZ_CLASS = "smtpsim-quiz"
# ipywidgets lays radio labels out on one line of fixed height, so a long answer runs over the next one:
# let them wrap (the style applies to this page's quizzes only).
WRAPPING = (
    f"<style>.{QUIZ_CLASS} .widget-radio-box label {{display: flex; align-items: flex-start; white-space: normal;"
    f" height: auto; line-height: 1.35; margin-bottom: 6px;}} .{QUIZ_CLASS} .widget-radio-box input"
    " {flex: none; order: -1; margin: 3px 6px 0 0;}</style>"
)
NOTHING_CHOSEN = "Choose an answer first."
NOTHING_TYPED = "Type an answer first."


class Quiz(widgets.VBox):
    """A question, its choices (RadioButtons) or an answer box (Text), a Check button and the feedback."""

    correct = Bool(None, allow_none=True, help="whether the last answer checked was right; None before any")
    attempts = Int(0, help="answers checked so far")
    revealed = Bool(False, help="whether the learner asked to see the answer")

    def __init__(self, question: ChoiceQuestion | NextReplyQuestion | BrokenLineQuestion) -> None:
        self.question = question
        self.prompt = widgets.HTML(f"<p><b>{inline_code(question.prompt)}</b></p>")
        options = question.options()
        self.choices: widgets.RadioButtons | None = None
        self.answer_box: widgets.Text | None = None
        if options is not None:
            labels = [option if option.strip() else "(an empty line)" for option in options]
            self.choices = widgets.RadioButtons(
                options=[(label, index) for index, label in enumerate(labels)],
                index=None,
                layout=widgets.Layout(width="auto"),
            )
            entry: widgets.Widget = self.choices
        else:
            self.answer_box = widgets.Text(placeholder="your answer")
            entry = self.answer_box
        self.check_button = widgets.Button(description="Check")
        # Offered only after REVEAL_AFTER wrong answers: trying comes first.
        self.reveal_button = widgets.Button(description="Show the answer", layout=widgets.Layout(display="none"))
        self.feedback = widgets.HTML()
        self.check_button.on_click(lambda _: self._check_entered())
        self.reveal_button.on_click(lambda _: self.reveal())
        buttons = widgets.HBox([self.check_button, self.reveal_button])
        super().__init__(children=[widgets.HTML(WRAPPING), self.prompt, entry, buttons, self.feedback])
        self.add_class(QUIZ_CLASS)

    def answer(self, value: int | str) -> Feedback:
        """Choose (an index or an option's text) or type `value`, check it, and show the feedback."""
        if self.choices is not None:
            index = value if isinstance(value, int) else self._index_of(value)
            if index is not None and 0 <= index < len(self.choices.options):
                self.choices.value = index
        elif self.answer_box is not None:
            self.answer_box.value = str(value)
        feedback = self.question.check(value)
        self.attempts += 1
        self.correct = feedback.correct
        self.feedback.value = notice_box(feedback.text, "good" if feedback.correct else "bad")
        stuck = not feedback.correct and self.attempts >= REVEAL_AFTER
        self.reveal_button.layout.display = None if stuck and not self.revealed else "none"
        return feedback

    def reveal(self) -> str:
        """Show the answer and why (the question's own words); the learner can still check it afterwards."""
        text = self.question.reveal()
        self.revealed = True
        self.reveal_button.layout.display = "none"
        self.feedback.value = notice_box(text)
        return text

    def _check_entered(self) -> None:
        """The Check button: whatever is chosen or typed, or a word that nothing is."""
        if self.choices is not None:
            chosen = self.choices.value
            if chosen is None:
                self.feedback.value = notice_box(NOTHING_CHOSEN)
                return
            self.answer(int(chosen))
        elif self.answer_box is not None:
            typed = self.answer_box.value.strip()
            if not typed:
                self.feedback.value = notice_box(NOTHING_TYPED)
                return
            self.answer(typed)

    def _index_of(self, text: str) -> int | None:
        options = self.question.options() or []
        return options.index(text) if text in options else None
