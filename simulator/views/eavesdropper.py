"""What an eavesdropper on a link saw, as a learner should read it.

A passive observer (simulator.net.observers.Tap) keeps the bytes exactly as they
crossed the link. This view shows them the way a packet analyser would: clear-text
protocol lines as they are (before STARTTLS everything is readable, passwords too,
and base64 is no protection, so the view decodes SASL responses to show it), and
after STARTTLS only the TLS records' headers: content type, record version and
length, with the opaque ciphertext behind them. The ClientHello is the exception:
it travels in clear, and it names the server the client wants (SNI).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

from simulator.protocol.tls import RecordInfo, parse_client_hello, records

CIPHERTEXT_SHOWN = 16  # octets of each record shown in hex: enough to see that it is noise
_RECORD_HEADER = 5
# Where a client's next line is a SASL response: SMTP's 334 (RFC 4954 §4), POP3's and IMAP's "+ ".
_CHALLENGE_PREFIXES = (b"334 ", b"334\r", b"+ ", b"+\r")
# Commands that carry a SASL initial response after the mechanism name (RFC 4954 §4, RFC 5034 §4, RFC 4959).
_INITIAL_RESPONSE_VERBS = (b"AUTH", b"AUTHENTICATE")


class Observed(Protocol):
    """One write as the observer saw it (simulator.net.observers.Observed has these fields)."""

    @property
    def time(self) -> float: ...
    @property
    def src(self) -> str: ...
    @property
    def dst(self) -> str: ...
    @property
    def side(self) -> str: ...
    @property
    def conn(self) -> int | None: ...
    @property
    def port(self) -> int: ...
    @property
    def protocol(self) -> str: ...
    @property
    def data(self) -> bytes: ...


@runtime_checkable
class Observer(Protocol):
    """An eavesdropper on a link and what it kept (`Simulation.observers` gives them)."""

    @property
    def name(self) -> str: ...
    @property
    def between(self) -> frozenset[str]: ...
    @property
    def seen(self) -> Sequence[Observed]: ...


def render_observed(tap: Observer | Iterable[Observed], *, width: int = 100) -> str:
    """Every write the observer saw, one block per write, readable where the wire is readable."""
    seen = list(tap.seen) if isinstance(tap, Observer) else list(tap)
    title = f"What {tap.name} saw on the link {' <-> '.join(sorted(tap.between))}" if isinstance(tap, Observer) else ""
    out = [title, "=" * len(title)] if title else []
    challenged: set[int | None] = set()  # connections whose server just asked for a SASL response
    for observed in seen:
        # The client on the left, as in a transcript: "->" it speaks, "<-" the server answers.
        pair = f"{observed.src} -> {observed.dst}" if observed.side == "client" else f"{observed.dst} <- {observed.src}"
        where = f"conn {observed.conn}, port {observed.port}" if observed.conn is not None else "UDP"
        out.append(f"{observed.time:8.3f}s {pair} ({observed.protocol}, {where})")
        if observed.conn is None:
            out.append(f"    {len(observed.data)} octets of {observed.protocol} in clear text")
            continue
        tls = records(observed.data)
        if tls and _covers(tls, observed.data):
            out.extend(_tls_lines(observed.data))
            continue
        for line in observed.data.split(b"\n"):
            if not line:
                continue
            text = line.rstrip(b"\r")
            out.append("    | " + text.decode("utf-8", "replace")[: width - 6])
            secret = _sasl_secret(text, observed.conn in challenged and observed.side == "client")
            if secret:
                out.append(f"    !   {secret}")
        if observed.side == "server":
            last = observed.data.rstrip(b"\r\n").rsplit(b"\n", 1)[-1] + b"\r"
            if last.startswith(_CHALLENGE_PREFIXES):
                challenged.add(observed.conn)
            else:
                challenged.discard(observed.conn)
    return "\n".join(out) + "\n"


def _covers(tls: list[RecordInfo], data: bytes) -> bool:
    """Whether the write is TLS records from its first byte (plain text never starts like a record header)."""
    return bool(tls) and data[:1] in (b"\x14", b"\x15", b"\x16", b"\x17")


def _tls_lines(data: bytes) -> list[str]:
    out: list[str] = []
    pos = 0
    for record in records(data):
        body = data[pos + _RECORD_HEADER : pos + _RECORD_HEADER + record.length]
        pos += _RECORD_HEADER + record.length
        line = f"    [TLS record] {record.type_name}, {record.version_name}, {record.length} octets"
        hello = parse_client_hello(data[pos - _RECORD_HEADER - record.length :]) if record.content_type == 22 else None
        if hello is not None and hello.server_name:
            line += f": ClientHello in clear, server name {hello.server_name}"
        else:
            line += f": {body[:CIPHERTEXT_SHOWN].hex(' ')}{' ...' if len(body) > CIPHERTEXT_SHOWN else ''}"
        out.append(line)
    if pos < len(data):
        out.append(f"    [TLS] {len(data) - pos} more octets (a record continues in the next segment)")
    return out


def _sasl_secret(line: bytes, after_challenge: bool) -> str:
    """What a SASL response in base64 says, for the learner: base64 is an encoding, not encryption."""
    words = line.split()
    candidate = b""
    if len(words) == 3 and words[0].upper() in _INITIAL_RESPONSE_VERBS:
        candidate = words[2]  # AUTH PLAIN <response>
    elif len(words) == 4 and words[1].upper() == b"AUTHENTICATE":
        candidate = words[3]  # IMAP: tag AUTHENTICATE PLAIN <response> (RFC 4959)
    elif after_challenge and len(words) == 1:
        candidate = words[0]
    if not candidate or candidate == b"=":
        return ""
    try:
        decoded = base64.b64decode(candidate, validate=True)
    except (binascii.Error, ValueError):
        return ""
    if not decoded or not all(32 <= b < 127 or b == 0 for b in decoded):
        return ""
    shown = decoded.decode("ascii").replace("\0", "\\0")
    parts = decoded.split(b"\0")
    if len(parts) == 3:  # PLAIN: authzid NUL authcid NUL password (RFC 4616 §2)
        return f'base64 of "{shown}": user {parts[1].decode()}, password {parts[2].decode()}'
    return f'base64 of "{shown}"'
