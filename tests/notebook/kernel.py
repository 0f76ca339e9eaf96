"""Run a tutorial notebook top to bottom in a fresh Jupyter kernel, then a test's own cell after it.

The test's cell runs in the same kernel, after the learner's cells, so it can click the widgets
the notebook made (the live ones, found through ipywidgets' registry) and print what it saw as
one JSON line for the test to read. A cell that raises fails the run (nbclient's
CellExecutionError names the cell). Each notebook gets a minute, as the course promises.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
WIDGET = "application/vnd.jupyter.widget-view+json"  # the output of a cell that shows a widget
MINUTE = 60.0  # what the course promises for each notebook, run top to bottom
NOTEBOOKS = ROOT / "notebooks"

# Helpers the test cells share: the live widgets of a kind, in the order the notebook made them.
PRELUDE = """
import html as _html
import json as _json
from ipywidgets import Widget as _Widget

def _live(kind):
    return [w for w in list(_Widget.widgets.values()) if type(w).__name__ == kind]

def _arrows(stepper):
    return stepper.diagram.value.count('class="step arrow')

def _click_step(stepper, times):
    # Step clicked `times` times; the diagram's arrow count before and after each click.
    counts = [_arrows(stepper)]
    for _ in range(times):
        stepper.step_button.click()
        counts.append(_arrows(stepper))
    return counts

_OTHER = {"SMTP": ("250", "550"), "POP3": ("-ERR", "+OK"), "IMAP": ("NO", "OK")}

def _wrong_and_right(question):
    if question.kind == "choice":
        return (question.answer + 1) % len(question.choices), question.answer
    if question.kind == "broken-line":
        lines = question.options()
        unchanged = [i for i, line in enumerate(lines) if line.startswith("From:")]
        return unchanged[0], question.breaking[0]
    code = question.code
    first, second = _OTHER["SMTP" if code[:1].isdigit() else "POP3" if code in ("+OK", "-ERR") else "IMAP"]
    return (first if code != first else second), code

def _answer_every_quiz():
    # Each live Quiz answered as a learner would: a wrong answer first, then the right one.
    found = {}
    for quiz in _live("Quiz"):
        question = quiz.question
        wrong, right = _wrong_and_right(question)
        first = quiz.answer(wrong)
        after_wrong = quiz.correct
        second = quiz.answer(right)
        found[question.id] = {
            "wrong": [after_wrong, first.text],
            "right": [quiz.correct, second.text],
            "attempts": quiz.attempts,
            "feedback_shows_right": second.text[:40] in _html.unescape(quiz.feedback.value),
            "right_option": question.options()[right] if question.kind != "next-reply" else right,
        }
    return found
"""


def run_notebook(name: str, check: str, tmp_path: Path) -> tuple[Any, dict[str, Any]]:
    """Execute notebooks/NAME.ipynb and then `check`; return the executed notebook and the JSON `check` printed."""
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(PRELUDE + "\n" + check))
    client = NotebookClient(
        notebook,
        timeout=int(MINUTE),  # per cell; the whole notebook is held to the same minute below
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    start = time.monotonic()
    client.execute()
    elapsed = time.monotonic() - start
    assert elapsed < MINUTE, f"{name} took {elapsed:.0f} s; a notebook of the course runs in under a minute"
    printed = "".join(
        output.get("text", "") for output in notebook.cells[-1].outputs if output.get("output_type") == "stream"
    )
    lines = [line for line in printed.splitlines() if line.startswith("{")]
    assert lines, f"the check cell printed no JSON line; it printed {printed!r}"
    return notebook, json.loads(lines[-1])


def outputs_of(notebook: Any, mime: str) -> list[Any]:
    """Every output of the learner's cells (the check cell left out) that carries `mime`."""
    found = []
    for cell in notebook.cells[:-1]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if mime in data:
                found.append(data[mime])
    return found


def text_of(notebook: Any) -> str:
    """Everything the learner's cells printed."""
    return "".join(
        output.get("text", "")
        for cell in notebook.cells[:-1]
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    )


def assert_every_quiz_answered(quizzes: dict[str, Any]) -> None:
    """Each quiz of the notebook was wrong first, then right, and its widget showed why."""
    assert quizzes, "the notebook shows no quiz"
    for qid, answers in quizzes.items():
        assert answers["wrong"][0] is False and answers["right"][0] is True, qid
        assert answers["right"][1].startswith("Right") and answers["attempts"] == 2, qid
        assert answers["feedback_shows_right"], qid
