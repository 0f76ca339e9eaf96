"""The node's answers to a SASL exchange in progress, the same for the SMTP, POP3 and IMAP servers.

A server engine that runs SASL raises an event when the mechanism needs the node: a stored
secret (CRAM-MD5, SCRAM-SHA-256) or a verdict on a bearer token (XOAUTH2, OAUTHBEARER). The node
answers with one of the three methods here; the mechanism does the arithmetic and the engine
goes on in its own protocol's words (the next challenge, success, or its failure reply).
"""

from __future__ import annotations

from typing import ClassVar

from simulator.protocol.errors import LocalProtocolError
from simulator.protocol.sasl.base import Outcome, SaslServer
from simulator.protocol.sasl.registry import accept_token, refuse_token, supply_secret
from simulator.protocol.sasl.scram import ScramSecret


class SaslAnswers:
    """Mixed into a server engine: `supply_secret`, `accept_token` and `refuse_token`.

    The engine keeps the running mechanism in `_sasl` and the event the node must answer in
    `_awaiting`; it names its own event classes in `secret_event` and `token_event`, and goes
    on with an outcome in `_continue_sasl`.
    """

    secret_event: ClassVar[type]
    token_event: ClassVar[type]
    _sasl: SaslServer | None
    _awaiting: object

    def _continue_sasl(self, outcome: Outcome) -> None:
        raise NotImplementedError

    def supply_secret(self, secret: ScramSecret | str | None) -> None:
        """Answer the secret event: the user's password (or SCRAM `ScramSecret`), None for no such user.

        The mechanism compares digests or proofs (RFC 2195 §2, RFC 5802 §5); an unknown user
        fails exactly as a wrong answer does.
        """
        if not isinstance(self._awaiting, self.secret_event) or self._sasl is None:
            raise LocalProtocolError("supply_secret() answers a SecretNeeded event")
        self._awaiting = None
        self._continue_sasl(supply_secret(self._sasl, secret))

    def accept_token(self, user: str = "") -> None:
        """Answer the token event: the token is good (RFC 7628 §3.2.1).

        Args:
            user: whom the token was issued to, the identity when the client named none (RFC 7628 §3.1).
        """
        self._continue_sasl(accept_token(self._token_mechanism(), user))

    def refuse_token(self, status: str = "", scope: str = "") -> None:
        """Answer the token event: the token is not good; the client gets the JSON error as a challenge.

        Args:
            status: OAUTHBEARER's error code ("invalid_token", "insufficient_scope", RFC 7628
                §3.2.2, RFC 6750 §3.1), XOAUTH2's HTTP status ("401"); the usual one when "".
            scope: the scope a good token would need.
        """
        self._continue_sasl(refuse_token(self._token_mechanism(), status, scope))

    def _token_mechanism(self) -> SaslServer:
        if not isinstance(self._awaiting, self.token_event) or self._sasl is None:
            raise LocalProtocolError("accept_token() and refuse_token() answer a TokenCredentials event")
        self._awaiting = None
        return self._sasl
