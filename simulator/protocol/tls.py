"""TLS as a sans-IO byte-stream layer: Python's `ssl` over two `ssl.MemoryBIO` buffers.

An engine switches this layer on after STARTTLS (SMTP, RFC 3207 §4), STLS (POP3,
RFC 2595 §4) or STARTTLS (IMAP, RFC 3501 §6.2.1), or from the first byte on the
implicit-TLS ports (RFC 8314 §3). Ciphertext goes in with `receive`, plaintext comes
out with `take_plaintext`; plaintext goes in with `send`, ciphertext (handshake
records, application data, alerts) comes out with `take_outgoing`. No socket and no
clock are involved, so the connection can be stepped one wire write at a time.

The cryptography is real: OpenSSL runs the handshake (RFC 8446 for TLS 1.3, RFC 5246
for TLS 1.2) and checks the certificate. A failure from the peer never raises out of
the layer: it becomes the `FAILED` state with OpenSSL's own error text, and any alert
OpenSSL produced waits in `take_outgoing` to be put on the wire.

The pure helpers `records`, `plaintext_alerts` and `parse_client_hello` read the record
layer (RFC 8446 §5.1, RFC 5246 §6.2.1), clear-text alerts (RFC 8446 §6) and the
ClientHello (RFC 8446 §4.1.2), so that a trace can say what each write contains
without decrypting anything, as an eavesdropper on the link could.
"""

from __future__ import annotations

import atexit
import enum
import os
import re
import shutil
import ssl
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from simulator.protocol.errors import LocalProtocolError

__all__ = [
    "ALERT_DESCRIPTIONS",
    "CONTENT_TYPES",
    "ClientHelloInfo",
    "KeyLogSink",
    "RecordInfo",
    "TLSFacts",
    "TLSLayer",
    "TLSState",
    "keylog_lines_for",
    "parse_client_hello",
    "plaintext_alerts",
    "records",
]

#: The record content types of RFC 8446 §5.1 (and RFC 6520 for heartbeat), by number.
CONTENT_TYPES: dict[int, str] = {
    20: "change_cipher_spec",
    21: "alert",
    22: "handshake",
    23: "application_data",
    24: "heartbeat",
}

#: Record-layer versions as written on the wire (RFC 8446 §5.1 keeps 0x0303 for TLS 1.3).
_WIRE_VERSIONS: dict[int, str] = {
    0x0300: "SSL 3.0",
    0x0301: "TLS 1.0",
    0x0302: "TLS 1.1",
    0x0303: "TLS 1.2",
    0x0304: "TLS 1.3",
}

_RECORD_HEADER = 5
_MAX_CIPHERTEXT = 2**14 + 256  # RFC 8446 §5.2: TLSCiphertext.length must not exceed 2^14 + 256
_READ_CHUNK = 2**14
_MAX_HELLO = 2**17  # more than any ClientHello: its extensions total under 2^16 octets (RFC 8446 §4.1.2)
_ALERT = 21
_HANDSHAKE = 22
_CLIENT_HELLO = 1
_EXT_SERVER_NAME = 0  # RFC 6066 §3
_SSL_SOURCE_SUFFIX = re.compile(r"\s*\(_ssl\.c:\d+\)$")

#: Where NSS key log lines go: a file name (shared by every connection on the context),
#: or a callable that receives this connection's lines once the handshake is done.
KeyLogSink = str | os.PathLike[str] | Callable[[str], None]


class TLSState(enum.Enum):
    """Where one side of a TLS connection is."""

    HANDSHAKING = "handshaking"
    ESTABLISHED = "established"
    CLOSED = "closed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RecordInfo:
    """The 5-byte header of one TLS record (RFC 8446 §5.1, RFC 5246 §6.2.1).

    `length` is the length the header announces; `complete` is false when the
    buffer ended before the record's last byte.
    """

    content_type: int
    version: int
    length: int
    complete: bool = True

    @property
    def type_name(self) -> str:
        """The content type as the RFC names it, e.g. "handshake"."""
        return CONTENT_TYPES.get(self.content_type, f"unknown({self.content_type})")

    @property
    def version_name(self) -> str:
        """The legacy record version, e.g. "TLS 1.2" (TLS 1.3 records say 1.2 on purpose, RFC 8446 §5.1)."""
        return _WIRE_VERSIONS.get(self.version, f"0x{self.version:04x}")

    def describe(self) -> str:
        """One line for a trace, e.g. "TLS record: handshake, 517 octets"."""
        tail = "" if self.complete else " (incomplete)"
        return f"TLS record: {self.type_name.replace('_', ' ')}, {self.length} octets{tail}"


def records(data: bytes) -> list[RecordInfo]:
    """Split a ciphertext stream into its records by reading each 5-byte header.

    Parsing stops, without raising, at the first header that is not a TLS record
    (unknown content type, a major version other than 3, or a length above the
    RFC 8446 §5.2 limit): what comes before it is returned. A record cut short by
    the end of `data` is returned with `complete=False`.
    """
    out: list[RecordInfo] = []
    pos = 0
    while pos + _RECORD_HEADER <= len(data):
        content_type = data[pos]
        version = int.from_bytes(data[pos + 1 : pos + 3], "big")
        length = int.from_bytes(data[pos + 3 : pos + 5], "big")
        if content_type not in CONTENT_TYPES or version >> 8 != 3 or length > _MAX_CIPHERTEXT:
            break
        end = pos + _RECORD_HEADER + length
        out.append(RecordInfo(content_type, version, length, complete=end <= len(data)))
        pos = end
    return out


#: Alert descriptions (RFC 8446 §6, with the TLS 1.2 ones of RFC 5246 §7.2).
ALERT_DESCRIPTIONS: dict[int, str] = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    22: "record_overflow",
    40: "handshake_failure",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    109: "missing_extension",
    110: "unsupported_extension",
    112: "unrecognized_name",
    113: "bad_certificate_status_response",
    115: "unknown_psk_identity",
    116: "certificate_required",
    120: "no_application_protocol",
}


def plaintext_alerts(data: bytes) -> list[str]:
    """The alerts in the unencrypted alert records of `data`, e.g. ["fatal certificate_expired"].

    An alert is readable on the wire only while its sender still writes in clear: in a
    TLS 1.2 handshake (RFC 5246 §7.2), and in TLS 1.3 until the sender switches to its
    handshake keys (RFC 8446 §5.1), which is why OpenSSL's client rejects a server
    certificate with a plaintext alert. Alerts sent later look like application_data.
    """
    out: list[str] = []
    pos = 0
    for info in records(data):
        body = data[pos + _RECORD_HEADER : pos + _RECORD_HEADER + info.length]
        pos += _RECORD_HEADER + info.length
        if info.content_type != _ALERT or len(body) != 2:
            continue
        level = {1: "warning", 2: "fatal"}.get(body[0], f"level({body[0]})")
        out.append(f"{level} {ALERT_DESCRIPTIONS.get(body[1], f'alert({body[1]})')}")
    return out


@dataclass(frozen=True, slots=True)
class ClientHelloInfo:
    """What anyone on the path can read in a ClientHello (RFC 8446 §4.1.2): it is sent in clear."""

    random: bytes
    server_name: str | None
    cipher_suites: tuple[int, ...]


def _handshake_bytes(data: bytes) -> bytes:
    """The concatenated payload of the leading handshake records (a message may span records)."""
    out = bytearray()
    pos = 0
    for info in records(data):
        if info.content_type != _HANDSHAKE:
            break
        out += data[pos + _RECORD_HEADER : pos + _RECORD_HEADER + info.length]
        pos += _RECORD_HEADER + info.length
    return bytes(out)


def parse_client_hello(data: bytes) -> ClientHelloInfo | None:
    """Read the ClientHello at the start of a client's byte stream; None if it is not (yet) complete.

    The server_name comes from the RFC 6066 §3 extension, the random is the 32 bytes
    that NSS key log lines are keyed by.
    """
    body = _handshake_bytes(data)
    if len(body) < 4 or body[0] != _CLIENT_HELLO:
        return None
    length = int.from_bytes(body[1:4], "big")
    msg = body[4 : 4 + length]
    if len(msg) < length:
        return None
    try:
        pos = 2  # legacy_version
        random = msg[pos : pos + 32]
        pos += 32
        pos += 1 + msg[pos]  # legacy_session_id
        suites_len = int.from_bytes(msg[pos : pos + 2], "big")
        suites = msg[pos + 2 : pos + 2 + suites_len]
        pos += 2 + suites_len
        pos += 1 + msg[pos]  # legacy_compression_methods
        server_name = _server_name(msg[pos:])
    except IndexError:
        return None
    if len(random) != 32:
        return None
    cipher_suites = tuple(int.from_bytes(suites[i : i + 2], "big") for i in range(0, len(suites) - 1, 2))
    return ClientHelloInfo(random=random, server_name=server_name, cipher_suites=cipher_suites)


def _server_name(extensions_block: bytes) -> str | None:
    """The host_name entry of the server_name extension (RFC 6066 §3), if the client sent one."""
    if len(extensions_block) < 2:
        return None
    total = int.from_bytes(extensions_block[:2], "big")
    exts = extensions_block[2 : 2 + total]
    pos = 0
    while pos + 4 <= len(exts):
        ext_type = int.from_bytes(exts[pos : pos + 2], "big")
        ext_len = int.from_bytes(exts[pos + 2 : pos + 4], "big")
        ext = exts[pos + 4 : pos + 4 + ext_len]
        pos += 4 + ext_len
        if ext_type != _EXT_SERVER_NAME or len(ext) < 5:
            continue
        name_type = ext[2]
        name_len = int.from_bytes(ext[3:5], "big")
        if name_type == 0:
            return ext[5 : 5 + name_len].decode("ascii", errors="replace")
    return None


@dataclass(frozen=True, slots=True)
class TLSFacts:
    """What the trace says about a finished handshake.

    `peer_subject`, `peer_issuer` and `peer_names` describe the server's certificate
    as the client verified it; they are empty on the server side and when the client
    does not verify (OpenSSL only decodes a verified certificate). `server_name` is the
    SNI (RFC 6066 §3): the name the client asked for, on either side.
    """

    version: str
    cipher: str
    cipher_bits: int
    peer_subject: str
    peer_issuer: str
    peer_names: tuple[str, ...]
    server_name: str | None


_SHORT_NAMES = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "localityName": "L",
    "stateOrProvinceName": "ST",
}


def _format_name(rdns: object) -> str:
    """A distinguished name from `getpeercert()` as "CN=..., O=..."."""
    if not isinstance(rdns, tuple):
        return ""
    parts: list[str] = []
    for rdn in rdns:
        for attr in rdn:
            key, value = attr
            parts.append(f"{_SHORT_NAMES.get(key, key)}={value}")
    return ", ".join(parts)


def _ssl_error_text(exc: BaseException) -> str:
    """OpenSSL's message without CPython's source location, so that a trace reads the same everywhere."""
    return _SSL_SOURCE_SUFFIX.sub("", str(exc))


# The key log file used when a callable sink is given and the context has none: OpenSSL
# only writes key log lines to a file, so the lines pass through a private one.
_private_keylog: Path | None = None


def _private_keylog_file() -> Path:
    global _private_keylog  # noqa: PLW0603 - one private file per process
    if _private_keylog is None:
        directory = Path(tempfile.mkdtemp(prefix="smtpsim-keylog-"))
        atexit.register(shutil.rmtree, directory, True)
        _private_keylog = directory / "keylog.txt"
    return _private_keylog


def keylog_lines_for(path: str | os.PathLike[str], client_random: bytes) -> list[str]:
    """The NSS key log lines in `path` that belong to the connection with this ClientHello random.

    Every line of the format has the client random as its second field, which is how
    Wireshark matches secrets to a capture.
    """
    wanted = client_random.hex()
    try:
        text = Path(path).read_text(encoding="ascii", errors="replace")
    except OSError:
        return []
    out: list[str] = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[1].lower() == wanted:
            out.append(line)
    return out


class TLSLayer:
    """One side (client or server) of one TLS connection, as a byte-stream layer.

    A client layer produces its ClientHello as soon as it is made: call
    `take_outgoing` and put the bytes on the wire. `receive(b"")` means the peer closed
    its side of the transport, as in every engine here.

    Misuse by our own code (sending after close) raises `LocalProtocolError`;
    anything the peer does ends in a state, never in an exception.
    """

    def __init__(
        self,
        context: ssl.SSLContext,
        *,
        server_side: bool,
        server_hostname: str | None = None,
        keylog: KeyLogSink | None = None,
    ) -> None:
        self.server_side = server_side
        self.state = TLSState.HANDSHAKING
        #: OpenSSL's text for the failure that ended the connection, e.g.
        #: "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired".
        self.error: str | None = None
        #: The short OpenSSL reason for the failure, e.g. "CERTIFICATE_VERIFY_FAILED".
        self.error_reason: str | None = None
        #: True once the peer's close_notify alert arrived (RFC 8446 §6.1).
        self.peer_closed = False
        #: True when the transport ended without a close_notify: the data may be truncated.
        self.truncated = False
        self.facts: TLSFacts | None = None
        self._keylog_callback: Callable[[str], None] | None = None
        self._keylog_file: str | os.PathLike[str] | None = None
        if keylog is not None:
            self._setup_keylog(context, keylog)
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._obj = context.wrap_bio(
            self._incoming, self._outgoing, server_side=server_side, server_hostname=server_hostname
        )
        self._plaintext = bytearray()
        self._pending = bytearray()
        self._hello = bytearray()  # a server's first bytes in, to read the client's SNI and random
        self.client_hello: ClientHelloInfo | None = None
        self._drained = bytearray()  # ciphertext already read from the BIO but not yet taken
        if not server_side:
            self._pump()
            self._drained += self._outgoing.read()
            self._note_hello(bytes(self._drained))

    # -- key log -------------------------------------------------------------------------

    def _setup_keylog(self, context: ssl.SSLContext, sink: KeyLogSink) -> None:
        current = context.keylog_filename
        if callable(sink):
            self._keylog_callback = sink
            if current is None:
                context.keylog_filename = str(_private_keylog_file())
            self._keylog_file = context.keylog_filename
            return
        if current is not None and os.fspath(current) != os.fspath(sink):
            raise LocalProtocolError(f"the context already logs keys to {current}")
        context.keylog_filename = os.fspath(sink)
        self._keylog_file = sink

    def keylog_lines(self) -> list[str]:
        """This connection's NSS key log lines (for a pcap viewer), once the ClientHello is known."""
        if self._keylog_file is None or self.client_hello is None:
            return []
        return keylog_lines_for(self._keylog_file, self.client_hello.random)

    # -- the byte stream -------------------------------------------------------------------

    def receive(self, data: bytes) -> None:
        """Feed ciphertext from the peer; b"" means the peer closed its side of the transport."""
        if self.state is TLSState.FAILED:
            return
        if self.state is TLSState.CLOSED and (self.peer_closed or self.facts is None):
            return  # nothing more can arrive, or the handshake was abandoned
        if data:
            if self.server_side and self.client_hello is None and len(self._hello) < _MAX_HELLO:
                self._hello += data
                self._note_hello(bytes(self._hello))
            self._incoming.write(data)
        else:
            self._incoming.write_eof()
        self._pump()

    receive_data = receive

    def send(self, plaintext: bytes) -> None:
        """Encrypt application data; before the handshake ends it waits and goes out right after."""
        if self.state in (TLSState.CLOSED, TLSState.FAILED):
            raise LocalProtocolError(f"cannot send on a TLS connection that is {self.state.value}")
        self._pending += plaintext
        self._pump()

    def take_outgoing(self) -> bytes:
        """Ciphertext for the wire: handshake records, encrypted data, alerts."""
        data = bytes(self._drained) + self._outgoing.read()
        self._drained.clear()
        return data

    def take_plaintext(self) -> bytes:
        """Application data decrypted so far (and not yet taken)."""
        data = bytes(self._plaintext)
        self._plaintext.clear()
        return data

    def close(self) -> None:
        """Send close_notify (RFC 8446 §6.1, RFC 5246 §7.2.1); no more data goes out after it."""
        if self.state is TLSState.ESTABLISHED:
            self._flush_pending()
            self._shutdown()
        if self.state is not TLSState.FAILED:
            self.state = TLSState.CLOSED

    # -- internals ---------------------------------------------------------------------

    def _note_hello(self, stream: bytes) -> None:
        if self.client_hello is None:
            self.client_hello = parse_client_hello(stream)
            if self.client_hello is not None:
                self._hello.clear()

    def _pump(self) -> None:
        if self.state is TLSState.HANDSHAKING:
            try:
                self._obj.do_handshake()
            except ssl.SSLWantReadError:
                return
            except ssl.SSLError as exc:
                self._fail(exc)
                return
            self._established()
        if self.state is TLSState.ESTABLISHED:
            self._flush_pending()
        if self.state in (TLSState.ESTABLISHED, TLSState.CLOSED):
            self._read_all()

    def _flush_pending(self) -> None:
        if not self._pending:
            return
        try:
            self._obj.write(bytes(self._pending))
        except ssl.SSLError as exc:
            self._fail(exc)
            return
        self._pending.clear()

    def _read_all(self) -> None:
        while True:
            try:
                chunk = self._obj.read(_READ_CHUNK)
            except ssl.SSLWantReadError:
                return
            except ssl.SSLZeroReturnError:
                chunk = b""  # close_notify after our own: OpenSSL reports it as an error
            except ssl.SSLEOFError:
                self.truncated = True
                self.state = TLSState.CLOSED
                return
            except ssl.SSLError as exc:
                self._fail(exc)
                return
            if not chunk:
                # The peer's close_notify (CPython returns b"" for it): answer with ours, which
                # RFC 5246 §7.2.1 requires and RFC 8446 §6.1 allows, and stop.
                self.peer_closed = True
                self._shutdown()
                self.state = TLSState.CLOSED
                return
            self._plaintext += chunk

    def _shutdown(self) -> None:
        try:
            self._obj.unwrap()
        except ssl.SSLWantReadError:
            pass  # our close_notify is out; the peer's has not arrived yet
        except ssl.SSLError:
            pass  # the transport is going anyway; nothing more to say on it

    def _established(self) -> None:
        self.state = TLSState.ESTABLISHED
        cipher = self._obj.cipher()
        peer = self._obj.getpeercert() if not self.server_side else None
        names: tuple[str, ...] = ()
        subject = issuer = ""
        if peer:
            subject = _format_name(peer.get("subject"))
            issuer = _format_name(peer.get("issuer"))
            san = peer.get("subjectAltName", ())
            if isinstance(san, tuple):
                names = tuple(f"{kind}:{value}" for kind, value in san)
        hello = self.client_hello
        if self.server_side:
            server_name = hello.server_name if hello is not None else None
        else:
            server_name = self._obj.server_hostname
        self.facts = TLSFacts(
            version=self._obj.version() or "",
            cipher=cipher[0] if cipher else "",
            cipher_bits=cipher[2] if cipher else 0,
            peer_subject=subject,
            peer_issuer=issuer,
            peer_names=names,
            server_name=server_name,
        )
        if self._keylog_callback is not None:
            for line in self.keylog_lines():
                self._keylog_callback(line)

    def _fail(self, exc: ssl.SSLError) -> None:
        self.state = TLSState.FAILED
        self.error = _ssl_error_text(exc)
        self.error_reason = exc.reason if isinstance(exc.reason, str) else type(exc).__name__
