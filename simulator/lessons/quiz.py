"""Quiz questions of the lessons, and the feedback an answer gets: the same in a notebook and in the terminal.

Three kinds:

- `choice`: multiple choice, with a sentence for each wrong choice saying why it is wrong.
- `next-reply`: "which reply code comes next?" after a given client line of a scenario. The
  answer is not written in the lesson: it is read off the scenario's own trace, so the
  question cannot drift from what the servers do.
- `broken-line`: "which line broke the DKIM signature?". The lines offered are the message as
  the recipient's mailbox holds it; the lines that break the signature are found by comparing
  it with the copy the signer sent (the trace holds it) and keeping those the signature covers
  (the body, and the header fields named in h=).

A front end shows `prompt`, offers `options()` (None: a free answer, typed), and passes what
the learner chose to `check()`, which returns the `Feedback` to show; after REVEAL_AFTER wrong
answers it offers `reveal()`, the answer and why.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from simulator.nodes.tls_channel import TLS_PREFIX
from simulator.sim import Simulation
from simulator.trace import Note, TraceEvent

REPLY_CODE = re.compile(r"[2-5][0-9][0-9]")
REVEAL_AFTER = 2  # wrong answers before a front end offers to show the answer


@dataclass(frozen=True)
class Feedback:
    """What the learner is told after answering: right or not, and why."""

    correct: bool
    text: str


class _Question(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    prompt: str
    why: str = ""  # the explanation shown with a right answer

    def options(self) -> list[str] | None:
        """The answers to choose from, in order; None when the answer is typed."""
        return None

    def check(self, answer: int | str) -> Feedback:
        raise NotImplementedError

    def reveal(self) -> str:
        """The answer and why, for a learner who has tried and is stuck (front ends offer it after REVEAL_AFTER)."""
        raise NotImplementedError


class ChoiceQuestion(_Question):
    """Multiple choice: one right answer, and a reason for each wrong one."""

    kind: Literal["choice"] = "choice"
    choices: list[str] = Field(min_length=2)
    answer: int = Field(ge=0)  # the index of the right choice
    wrong: list[str] = []  # one sentence per choice (the right one's may be empty): why it is not right

    @model_validator(mode="after")
    def _fits(self) -> ChoiceQuestion:
        if self.answer >= len(self.choices):
            raise ValueError(f"answer {self.answer} is not the index of one of the {len(self.choices)} choices")
        if self.wrong and len(self.wrong) != len(self.choices):
            raise ValueError(f"wrong has {len(self.wrong)} entries; expected one per choice ({len(self.choices)})")
        return self

    def options(self) -> list[str] | None:
        return list(self.choices)

    def check(self, answer: int | str) -> Feedback:
        index = _index(answer, self.choices)
        if index is None:
            return Feedback(False, "Pick one of the answers.")
        if index == self.answer:
            return Feedback(True, _joined("Right.", self.why))
        reason = self.wrong[index] if self.wrong else ""
        return Feedback(False, _joined("Not quite.", reason or "Look again, and try another answer."))

    def reveal(self) -> str:
        return _joined(f"The answer: {self.choices[self.answer]}.", self.why)


class NextReplyQuestion(_Question):
    """Which reply comes next to this client line? Answered by the scenario's trace.

    SMTP's answer is a three-digit code; POP3's +OK or -ERR; IMAP's the status of the tagged
    response (OK, NO or BAD), or + when the server first asks for more (a continuation request).
    """

    kind: Literal["next-reply"] = "next-reply"
    scenario: str
    seed: int = 1
    faults: list[str] = []
    # The start of the client's line as the transcript shows it ("RCPT TO:<nobody@example.org>",
    # "a3 UID FETCH"), or "." for the lone dot that ends a message.
    after: str
    server: str = ""  # the server it is said to (the first connection where the line is said, if empty)

    @property
    def reply(self) -> tuple[str, str]:
        """The server's reply line to the client's line, and its explanation, from the scenario's trace."""
        line, explain, _ = self._found
        return line, explain

    @property
    def code(self) -> str:
        """The answer to type: 354, +OK, -ERR, OK, NO, BAD or +."""
        line, _, protocol = self._found
        return _code(line, protocol)

    @property
    def _found(self) -> tuple[str, str, str]:
        return _reply_after(_run(self.scenario, self.seed, tuple(self.faults)), self.after, self.server)

    def check(self, answer: int | str) -> Feedback:
        line, explain, protocol = self._found
        code, typed = _code(line, protocol), str(answer).strip().upper()
        if protocol != "SMTP":
            meanings = _MEANINGS[protocol]
            if typed not in meanings:
                return Feedback(False, f"Type one of {', '.join(meanings)}.")
            if typed == code:
                return Feedback(True, _joined(f"Right: the server answers {line}", explain, self.why))
            return Feedback(False, f"Not {typed}, which would mean {meanings[typed]}. Try again.")
        if not REPLY_CODE.fullmatch(typed):
            return Feedback(False, "Type a three-digit reply code, such as 250.")
        if typed == code:
            return Feedback(True, _joined(f"Right: the server answers {line}", explain, self.why))
        if typed[0] == code[0]:
            return Feedback(False, f"Close: the first digit, {code[0]}, is right ({_CLASSES[code[0]]}). Try again.")
        return Feedback(False, f"Not {typed}: a {typed[0]}xx reply means {_CLASSES[typed[0]]}. Try again.")

    def reveal(self) -> str:
        line, explain, protocol = self._found
        return _joined(f"The answer: {_code(line, protocol)}. The server answers {line}", explain, self.why)


class BrokenLineQuestion(_Question):
    """Which line of the message as delivered broke its DKIM signature?"""

    kind: Literal["broken-line"] = "broken-line"
    scenario: str
    seed: int = 1
    mailbox: str  # whose copy to show
    subject: str  # a piece of its Subject, to pick the message

    @property
    def _lines(self) -> tuple[list[str], set[int], set[int]]:
        """The lines offered, the indexes of those that break the signature, and of those added harmlessly."""
        return _broken_lines(self.scenario, self.seed, self.mailbox, self.subject)

    def options(self) -> list[str] | None:
        return list(self._lines[0])

    @property
    def breaking(self) -> list[int]:
        """The indexes (into `options()`) of the lines that break the signature."""
        return sorted(self._lines[1])

    def check(self, answer: int | str) -> Feedback:
        lines, breaking, added = self._lines
        index = _index(answer, lines)
        if index is None:
            return Feedback(False, "Pick one of the lines.")
        if index in breaking:
            return Feedback(True, _joined("Right: that line is not in the message the signer hashed.", self.why))
        if index in added:
            return Feedback(
                False,
                "That line was added on the way, but the signature does not cover it: it is not in the body, "
                "and its field is not named in the h= tag. Try again.",
            )
        return Feedback(False, "That line is exactly as the signer sent it. Try again.")

    def reveal(self) -> str:
        lines, breaking, _ = self._lines
        shown = "; ".join(repr(lines[i]) for i in sorted(breaking))
        return _joined(f"The lines the signer never hashed: {shown}.", self.why)


Question = Annotated[ChoiceQuestion | NextReplyQuestion | BrokenLineQuestion, Field(discriminator="kind")]

_MEANINGS = {
    "POP3": {"+OK": "success", "-ERR": "a refusal or an error", "+": "go on: the server asks for more"},
    "IMAP": {
        "OK": "the command worked",
        "NO": "the command was understood but failed",
        "BAD": "the command was not understood (bad syntax, or not allowed in this state)",
        "+": "go on: the server asks for more (a continuation request)",
    },
}
_CLASSES = {
    "2": "success",
    "3": "go on, send the rest",
    "4": "a temporary failure: try again later",
    "5": "a permanent failure: do not try again",
}


def _joined(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p.strip())


def _index(answer: int | str, options: list[str]) -> int | None:
    if isinstance(answer, int):
        return answer if 0 <= answer < len(options) else None
    return options.index(answer) if answer in options else None


# A question is asked and checked many times; the scenario behind it runs once per process.
@lru_cache(maxsize=32)
def _run(scenario: str, seed: int, faults: tuple[str, ...]) -> list[TraceEvent]:
    sim = Simulation.from_scenario(scenario, seed=seed, faults=faults)
    sim.run()
    return sim.trace


def _code(line: str, protocol: str) -> str:
    if protocol == "SMTP":
        return line[:3]
    if line.startswith("+") and not line.startswith("+OK"):
        return "+"
    word = line.split(" ", 2)[0 if protocol == "POP3" else 1]
    return word.upper()


def _reply_after(trace: list[TraceEvent], after: str, server: str) -> tuple[str, str, str]:
    """The reply to the first client line that starts with `after`: its line, explanation and protocol."""
    clients = {e.conn: e.src for e in trace if e.kind == "connect"}  # who opened each connection
    for event in trace:
        if event.kind != "send" or event.protocol not in _PAIRED or clients.get(event.conn) != event.src:
            continue
        if server not in (event.dst, ""):
            continue
        for unit in event.units:
            if not _is_record(unit.data) and _said(unit.data, _line(unit.summary), after, event.protocol):
                line, explain = _PAIRED[event.protocol](trace, event, unit.summary)
                return line, explain, event.protocol
    where = f" to {server}" if server else ""
    raise LookupError(f"no client line starting {after!r}{where} in the trace")


def _said(data: bytes, line: str, after: str, protocol: str) -> bool:
    if after == ".":  # the end of a message: the unit that carries it, or a dot typed alone
        return protocol == "SMTP" and (data.endswith(b"\r\n.\r\n") or data == b".\r\n")
    return line.startswith(after)


def _line(summary: str) -> str:
    return summary.removeprefix(TLS_PREFIX)


def _is_record(data: bytes) -> bool:
    """A TLS record of its own (handshake, ticket, alert): its first octet is a content type, then version 3.x."""
    return len(data) > 1 and data[0] in (0x14, 0x15, 0x16, 0x17) and data[1] == 0x03


def _units(trace: list[TraceEvent], conn: int | None) -> Iterator[tuple[TraceEvent, Note]]:
    """The protocol units written on one connection, in order, TLS records of their own left out."""
    for event in trace:
        if event.kind == "send" and event.conn == conn:
            yield from ((event, unit) for unit in event.units if not _is_record(unit.data))


def _nth_reply(trace: list[TraceEvent], asked: TraceEvent, summary: str) -> tuple[str, str]:
    """SMTP and POP3 answer every command in order (RFC 5321 §4.1, RFC 1939 §3): after the greeting, the n-th
    client unit gets the n-th reply, pipelined or not, in clear or inside TLS."""
    sent = replies = 0
    greeted = counting = False
    for event, unit in _units(trace, asked.conn):
        if event.src == asked.src and not counting:
            sent += 1
            counting = event.seq == asked.seq and unit.summary == summary
        elif event.src == asked.dst:
            if not greeted:
                greeted = True
                continue
            replies += 1
            if counting and replies == sent:
                return _line(unit.summary), unit.explain
    raise LookupError(f"the server never answered {summary!r}")


def _tagged_reply(trace: list[TraceEvent], asked: TraceEvent, summary: str) -> tuple[str, str]:
    """IMAP answers a command with its tag (RFC 3501 §2.2.2); untagged data comes first, and a `+` continuation
    request when the server wants more before it can answer."""
    said = _line(summary)
    # A line of one word (DONE, a SASL answer) finishes the command before it, which the tagged reply is for.
    tag, done = said.split(" ", 1)[0], said.upper() == "DONE"
    after = False
    for event, unit in _units(trace, asked.conn):
        line = _line(unit.summary)
        if event.seq == asked.seq and unit.summary == summary:
            after = True
        elif not after and event.src == asked.src and " " not in said and " " in line:
            tag = line.split(" ", 1)[0]
        elif after and event.src == asked.dst and ((line.startswith("+") and not done) or line.split(" ", 1)[0] == tag):
            return line, unit.explain
    raise LookupError(f"the server never answered {summary!r}")


_PAIRED = {"SMTP": _nth_reply, "POP3": _nth_reply, "IMAP": _tagged_reply}


_NOT_OFFERED = ("return-path", "received", "authentication-results", "x-spam")


@lru_cache(maxsize=8)
def _broken_lines(scenario: str, seed: int, mailbox: str, subject: str) -> tuple[list[str], set[int], set[int]]:
    sim = Simulation.from_scenario(scenario, seed=seed)
    sim.run()
    delivered = next(
        (m for m in sim.mailbox(mailbox) if subject in _field(m.content, "subject")),
        None,
    )
    if delivered is None:
        raise LookupError(f"no message with {subject!r} in its Subject in {mailbox}'s mailbox")
    message_id = _field(delivered.content, "message-id")
    signed = next(
        (
            unit.data
            for event in sim.trace
            if event.kind == "send"
            for unit in event.units
            if b"\r\nDKIM-Signature:" in b"\r\n" + unit.data and message_id.encode() in unit.data
        ),
        None,
    )
    if signed is None:
        raise LookupError(f"no signed copy of {message_id} on the wire")
    covered = set(_signed_fields(signed))
    sent_lines = set(_logical_lines(_unstuffed(signed)))
    offered: list[str] = []
    breaking: set[int] = set()
    added: set[int] = set()
    in_body = False
    for line in _logical_lines(delivered.content):
        if not in_body and line == "":
            in_body = True
            continue
        name = line.partition(":")[0].strip().lower() if not in_body else ""
        if name.startswith(_NOT_OFFERED):
            continue
        index = len(offered)
        offered.append(line if len(line) <= 100 else line[:97] + "...")
        if line in sent_lines:
            continue
        if in_body or name in covered:
            breaking.add(index)
        else:
            added.add(index)
    return offered, breaking, added


def _unstuffed(data: bytes) -> bytes:
    body = data.removesuffix(b".\r\n")
    return re.sub(rb"(?m)^\.\.", b".", body)


def _logical_lines(content: bytes) -> list[str]:
    """Header fields unfolded to one line each, then the body's lines."""
    text = content.decode("utf-8", "replace").replace("\r\n", "\n")
    head, _, body = text.partition("\n\n")
    fields = re.sub(r"\n[ \t]+", " ", head).split("\n")
    return [*fields, "", *body.rstrip("\n").split("\n")]


def _field(content: bytes, name: str) -> str:
    for line in _logical_lines(content):
        if line == "":
            break
        key, _, value = line.partition(":")
        if key.strip().lower() == name:
            return value.strip()
    return ""


def _signed_fields(signed: bytes) -> list[str]:
    tags = _field(_unstuffed(signed), "dkim-signature")
    match = re.search(r"(?:^|;)\s*h=([^;]*)", tags)
    return [name.strip().lower() for name in match.group(1).split(":")] if match else []
