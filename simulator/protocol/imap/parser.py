"""Commands as the grammar of RFC 3501 §9 reads them: one framed command to a typed `Command`.

`parse_command` takes one whole command, its literals inline (`{5}` CRLF and the
five octets), as `readers.CommandReader` frames it, and returns a `Command` from
`events`, or a `CommandError` holding the tag and the text of the BAD response.
It never raises. The parser is a cursor with one method per grammar rule, and one
small function per command: the grammar can be read next to the RFC's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

from simulator.protocol.imap import events as ev
from simulator.protocol.imap.utf7 import decode_mailbox_name

_TAG = re.compile(rb"[\x21\x23\x24\x26\x27\x2c-\x5b\x5d-\x7a\x7c\x7e]+")  # ASTRING-CHAR except "+" (RFC 3501 §9)


def peek_tag(content: bytes) -> str | None:
    """The tag at the start of a command line, if it is a valid tag followed by a space or nothing."""
    match = _TAG.match(content)
    if match is None or (match.end() < len(content) and content[match.end()] != 0x20):
        return None
    return match.group().decode("ascii")


# --- texts of BAD responses, worded as Dovecot words them --------------------------

NO_TAG = "Error in IMAP command received by server."
MISSING_COMMAND = "Error in IMAP command received by server: Missing command."
UNKNOWN_COMMAND = "Unknown command."


def command_error_text(command: str, reason: str) -> str:
    """`Error in IMAP command LOGIN: Missing arguments.`, Dovecot's form of a BAD text."""
    return f"Error in IMAP command {command}: {reason}"


# --- parsing --------------------------------------------------------------------


class _Bad(Exception):
    """A syntax error at some point of the command; becomes a CommandError at one boundary."""


# RFC 3501 §9: ATOM-CHAR is any CHAR except atom-specials: ( ) { SP CTL % * " \ ]
_ATOM_CHARS = frozenset(range(0x21, 0x7F)) - frozenset(b'(){%*"\\]')
_ASTRING_CHARS = _ATOM_CHARS | {ord("]")}
_LIST_CHARS = _ASTRING_CHARS | frozenset(b"%*")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")

_MACROS: dict[str, tuple[ev.FetchItem, ...]] = {
    # RFC 3501 §6.4.5: the three macros and what they stand for.
    "ALL": (ev.FetchAttribute.FLAGS, ev.FetchAttribute.INTERNALDATE, ev.FetchAttribute.RFC822_SIZE,
            ev.FetchAttribute.ENVELOPE),
    "FAST": (ev.FetchAttribute.FLAGS, ev.FetchAttribute.INTERNALDATE, ev.FetchAttribute.RFC822_SIZE),
    "FULL": (ev.FetchAttribute.FLAGS, ev.FetchAttribute.INTERNALDATE, ev.FetchAttribute.RFC822_SIZE,
             ev.FetchAttribute.ENVELOPE, ev.FetchAttribute.BODY),
}  # fmt: skip
_FETCH_ATTRIBUTES = {attribute.value: attribute for attribute in ev.FetchAttribute}
_STATUS_ITEMS = frozenset({"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "SIZE"})

# SEARCH keys that take no argument and test one flag (RFC 3501 §6.4.4).
_FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True),
    "DELETED": ("\\Deleted", True),
    "DRAFT": ("\\Draft", True),
    "FLAGGED": ("\\Flagged", True),
    "SEEN": ("\\Seen", True),
    "RECENT": ("\\Recent", True),
    "UNANSWERED": ("\\Answered", False),
    "UNDELETED": ("\\Deleted", False),
    "UNDRAFT": ("\\Draft", False),
    "UNFLAGGED": ("\\Flagged", False),
    "UNSEEN": ("\\Seen", False),
    "OLD": ("\\Recent", False),
}
_DATE_KEYS = {
    "BEFORE": (ev.DateField.INTERNAL, ev.DateOp.BEFORE),
    "ON": (ev.DateField.INTERNAL, ev.DateOp.ON),
    "SINCE": (ev.DateField.INTERNAL, ev.DateOp.SINCE),
    "SENTBEFORE": (ev.DateField.SENT, ev.DateOp.BEFORE),
    "SENTON": (ev.DateField.SENT, ev.DateOp.ON),
    "SENTSINCE": (ev.DateField.SENT, ev.DateOp.SINCE),
}
_HEADER_KEYS = frozenset({"FROM", "TO", "CC", "BCC", "SUBJECT"})
_KEYS_WITH_ARGUMENTS = frozenset(
    {"KEYWORD", "UNKEYWORD", "LARGER", "SMALLER", "HEADER", "BODY", "TEXT", "UID", "NOT", "OR"}
    | set(_DATE_KEYS)
    | _HEADER_KEYS
)
_MAX_SEARCH_DEPTH = 100  # nested NOT/OR/parentheses; deeper is refused rather than recursed into


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="surrogateescape")


class _Parser:
    """A cursor over one framed command, with one method per grammar rule of RFC 3501 §9."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    # -- characters and tokens --

    def peek(self) -> int | None:
        return self.data[self.pos] if self.pos < len(self.data) else None

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def end(self) -> None:
        if not self.at_end():
            raise _Bad("Extra data after the command's arguments.")

    def sp(self) -> None:
        if self.peek() != 0x20:
            raise _Bad("Missing arguments." if self.at_end() else "Expected a space.")
        self.pos += 1

    def expect(self, char: bytes) -> None:
        if self.data[self.pos : self.pos + len(char)] != char:
            raise _Bad(f"Expected {char.decode()!r}.")
        self.pos += len(char)

    def take_while(self, allowed: frozenset[int]) -> bytes:
        start = self.pos
        data = self.data
        while self.pos < len(data) and data[self.pos] in allowed:
            self.pos += 1
        return data[start : self.pos]

    def atom(self) -> str:
        raw = self.take_while(_ATOM_CHARS)
        if not raw:
            raise _Bad("Missing arguments." if self.at_end() else "Invalid characters in atom.")
        return raw.decode("ascii")

    def number(self) -> int:
        raw = self.take_while(frozenset(b"0123456789"))
        if not raw or len(raw) > 10 or int(raw) > 0xFFFFFFFF:  # number is 32-bit unsigned (RFC 3501 §9)
            raise _Bad("Expected a number.")
        return int(raw)

    def quoted(self) -> bytes:
        self.expect(b'"')
        out = bytearray()
        data = self.data
        while True:
            if self.pos >= len(data):
                raise _Bad("Missing '\"'.")
            byte = data[self.pos]
            self.pos += 1
            if byte == 0x22:
                return bytes(out)
            if byte == 0x5C:  # RFC 3501 §9 quoted-specials: only \" and \\ may be escaped
                if self.pos >= len(data) or data[self.pos] not in b'"\\':
                    raise _Bad("Invalid escape in a quoted string.")
                byte = data[self.pos]
                self.pos += 1
            elif byte in (0x0A, 0x0D, 0x00):
                raise _Bad("CR, LF and NUL are not allowed in a quoted string.")
            out.append(byte)

    def literal(self) -> bytes:
        match = re.compile(rb"\{([0-9]{1,19})\+?\}\r\n").match(self.data, self.pos)
        if match is None:
            raise _Bad("Invalid literal.")
        size = int(match.group(1))
        start = match.end()
        if start + size > len(self.data):
            raise _Bad("Literal shorter than announced.")
        self.pos = start + size
        return self.data[start : self.pos]

    def string(self) -> bytes:
        if self.peek() == 0x22:
            return self.quoted()
        if self.peek() == 0x7B:
            return self.literal()
        raise _Bad("Missing arguments." if self.at_end() else "Expected a string.")

    def astring(self) -> bytes:
        if self.peek() in (0x22, 0x7B):
            return self.string()
        raw = self.take_while(_ASTRING_CHARS)
        if not raw:
            raise _Bad("Missing arguments." if self.at_end() else "Invalid characters in atom.")
        return raw

    def text_astring(self) -> str:
        return _decode(self.astring())

    def mailbox(self, wildcards: bool = False) -> str:
        """A mailbox name: INBOX in any case is INBOX; others are modified UTF-7 (RFC 3501 §5.1)."""
        if wildcards and self.peek() not in (0x22, 0x7B):
            raw = self.take_while(_LIST_CHARS)
            if not raw:
                raise _Bad("Missing arguments." if self.at_end() else "Invalid characters in mailbox pattern.")
        else:
            raw = self.astring()
        try:
            name = decode_mailbox_name(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise _Bad("Mailbox name is not valid mUTF-7.") from exc
        return "INBOX" if name.upper() == "INBOX" else name

    def flag(self) -> str:
        if self.peek() == 0x5C:
            self.pos += 1
            return "\\" + self.atom()
        return self.atom()

    def flag_list(self, parenthesised_only: bool = True) -> tuple[str, ...]:
        """`(flag flag ...)`, or for STORE also `flag flag ...` without parentheses."""
        if self.peek() != 0x28:
            if parenthesised_only:
                raise _Bad("Expected a flag list.")
            flags = [self.flag()]
            while self.peek() == 0x20:
                self.pos += 1
                flags.append(self.flag())
            return tuple(flags)
        self.pos += 1
        flags = []
        while self.peek() != 0x29:
            if flags:
                self.sp()
            flags.append(self.flag())
        self.pos += 1
        return tuple(flags)

    def sequence_set(self) -> ev.SequenceSet:
        raw = self.take_while(frozenset(b"0123456789*:,"))
        if not raw:
            raise _Bad("Invalid messageset.")
        ranges: list[tuple[int | None, int | None]] = []
        for item in raw.split(b","):
            ends = item.split(b":")
            if len(ends) > 2:
                raise _Bad("Invalid messageset.")
            values: list[int | None] = []
            for end in ends:
                if end == b"*":
                    values.append(None)
                elif end.isdigit() and len(end) <= 10 and 0 < int(end) <= 0xFFFFFFFF:  # nz-number
                    values.append(int(end))
                else:
                    raise _Bad("Invalid messageset.")
            ranges.append((values[0], values[-1]))
        return ev.SequenceSet(tuple(ranges))

    def _day_month_year(self) -> date:
        match = re.compile(rb"([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})").match(self.data, self.pos)
        if match is None or match.group(2).upper().decode() not in _MONTHS:
            raise _Bad("Invalid date.")
        self.pos = match.end()
        try:
            return date(int(match.group(3)), _MONTHS.index(match.group(2).upper().decode()) + 1, int(match.group(1)))
        except ValueError as exc:
            raise _Bad("Invalid date.") from exc

    def search_date(self) -> date:
        """`1-Feb-2026`, optionally in double quotes (RFC 3501 §9 `date`)."""
        if self.peek() == 0x22:
            self.pos += 1
            value = self._day_month_year()
            self.expect(b'"')
            return value
        return self._day_month_year()

    def date_time(self) -> datetime:
        """`"02-Dec-2026 10:00:00 +0000"`, the INTERNALDATE form (RFC 3501 §9 `date-time`)."""
        pattern = (
            rb'"([ 0-9][0-9])-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})"'
        )
        match = re.compile(pattern).match(self.data, self.pos)
        if match is None or match.group(2).upper().decode() not in _MONTHS:
            raise _Bad("Invalid date-time.")
        self.pos = match.end()
        day, month, year, hour, minute, second, sign, zh, zm = (g.decode() for g in match.groups())
        offset = timedelta(hours=int(zh), minutes=int(zm)) * (-1 if sign == "-" else 1)
        try:
            return datetime(
                int(year), _MONTHS.index(month.upper()) + 1, int(day.strip()),
                int(hour), int(minute), int(second), tzinfo=timezone(offset),
            )  # fmt: skip
        except ValueError as exc:
            raise _Bad("Invalid date-time.") from exc

    # -- FETCH --

    def fetch_items(self) -> tuple[ev.FetchItem, ...]:
        if self.peek() == 0x28:
            self.pos += 1
            items: list[ev.FetchItem] = []
            while self.peek() != 0x29:
                if items:
                    self.sp()
                items.append(self.fetch_att())
            self.pos += 1
            if not items:
                raise _Bad("Invalid arguments.")
            return tuple(items)
        start = self.pos
        name = self.take_while(_ATOM_CHARS).upper().decode("ascii")
        if name in _MACROS:
            return _MACROS[name]
        self.pos = start
        return (self.fetch_att(),)

    def fetch_att(self) -> ev.FetchItem:
        name = self.take_while(_ATOM_CHARS - {ord("[")}).upper().decode("ascii")
        if name in ("BODY", "BODY.PEEK") and self.peek() == 0x5B:
            self.pos += 1
            section = self.section()
            self.expect(b"]")
            partial: tuple[int, int] | None = None
            if self.peek() == 0x3C:  # <start.length>, length non-zero (RFC 3501 §9 nz-number)
                self.pos += 1
                start = self.number()
                self.expect(b".")
                length = self.number()
                self.expect(b">")
                if length == 0:
                    raise _Bad("Invalid partial length.")
                partial = (start, length)
            return ev.BodySection(section, peek=name == "BODY.PEEK", partial=partial)
        attribute = _FETCH_ATTRIBUTES.get(name)
        if attribute is None:
            raise _Bad(f"Unknown FETCH attribute {name!r}." if name else "Invalid arguments.")
        return attribute

    def section(self) -> ev.Section:
        """The inside of `[...]`: a part path, a section text, or both (RFC 3501 §9 `section-spec`)."""
        part: list[int] = []
        while (byte := self.peek()) is not None and 0x31 <= byte <= 0x39:
            part.append(self.number())
            if self.peek() != 0x2E:
                return ev.Section(tuple(part))
            self.pos += 1
        name = self.take_while(_ATOM_CHARS - {ord("[")}).upper().decode("ascii")
        if not name:
            if part:
                raise _Bad("Invalid section.")
            return ev.Section()
        try:
            text = ev.SectionText(name)
        except ValueError as exc:
            raise _Bad("Invalid section.") from exc
        if text is ev.SectionText.MIME and not part:
            raise _Bad("MIME needs a part number.")  # RFC 3501 §9 section-text: MIME only after a part
        fields: list[str] = []
        if text in (ev.SectionText.HEADER_FIELDS, ev.SectionText.HEADER_FIELDS_NOT):
            self.sp()
            self.expect(b"(")
            while self.peek() != 0x29:
                if fields:
                    self.sp()
                fields.append(self.text_astring().upper())
            self.pos += 1
            if not fields:
                raise _Bad("Invalid section.")
        return ev.Section(tuple(part), text, tuple(fields))

    # -- STORE --

    def store_action(self) -> ev.StoreAction:
        name = self.atom().upper()
        silent = name.endswith(".SILENT")
        try:
            mode = ev.StoreMode(name.removesuffix(".SILENT"))
        except ValueError as exc:
            raise _Bad("Invalid STORE data item.") from exc
        self.sp()
        return ev.StoreAction(mode, self.flag_list(parenthesised_only=False), silent)

    # -- SEARCH --

    def search_keys(self, depth: int = 0) -> ev.SearchKey:
        """One or more keys separated by spaces, up to the end or a closing parenthesis."""
        keys = [self.search_key(depth)]
        while self.peek() == 0x20:
            self.pos += 1
            keys.append(self.search_key(depth))
        return keys[0] if len(keys) == 1 else ev.And(tuple(keys))

    def search_key(self, depth: int) -> ev.SearchKey:
        if depth > _MAX_SEARCH_DEPTH:
            raise _Bad("Search key nested too deep.")
        byte = self.peek()
        if byte == 0x28:
            self.pos += 1
            key = self.search_keys(depth + 1)
            self.expect(b")")
            return key
        if byte is not None and (0x30 <= byte <= 0x39 or byte == 0x2A):
            return ev.SequenceKey(self.sequence_set())
        name = self.atom().upper()
        if name == "ALL":
            return ev.All()
        if name in _FLAG_KEYS:
            flag, present = _FLAG_KEYS[name]
            return ev.HasFlag(flag) if present else ev.Not(ev.HasFlag(flag))
        if name == "NEW":
            return ev.And((ev.HasFlag("\\Recent"), ev.Not(ev.HasFlag("\\Seen"))))
        if name not in _KEYS_WITH_ARGUMENTS:
            raise _Bad(f"Unknown search key {name!r}.")
        self.sp()
        if name in ("KEYWORD", "UNKEYWORD"):
            keyword = ev.HasFlag(self.atom())
            return keyword if name == "KEYWORD" else ev.Not(keyword)
        if name in _DATE_KEYS:
            field, op = _DATE_KEYS[name]
            return ev.DateKey(field, op, self.search_date())
        if name in ("LARGER", "SMALLER"):
            return ev.SizeKey(name == "LARGER", self.number())
        if name in _HEADER_KEYS:
            return ev.HeaderKey(name, self.text_astring())
        if name == "HEADER":
            header = self.text_astring()
            self.sp()
            return ev.HeaderKey(header.upper(), self.text_astring())
        if name == "BODY":
            return ev.BodyKey(self.text_astring())
        if name == "TEXT":
            return ev.TextKey(self.text_astring())
        if name == "UID":
            return ev.UidKey(self.sequence_set())
        if name == "NOT":
            return ev.Not(self.search_key(depth + 1))
        if name == "OR":
            left = self.search_key(depth + 1)
            self.sp()
            return ev.Or(left, self.search_key(depth + 1))
        raise _Bad(f"Unknown search key {name!r}.")


# --- one parse function per command ------------------------------------------------

_Handler = Callable[[_Parser, str], ev.Command]
_UidHandler = Callable[[_Parser, str, bool], ev.Command]


_NoArguments = type[
    ev.Capability | ev.Noop | ev.Logout | ev.StartTLS | ev.Namespace | ev.Idle | ev.Check | ev.Close | ev.Unselect
]
_OneMailbox = type[ev.Select | ev.Examine | ev.Create | ev.Delete | ev.Subscribe | ev.Unsubscribe]


def _no_args(cls: _NoArguments) -> _Handler:
    def parse(p: _Parser, tag: str) -> ev.Command:
        p.end()
        return cls(tag)

    return parse


def _one_mailbox(cls: _OneMailbox) -> _Handler:
    def parse(p: _Parser, tag: str) -> ev.Command:
        p.sp()
        mailbox = p.mailbox()
        p.end()
        return cls(tag, mailbox)

    return parse


def _list(cls: type[ev.List | ev.Lsub]) -> _Handler:
    def parse(p: _Parser, tag: str) -> ev.Command:
        p.sp()
        reference = p.mailbox()
        p.sp()
        pattern = p.mailbox(wildcards=True)
        p.end()
        return cls(tag, reference, pattern)

    return parse


def _authenticate(p: _Parser, tag: str) -> ev.Command:
    p.sp()
    mechanism = p.atom().upper()
    initial: str | None = None
    if p.peek() == 0x20:  # SASL-IR (RFC 4959 §7): base64 or "=" for empty
        p.pos += 1
        raw = p.take_while(frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="))
        if not raw:
            raise _Bad("Invalid initial response.")
        initial = raw.decode("ascii")
    p.end()
    return ev.Authenticate(tag, mechanism, initial)


def _login(p: _Parser, tag: str) -> ev.Command:
    p.sp()
    user = p.text_astring()
    p.sp()
    password = p.text_astring()
    p.end()
    return ev.Login(tag, user, password)


def _rename(p: _Parser, tag: str) -> ev.Command:
    p.sp()
    old = p.mailbox()
    p.sp()
    new = p.mailbox()
    p.end()
    return ev.Rename(tag, old, new)


def _status(p: _Parser, tag: str) -> ev.Command:
    p.sp()
    mailbox = p.mailbox()
    p.sp()
    p.expect(b"(")
    items: list[str] = []
    while p.peek() != 0x29:
        if items:
            p.sp()
        item = p.atom().upper()
        if item not in _STATUS_ITEMS:
            raise _Bad(f"Invalid status item {item}.")
        items.append(item)
    p.pos += 1
    p.end()
    if not items:
        raise _Bad("Invalid arguments.")
    return ev.Status(tag, mailbox, tuple(items))


def _append(p: _Parser, tag: str) -> ev.Command:
    p.sp()
    mailbox = p.mailbox()
    p.sp()
    flags: tuple[str, ...] = ()
    when: datetime | None = None
    if p.peek() == 0x28:
        flags = p.flag_list()
        p.sp()
    if p.peek() == 0x22:
        when = p.date_time()
        p.sp()
    if p.peek() != 0x7B:
        raise _Bad("Missing message literal.")
    message = p.literal()
    p.end()
    return ev.Append(tag, mailbox, message, flags, when)


def _enable(p: _Parser, tag: str) -> ev.Command:
    names: list[str] = []
    while p.peek() == 0x20:
        p.pos += 1
        names.append(p.atom().upper())
    p.end()
    if not names:
        raise _Bad("Missing arguments.")
    return ev.Enable(tag, tuple(names))


def _expunge(p: _Parser, tag: str, uid: bool) -> ev.Command:
    if not uid:
        p.end()
        return ev.Expunge(tag)
    p.sp()
    uids = p.sequence_set()
    p.end()
    return ev.Expunge(tag, uids)


def _search(p: _Parser, tag: str, uid: bool) -> ev.Command:
    p.sp()
    charset: str | None = None
    start = p.pos
    if p.take_while(_ATOM_CHARS).upper() == b"CHARSET" and p.peek() == 0x20:
        p.pos += 1
        charset = p.text_astring().upper()
        p.sp()
    else:
        p.pos = start
    key = p.search_keys()
    p.end()
    return ev.Search(tag, key, charset, uid)


def _fetch(p: _Parser, tag: str, uid: bool) -> ev.Command:
    p.sp()
    messages = p.sequence_set()
    p.sp()
    items = p.fetch_items()
    p.end()
    if uid and ev.FetchAttribute.UID not in items:
        items = (ev.FetchAttribute.UID, *items)  # RFC 3501 §6.4.8: UID FETCH always returns the UID
    return ev.Fetch(tag, messages, items, uid)


def _store(p: _Parser, tag: str, uid: bool) -> ev.Command:
    p.sp()
    messages = p.sequence_set()
    p.sp()
    action = p.store_action()
    p.end()
    return ev.Store(tag, messages, action, uid)


def _copy_or_move(cls: type[ev.Copy | ev.Move]) -> _UidHandler:
    def parse(p: _Parser, tag: str, uid: bool) -> ev.Command:
        p.sp()
        messages = p.sequence_set()
        p.sp()
        mailbox = p.mailbox()
        p.end()
        return cls(tag, messages, mailbox, uid)

    return parse


_PARSERS: dict[str, _Handler] = {
    "CAPABILITY": _no_args(ev.Capability),
    "NOOP": _no_args(ev.Noop),
    "LOGOUT": _no_args(ev.Logout),
    "STARTTLS": _no_args(ev.StartTLS),
    "AUTHENTICATE": _authenticate,
    "LOGIN": _login,
    "SELECT": _one_mailbox(ev.Select),
    "EXAMINE": _one_mailbox(ev.Examine),
    "CREATE": _one_mailbox(ev.Create),
    "DELETE": _one_mailbox(ev.Delete),
    "RENAME": _rename,
    "SUBSCRIBE": _one_mailbox(ev.Subscribe),
    "UNSUBSCRIBE": _one_mailbox(ev.Unsubscribe),
    "LIST": _list(ev.List),
    "LSUB": _list(ev.Lsub),
    "STATUS": _status,
    "APPEND": _append,
    "NAMESPACE": _no_args(ev.Namespace),
    "ENABLE": _enable,
    "IDLE": _no_args(ev.Idle),
    "CHECK": _no_args(ev.Check),
    "CLOSE": _no_args(ev.Close),
    "UNSELECT": _no_args(ev.Unselect),
}
# Commands that also come as `UID <command>` (RFC 3501 §6.4.8, RFC 4315 §2.1, RFC 6851).
_UID_PARSERS: dict[str, _UidHandler] = {
    "EXPUNGE": _expunge,
    "SEARCH": _search,
    "FETCH": _fetch,
    "STORE": _store,
    "COPY": _copy_or_move(ev.Copy),
    "MOVE": _copy_or_move(ev.Move),
}

KNOWN_COMMANDS = frozenset(_PARSERS) | frozenset(_UID_PARSERS) | {"UID"}


def parse_command(data: bytes) -> ev.Command | ev.CommandError:
    """Parse one framed command (its literals inline, no final CRLF) into a Command or a CommandError.

    Never raises: anything malformed becomes a CommandError holding the tag, if one
    could be read, and the text for the BAD response (RFC 3501 §7.1.3).
    """
    tag = peek_tag(data)
    if tag is None:
        return ev.CommandError(None, NO_TAG)
    p = _Parser(data)
    p.pos = len(tag)
    name = ""
    try:
        if p.peek() != 0x20:
            return ev.CommandError(tag, MISSING_COMMAND)
        p.pos += 1
        name = p.atom().upper()
        if name == "UID":
            p.sp()
            sub = p.atom().upper()
            handler = _UID_PARSERS.get(sub)
            if handler is None:
                return ev.CommandError(tag, command_error_text(f"UID {sub}", UNKNOWN_COMMAND), name, unknown=True)
            name = f"UID {sub}"
            return handler(p, tag, True)
        if name in _UID_PARSERS:
            return _UID_PARSERS[name](p, tag, False)
        plain = _PARSERS.get(name)
        if plain is None:
            return ev.CommandError(tag, command_error_text(name, UNKNOWN_COMMAND), name, unknown=True)
        return plain(p, tag)
    except _Bad as problem:
        if not name:
            return ev.CommandError(tag, MISSING_COMMAND)
        return ev.CommandError(tag, command_error_text(name, str(problem)), name)
    except (RecursionError, IndexError, ValueError):  # a safety net: the grammar code above should not raise
        return ev.CommandError(
            tag, command_error_text(name or "received by server", "Invalid arguments."), name or None
        )
