"""TLS on a simulated connection: a `TLSLayer` between the TCP stream and a protocol engine.

After STARTTLS (SMTP, RFC 3207 §4), STLS (POP3, RFC 2595 §4) or STARTTLS (IMAP,
RFC 3501 §6.2.1) a session puts a channel between its connection and its engine: the
engine's plaintext goes in, TLS records go on the wire; records that arrive come out
as plaintext for the engine. The channel writes each flight of records as one traced
write, so a learner sees the handshake as an eavesdropper would (ClientHello in
clear, the rest encrypted), and each encrypted write with the plaintext units inside
it as its notes.

A live channel holds OpenSSL objects, which cannot be copied: pickling one raises
`LiveTLSError`, which the simulation takes as "no checkpoint now" (see simulator.sim).
"""

from __future__ import annotations

import pickle
import ssl
from dataclasses import dataclass

from simulator.net.certificates import CertVariant, WorldPKI
from simulator.net.network import Network, TCPConnection
from simulator.net.record import Note
from simulator.protocol.tls import TLSFacts, TLSLayer, TLSState, plaintext_alerts

TLS_PREFIX = "[TLS] "
RFC_HANDSHAKE = "RFC 8446 §4"
IMPLICIT_TLS_RFC = "RFC 8314 §3"  # TLS from the first byte on ports 465, 993 and 995
_VERIFY_FAILED = "certificate verify failed: "


class LiveTLSError(pickle.PicklingError):
    """A world with a TLS connection in progress cannot be pickled: OpenSSL's state is not copyable."""


@dataclass(frozen=True)
class ServerTLS:
    """What a server needs to run TLS: the world's PKI, its host name and which certificate it presents."""

    pki: WorldPKI
    host: str
    certificate: CertVariant = "ok"

    def context(self) -> ssl.SSLContext:
        return self.pki.server_context(self.host, self.certificate)


@dataclass(frozen=True)
class ClientTLS:
    """What a client needs to run TLS: the world's PKI and whether it checks the server's certificate.

    `verify` checks the chain up to the world CA and the host name (RFC 6125 §6); without it
    the client encrypts but accepts any certificate, as opportunistic TLS does (RFC 7435 §1).
    """

    pki: WorldPKI
    verify: bool = True

    def context(self) -> ssl.SSLContext:
        return self.pki.client_context(self.verify)


def short_error(layer: TLSLayer) -> str:
    """OpenSSL's failure in the words a mail log uses: "certificate has expired", not the whole error."""
    text = layer.error or "the handshake failed"
    if _VERIFY_FAILED in text:
        return text.split(_VERIFY_FAILED, 1)[1].rstrip(".")
    if text.startswith("[SSL: ") and "] " in text:
        return text.split("] ", 1)[1]
    return text


def _version(facts: TLSFacts) -> str:
    return facts.version.replace("TLSv", "TLS ")


class TLSChannel:
    """One end of TLS on one connection: encrypts what the engine writes, decrypts what arrives.

    Args:
        network: where writes go (each one traced).
        conn: the connection, already open.
        side: "client" or "server".
        layer: the TLS layer; a client layer has its ClientHello ready.
        verify: the client checks the certificate (only used to say so in the trace).
    """

    def __init__(self, network: Network, conn: TCPConnection, side: str, layer: TLSLayer, *, verify: bool) -> None:
        self.network, self.conn, self.side, self.layer, self.verify = network, conn, side, layer, verify
        self.announced = False  # the handshake's end has been acted on (tls_started, trace)

    @classmethod
    def client(cls, network: Network, conn: TCPConnection, tls: ClientTLS) -> TLSChannel:
        """Start a handshake as the client: the ClientHello goes out at once (RFC 8446 §4.1.2)."""
        # With the world collecting keys, this connection's secrets go to its list once the
        # handshake is done (every connection has a client in the world, so one side suffices).
        keylog = network.keylog.append if network.keylog is not None else None
        layer = TLSLayer(tls.context(), server_side=False, server_hostname=conn.server, keylog=keylog)
        channel = cls(network, conn, "client", layer, verify=tls.verify)
        hello = layer.client_hello
        sni = f" (server name {hello.server_name})" if hello is not None and hello.server_name else ""
        channel._records(
            f"ClientHello{sni}",
            "The TLS handshake starts, still in clear text: the client offers protocol versions, cipher suites "
            "and a key share, and names the server it wants to reach (SNI).",
            "RFC 8446 §4.1.2; RFC 6066 §3",
        )
        return channel

    @classmethod
    def server(cls, network: Network, conn: TCPConnection, tls: ServerTLS) -> TLSChannel:
        """Wait for the client's ClientHello: from now on every byte on the connection is a TLS record."""
        return cls(network, conn, "server", TLSLayer(tls.context(), server_side=True), verify=False)

    def __reduce_ex__(self, protocol: object) -> tuple[object, ...]:
        raise LiveTLSError("a TLS connection is in progress")

    # --- state ----------------------------------------------------------------------------

    @property
    def established(self) -> bool:
        return self.layer.state is TLSState.ESTABLISHED

    @property
    def failed(self) -> bool:
        return self.layer.state is TLSState.FAILED

    @property
    def just_established(self) -> bool:
        """The handshake has finished and nobody has acted on it yet; reading this acts on it."""
        if self.layer.facts is None or self.announced:
            return False
        self.announced = True
        return True

    # --- the byte stream ----------------------------------------------------------------------

    def receive(self, data: bytes) -> bytes:
        """Feed what arrived (b"" at EOF); write what TLS answers; return the plaintext for the engine."""
        was = self.layer.state
        self.layer.receive(data)
        state = self.layer.state
        if state is TLSState.FAILED:
            if was is not TLSState.FAILED:
                self._keep_handshake_keys()
            self._alert()
        elif was is TLSState.HANDSHAKING and state is TLSState.ESTABLISHED:
            if self.side == "client":
                self._records(
                    "Finished",
                    "The client checks the server's Finished and answers with its own: both sides now hold "
                    "the same keys, derived from a key exchange nobody on the link could follow.",
                    "RFC 8446 §4.4.4",
                )
            else:
                self._records(
                    "NewSessionTicket",
                    "The handshake is complete. The server hands the client tickets to resume the session "
                    "later without a full handshake; they travel encrypted.",
                    "RFC 8446 §4.6.1",
                )
        elif state is TLSState.HANDSHAKING and self.side == "server":
            self._records(
                "ServerHello, certificate, Finished",
                "The server answers in one flight: ServerHello in clear, then, already encrypted with the "
                "handshake keys, its extensions, its certificate, a signature proving it holds the certificate's "
                "key, and Finished.",
                "RFC 8446 §4.1.3, §4.4",
            )
        elif state is TLSState.CLOSED:
            self._records(
                "close_notify alert",
                "The peer said close_notify; this side answers with its own before the connection goes.",
                "RFC 8446 §6.1",
            )
        return self.layer.take_plaintext()

    def send(self, notes: list[Note], batch: tuple[str, str]) -> None:
        """Encrypt the engine's units and write the records as one write, the units as its notes."""
        if not notes or self.layer.state in (TLSState.CLOSED, TLSState.FAILED):
            return
        self.layer.send(b"".join(n.data for n in notes))
        ciphertext = self.layer.take_outgoing()
        if not ciphertext:
            return  # held until the handshake ends; the next write takes it along
        inner = tuple(Note(n.data, TLS_PREFIX + n.summary, n.explain, n.rfc) for n in notes)
        if len(inner) == 1:
            explain = (
                "Encrypted: on the wire this is a TLS application_data record; only the two ends can read "
                f"the {self.conn.protocol} unit inside (its plaintext is in the note). " + inner[0].explain
            )
            rfc = f"{inner[0].rfc}; RFC 8446 §5.2" if inner[0].rfc else "RFC 8446 §5.2"
        else:
            explain = "Encrypted TLS records holding several units. " + batch[0]
            rfc = f"{batch[1]}; RFC 8446 §5.2" if batch[1] else "RFC 8446 §5.2"
        summary = "; ".join(n.summary for n in inner)
        self.network.send(self.conn, self.side, [Note(ciphertext, summary, explain, rfc, inner)], batch)

    def close(self) -> None:
        """Say close_notify before the FIN (RFC 8446 §6.1)."""
        if self.layer.state is TLSState.ESTABLISHED:
            self.layer.close()
            self._records(
                "close_notify alert",
                "This side will send nothing more over TLS: it says so with an encrypted close_notify alert, "
                "so that the peer can tell the end from a truncation.",
                "RFC 8446 §6.1",
            )
        elif self.layer.state is TLSState.HANDSHAKING:
            self.layer.close()

    # --- what the trace says ---------------------------------------------------------------------

    def handshake_summary(self) -> tuple[str, str]:
        """The handshake event's summary and explanation, from the client's side."""
        facts = self.layer.facts
        assert facts is not None
        server = self.conn.server
        if facts.peer_subject:
            cert = f"certificate {facts.peer_subject} issued by {facts.peer_issuer}"
            checked = f"The client checked the certificate: signed by a CA it trusts and naming {server} (RFC 6125). "
        else:
            cert = "certificate not verified"
            checked = (
                "The client did not check the certificate (opportunistic TLS): the link is encrypted, but a "
                "man in the middle with any certificate would not be noticed (RFC 7435). "
            )
        summary = f"{_version(facts)} handshake with {server}: {facts.cipher}, {cert}"
        explain = (
            f"Client and server agreed on {_version(facts)} with {facts.cipher} ({facts.cipher_bits}-bit keys). "
            + checked
            + "From here on every command and reply travels inside encrypted records, and the session starts "
            "over: whatever was said before TLS is forgotten."
        )
        return summary, explain

    def trace_handshake(self, protocol_rfc: str) -> None:
        """One "tls" event for a finished handshake: version, cipher suite, certificate."""
        summary, explain = self.handshake_summary()
        conn = self.conn
        self.network.tracer.emit(
            "tls", conn.client, conn.server, conn.id, "TLS", b"", summary, explain, f"{protocol_rfc}; RFC 8446 §2"
        )

    def trace_failure(self, protocol_rfc: str) -> str:
        """One "tls" event for a failed handshake; returns the reason as a mail log gives it."""
        reason = short_error(self.layer)
        conn = self.conn
        self.network.tracer.emit(
            "tls", conn.client, conn.server, conn.id, "TLS", b"",
            f"TLS handshake with {conn.server} failed: {reason}",
            f"OpenSSL refused the handshake ({self.layer.error}). The client will not talk over a connection it "
            "cannot trust, nor fall back to clear text on it: it closes, and the mail waits for a later try.",
            f"{protocol_rfc}; RFC 8446 §6.2; RFC 5280 §6",
        )  # fmt: skip
        return reason

    def trace_refusal(self, protocol_rfc: str) -> None:
        """A "tls" event when the server's side of the handshake failed on what the client sent.

        A client that refused the server's certificate says so with an alert and has traced its
        reason already; anything else (bytes that are not TLS, a broken record) is told here.
        """
        reason = self.layer.error_reason or ""
        if "ALERT" in reason:
            return
        conn = self.conn
        self.network.tracer.emit(
            "tls", conn.server, conn.client, conn.id, "TLS", b"",
            f"{conn.server} ends the TLS handshake with {conn.client}: {short_error(self.layer)}",
            "What arrived was not a TLS handshake the server could go on with (bytes in clear text on a TLS "
            "port, a malformed record, an offer it cannot accept). It answers with an alert where TLS allows "
            "one and closes the connection; nothing the client sent reaches the mail service.",
            f"{protocol_rfc}; RFC 8446 §6.2",
        )  # fmt: skip

    # --- internals ---------------------------------------------------------------------------

    def _keep_handshake_keys(self) -> None:
        """Keep the secrets of a handshake that failed, when the world collects keys.

        The client derived the server's handshake secret before it refused what the server sent:
        with it Wireshark decrypts the server's flight, the certificate it refused among it.
        """
        keylog = self.network.keylog
        if keylog is not None and self.side == "client":
            keylog.extend(self.layer.keylog_lines())

    def _records(self, what: str, explain: str, rfc: str) -> None:
        data = self.layer.take_outgoing()
        if data:
            self.network.send(self.conn, self.side, [Note(data, f"{TLS_PREFIX}{what}", explain, rfc)], ("", ""))

    def _alert(self) -> None:
        data = self.layer.take_outgoing()
        if not data:
            return
        alerts = plaintext_alerts(data)
        what = f"alert ({', '.join(alerts)})" if alerts else "alert"
        explain = f"This side ends the handshake with an alert: {short_error(self.layer)}."
        self.network.send(self.conn, self.side, [Note(data, f"{TLS_PREFIX}{what}", explain, "RFC 8446 §6.2")], ("", ""))
