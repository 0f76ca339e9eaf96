"""One receive buffer shared by the SMTP, POP3 and IMAP engines.

It frames CRLF-terminated lines and fixed-size chunks (BDAT, IMAP literals).
Framing never depends on how the input was split into `feed()` calls: a line
that grows past its limit is discarded as it arrives and reported once, whole,
when its line feed comes, so memory stays bounded and the result is the same
however the bytes trickle in.
"""

from __future__ import annotations

from typing import NamedTuple

CRLF = b"\r\n"


class Line(NamedTuple):
    """One received line, without its terminator.

    Attributes:
        content: the bytes before the terminator (cut at the limit if too long).
        bare_lf: the line ended in LF without the CR that RFC 5321 §2.3.8 requires.
        bare_cr: a CR not followed by LF appears inside the line.
        too_long: the line, terminator included, was longer than the limit.
        length: the line's full length in octets, terminator included.
    """

    content: bytes
    bare_lf: bool = False
    bare_cr: bool = False
    too_long: bool = False
    length: int = 0


class LineBuffer:
    """Accumulates received bytes and hands them out as lines or chunks."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._overflow = 0  # octets of an over-long line already discarded
        self._overflow_head = b""
        self._overflow_cr = False

    def __len__(self) -> int:
        return len(self._data)

    def __bool__(self) -> bool:
        return bool(self._data) or self._overflow > 0

    def feed(self, data: bytes) -> None:
        self._data += data

    def clear(self) -> None:
        """Forget everything buffered (RFC 3207 §4.2: nothing survives STARTTLS)."""
        self._data.clear()
        self._overflow = 0
        self._overflow_head = b""
        self._overflow_cr = False

    def take_line(self, limit: int) -> Line | None:
        """Return the next complete line, or None if it has not arrived yet.

        Args:
            limit: the largest legal line in octets, CRLF included.
        """
        data = self._data
        end = data.find(b"\n")
        if 0 < end < limit and data[end - 1] == 13 and not self._overflow:  # the usual case: CRLF, in bounds
            body = bytes(data[: end - 1])
            del data[: end + 1]
            return Line(body, False, b"\r" in body, False, end + 1)
        if end < 0:
            if self._overflow or len(self._data) > limit:
                self._discard_overflow(len(self._data), limit)
            return None
        raw = bytes(self._data[: end + 1])
        del self._data[: end + 1]
        if self._overflow:
            length = self._overflow + len(raw)
            content = self._overflow_head
            bare_cr = self._overflow_cr or b"\r" in raw[:-2]
            bare_lf = not raw.endswith(CRLF)
            self._overflow = 0
            self._overflow_head = b""
            self._overflow_cr = False
            return Line(content, bare_lf=bare_lf, bare_cr=bare_cr, too_long=True, length=length)
        bare_lf = not raw.endswith(CRLF)
        body = raw[:-1] if bare_lf else raw[:-2]
        return Line(
            body[: limit - 2] if len(raw) > limit else body,
            bare_lf=bare_lf,
            bare_cr=b"\r" in body,
            too_long=len(raw) > limit,
            length=len(raw),
        )

    def _discard_overflow(self, count: int, limit: int) -> None:
        """Drop the start of an over-long line, keeping a head to show and the CR flag."""
        # Keep the final octet: it may be the CR of a CRLF split across feeds.
        count -= 1
        if count <= 0:
            return
        chunk = bytes(self._data[:count])
        if not self._overflow:
            self._overflow_head = chunk[: max(limit - 2, 0)]
        self._overflow_cr = self._overflow_cr or b"\r" in chunk
        self._overflow += count
        del self._data[:count]

    def complete_lines(self) -> bytes:
        """All the whole lines buffered (up to the last LF), without taking them; b"" mid-overflow."""
        if self._overflow:
            return b""
        end = self._data.rfind(b"\n")
        return bytes(self._data[: end + 1]) if end >= 0 else b""

    def discard(self, size: int) -> None:
        """Drop `size` octets already read with complete_lines()."""
        del self._data[:size]

    def take_exact(self, size: int) -> bytes | None:
        """Return exactly `size` octets (a BDAT chunk, a literal), or None if not all here."""
        if len(self._data) < size:
            return None
        chunk = bytes(self._data[:size])
        del self._data[:size]
        return chunk

    def take_upto(self, size: int) -> bytes:
        """Return at most `size` octets, for discarding a chunk as it streams in."""
        chunk = bytes(self._data[:size])
        del self._data[:size]
        return chunk
