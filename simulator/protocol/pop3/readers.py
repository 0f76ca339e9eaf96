"""Bytes to meaning: command lines and their arguments (server), responses (client).

Parsing returns values or raises `SyntaxProblem` carrying the -ERR the problem
implies; the server engine turns that into the response on the wire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from simulator.protocol.errors import RemoteProtocolError
from simulator.protocol.pop3 import replies
from simulator.protocol.pop3.replies import Response, Status

# RFC 2449 §4: a command line is at most 255 octets, CRLF included.
COMMAND_LINE_LIMIT = 255
# RFC 1939 §3: each argument may be up to 40 characters long.
ARGUMENT_LIMIT = 40
# RFC 2449 §4: a response's first line is at most 512 octets; real servers exceed it.
RESPONSE_LINE_LIMIT = 4096
# Lines of a multi-line body (a message's lines) are not limited by POP3; this bounds memory.
BODY_LINE_LIMIT = 1 << 20


class SyntaxProblem(RemoteProtocolError):
    """A malformed command; `response` is what the server answers."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.text)
        self.response = response


@dataclass(frozen=True)
class Command:
    """A command line split into its keyword (upper-cased, RFC 1939 §3) and the rest."""

    verb: str
    argument: str

    @property
    def arguments(self) -> list[str]:
        return self.argument.split()


def printable(text: str, limit: int = ARGUMENT_LIMIT) -> str:
    """Text safe to echo in a response: printable ASCII only, cut short."""
    cleaned = "".join(c if " " <= c <= "~" else "?" for c in text[:limit])
    return cleaned + ("..." if len(text) > limit else "")


def parse_command(content: bytes) -> Command:
    """Split a command line; keywords are case-insensitive, arguments are kept as sent (RFC 1939 §3)."""
    text = content.decode("utf-8", errors="surrogateescape")
    verb, _, argument = text.partition(" ")
    return Command(verb.upper() if verb.isascii() else verb, argument)


def _decimal(argument: str) -> int | None:
    if argument.isascii() and argument.isdigit() and len(argument) <= ARGUMENT_LIMIT:
        return int(argument)
    return None


def parse_number(argument: str) -> int:
    """A message number: a positive decimal (RFC 1939 §3). Range is the engine's business."""
    value = _decimal(argument)
    if value is None:
        raise SyntaxProblem(replies.invalid_number(printable(argument)))
    return value


def parse_line_count(argument: str) -> int:
    """TOP's second argument: a non-negative number of body lines (RFC 1939 §7)."""
    value = _decimal(argument)
    if value is None:
        raise SyntaxProblem(replies.invalid_lines(printable(argument)))
    return value


def top_of(content: bytes, lines: int) -> bytes:
    """The header, the blank line and the first `lines` lines of the body (RFC 1939 §7 TOP)."""
    head, blank, body = content.partition(b"\r\n\r\n")
    if not blank:
        return head
    kept = body.split(b"\r\n")
    if kept and kept[-1] == b"":
        kept.pop()  # the split after the final CRLF
    if not lines:
        return head + b"\r\n\r\n"
    return head + b"\r\n\r\n" + b"".join(line + b"\r\n" for line in kept[:lines])


# --- responses, for the client ---------------------------------------------------------

_TIMESTAMP = re.compile(r"<[^<>\s]*>")


def apop_timestamp_in(text: str) -> str | None:
    """The `<...>` timestamp a greeting offers for APOP, if any (RFC 1939 §7)."""
    found = _TIMESTAMP.search(text)
    return found.group(0) if found and "@" in found.group(0) else None


def _status_line(content: bytes) -> Response:
    text = content.decode("utf-8", errors="replace")
    for status in (Status.OK, Status.ERR):
        prefix = status.value
        if text[: len(prefix)].upper() == prefix and (len(text) == len(prefix) or text[len(prefix)] == " "):
            return Response(status, text[len(prefix) + 1 :])
    if text == "+" or text.startswith("+ "):
        return Response(Status.CONTINUE, text[2:])
    raise RemoteProtocolError(f"not a POP3 response line: {content[:60]!r}")


class ResponseReader:
    """Assembles response lines into `Response` objects, un-stuffing multi-line bodies.

    Whether a +OK opens a multi-line block depends on the command it answers
    (RFC 1939 §3), so the client says what it expects with `expect()` before
    each response.
    """

    def __init__(self) -> None:
        self._multiline = False
        self._first: Response | None = None
        self._body = bytearray()

    def expect(self, multiline: bool) -> None:
        """Say whether the next +OK is followed by lines up to a lone dot."""
        self._multiline = multiline

    @property
    def partial(self) -> bool:
        return self._first is not None

    def feed_line(self, content: bytes) -> Response | None:
        """Take one line (without CRLF); return the Response when it is complete."""
        if self._first is None:
            first = _status_line(content)
            if first.status is Status.OK and self._multiline:
                self._first = first
                return None
            return first.annotated()
        if content == b".":
            first, body = self._first, bytes(self._body)
            self._first, self._body = None, bytearray()
            return Response(first.status, first.text, body).annotated()
        self._body += (content[1:] if content.startswith(b".") else content) + b"\r\n"
        return None


def parse_capabilities(response: Response) -> dict[str, str]:
    """The CAPA body as keyword (upper-cased) to its parameters (RFC 2449 §5)."""
    found: dict[str, str] = {}
    for line in response.body_lines:
        keyword, _, params = line.decode("utf-8", errors="replace").strip().partition(" ")
        if keyword:
            found[keyword.upper()] = params.strip()
    return found


def parse_listing(response: Response) -> list[tuple[int, str]]:
    """LIST or UIDL lines, "number value", skipping lines that do not fit (RFC 1939 §5, §7)."""
    found: list[tuple[int, str]] = []
    for line in response.body_lines:
        words = line.decode("utf-8", errors="replace").split()
        if len(words) >= 2 and words[0].isascii() and words[0].isdigit():
            found.append((int(words[0]), words[1]))
    return found
