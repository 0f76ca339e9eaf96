"""Bytes to server responses: the client side's IMAP reader (RFC 3501 §7, §9).

Two stages, as on the server side:

* `ResponseReader` frames. Fed bytes split anywhere, it returns whole responses,
  their literals `{n}` CRLF octets included (a message body inside `* 3 FETCH`),
  so the result never depends on how the bytes arrived.
* `parse_response` turns one framed response into a typed value: a status
  response (tagged, or untagged OK/NO/BAD/BYE/PREAUTH) with its response code,
  untagged data (CAPABILITY, FLAGS, EXISTS, RECENT, EXPUNGE, FETCH, SEARCH,
  LIST/LSUB, STATUS, ENABLED, NAMESPACE), or a continuation request `+`.

Nothing a server sends makes either raise: what does not fit the grammar of
RFC 3501 §9 becomes `Unparsed`, which says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from simulator.protocol.imap.utf7 import decode_mailbox_name
from simulator.protocol.imap.writers import Atom, ResponseCode, Status
from simulator.protocol.linebuffer import LineBuffer
from simulator.protocol.values import Value

# Response lines can be long (a FETCH with ENVELOPE and BODYSTRUCTURE); a megabyte is far beyond real ones.
MAX_LINE = 1024 * 1024
# A literal longer than this ends the session rather than filling memory.
MAX_LITERAL = 64 * 1024 * 1024
# Parenthesised lists nested deeper than this are refused rather than recursed into.
MAX_DEPTH = 64
# Numbers are at most 64-bit in IMAP (RFC 3501 §9 `number` is 32-bit; RFC 7162 mod-sequences are 63-bit).
_MAX_DIGITS = 20

_LITERAL_AT_END = re.compile(rb"~?\{([0-9]{1,20})\+?\}\Z")
_TAG = re.compile(r"[\x21\x23\x24\x26\x27\x2c-\x5b\x5d-\x7a\x7c\x7e]+\Z")  # ASTRING-CHAR except "+" (RFC 3501 §9)
_STATUSES = {status.value: status for status in Status}
_TAGGED_STATUSES = frozenset({Status.OK, Status.NO, Status.BAD})

# A parsed value: NIL is None, a number is an int, a string (quoted or literal) is bytes,
# an atom or flag is an Atom, a parenthesised list is a tuple.
ParsedValue = None | int | bytes | Atom | tuple["ParsedValue", ...]


class ParseError(Exception):
    """A response that breaks the grammar; becomes `Unparsed` at one boundary."""


# --- what the reader returns ---------------------------------------------------------


class ServerResponse(Value):
    """Base of everything a server sends."""

    __slots__ = ()


@dataclass(frozen=True)
class StatusResponse(ServerResponse):
    """`A0001 OK [READ-WRITE] Select completed.` or `* OK [UIDVALIDITY 3] UIDs valid` (RFC 3501 §7.1).

    Attributes:
        tag: the command's tag, or None for an untagged status response.
        status: OK, NO, BAD; untagged also PREAUTH and BYE.
        text: the human-readable text after the code.
        code: the bracketed response code, if any.
    """

    tag: str | None
    status: Status
    text: str
    code: ResponseCode | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    def code_number(self, name: str) -> int | None:
        """The number of `[UIDVALIDITY n]`, `[UIDNEXT n]`, `[UNSEEN n]` ... when the code is `name`."""
        if self.code is None or self.code.name != name.upper() or not self.code.data.isdigit():
            return None
        return int(self.code.data)

    def code_atoms(self, name: str) -> tuple[str, ...] | None:
        """The words of `[CAPABILITY ...]`, or of the list in `[PERMANENTFLAGS (...)]`, when the code is `name`."""
        if self.code is None or self.code.name != name.upper():
            return None
        return tuple(self.code.data.strip("()").split())

    @property
    def capabilities(self) -> tuple[str, ...] | None:
        """`[CAPABILITY ...]` in a greeting or a login's OK, saving a CAPABILITY command (RFC 3501 §7.1)."""
        return self.code_atoms("CAPABILITY")

    @property
    def copyuid(self) -> UidMapping | None:
        """`[COPYUID v source destination]` (RFC 4315 §3)."""
        if self.code is None or self.code.name != "COPYUID":
            return None
        return _uid_mapping(self.code.data)

    @property
    def appenduid(self) -> UidMapping | None:
        """`[APPENDUID v uids]` (RFC 4315 §3): no source UIDs, only the new ones."""
        if self.code is None or self.code.name != "APPENDUID":
            return None
        return _uid_mapping(self.code.data)


@dataclass(frozen=True)
class UidMapping(Value):
    """The UIDs a COPYUID or APPENDUID code reports: the target's UIDVALIDITY, source and new UIDs."""

    uidvalidity: int
    source: tuple[int, ...]
    destination: tuple[int, ...]


@dataclass(frozen=True)
class Continuation(ServerResponse):
    """`+ Ready for literal data`, `+ idling`, or a base64 SASL challenge (RFC 3501 §7.5)."""

    text: str
    code: ResponseCode | None = None


@dataclass(frozen=True)
class CapabilityData(ServerResponse):
    """`* CAPABILITY IMAP4rev1 IDLE ...` (RFC 3501 §7.2.1); names kept as sent."""

    capabilities: tuple[str, ...]


@dataclass(frozen=True)
class FlagsData(ServerResponse):
    """`* FLAGS (\\Answered \\Seen ...)`: the flags defined in the mailbox (RFC 3501 §7.2.6)."""

    flags: tuple[str, ...]


@dataclass(frozen=True)
class Exists(ServerResponse):
    """`* n EXISTS`: the mailbox now holds n messages (RFC 3501 §7.3.1)."""

    count: int


@dataclass(frozen=True)
class Recent(ServerResponse):
    """`* n RECENT`: n messages arrived since the last session (RFC 3501 §7.3.2)."""

    count: int


@dataclass(frozen=True)
class Expunge(ServerResponse):
    """`* n EXPUNGE`: message number n is gone and every later number drops by one (RFC 3501 §7.4.1)."""

    number: int


@dataclass(frozen=True)
class Address(Value):
    """One address of an ENVELOPE: (name adl mailbox host) (RFC 3501 §7.4.2)."""

    name: str | None
    adl: str | None
    mailbox: str | None
    host: str | None

    def __str__(self) -> str:
        if self.mailbox is None or self.host is None:
            return self.mailbox or ""
        return f"{self.mailbox}@{self.host}"


@dataclass(frozen=True)
class Envelope(Value):
    """ENVELOPE: the main header fields as a server parsed them (RFC 3501 §7.4.2); None where NIL."""

    date: str | None
    subject: str | None
    from_: tuple[Address, ...]
    sender: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    bcc: tuple[Address, ...]
    in_reply_to: str | None
    message_id: str | None


@dataclass(frozen=True)
class FetchData(ServerResponse):
    """`* n FETCH (UID 4 FLAGS (\\Seen) ... BODY[] {342} ...)` (RFC 3501 §7.4.2).

    Attributes:
        number: the message sequence number.
        items: every (item name upper-cased, value) pair in order, the section kept in the name: `BODY[]`.
        uid, flags, size, internal_date, envelope: the items a mail program reads, None when absent.
        sections: each `BODY[section]<origin>` item by its name, the octets or None for NIL.
    """

    number: int
    items: tuple[tuple[str, ParsedValue], ...] = field(repr=False)
    uid: int | None = None
    flags: tuple[str, ...] | None = None
    size: int | None = None
    internal_date: str | None = None
    envelope: Envelope | None = None
    sections: tuple[tuple[str, bytes | None], ...] = field(default=(), repr=False)

    def section(self, name: str = "BODY[]") -> bytes | None:
        """The octets of one body section, `BODY[]` (the whole message) by default."""
        wanted = name.upper()
        for key, data in self.sections:
            if key.upper() == wanted:
                return data
        return None


@dataclass(frozen=True)
class SearchData(ServerResponse):
    """`* SEARCH 2 5 9`: the matching numbers or UIDs (RFC 3501 §7.2.5)."""

    numbers: tuple[int, ...]


@dataclass(frozen=True)
class ListData(ServerResponse):
    """`* LIST (\\HasNoChildren) "/" INBOX` or the same with LSUB (RFC 3501 §7.2.2, §7.2.3).

    The name is decoded from modified UTF-7 (RFC 3501 §5.1.3).
    """

    command: str
    attributes: tuple[str, ...]
    delimiter: str | None
    name: str


@dataclass(frozen=True)
class StatusData(ServerResponse):
    """`* STATUS INBOX (MESSAGES 3 UNSEEN 1)` (RFC 3501 §7.2.4)."""

    mailbox: str
    items: tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class EnabledData(ServerResponse):
    """`* ENABLED CONDSTORE`: the extensions an ENABLE turned on (RFC 5161 §3.2)."""

    capabilities: tuple[str, ...]


NamespaceList = tuple[tuple[str, str | None], ...] | None


@dataclass(frozen=True)
class NamespaceData(ServerResponse):
    """`* NAMESPACE (("" "/")) NIL NIL`: (prefix, delimiter) pairs, or None, per kind (RFC 2342 §5)."""

    personal: NamespaceList
    other_users: NamespaceList
    shared: NamespaceList


@dataclass(frozen=True)
class OtherData(ServerResponse):
    """Untagged data of an extension this reader does not know (`* ID (...)`, `* 3 XYZ`): kept, not an error."""

    name: str
    values: tuple[ParsedValue, ...]
    number: int | None = None


@dataclass(frozen=True)
class Unparsed(ServerResponse):
    """A response that breaks the grammar (RFC 3501 §9), with why; `fatal` when framing itself failed."""

    raw: bytes = field(repr=False)
    reason: str
    fatal: bool = False


# --- framing ---------------------------------------------------------------------------


class ResponseReader:
    """Frames server responses with their literals, independent of how the bytes are split.

    Usage: `feed(data)`, then call `next_response()` until it returns None. After a
    fatal framing error (a literal over the limit) the reader returns nothing more.
    """

    def __init__(self, *, max_line: int = MAX_LINE, max_literal: int = MAX_LITERAL) -> None:
        self.max_line = max_line
        self.max_literal = max_literal
        self._buffer = LineBuffer()
        self._parts: list[bytes] = []
        self._literal: int | None = None
        self._size = 0
        self.broken = False

    def feed(self, data: bytes) -> None:
        if not self.broken:
            self._buffer.feed(data)

    def clear(self) -> None:
        """Forget everything buffered (RFC 3501 §6.2.1: nothing read before TLS survives it)."""
        self._buffer.clear()
        self._parts = []
        self._literal = None
        self._size = 0

    @property
    def in_response(self) -> bool:
        """Part of a response has been read and the rest is awaited."""
        return bool(self._parts) or self._literal is not None

    def next_response(self) -> ServerResponse | None:
        """The next whole response, parsed, or None until more bytes arrive."""
        while not self.broken:
            if self._literal is not None:
                data = self._buffer.take_exact(self._literal)
                if data is None:
                    return None
                self._parts.append(data)
                self._literal = None
                continue
            line = self._buffer.take_line(self.max_line)
            if line is None:
                return None
            if line.too_long:
                self._parts = []
                self._size = 0
                return Unparsed(line.content[:200], f"a response line longer than {self.max_line} octets")
            self._parts.append(line.content)
            self._size += line.length
            match = _LITERAL_AT_END.search(line.content)
            if match is not None and _outside_quotes(line.content, match.start()):
                size = int(match.group(1))
                if size > self.max_literal or self._size + size > self.max_literal + self.max_line:
                    self.broken = True
                    raw = b"\r\n".join(self._parts)[:200]
                    self._parts = []
                    self._buffer.clear()
                    return Unparsed(raw, f"a literal of {size} octets, over the limit of {self.max_literal}", True)
                self._parts.append(b"\r\n")
                self._size += size
                self._literal = size
                continue
            raw = b"".join(self._parts)
            self._parts = []
            self._size = 0
            return parse_response(raw)
        return None


def _outside_quotes(line: bytes, end: int) -> bool:
    """Whether position `end` lies outside every quoted string, so a `{n}` there announces a literal."""
    quoted = False
    i = 0
    while i < end:
        byte = line[i]
        if quoted and byte == 0x5C:  # a backslash escapes the next octet inside quotes
            i += 2
            continue
        if byte == 0x22:
            quoted = not quoted
        i += 1
    return not quoted and i == end


# --- parsing ---------------------------------------------------------------------------


class _Cursor:
    """A cursor over one framed response, with one method per rule of RFC 3501 §9."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def peek(self) -> int | None:
        return self.data[self.pos] if self.pos < len(self.data) else None

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def expect(self, byte: bytes) -> None:
        if self.data[self.pos : self.pos + 1] != byte:
            raise ParseError(f"expected {byte.decode('latin-1')!r} at octet {self.pos}")
        self.pos += 1

    def space(self) -> None:
        self.expect(b" ")

    def rest(self) -> bytes:
        data = self.data[self.pos :]
        self.pos = len(self.data)
        return data

    def word(self) -> str:
        """Octets up to the next space (or the end): a tag, a status word, a data name."""
        end = self.data.find(b" ", self.pos)
        end = len(self.data) if end < 0 else end
        word = self.data[self.pos : end]
        if not word:
            raise ParseError(f"expected a word at octet {self.pos}")
        self.pos = end
        return _decode(word)

    def value(self, depth: int = 0) -> ParsedValue:
        """One value: NIL, a number, an atom, a quoted string, a literal or a parenthesised list."""
        byte = self.peek()
        if byte is None:
            raise ParseError("the response ended where a value was expected")
        if byte == 0x28:  # (
            return self.parenthesised(depth)
        if byte == 0x22:  # "
            return self.quoted()
        if byte in (0x7B, 0x7E):  # { or ~ (literal8, RFC 3516)
            return self.literal()
        return self.atom()

    def parenthesised(self, depth: int) -> tuple[ParsedValue, ...]:
        if depth >= MAX_DEPTH:
            raise ParseError(f"lists nested deeper than {MAX_DEPTH}")
        self.expect(b"(")
        items: list[ParsedValue] = []
        while True:
            if self.peek() == 0x29:  # )
                self.pos += 1
                return tuple(items)
            if items:
                # RFC 3501 §9 writes the addresses of an ENVELOPE list side by side: `((...)(...))`.
                if self.peek() == 0x20:
                    self.pos += 1
                elif not (isinstance(items[-1], tuple) and self.peek() == 0x28):
                    raise ParseError(f"expected ' ' at octet {self.pos}")
            items.append(self.value(depth + 1))

    def quoted(self) -> bytes:
        self.expect(b'"')
        out = bytearray()
        while True:
            byte = self.peek()
            if byte is None:
                raise ParseError("a quoted string is not closed")
            self.pos += 1
            if byte == 0x22:
                return bytes(out)
            if byte == 0x5C:  # RFC 3501 §9 quoted-specials: only \" and \\ may be escaped
                escaped = self.peek()
                if escaped not in (0x22, 0x5C):
                    raise ParseError('a backslash in a quoted string escapes neither " nor \\')
                self.pos += 1
                out.append(escaped)
                continue
            if byte in (0x0D, 0x0A):
                raise ParseError("a quoted string holds a line break")
            out.append(byte)

    def literal(self) -> bytes:
        if self.peek() == 0x7E:
            self.pos += 1
        match = re.compile(rb"\{([0-9]{1,20})\+?\}\r\n").match(self.data, self.pos)
        if match is None:
            raise ParseError(f"a malformed literal at octet {self.pos}")
        size = int(match.group(1))
        start = match.end()
        if start + size > len(self.data):
            raise ParseError("a literal is shorter than announced")
        self.pos = start + size
        return self.data[start : self.pos]

    def atom(self) -> ParsedValue:
        """An atom, a flag (`\\Seen`, `\\*`), a number or NIL; `BODY[...]<n>` is one atom (RFC 3501 §9 msg-att)."""
        start = self.pos
        data = self.data
        while self.pos < len(data):
            byte = data[self.pos]
            if byte == 0x5B:  # [ opens a section: read to its ], quoted strings and all
                self._skip_section()
                continue
            if byte <= 0x20 or byte in b'()"{]' or byte == 0x7F:
                break
            self.pos += 1
        raw = data[start : self.pos]
        if not raw:
            raise ParseError(f"unexpected {chr(data[start]) if start < len(data) else 'end'!r} at octet {start}")
        if raw.isdigit():
            if len(raw) > _MAX_DIGITS:
                raise ParseError("a number too large")
            return int(raw)
        text = _decode(raw)
        if text.upper() == "NIL":
            return None
        return Atom(text)

    def _skip_section(self) -> None:
        self.pos += 1
        while self.pos < len(self.data):
            byte = self.data[self.pos]
            if byte == 0x5D:  # ]
                self.pos += 1
                if self.peek() == 0x3C:  # <origin>
                    end = self.data.find(b">", self.pos)
                    if end < 0 or not self.data[self.pos + 1 : end].isdigit():
                        raise ParseError("a malformed <origin> after a section")
                    self.pos = end + 1
                return
            if byte == 0x22:
                self.quoted()
                continue
            if byte in (0x0D, 0x0A):
                break
            self.pos += 1
        raise ParseError("a section [ is not closed")

    def values_to_end(self) -> tuple[ParsedValue, ...]:
        """Space-separated values up to the end of the response."""
        items: list[ParsedValue] = []
        while not self.at_end():
            self.space()
            if self.at_end():  # a trailing space, as some servers send after `* SEARCH`
                break
            items.append(self.value())
        return tuple(items)


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="surrogateescape")


def parse_response(raw: bytes) -> ServerResponse:
    """One framed response (its literals inline) to a typed response, or `Unparsed`; never raises."""
    try:
        return _parse(_Cursor(raw))
    except ParseError as exc:
        return Unparsed(raw, str(exc))
    except (ValueError, IndexError, RecursionError) as exc:  # a guard: the grammar checks should catch all
        return Unparsed(raw, f"malformed response ({type(exc).__name__})")


def _parse(cursor: _Cursor) -> ServerResponse:
    if cursor.at_end():
        raise ParseError("an empty line")
    if cursor.peek() == 0x2B:  # + continuation request
        cursor.pos += 1
        if cursor.peek() == 0x20:
            cursor.pos += 1
        rest = cursor.rest()
        try:
            code, text = _resp_text(rest)
        except ParseError:  # a challenge is free text (RFC 3501 §7.5): a stray [ is no error here
            code, text = None, _decode(rest)
        return Continuation(text, code)
    first = cursor.word()
    if first == "*":
        cursor.space()
        return _untagged(cursor)
    if _TAG.match(first) is None:
        raise ParseError(f"{first[:40]!r} is neither a tag, '*' nor '+'")
    cursor.space()
    status = _STATUSES.get(cursor.word().upper())
    if status not in _TAGGED_STATUSES:
        raise ParseError("a tagged response must be OK, NO or BAD (RFC 3501 §7.1)")
    assert status is not None
    code, text = _after_status(cursor)
    return StatusResponse(first, status, text, code)


def _after_status(cursor: _Cursor) -> tuple[ResponseCode | None, str]:
    if cursor.at_end():
        return None, ""  # RFC 3501 §9 wants text, but a bare `* OK` is common enough to accept
    cursor.space()
    return _resp_text(cursor.rest())


# Response codes whose data has a fixed form (RFC 3501 §7.1, RFC 4315 §3).
_NUMBER_CODES = frozenset({"UIDVALIDITY", "UIDNEXT", "UNSEEN", "HIGHESTMODSEQ"})
_LIST_CODES = frozenset({"PERMANENTFLAGS", "BADCHARSET"})


def _resp_text(raw: bytes) -> tuple[ResponseCode | None, str]:
    """`[CODE data] text` (RFC 3501 §9 resp-text), the code's data checked for the codes a client relies on."""
    if not raw.startswith(b"["):
        return None, _decode(raw)
    end = raw.find(b"]")
    if end < 0:
        raise ParseError("a response code [ is not closed")
    inner = _decode(raw[1:end])
    name, _, data = inner.partition(" ")
    name = name.upper()
    if not name or any(not (0x21 <= ord(c) <= 0x7E) or c in '(){%*"\\' for c in name):
        raise ParseError(f"{name[:40]!r} is not a response code")
    if name in _NUMBER_CODES and not (data.isdigit() and len(data) <= _MAX_DIGITS):
        raise ParseError(f"[{name}] needs a number")
    if name in _LIST_CODES and data:
        cursor = _Cursor(data.encode("utf-8", errors="surrogateescape"))
        parsed = cursor.value()
        if not cursor.at_end() or not isinstance(parsed, tuple) or not all(isinstance(v, Atom) for v in parsed):
            raise ParseError(f"[{name}] needs a list of flags or names")
    if name in ("COPYUID", "APPENDUID") and _uid_mapping(data) is None:
        raise ParseError(f"[{name}] needs a UIDVALIDITY and UID sets (RFC 4315 §3)")
    text = raw[end + 1 :]
    if text.startswith(b" "):
        text = text[1:]
    return ResponseCode(name, data), _decode(text)


def _uid_set(text: str) -> tuple[int, ...] | None:
    """A UID set such as `1:3,5` as its members in order (RFC 4315 §3 uid-set); None if malformed."""
    out: list[int] = []
    for part in text.split(","):
        low, colon, high = part.partition(":")
        if not low.isdigit() or len(low) > _MAX_DIGITS or (colon and (not high.isdigit() or len(high) > _MAX_DIGITS)):
            return None
        a, b = int(low), int(high) if colon else int(low)
        if abs(b - a) > 100_000:
            return None  # far beyond any real COPYUID; refused rather than expanded
        out.extend(range(a, b + 1) if a <= b else range(a, b - 1, -1))
    return tuple(out)


def _uid_mapping(data: str) -> UidMapping | None:
    words = data.split()
    if len(words) not in (2, 3) or not words[0].isdigit() or len(words[0]) > _MAX_DIGITS:
        return None
    sets = [_uid_set(word) for word in words[1:]]
    if any(s is None for s in sets):
        return None
    if len(words) == 2:
        return UidMapping(int(words[0]), (), sets[0] or ())
    source, destination = sets[0] or (), sets[1] or ()
    if len(source) != len(destination):
        return None
    return UidMapping(int(words[0]), source, destination)


def _untagged(cursor: _Cursor) -> ServerResponse:
    word = cursor.word()
    upper = word.upper()
    status = _STATUSES.get(upper)
    if status is not None:
        code, text = _after_status(cursor)
        return StatusResponse(None, status, text, code)
    if word.isdigit():
        if len(word) > _MAX_DIGITS:
            raise ParseError("a message number too large")
        number = int(word)
        cursor.space()
        name = cursor.word().upper()
        return _numbered(cursor, number, name)
    if upper in ("CAPABILITY", "ENABLED"):
        names = tuple(_decode(w) for w in cursor.rest().split())
        return CapabilityData(names) if upper == "CAPABILITY" else EnabledData(names)
    values = cursor.values_to_end()
    if upper == "FLAGS":
        if len(values) != 1:
            raise ParseError("FLAGS needs one list of flags")
        return FlagsData(_flags(values[0]))
    if upper == "SEARCH":
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise ParseError("SEARCH lists numbers only")
        return SearchData(tuple(v for v in values if isinstance(v, int)))
    if upper in ("LIST", "LSUB"):
        return _list(upper, values)
    if upper == "STATUS":
        return _status(values)
    if upper == "NAMESPACE":
        if len(values) != 3:
            raise ParseError("NAMESPACE needs three namespace lists (RFC 2342 §5)")
        return NamespaceData(_namespace(values[0]), _namespace(values[1]), _namespace(values[2]))
    return OtherData(upper, values)


def _numbered(cursor: _Cursor, number: int, name: str) -> ServerResponse:
    if name in ("EXISTS", "RECENT", "EXPUNGE"):
        if not cursor.at_end():
            raise ParseError(f"nothing may follow {name}")
        if name == "EXISTS":
            return Exists(number)
        if name == "RECENT":
            return Recent(number)
        if number == 0:
            raise ParseError("EXPUNGE of message 0 (RFC 3501 §9: nz-number)")
        return Expunge(number)
    if name == "FETCH":
        if number == 0:
            raise ParseError("FETCH of message 0 (RFC 3501 §9: nz-number)")
        cursor.space()
        items = cursor.value()
        if not cursor.at_end() or not isinstance(items, tuple):
            raise ParseError("FETCH needs one parenthesised list of items")
        return _fetch(number, items)
    return OtherData(name, cursor.values_to_end(), number)


def _string(value: ParsedValue, what: str) -> str:
    """A string, an atom or a number as text (mailbox names may be any of them)."""
    if isinstance(value, bytes):
        return _decode(value)
    if isinstance(value, Atom):
        return value.text
    if isinstance(value, int):
        return str(value)
    raise ParseError(f"{what} needs a string")


def _nstring(value: ParsedValue, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, bytes):
        raise ParseError(f"{what} needs a string or NIL")
    return _decode(value)


def _flags(value: ParsedValue) -> tuple[str, ...]:
    if not isinstance(value, tuple) or not all(isinstance(v, Atom | int) for v in value):
        raise ParseError("a flag list needs flags in parentheses")
    return tuple(v.text if isinstance(v, Atom) else str(v) for v in value if isinstance(v, Atom | int))


def _list(command: str, values: tuple[ParsedValue, ...]) -> ListData:
    if len(values) != 3:
        raise ParseError(f"{command} needs attributes, a delimiter and a name")
    attributes, delimiter, name = values
    return ListData(command, _flags(attributes), _nstring(delimiter, "the delimiter"), _mailbox(name))


def _mailbox(value: ParsedValue) -> str:
    name = _string(value, "a mailbox name")
    return "INBOX" if name.upper() == "INBOX" else decode_mailbox_name(name)


def _status(values: tuple[ParsedValue, ...]) -> StatusData:
    if len(values) != 2 or not isinstance(values[1], tuple) or len(values[1]) % 2:
        raise ParseError("STATUS needs a mailbox and a list of name and number pairs")
    pairs = values[1]
    items: list[tuple[str, int]] = []
    for name, number in zip(pairs[::2], pairs[1::2], strict=True):
        if not isinstance(name, Atom) or not isinstance(number, int):
            raise ParseError("STATUS items are names with numbers")
        items.append((name.text.upper(), number))
    return StatusData(_mailbox(values[0]), tuple(items))


def _namespace(value: ParsedValue) -> NamespaceList:
    if value is None:
        return None
    if not isinstance(value, tuple) or not value:
        raise ParseError("a namespace is NIL or a list of (prefix delimiter)")
    out: list[tuple[str, str | None]] = []
    for entry in value:
        if not isinstance(entry, tuple) or len(entry) < 2:
            raise ParseError("a namespace entry is (prefix delimiter ...)")
        out.append((_string(entry[0], "a namespace prefix"), _nstring(entry[1], "a namespace delimiter")))
    return tuple(out)


def _addresses(value: ParsedValue) -> tuple[Address, ...]:
    if value is None:
        return ()
    if not isinstance(value, tuple):
        raise ParseError("an ENVELOPE address list is NIL or a list")
    out: list[Address] = []
    for entry in value:
        if not isinstance(entry, tuple) or len(entry) != 4:
            raise ParseError("an address is (name adl mailbox host)")
        name, adl, mailbox, host = (_nstring(part, "an address part") for part in entry)
        out.append(Address(name, adl, mailbox, host))
    return tuple(out)


def parse_envelope(value: ParsedValue) -> Envelope:
    """An ENVELOPE list to an `Envelope` (RFC 3501 §7.4.2); raises ParseError if it is not one."""
    if not isinstance(value, tuple) or len(value) != 10:
        raise ParseError("ENVELOPE needs a list of ten fields")
    return Envelope(
        date=_nstring(value[0], "the envelope date"),
        subject=_nstring(value[1], "the envelope subject"),
        from_=_addresses(value[2]),
        sender=_addresses(value[3]),
        reply_to=_addresses(value[4]),
        to=_addresses(value[5]),
        cc=_addresses(value[6]),
        bcc=_addresses(value[7]),
        in_reply_to=_nstring(value[8], "in-reply-to"),
        message_id=_nstring(value[9], "message-id"),
    )


def _fetch(number: int, values: tuple[ParsedValue, ...]) -> FetchData:
    if len(values) % 2:
        raise ParseError("FETCH items come in name and value pairs")
    items: list[tuple[str, ParsedValue]] = []
    uid = size = None
    flags = None
    internal_date = None
    envelope = None
    sections: list[tuple[str, bytes | None]] = []
    for name_value, value in zip(values[::2], values[1::2], strict=True):
        if not isinstance(name_value, Atom):
            raise ParseError("a FETCH item name must be an atom")
        name = name_value.text.upper()
        items.append((name, value))
        if name == "UID":
            if not isinstance(value, int) or value == 0:
                raise ParseError("UID needs a non-zero number")
            uid = value
        elif name == "FLAGS":
            flags = _flags(value)
        elif name == "RFC822.SIZE":
            if not isinstance(value, int):
                raise ParseError("RFC822.SIZE needs a number")
            size = value
        elif name == "INTERNALDATE":
            internal_date = _nstring(value, "INTERNALDATE")
        elif name == "ENVELOPE":
            envelope = parse_envelope(value)
        elif name.startswith(("BODY[", "BINARY[")) or name in ("RFC822", "RFC822.HEADER", "RFC822.TEXT"):
            if value is not None and not isinstance(value, bytes):
                raise ParseError(f"{name} needs a string or NIL")
            sections.append((name, value))
    return FetchData(number, tuple(items), uid, flags, size, internal_date, envelope, tuple(sections))
