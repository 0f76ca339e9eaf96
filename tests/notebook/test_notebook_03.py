"""Notebook 03, relaying, MX records and DNS: executed top to bottom, then used as a learner would."""

from __future__ import annotations

from pathlib import Path

from tests.notebook.kernel import WIDGET, assert_every_quiz_answered, outputs_of, run_notebook, text_of

QUIZZES = """
quizzes = _answer_every_quiz()
"""

CHECK = (
    QUIZZES
    + """
fallback, servfail = _live("Stepper")
arrows = _click_step(fallback, 5)
position = fallback.position
fallback.run_button.click()
fallback_events = [e.summary for e in fallback.sim.trace]
fallback_outcome = [(o.recipient, o.status, o.where) for o in fallback.sim.outcome()]
servfail.run_button.click()
servfail_outcome = [(o.recipient, o.status) for o in servfail.sim.outcome()]
servfail_delivered = [e.time for e in servfail.sim.trace if e.kind == "deliver"]
servfail_defers = [e.summary for e in servfail.sim.trace if "defers" in e.summary]

for line in ["EHLO console.localhost", "MAIL FROM:<mallory@example.net>", "RCPT TO:<bob@example.org>",
             "RCPT TO:<alice@example.com>"]:
    for console in (stranger, own_server):
        console.line.value = line
        console.send_button.click()
print(_json.dumps({
    "arrows": arrows, "position": position, "fallback_events": fallback_events,
    "fallback_outcome": fallback_outcome, "servfail_outcome": servfail_outcome,
    "servfail_delivered": servfail_delivered, "servfail_defers": servfail_defers,
    "console": stranger.output.value, "own_server": _html.unescape(own_server.output.value), "quizzes": quizzes,
}))
"""
)


def test_notebook_03_runs_and_its_widgets_work(tmp_path: Path) -> None:
    notebook, seen = run_notebook("03-relaying-mx-and-dns", CHECK, tmp_path)

    # Two Consoles, two Steppers and four quizzes shown; the DNS lookups and the Received fields printed.
    assert len(outputs_of(notebook, WIDGET)) == 8
    printed = text_of(notebook)
    assert printed.index("MX example.org? -> 10 mx.example.org") < printed.index("A mx.example.org? -> 198.51.100.25")
    assert printed.index("198.51.100.25") < printed.index("connects to mx.example.org port 25")
    top, bottom = printed.index("by mx.example.org"), printed.index("by smtp.example.com")
    assert top < bottom and "with ESMTPA id 61245B52F5" in printed

    # mx-fallback: mx1 refuses, mx2 takes the message in the same attempt.
    assert seen["position"] == 5 and seen["arrows"] == sorted(seen["arrows"]) and seen["arrows"][-1] > 0
    events = seen["fallback_events"]
    assert "MX example.org? -> 10 mx1.example.org, 20 mx2.example.org" in events
    assert events.index("mx1.example.org refuses the connection to port 25") < events.index(
        "smtp.example.com connects to mx2.example.org port 25"
    )
    assert seen["fallback_outcome"] == [["bob@example.org", "delivered", "mx2.example.org"]]

    # dns-failure: deferred three times, delivered after the 30 minutes, no bounce.
    assert seen["servfail_outcome"] == [["bob@example.org", "delivered"]]
    assert len(seen["servfail_defers"]) == 3 and min(seen["servfail_delivered"]) > 1800

    # The stranger at mx.example.org: its own domain accepted, another refused.
    out = seen["console"]
    assert out.index("250 2.1.5 Ok") < out.index("554 5.7.1")
    assert "Relay access denied" in out
    # smtp.example.com on port 25, without a login: example.org refused, its own user accepted.
    own = seen["own_server"]
    assert own.index("554 5.7.1 <bob@example.org>: Relay access denied") < own.rindex("250 2.1.5 Ok")

    quizzes = seen["quizzes"]
    assert set(quizzes) == {"open-relay-rcpt", "preference", "servfail", "received-order"}
    assert_every_quiz_answered(quizzes)
    assert quizzes["open-relay-rcpt"]["right"][1].startswith("Right: the server answers 250 2.1.5 Ok")
    assert quizzes["servfail"]["wrong"][1].startswith("Not quite. Falling back")
