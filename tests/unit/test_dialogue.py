"""The in-memory dialogue, its trace and the transcript view built from it."""

from __future__ import annotations

import json

from simulator import scenarios
from simulator.dialogue import Dialogue
from simulator.protocol.smtp.client import ClientConfig, OutgoingMessage, SMTPClient
from simulator.trace import TraceEvent
from simulator.views.jsonl import render_jsonl
from simulator.views.transcript import render_transcript


def _run(*, pipelining: bool, body: bytes = scenarios.FIRST_MESSAGE) -> Dialogue:
    client = SMTPClient(ClientConfig(local_hostname="smtp.example.com", pipelining=pipelining))
    client.send_message(OutgoingMessage("alice@example.com", ("bob@example.org", "nobody@example.org"), body))
    client.quit()
    dialogue = Dialogue(client, "smtp.example.com", scenarios.mx_service(), "mx.example.org")
    dialogue.run()
    return dialogue


def _sends(trace: list[TraceEvent], src: str) -> list[TraceEvent]:
    return [e for e in trace if e.kind == "send" and e.src == src]


def test_a_pipelined_batch_is_one_trace_event_with_a_note_per_command() -> None:
    trace = _run(pipelining=True).trace
    batch = next(e for e in _sends(trace, "smtp.example.com") if e.summary.startswith("MAIL"))
    assert [n.summary for n in batch.notes] == [
        "MAIL FROM:<alice@example.com> SIZE=284",
        "RCPT TO:<bob@example.org>",
        "RCPT TO:<nobody@example.org>",
        "DATA",
    ]
    assert batch.data == b"".join(n.data for n in batch.notes)
    assert batch.rfc == "RFC 2920 §3.1"
    answers = _sends(trace, "mx.example.org")[2]
    assert [n.summary[:3] for n in answers.notes] == ["250", "250", "550", "354"]


def test_without_pipelining_each_command_is_its_own_write_and_costs_a_round_trip() -> None:
    piped, lockstep = _run(pipelining=True), _run(pipelining=False)
    assert all(len(e.units) == 1 and not e.notes for e in _sends(lockstep.trace, "smtp.example.com"))
    assert len(_sends(lockstep.trace, "smtp.example.com")) > len(_sends(piped.trace, "smtp.example.com"))
    assert lockstep.now > piped.now  # simulated time shows what pipelining saves
    assert [r.status for r in lockstep.results[0].recipients] == ["sent", "failed"]


def test_trace_is_deterministic_and_numbered() -> None:
    first, second = _run(pipelining=True).trace, _run(pipelining=True).trace
    assert first == second
    assert [e.seq for e in first] == list(range(len(first)))
    assert [e.time for e in first] == sorted(e.time for e in first)


def test_the_message_is_stored_before_the_250_that_takes_responsibility() -> None:
    dialogue = _run(pipelining=True)
    kinds = [(e.kind, e.summary[:12]) for e in dialogue.trace]
    stored = kinds.index(("store", "mx.example.o"))
    assert kinds[stored + 1] == ("send", "250 2.0.0 Ok")
    (message,) = dialogue.service.stored
    assert message.content == scenarios.FIRST_MESSAGE
    assert [r.address for r in message.envelope.recipients] == ["bob@example.org"]


def test_json_lines_carry_the_notes_of_a_batch() -> None:
    events = [json.loads(line) for line in render_jsonl(_run(pipelining=True).trace).splitlines()]
    batch = next(e for e in events if e["summary"].startswith("MAIL"))
    assert [n["data"] for n in batch["notes"]][1] == "RCPT TO:<bob@example.org>\r\n"
    assert all(n["explain"] and n["rfc"] for n in batch["notes"])


def test_transcript_explains_each_line_and_folds_long_bodies() -> None:
    body = b"Subject: long\r\n\r\n" + b"".join(b"line %d\r\n" % i for i in range(40))
    trace = _run(pipelining=True, body=body).trace
    text = render_transcript(trace, width=200)
    lines = text.splitlines()
    rcpt = lines.index(next(line for line in lines if line.endswith("-> RCPT TO:<nobody@example.org>")))
    assert "Names one envelope recipient" in lines[rcpt + 1]
    assert "[... 34 more lines ...]" in text
    assert "line 39" not in text
    full = render_transcript(trace, full=True)
    assert "-> line 39" in full
    bare = render_transcript(trace, explain=False)
    assert "#" not in bare
    assert "-> ." in bare
