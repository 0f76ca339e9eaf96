"""The typed IMAP4rev1 commands a server reads, each carrying its tag (RFC 3501 §6).

Commands are small frozen dataclasses named after the RFC's command names. The
values inside them (sequence sets, FETCH items, STORE actions, SEARCH keys) are
frozen too, so a snapshot of a world shares them instead of copying them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum

from simulator.protocol.values import Value

# --- values inside commands -----------------------------------------------------


@dataclass(frozen=True)
class SequenceSet(Value):
    """A sequence set such as `1:3,5,7:*` (RFC 3501 §9 `sequence-set`).

    Attributes:
        ranges: inclusive (low, high) pairs in the order written; None stands for
            `*`, the largest number in use. A single number n is (n, n).
    """

    ranges: tuple[tuple[int | None, int | None], ...]

    def contains(self, number: int, largest: int) -> bool:
        """Whether `number` is in the set when `*` means `largest` (RFC 3501 §6.4.8: `*` then `4:*` ...)."""
        for low, high in self.ranges:
            a = largest if low is None else low
            b = largest if high is None else high
            if min(a, b) <= number <= max(a, b):  # RFC 3501 §9: "2:4" and "4:2" are the same
                return True
        return False

    def numbers(self, largest: int) -> list[int]:
        """The members up to `largest`, ascending, without duplicates (empty mailbox: none)."""
        found: set[int] = set()
        for low, high in self.ranges:
            a = largest if low is None else low
            b = largest if high is None else high
            found.update(range(max(min(a, b), 1), min(max(a, b), largest) + 1))
        return sorted(found)

    def __str__(self) -> str:
        def one(n: int | None) -> str:
            return "*" if n is None else str(n)

        return ",".join(one(lo) if lo == hi else f"{one(lo)}:{one(hi)}" for lo, hi in self.ranges)


class FetchAttribute(Enum):
    """The FETCH data items that take no section (RFC 3501 §6.4.5)."""

    ENVELOPE = "ENVELOPE"
    FLAGS = "FLAGS"
    INTERNALDATE = "INTERNALDATE"
    RFC822 = "RFC822"
    RFC822_HEADER = "RFC822.HEADER"
    RFC822_SIZE = "RFC822.SIZE"
    RFC822_TEXT = "RFC822.TEXT"
    BODY = "BODY"
    BODYSTRUCTURE = "BODYSTRUCTURE"
    UID = "UID"


class SectionText(Enum):
    """What a body section names inside its part (RFC 3501 §6.4.5 `section-text`)."""

    HEADER = "HEADER"
    HEADER_FIELDS = "HEADER.FIELDS"
    HEADER_FIELDS_NOT = "HEADER.FIELDS.NOT"
    TEXT = "TEXT"
    MIME = "MIME"


@dataclass(frozen=True)
class Section(Value):
    """A body section such as `1.2.HEADER.FIELDS (From To)`; all defaults mean `[]`, the whole message.

    Attributes:
        part: the part path, `(1, 2)` for `1.2`; empty for the top-level message.
        text: HEADER, TEXT, MIME ... or None for the part's whole body.
        fields: the header names of HEADER.FIELDS and HEADER.FIELDS.NOT, upper-cased.
    """

    part: tuple[int, ...] = ()
    text: SectionText | None = None
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        spec = ".".join(str(n) for n in self.part)
        if self.text is not None:
            spec = f"{spec}.{self.text.value}" if spec else self.text.value
            if self.fields:
                spec += " (" + " ".join(self.fields) + ")"
        return spec


@dataclass(frozen=True)
class BodySection(Value):
    """`BODY[section]<start.length>` or `BODY.PEEK[...]` (RFC 3501 §6.4.5).

    Attributes:
        section: which bytes.
        peek: BODY.PEEK does not set \\Seen.
        partial: (start, length) of `<start.length>`, or None for all of it.
    """

    section: Section = Section()
    peek: bool = False
    partial: tuple[int, int] | None = None

    @property
    def response_name(self) -> str:
        """How the FETCH response names this item: `BODY[1.TEXT]<0>`, never PEEK (RFC 3501 §7.4.2)."""
        name = f"BODY[{self.section}]"
        if self.partial is not None:
            name += f"<{self.partial[0]}>"
        return name


FetchItem = FetchAttribute | BodySection


class StoreMode(Enum):
    """FLAGS replaces, +FLAGS adds, -FLAGS removes (RFC 3501 §6.4.6)."""

    REPLACE = "FLAGS"
    ADD = "+FLAGS"
    REMOVE = "-FLAGS"


@dataclass(frozen=True)
class StoreAction(Value):
    """The item of a STORE command: mode, `.SILENT` and the flags."""

    mode: StoreMode
    flags: tuple[str, ...]
    silent: bool = False


# --- SEARCH keys (RFC 3501 §6.4.4) -----------------------------------------------


class SearchKey(Value):
    """Base of the SEARCH key tree."""

    __slots__ = ()


@dataclass(frozen=True)
class All(SearchKey):
    """ALL: every message."""


@dataclass(frozen=True)
class And(SearchKey):
    """Every key must match: a parenthesised list, or the keys of a SEARCH side by side."""

    keys: tuple[SearchKey, ...]


@dataclass(frozen=True)
class Or(SearchKey):
    """OR key1 key2."""

    left: SearchKey
    right: SearchKey


@dataclass(frozen=True)
class Not(SearchKey):
    """NOT key."""

    key: SearchKey


@dataclass(frozen=True)
class HasFlag(SearchKey):
    """ANSWERED, DELETED, DRAFT, FLAGGED, SEEN, RECENT and KEYWORD: the message has the flag.

    UNANSWERED, UNSEEN, UNKEYWORD ... are `Not(HasFlag(...))`; NEW is RECENT and UNSEEN,
    OLD is NOT RECENT, as §6.4.4 defines them.
    """

    flag: str


class DateField(Enum):
    INTERNAL = "internal date"  # BEFORE / ON / SINCE
    SENT = "Date header"  # SENTBEFORE / SENTON / SENTSINCE


class DateOp(Enum):
    BEFORE = "BEFORE"
    ON = "ON"
    SINCE = "SINCE"


@dataclass(frozen=True)
class DateKey(SearchKey):
    """A date comparison; times and timezones are disregarded (RFC 3501 §6.4.4)."""

    field: DateField
    op: DateOp
    date: date


@dataclass(frozen=True)
class SizeKey(SearchKey):
    """LARGER n (size > n) or SMALLER n (size < n), on RFC822.SIZE."""

    larger: bool
    size: int


@dataclass(frozen=True)
class HeaderKey(SearchKey):
    """HEADER name string; FROM, TO, CC, BCC and SUBJECT are this with that name."""

    name: str
    value: str


@dataclass(frozen=True)
class BodyKey(SearchKey):
    """BODY string: the body, after the header."""

    value: str


@dataclass(frozen=True)
class TextKey(SearchKey):
    """TEXT string: the header or the body."""

    value: str


@dataclass(frozen=True)
class SequenceKey(SearchKey):
    """A bare sequence set: message sequence numbers."""

    numbers: SequenceSet


@dataclass(frozen=True)
class UidKey(SearchKey):
    """UID sequence-set."""

    uids: SequenceSet


# --- commands -------------------------------------------------------------------


class Command(Value):
    """Base of every IMAP command; `tag` is what the tagged completion echoes."""

    __slots__ = ()
    tag: str


@dataclass(frozen=True)
class Capability(Command):
    tag: str


@dataclass(frozen=True)
class Noop(Command):
    tag: str


@dataclass(frozen=True)
class Logout(Command):
    tag: str


@dataclass(frozen=True)
class StartTLS(Command):
    tag: str


@dataclass(frozen=True)
class Authenticate(Command):
    """AUTHENTICATE mechanism [initial-response] (RFC 3501 §6.2.2, SASL-IR RFC 4959).

    `initial_response` is the base64 text as sent, "=" for an empty response, None if absent.
    """

    tag: str
    mechanism: str
    initial_response: str | None = None


@dataclass(frozen=True)
class Login(Command):
    tag: str
    user: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Select(Command):
    tag: str
    mailbox: str


@dataclass(frozen=True)
class Examine(Command):
    """SELECT, read-only (RFC 3501 §6.3.2)."""

    tag: str
    mailbox: str


@dataclass(frozen=True)
class Create(Command):
    tag: str
    mailbox: str


@dataclass(frozen=True)
class Delete(Command):
    tag: str
    mailbox: str


@dataclass(frozen=True)
class Rename(Command):
    tag: str
    mailbox: str
    new_name: str


@dataclass(frozen=True)
class Subscribe(Command):
    tag: str
    mailbox: str


@dataclass(frozen=True)
class Unsubscribe(Command):
    tag: str
    mailbox: str


@dataclass(frozen=True)
class List(Command):
    """LIST reference pattern; `*` and `%` are wildcards in the pattern (RFC 3501 §6.3.8)."""

    tag: str
    reference: str
    pattern: str


@dataclass(frozen=True)
class Lsub(Command):
    tag: str
    reference: str
    pattern: str


@dataclass(frozen=True)
class Status(Command):
    """STATUS mailbox (items); items upper-cased: MESSAGES, RECENT, UIDNEXT, UIDVALIDITY, UNSEEN."""

    tag: str
    mailbox: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class Append(Command):
    """APPEND mailbox [(flags)] [date-time] literal (RFC 3501 §6.3.11)."""

    tag: str
    mailbox: str
    message: bytes = field(repr=False)
    flags: tuple[str, ...] = ()
    internal_date: datetime | None = None


@dataclass(frozen=True)
class Namespace(Command):
    """NAMESPACE (RFC 2342)."""

    tag: str


@dataclass(frozen=True)
class Enable(Command):
    """ENABLE capability... (RFC 5161); names upper-cased."""

    tag: str
    capabilities: tuple[str, ...]


@dataclass(frozen=True)
class Idle(Command):
    """IDLE (RFC 2177): the server answers `+ idling` and waits for a DONE line."""

    tag: str


@dataclass(frozen=True)
class Check(Command):
    tag: str


@dataclass(frozen=True)
class Close(Command):
    tag: str


@dataclass(frozen=True)
class Unselect(Command):
    """UNSELECT (RFC 3691): CLOSE without expunging."""

    tag: str


@dataclass(frozen=True)
class Expunge(Command):
    """EXPUNGE, or UID EXPUNGE set (RFC 4315 §2.1) when `uids` is given."""

    tag: str
    uids: SequenceSet | None = None


@dataclass(frozen=True)
class Search(Command):
    """[UID] SEARCH [CHARSET name] keys; several keys side by side are an `And`."""

    tag: str
    key: SearchKey
    charset: str | None = None
    uid: bool = False


@dataclass(frozen=True)
class Fetch(Command):
    """[UID] FETCH set items; macros ALL/FAST/FULL arrive expanded (RFC 3501 §6.4.5)."""

    tag: str
    messages: SequenceSet
    items: tuple[FetchItem, ...]
    uid: bool = False


@dataclass(frozen=True)
class Store(Command):
    tag: str
    messages: SequenceSet
    action: StoreAction
    uid: bool = False


@dataclass(frozen=True)
class Copy(Command):
    tag: str
    messages: SequenceSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True)
class Move(Command):
    """MOVE (RFC 6851)."""

    tag: str
    messages: SequenceSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True)
class CommandError(Value):
    """A command that could not be parsed: answer `tag BAD text`, or `* BAD text` when tag is None.

    Attributes:
        tag: the tag, if one could be read.
        text: the text of the BAD response.
        command: the command name, upper-cased, if one could be read.
        unknown: the command name is not one this server knows.
    """

    tag: str | None
    text: str
    command: str | None = None
    unknown: bool = False
