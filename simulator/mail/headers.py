"""The header fields MTAs add to a message as it moves: trace fields and what a submission server fills in.

Every MTA that takes a message prepends a Received field (RFC 5321 §4.4), the final one a
Return-Path (RFC 5322 §3.6.7), so reading a message's header from the top down retraces its
path backwards. A submission server also completes a message its client left unfinished
(RFC 6409 §8). Everything here is deterministic: times are simulated seconds since `EPOCH`.

Folding never changes a character: a long line is broken by inserting CRLF before a space or
tab that is already there (RFC 5322 §2.2.3), so unfolding gives back exactly what was folded.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import lru_cache

EPOCH = datetime(2026, 11, 6, 9, 0, tzinfo=UTC)  # datetime.UTC is timezone.utc
"""The wall-clock instant of simulated second 0."""

MAX_LINE = 78
"""Header lines are folded to this many characters, CRLF excluded (RFC 5322 §2.1.1)."""

SOFTWARE = "smtpsim"
"""The name an MTA gives itself in the `by` clause, where Postfix writes "(Postfix)"."""

CRLF = b"\r\n"

# A header field starts with a name of printable ASCII but colon, then a colon (RFC 5322 §2.2).
# The header section as one pattern, so it is found in C rather than line by line: fields
# (a name, a colon, the rest of the line) each followed by any continuation lines (starting
# with a space or a tab), up to the first line that is neither (RFC 5322 §2.2, §3.2.2).
_HEADER_SECTION = re.compile(rb"(?:[\x21-\x39\x3b-\x7e]+:[^\n]*(?:\n|\Z)(?:[ \t][^\n]*(?:\n|\Z))*)*")


def sim_datetime(sim_seconds: float) -> datetime:
    """The UTC datetime of a simulated instant, so every header shows the same clock."""
    return EPOCH + timedelta(seconds=sim_seconds)


def rfc5322_date(sim_seconds: float) -> str:
    """A simulated instant as an RFC 5322 date-time, such as "Fri, 06 Nov 2026 09:00:00 +0000" (§3.3)."""
    return _date_of_second(int(sim_seconds))


@lru_cache(maxsize=256)
def _date_of_second(second: int) -> str:
    # The format shows whole seconds, and a busy server stamps many headers in one second.
    return format_datetime(sim_datetime(second))


def fold(line: str, width: int = MAX_LINE) -> list[str]:
    """One logical header line as physical lines of at most `width` characters where whitespace allows.

    A break goes before an existing space or tab, which then opens the continuation line
    (RFC 5322 §2.2.3). A word longer than the width stays whole: lines may reach 998 octets.
    """
    lines: list[str] = []
    rest = line
    while len(rest) > width:
        # The last whitespace at or before the width, not the one at position 0 which already
        # starts this continuation line; failing that, the first whitespace after it.
        cut = max(rest.rfind(" ", 1, width + 1), rest.rfind("\t", 1, width + 1))
        if cut <= 0:
            after = [i for i in (rest.find(" ", width + 1), rest.find("\t", width + 1)) if i > 0]
            if not after:
                break
            cut = min(after)
        lines.append(rest[:cut])
        rest = rest[cut:]
    lines.append(rest)
    return lines


def _field(lines: list[str]) -> bytes:
    """Physical header lines joined with CRLF, the field's terminating CRLF included."""
    return "".join(f"{line}\r\n" for line in lines).encode("utf-8")


def received(
    *,
    from_helo: str,
    from_host: str,
    from_ip: str,
    by_host: str,
    protocol: str,
    queue_id: str,
    recipient: str | None,
    sim_seconds: float,
    tls: str | None = None,
) -> bytes:
    """The Received field an MTA prepends on accepting a message, laid out as Postfix writes it.

    Each clause goes on its own line, continued with a tab (RFC 5321 §4.4, RFC 5322 §3.6.7):

        Received: from HELO (REVERSE-DNS-NAME [IP])
                (TLS-COMMENT)
                by HOST (smtpsim) with PROTOCOL id QUEUE-ID
                for <RECIPIENT>; DATE

    Args:
        from_helo: the name the client gave in EHLO/HELO; if empty, the reverse-DNS name stands in.
        from_host: the client's name from reverse DNS, "unknown" when there is none.
        from_ip: the client's address; an IPv6 address gets the "IPv6:" tag of RFC 5321 §4.1.3.
        by_host: the receiving MTA's own name.
        protocol: the WITH keyword (RFC 3848), see `Envelope.protocol`.
        queue_id: the receiving MTA's queue ID for the message.
        recipient: the one recipient, or None when the transaction had several: Postfix names a
            recipient only when there is exactly one, so as not to disclose Bcc addresses.
        sim_seconds: when the message was received.
        tls: a TLS comment including its parentheses, such as
            "(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))".
    """
    address = f"IPv6:{from_ip}" if ":" in from_ip and not from_ip.startswith("IPv6:") else from_ip
    clauses = [f"Received: from {from_helo or from_host} ({from_host} [{address}])"]
    if tls:
        clauses.append(f"\t{tls}")
    date = rfc5322_date(sim_seconds)
    by = f"\tby {by_host} ({SOFTWARE}) with {protocol} id {queue_id}"
    if recipient is not None:
        clauses += [by, f"\tfor <{recipient}>; {date}"]
    else:
        clauses += [f"{by};", f"\t{date}"]
    return _field([line for clause in clauses for line in fold(clause)])


def return_path(sender: str) -> bytes:
    """The Return-Path field the delivering MTA adds, keeping the envelope sender (RFC 5321 §4.4).

    The null sender of a bounce gives `Return-Path: <>`. Angle brackets around `sender` are optional.
    """
    mailbox = sender[1:-1] if sender.startswith("<") and sender.endswith(">") else sender
    return _field(fold(f"Return-Path: <{mailbox}>"))


def crlf_line_ends(content: bytes) -> bytes:
    """Every line end as CRLF: a bare CR or LF becomes CRLF, since neither may cross SMTP (RFC 5321 §2.3.8)."""
    if content.count(b"\n") == content.count(b"\r\n") == content.count(b"\r"):
        return content  # already so: the usual case costs three counts, no copy
    return content.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")


def prepend(headers: bytes, message: bytes) -> bytes:
    """`message` with complete header fields put on top, as each MTA adds its trace (RFC 5321 §4.4)."""
    if headers and not headers.endswith(CRLF):
        raise ValueError("header fields to prepend must end with CRLF")
    return headers + message


def split_header_section(message: bytes) -> tuple[bytes, bytes]:
    """A message cut into its header section and the rest (RFC 5322 §2.1).

    The header section keeps the CRLF ending its last field. The rest starts with the empty
    line that separates header and body, or, when that line is missing, is the whole body:
    the header section then ends at the first line that is neither a field nor a continuation.
    """
    found = _HEADER_SECTION.match(message)
    pos = found.end() if found else 0
    return message[:pos], message[pos:]


def header_values(message: bytes, name: str) -> list[str]:
    """Every value of the header field `name` (any case), unfolded and stripped, in order of appearance.

    Values are decoded as UTF-8 (RFC 6532), undecodable bytes replaced; RFC 2047 encoded words
    are left as they are, since these are the raw values a learner sees on the wire.
    """
    section, _ = split_header_section(message)
    wanted = name.lower().encode("ascii")
    values: list[str] = []
    current: bytes | None = None
    for line in section.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current += line
            continue
        if current is not None:
            values.append(_unfold(current))
        field_name, _, value = line.partition(b":")
        current = value if field_name.lower() == wanted else None
    if current is not None:
        values.append(_unfold(current))
    return values


def _unfold(value: bytes) -> str:
    """A raw field value with its line breaks removed (RFC 5322 §2.2.3) and outer whitespace stripped."""
    return value.replace(b"\r\n", b"").replace(b"\n", b"").strip(b" \t").decode("utf-8", "replace")


def message_id_of(message: bytes) -> str:
    """The message's Message-ID, by which the simulator follows it hop by hop ("" if it has none)."""
    values = header_values(message, "Message-ID")
    return values[0].strip() if values else ""


def message_id(sim_seconds: float, unique: str, host: str) -> str:
    """A Message-ID in Postfix's shape, `<YYYYMMDDhhmmss.UNIQUE@host>`: unique while `unique` is (RFC 5322 §3.6.4)."""
    return f"<{sim_datetime(sim_seconds):%Y%m%d%H%M%S}.{unique}@{host}>"


def add_missing(message: bytes, *, sender: str, sim_seconds: float, host: str, counter: int) -> bytes:
    """The message with the fields a submission server adds when its client left them out (RFC 6409 §8).

    Date (§8.2) and Message-ID (§8.3) are added when absent, and From, which RFC 5322 §3.6
    requires, is set to the envelope sender when absent, as Postfix does. Fields already
    present are left alone. The new fields go at the end of the header section, where
    Postfix's cleanup puts them; a message with no header/body separator gets one.

    Args:
        message: the content as the client sent it.
        sender: the envelope sender; no From is added for the null sender.
        sim_seconds: the submission time, for Date and the Message-ID.
        host: the submission server's name, the right-hand side of the Message-ID.
        counter: a number unique per message on this host, which makes the Message-ID unique.
    """
    section, rest = split_header_section(message)
    present = {
        line.partition(b":")[0].strip().lower() for line in section.splitlines() if line[:1] not in (b" ", b"\t")
    }
    added: list[bytes] = []
    if b"date" not in present:
        added.append(_field(fold(f"Date: {rfc5322_date(sim_seconds)}")))
    if b"message-id" not in present:
        added.append(_field(fold(f"Message-ID: {message_id(sim_seconds, str(counter), host)}")))
    if b"from" not in present and sender:
        added.append(_field(fold(f"From: {sender}")))
    if not added:
        return message
    if section and not section.endswith(b"\n"):
        section += CRLF
    if not rest.startswith((b"\r\n", b"\n")):
        rest = CRLF + rest
    return section + b"".join(added) + rest
