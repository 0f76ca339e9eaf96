"""Notebook 04, failures, retries and bounces: executed top to bottom, then used as a learner would."""

from __future__ import annotations

from pathlib import Path

from tests.notebook.kernel import WIDGET, assert_every_quiz_answered, outputs_of, run_notebook, text_of

QUIZZES = """
quizzes = _answer_every_quiz()
"""

CHECK = (
    QUIZZES
    + """
steppers = {s.scenario: s for s in _live("Stepper")}
retry = steppers["mx-down-retry"]
retry.run_button.click()
retry_delivered = [e.time for e in retry.sim.trace if e.kind == "deliver"]
retry_defers = [e.summary for e in retry.sim.trace if "defers" in e.summary]

breakit = steppers["basic"]
arrows = _click_step(breakit, 11)
position = breakit.position
last = breakit.sim.trace[-1].summary
offered = "down:mx.example.org,for=3600" in breakit.fault_menu.options
breakit.fault_menu.value = "down:mx.example.org,for=3600"
breakit.inject_button.click()
injected_notice = breakit.notice
more = 0
while breakit.sim.trace[-1].kind != "defer" and more < 30:
    breakit.step_button.click()
    more += 1
queue_shown = breakit.queues.value
breakit.run_button.click()
broken_delivered = [e.time for e in breakit.sim.trace if e.kind == "deliver"]
refused = sum("refuses the connection" in e.summary for e in breakit.sim.trace)

expiry = steppers["queue-expiry"]
expiry.run_button.click()
notices = [m.content.decode().split("Subject: ")[1].split("\\r\\n")[0] for m in expiry.sim.mailbox("alice@example.com")]
grey = steppers["greylisting"]
grey.run_button.click()
print(_json.dumps({
    "retry_delivered": retry_delivered, "retry_defers": retry_defers, "arrows": arrows, "position": position,
    "last": last, "offered": offered, "notice": injected_notice, "queue_shown": queue_shown, "more": more,
    "broken_delivered": broken_delivered, "refused": refused, "notices": notices,
    "grey": [(o.recipient, o.status) for o in grey.sim.outcome()], "quizzes": quizzes,
}))
"""
)


def test_notebook_04_runs_and_its_widgets_work(tmp_path: Path) -> None:
    notebook, seen = run_notebook("04-failures-retries-and-bounces", CHECK, tmp_path)

    # Six Steppers and five quizzes shown; the queue, the duplicate and the bounce's report printed.
    assert len(outputs_of(notebook, WIDGET)) == 11
    printed = text_of(notebook)
    assert "61245B52F5 ['bob@example.org'] 3 attempts, next at 2100 s" in printed
    assert printed.count("Message-ID: <m1@laptop.example.com>") == 2 and "delivered copies: 2" in printed
    assert "Return-Path: <>" in printed and "Action: failed" in printed and "Status: 5.7.1" in printed

    # mx-down-retry: 300, 600, 1200, 2400 s of backoff; delivered at 4500 s.
    assert [s.rsplit(" ", 2)[-2] for s in seen["retry_defers"]] == ["300", "600", "1200", "2400"]
    assert seen["retry_delivered"] and 4500 < min(seen["retry_delivered"]) < 4501

    # The exercise: eleven steps to the queued message, the MX taken down there, the retry waits.
    assert seen["position"] == 11 and "queues 61245B52F5" in seen["last"]
    assert seen["arrows"] == sorted(seen["arrows"]) and seen["arrows"][-1] > 0
    assert seen["offered"] is True and seen["notice"].startswith("Injected down:mx.example.org")
    assert seen["more"] == 11 and "1 try; next try at" in seen["queue_shown"] and "(in 300 s)" in seen["queue_shown"]
    assert seen["refused"] >= 4 and min(seen["broken_delivered"]) > 3600

    # queue-expiry: the delay notice, then the bounce; greylisting: delivered in the end.
    assert seen["notices"] == ["Delayed Mail (still being retried)", "Undelivered Mail Returned to Sender"]
    assert seen["grey"] == [["bob@example.org", "delivered"]]

    quizzes = seen["quizzes"]
    assert set(quizzes) == {"next-retry", "greylisted", "why-resend", "null-sender", "retry-or-return"}
    assert_every_quiz_answered(quizzes)
    assert quizzes["greylisted"]["right"][1].startswith("Right: the server answers 451 4.7.1")
    assert "a 2xx reply means success" in quizzes["greylisted"]["wrong"][1]
