"""Notebook 09, mail at scale: executed top to bottom (plots included), then used as a learner would."""

from __future__ import annotations

from pathlib import Path

from tests.notebook.kernel import WIDGET, assert_every_quiz_answered, outputs_of, run_notebook, text_of

CHECK = r"""
# The rate-limited Stepper: step until the first 421, as the lesson asks.
arrows = [limited.diagram.value.count('class="step arrow')]
for _ in range(300):
    limited.step_button.click()
    if any(e.summary.startswith("421") for e in limited.sim.trace):
        break
arrows.append(limited.diagram.value.count('class="step arrow'))
at_first_421 = {
    "position": limited.position, "now": limited.sim.now, "queued": len(limited.sim.queue("smtp.example.com")),
}
queues_pane = limited.queues.value
limited.run_button.click()
outcome = [o.status for o in limited.sim.outcome()]
delivered_at = sorted(e.time for e in limited.sim.trace if e.kind == "deliver")

quizzes = _answer_every_quiz()
print(_json.dumps({
    "arrows": arrows, "at_first_421": at_first_421, "queues_pane": queues_pane, "outcome": outcome,
    "delivered_at": delivered_at, "quizzes": quizzes,
    "runs": {str(rate): [len(r["arrived"]), max(r["queued"])] for rate, r in runs.items()},
}))
"""


def test_notebook_09_runs_plots_and_its_widgets_work(tmp_path: Path) -> None:
    notebook, seen = run_notebook("09-scale", CHECK, tmp_path)  # within the minute, as run_notebook checks

    # One Stepper and four quizzes; three figures rendered as PNG.
    assert len(outputs_of(notebook, WIDGET)) == 5
    assert len(outputs_of(notebook, "image/png")) == 3
    printed = text_of(notebook)
    assert "   20/s        200         0.100 s" in printed and "  400/s        200         0.100 s" in printed
    assert "time in the queue: 0.080 s on the default link, 6.025 s on the slow one" in printed
    assert "Little's law: 20 messages/s x 6.02 s = 120 messages in the queue" in printed
    assert "measured, on average between 7 s and 10 s: 120" in printed
    assert "delivered 300 of 300; median latency 300 s, longest 4500 s" in printed
    assert "connections greeted with 421: 305" in printed
    assert "delivered between  4500 s and  4800 s: 1" in printed
    assert seen["runs"] == {"20": [200, 2], "100": [200, 6], "400": [200, 25]}

    # The Stepper: at the first 421 two connections are turned away and three messages are queued.
    assert seen["arrows"][0] == 0 and seen["arrows"][1] > 5
    assert abs(seen["at_first_421"]["now"] - 0.09) < 1e-6 and seen["at_first_421"]["queued"] == 3
    assert seen["outcome"] == ["delivered"] * 3
    assert len(seen["delivered_at"]) == 3 and 900 < seen["delivered_at"][-1] < 901

    quizzes = seen["quizzes"]
    assert set(quizzes) == {"little", "waves", "greylisted", "scale-out"}
    assert_every_quiz_answered(quizzes)
    assert quizzes["greylisted"]["right"][1].startswith("Right: the server answers 451 4.7.1")
    assert (
        quizzes["little"]["wrong"][1]
        == "Not quite. 2 s is how long one message waits; while it waits, others keep arriving."
    )
