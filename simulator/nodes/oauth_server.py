"""An OAuth 2.0 authorization server, and what a mail program keeps to log in with it.

The user signed in once on each device, in a browser (the authorization code grant,
RFC 6749 §4.1, which this world does not show): since then the device holds a
refresh token, and an access token that lasts `lifetime` seconds. When it needs a
new access token it asks the token endpoint with the refresh-token grant (RFC 6749
§6): `POST /token` over HTTPS on port 443, answered with JSON (§5.1) or a JSON error
(§5.2). Both travel as real HTTP/1.1 inside real TLS on the simulated network, so
the trace shows them, and an observer on the link sees only TLS records.

The access tokens are JWTs the server signs (`simulator.mail.tokens`), so a mail
server checks one without asking anyone; its key comes from the world's seeded
generator and Ed25519 signatures are deterministic, so a seed gives the same tokens.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

from simulator.mail import tokens
from simulator.net.network import Network
from simulator.net.record import Note
from simulator.nodes.stream import StreamSession
from simulator.nodes.tls_channel import ClientTLS, ServerTLS
from simulator.protocol import http

HTTPS_PORT = 443
TOKEN_PATH = "/token"
LIFETIME = 3600.0  # seconds an access token lasts (a common choice: one hour)
# How long a client waits for the token endpoint, and how long the endpoint waits for a request.
HTTP_TIMEOUT = 30.0
REFRESH_RFC = "RFC 6749 §6"
BATCH = ("", "")


@dataclass(frozen=True)
class Grant:
    """What a refresh token stands for: who consented, for which program, to what (RFC 6749 §1.5)."""

    user: str
    client_id: str
    scope: tuple[str, ...]


class OAuthServer:
    """The world's authorization server: hands out access tokens at its token endpoint."""

    def __init__(self, network: Network, name: str, *, tls: ServerTLS, lifetime: float = LIFETIME) -> None:
        self.network, self.name, self.lifetime = network, name, lifetime
        self.key = tokens.SigningKey(name, network.rng.randbytes(32))
        self.grants: dict[str, Grant] = {}  # refresh token -> what it grants
        self.issued = 0
        network.listen(name, HTTPS_PORT, TokenListener(network, self, tls))

    @property
    def trusted(self) -> tokens.TrustedIssuer:
        """What a mail server needs to check this server's tokens: its name and public key."""
        return self.key.public

    def enroll(self, user: str, client_id: str, scope: tuple[str, ...]) -> tuple[str, str]:
        """The user signs in on a device (outside the world): a refresh token and a first access token."""
        refresh_token = self._random_token()
        self.grants[refresh_token] = Grant(user, client_id, scope)
        return refresh_token, self.issue(user, client_id, scope)

    def issue(self, user: str, client_id: str, scope: tuple[str, ...]) -> str:
        """A signed access token for `user`, valid from now for `lifetime` seconds."""
        self.issued += 1
        now = self.network.kernel.now
        claims = tokens.Claims(self.name, user, scope, now, now + self.lifetime, f"at-{self.issued}", client_id)
        return tokens.sign(self.key, claims)

    def answer(self, request: http.Request | http.BadMessage) -> tuple[int, dict[str, object], str]:
        """The token endpoint's answer: HTTP status, JSON body, and a summary for the trace."""
        if isinstance(request, http.BadMessage):
            return 400, {"error": "invalid_request"}, f"400 invalid_request: {request.reason}"
        if request.target != TOKEN_PATH:
            return 404, {"error": "not_found"}, f"404: no {request.target} here"
        if request.method != "POST":
            return 405, {"error": "invalid_request"}, "405: the token endpoint takes POST only"
        form = request.form()
        if form.get("grant_type") != "refresh_token":
            return 400, {"error": "unsupported_grant_type"}, "400 unsupported_grant_type"
        grant = self.grants.get(form.get("refresh_token", ""))
        if grant is None or grant.client_id != form.get("client_id"):
            return 400, {"error": "invalid_grant"}, "400 invalid_grant: unknown refresh token or another client's"
        asked = tuple(form["scope"].split()) if form.get("scope") else grant.scope
        if not set(asked) <= set(grant.scope):
            # RFC 6749 §6: a refresh may narrow the scope the user consented to, never widen it.
            return 400, {"error": "invalid_scope"}, f"400 invalid_scope: {' '.join(asked)!r} was never granted"
        token = self.issue(grant.user, grant.client_id, asked)
        body: dict[str, object] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(self.lifetime),
            "scope": " ".join(asked),
        }
        return 200, body, f"200: a new access token for {grant.user}, scope {' '.join(asked)!r}"

    def _random_token(self) -> str:
        return base64.urlsafe_b64encode(self.network.rng.randbytes(24)).decode("ascii")


@dataclass
class TokenListener:
    """Makes a server session for each connection to port 443."""

    network: Network
    server: OAuthServer
    tls: ServerTLS

    def accept(self) -> TokenEndpointSession:
        return TokenEndpointSession(self.network, self.server, self.tls)


class TokenEndpointSession(StreamSession):
    """The server side of one HTTPS connection to the token endpoint: one request, one answer."""

    protocol = "HTTPS"
    batch = BATCH
    timeout = HTTP_TIMEOUT
    timeout_note = ("The client sent no complete request in time: the server closes.", "RFC 9112 §9.8")
    starttls_rfc = "RFC 9110 §4.2.2"

    def __init__(self, network: Network, server: OAuthServer, tls: ServerTLS) -> None:
        super().__init__(network, server.name, "server", tls=tls, implicit_tls=True)
        self.server = server
        self._reader = http.MessageReader(request=True)
        self._request: http.Request | http.BadMessage | None = None
        self._out: list[Note] = []
        self._answered = False
        self._gone = False  # the client closed before a whole request came: nothing to answer

    def _feed(self, data: bytes) -> None:
        message = self._reader.feed(data)
        if isinstance(message, http.Request) or (isinstance(message, http.BadMessage) and data):
            self._request = message
        elif not data and self._request is None:
            self._gone = True

    def _react(self) -> None:
        if self._request is None or self._answered:
            return
        self._answered = True
        status, body, summary = self.server.answer(self._request)
        if status == 200:
            explain = (
                "The refresh token is good: the server issues a new access token with its lifetime in seconds "
                "(expires_in). The client keeps the refresh token for next time; no-store keeps caches away."
            )
            rfc = "RFC 6749 §5.1"
        else:
            explain = "The server cannot grant that: a JSON error names the problem, and no token is issued."
            rfc = "RFC 6749 §5.2"
        self._out.append(Note(http.json_response(status, body), summary, explain, rfc))

    def _notes(self) -> list[Note]:
        out, self._out = self._out, []
        return out

    def _engine_closed(self) -> bool:
        return self._answered or self._gone


class TokenHolder:
    """What a mail program keeps to log in with OAuth 2.0: a refresh token and the current access token.

    The program uses its access token until a server refuses it (RFC 6750 §3.1: "the client
    MAY request a new access token and retry"), then asks the token endpoint for a new one.

    Attributes:
        host: the device it runs on.
        server: the authorization server's host name.
        client_id: the mail program, as registered with the authorization server (RFC 6749 §2.2).
        scope: what it asks for when it refreshes (RFC 6749 §3.3).
    """

    def __init__(
        self, network: Network, host: str, *, server: str, tls: ClientTLS, client_id: str, user: str,
        scope: tuple[str, ...], refresh_token: str, access_token: str = "",
    ) -> None:  # fmt: skip
        self.network, self.host, self.server, self.tls = network, host, server, tls
        self.client_id, self.user, self.scope = client_id, user, scope
        self.refresh_token, self.access_token = refresh_token, access_token
        self.refreshes = 0
        self._waiting: list[Callable[[bool], None]] = []

    def renew_refused(self, then: Callable[[bool], None], retry: str) -> None:
        """A server refused the access token: say so in the trace, drop it, and get a fresh one.

        Args:
            retry: what the mail program does once it has the new token ("logs in again").
        """
        self.network.tracer.emit(
            "oauth", self.host, self.server, None, "HTTPS", b"",
            f"{self.host} drops the refused access token and asks for a new one",
            "The server refused the token (expired, or without the scope it needs). The mail program still "
            f"holds its refresh token, so it gets a fresh access token and {retry}, without asking the user.",
            "RFC 6750 §3.1, RFC 6749 §6",
        )  # fmt: skip
        self.refresh(then)

    def refresh(self, then: Callable[[bool], None]) -> None:
        """Ask for a new access token (RFC 6749 §6); `then(ok)` is called once the answer is in.

        `then` must be a bound method or a functools.partial of one, so that the world can
        still be copied for a checkpoint.
        """
        self.access_token = ""
        self._waiting.append(then)
        if len(self._waiting) > 1:
            return  # a request is on its way already: its answer serves both
        self.refreshes += 1
        session = TokenRequestSession(self.network, self)
        session.conn = self.network.connect(self.host, self.server, HTTPS_PORT, session, "HTTPS")
        session.arm()

    def answered(self, response: http.Response | None) -> None:
        """The token endpoint's answer (None: none came): keep the new token, then go on."""
        token = response.json().get("access_token") if response is not None and response.status == 200 else None
        if isinstance(token, str) and token:
            self.access_token = token
        waiting, self._waiting = self._waiting, []
        for then in waiting:
            then(bool(self.access_token))

    def request(self) -> bytes:
        fields = {"grant_type": "refresh_token", "refresh_token": self.refresh_token, "client_id": self.client_id}
        if self.scope:
            fields["scope"] = " ".join(self.scope)
        return http.form_request(self.server, TOKEN_PATH, fields)


class TokenRequestSession(StreamSession):
    """The client side of one HTTPS connection to the token endpoint."""

    protocol = "HTTPS"
    batch = BATCH
    timeout = HTTP_TIMEOUT
    timeout_note = ("The token endpoint did not answer in time: the program gives up for now.", "RFC 9112 §9.8")
    starttls_rfc = "RFC 9110 §4.2.2"

    def __init__(self, network: Network, holder: TokenHolder) -> None:
        super().__init__(network, holder.host, "client", tls=holder.tls, implicit_tls=True)
        self.holder = holder
        self._reader = http.MessageReader(request=False)
        self._sent = False
        self._response: http.Response | None = None
        self._over = False

    def _feed(self, data: bytes) -> None:
        message = self._reader.feed(data)
        if message is not None:
            self._response = message if isinstance(message, http.Response) else None
            self._over = True

    def _react(self) -> None:
        pass

    def _notes(self) -> list[Note]:
        if self._sent or self.tls is None:
            return []  # the request waits for the TLS handshake (HTTPS, RFC 9110 §4.2.2)
        self._sent = True
        summary = f"POST {TOKEN_PATH} (grant_type=refresh_token, scope {' '.join(self.holder.scope)!r})"
        explain = (
            "The mail program asks the authorization server for a new access token with its refresh token, "
            "over HTTPS. The refresh token never goes to a mail server; only the short-lived access token does."
        )
        return [Note(self.holder.request(), summary, explain, REFRESH_RFC)]

    def _engine_closed(self) -> bool:
        return self._over

    def _finished(self, reason: str) -> None:
        self.holder.answered(self._response)


def client_for(host: str) -> str:
    """The client_id a device's mail program is registered under."""
    return f"mail-program@{host}"
