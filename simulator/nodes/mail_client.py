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
from simulator.nodes.tls_channel import ClientTLS
from simulator.protocol.smtp.client import ClientConfig, OutgoingMessage, SMTPClient

SUBMISSION_PORT = 587
RETRY_AFTER = 300.0
MAX_TRIES = 10


class MailClient:
    """A user's mail program submitting to its MSA.

    Args:
        starttls: "never", "opportunistic" (if offered) or "required" (RFC 3207 §4; a mail
            program that requires it refuses to log in or send in clear, RFC 8314 §3.3).
        tls: the world's PKI and whether the certificate is checked; None in a world where no server
            offers STARTTLS (the mode then only decides whether the client goes on in clear).
    """

    def __init__(
        self, network: Network, name: str, *, msa: str, username: str, password: str, ledger: Ledger,
        starttls: str = "never", tls: ClientTLS | None = None,
    ) -> None:  # fmt: skip
        self.network, self.name, self.msa, self.ledger = network, name, msa, ledger
        self.username, self.password = username, password
        self.starttls = starttls
        self.tls = tls

    def submit(self, message_id: str, message: OutgoingMessage, tries: int = 1) -> None:
        """Open a session to the MSA and hand the message over."""
        config = ClientConfig(
            local_hostname=self.name, username=self.username, password=self.password, starttls=self.starttls
        )
        engine = SMTPClient(config)
        engine.send_message(message)
        engine.quit()
        session = ClientSession(
            self.network, engine, self.name, partial(self._done, message_id, message, tries), tls=self.tls
        )
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
