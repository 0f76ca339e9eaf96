"""Notebook 10, writing a scenario: executed top to bottom in a fresh folder, then used as a teacher would."""

from __future__ import annotations

from pathlib import Path

from tests.notebook.kernel import WIDGET, assert_every_quiz_answered, outputs_of, run_notebook, text_of

CHECK = r"""
from pathlib import Path as _Path

# The model scenario's Stepper: a few steps, then run.
arrows = _click_step(model, 5)
position = model.position
model.run_button.click()
model_outcome = sorted((o.recipient, o.status) for o in model.sim.outcome())

# The teacher's own file in a Stepper, as the lesson suggests: run it and compare with the prediction.
own = Stepper(str(work / "my-lesson.toml"))
own.run_button.click()
own_outcome = sorted((o.recipient, o.status) for o in own.sim.outcome())
predicted = predict.choices[predict.answer]

quizzes = _answer_every_quiz()
print(_json.dumps({
    "arrows": arrows, "position": position, "model_outcome": model_outcome, "own_outcome": own_outcome,
    "predicted": predicted, "work": str(work), "files": sorted(p.name for p in work.iterdir()),
    "here": sorted(p.name for p in _Path(".").iterdir()), "quizzes": quizzes,
}))
"""


def test_notebook_10_runs_and_its_widgets_work(tmp_path: Path) -> None:
    notebook, seen = run_notebook("10-writing-a-scenario", CHECK, tmp_path)

    # The files are written in a fresh scratch folder, not in the notebook's own (shared in a class).
    written = {"my-lesson.toml", "broken.toml", "wrong.toml", "my-lesson.md"}
    assert written == set(seen["files"]) and Path(seen["work"]).name.startswith("smtpsim-")
    assert not written & set(seen["here"])
    # One Stepper, four quizzes from the lesson and three built in code.
    assert len(outputs_of(notebook, WIDGET)) == 8
    printed = text_of(notebook)
    assert " 900.140 s  mx.example.org delivers" in printed and "smtp.example.com sends a bounce to alice" in printed
    assert "carol@example.org bounced at smtp.example.com 550 5.1.1 <carol@example.org>" in printed
    assert "broken.toml: host[3].role: expected 'client', 'mail-server', 'dns' or 'oauth', got 'dns-server'" in printed
    assert "broken.toml: host[1].msa: expected a mail-server with submission = true" in printed
    assert "broken.toml: message[1].subjet: unknown field (did you mean 'subject'?)" in printed
    assert "not met: []" in printed
    assert "not met: expect[2]: message 1 to carol@example.org: expected delivered, got bounced" in printed
    assert "the answer, read from the trace: 550 5.1.1 <carol@example.org>" in printed
    assert "When the MX is down - ['Introduction', 'Step through it']" in printed
    assert "a mistake, reported: my-lesson.md:18: answer 3 is not the index of one of the 3 choices" in printed

    # The Steppers: the model grows step by step; the teacher's file runs as the expectation says.
    assert seen["position"] == 5 and seen["arrows"] == sorted(seen["arrows"]) and seen["arrows"][-1] > 0
    assert ["nobody@example.org", "bounced"] in seen["model_outcome"]
    assert seen["own_outcome"] == [["bob@example.org", "delivered"], ["carol@example.org", "bounced"]]
    assert seen["predicted"].startswith("Bounced")

    quizzes = seen["quizzes"]
    assert set(quizzes) == {"typo", "check-empty", "carol-fate", "carol-rcpt", "nobody", "first-retry", "where-answer"}
    assert_every_quiz_answered(quizzes)
    assert quizzes["carol-rcpt"]["right"][1].startswith("Right: the server answers 550 5.1.1 <carol@example.org>")
    assert quizzes["nobody"]["right"][1].startswith("Right: the server answers 550 5.1.1 <nobody@example.org>")
    assert quizzes["carol-fate"]["wrong"][1].startswith("Not quite. A refused connection is temporary")
