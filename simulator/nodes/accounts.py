"""Who may log in on a mail host, and how each kind of credential is checked.

One policy for the host's SMTP, POP3 and IMAP services, so that a password, a
challenge-response and a bearer token are judged the same way whichever port
they arrive on:

- a user and password (USER/PASS, LOGIN, AUTH PLAIN and LOGIN) are compared with
  the stored password, in constant time;
- CRAM-MD5 gets the password itself, since its digest is keyed with it (RFC 2195 §2);
- SCRAM-SHA-256 gets StoredKey and ServerKey (RFC 5802 §3), derived once per user
  with a salt from the world's seeded generator and kept, as a real server keeps
  them instead of the password;
- a bearer token (XOAUTH2, OAUTHBEARER) is checked against the authorization
  servers the host trusts: signature, expiry, user and scope (RFC 9068 §4), and
  the check is shown in the trace.
"""

from __future__ import annotations

import hmac
import random
from dataclasses import dataclass, field

from simulator.mail import tokens
from simulator.net.network import Network
from simulator.protocol import sasl

# The scope a token needs for each service (RFC 6749 §3.3): one per protocol, as large
# providers do (sending and reading are granted separately).
SCOPES = {"SMTP": "smtp", "POP3": "pop", "IMAP": "imap"}
# The stored "password" of a mailbox nobody logs in to (a user without one, a list address):
# no credential ever matches it, whatever bytes a mechanism can carry.
NO_LOGIN = "\0no login\0"
TOKEN_RFC = "RFC 9068 §4, RFC 6750 §3.1"


@dataclass(frozen=True)
class TokenCheck:
    """A bearer token's fate: good, or the RFC 6750 §3.1 error code and the scope a good one needs."""

    ok: bool
    status: str = ""  # "invalid_token" or "insufficient_scope"
    scope: str = ""
    subject: str = ""  # the user the token was issued to, when it could be read

    def status_for(self, mechanism: str) -> str:
        """The error as the mechanism states it: OAUTHBEARER's code (RFC 7628 §3.2.2), or for
        XOAUTH2 the HTTP status a web API gives for it (RFC 6750 §3.1: 401, or 403 for scope)."""
        if mechanism.upper() == "OAUTHBEARER":
            return self.status
        return "403" if self.status == "insufficient_scope" else "401"


@dataclass
class Accounts:
    """The users of one mail host and their secrets.

    Attributes:
        users: address -> password of everyone who may log in here.
        local_domains: domains whose users may also log in by their local part alone.
        trusted: the authorization servers whose tokens this host accepts; none refuses every token.
        network: the world, for the clock, the trace and the seeded generator that salts SCRAM
            secrets; None outside a world (salts then come from `secrets`, nothing is traced).
        host: this host's name, for the trace.
    """

    users: dict[str, str] = field(default_factory=dict)
    local_domains: frozenset[str] = frozenset()
    trusted: tuple[tokens.TrustedIssuer, ...] = ()
    network: Network | None = None
    host: str = ""
    _scram: dict[str, sasl.ScramSecret] = field(default_factory=dict, repr=False)

    @property
    def rng(self) -> random.Random | None:
        """Where the engines draw CRAM-MD5 challenges and SCRAM nonces: the world's seeded generator."""
        return self.network.rng if self.network is not None else None

    def find(self, name: str) -> str | None:
        """The user `name` means: a full address, or a local part of one of the local domains."""
        lowered = name.lower()
        for address in self.users:
            local, _, domain = address.lower().partition("@")
            if lowered == address.lower() or (lowered == local and domain in self.local_domains):
                return address
        return None

    def password(self, name: str) -> str | None:
        """The stored password of `name` (for APOP and CRAM-MD5, which key a digest with it)."""
        address = self._login(name)
        return self.users[address] if address is not None else None

    def check_password(self, name: str, password: str) -> str | None:
        """The user's address when `password` is theirs, else None (unknown user or wrong password alike)."""
        address = self._login(name)
        if address is None:
            return None
        return address if hmac.compare_digest(self.users[address].encode(), password.encode()) else None

    def acting_as(self, user: str | None, authzid: str) -> str | None:
        """The logged-in `user`, if they may act as the authorization identity the client asked for.

        A SASL client may ask to act as someone else (PLAIN's and SCRAM's authzid, RFC 4616 §2,
        RFC 5802 §5.1); the server must check the right to. Nobody here holds such a right (no
        master users), so only an authzid naming the user themselves, or none, is allowed.
        """
        if user is None or not authzid:
            return user
        return user if self.find(authzid) == user else None

    def _login(self, name: str) -> str | None:
        """The user `name` means, if that user may log in at all (has a password)."""
        address = self.find(name)
        # An empty password would admit anyone who sends an empty one: none is a password here.
        return address if address is not None and self.users[address] not in (NO_LOGIN, "") else None

    def secret(self, mechanism: str, name: str) -> str | sasl.ScramSecret | None:
        """What a challenge-response mechanism needs to check `name`'s answer; None for no such user."""
        address = self._login(name)
        if address is None:
            return None
        if mechanism.upper() != "SCRAM-SHA-256":
            return self.users[address]  # CRAM-MD5 keys its HMAC with the password itself
        cached = self._scram.get(address)
        if cached is None:
            try:
                cached = sasl.ScramSecret.from_password(self.users[address], rng=self.rng)
            except sasl.SaslPrepError:
                return None  # a password nobody could type (SASLprep refuses it): no one logs in with it
            self._scram[address] = cached
        return cached

    def check_token(self, name: str, token: str, protocol: str, peer: str = "") -> TokenCheck:
        """Check a bearer token presented to this host's `protocol` service, and show the check in the trace.

        Args:
            name: who the client says it is ("" lets the token name the user).
            peer: the client's host name, for the trace.
        """
        scope = SCOPES[protocol]
        now = self.network.kernel.now if self.network is not None else 0.0
        # Who the token names is compared here, through `find`, as a password login compares names:
        # "bob" and "bob@example.org" are one user of example.org.
        verdict = tokens.verify(token, self.trusted, user="", scope=scope, now=now)
        subject = verdict.claims.subject if verdict.claims is not None else ""
        if verdict.ok:
            holder = self._login(subject)  # a mailbox nobody logs in to takes no token either
            if holder is None:
                verdict = tokens.Verdict(
                    "invalid_token", f"issued to {subject}, who has no mailbox here", verdict.claims
                )
            elif name and self.find(name) != holder:
                verdict = tokens.Verdict("invalid_token", f"issued to {subject}, not to {name}", verdict.claims)
        self._trace(verdict, protocol, peer, scope)
        return TokenCheck(verdict.ok, verdict.error, scope, self.find(subject) or subject)

    def _trace(self, verdict: tokens.Verdict, protocol: str, peer: str, scope: str) -> None:
        if self.network is None:
            return
        if verdict.ok:
            summary = f"{self.host} accepts the access token: {verdict.reason}"
            explain = (
                f"The server checks the token itself with the authorization server's public key: the signature "
                f"is good, it has not expired, it names this user and its scope includes {scope!r}."
            )
        else:
            summary = f"{self.host} refuses the access token: {verdict.reason}"
            explain = (
                "A token that is expired, forged, issued to someone else or without the scope this service needs "
                f"is refused with the error {verdict.error!r}; the server says so in a JSON challenge, and a "
                "client that can get a fresh token does so and tries again."
            )
        self.network.tracer.emit("auth", self.host, peer or self.host, None, protocol, b"", summary, explain, TOKEN_RFC)
