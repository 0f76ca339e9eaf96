"""Evaluating a parsed SEARCH key tree against one message (RFC 3501 §6.4.4).

The server engine walks its mailbox and asks `matches(key, message)` for each
message; the reader has already turned the command into the key tree of
`events` (OR, NOT and parenthesised lists, flags, dates, sizes, strings, sets).

String keys match substrings, case-insensitively (§6.4.4: "In all search keys
that use strings, a message matches the key if the string is a substring of the
field. The matching is case-insensitive."). Header values are tried both as they
are on the wire and with their encoded-words decoded, and bodies both raw and
with their transfer encoding undone, so a learner's search for a word finds it
whichever way the sender wrote it.
"""

from __future__ import annotations

import email
import email.header
import email.utils
from collections.abc import Iterator
from datetime import date, datetime
from email.policy import compat32
from functools import cached_property

from simulator.protocol.imap import events as ev
from simulator.protocol.imap.envelope import MimePart, ParsedMessage, header_values


class SearchTarget:
    """What SEARCH may look at in one message.

    Args:
        sequence: the message sequence number (RFC 3501 §2.3.1.2).
        uid: its unique identifier (RFC 3501 §2.3.1.1).
        flags: its flags, \\Recent included when the session has it as recent.
        internal_date: the INTERNALDATE (RFC 3501 §2.3.3).
        message: the raw message, or one already parsed.
        size: RFC822.SIZE; computed from the message when not given.
    """

    def __init__(
        self,
        *,
        sequence: int,
        uid: int,
        flags: frozenset[str] | set[str] | tuple[str, ...],
        internal_date: datetime,
        message: bytes | ParsedMessage,
        size: int | None = None,
    ) -> None:
        self.sequence = sequence
        self.uid = uid
        self.flags = frozenset(flag.casefold() for flag in flags)  # flags compare case-insensitively
        self.internal_date = internal_date
        self._message = message
        self._size = size

    @cached_property
    def parsed(self) -> ParsedMessage:
        message = self._message
        return message if isinstance(message, ParsedMessage) else ParsedMessage.parse(message)

    @property
    def size(self) -> int:
        return self._size if self._size is not None else self.parsed.size

    @cached_property
    def sent_date(self) -> date | None:
        """The day of the Date header, in the sender's own timezone; None when absent or unreadable."""
        values = header_values(self.parsed.header, "Date")
        if not values:
            return None
        try:
            return email.utils.parsedate_to_datetime(values[0]).date()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None

    @cached_property
    def body_texts(self) -> tuple[str, ...]:
        """The body as raw text, then each leaf part decoded (base64, quoted-printable, charset)."""
        texts = [_text(self.parsed.body)]
        texts.extend(_decoded_leaves(self.parsed.root))
        return tuple(text.casefold() for text in texts)

    def header_texts(self, name: str) -> list[str]:
        """The values of a header field, raw and with encoded-words decoded, case-folded."""
        out: list[str] = []
        for value in header_values(self.parsed.header, name):
            out.append(value.casefold())
            decoded = _decode_words(value)
            if decoded != value:
                out.append(decoded.casefold())
        return out

    @cached_property
    def header_text(self) -> str:
        """The whole header, unfolded raw and decoded, for TEXT."""
        raw = _text(self.parsed.header)
        return (raw + "\n" + _decode_words(raw)).casefold()


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _decode_words(value: str) -> str:
    """A header value with its RFC 2047 encoded-words decoded; the value itself if they are broken."""
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except Exception:  # malformed encoded-words or unknown charsets: search the raw text only
        return value


def _leaves(part: MimePart) -> Iterator[MimePart]:
    if part.children:
        for child in part.children:
            yield from _leaves(child)
    elif part.message is not None:
        yield from _leaves(part.message)
    else:
        yield part


def _decoded_leaves(root: MimePart) -> list[str]:
    out: list[str] = []
    for leaf in _leaves(root):
        if leaf.info.maintype not in ("text", "message") or leaf.info.encoding.lower() in ("7bit", "8bit", "binary"):
            if leaf.info.maintype == "text" and leaf is not root:
                out.append(_text(leaf.body))
            continue
        try:
            payload = email.message_from_bytes(leaf.header + leaf.body, policy=compat32).get_payload(decode=True)
            charset = dict(leaf.info.params).get("charset", "utf-8")
            if isinstance(payload, bytes):
                out.append(payload.decode(charset, errors="replace"))
        except (LookupError, ValueError, TypeError):  # an unknown charset: skip that decoding
            continue
    return out


def _compare(day: date, op: ev.DateOp, wanted: date) -> bool:
    if op is ev.DateOp.BEFORE:
        return day < wanted
    if op is ev.DateOp.ON:
        return day == wanted
    return day >= wanted  # SINCE: "within or later than the specified date"


def matches(key: ev.SearchKey, target: SearchTarget, *, largest_sequence: int, largest_uid: int) -> bool:
    """Whether one message matches a SEARCH key (RFC 3501 §6.4.4).

    Args:
        key: the parsed key tree.
        target: the message.
        largest_sequence: what `*` means in a sequence-number set (the number of messages).
        largest_uid: what `*` means in a UID set (the largest UID in the mailbox).
    """
    if isinstance(key, ev.All):
        return True
    if isinstance(key, ev.And):
        return all(matches(k, target, largest_sequence=largest_sequence, largest_uid=largest_uid) for k in key.keys)
    if isinstance(key, ev.Or):
        return matches(key.left, target, largest_sequence=largest_sequence, largest_uid=largest_uid) or matches(
            key.right, target, largest_sequence=largest_sequence, largest_uid=largest_uid
        )
    if isinstance(key, ev.Not):
        return not matches(key.key, target, largest_sequence=largest_sequence, largest_uid=largest_uid)
    if isinstance(key, ev.HasFlag):
        return key.flag.casefold() in target.flags
    if isinstance(key, ev.SequenceKey):
        return key.numbers.contains(target.sequence, largest_sequence)
    if isinstance(key, ev.UidKey):
        return key.uids.contains(target.uid, largest_uid)
    if isinstance(key, ev.SizeKey):
        return target.size > key.size if key.larger else target.size < key.size
    if isinstance(key, ev.DateKey):
        if key.field is ev.DateField.INTERNAL:
            day: date | None = target.internal_date.date()  # disregarding time and timezone
        else:
            day = target.sent_date
        return day is not None and _compare(day, key.op, key.date)
    if isinstance(key, ev.HeaderKey):
        wanted = key.value.casefold()
        return any(wanted in value for value in target.header_texts(key.name))
    if isinstance(key, ev.BodyKey):
        wanted = key.value.casefold()
        return any(wanted in text for text in target.body_texts)
    if isinstance(key, ev.TextKey):
        wanted = key.value.casefold()
        return wanted in target.header_text or any(wanted in text for text in target.body_texts)
    raise TypeError(f"not a search key: {key!r}")


def search(
    key: ev.SearchKey, targets: list[SearchTarget], *, largest_uid: int | None = None, uid: bool = False
) -> list[int]:
    """The sequence numbers (or UIDs, for UID SEARCH) of the messages matching `key`, ascending.

    `*` means the last message's sequence number, or the largest UID in the mailbox.
    """
    largest_sequence = max((t.sequence for t in targets), default=0)
    top_uid = largest_uid if largest_uid is not None else max((t.uid for t in targets), default=0)
    found = [
        t.uid if uid else t.sequence
        for t in targets
        if matches(key, t, largest_sequence=largest_sequence, largest_uid=top_uid)
    ]
    return sorted(found)
