"""Notebook 07, POP3 and IMAP: executed top to bottom, then used as a learner would."""

from __future__ import annotations

from pathlib import Path

from tests.notebook.kernel import WIDGET, assert_every_quiz_answered, outputs_of, run_notebook, text_of

CHECK = r"""
def _shows(stepper):
    return {name: sorted(m.subject for m in d.messages.values()) for name, d in stepper.sim.devices.items()}

# The download-and-delete Stepper: six steps, the diagram grows; then run to the end.
arrows = _click_step(pop3_delete, 6)
position = pop3_delete.position
pop3_delete.run_button.click()
delete_shows = _shows(pop3_delete)
pop3_leave.run_button.click()
leave_shows = _shows(pop3_leave)

# IMAP on two devices: the phone's last flags fetch shows UID 1 as \Seen.
imap_two.run_button.click()
phone_flags = [
    unit.summary for e in imap_two.sim.trace if e.dst == "phone.example.org" and e.protocol == "IMAP"
    for unit in e.units if "FETCH (UID 1 FLAGS" in unit.summary
]
# IDLE: the push in the instant of the delivery.
idle.run_button.click()
delivered_at = [e.time for e in idle.sim.trace if e.kind == "deliver"]
pushed_at = [
    e.time for e in idle.sim.trace if e.dst == "phone.example.org"
    for unit in e.units if unit.summary == "* 1 EXISTS"
]

# The POP3 Console, typed as the lesson says; then Connect again and RETR before logging in; then
# DELE, Hang up, Connect again: the message is still there.
pop3_hints = []
def _type(console, lines):
    for line in lines:
        console.line.value = line
        console.send_button.click()
        pop3_hints.append(console.hint.value)
_type(pop3, ["USER bob@example.org", "PASS builder", "STAT", "LIST", "RETR 1", "QUIT"])
pop3_closed = pop3.line.disabled
pop3.reconnect_button.click()
_type(pop3, ["RETR 1", "USER bob@example.org", "PASS builder", "DELE 1"])
pop3.hang_up_button.click()
pop3.reconnect_button.click()
before_again = pop3.output.value
_type(pop3, ["USER bob@example.org", "PASS builder", "STAT", "QUIT"])
pop3_again = pop3.output.value[len(before_again):]
# The IMAP Console.
for line in [
    "a1 LOGIN bob@example.org builder", "a2 SELECT INBOX", "a3 UID FETCH 1:* (FLAGS)",
    "a4 UID FETCH 1 (BODY[HEADER.FIELDS (SUBJECT)])", "a5 UID FETCH 1:* (FLAGS)", "a6 CREATE Lunch",
    "a7 UID MOVE 1 Lunch", "SELECT INBOX", "a8 LOGOUT",
]:
    imap.line.value = line
    imap.send_button.click()

quizzes = _answer_every_quiz()
compared = {
    r.profile: {d.device: [len(d.shows), d.unread, d.round_trips] for d in r.devices}
    for r in compare.comparison.results
}
print(_json.dumps({
    "arrows": arrows, "position": position, "delete_shows": delete_shows, "leave_shows": leave_shows,
    "phone_flags": phone_flags, "delivered_at": delivered_at, "pushed_at": pushed_at,
    "pop3_out": pop3.output.value, "pop3_hints": pop3_hints, "pop3_closed": pop3_closed,
    "pop3_again": pop3_again, "pop3_closed_again": pop3.line.disabled,
    "imap_out": imap.output.value, "imap_closed": imap.line.disabled,
    "compared": compared, "columns": len(compare.columns.children), "table": compare.table.value,
    "quizzes": quizzes,
}))
"""


def test_notebook_07_runs_and_its_widgets_work(tmp_path: Path) -> None:
    notebook, seen = run_notebook("07-pop3-vs-imap", CHECK, tmp_path)

    # Four Steppers, two Consoles, one Compare and six quizzes shown.
    assert len(outputs_of(notebook, WIDGET)) == 13
    printed = text_of(notebook)
    assert "DELE 1                 -> ['+OK Marked to be deleted.']" in printed
    assert "STAT                   -> ['+OK 0 0']" in printed
    assert "STAT                   -> ['+OK 1 1484']" in printed
    assert "messages in Bob's mailbox: 1" in printed
    assert "filed in the mailbox at 60.120 s" in printed and "pushed to the phone  at 60.120 s" in printed
    assert (
        "pop3-leave-on-server   phone.example.org    shows ['Lunch on Friday?', 'Re: Lunch on Friday?'], 2 unread"
        in printed
    )
    assert "pop3-download-delete   phone.example.org    shows [], 0 unread" in printed

    # The Steppers: six clicks, six steps, a growing diagram; each device ends with what the lesson says.
    assert seen["position"] == 6 and seen["arrows"] == sorted(seen["arrows"]) and seen["arrows"][-1] > 0
    assert seen["delete_shows"] == {
        "laptop.example.org": ["Lunch on Friday?"], "phone.example.org": ["Re: Lunch on Friday?"]
    }  # fmt: skip
    both = ["Lunch on Friday?", "Re: Lunch on Friday?"]
    assert seen["leave_shows"] == {"laptop.example.org": both, "phone.example.org": both}
    assert seen["phone_flags"][-1] == "* 1 FETCH (UID 1 FLAGS (\\Seen))"
    assert seen["delivered_at"] == seen["pushed_at"] and abs(seen["pushed_at"][0] - 60.12) < 1e-6

    # The POP3 Console: the session of the lesson, closed by QUIT; after Connect again, -ERR before login;
    # DELE, Hang up, Connect again: the marked message is still there.
    pop3 = seen["pop3_out"]
    assert "-ERR Unknown command: RETR" in pop3 and "+OK Logged in." in pop3
    assert "+OK 1 1484" in pop3 and "+OK 1484 octets" in pop3 and "+OK Logging out." in pop3
    assert pop3.index("+OK Logging out.") < pop3.index("-ERR Unknown command: RETR")
    assert "TRANSACTION" in seen["pop3_hints"][2] and seen["pop3_closed"] is True
    assert "+OK Marked to be deleted." in pop3
    assert "+OK 1 1484" in seen["pop3_again"] and seen["pop3_closed_again"] is True
    # The IMAP Console: BODY[] sets \Seen, the folder and the move, the forgotten tag.
    imap = seen["imap_out"]
    assert "* 1 EXISTS" in imap and "[UIDVALIDITY 1]" in imap
    assert "FLAGS (\\Recent \\Seen)" in imap and "[COPYUID 2 1 1] Moved UIDs." in imap
    assert "SELECT BAD Error in IMAP command INBOX: Unknown command." in imap and seen["imap_closed"] is True

    # The Compare widget: the phone has nothing with POP3, both devices agree with IMAP.
    compared = seen["compared"]
    assert compared["pop3-download-delete"]["phone.example.org"][0] == 0
    assert compared["pop3-download-delete"]["laptop.example.org"] == [2, 0, 16]
    assert compared["imap"]["laptop.example.org"] == [2, 0, 12]
    assert compared["imap"]["phone.example.org"][:2] == [2, 0]
    assert seen["columns"] == 2 and "round trips" in seen["table"]

    # Each quiz: wrong first (with its reason), then right.
    quizzes = seen["quizzes"]
    assert set(quizzes) == {"filed", "dele-then-break", "uidl", "seen-on-phone", "idle-answer", "phone-pop3"}
    assert_every_quiz_answered(quizzes)
    assert quizzes["filed"]["right"][1].startswith("Right: the server answers 250 2.0.0 Ok: queued as")
    assert quizzes["idle-answer"]["right"][1].startswith("Right: the server answers + idling")
    assert quizzes["idle-answer"]["wrong"][1].startswith("Not NO, which would mean the command was understood")
    assert quizzes["phone-pop3"]["wrong"][1].startswith("Not quite. That is the pop3-download-delete scenario")
