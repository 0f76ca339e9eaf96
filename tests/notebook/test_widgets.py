"""The notebook widgets driven from Python: their traits and views after each call, with no browser and no kernel."""

from __future__ import annotations

import html
import subprocess
import sys

import pytest

from simulator import Simulation, faults
from simulator.lessons.quiz import BrokenLineQuestion, ChoiceQuestion, NextReplyQuestion
from simulator.notebook import Compare, Console, Quiz, Stepper
from simulator.trace import TraceEvent

ARROW = 'class="step arrow'  # how render_sequence_svg marks an arrow
MX_DOWN = "down:mx.example.org,for=3600"


def arrows(stepper: Stepper) -> int:
    return stepper.diagram.value.count(ARROW)


def first(trace: list[TraceEvent], kind: str) -> TraceEvent:
    return next(e for e in trace if e.kind == kind)


# --- Stepper -------------------------------------------------------------------------------------


def test_three_steps_list_three_events_and_draw_more_arrows() -> None:
    stepper = Stepper("basic", seed=1)
    assert stepper.position == 0 and stepper.events.options == ()
    stepper.step()
    after_one = arrows(stepper)
    stepper.step()
    stepper.step()
    assert stepper.position == 3
    assert stepper.now == stepper.sim.now > 0
    trace = stepper.sim.trace
    assert [label for label, _ in stepper.events.options] == [f"{e.seq} {e.time:.3f} {e.summary}" for e in trace]
    assert stepper.events.value == 2  # the selection follows the newest event
    assert html.escape(trace[2].summary) in stepper.detail.value
    assert "laptop.example.com" in stepper.diagram.value and "smtp.example.com" in stepper.diagram.value
    assert arrows(stepper) == 3 > after_one
    assert "smtpsim-diagram" in stepper.diagram._dom_classes
    assert "3 events" in stepper.status.value


def test_back_undoes_a_step_and_the_views_follow() -> None:
    stepper = Stepper("basic", steps=3)
    stepper.back()
    assert stepper.position == 2 == len(stepper.sim.trace)
    assert len(stepper.events.options) == 2
    assert stepper.events.value == 1
    second = stepper.sim.trace[1]
    assert html.escape(second.summary) in stepper.detail.value
    assert arrows(stepper) == 2
    assert stepper.now == second.time
    stepper.back()
    stepper.back()
    assert stepper.position == 0 and stepper.events.options == () and arrows(stepper) == 0
    assert stepper.notice == "", "undoing the first step is an undo like any other"
    stepper.back()
    assert stepper.position == 0 and "At the start" in stepper.notice


def test_run_goes_until_nothing_is_left_and_bob_has_his_message() -> None:
    stepper = Stepper("basic")
    assert "Lunch on Friday?" not in stepper.mailboxes.value
    stepper.run()
    assert "Nothing left to happen" in stepper.notice
    assert "Nothing left to happen" in stepper.status.value
    assert stepper.position == len(stepper.sim.trace) > 20
    bob = stepper.mailboxes.value.split("bob@example.org")[1]
    assert "1 message" in bob and "Lunch on Friday?" in bob
    assert "<b>delivered</b> at mx.example.org" in stepper.status.value
    end = stepper.position
    stepper.notice = ""
    stepper.step()
    assert stepper.position == end and "Nothing left to happen" in stepper.notice


def test_reset_starts_again_with_the_faults_given_at_creation() -> None:
    stepper = Stepper("basic", faults=[MX_DOWN], steps=4)
    assert stepper.position == 4
    stepper.inject("latency:smtp.example.com/mx.example.org=2")
    old = stepper.sim
    stepper.reset()
    assert stepper.sim is not old
    assert stepper.position == 0 and stepper.events.options == () and arrows(stepper) == 0
    assert stepper.now == 0.0
    stepper.run()
    trace = stepper.sim.trace
    assert first(trace, "deliver").time >= 3600  # the fault given at creation is back in
    assert not any("latency" in e.summary for e in trace if e.kind == "fault")  # the injected one is gone


def test_the_buttons_do_what_the_methods_do() -> None:
    stepper = Stepper("basic")
    buttons = [stepper.step_button, stepper.back_button, stepper.run_button, stepper.reset_button]
    assert [b.description for b in buttons] == ["Step", "Back", "Run", "Reset"]
    assert stepper.inject_button.description == "Inject"
    for _ in range(3):
        stepper.step_button.click()
    assert stepper.position == 3
    stepper.back_button.click()
    assert stepper.position == 2
    stepper.run_button.click()
    assert "Nothing left to happen" in stepper.notice
    assert "Lunch on Friday?" in stepper.mailboxes.value
    stepper.reset_button.click()
    assert stepper.position == 0


def test_an_injected_fault_changes_what_happens_next() -> None:
    plain = Simulation.from_scenario("basic")
    plain.run()
    assert first(plain.trace, "deliver").time < 10  # without the fault, delivered at once

    stepper = Stepper("basic", steps=2)
    assert MX_DOWN in stepper.fault_menu.options  # this world's example
    stepper.fault_menu.value = MX_DOWN
    stepper.inject_button.click()
    assert stepper.notice.startswith("Injected down:mx.example.org")
    assert stepper.position == 2
    while not any(e.kind == "defer" for e in stepper.sim.trace):
        stepper.step()
        assert stepper.position < 200
    assert "smtp.example.com: 1 queued" in stepper.queues.value
    assert "next try at" in stepper.queues.value
    assert "<b>queued</b>" in stepper.status.value
    stepper.run()
    trace = stepper.sim.trace
    assert first(trace, "defer").seq < first(trace, "deliver").seq
    assert first(trace, "deliver").time >= 3600  # on a retry, once the MX is back
    assert "<b>delivered</b>" in stepper.status.value
    assert "smtp.example.com: 0 queued" in stepper.queues.value


def test_a_fault_injected_later_counts_its_time_from_now() -> None:
    stepper = Stepper("basic", steps=2)
    now = stepper.now
    assert now > 0
    assert stepper.inject(MX_DOWN)
    assert stepper.sim.world.faults[-1].at == now


@pytest.mark.parametrize(
    "spec",
    ["explode:mx.example.org", "down:nosuchhost.example", "down:mx.example.org,for=soon"],
)
def test_a_bad_fault_spec_is_a_notice_and_changes_nothing(spec: str) -> None:
    stepper = Stepper("basic", steps=2)
    with pytest.raises(faults.FaultSpecError) as raised:
        Simulation.from_scenario("basic").inject(faults.parse(spec))
    assert stepper.inject(spec) is False
    assert stepper.notice == str(raised.value)
    assert html.escape(str(raised.value)) in stepper.status.value
    assert stepper.position == 2 and not stepper.sim.world.faults
    stepper.run()
    assert first(stepper.sim.trace, "deliver").time < 10
    assert stepper.inject("   ") is False and "fault spec first" in stepper.notice


def test_each_tick_of_play_is_one_step() -> None:
    stepper = Stepper("basic")
    stepper.play.value = 1
    assert stepper.position == 1
    stepper.play.value = 2
    assert stepper.position == 2
    stepper.speed.value = 10
    assert stepper.play.interval == 100
    stepper.speed.value = 1
    assert stepper.play.interval == 1000
    stepper.run()
    stepper.play.playing = True
    stepper.play.value = 3
    assert stepper.play.playing is False  # nothing left: the Play stops itself
    stepper.reset()
    assert stepper.play.value == 0 and stepper.position == 0  # rewinding the Play is not a step


def test_selecting_an_event_shows_its_explanation_rfc_and_bytes() -> None:
    stepper = Stepper("basic", steps=3)
    greeting = stepper.sim.trace[1]
    drawn = stepper.diagram.value
    stepper.events.value = 1
    detail = stepper.detail.value
    assert html.escape(greeting.explain) in detail
    assert html.escape(greeting.rfc) in detail
    assert "220 smtp.example.com ESMTP&lt;CR&gt;&lt;LF&gt;" in detail  # the wire bytes, as text
    assert stepper.position == 3  # looking does not move
    assert stepper.inject("greylist:mx.example.org"), "a fault refreshes the views, but the trace is the same"
    assert stepper.diagram.value is drawn  # nothing happened, so the diagram was not drawn again
    stepper.step()
    assert stepper.diagram.value is not drawn


# --- Compare -------------------------------------------------------------------------------------


def test_compare_shows_pop3_and_imap_side_by_side() -> None:
    compare = Compare("pop3-vs-imap", seed=1)
    assert compare.profiles == ("pop3-download-delete", "imap")
    expected = Simulation.from_scenario("pop3-vs-imap", seed=1).compare_retrieval()
    table = compare.table.value
    for result in expected.results:
        for device in result.devices:
            row = table.split(f'<td style="padding:2px 8px">{device.device}</td>')
            assert len(row) == 3  # one row per profile
            assert f"{device.bytes_sent} B" in table and f"{device.bytes_received} B" in table
    pop3, imap = (side.value for side in compare.columns.children)
    assert "POP3, download and delete" in pop3 and "Left on the server: 0 message(s)" in pop3
    assert "IMAP" in imap and "Left on the server: 2 message(s)" in imap
    assert "phone.example.org" in pop3 and "phone.example.org" in imap


def test_compare_without_reading_devices_says_so() -> None:
    compare = Compare("basic")
    assert "No device reads mail" in compare.message.value
    assert compare.profiles == ()
    assert compare.table.value == "" and compare.columns.children == ()


# --- Console -------------------------------------------------------------------------------------


def submit(console: Console, line: str) -> None:
    """Type a line and press Enter, as the browser reports it."""
    console.line.value = line
    console.line._handle_string_msg(None, {"event": "submit"}, [])


def test_a_typed_smtp_dialogue_delivers_into_bobs_mailbox() -> None:
    console = Console("basic", host="mx.example.org", port=25, seed=1)
    assert "<b>S:</b> 220 mx.example.org ESMTP" in console.output.value
    assert "EHLO" in console.hint.value
    submit(console, "EHLO console.localhost")  # Enter in the box
    assert console.line.value == ""
    # As in the terminal's test: alice@example.com typed from console.localhost fails SPF, and with
    # From: alice@example.com DMARC too, so the MX refuses it or files it as junk, rightly.
    console.line.value = "MAIL FROM:<learner@console.localhost>"
    console.send_button.click()
    for line in (
        "RCPT TO:<bob@example.org>",
        "DATA",
        "From: learner@console.localhost",
        "To: bob@example.org",
        "Date: Fri, 1 Mar 2024 12:00:00 +0000",
        "Message-ID: <typed@console.localhost>",
        "Subject: typed in a notebook",
        "",
        "Hello Bob.",
        ".",
        "QUIT",
    ):  # fmt: skip  (a Date and a Message-ID, so that the spam filter keeps it out of Junk)
        console.send(line)
    shown = console.output.value
    assert "<b>C:</b> RCPT TO:&lt;bob@example.org&gt;" in shown
    assert "<b>S:</b> 354" in shown and "<b>S:</b> 221 2.0.0 Bye" in shown
    assert not console.notice
    messages = console.sim.mailbox("bob@example.org")
    assert any(b"Subject: typed in a notebook" in m.content for m in messages)
    assert "CLOSED" in console.hint.value and console.line.disabled


def test_a_bad_command_shows_the_500_with_its_explanation() -> None:
    console = Console()
    console.send("EHLO console.localhost")
    console.send("")  # an empty command line
    shown = console.output.value
    assert '<div style="color:#b71c1c"><b>S:</b> 500 5.5.2 Error: bad syntax</div>' in shown
    assert "An empty or malformed command line. [RFC 5321 §4.1.1]" in shown


def test_console_errors_are_notices_not_tracebacks() -> None:
    nowhere = Console(port=99)
    assert "Cannot connect" in nowhere.notice and "port 99" in nowhere.output.value
    nowhere.send("EHLO x")
    assert "Not connected" in nowhere.notice
    console = Console()
    console.send("EHLO a\r\nQUIT")
    assert "one line at a time" in console.notice
    shown = console.output.value
    console.focus()  # ipywidgets' own Widget.send (a message to the browser), not a typed line
    assert console.output.value == shown
    console.hang_up_button.click()
    console.send("NOOP")
    assert "closed" in console.notice and "CLOSED" in console.hint.value


# --- Quiz ----------------------------------------------------------------------------------------


def port_question() -> ChoiceQuestion:
    return ChoiceQuestion(
        id="submission-port",
        prompt="Which port does a mail program submit to?",
        choices=["25", "587", "110"],
        answer=1,
        wrong=["Port 25 is for servers relaying to servers <MX>.", "", "Port 110 is POP3, for reading."],
        why="587 is submission (RFC 6409).",
    )


def test_a_choice_question_says_right_or_why_not_and_counts_attempts() -> None:
    quiz = Quiz(port_question())
    assert quiz.answer_box is None and quiz.choices is not None
    assert [label for label, _ in quiz.choices.options] == ["25", "587", "110"]
    assert quiz.correct is None and quiz.attempts == 0
    wrong = quiz.answer(0)
    assert wrong.correct is False and quiz.correct is False and quiz.attempts == 1
    assert "servers relaying to servers &lt;MX&gt;." in quiz.feedback.value  # escaped
    assert "#b71c1c" in quiz.feedback.value  # red
    right = quiz.answer("587")
    assert right.text.startswith("Right") and quiz.correct is True and quiz.attempts == 2
    assert quiz.choices.value == 1
    assert "#1b5e20" in quiz.feedback.value and "587 is submission" in quiz.feedback.value


def test_check_with_nothing_chosen_says_so() -> None:
    quiz = Quiz(port_question())
    quiz.check_button.click()
    assert "Choose an answer first" in quiz.feedback.value
    assert quiz.attempts == 0 and quiz.correct is None
    assert quiz.choices is not None
    quiz.choices.value = 2
    quiz.check_button.click()
    assert quiz.correct is False and "POP3" in quiz.feedback.value and quiz.attempts == 1


def test_a_next_reply_question_is_answered_by_typing() -> None:
    quiz = Quiz(
        NextReplyQuestion(
            id="unknown-user",
            prompt="What does the MX answer?",
            scenario="multi-recipient",
            after="RCPT TO:<nobody",
            server="mx.example.org",
        )
    )
    assert quiz.choices is None and quiz.answer_box is not None
    quiz.check_button.click()
    assert "Type an answer first" in quiz.feedback.value and quiz.attempts == 0
    assert quiz.answer("250").correct is False and quiz.correct is False
    quiz.answer_box.value = "550"
    quiz.check_button.click()
    assert quiz.correct is True and quiz.attempts == 2
    assert "Right: the server answers 550" in quiz.feedback.value


def test_a_broken_line_question_offers_the_delivered_lines() -> None:
    question = BrokenLineQuestion(
        id="tampered", prompt="Which line broke the signature?", scenario="dkim-tampered",
        mailbox="bob@example.org", subject="everyone",
    )  # fmt: skip
    quiz = Quiz(question)
    options = question.options()
    assert quiz.choices is not None and options is not None
    assert len(quiz.choices.options) == len(options)
    assert options[0].startswith("List-Id")
    assert quiz.answer(0).correct is False and quiz.correct is False
    assert question.breaking and 0 not in question.breaking
    assert quiz.answer(question.breaking[0]).correct is True and quiz.correct is True
    assert quiz.attempts == 2


# --- the package boundary -------------------------------------------------------------------------


def test_importing_simulator_does_not_import_ipywidgets() -> None:
    code = "import sys, simulator; assert 'ipywidgets' not in sys.modules; import simulator.notebook"
    code += "; assert 'ipywidgets' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_mailboxes_show_what_the_spam_filter_put_in_junk() -> None:
    stepper = Stepper("spam-false-positive")
    assert "Junk" not in stepper.mailboxes.value
    stepper.run()
    junk = stepper.sim.mailbox("bob@example.org", "Junk")
    assert len(junk) == 1 and stepper.sim.mailbox("bob@example.org") == []
    assert "Junk: 1 message" in stepper.mailboxes.value and "Greenleaf news" in stepper.mailboxes.value


def test_the_transcript_tab_follows_the_steps_in_swaks_notation() -> None:
    stepper = Stepper("starttls-submission")
    assert stepper.views.titles == ("Sequence diagram", "Transcript")
    for _ in range(12):
        stepper.step()
    text = html.unescape(stepper.transcript.value)
    assert "<- 220 smtp.example.com ESMTP" in text and "-> STARTTLS" in text
    assert "~> EHLO laptop.example.com" in text, "inside TLS the arrows change"
    assert "# The client introduces itself" in text, "each line explained"
    stepper.back()
    assert html.unescape(stepper.transcript.value).count("\n") < text.count("\n")


def test_connect_again_opens_a_new_session_in_the_same_world() -> None:
    console = Console("basic", host="mx.example.org", port=110, seed=1)
    for line in ("USER bob@example.org", "PASS builder", "STAT"):  # Alice's message is in by now
        console.send(line)
    assert "<b>S:</b> +OK 1 " in console.output.value
    for line in ("DELE 1", "QUIT"):
        console.send(line)
    assert console.line.disabled, "QUIT closed the connection"
    console.reconnect_button.click()
    assert not console.line.disabled and "+OK" in console.output.value.rsplit("connecting", 1)[1]
    for line in ("USER bob@example.org", "PASS builder", "STAT"):
        console.send(line)
    assert "<b>S:</b> +OK 0 0" in console.output.value, "the deletion committed at QUIT is still there"
    console.reconnect()  # while connected: hangs up first
    assert console.console is not None and console.console.is_open


def test_a_connection_the_world_closed_meanwhile_shows_as_closed_on_the_next_line() -> None:
    console = Console("basic", host="mx.example.org", port=110, seed=1)
    console.sim.run()  # long enough for the server's idle timeout to hang up
    console.send("USER bob@example.org")
    assert "closed" in console.notice and console.line.disabled and not console.reconnect_button.disabled


def test_after_two_wrong_answers_the_answer_can_be_shown() -> None:
    question = ChoiceQuestion(id="q", prompt="Who speaks first?", choices=["client", "server"], answer=1, why="220.")
    quiz = Quiz(question)
    assert quiz.reveal_button.layout.display == "none", "trying comes first"
    quiz.answer(0)
    assert quiz.reveal_button.layout.display == "none", "one wrong answer is not yet stuck"
    quiz.answer(0)
    assert quiz.reveal_button.layout.display is None, "offered after the second wrong answer"
    quiz.reveal_button.click()
    assert quiz.revealed and "The answer: server. 220." in quiz.feedback.value
    assert quiz.reveal_button.layout.display == "none"
    assert quiz.answer(1).correct and quiz.reveal_button.layout.display == "none"


def test_the_logs_keep_their_newest_lines_in_view_and_prompts_show_code() -> None:
    from simulator.notebook._markup import inline_code

    stepper = Stepper("basic", steps=2)
    assert "flex-direction:column-reverse" in stepper.diagram.value, "the diagram follows the steps"
    assert "flex-direction:column-reverse" in stepper.transcript.value
    console = Console("basic")
    assert "flex-direction:column-reverse" in console.output.value, "the newest reply stays in view"
    assert inline_code("type `RCPT TO:<a@b>` now") == "type <code>RCPT TO:&lt;a@b&gt;</code> now"
    assert inline_code("one ` alone") == "one ` alone"
    quiz = Quiz(ChoiceQuestion(id="q", prompt="What does `QUIT` do?", choices=["a", "b"], answer=0))
    assert "<code>QUIT</code>" in quiz.prompt.value and "smtpsim-quiz" in quiz._dom_classes
