"""Meaning to bytes: IMAP responses and the values inside them (RFC 3501 §7, §9).

A value becomes an atom, a number, NIL, a quoted string, a literal or a
parenthesised list. `encode` picks the string form a careful server picks: a
quoted string when every octet may stand inside quotes, otherwise a literal
`{n}` CRLF followed by the octets, which carries anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from simulator.protocol.imap.utf7 import encode_mailbox_name
from simulator.protocol.values import Value

CRLF = b"\r\n"

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Beyond this many \" and \\ escapes a literal reads better, and is what Dovecot sends.
MAX_QUOTED_ESCAPES = 2
# Longer strings go as literals even when they could be quoted, keeping response lines short.
MAX_QUOTED_LENGTH = 1000


@dataclass(frozen=True)
class Atom(Value):
    """An atom or a flag, written as it is: `\\Seen`, `FLAGS`, `IMAP4rev1`."""

    text: str


@dataclass(frozen=True)
class Raw(Value):
    """Octets already in wire form, written as they are (a nested structure encoded earlier)."""

    data: bytes


@dataclass(frozen=True)
class Literal(Value):
    """A string that must go as a literal whatever it holds (message bodies in FETCH)."""

    data: bytes


# None is NIL; str and bytes are strings; lists and tuples are parenthesised lists.
ImapValue = None | int | str | bytes | Atom | Raw | Literal | list["ImapValue"] | tuple["ImapValue", ...]

NIL = b"NIL"


def _quotable(data: bytes) -> bool:
    """Whether a string may go quoted: 7-bit TEXT-CHARs only, few escapes (RFC 3501 §9 `quoted`).

    TAB is a TEXT-CHAR (a folded Subject keeps one); other controls, CR, LF and 8-bit octets are not.
    """
    return (
        len(data) <= MAX_QUOTED_LENGTH
        and all(0x20 <= byte <= 0x7E or byte == 0x09 for byte in data)
        and data.count(b'"') + data.count(b"\\") <= MAX_QUOTED_ESCAPES
    )


def encode_string(data: bytes | str) -> bytes:
    """A string as quoted or literal, whichever can carry it (RFC 3501 §4.3)."""
    raw = data.encode("utf-8", errors="surrogateescape") if isinstance(data, str) else data
    if _quotable(raw):
        return b'"' + raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d}\r\n" % len(raw) + raw


def encode_astring(data: str) -> bytes:
    """A string as a bare atom when it is one and is not NIL, else quoted or literal (`astring`)."""
    raw = data.encode("utf-8", errors="surrogateescape")
    if raw and raw.upper() != NIL and all(byte in _ASTRING_CHARS for byte in raw):
        return raw
    return encode_string(raw)


_ASTRING_CHARS = frozenset(range(0x21, 0x7F)) - frozenset(b'(){%*"\\')


def encode(value: ImapValue) -> bytes:
    """One value in wire form: NIL, a number, a string, an atom or a parenthesised list."""
    if value is None:
        return NIL
    if isinstance(value, bool):  # bool is an int; no IMAP value is a bare boolean
        raise TypeError("IMAP has no boolean values")
    if isinstance(value, int):
        return str(value).encode("ascii")
    if isinstance(value, str | bytes):
        return encode_string(value)
    if isinstance(value, Atom):
        return value.text.encode("utf-8", errors="surrogateescape")
    if isinstance(value, Raw):
        return value.data
    if isinstance(value, Literal):
        return b"{%d}\r\n" % len(value.data) + value.data
    return b"(" + b" ".join(encode(item) for item in value) + b")"


def flag_list(flags: Iterable[str]) -> tuple[Atom, ...]:
    """Flags as a list value: `(\\Seen \\Answered)`."""
    return tuple(Atom(flag) for flag in flags)


def format_date_time(when: datetime) -> str:
    """An INTERNALDATE, `02-Dec-2026 10:00:00 +0000` (RFC 3501 §9 `date-time`, day padded with a space)."""
    offset = when.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return (
        f"{when.day:2d}-{_MONTHS[when.month - 1]}-{when.year:04d} "
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} {sign}{hours:02d}{mins:02d}"
    )


def compact_set(numbers: Iterable[int]) -> str:
    """Numbers as a compact sequence set, `1:3,5` (UIDPLUS uses it in COPYUID, RFC 4315 §3).

    The order given is kept, since COPYUID pairs its source and destination sets
    element by element; runs of consecutive ascending numbers collapse into ranges.
    """
    parts: list[str] = []
    start: int | None = None
    previous = 0
    for number in numbers:
        if start is not None and number == previous + 1:
            previous = number
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}:{previous}")
        start = previous = number
    if start is not None:
        parts.append(str(start) if start == previous else f"{start}:{previous}")
    return ",".join(parts)


# --- response codes (RFC 3501 §7.1) -------------------------------------------------


@dataclass(frozen=True)
class ResponseCode(Value):
    """A response code in brackets: `[UIDNEXT 5]`, `[PERMANENTFLAGS (\\Seen \\*)]`."""

    name: str
    data: str = ""

    def __str__(self) -> str:
        return f"[{self.name} {self.data}]" if self.data else f"[{self.name}]"


ALERT = ResponseCode("ALERT")  # RFC 3501 §7.1: the text must be shown to the user
READ_ONLY = ResponseCode("READ-ONLY")
READ_WRITE = ResponseCode("READ-WRITE")
TRYCREATE = ResponseCode("TRYCREATE")  # RFC 3501 §7.1: the target mailbox does not exist
CLOSED = ResponseCode("CLOSED")  # RFC 7162 §3.2.11: the previous mailbox was closed
PARSE = ResponseCode("PARSE")
AUTHENTICATIONFAILED = ResponseCode("AUTHENTICATIONFAILED")  # RFC 5530 §3
PRIVACYREQUIRED = ResponseCode("PRIVACYREQUIRED")  # RFC 5530 §3
NONEXISTENT = ResponseCode("NONEXISTENT")  # RFC 5530 §3
ALREADYEXISTS = ResponseCode("ALREADYEXISTS")  # RFC 5530 §3
TOOBIG = ResponseCode("TOOBIG")  # RFC 4469 §4, used by RFC 7888 §4 for refused literals
CANNOT = ResponseCode("CANNOT")  # RFC 5530 §3
LIMIT = ResponseCode("LIMIT")  # RFC 5530 §3


def capability_code(capabilities: Iterable[str]) -> ResponseCode:
    return ResponseCode("CAPABILITY", " ".join(capabilities))


def permanentflags_code(flags: Iterable[str]) -> ResponseCode:
    """`[PERMANENTFLAGS (\\Seen \\*)]`: the flags a client may change for good (RFC 3501 §7.1)."""
    return ResponseCode("PERMANENTFLAGS", "(" + " ".join(flags) + ")")


def uidnext_code(uid: int) -> ResponseCode:
    return ResponseCode("UIDNEXT", str(uid))


def uidvalidity_code(value: int) -> ResponseCode:
    return ResponseCode("UIDVALIDITY", str(value))


def unseen_code(number: int) -> ResponseCode:
    """`[UNSEEN n]`: the sequence number of the first unseen message (RFC 3501 §7.1)."""
    return ResponseCode("UNSEEN", str(number))


def appenduid_code(uidvalidity: int, uid: int) -> ResponseCode:
    """`[APPENDUID v uid]` (RFC 4315 §3)."""
    return ResponseCode("APPENDUID", f"{uidvalidity} {uid}")


def copyuid_code(uidvalidity: int, source_uids: Sequence[int], destination_uids: Sequence[int]) -> ResponseCode:
    """`[COPYUID v 1:3,5 11:14]`: the target mailbox's UIDVALIDITY, then source and new UIDs in pairs (RFC 4315 §3)."""
    return ResponseCode("COPYUID", f"{uidvalidity} {compact_set(source_uids)} {compact_set(destination_uids)}")


# --- responses ------------------------------------------------------------------------


class Status(Enum):
    """Status responses (RFC 3501 §7.1); BYE and PREAUTH are untagged only."""

    OK = "OK"
    NO = "NO"
    BAD = "BAD"
    PREAUTH = "PREAUTH"
    BYE = "BYE"


def _text(text: str) -> bytes:
    # resp-text is one line of TEXT-CHARs (RFC 3501 §9): CR and LF would end the response early.
    return text.replace("\r", " ").replace("\n", " ").encode("utf-8", errors="surrogateescape")


def _status_line(prefix: str, status: Status, text: str, code: ResponseCode | None) -> bytes:
    head = f"{prefix} {status.value} "
    if code is not None:
        head += f"{code} "
    return head.encode("utf-8", errors="surrogateescape") + _text(text) + CRLF


def format_tagged(tag: str, status: Status, text: str, code: ResponseCode | None = None) -> bytes:
    """`a1 OK [READ-WRITE] Select completed.`: the completion of one command (RFC 3501 §7.1)."""
    if status not in (Status.OK, Status.NO, Status.BAD):
        raise ValueError(f"{status.value} is never tagged (RFC 3501 §7.1.4, §7.1.5)")
    return _status_line(tag, status, text, code)


def format_untagged_status(status: Status, text: str, code: ResponseCode | None = None) -> bytes:
    """`* OK [UIDVALIDITY 3] UIDs valid`, `* BYE Logging out`, `* BAD ...` when the tag is unknown."""
    return _status_line("*", status, text, code)


def format_untagged(*values: ImapValue) -> bytes:
    """Untagged data, values separated by spaces: `* CAPABILITY IMAP4rev1 IDLE`, `* 3 EXISTS`."""
    return b"* " + b" ".join(encode(value) for value in values) + CRLF


def format_continuation(text: str = "") -> bytes:
    """A command continuation request, `+ Ready for literal data` (RFC 3501 §7.5)."""
    return b"+ " + _text(text) + CRLF


def format_fetch(number: int, items: Sequence[tuple[str, ImapValue]]) -> bytes:
    """`* 12 FETCH (UID 40 FLAGS (\\Seen))` from (name, value) pairs in order (RFC 3501 §7.4.2)."""
    body = b" ".join(name.encode("ascii") + b" " + encode(value) for name, value in items)
    return b"* %d FETCH (" % number + body + b")" + CRLF


def format_list(attributes: Iterable[str], delimiter: str | None, name: str, command: str = "LIST") -> bytes:
    """`* LIST (\\HasNoChildren) "/" INBOX`, the name in modified UTF-7 (RFC 3501 §7.2.2)."""
    return (
        f"* {command} (".encode()
        + " ".join(attributes).encode("ascii")
        + b") "
        + encode(delimiter)
        + b" "
        + encode_astring(encode_mailbox_name(name))
        + CRLF
    )


def format_search(numbers: Iterable[int]) -> bytes:
    """`* SEARCH 2 5 9`, or `* SEARCH` when nothing matched (RFC 3501 §7.2.5)."""
    return b"".join([b"* SEARCH", *(b" %d" % n for n in numbers), CRLF])


def format_status(mailbox: str, items: Sequence[tuple[str, int]]) -> bytes:
    """`* STATUS INBOX (MESSAGES 3 UNSEEN 1)` (RFC 3501 §7.2.4)."""
    pairs = " ".join(f"{name} {value}" for name, value in items).encode("ascii")
    return b"* STATUS " + encode_astring(encode_mailbox_name(mailbox)) + b" (" + pairs + b")" + CRLF
