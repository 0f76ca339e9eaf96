"""POP3 responses: the response type, and every response our server sends.

A POP3 response is a status indicator ("+OK" or "-ERR", RFC 1939 §3), optional
text and, for LIST, UIDL, RETR, TOP and CAPA, a multi-line body ended by a lone
dot. The texts follow Dovecot's, so a learner who later reads a real mail log
recognises them. Each response also carries a learner's explanation and the RFC
section it comes from; responses parsed off the wire get theirs from `describe`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from enum import StrEnum

from simulator.protocol.values import Value


class Status(StrEnum):
    """The status indicator that opens every response line (RFC 1939 §3, RFC 5034 §4)."""

    OK = "+OK"
    ERR = "-ERR"
    CONTINUE = "+"  # a SASL challenge: "+ base64"


@dataclass(frozen=True)
class Response(Value):
    """One POP3 response.

    Attributes:
        status: +OK, -ERR, or the "+" of a SASL challenge.
        text: what follows the status on the first line, response code included ("[IN-USE] ...").
        body: for a multi-line response, its content as CRLF-ended lines, not yet dot-stuffed;
            None for a single-line response.
        explain: what this response means, for a learner.
        rfc: where the behaviour is specified.
    """

    status: Status
    text: str = ""
    body: bytes | None = field(default=None, repr=False)
    explain: str = field(default="", compare=False)
    rfc: str = field(default="", compare=False)

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def multiline(self) -> bool:
        return self.body is not None

    @property
    def code(self) -> str | None:
        """The RFC 2449 §8 response code in brackets, such as "IN-USE" or "SYS/TEMP", if any."""
        if self.status is Status.ERR and self.text.startswith("["):
            end = self.text.find("]")
            if end > 1:
                return self.text[1:end].upper()
        return None

    @property
    def body_lines(self) -> list[bytes]:
        """The body split into lines without their CRLF (empty for a single-line response)."""
        if not self.body:
            return []
        return self.body[:-2].split(b"\r\n") if self.body.endswith(b"\r\n") else self.body.split(b"\r\n")

    def first_line(self) -> str:
        # RFC 5034 §4: a challenge is "+" SP [base64], the space kept even when empty.
        if self.text or self.status is Status.CONTINUE:
            return f"{self.status.value} {self.text}"
        return self.status.value

    def annotated(self) -> Response:
        """The same response with a learner's explanation filled in where it has none."""
        if self.explain and self.rfc:
            return self
        explain, rfc = describe(self)
        return Response(self.status, self.text, self.body, self.explain or explain, self.rfc or rfc)


# --- what a response means, for responses we did not write -------------------------

_BY_CODE: dict[str, tuple[str, str]] = {
    "LOGIN-DELAY": ("Logging in again so soon is not allowed; wait before the next login.", "RFC 2449 §8.1.1"),
    "IN-USE": ("The maildrop is locked by another POP3 session; try again once it ends.", "RFC 2449 §8.1.2"),
    "SYS/TEMP": ("A temporary problem on the server, not the user's fault; retry later.", "RFC 3206 §4"),
    "SYS/PERM": ("A permanent problem on the server; retrying will not help.", "RFC 3206 §4"),
    "AUTH": ("The credentials were refused (wrong user name or password).", "RFC 3206 §5"),
}


def describe(response: Response) -> tuple[str, str]:
    """Explain a response from its status and response code.

    Returns:
        (explanation, rfc reference)
    """
    code = response.code
    if code is not None and code in _BY_CODE:
        return _BY_CODE[code]
    if response.status is Status.CONTINUE:
        return "A SASL challenge: the client answers with one base64 line.", "RFC 5034 §4"
    if response.status is Status.OK:
        if response.multiline:
            return "Success; the lines that follow end with a line holding only a dot.", "RFC 1939 §3"
        return "Success.", "RFC 1939 §3"
    return "The command failed; the session goes on unless the server closes it.", "RFC 1939 §3"


def _ok(text: str, explain: str, rfc: str, body: bytes | None = None) -> Response:
    return Response(Status.OK, text, body, explain, rfc)


def _err(text: str, explain: str, rfc: str) -> Response:
    return Response(Status.ERR, text, None, explain, rfc)


def _lines(lines: list[str]) -> bytes:
    return "".join(line + "\r\n" for line in lines).encode("utf-8")


# --- responses our server sends ----------------------------------------------------
# Fixed responses are constants; responses that name a host, a number or a list are
# small functions. Keeping them all here is what makes the Dovecot texts checkable.

_AUTHZ = "RFC 1939 §4"
_TRANS = "RFC 1939 §5"

USER_OK = _ok("", "The user name is noted; the password must follow with PASS.", "RFC 1939 §7 (USER)")
LOGGED_IN = _ok(
    "Logged in.",
    "The credentials are good and the maildrop is locked for this session: TRANSACTION state.",
    "RFC 1939 §4, §7",
)
AUTH_FAILED = _err(
    "[AUTH] Authentication failed.",
    "Wrong user name or password. The session stays in AUTHORIZATION and may try again.",
    "RFC 1939 §7, RFC 3206 §5",
)
IN_USE = _err(
    "[IN-USE] Mailbox is locked by another POP3 session.",
    "Another session holds this maildrop's lock; POP3 allows only one at a time, so retry later.",
    "RFC 1939 §8, RFC 2449 §8.1.2",
)
NO_USERNAME = _err(
    "No username given.",
    "PASS must come right after a successful USER command.",
    "RFC 1939 §7 (PASS)",
)
PLAINTEXT_DISALLOWED = _err(
    "[AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.",
    "This server refuses clear-text passwords before STLS, so an eavesdropper cannot read them.",
    "RFC 2595 §2.3",
)
APOP_DISABLED = _err(
    "APOP authentication is not enabled.",
    "The greeting carried no timestamp, so there is nothing to compute an APOP digest from.",
    "RFC 1939 §7 (APOP)",
)
AUTH_TEMPORARY = _err(
    "[SYS/TEMP] Temporary authentication failure.",
    "The server could not check the credentials just now (its user database is unreachable); try again later.",
    "RFC 3206 §4, RFC 5034 §4",
)
AUTH_ABORTED = _err(
    "Authentication aborted by client.",
    "The client answered the challenge with '*', which cancels the exchange.",
    "RFC 5034 §4",
)
AUTH_BAD_BASE64 = _err(
    "Invalid base64 data in continued response.",
    "A SASL response must be valid base64.",
    "RFC 5034 §4",
)
AUTH_UNKNOWN_MECHANISM = _err(
    "Unsupported authentication mechanism.",
    "The server does not offer that SASL mechanism; see the SASL line of CAPA.",
    "RFC 5034 §4",
)
AUTH_MALFORMED = _err(
    "[AUTH] Authentication failed.",
    "The response decodes, but does not fit the mechanism's format.",
    "RFC 5034 §4, RFC 4616 §2",
)
TLS_BEGIN = _ok(
    "Begin TLS negotiation now.",
    "Both sides now run the TLS handshake; everything said before it is forgotten.",
    "RFC 2595 §4",
)
TLS_ALREADY = _err("TLS is already active.", "The connection is already encrypted.", "RFC 2595 §4")
TLS_UNAVAILABLE = _err(
    "TLS support isn't enabled.", "This server cannot run TLS, so STLS is not offered.", "RFC 2595 §4"
)
DELETED_MARK = _ok(
    "Marked to be deleted.",
    "The message is only marked: it is removed when QUIT ends the session (UPDATE state).",
    "RFC 1939 §5 (DELE), §6",
)
RSET_OK = _ok("", "Every deletion mark of this session is removed.", "RFC 1939 §5 (RSET)")
NOOP_OK = _ok("", "NOOP does nothing except get this answer.", "RFC 1939 §5 (NOOP)")
TOP_OK = _ok(
    "",
    "The header, the blank line and the first lines of the body follow, dot-stuffed, then a lone dot.",
    "RFC 1939 §7 (TOP)",
)
LOGOUT = _ok("Logging out.", "The server closes the connection; nothing is deleted.", "RFC 1939 §4, §6 (QUIT)")
LOGOUT_DELETED = _ok(
    "Logging out, messages deleted.",
    "UPDATE state: the messages marked with DELE are now removed, then the connection closes.",
    "RFC 1939 §6 (QUIT)",
)
IDLE_TIMEOUT = _err(
    "Disconnected for inactivity.",
    "The client said nothing for 10 minutes: the server closes the session. Nothing marked is deleted.",
    "RFC 1939 §3",
)
NOT_ALL_REMOVED = _err(
    "Some deleted messages not removed.",
    "UPDATE state, but some messages marked with DELE could not be removed: another session (an IMAP "
    "client, say) had already expunged them. The rest are gone and the connection closes.",
    "RFC 1939 §6 (QUIT)",
)
NO_SUCH_MESSAGE = _err(
    "No such message.",
    "Message numbers run from 1 to the count given by STAT, fixed at login.",
    "RFC 1939 §5",
)
MESSAGE_DELETED = _err(
    "Message is deleted.",
    "This message is marked for deletion; it can no longer be listed or read (RSET unmarks it).",
    "RFC 1939 §5",
)
NOISE = _err("Noise after command arguments.", "The command has more arguments than it takes.", "RFC 1939 §3")
LINE_TOO_LONG = _err(
    "Input line too long.",
    "A command line may be at most 255 octets, CRLF included.",
    "RFC 2449 §4",
)
TOO_MANY_BAD_COMMANDS = _err(
    "Too many bad commands.",
    "The client keeps sending commands the server cannot accept, so the server hangs up.",
    "RFC 1939 §3",
)


def greeting(hostname: str, timestamp: str | None = None) -> Response:
    """The banner; with APOP it ends with the timestamp the digest is computed from (RFC 1939 §7)."""
    if timestamp:
        return _ok(
            f"{hostname} ready. {timestamp}",
            "The server is ready: AUTHORIZATION state. The <...> timestamp is what APOP hashes with the secret.",
            "RFC 1939 §4, §7 (APOP)",
        )
    return _ok(f"{hostname} ready.", "The server is ready: AUTHORIZATION state begins.", "RFC 1939 §4")


def apop_timestamp(process_id: int, clock: int, hostname: str) -> str:
    """The RFC 1939 §7 banner timestamp, `<process-ID.clock@hostname>`, unique per greeting."""
    return f"<{process_id}.{clock}@{hostname}>"


def capabilities(names: list[str]) -> Response:
    return _ok(
        "",
        "The capabilities on offer in this state, one per line; they may change after STLS or login.",
        "RFC 2449 §5",
        _lines(names),
    )


def mechanisms(names: list[str]) -> Response:
    """AUTH with no argument: list the SASL mechanisms, as Dovecot and RFC 1734 servers do."""
    return _ok("", "The SASL mechanisms this server offers, one per line.", "RFC 1734 §2, RFC 5034 §4", _lines(names))


def auth_challenge(data: bytes) -> Response:
    text = base64.b64encode(data).decode("ascii")
    return Response(
        Status.CONTINUE,
        text,
        None,
        "A SASL challenge, base64-encoded: the client answers with one base64 line, or '*' to cancel.",
        "RFC 5034 §4",
    )


def stat(count: int, size: int) -> Response:
    return _ok(
        f"{count} {size}",
        "The drop listing: how many messages (not counting deleted ones) and their total size in octets.",
        "RFC 1939 §5 (STAT)",
    )


def scan_list(entries: list[tuple[int, int]]) -> Response:
    return _ok(
        f"{len(entries)} messages:",
        "A scan listing per message: its number and its exact size in octets.",
        "RFC 1939 §5 (LIST)",
        _lines([f"{number} {size}" for number, size in entries]),
    )


def scan_line(number: int, size: int) -> Response:
    return _ok(f"{number} {size}", "The message's number and its exact size in octets.", "RFC 1939 §5 (LIST)")


def uid_list(entries: list[tuple[int, str]]) -> Response:
    return _ok(
        "",
        "Each message's unique-id: it never changes, so a client can tell which messages it already has.",
        "RFC 1939 §7 (UIDL)",
        _lines([f"{number} {uid}" for number, uid in entries]),
    )


def uid_line(number: int, uid: str) -> Response:
    return _ok(f"{number} {uid}", "The message's number and its unique-id.", "RFC 1939 §7 (UIDL)")


def message(size: int, content: bytes) -> Response:
    return _ok(
        f"{size} octets",
        "The whole message follows, dot-stuffed, then a line holding only a dot.",
        "RFC 1939 §5 (RETR), §3",
        content,
    )


def top(content: bytes) -> Response:
    return Response(Status.OK, TOP_OK.text, content, TOP_OK.explain, TOP_OK.rfc)


def unknown_command(verb: str) -> Response:
    return _err(f"Unknown command: {verb}", "Not a POP3 command this server knows.", "RFC 1939 §3")


def wrong_state(verb: str, logged_in: bool) -> Response:
    """A known command in the wrong state; Dovecot answers as if it did not know it there."""
    if logged_in:
        explain = "This command belongs to the AUTHORIZATION state; the session is already logged in."
        return _err(f"Unknown command: {verb}", explain, _TRANS)
    explain = "This command belongs to the TRANSACTION state: log in first (USER/PASS, APOP or AUTH)."
    return _err(f"Unknown command: {verb}", explain, _AUTHZ)


def invalid_number(argument: str) -> Response:
    return _err(
        f"Invalid message number: {argument}",
        "A message number is a positive decimal number.",
        "RFC 1939 §3, §5",
    )


def invalid_lines(argument: str) -> Response:
    return _err(
        f"Invalid number of lines: {argument}",
        "TOP takes a message number and a non-negative number of body lines.",
        "RFC 1939 §7 (TOP)",
    )


def missing_argument(usage: str) -> Response:
    return _err(f"Missing argument. Usage: {usage}", "This command needs an argument.", "RFC 1939 §3")


# What a +OK means in answer to each command, for responses read off the wire by our client.
_OK_BY_VERB: dict[str, Response] = {
    "CAPA": capabilities([]),
    "USER": USER_OK,
    "PASS": LOGGED_IN,
    "APOP": LOGGED_IN,
    "AUTH": LOGGED_IN,
    "SASL": LOGGED_IN,
    "STLS": TLS_BEGIN,
    "STAT": stat(0, 0),
    "LIST": scan_list([]),
    "UIDL": uid_list([]),
    "RETR": message(0, b""),
    "TOP": TOP_OK,
    "DELE": DELETED_MARK,
    "RSET": RSET_OK,
    "NOOP": NOOP_OK,
    "QUIT": LOGOUT,
}


def explained_for(response: Response, verb: str) -> Response:
    """The response with the explanation of what +OK means for this command (`verb`), if known."""
    model = _OK_BY_VERB.get(verb) if response.status is Status.OK else None
    if model is None:
        return response.annotated()
    return Response(response.status, response.text, response.body, model.explain, model.rfc)
