"""Notebook 01, the first SMTP dialogue: executed top to bottom, then used as a learner would."""

from __future__ import annotations

from pathlib import Path

from tests.notebook.kernel import WIDGET, assert_every_quiz_answered, outputs_of, run_notebook, text_of

CHECK = """
stepper = _live("Stepper")[0]
arrows = _click_step(stepper, 6)
position_after_steps = stepper.position
stepper.back_button.click()
position_after_back = stepper.position
injected = stepper.inject("down:mx.example.org,for=3600")
stepper.run_button.click()
outcome = [(o.recipient, o.status) for o in stepper.sim.outcome()]
delivered_at = [e.time for e in stepper.sim.trace if e.kind == "deliver"]

quizzes = _answer_every_quiz()
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
    assert_every_quiz_answered(quizzes)
    assert quizzes["who-first"]["wrong"][1].startswith("Not quite. DNS was needed")
    assert quizzes["after-data"]["right"][1].startswith("Right: the server answers 354")
    assert "a 2xx reply means success" in quizzes["after-data"]["wrong"][1]
