"""Mailboxes: where delivered messages wait to be read.

Each user's INBOX keeps messages in arrival order with a UID, as an IMAP store
does (RFC 3501 §2.3.1.1): UIDs only grow, and UIDVALIDITY names the mailbox's
life. The retrieval protocols build on this.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.protocol.values import Value


@dataclass(frozen=True)
class StoredMessage(Value):
    """One delivered message.

    Attributes:
        uid: unique and ascending within the mailbox.
        content: the bytes as delivered, Return-Path and Received headers included.
        arrived: simulated seconds at delivery.
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


@dataclass
class Mailbox:
    owner: str
    uidvalidity: int = 1
    uidnext: int = 1
    messages: list[StoredMessage] = field(default_factory=list)
    by_message_id: dict[str, StoredMessage] = field(default_factory=dict)  # the first copy of each

    def first_copy(self, message_id: str) -> StoredMessage | None:
        return self.by_message_id.get(message_id) if message_id else None

    def append(
        self, content: bytes, arrived: float, queue_id: str, message_id: str = "", duplicate_of: str | None = None
    ) -> StoredMessage:
        message = StoredMessage(self.uidnext, content, arrived, queue_id, message_id, duplicate_of)
        self.uidnext += 1
        self.messages.append(message)
        if message_id:
            self.by_message_id.setdefault(message_id, message)
        return message


@dataclass
class MailStore:
    """The mailboxes of one mail server, by address (case-insensitive)."""

    mailboxes: dict[str, Mailbox] = field(default_factory=dict)

    def create(self, address: str) -> Mailbox:
        return self.mailboxes.setdefault(address.lower(), Mailbox(address))

    def get(self, address: str) -> Mailbox | None:
        return self.mailboxes.get(address.lower())

    def __contains__(self, address: object) -> bool:
        return isinstance(address, str) and address.lower() in self.mailboxes
