"""The mail store: each user's folders, their messages, flags and UIDs, and the sessions watching them.

SMTP delivery files messages into a user's INBOX; IMAP (RFC 3501) and POP3 (RFC 1939)
read them back. The store keeps what both retrieval protocols need and nothing about
their wire syntax:

- an `Account` per user holds folders (IMAP "mailboxes", RFC 3501 §5.1) named with the
  hierarchy delimiter "/", the subscription list, and the POP3 maildrop lock;
- a `Folder` holds messages in ascending UID order with their flags, its UIDVALIDITY and
  UIDNEXT (RFC 3501 §2.3.1.1), and which messages are still \\Recent (§2.3.2);
- a `FolderView` is one session's selection of a folder: its own sequence-number map
  (§2.3.1.2) and the queue of changes other sessions and deliveries made that its
  client has not been told of yet (§5.2, §7).

Everything is plain data: no clock, no randomness, no callbacks. Whole worlds are pickled
for checkpoints, so views refer to their folder and the folder to its views directly.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

from simulator.protocol.values import Value

HIERARCHY_DELIMITER = "/"  # RFC 3501 §5.1.1
INBOX = "INBOX"
JUNK = "Junk"  # where suspected spam is filed (the \Junk special use of RFC 6154 §2)

SEEN, ANSWERED, FLAGGED, DELETED, DRAFT = "\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft"
RECENT = "\\Recent"
SYSTEM_FLAGS: tuple[str, ...] = (ANSWERED, FLAGGED, DELETED, SEEN, DRAFT)  # RFC 3501 §2.3.2, the settable ones
_SYSTEM_BY_LOWER = {f.lower(): f for f in (*SYSTEM_FLAGS, RECENT)}
_FLAG_RANK = {f: i for i, f in enumerate((RECENT, *SYSTEM_FLAGS))}
_ATOM_SPECIALS = re.compile(r'[(){ %*"\\\]\x00-\x1f\x7f]')  # RFC 3501 §9: atom-specials, list-wildcards included


class StoreError(Exception):
    """An operation the store refuses, with the reason and the response code a server would send.

    `code` is an RFC 5530 / RFC 3501 response code (TRYCREATE, NONEXISTENT, ALREADYEXISTS,
    CANNOT, INUSE) or empty when a plain NO says enough.
    """

    def __init__(self, reason: str, code: str = "") -> None:
        super().__init__(reason)
        self.reason, self.code = reason, code


# -- messages --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredMessage(Value):
    """One message in one folder; a copy into another folder is another StoredMessage with its own UID.

    Attributes:
        uid: unique and ascending within the folder (RFC 3501 §2.3.1.1).
        content: the bytes as delivered, Return-Path and Received headers included.
        arrived: simulated seconds at delivery: the INTERNALDATE (RFC 3501 §2.3.3).
        queue_id: the delivering server's queue id, to follow the message in the trace.
        duplicate_of: the queue id of an earlier copy, when a resend after a lost
            reply (RFC 1047) delivered it twice.
    """

    uid: int
    content: bytes = field(repr=False)
    arrived: float
    queue_id: str
    message_id: str = ""
    duplicate_of: str | None = None

    @property
    def size(self) -> int:
        """RFC822.SIZE (RFC 3501 §2.3.4): octets as stored, CRLF line ends counted as two."""
        return len(self.content)

    @property
    def internal_date(self) -> float:
        return self.arrived


def ordered_flags(flags: Iterable[str]) -> tuple[str, ...]:
    """Flags in one stable order (system flags first, then keywords by name), so replies are reproducible."""
    return tuple(sorted(set(flags), key=lambda f: (_FLAG_RANK.get(f, len(_FLAG_RANK)), f.lower(), f)))


class FlagMode(Enum):
    """How STORE combines the given flags with the current ones (RFC 3501 §6.4.6)."""

    SET = "FLAGS"
    ADD = "+FLAGS"
    REMOVE = "-FLAGS"


# -- what a session is told ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exists(Value):
    """Untagged `* n EXISTS` (RFC 3501 §7.3.1): the view now holds `count` messages."""

    count: int


@dataclass(frozen=True)
class Recent(Value):
    """Untagged `* n RECENT` (RFC 3501 §7.3.2): messages with \\Recent for this session."""

    count: int


@dataclass(frozen=True)
class Expunge(Value):
    """Untagged `* n EXPUNGE` (RFC 3501 §7.4.1), numbered as the client sees the view at that point."""

    seq: int


@dataclass(frozen=True)
class FlagsUpdate(Value):
    """Untagged `* n FETCH (FLAGS (...))` (RFC 3501 §7.4.2) after another session changed them."""

    seq: int
    uid: int
    flags: tuple[str, ...]


@dataclass(frozen=True)
class FlagList(Value):
    """Untagged `* FLAGS (...)` (RFC 3501 §7.2.6): the folder gained a keyword."""

    flags: tuple[str, ...]


Update = Exists | Recent | Expunge | FlagsUpdate | FlagList


@dataclass(frozen=True)
class _Arrived(Value):
    uid: int


@dataclass(frozen=True)
class _FlagsChanged(Value):
    uid: int


@dataclass(frozen=True)
class _Expunged(Value):
    uid: int


@dataclass(frozen=True)
class _KeywordsChanged(Value):
    pass


_Change = _Arrived | _FlagsChanged | _Expunged | _KeywordsChanged


@dataclass(frozen=True)
class ViewEntry(Value):
    """A message as one session sees it: its sequence number there, and whether it is already gone.

    `expunged` marks a message another session expunged that this view has not reported yet
    (RFC 2180 §4.1): its content and last flags are still here so the server can choose how to answer.
    """

    seq: int
    message: StoredMessage
    flags: tuple[str, ...]
    expunged: bool = False

    @property
    def uid(self) -> int:
        return self.message.uid


@dataclass(frozen=True)
class CopyResult(Value):
    """What COPYUID / the MOVE response code carries (RFC 4315 §3, RFC 6851 §4.3)."""

    uidvalidity: int
    source_uids: tuple[int, ...]
    destination_uids: tuple[int, ...]

    @property
    def mapping(self) -> dict[int, int]:
        return dict(zip(self.source_uids, self.destination_uids, strict=True))


@dataclass(frozen=True)
class StatusCounts(Value):
    """The STATUS items (RFC 3501 §6.3.10)."""

    messages: int
    recent: int
    uidnext: int
    uidvalidity: int
    unseen: int


@dataclass(frozen=True)
class ListEntry(Value):
    """One LIST / LSUB answer (RFC 3501 §7.2.2): the name, and whether it can be selected or has children."""

    name: str
    noselect: bool = False
    has_children: bool = False

    @property
    def attributes(self) -> tuple[str, ...]:
        return ("\\Noselect",) if self.noselect else ()


# -- folders ---------------------------------------------------------------------------------------------------


class Folder:
    """One IMAP mailbox: messages by ascending UID, their flags, and the sessions that have it selected.

    UIDs only grow and are never reused (RFC 3501 §2.3.1.1). A message is \\Recent while it is in
    `unclaimed` (no session has seen it yet) or in a read-write view's `recent` (§2.3.2).
    """

    def __init__(self, name: str, uidvalidity: int, *, selectable: bool = True) -> None:
        self.name = name
        self.uidvalidity = uidvalidity
        self.uidnext = 1
        self.selectable = selectable  # False: a \Noselect name kept because it has inferiors (§6.3.4)
        self.messages: dict[int, StoredMessage] = {}  # by UID, in ascending UID order
        self.flags: dict[int, frozenset[str]] = {}  # by UID, \Recent never included
        self.keywords: list[str] = []  # in the order first used, for the FLAGS response
        self.unclaimed: set[int] = set()  # recent, and no read-write session has claimed them yet
        self.views: list[FolderView] = []  # the sessions with this folder selected, oldest first

    def __repr__(self) -> str:
        return f"Folder({self.name!r}, uidvalidity={self.uidvalidity}, messages={len(self.messages)})"

    @property
    def uids(self) -> list[int]:
        return list(self.messages)

    def flags_of(self, uid: int) -> tuple[str, ...]:
        return ordered_flags(self.flags[uid])

    @property
    def defined_flags(self) -> tuple[str, ...]:
        """The FLAGS response (RFC 3501 §7.2.6): system flags, then every keyword in use here."""
        return (*SYSTEM_FLAGS, *self.keywords)

    @property
    def permanent_flags(self) -> tuple[str, ...]:
        """PERMANENTFLAGS (RFC 3501 §7.1): all of them, and `\\*` since clients may make new keywords."""
        return (*SYSTEM_FLAGS, *self.keywords, "\\*")

    def recent_uids(self) -> set[int]:
        """Messages \\Recent to somebody: not yet claimed, or claimed by a read-write session still open.

        An EXAMINE session's \\Recent only echoes what was unclaimed when it looked (RFC 3501 §6.3.2).
        """
        held = set(self.unclaimed)
        for view in self.views:
            if not view.read_only:
                held |= view.recent
        return held & self.messages.keys()

    def status(self) -> StatusCounts:
        unseen = sum(1 for flags in self.flags.values() if SEEN not in flags)
        return StatusCounts(len(self.messages), len(self.recent_uids()), self.uidnext, self.uidvalidity, unseen)

    def canonical_flags(self, flags: Iterable[str]) -> frozenset[str]:
        """System flags in their canonical case, keywords as first spelled here; \\Recent and unknown \\ refused.

        RFC 3501 §2.3.2: \\Recent is the server's to set; §9 flag-extension names are reserved.
        """
        out: set[str] = set()
        known = {k.lower(): k for k in self.keywords}
        for flag in flags:
            lower = flag.lower()
            if lower == RECENT.lower():
                raise StoreError("\\Recent cannot be set or cleared by a client (RFC 3501 §2.3.2)", "CANNOT")
            if flag.startswith("\\"):
                if lower not in _SYSTEM_BY_LOWER:
                    raise StoreError(f"{flag} is not a flag this server knows (RFC 3501 §2.3.2)", "CANNOT")
                out.add(_SYSTEM_BY_LOWER[lower])
            elif not flag or _ATOM_SPECIALS.search(flag):
                raise StoreError(f"{flag!r} is not a valid keyword: it must be an atom (RFC 3501 §9)")
            else:
                out.add(known.get(lower, flag))
        return frozenset(out)

    def _learn_keywords(self, flags: frozenset[str]) -> None:
        new = [f for f in ordered_flags(flags) if not f.startswith("\\") and f not in self.keywords]
        if new:
            self.keywords.extend(new)
            for view in self.views:
                view._changes.append(_KeywordsChanged())

    def _add(self, message: StoredMessage, flags: frozenset[str]) -> StoredMessage:
        """File a message under the next UID and tell every view; a read-write session already here claims \\Recent.

        RFC 3501 §2.3.2: the message is recent to the session selected when it arrives; with
        none, to the next one that selects the folder read-write.
        """
        stored = replace(message, uid=self.uidnext)
        self.uidnext += 1
        self.messages[stored.uid] = stored
        self._learn_keywords(flags)
        self.flags[stored.uid] = flags
        claimer = next((v for v in self.views if not v.read_only), None)
        if claimer is None:
            self.unclaimed.add(stored.uid)
        else:
            claimer.recent.add(stored.uid)
        for view in self.views:
            if view.read_only and claimer is None:
                view.recent.add(stored.uid)  # EXAMINE sees it as recent without taking that from others
            view._changes.append(_Arrived(stored.uid))
        return stored

    def _remove(self, uids: Iterable[int]) -> list[int]:
        """Take messages out and tell every view, the acting one included (RFC 3501 §7.4.1)."""
        removed: list[int] = []
        for uid in sorted(set(uids)):
            message = self.messages.pop(uid, None)
            if message is None:
                continue
            flags = self.flags.pop(uid)
            self.unclaimed.discard(uid)
            for view in self.views:
                view._ghosts[uid] = (message, flags)
                view._changes.append(_Expunged(uid))
            removed.append(uid)
        return removed

    def _store(self, uids: Iterable[int], mode: FlagMode, flags: frozenset[str], actor: FolderView | None) -> None:
        """Change flags; sessions other than the actor learn of each real change (RFC 3501 §7.4.2)."""
        self._learn_keywords(flags)
        for uid in uids:
            old = self.flags.get(uid)
            if old is None:
                continue
            new = flags if mode is FlagMode.SET else old | flags if mode is FlagMode.ADD else old - flags
            if new == old:
                continue
            self.flags[uid] = new
            for view in self.views:
                if view is not actor:
                    view._changes.append(_FlagsChanged(uid))


# -- one session's view of a folder ----------------------------------------------------------------------------


SequenceSet = Sequence[tuple[int | None, int | None]]
"""Ranges as parsed from a sequence-set (RFC 3501 §9): (first, last), None standing for `*`; (n, n) for one number."""


class FolderView:
    """One session's selection of a folder (RFC 3501 §6.3.1 SELECT, §6.3.2 EXAMINE).

    `uids` is the session's sequence-number map: sequence number n is `uids[n - 1]`
    (§2.3.1.2). It changes only when the server flushes `pending()`, so the numbers a
    client holds stay right between responses (§5.5, §7.4.1).
    """

    def __init__(self, account: Account, folder: Folder, *, read_only: bool) -> None:
        self.account = account
        self.folder = folder
        self.read_only = read_only
        self.uids: list[int] = list(folder.messages)
        self.recent: set[int] = set()  # UIDs \Recent to this session
        self.folder_deleted = False  # another session deleted the folder, or renamed INBOX away
        self.closed = False
        self._changes: list[_Change] = []
        self._ghosts: dict[int, tuple[StoredMessage, frozenset[str]]] = {}  # expunged, not reported yet
        if read_only:
            self.recent = set(folder.unclaimed)  # EXAMINE MUST NOT take \Recent away (§6.3.2)
        else:
            # The first read-write session after arrival is the one the messages are recent to (§2.3.2).
            self.recent, folder.unclaimed = set(folder.unclaimed), set()
        folder.views.append(self)

    def __repr__(self) -> str:
        mode = "EXAMINE" if self.read_only else "SELECT"
        return f"FolderView({self.folder.name!r}, {mode}, exists={len(self.uids)})"

    # What SELECT answers (RFC 3501 §6.3.1) -------------------------------------------------------------------

    @property
    def exists(self) -> int:
        return len(self.uids)

    @property
    def recent_count(self) -> int:
        return sum(1 for uid in self.uids if uid in self.recent)

    @property
    def first_unseen(self) -> int | None:
        """Sequence number of the first message without \\Seen, for `[UNSEEN n]` (RFC 3501 §6.3.1)."""
        return next((e.seq for e in self._entries() if SEEN not in e.flags), None)

    @property
    def uidvalidity(self) -> int:
        return self.folder.uidvalidity

    @property
    def uidnext(self) -> int:
        return self.folder.uidnext

    @property
    def defined_flags(self) -> tuple[str, ...]:
        return self.folder.defined_flags

    @property
    def permanent_flags(self) -> tuple[str, ...]:
        """Nothing can be changed through a read-only view (RFC 3501 §6.3.2)."""
        return () if self.read_only else self.folder.permanent_flags

    # Lookups within the view ---------------------------------------------------------------------------------

    def seq_of(self, uid: int) -> int | None:
        index = bisect.bisect_left(self.uids, uid)
        return index + 1 if index < len(self.uids) and self.uids[index] == uid else None

    def entry(self, seq: int) -> ViewEntry:
        """The message at a sequence number; IndexError outside 1..EXISTS (the server answers BAD, §9)."""
        if not 1 <= seq <= len(self.uids):
            raise IndexError(f"no message {seq} in a view of {len(self.uids)}")
        return self._entry(seq, self.uids[seq - 1])

    def _entry(self, seq: int, uid: int) -> ViewEntry:
        message = self.folder.messages.get(uid)
        if message is not None:
            return ViewEntry(seq, message, self._flags(uid, self.folder.flags[uid]))
        message, flags = self._ghosts[uid]
        return ViewEntry(seq, message, self._flags(uid, flags), expunged=True)

    def _flags(self, uid: int, flags: frozenset[str]) -> tuple[str, ...]:
        return ordered_flags(flags | {RECENT} if uid in self.recent else flags)

    def _entries(self) -> Iterator[ViewEntry]:
        for seq, uid in enumerate(self.uids, 1):
            yield self._entry(seq, uid)

    def by_sequence(self, ranges: SequenceSet) -> list[ViewEntry]:
        """Messages named by sequence numbers, ascending and once each; `*` is the last (RFC 3501 §9 seq-number).

        Numbers above EXISTS are left out; whether to answer BAD for them is the server's call.
        """
        last = len(self.uids)
        wanted: set[int] = set()
        for first, end in ranges:
            low, high = sorted((last if first is None else first, last if end is None else end))
            wanted.update(range(max(low, 1), min(high, last) + 1))
        return [self._entry(seq, self.uids[seq - 1]) for seq in sorted(wanted)]

    def by_uid(self, ranges: SequenceSet) -> list[ViewEntry]:
        """Messages named by UIDs, ascending; UIDs not in the view are ignored (RFC 3501 §6.4.8).

        `n:*` always includes the last message, even when n is above every UID in use (§6.4.8):
        the range is read as `last:n`.
        """
        if not self.uids:
            return []
        top = self.uids[-1]
        out: list[ViewEntry] = []
        bounds = [sorted((top if a is None else a, top if b is None else b)) for a, b in ranges]
        for seq, uid in enumerate(self.uids, 1):
            if any(low <= uid <= high for low, high in bounds):
                out.append(self._entry(seq, uid))
        return out

    def uid_of(self, seq: int) -> int:
        return self.entry(seq).uid

    # Changes made through this session -----------------------------------------------------------------------

    def _writable(self) -> None:
        if self.closed:
            raise StoreError("this session has no folder selected")
        if self.read_only:
            raise StoreError("the folder was opened with EXAMINE and is read-only (RFC 3501 §6.3.2)")
        if self.folder_deleted:
            raise StoreError(f"the folder {self.folder.name} no longer exists", "NONEXISTENT")

    def store(self, uids: Iterable[int], mode: FlagMode, flags: Iterable[str]) -> dict[int, tuple[str, ...]]:
        """STORE (RFC 3501 §6.4.6): change flags; returns the new flags of each message still there.

        The server answers its own client from the result (unless .SILENT); other sessions are
        told through their `pending()`.
        """
        self._writable()
        wanted = [uid for uid in uids if uid in self.folder.messages]
        self.folder._store(wanted, mode, self.folder.canonical_flags(flags), actor=self)
        return {uid: self._flags(uid, self.folder.flags[uid]) for uid in wanted}

    def mark_seen(self, uids: Iterable[int]) -> list[int]:
        """The implicit \\Seen of FETCH BODY[] (RFC 3501 §6.4.5); returns the UIDs that changed.

        A read-only view changes nothing (§6.3.2), and neither does BODY.PEEK: the server only
        calls this for the fetch items that set \\Seen.
        """
        if self.read_only or self.closed or self.folder_deleted:
            return []
        changed = [u for u in uids if u in self.folder.messages and SEEN not in self.folder.flags[u]]
        self.folder._store(changed, FlagMode.ADD, frozenset({SEEN}), actor=self)
        return changed

    def expunge(self, uids: Iterable[int] | None = None) -> list[int]:
        """EXPUNGE (RFC 3501 §6.4.3), or UID EXPUNGE limited to `uids` (RFC 4315 §2.1): remove \\Deleted messages.

        Returns the UIDs removed. Every view, this one too, learns of them through `pending()`,
        which numbers the EXPUNGE responses one after another as the client will apply them.
        """
        self._writable()
        allowed = None if uids is None else set(uids)
        doomed = [
            uid for uid, flags in self.folder.flags.items() if DELETED in flags and (allowed is None or uid in allowed)
        ]
        return self.folder._remove(doomed)

    def copy(self, uids: Iterable[int], destination: str) -> CopyResult:
        """COPY (RFC 3501 §6.4.7): flags and INTERNALDATE kept, \\Recent set in the destination.

        Messages already expunged are skipped. The destination must exist ([TRYCREATE] if not).
        """
        if self.closed:
            raise StoreError("this session has no folder selected")
        target = self.account._existing(destination, "TRYCREATE")
        source = [uid for uid in sorted(set(uids)) if uid in self.folder.messages]
        made = [target._add(self.folder.messages[uid], self.folder.flags[uid]) for uid in source]
        return CopyResult(target.uidvalidity, tuple(source), tuple(m.uid for m in made))

    def move(self, uids: Iterable[int], destination: str) -> CopyResult:
        """MOVE (RFC 6851 §3.1): copy, then expunge the originals whatever their flags."""
        self._writable()
        result = self.copy(uids, destination)
        self.folder._remove(result.source_uids)
        return result

    # What the session is told --------------------------------------------------------------------------------

    @property
    def has_pending(self) -> bool:
        return bool(self._changes)

    def pending(self, allow_expunge: bool = True) -> list[Update]:
        """The untagged updates the server may send now, in order; the view's map follows them.

        With `allow_expunge` False (during FETCH, STORE or SEARCH without UID, RFC 3501 §7.4.1,
        §5.5) the expunges wait in the queue and the messages keep their numbers; new mail,
        flag changes and new keywords are still reported. Flag changes to one message are sent
        once, with its flags at this moment.
        """
        out: list[Update] = []
        kept: list[_Change] = []
        grew = False  # new mail taken into the map and not yet announced
        told_flags: set[int] = set()
        for change in self._changes:
            if isinstance(change, _Arrived):
                if self.seq_of(change.uid) is None:
                    self.uids.append(change.uid)  # arrivals are always above every UID the view holds
                    grew = True
                continue
            if grew:  # EXISTS goes before anything numbered after it (RFC 3501 §7.3.1)
                out.extend(self._growth())
                grew = False
            if isinstance(change, _Expunged):
                seq = self.seq_of(change.uid)
                if not allow_expunge:
                    kept.append(change)
                elif seq is not None:
                    del self.uids[seq - 1]
                    self.recent.discard(change.uid)
                    self._ghosts.pop(change.uid, None)
                    out.append(Expunge(seq))
            elif isinstance(change, _FlagsChanged):
                seq = self.seq_of(change.uid)
                if seq is not None and change.uid in self.folder.messages and change.uid not in told_flags:
                    told_flags.add(change.uid)
                    out.append(FlagsUpdate(seq, change.uid, self._flags(change.uid, self.folder.flags[change.uid])))
            elif not any(isinstance(u, FlagList) for u in out):
                out.append(FlagList(self.folder.defined_flags))
        if grew:
            out.extend(self._growth())
        self._changes = kept
        return out

    def _growth(self) -> tuple[Exists, Recent]:
        return Exists(len(self.uids)), Recent(self.recent_count)

    def close(self) -> None:
        """Deselect (CLOSE, UNSELECT, another SELECT, LOGOUT): the \\Recent this session held ends with it (§2.3.2).

        CLOSE's silent expunge (RFC 3501 §6.4.2) is `expunge()` first; what it queued is dropped here.
        """
        if self in self.folder.views:
            self.folder.views.remove(self)
        self.closed = True
        self._changes.clear()
        self._ghosts.clear()


# -- mailbox names and LIST ------------------------------------------------------------------------------------


def canonical_name(name: str) -> str:
    """INBOX in any case is INBOX (RFC 3501 §5.1); other names are case-sensitive."""
    return INBOX if name.upper() == INBOX else name


def _pattern_regex(pattern: str, delimiter: str) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "%":
            parts.append(f"[^{re.escape(delimiter)}]*")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def match_pattern(pattern: str, name: str, delimiter: str = HIERARCHY_DELIMITER) -> bool:
    """Whether a LIST pattern matches a mailbox name (RFC 3501 §6.3.8).

    `*` matches anything, `%` anything but the hierarchy delimiter; INBOX matches case-insensitively.
    """
    if _pattern_regex(pattern, delimiter).fullmatch(name):
        return True
    if name == INBOX:
        return _pattern_regex(pattern.upper(), delimiter).fullmatch(INBOX) is not None
    return False


def list_names(
    reference: str, pattern: str, names: Iterable[str], delimiter: str = HIERARCHY_DELIMITER
) -> list[tuple[str, bool]]:
    """The names LIST or LSUB answers with, sorted, each with whether it is only implied (RFC 3501 §6.3.8-6.3.9).

    The reference and the pattern are joined as the RFC describes. When `%` ends the pattern,
    hierarchy levels above a name that match are answered too, marked implied: the caller shows
    them as \\Noselect. Returns (name, implied) pairs.
    """
    full = reference + pattern
    present = set(names)
    found: dict[str, bool] = {}
    for name in present:
        if match_pattern(full, name, delimiter):
            found[name] = False
    if full.endswith("%"):
        for name in present:
            pieces = name.split(delimiter)
            for depth in range(1, len(pieces)):
                parent = delimiter.join(pieces[:depth])
                if parent not in present and parent not in found and match_pattern(full, parent, delimiter):
                    found[parent] = True
    return sorted(found.items())


# -- accounts --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MaildropEntry(Value):
    """One message of a POP3 session's listing (RFC 1939 §5 STAT/LIST, §7 UIDL)."""

    number: int
    unique_id: str
    message: StoredMessage

    @property
    def size(self) -> int:
        return self.message.size


@dataclass(frozen=True)
class Maildrop(Value):
    """INBOX as a POP3 session saw it when it locked the maildrop (RFC 1939 §4): fixed for the session."""

    holder: str
    entries: tuple[MaildropEntry, ...]


class Account:
    """One user's mail: the folders, the subscriptions and the POP3 maildrop lock.

    SMTP delivery uses `append`, which files into INBOX; `messages`, `uidvalidity` and `uidnext`
    describe INBOX.
    """

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._validity = 0  # UIDVALIDITY counter: a folder's every life gets a new value (RFC 3501 §2.3.1.1)
        self.folders: dict[str, Folder] = {}
        self.subscriptions: set[str] = set()
        self.by_message_id: dict[str, StoredMessage] = {}  # the first copy of each delivered by SMTP
        self.maildrop_holder: str | None = None
        self.folders[INBOX] = self._new_folder(INBOX)

    def __repr__(self) -> str:
        return f"Account({self.owner!r}, folders={sorted(self.folders)})"

    def _new_folder(self, name: str) -> Folder:
        self._validity += 1
        return Folder(name, self._validity)

    # The INBOX, as SMTP delivery and older callers see it -------------------------------------------------

    @property
    def inbox(self) -> Folder:
        return self.folders[INBOX]

    @property
    def messages(self) -> list[StoredMessage]:
        """INBOX messages in arrival (UID) order."""
        return list(self.inbox.messages.values())

    @property
    def uidvalidity(self) -> int:
        return self.inbox.uidvalidity

    @property
    def uidnext(self) -> int:
        return self.inbox.uidnext

    def first_copy(self, message_id: str) -> StoredMessage | None:
        return self.by_message_id.get(message_id) if message_id else None

    def append(
        self,
        content: bytes,
        arrived: float,
        queue_id: str,
        message_id: str = "",
        duplicate_of: str | None = None,
        *,
        folder: str = INBOX,
    ) -> StoredMessage:
        """Final delivery (RFC 5321 §4.4), as the MDA does it: no flags, recent to one session.

        Mail goes into INBOX, or into the Junk folder when the MX's filter or the sender's DMARC
        policy says so; Junk is made on first use, as Dovecot's autocreate does.
        """
        if folder == JUNK and JUNK not in self.folders:
            self.create(JUNK)
        stored = self.deliver(
            folder, content, internal_date=arrived, queue_id=queue_id, message_id=message_id, duplicate_of=duplicate_of
        )
        if message_id:
            self.by_message_id.setdefault(message_id, stored)
        return stored

    def deliver(
        self,
        folder: str,
        content: bytes,
        *,
        internal_date: float,
        flags: Iterable[str] = (),
        queue_id: str = "",
        message_id: str = "",
        duplicate_of: str | None = None,
    ) -> StoredMessage:
        """Add a message to a folder (IMAP APPEND, RFC 3501 §6.3.11); the result carries its UID.

        Raises StoreError with code TRYCREATE when the folder does not exist, as §6.3.11 asks.
        """
        target = self._existing(folder, "TRYCREATE")
        message = StoredMessage(0, content, internal_date, queue_id, message_id, duplicate_of)
        return target._add(message, target.canonical_flags(flags))

    # Folders (RFC 3501 §6.3.3-6.3.5) -------------------------------------------------------------------------

    def _existing(self, name: str, code: str = "NONEXISTENT") -> Folder:
        folder = self.folders.get(canonical_name(name))
        if folder is None or not folder.selectable:
            raise StoreError(f"no folder named {name}", code)
        return folder

    def folder(self, name: str) -> Folder:
        """The selectable folder of that name; StoreError NONEXISTENT otherwise."""
        return self._existing(name)

    def _checked(self, name: str) -> str:
        name = canonical_name(name.removesuffix(HIERARCHY_DELIMITER))  # a trailing delimiter declares intent (§6.3.3)
        if not name or any(not part for part in name.split(HIERARCHY_DELIMITER)):
            raise StoreError(f"{name!r} is not a usable folder name", "CANNOT")
        if "*" in name or "%" in name:
            raise StoreError("folder names cannot hold the LIST wildcards * and % (RFC 3501 §6.3.8)", "CANNOT")
        return name

    def _superiors(self, name: str) -> list[str]:
        pieces = name.split(HIERARCHY_DELIMITER)
        return [HIERARCHY_DELIMITER.join(pieces[:depth]) for depth in range(1, len(pieces))]

    def _inferiors(self, name: str) -> list[str]:
        prefix = name + HIERARCHY_DELIMITER
        return [other for other in self.folders if other.startswith(prefix)]

    def create(self, name: str) -> Folder:
        """CREATE (RFC 3501 §6.3.3), making missing superior names too; an existing name is refused."""
        name = self._checked(name)
        existing = self.folders.get(name)
        if existing is not None and existing.selectable:
            raise StoreError(f"a folder named {name} already exists", "ALREADYEXISTS")
        for superior in self._superiors(name):
            if superior not in self.folders:
                self.folders[superior] = self._new_folder(superior)
        self.folders[name] = folder = self._new_folder(name)
        return folder

    def delete(self, name: str) -> None:
        """DELETE (RFC 3501 §6.3.4): INBOX and unknown names are refused.

        A folder with inferiors loses its messages and becomes \\Noselect; one that is already
        \\Noselect and has inferiors cannot be deleted. Sessions that had it selected are told
        every message is expunged and see `folder_deleted`.
        """
        name = canonical_name(name)
        if name == INBOX:
            raise StoreError("INBOX cannot be deleted (RFC 3501 §6.3.4)", "CANNOT")
        folder = self.folders.get(name)
        if folder is None:
            raise StoreError(f"no folder named {name}", "NONEXISTENT")
        inferiors = self._inferiors(name)
        if inferiors and not folder.selectable:
            raise StoreError(f"{name} has inferiors and is already \\Noselect (RFC 3501 §6.3.4)", "CANNOT")
        folder._remove(list(folder.messages))
        for view in folder.views:
            view.folder_deleted = True
        if inferiors:
            self._validity += 1
            self.folders[name] = Folder(name, self._validity, selectable=False)
        else:
            del self.folders[name]

    def rename(self, old: str, new: str) -> None:
        """RENAME (RFC 3501 §6.3.5): inferiors move along; missing superiors of the new name are made.

        Renaming INBOX moves its messages to a new folder and leaves INBOX empty (its UIDs are not
        reused); INBOX's own inferiors stay where they are.
        """
        old, new = canonical_name(old), self._checked(new)
        source = self.folders.get(old)
        if source is None:
            raise StoreError(f"no folder named {old}", "NONEXISTENT")
        if new in self.folders:
            raise StoreError(f"a folder named {new} already exists", "ALREADYEXISTS")
        if old != INBOX and new.startswith(old + HIERARCHY_DELIMITER):
            raise StoreError(f"{old} cannot be moved inside itself", "CANNOT")
        for superior in self._superiors(new):
            if superior not in self.folders:
                self.folders[superior] = self._new_folder(superior)
        if old == INBOX:
            moved = self._new_folder(new)
            moved.uidnext = source.uidnext
            moved.messages, moved.flags = dict(source.messages), dict(source.flags)
            moved.keywords, moved.unclaimed = list(source.keywords), set(source.unclaimed)
            source._remove(list(source.messages))
            self.folders[new] = moved
            return
        for name in [old, *self._inferiors(old)]:
            folder = self.folders.pop(name)
            folder.name = new + name[len(old) :]
            self.folders[folder.name] = folder

    def select(self, name: str, *, read_only: bool = False) -> FolderView:
        """SELECT, or EXAMINE with `read_only` (RFC 3501 §6.3.1-6.3.2): a new view for one session."""
        return FolderView(self, self._existing(name), read_only=read_only)

    def status(self, name: str) -> StatusCounts:
        """STATUS (RFC 3501 §6.3.10): counts without selecting, so no \\Recent is claimed."""
        return self._existing(name).status()

    # LIST, LSUB, SUBSCRIBE (RFC 3501 §6.3.6-6.3.9) ----------------------------------------------------------

    def list_folders(self, reference: str, pattern: str) -> list[ListEntry]:
        """LIST: folders matching the pattern, \\Noselect where a name has no messages of its own."""
        out = []
        for name, implied in list_names(reference, pattern, self.folders):
            folder = self.folders.get(name)
            noselect = implied or folder is None or not folder.selectable
            out.append(ListEntry(name, noselect, bool(self._inferiors(name))))
        return out

    def list_subscribed(self, reference: str, pattern: str) -> list[ListEntry]:
        """LSUB (RFC 3501 §6.3.9): subscribed names, whether or not they exist; implied levels are \\Noselect."""
        return [ListEntry(name, implied) for name, implied in list_names(reference, pattern, self.subscriptions)]

    def subscribe(self, name: str) -> None:
        """SUBSCRIBE (RFC 3501 §6.3.6): the folder must exist now, though it may later go."""
        self.subscriptions.add(self._existing(name).name)

    def unsubscribe(self, name: str) -> None:
        """UNSUBSCRIBE (RFC 3501 §6.3.7): refused for a name not subscribed."""
        name = canonical_name(name)
        if name not in self.subscriptions:
            raise StoreError(f"{name} is not subscribed", "NONEXISTENT")
        self.subscriptions.discard(name)

    # POP3 (RFC 1939) -----------------------------------------------------------------------------------------

    @staticmethod
    def unique_id(folder: Folder, uid: int) -> str:
        """UIDL (RFC 1939 §7): UIDVALIDITY and UID, so an id is never given to another message."""
        return f"{folder.uidvalidity}.{uid}"

    def lock_maildrop(self, holder: str) -> Maildrop:
        """Take the exclusive maildrop lock (RFC 1939 §8) and list INBOX as it is now.

        A second holder is refused with code IN-USE (RFC 2449 §8.1.2), which POP3 sends as `-ERR [IN-USE]`.
        """
        if self.maildrop_holder is not None:
            raise StoreError("the maildrop is already locked by another session", "IN-USE")
        self.maildrop_holder = holder
        inbox = self.inbox
        entries = tuple(
            MaildropEntry(n, self.unique_id(inbox, m.uid), m) for n, m in enumerate(inbox.messages.values(), 1)
        )
        return Maildrop(holder, entries)

    def unlock_maildrop(self, holder: str) -> None:
        """Release the lock (QUIT, or the connection closing without QUIT, RFC 1939 §6)."""
        if self.maildrop_holder == holder:
            self.maildrop_holder = None

    def delete_from_maildrop(self, holder: str, unique_ids: Iterable[str]) -> list[str]:
        """The UPDATE state (RFC 1939 §6): remove these messages from INBOX, then release the lock.

        IMAP sessions watching INBOX are told of the removals as expunges. Ids whose message is
        already gone are skipped; the returned list says which were removed, so the server can
        answer -ERR when some were not.
        """
        if self.maildrop_holder != holder:
            raise StoreError("this session does not hold the maildrop lock", "IN-USE")
        inbox = self.inbox
        by_id = {self.unique_id(inbox, uid): uid for uid in inbox.messages}
        wanted = {by_id[u]: u for u in unique_ids if u in by_id}
        removed = inbox._remove(wanted)
        self.unlock_maildrop(holder)
        return [wanted[uid] for uid in removed]


Mailbox = Account  # the name SMTP delivery and the facade use


@dataclass
class MailStore:
    """The accounts of one mail server, by address (case-insensitive)."""

    mailboxes: dict[str, Account] = field(default_factory=dict)

    def create(self, address: str) -> Account:
        key = address.lower()
        if key not in self.mailboxes:
            self.mailboxes[key] = Account(address)
        return self.mailboxes[key]

    def get(self, address: str) -> Account | None:
        return self.mailboxes.get(address.lower())

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and address.lower() in self.mailboxes
