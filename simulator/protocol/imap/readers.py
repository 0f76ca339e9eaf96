"""Bytes to commands: framing IMAP commands with their literals (RFC 3501 §7.5, RFC 7888).

Two stages, as h11 separates its receive buffer from its readers:

* `CommandReader` (here) frames. Fed bytes split anywhere, it returns complete commands,
  literals included, and stops at each synchronising literal `{n}` so the server
  can answer `+ Ready for literal data` (RFC 3501 §7.5), or refuse it before the
  client sends a single octet of it. Non-synchronising literals `{n+}` (RFC 7888)
  are read straight on.
* `parser.parse_command` turns one framed command into a typed `Command`, or into a
  `CommandError` carrying the tag and the text of the BAD response. No input
  makes it raise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from simulator.protocol.imap import events as ev
from simulator.protocol.imap.parser import parse_command, peek_tag
from simulator.protocol.linebuffer import Line, LineBuffer
from simulator.protocol.values import Value

# RFC 7162 §4 asks clients to keep command lines under 8192 octets; servers should accept that much.
MAX_LINE = 8192
# A literal longer than this is refused before it is read (RFC 7888 §4, RFC 3501 §7.5).
MAX_LITERAL = 50 * 1024 * 1024
# The whole command, lines and literals together.
MAX_COMMAND = MAX_LITERAL + 64 * 1024
# RFC 7888 §4: LITERAL- servers accept non-synchronising literals up to 4096 octets only.
LITERAL_MINUS_LIMIT = 4096

# Texts of the BAD responses to framing errors, worded as Dovecot words them.
TOO_LONG_LINE = "Error in IMAP command received by server: Too long line."
TOO_LONG_COMMAND = "Error in IMAP command received by server: Command too long."

_LITERAL_AT_END = re.compile(rb"\{([0-9]{1,19})(\+?)\}\Z")


# --- what the framer reports ----------------------------------------------------


@dataclass(frozen=True)
class NeedsContinuation(Value):
    """A synchronising literal was announced: send `+ Ready for literal data` (or refuse it).

    The reader waits for the literal's octets. To refuse instead, the server calls
    `CommandReader.refuse_literal()` and sends a tagged NO or BAD: the client then
    sends nothing more of this command (RFC 3501 §7.5).
    """

    tag: str | None
    size: int


@dataclass(frozen=True)
class LiteralTooLarge(Value):
    """A literal over the limit, refused before reading it: answer `tag NO [TOOBIG] ...` or BAD.

    For a synchronising literal the client sends nothing more; a non-synchronising one
    is already on its way, and the reader discards it and the rest of that command.
    """

    tag: str | None
    size: int
    synchronizing: bool


ReaderEvent = ev.Command | ev.CommandError | NeedsContinuation | LiteralTooLarge


class CommandReader:
    """Frames and parses the commands a client sends, independent of how the bytes are split.

    Usage: `feed(data)`, then call `next_event()` until it returns None. Between
    commands that are not ordinary (the lines of an AUTHENTICATE exchange, the DONE
    that ends IDLE), the server calls `next_line()` instead.
    """

    def __init__(
        self,
        *,
        max_line: int = MAX_LINE,
        max_literal: int = MAX_LITERAL,
        max_command: int = MAX_COMMAND,
        literal_minus: bool = False,
    ) -> None:
        self.max_line = max_line
        self.max_literal = max_literal
        self.max_command = max_command
        self.literal_minus = literal_minus
        self._buffer = LineBuffer()
        self._parts: list[bytes] = []
        self._size = 0
        self._tag: str | None = None
        self._literal: int | None = None  # octets of literal still to come
        self._discarding = False
        self._awaiting_go_ahead = False

    def feed(self, data: bytes) -> None:
        self._buffer.feed(data)

    def clear(self) -> None:
        """Forget everything, buffered or half-read (RFC 3501 §6.2.1: nothing survives STARTTLS)."""
        self._buffer.clear()
        self._reset()

    @property
    def in_command(self) -> bool:
        """Part of a command has been read and the rest is awaited."""
        return bool(self._parts) or self._literal is not None

    def refuse_literal(self) -> None:
        """Drop the command whose synchronising literal was just announced; the client sends no more of it."""
        if self._awaiting_go_ahead:
            self._reset()

    def next_line(self) -> Line | None:
        """One raw line, for AUTHENTICATE responses and IDLE's DONE; None until it is here."""
        return self._buffer.take_line(self.max_line)

    def next_event(self) -> ReaderEvent | None:
        """The next command, error or literal announcement, or None when more bytes are needed."""
        while True:
            if self._literal is not None and not self._read_literal():
                return None
            line = self._buffer.take_line(self.max_line)
            if line is None:
                return None
            self._awaiting_go_ahead = False
            if line.too_long:
                tag = self._tag if self._parts else peek_tag(line.content)
                discarded = self._discarding
                self._reset()
                if discarded:
                    continue
                return ev.CommandError(tag, TOO_LONG_LINE)
            if not self._parts and not line.content and not self._discarding:
                continue  # a stray empty line between commands is ignored, as Dovecot does
            if not self._parts:
                self._tag = peek_tag(line.content)
            self._size += line.length
            literal = _LITERAL_AT_END.search(line.content)
            if literal is not None and _ends_outside_quotes(line.content, literal.start()):
                size, synchronizing = int(literal.group(1)), not literal.group(2)
                if self._discarding:
                    if synchronizing:  # the client waits for a "+" that will not come: the command ends here
                        self._reset()
                    else:
                        self._literal = size
                    continue
                self._parts.append(line.content + b"\r\n")
                if (
                    size > self.max_literal
                    or self._size + size > self.max_command
                    or (not synchronizing and self.literal_minus and size > LITERAL_MINUS_LIMIT)
                ):
                    tag = self._tag
                    self._reset()
                    if not synchronizing:
                        self._discarding = True
                        self._literal = size
                    return LiteralTooLarge(tag, size, synchronizing)
                self._size += size
                self._literal = size
                if synchronizing:
                    self._awaiting_go_ahead = True
                    return NeedsContinuation(self._tag, size)
                continue
            if self._discarding:
                self._reset()
                continue
            self._parts.append(line.content)
            data = b"".join(self._parts)
            too_big = self._size > self.max_command
            tag = self._tag
            self._reset()
            if too_big:
                return ev.CommandError(tag, TOO_LONG_COMMAND)
            return parse_command(data)

    def _read_literal(self) -> bool:
        """Take the literal's octets as they arrive; True once all of them are here."""
        assert self._literal is not None
        if self._discarding:
            chunk = self._buffer.take_upto(self._literal)
            self._literal -= len(chunk)
            if self._literal:
                return False
        else:
            data = self._buffer.take_exact(self._literal)
            if data is None:
                return False
            self._parts.append(data)
        self._literal = None
        self._awaiting_go_ahead = False
        return True

    def _reset(self) -> None:
        self._parts = []
        self._size = 0
        self._tag = None
        self._literal = None
        self._discarding = False
        self._awaiting_go_ahead = False


def _ends_outside_quotes(line: bytes, end: int) -> bool:
    """Whether position `end` of a line lies outside every quoted string, so `{n}` there is a literal."""
    quoted = False
    i = 0
    while i < end:
        byte = line[i]
        if quoted and byte == 0x5C:  # backslash escapes the next octet inside quotes
            i += 2
            continue
        if byte == 0x22:
            quoted = not quoted
        i += 1
    return not quoted and i == end


def is_idle_done(line: Line) -> bool:
    """Whether a line received while idling is the DONE that ends IDLE (RFC 2177 §3), in any case."""
    return line.content.strip(b" ").upper() == b"DONE"
