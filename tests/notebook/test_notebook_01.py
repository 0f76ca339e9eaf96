"""Notebook 01, the first SMTP dialogue: executed top to bottom, then used as a learner would."""

from __future__ import annotations

from pathlib import Path

from tests.notebook.kernel import outputs_of, run_notebook, text_of

WIDGET = "application/vnd.jupyter.widget-view+json"

CHECK = """
stepper = _live("Stepper")[0]
arrows = [stepper.diagram.value.count('class="step arrow')]
for _ in range(6):
    stepper.step_button.click()
    arrows.append(stepper.diagram.value.count('class="step arrow'))
position_after_steps = stepper.position
stepper.back_button.click()
position_after_back = stepper.position
injected = stepper.inject("down:mx.example.org,for=3600")
stepper.run_button.click()
outcome = [(o.recipient, o.status) for o in stepper.sim.outcome()]
delivered_at = [e.time for e in stepper.sim.trace if e.kind == "deliver"]

quizzes = {}
for quiz in _live("Quiz"):
    question = quiz.question
    if question.kind == "choice":
        wrong, right = (question.answer + 1) % len(question.choices), question.answer
    else:
        wrong, right = "250" if question.reply[0][:3] != "250" else "550", question.reply[0][:3]
    first = quiz.answer(wrong)
    after_wrong = quiz.correct
    second = quiz.answer(right)
    quizzes[question.id] = {
        "wrong": [after_wrong, first.text],
        "right": [quiz.correct, second.text],
        "attempts": quiz.attempts,
        "feedback_shows_right": second.text[:20] in quiz.feedback.value,
    }
print(_json.dumps({
    "arrows": arrows, "position_after_steps": position_after_steps, "position_after_back": position_after_back,
    "injected": injected, "outcome": outcome, "delivered_at": delivered_at, "quizzes": quizzes,
}))
"""


def test_notebook_01_runs_and_its_widgets_work(tmp_path: Path) -> None:
    notebook, seen = run_notebook("01-first-smtp-dialogue", CHECK, tmp_path)

    # The learner's cells: one Stepper and three quizzes shown, the dialogue and TCP's handshake printed.
    assert len(outputs_of(notebook, WIDGET)) == 4
    printed = text_of(notebook)
    assert "S: 220 smtp.example.com ESMTP" in printed
    assert "C: MAIL FROM:<alice@example.com>" in printed and "S: 221 2.0.0 Bye" in printed
    tcp = printed[printed.index("SYN to port 587") :]
    assert tcp.index("SYN-ACK") < tcp.index(" ACK") < tcp.index("220 smtp.example.com ESMTP")

    # Clicking Step six times: the position follows and the diagram gains arrows (a connect has none).
    assert seen["position_after_steps"] == 6 and seen["position_after_back"] == 5
    assert seen["arrows"][0] == 0 and seen["arrows"][-1] >= 5
    assert seen["arrows"] == sorted(seen["arrows"])

    # The MX taken down for an hour at this point: the message waits, and arrives after the hour.
    assert seen["injected"] is True
    assert seen["outcome"] == [["bob@example.org", "delivered"]]
    assert seen["delivered_at"] and min(seen["delivered_at"]) >= 3600

    # Each quiz: wrong first (with its reason), then right.
    quizzes = seen["quizzes"]
    assert set(quizzes) == {"who-first", "after-data", "port"}
    for answers in quizzes.values():
        assert answers["wrong"][0] is False and answers["right"][0] is True
        assert answers["right"][1].startswith("Right") and answers["attempts"] == 2
        assert answers["feedback_shows_right"]
    assert quizzes["who-first"]["wrong"][1].startswith("Not quite. DNS was needed")
    assert quizzes["after-data"]["right"][1].startswith("Right: the server answers 354")
    assert "a 2xx reply means success" in quizzes["after-data"]["wrong"][1]
