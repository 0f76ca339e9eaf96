"""A mail client (MUA) node: submits messages to its MSA on port 587 with AUTH.

Like a desktop mail program's outbox, it keeps a message it could not hand
over (connection refused, a 4xx) and tries again a little later; a 5xx is final
and the user is told. With OAuth 2.0 (XOAUTH2, OAUTHBEARER; RFC 7628) a refused
token is the exception: the program gets a fresh one and tries again at once.

The same node, pointed at port 25 without credentials, is what spam software is:
a program that hands mail straight to someone else's server and hopes it relays.
"""

from __future__ import annotations

from functools import partial

from simulator.mail.ledger import Ledger
from simulator.net.network import Network
from simulator.nodes.oauth_server import TokenHolder
from simulator.nodes.smtp_session import ClientSession, SessionOutcome
from simulator.nodes.tls_channel import ClientTLS
from simulator.protocol.smtp.client import ClientConfig, OutgoingMessage, SMTPClient
from simulator.protocol.smtp.events import RecipientResult

SUBMISSION_PORT = 587
SUBMISSIONS_PORT = 465  # submission over implicit TLS (RFC 8314 §3.3)
SMTP_PORT = 25
RETRY_AFTER = 300.0
MAX_TRIES = 10
TOKEN_MECHANISMS = frozenset({"XOAUTH2", "OAUTHBEARER"})


class MailClient:
    """A user's mail program submitting to its MSA.

    Args:
        starttls: "never", "opportunistic" (if offered) or "required" (RFC 3207 §4; a mail
            program that requires it refuses to log in or send in clear, RFC 8314 §3.3).
        tls: the world's PKI and whether the certificate is checked; None in a world where no server
            offers STARTTLS (the mode then only decides whether the client goes on in clear).
        implicit_tls: submit on port 465, where TLS starts with the first byte (RFC 8314 §3.3);
            needs `tls`.
        auth: the SASL mechanism it logs in with (RFC 4954); None for PLAIN, or LOGIN if that is
            all the server offers.
        tokens: with XOAUTH2 or OAUTHBEARER, the refresh and access tokens it holds.
        port: 25 with no `username` sends without logging in, as spam software does.
    """

    def __init__(
        self, network: Network, name: str, *, msa: str, username: str | None, password: str, ledger: Ledger,
        starttls: str = "never", tls: ClientTLS | None = None, implicit_tls: bool = False,
        auth: str | None = None, tokens: TokenHolder | None = None, port: int | None = None,
    ) -> None:  # fmt: skip
        if implicit_tls and tls is None:
            raise ValueError("implicit TLS needs a TLS configuration")
        if auth is not None and auth.upper() in TOKEN_MECHANISMS and tokens is None:
            raise ValueError(f"{auth} logs in with an OAuth 2.0 token: the client needs a TokenHolder")
        self.network, self.name, self.msa, self.ledger = network, name, msa, ledger
        self.username, self.password = username, password
        self.starttls = starttls
        self.tls = tls
        self.implicit_tls = implicit_tls
        self.auth, self.tokens = (auth.upper() if auth else None), tokens
        self.port = port if port is not None else SUBMISSIONS_PORT if implicit_tls else SUBMISSION_PORT

    @property
    def uses_token(self) -> bool:
        return self.auth in TOKEN_MECHANISMS

    def submit(self, message_id: str, message: OutgoingMessage, tries: int = 1, renewed: bool = False) -> None:
        """Open a session to the MSA and hand the message over.

        Args:
            renewed: this try logs in with a token renewed after the server refused the last one.
        """
        if self.tokens is not None and self.uses_token and not self.tokens.access_token:
            self.tokens.refresh(partial(self._token_ready, message_id, message, tries, renewed))
            return
        config = ClientConfig(
            local_hostname=self.name, username=self.username, password=self.password, starttls=self.starttls,
            auth_mechanisms=(self.auth,) if self.auth else ("PLAIN", "LOGIN"),
            token=self.tokens.access_token if self.tokens is not None and self.uses_token else None,
        )  # fmt: skip
        engine = SMTPClient(config, tls=self.implicit_tls, rng=self.network.rng)
        engine.send_message(message)
        engine.quit()
        session = ClientSession(
            self.network, engine, self.name, partial(self._done, message_id, message, tries, renewed), tls=self.tls,
            implicit_tls=self.implicit_tls,
        )  # fmt: skip
        session.start(self.msa, self.port)

    def _token_ready(self, message_id: str, message: OutgoingMessage, tries: int, renewed: bool, ok: bool) -> None:
        if ok:
            self.submit(message_id, message, tries, renewed)
            return
        for rcpt in message.recipients:
            self.ledger.update(message_id, rcpt, "rejected", self.name, "no access token from the authorization server")

    def _done(
        self, message_id: str, message: OutgoingMessage, tries: int, renewed: bool, outcome: SessionOutcome
    ) -> None:
        results = outcome.results[0].recipients if outcome.results else ()
        if self.tokens is not None and self.uses_token and not renewed and _token_refused(results):
            self.tokens.renew_refused(partial(self._token_ready, message_id, message, tries, True), "sends again")
            return
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


def _token_refused(results: tuple[RecipientResult, ...]) -> bool:
    """Whether the session failed at AUTH: every recipient carries the 535 (RFC 4954 §6)."""
    return bool(results) and all(r.reply.code == 535 for r in results)
