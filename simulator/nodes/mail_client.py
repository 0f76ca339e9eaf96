"""A mail client (MUA) node: submits messages to its MSA on port 587 with AUTH.

Like a desktop mail program's outbox, it keeps a message it could not hand
over (connection refused, a 4xx) and tries again a little later; a 5xx is final
and the user is told.
"""

from __future__ import annotations

from functools import partial

from simulator.mail.ledger import Ledger
from simulator.net.network import Network
from simulator.nodes.smtp_session import ClientSession, SessionOutcome
from simulator.protocol.smtp.client import ClientConfig, OutgoingMessage, SMTPClient

SUBMISSION_PORT = 587
RETRY_AFTER = 300.0
MAX_TRIES = 10


class MailClient:
    def __init__(self, network: Network, name: str, *, msa: str, username: str, password: str, ledger: Ledger) -> None:
        self.network, self.name, self.msa, self.ledger = network, name, msa, ledger
        self.username, self.password = username, password

    def submit(self, message_id: str, message: OutgoingMessage, tries: int = 1) -> None:
        """Open a session to the MSA and hand the message over."""
        engine = SMTPClient(ClientConfig(local_hostname=self.name, username=self.username, password=self.password))
        engine.send_message(message)
        engine.quit()
        session = ClientSession(self.network, engine, self.name, partial(self._done, message_id, message, tries))
        session.start(self.msa, SUBMISSION_PORT)

    def _done(self, message_id: str, message: OutgoingMessage, tries: int, outcome: SessionOutcome) -> None:
        results = outcome.results[0].recipients if outcome.results else ()
        for r in results:
            if r.status == "failed":
                self.ledger.update(message_id, r.recipient, "rejected", self.name, r.reply.first_line())
        taken = {r.recipient.lower() for r in results if r.status != "deferred"}
        left = tuple(r for r in message.recipients if r.lower() not in taken)  # never resend to the others
        if not left:
            return
        if tries >= MAX_TRIES:
            for rcpt in left:
                self.ledger.update(message_id, rcpt, "rejected", self.name, "gave up submitting")
            return
        retry = OutgoingMessage(message.sender, left, message.content)
        self.network.tracer.emit(
            "defer", self.name, self.msa, None, "SMTP", b"",
            f"{self.name} keeps the message in its outbox; next try in {RETRY_AFTER:g} s",
            "The submission server did not take the message this time; the mail client tries again later.",
            "RFC 6409 §3.3",
        )  # fmt: skip
        self.network.kernel.schedule(RETRY_AFTER, self.submit, message_id, retry, tries + 1)
