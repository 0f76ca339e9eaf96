"""The simulator's bookkeeping of where each message went, recipient by recipient.

No real mail system has this view: it is the omniscient observer a lesson
needs to answer "was anything lost?". Nodes write to it as they act; the
facade's `outcome()` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RecipientOutcome:
    status: str = "submitted"  # then queued, delivered, bounced or rejected
    where: str = ""  # the node holding it now: a queue, a mailbox's server
    detail: str = ""  # the last reply or reason
    copies: int = 0  # deliveries into the mailbox; 2 means an RFC 1047 duplicate


@dataclass
class MessageOutcome:
    message_id: str
    sender: str
    recipients: dict[str, RecipientOutcome] = field(default_factory=dict)
    accepted: bool = False  # the submission got 250 after its data


@dataclass
class Ledger:
    messages: dict[str, MessageOutcome] = field(default_factory=dict)

    def submitted(self, message_id: str, sender: str, recipients: list[str]) -> None:
        self.messages[message_id] = MessageOutcome(
            message_id, sender, {r.lower(): RecipientOutcome() for r in recipients}
        )

    def update(self, message_id: str, recipient: str, status: str, where: str, detail: str = "") -> None:
        outcome = self.messages.get(message_id)
        if outcome is None:
            return  # not a message the scenario submitted (a DSN, say)
        entry = outcome.recipients.setdefault(recipient.lower(), RecipientOutcome())
        if status == "delivered":
            entry.copies += 1
        entry.status, entry.where, entry.detail = status, where, detail
