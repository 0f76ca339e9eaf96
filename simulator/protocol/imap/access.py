"""What the IMAP server engine needs from a mail store, as typing Protocols (RFC 3501 §2.3, §5.2, §6.3-§6.4).

The engine sits in the protocol layer and must not import the mail store, yet
every authenticated command works on one. These Protocols name exactly the
operations and values it uses, with the names the store already has, so the
store's `Account` satisfies `MailAccount` structurally and a type checker proves it.

Two things cannot be said with structure alone, and the engine is told them instead:

- the store's STORE mode is its own enum; the engine is generic over it (`M`) and the
  node hands over a callable that turns "FLAGS", "+FLAGS" or "-FLAGS" into it (the
  enum class itself does);
- refusals are exceptions carrying `reason` and `code` (an RFC 5530 response code such
  as TRYCREATE or NONEXISTENT); `Refusal` recognises them at run time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, TypeVar, runtime_checkable

# The store's STORE mode type. It is only ever passed in, so the protocols are contravariant in it.
M_contra = TypeVar("M_contra", contravariant=True)

SequenceRanges = Sequence[tuple[int | None, int | None]]
"""Ranges of a sequence set as parsed (RFC 3501 §9): (first, last), None standing for `*`."""


@runtime_checkable
class Refusal(Protocol):
    """An operation the store refuses: the reason and an RFC 5530 / RFC 3501 response code ("" if none)."""

    @property
    def reason(self) -> str: ...

    @property
    def code(self) -> str: ...


class StoredMessage(Protocol):
    """One message in one folder: its UID (RFC 3501 §2.3.1.1), bytes, and arrival time (INTERNALDATE, §2.3.3).

    `arrived` is in simulated seconds since the simulation's epoch.
    """

    @property
    def uid(self) -> int: ...

    @property
    def content(self) -> bytes: ...

    @property
    def arrived(self) -> float: ...


class MessageEntry(Protocol):
    """A message as one session sees it: sequence number (§2.3.1.2), flags with \\Recent, and whether it is gone.

    `expunged` marks a message another session removed that this session has not been told of yet
    (RFC 2180 §4.1); its content is still there to answer FETCH.
    """

    @property
    def seq(self) -> int: ...

    @property
    def uid(self) -> int: ...

    @property
    def message(self) -> StoredMessage: ...

    @property
    def flags(self) -> tuple[str, ...]: ...

    @property
    def expunged(self) -> bool: ...


class CopyOutcome(Protocol):
    """What COPYUID carries (RFC 4315 §3): the target's UIDVALIDITY, source and new UIDs in pairs."""

    @property
    def uidvalidity(self) -> int: ...

    @property
    def source_uids(self) -> tuple[int, ...]: ...

    @property
    def destination_uids(self) -> tuple[int, ...]: ...


class StatusCounts(Protocol):
    """The STATUS items (RFC 3501 §6.3.10)."""

    @property
    def messages(self) -> int: ...

    @property
    def recent(self) -> int: ...

    @property
    def uidnext(self) -> int: ...

    @property
    def uidvalidity(self) -> int: ...

    @property
    def unseen(self) -> int: ...


class ListEntry(Protocol):
    """One LIST or LSUB answer (RFC 3501 §7.2.2): the name, \\Noselect, and whether it has children."""

    @property
    def name(self) -> str: ...

    @property
    def has_children(self) -> bool: ...

    @property
    def attributes(self) -> tuple[str, ...]: ...


# --- the untagged updates a view queues for its session (RFC 3501 §7.3, §7.4) --------------------------


@runtime_checkable
class CountUpdate(Protocol):
    """`* n EXISTS` (§7.3.1) or `* n RECENT` (§7.3.2); the store's class name says which (`Exists`, `Recent`)."""

    @property
    def count(self) -> int: ...


@runtime_checkable
class FlagsUpdate(Protocol):
    """`* n FETCH (FLAGS (...))` (§7.4.2): another session changed a message's flags."""

    @property
    def seq(self) -> int: ...

    @property
    def uid(self) -> int: ...

    @property
    def flags(self) -> tuple[str, ...]: ...


@runtime_checkable
class ExpungeUpdate(Protocol):
    """`* n EXPUNGE` (§7.4.1), numbered as the client sees the mailbox at that point."""

    @property
    def seq(self) -> int: ...


@runtime_checkable
class FlagListUpdate(Protocol):
    """`* FLAGS (...)` (§7.2.6): the mailbox gained a keyword."""

    @property
    def flags(self) -> tuple[str, ...]: ...


Update = CountUpdate | FlagsUpdate | ExpungeUpdate | FlagListUpdate


def is_recent_update(update: CountUpdate) -> bool:
    """Whether a count update is RECENT rather than EXISTS: the two carry the same field, so the name tells."""
    return type(update).__name__.upper() == "RECENT"


# --- a selected mailbox and an account ---------------------------------------------------------------------


class MailView(Protocol[M_contra]):
    """One session's selection of a folder (RFC 3501 §6.3.1 SELECT, §6.3.2 EXAMINE).

    Its sequence numbers change only when `pending()` is taken, so the numbers the client
    holds stay right between responses (§5.5, §7.4.1).
    """

    @property
    def read_only(self) -> bool: ...

    @property
    def exists(self) -> int: ...

    @property
    def recent_count(self) -> int: ...

    @property
    def first_unseen(self) -> int | None: ...

    @property
    def uidvalidity(self) -> int: ...

    @property
    def uidnext(self) -> int: ...

    @property
    def uids(self) -> Sequence[int]: ...

    @property
    def defined_flags(self) -> tuple[str, ...]: ...

    @property
    def permanent_flags(self) -> tuple[str, ...]: ...

    @property
    def has_pending(self) -> bool: ...

    def by_sequence(self, ranges: SequenceRanges) -> Sequence[MessageEntry]: ...

    def by_uid(self, ranges: SequenceRanges) -> Sequence[MessageEntry]: ...

    def store(self, uids: Iterable[int], mode: M_contra, flags: Iterable[str]) -> Mapping[int, tuple[str, ...]]: ...

    def mark_seen(self, uids: Iterable[int]) -> Sequence[int]: ...

    def expunge(self, uids: Iterable[int] | None = None) -> Sequence[int]: ...

    def copy(self, uids: Iterable[int], destination: str) -> CopyOutcome: ...

    def move(self, uids: Iterable[int], destination: str) -> CopyOutcome: ...

    def close(self) -> None: ...

    def pending(self, allow_expunge: bool = True) -> Sequence[Update]: ...


class MailAccount(Protocol[M_contra]):
    """One user's mailboxes: what the authenticated state works on (RFC 3501 §6.3)."""

    @property
    def owner(self) -> str: ...

    def select(self, name: str, *, read_only: bool = False) -> MailView[M_contra]: ...

    def status(self, name: str) -> StatusCounts: ...

    def deliver(
        self, folder: str, content: bytes, *, internal_date: float, flags: Iterable[str] = ()
    ) -> StoredMessage: ...

    def create(self, name: str) -> object: ...

    def delete(self, name: str) -> None: ...

    def rename(self, old: str, new: str) -> None: ...

    def subscribe(self, name: str) -> None: ...

    def unsubscribe(self, name: str) -> None: ...

    def list_folders(self, reference: str, pattern: str) -> Sequence[ListEntry]: ...

    def list_subscribed(self, reference: str, pattern: str) -> Sequence[ListEntry]: ...
