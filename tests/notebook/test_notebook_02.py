"""Notebook 02, commands and reply codes: executed top to bottom, then used as a learner would."""

from __future__ import annotations

from pathlib import Path

from tests.notebook.kernel import WIDGET, assert_every_quiz_answered, outputs_of, run_notebook, text_of

QUIZZES = """
quizzes = _answer_every_quiz()
"""

CHECK = (
    QUIZZES
    + """
stepper = _live("Stepper")[0]
arrows = _click_step(stepper, 6)
position = stepper.position
stepper.run_button.click()
outcome = sorted((o.recipient, o.status) for o in stepper.sim.outcome())
bounced_to_alice = len(stepper.sim.mailbox("alice@example.com"))

console = _live("Console")[0]
typed = ["RCPT TO:<bob@example.org>", "EHLO console.localhost", "FOO", "", "MAIL FROM:alice",
         "MAIL FROM:<alice@example.com>", "RCPT TO:<nobody@example.org>", "RCPT TO:<bob@example.org>",
         "VRFY bob", "NOOP", "DATA", "Subject: hi", "", "Hello Bob.", "."]
for line in typed:
    console.line.value = line
    console.send_button.click()
before_quit = console.output.value
hint = console.hint.value
console.send("QUIT")
after_quit = console.output.value[len(before_quit):]
closed = console.line.disabled
# "More to try in a fresh session": Connect again, same server, same world.
before_more = console.output.value
console.reconnect_button.click()
reopened = console.line.disabled
for line in ["EHLO console.localhost", "DATA", "MAIL FROM:<alice@example.com>", "RCPT TO:<nobody@example.org>",
             "DATA", "MAIL FROM:<alice@example.com>"]:
    console.send(line)
more = console.output.value[len(before_more):]
print(_json.dumps({
    "arrows": arrows, "position": position, "outcome": outcome, "bounced_to_alice": bounced_to_alice,
    "console": before_quit, "hint": hint, "after_quit": after_quit,
    "closed": closed, "reopened": reopened, "more": more,
    "typed_mail": sum(b"Subject: hi" in m.content for m in console.sim.mailbox("bob@example.org")),
    "quizzes": quizzes,
}))
"""
)


def test_notebook_02_runs_and_its_widgets_work(tmp_path: Path) -> None:
    notebook, seen = run_notebook("02-commands-and-reply-codes", CHECK, tmp_path)

    # One Stepper, one Console and five quizzes shown; the bounce's report printed.
    assert len(outputs_of(notebook, WIDGET)) == 7
    printed = text_of(notebook)
    assert "Return-Path: <>" in printed
    assert "Final-Recipient: rfc822; nobody@example.org" in printed and "Status: 5.1.1" in printed
    assert "nobody@example.org bounced smtp.example.com" in printed
    assert "bob@example.org delivered mx.example.org" in printed

    # Stepping multi-recipient: the position follows, the diagram grows; run to the end: one bounce.
    assert seen["position"] == 6 and seen["arrows"] == sorted(seen["arrows"]) and seen["arrows"][-1] > 0
    assert seen["outcome"] == [
        ["bob@example.org", "delivered"],
        ["carol@example.org", "delivered"],
        ["nobody@example.org", "bounced"],
    ]
    assert seen["bounced_to_alice"] == 1

    # The mistakes typed in the Console get the replies the lesson quotes, in order.
    out = seen["console"]
    expected = [
        "503 5.5.1 Error: need MAIL command",
        "250-mx.example.org",
        "502 5.5.2 Error: command not recognized",
        "500 5.5.2 Error: bad syntax",
        "501 5.1.7 Bad sender address syntax",
        "250 2.1.0 Ok",
        "550 5.1.1",
        "250 2.1.5 Ok",
        "252 2.0.0 bob",
        "354 End data with",
        "250 2.0.0 Ok: queued as",
    ]
    positions = [out.index(reply) for reply in expected]
    assert positions == sorted(positions)
    assert "CHUNKING" in out and "Expects next" in seen["hint"]
    assert "221 2.0.0 Bye" in seen["after_quit"] and seen["closed"] is True
    assert seen["typed_mail"] == 1
    # Connect again: a fresh session in the same world, and the replies the lesson quotes for it.
    assert seen["reopened"] is False
    more = seen["more"]
    expected = [
        "220 mx.example.org ESMTP",
        "503 5.5.1 Error: need RCPT command",
        "550 5.1.1",
        "554 5.5.1 Error: no valid recipients",
        "503 5.5.1 Error: nested MAIL command",
    ]
    positions = [more.index(reply) for reply in expected]
    assert positions == sorted(positions)

    quizzes = seen["quizzes"]
    assert set(quizzes) == {"second-code", "nobody-at-mx", "nobody-at-msa", "rcpt-first", "four-or-five"}
    assert_every_quiz_answered(quizzes)
    assert quizzes["nobody-at-mx"]["right"][1].startswith("Right: the server answers 550 5.1.1")
    assert quizzes["rcpt-first"]["wrong"][1].startswith("Not quite. Waiting changes nothing")
