"""SMTP replies: the reply type, named reply codes, and every reply our server sends.

Texts follow what Postfix sends, so a learner who later reads a real mail log
recognises them. Each reply also carries a one-line explanation for learners and
the RFC section it comes from; replies parsed off the wire from other servers get
theirs from the code and enhanced status code (`describe`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from enum import IntEnum

from simulator.protocol.values import Value


class Code(IntEnum):
    """The reply codes of RFC 5321 §4.2.3 and its extensions, by name."""

    S211_SYSTEM_STATUS = 211
    S214_HELP = 214
    S220_READY = 220
    S221_CLOSING = 221
    S235_AUTH_OK = 235
    S250_OK = 250
    S251_USER_NOT_LOCAL = 251
    S252_CANNOT_VRFY = 252
    S334_AUTH_CHALLENGE = 334
    S354_START_INPUT = 354
    S421_UNAVAILABLE = 421
    S450_MAILBOX_BUSY = 450
    S451_LOCAL_ERROR = 451
    S452_INSUFFICIENT_STORAGE = 452
    S454_TEMP_AUTH_FAILURE = 454
    S500_SYNTAX = 500
    S501_ARGUMENT_SYNTAX = 501
    S502_NOT_IMPLEMENTED = 502
    S503_BAD_SEQUENCE = 503
    S504_PARAMETER_NOT_IMPLEMENTED = 504
    S521_NO_MAIL = 521
    S530_AUTH_REQUIRED = 530
    S535_AUTH_INVALID = 535
    S538_ENCRYPTION_REQUIRED = 538
    S550_MAILBOX_UNAVAILABLE = 550
    S551_USER_NOT_LOCAL = 551
    S552_STORAGE_EXCEEDED = 552
    S553_MAILBOX_NAME = 553
    S554_TRANSACTION_FAILED = 554
    S555_PARAMETERS = 555


@dataclass(frozen=True)
class Reply(Value):
    """One SMTP reply: a code, an optional enhanced status code and one or more text lines.

    Attributes:
        code: the three-digit reply code (RFC 5321 §4.2).
        enhanced: the RFC 3463 status code such as "2.1.0", or None.
        lines: the text of each line, without code or enhanced code.
        explain: what this reply means, for a learner.
        rfc: where the behaviour is specified.
    """

    code: int
    enhanced: str | None
    lines: tuple[str, ...] = ("",)
    explain: str = field(default="", compare=False)
    rfc: str = field(default="", compare=False)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def positive(self) -> bool:
        """2xx or 3xx: the command was accepted (RFC 5321 §4.2.1)."""
        return self.code < 400

    @property
    def transient(self) -> bool:
        """4xx: try again later."""
        return 400 <= self.code < 500

    @property
    def permanent(self) -> bool:
        """5xx: do not repeat the same request."""
        return self.code >= 500

    def first_line(self) -> str:
        parts = [str(self.code)]
        if self.enhanced:
            parts.append(self.enhanced)
        if self.lines[0]:
            parts.append(self.lines[0])
        return " ".join(parts)

    def annotated(self) -> Reply:
        """The same reply with a learner's explanation filled in where it has none."""
        if self.explain and self.rfc:
            return self
        explain, rfc = describe(self.code, self.enhanced)
        return Reply(self.code, self.enhanced, self.lines, self.explain or explain, self.rfc or rfc)


def _reply(code: Code, enhanced: str | None, text: str, explain: str, rfc: str) -> Reply:
    return Reply(int(code), enhanced, tuple(text.split("\n")), explain, rfc)


# --- what a reply code means, for replies we did not write ------------------------

_BY_CODE: dict[int, tuple[str, str]] = {
    211: ("System status or help reply.", "RFC 5321 §4.2.3"),
    214: ("Help message for a human reader.", "RFC 5321 §4.2.3"),
    220: ("The server is ready: the session may begin.", "RFC 5321 §4.2.3, §3.1"),
    221: ("The server is closing the connection.", "RFC 5321 §4.2.3, §4.1.1.10"),
    235: ("Authentication succeeded.", "RFC 4954 §6"),
    250: ("Requested action okay, completed.", "RFC 5321 §4.2.3"),
    251: ("User not local; the server will forward the message.", "RFC 5321 §3.4"),
    252: ("The server cannot verify the user but will accept mail for it.", "RFC 5321 §3.5.3"),
    334: ("A SASL challenge: the client answers with one base64 line.", "RFC 4954 §4"),
    354: ("Go ahead: send the message, end it with a line holding only a dot.", "RFC 5321 §4.2.2, §4.1.1.4"),
    421: ("Service not available: the server is closing the connection; try again later.", "RFC 5321 §3.8"),
    450: ("Mailbox unavailable for now (busy, or a policy such as greylisting); retry later.", "RFC 5321 §4.2.3"),
    451: ("Local error in processing; the client should retry later.", "RFC 5321 §4.2.3"),
    452: ("Insufficient system storage, or too many recipients; retry later.", "RFC 5321 §4.5.3.1.10"),
    454: ("Temporary authentication failure.", "RFC 4954 §6"),
    500: ("Syntax error: the command was not understood.", "RFC 5321 §4.2.3"),
    501: ("Syntax error in the command's parameters or arguments.", "RFC 5321 §4.2.3"),
    502: ("Command not implemented by this server.", "RFC 5321 §4.2.4"),
    503: ("Bad sequence of commands: that command is not allowed at this point.", "RFC 5321 §4.3.2"),
    504: ("Command parameter not implemented.", "RFC 5321 §4.2.3"),
    521: ("This host does not accept mail.", "RFC 7504 §2"),
    530: ("Authentication (or TLS) is required first.", "RFC 4954 §6"),
    535: ("Authentication credentials invalid.", "RFC 4954 §6"),
    538: ("Encryption required for the requested authentication mechanism.", "RFC 4954 §6"),
    550: ("Mailbox unavailable: the request was refused for good.", "RFC 5321 §4.2.3"),
    551: ("User not local.", "RFC 5321 §3.4"),
    552: ("Exceeded storage allocation: the message is too big.", "RFC 5321 §4.2.3, RFC 1870"),
    553: ("Mailbox name not allowed.", "RFC 5321 §4.2.3"),
    554: ("Transaction failed, or no SMTP service here.", "RFC 5321 §4.2.3"),
    555: ("MAIL or RCPT parameters not recognised or not implemented.", "RFC 5321 §4.2.3"),
}

_BY_CLASS = {
    2: ("Success.", "RFC 5321 §4.2.1"),
    3: ("Intermediate: the server waits for more.", "RFC 5321 §4.2.1"),
    4: ("Transient failure: the same request may succeed later.", "RFC 5321 §4.2.1"),
    5: ("Permanent failure: do not repeat the same request.", "RFC 5321 §4.2.1"),
}

# RFC 3463 subjects and details, for the enhanced status codes a learner meets most.
_ENHANCED: dict[str, str] = {
    "X.0.0": "other or undefined status",
    "X.1.0": "other address status",
    "X.1.1": "bad destination mailbox (no such user)",
    "X.1.2": "bad destination system",
    "X.1.3": "bad destination mailbox address syntax",
    "X.1.5": "destination address valid",
    "X.1.6": "destination mailbox has moved",
    "X.1.7": "bad sender mailbox address syntax",
    "X.1.8": "bad sender's system address",
    "X.2.0": "other or undefined mailbox status",
    "X.2.1": "mailbox disabled, not accepting messages",
    "X.2.2": "mailbox full",
    "X.3.0": "other or undefined mail system status",
    "X.3.4": "message too big for system",
    "X.4.0": "other or undefined network or routing status",
    "X.4.1": "no answer from host",
    "X.4.2": "bad connection",
    "X.4.7": "delivery time expired",
    "X.5.0": "other or undefined protocol status",
    "X.5.1": "invalid command",
    "X.5.2": "syntax error",
    "X.5.3": "too many recipients",
    "X.5.4": "invalid command arguments",
    "X.6.0": "other or undefined media error",
    "X.6.7": "non-ASCII address not permitted without SMTPUTF8",
    "X.7.0": "other or undefined security status",
    "X.7.1": "delivery not authorised, message refused",
    "X.7.8": "authentication credentials invalid",
    "X.7.11": "encryption required",
}


def describe(code: int, enhanced: str | None = None) -> tuple[str, str]:
    """Explain a reply from its code and enhanced status code.

    Returns:
        (explanation, rfc reference)
    """
    explain, rfc = _BY_CODE.get(code) or _BY_CLASS.get(code // 100, ("Not a valid SMTP reply code.", "RFC 5321 §4.2"))
    if enhanced:
        detail = _ENHANCED.get("X." + enhanced.split(".", 1)[-1])
        if detail:
            explain = f"{explain} Status {enhanced}: {detail}."
            rfc = f"{rfc}; RFC 3463"
    return explain, rfc


# --- replies our server sends ---------------------------------------------------
# Fixed replies are constants; replies that name a host, an address or a number are
# small functions. Keeping them all here is what makes the Postfix texts checkable.

_SEQ = "RFC 5321 §4.1.4, §4.3.2"

OK = _reply(Code.S250_OK, "2.0.0", "Ok", "Done.", "RFC 5321 §4.2.3")
SENDER_OK = _reply(
    Code.S250_OK, "2.1.0", "Ok", "The sender (reverse-path) is accepted; now name the recipients.", "RFC 5321 §4.1.1.2"
)
RECIPIENT_OK = _reply(
    Code.S250_OK, "2.1.5", "Ok", "This recipient is accepted; add more, or send DATA.", "RFC 5321 §4.1.1.3"
)
RSET_OK = _reply(
    Code.S250_OK,
    "2.0.0",
    "Ok",
    "The transaction is abandoned: sender, recipients and data are forgotten.",
    "RFC 5321 §4.1.1.5",
)
NOOP_OK = _reply(Code.S250_OK, "2.0.0", "Ok", "NOOP does nothing except get this reply.", "RFC 5321 §4.1.1.9")
START_DATA = _reply(
    Code.S354_START_INPUT,
    None,
    "End data with <CR><LF>.<CR><LF>",
    "Go ahead: send the message, end it with a line holding only a dot.",
    "RFC 5321 §4.2.2, §4.1.1.4",
)
BYE = _reply(
    Code.S221_CLOSING, "2.0.0", "Bye", "The server says goodbye and closes the connection.", "RFC 5321 §4.1.1.10"
)
READY_TLS = _reply(
    Code.S220_READY,
    "2.0.0",
    "Ready to start TLS",
    "Both sides now start the TLS handshake; everything said before it is forgotten.",
    "RFC 3207 §4, §4.2",
)
AUTH_OK = _reply(
    Code.S235_AUTH_OK,
    "2.7.0",
    "Authentication successful",
    "The credentials are good: this session is now authenticated.",
    "RFC 4954 §6",
)
AUTH_FAILED = _reply(
    Code.S535_AUTH_INVALID,
    "5.7.8",
    "Error: authentication failed: authentication failure",
    "Wrong user name or password.",
    "RFC 4954 §6",
)
AUTH_TEMPORARY = _reply(
    Code.S454_TEMP_AUTH_FAILURE,
    "4.7.0",
    "Temporary authentication failure",
    "The server could not check the credentials just now (its user database is unreachable); try again later.",
    "RFC 4954 §6",
)
AUTH_ENCRYPTION_REQUIRED = _reply(
    Code.S538_ENCRYPTION_REQUIRED,
    "5.7.11",
    "Encryption required for requested authentication mechanism",
    "This server's policy accepts that mechanism only over an encrypted connection.",
    "RFC 4954 §6",
)
AUTH_ABORTED = _reply(
    Code.S501_ARGUMENT_SYNTAX,
    "5.7.0",
    "Authentication aborted",
    "The client answered the challenge with '*', which cancels the exchange.",
    "RFC 4954 §4",
)
AUTH_BAD_BASE64 = _reply(
    Code.S501_ARGUMENT_SYNTAX,
    "5.5.2",
    "Cannot decode response",
    "A SASL response must be valid base64.",
    "RFC 4954 §4",
)
AUTH_UNKNOWN_MECHANISM = _reply(
    Code.S504_PARAMETER_NOT_IMPLEMENTED,
    "5.5.4",
    "Unrecognized authentication type",
    "The server does not offer that SASL mechanism; see the AUTH line of the EHLO reply.",
    "RFC 4954 §6",
)
AUTH_SYNTAX = _reply(
    Code.S501_ARGUMENT_SYNTAX, "5.5.4", "Syntax: AUTH mechanism", "AUTH needs a mechanism name.", "RFC 4954 §4"
)
AUTH_ALREADY = _reply(
    Code.S503_BAD_SEQUENCE,
    "5.5.1",
    "Error: already authenticated",
    "A session authenticates at most once.",
    "RFC 4954 §4",
)
AUTH_IN_TRANSACTION = _reply(
    Code.S503_BAD_SEQUENCE,
    "5.5.1",
    "Error: MAIL transaction in progress",
    "AUTH is not allowed between MAIL and the end of the message.",
    "RFC 4954 §4",
)
AUTH_NOT_ENABLED = _reply(
    Code.S503_BAD_SEQUENCE,
    "5.5.1",
    "Error: authentication not enabled",
    "This server does not offer SMTP AUTH here.",
    "RFC 4954 §4",
)
AUTH_NEEDS_TLS = _reply(
    Code.S530_AUTH_REQUIRED,
    "5.7.0",
    "Must issue a STARTTLS command first",
    "Passwords are only accepted over an encrypted connection: STARTTLS first.",
    "RFC 4954 §6, RFC 3207 §4",
)
AUTH_LINE_TOO_LONG = _reply(
    Code.S500_SYNTAX,
    "5.5.6",
    "Authentication Exchange line is too long",
    "A SASL response line may be at most 12288 octets.",
    "RFC 4954 §4",
)
SEND_HELO_FIRST = _reply(
    Code.S503_BAD_SEQUENCE,
    "5.5.1",
    "Error: send HELO/EHLO first",
    "The client must introduce itself with EHLO or HELO before this command.",
    _SEQ,
)
BAD_SEQUENCE = _reply(
    Code.S503_BAD_SEQUENCE,
    "5.5.1",
    "Error: bad sequence of commands",
    "That command is not allowed at this point of the session.",
    _SEQ,
)
NESTED_MAIL = _reply(
    Code.S503_BAD_SEQUENCE,
    "5.5.1",
    "Error: nested MAIL command",
    "A transaction is already open: finish it or send RSET before a new MAIL.",
    _SEQ,
)
NEED_MAIL = _reply(
    Code.S503_BAD_SEQUENCE,
    "5.5.1",
    "Error: need MAIL command",
    "Recipients and data come after MAIL FROM opens a transaction.",
    _SEQ,
)
NEED_RCPT = _reply(
    Code.S503_BAD_SEQUENCE,
    "5.5.1",
    "Error: need RCPT command",
    "No recipient has been accepted yet, so there is nobody to deliver the data to.",
    _SEQ,
)
NO_VALID_RECIPIENTS = _reply(
    Code.S554_TRANSACTION_FAILED,
    "5.5.1",
    "Error: no valid recipients",
    "Every recipient was refused, so the server will not take the message.",
    "RFC 2920 §3.1",
)
DATA_AFTER_BDAT = _reply(
    Code.S503_BAD_SEQUENCE,
    "5.5.1",
    "Error: BDAT transaction in progress",
    "A message sent in BDAT chunks cannot switch to DATA half-way.",
    "RFC 3030 §2",
)
TLS_ALREADY = _reply(
    Code.S554_TRANSACTION_FAILED,
    "5.5.1",
    "Error: TLS already active",
    "The connection is already encrypted.",
    "RFC 3207 §4",
)
TLS_UNAVAILABLE = _reply(
    Code.S502_NOT_IMPLEMENTED,
    "5.5.1",
    "Error: command not implemented",
    "This server has no TLS certificate configured, so it cannot offer STARTTLS.",
    "RFC 3207 §4",
)
TLS_IN_TRANSACTION = _reply(
    Code.S503_BAD_SEQUENCE,
    "5.5.1",
    "Error: MAIL transaction in progress",
    "STARTTLS must come before MAIL, not inside a transaction.",
    "RFC 3207 §4",
)
VRFY_DISABLED = _reply(
    Code.S502_NOT_IMPLEMENTED,
    "5.5.1",
    "VRFY command is disabled",
    "Many servers turn VRFY off so that spammers cannot probe for valid addresses.",
    "RFC 5321 §3.5.3, §7.3",
)
NOT_RECOGNIZED = _reply(
    Code.S502_NOT_IMPLEMENTED,
    "5.5.2",
    "Error: command not recognized",
    "The server does not know this command.",
    "RFC 5321 §4.2.4",
)
BAD_SYNTAX = _reply(
    Code.S500_SYNTAX,
    "5.5.2",
    "Error: bad syntax",
    "An empty or malformed command line.",
    "RFC 5321 §4.1.1",
)
LINE_TOO_LONG = _reply(
    Code.S500_SYNTAX,
    "5.5.2",
    "Error: line too long",
    "A command line may be at most 512 octets, CRLF included.",
    "RFC 5321 §4.5.3.1.4",
)
TEXT_LINE_TOO_LONG = _reply(
    Code.S554_TRANSACTION_FAILED,
    "5.6.0",
    "Error: message line too long",
    "A line of the message may be at most 1000 octets, CRLF included; the message is refused.",
    "RFC 5321 §4.5.3.1.6",
)
MESSAGE_FILE_TOO_BIG = _reply(
    Code.S552_STORAGE_EXCEEDED,
    "5.3.4",
    "Error: message file too big",
    "The message grew past the SIZE limit while it was sent; none of it is kept.",
    "RFC 1870 §6, RFC 3030 §2",
)
MESSAGE_TOO_BIG = _reply(
    Code.S552_STORAGE_EXCEEDED,
    "5.3.4",
    "Message size exceeds fixed limit",
    "The message is larger than the SIZE this server advertised.",
    "RFC 1870 §6",
)
TOO_MANY_RECIPIENTS = _reply(
    Code.S452_INSUFFICIENT_STORAGE,
    "4.5.3",
    "Error: too many recipients",
    "The server takes this many recipients per transaction; the client sends the rest in another one.",
    "RFC 5321 §4.5.3.1.10",
)
NEED_SMTPUTF8 = _reply(
    Code.S553_MAILBOX_NAME,
    "5.6.7",
    "Must declare SMTPUTF8 to send unicode address",
    "An address with non-ASCII characters needs the SMTPUTF8 parameter on MAIL.",
    "RFC 6531 §3.4",
)
IMPROPER_PIPELINING = _reply(
    Code.S554_TRANSACTION_FAILED,
    "5.5.0",
    "Error: improper use of SMTP command pipelining",
    "The client spoke before the server's greeting, which no RFC-conforming client does.",
    "RFC 5321 §4.3.1, RFC 2920 §3.1",
)
HTTP_COMMAND = _reply(
    Code.S221_CLOSING,
    "2.7.0",
    "Error: I can break rules, too. Goodbye.",
    "This looks like a web browser or proxy, not a mail client: the server hangs up.",
    "RFC 5321 §4.1.1",
)


def greeting(hostname: str, banner: str = "ESMTP") -> Reply:
    return _reply(
        Code.S220_READY,
        None,
        f"{hostname} {banner}",
        "The server is ready. Its first line names the host; 'ESMTP' invites EHLO.",
        "RFC 5321 §4.2, §3.1",
    )


def ehlo(hostname: str, extensions: list[str]) -> Reply:
    return Reply(
        250,
        None,
        (hostname, *extensions),
        "Hello accepted. Each further line names an extension this server supports.",
        "RFC 5321 §4.1.1.1",
    )


def helo(hostname: str) -> Reply:
    return _reply(
        Code.S250_OK,
        None,
        hostname,
        "Hello accepted: plain SMTP, no extensions (the client used HELO).",
        "RFC 5321 §4.1.1.1",
    )


def help_text(commands: list[str]) -> Reply:
    return Reply(
        214,
        "2.0.0",
        ("Commands:", " ".join(commands), "End of HELP info"),
        "HELP lists what the server understands; it is for people at a keyboard.",
        "RFC 5321 §4.1.1.8",
    )


def queued(queue_id: str) -> Reply:
    return _reply(
        Code.S250_OK,
        "2.0.0",
        f"Ok: queued as {queue_id}",
        "The message is accepted: from now on the server is responsible for delivering it.",
        "RFC 5321 §4.1.1.4, §6.1",
    )


def chunk_ok(size: int) -> Reply:
    return _reply(
        Code.S250_OK,
        "2.0.0",
        f"Ok: {size} bytes",
        "This chunk arrived; send the next, ending with BDAT ... LAST.",
        "RFC 3030 §2",
    )


def syntax(usage: str, enhanced: str | None = "5.5.4") -> Reply:
    return _reply(
        Code.S501_ARGUMENT_SYNTAX,
        enhanced,
        f"Syntax: {usage}",
        f"The command's arguments are malformed; expected {usage}.",
        "RFC 5321 §4.1.1",
    )


def bad_parameter(what: str) -> Reply:
    return _reply(
        Code.S501_ARGUMENT_SYNTAX,
        "5.5.4",
        f"Bad {what} syntax",
        f"The {what} parameter is malformed.",
        "RFC 5321 §4.1.2",
    )


def duplicate_parameter(name: str) -> Reply:
    return _reply(
        Code.S501_ARGUMENT_SYNTAX,
        "5.5.4",
        f"Error: duplicate {name} parameter",
        "Each ESMTP parameter may appear once per command.",
        "RFC 5321 §4.1.2",
    )


def unsupported_option(name: str) -> Reply:
    return _reply(
        Code.S555_PARAMETERS,
        "5.5.4",
        f"Unsupported option: {name}",
        "MAIL and RCPT may only carry parameters of extensions the server advertised.",
        "RFC 5321 §4.1.1.11",
    )


def bad_sender(address: str) -> Reply:
    return _reply(
        Code.S501_ARGUMENT_SYNTAX,
        "5.1.7",
        "Bad sender address syntax",
        f"{address!r} is not a valid RFC 5321 mailbox.",
        "RFC 5321 §4.1.2",
    )


def bad_recipient(address: str) -> Reply:
    return _reply(
        Code.S501_ARGUMENT_SYNTAX,
        "5.1.3",
        "Bad recipient address syntax",
        f"{address!r} is not a valid RFC 5321 mailbox.",
        "RFC 5321 §4.1.2",
    )


def unknown_user(address: str) -> Reply:
    return _reply(
        Code.S550_MAILBOX_UNAVAILABLE,
        "5.1.1",
        f"<{address}>: Recipient address rejected: User unknown in local recipient table",
        "No such mailbox here. This is permanent: the sender will get a bounce.",
        "RFC 5321 §4.2.3, RFC 3463 §3.2",
    )


def relay_denied(address: str) -> Reply:
    return _reply(
        Code.S554_TRANSACTION_FAILED,
        "5.7.1",
        f"<{address}>: Relay access denied",
        "This server is not the destination for that domain and will not relay for a stranger.",
        "RFC 5321 §3.6.2, §7.1",
    )


def vrfy_unknown(address: str) -> Reply:
    """Postfix answers VRFY for an unknown user with the words of its RCPT refusal."""
    return _reply(
        Code.S550_MAILBOX_UNAVAILABLE,
        "5.1.1",
        f"<{address}>: Recipient address rejected: User unknown in local recipient table",
        "No such mailbox here. VRFY only asks, so nothing is sent and nobody gets a bounce.",
        "RFC 5321 §3.5.3, RFC 3463 §3.2",
    )


def vrfy_ok(address: str) -> Reply:
    return _reply(
        Code.S252_CANNOT_VRFY,
        "2.0.0",
        address,
        "The address is known; 252 rather than 250 because the server does not promise delivery.",
        "RFC 5321 §3.5.3",
    )


def bare_newline(char: str) -> Reply:
    """Postfix 3.9+ with smtpd_forbid_bare_newline = reject (and its default reject code, 550)."""
    return _reply(
        Code.S550_MAILBOX_UNAVAILABLE,
        "5.5.2",
        f"Error: bare <{char}> received",
        f"Lines must end in CR LF. A bare {char} lets an attacker smuggle a second message past "
        "filters (SMTP smuggling), so the server refuses and hangs up.",
        "RFC 5321 §2.3.8, §4.1.1.4; CVE-2023-51764",
    )


def too_many_errors(hostname: str) -> Reply:
    return _reply(
        Code.S421_UNAVAILABLE,
        "4.7.0",
        f"{hostname} Error: too many errors",
        "The client made too many mistakes; the server ends the session to protect itself.",
        "RFC 5321 §3.8, §4.2.3",
    )


def shutting_down(hostname: str) -> Reply:
    return _reply(
        Code.S421_UNAVAILABLE,
        "4.3.2",
        f"{hostname} Service shutting down, closing transmission channel",
        "The server is going away; the client keeps the message and retries later.",
        "RFC 5321 §3.8",
    )


def auth_challenge(data: bytes) -> Reply:
    return _reply(
        Code.S334_AUTH_CHALLENGE,
        None,
        base64.b64encode(data).decode("ascii"),
        "A SASL challenge (base64). The client answers with one base64 line, or '*' to cancel.",
        "RFC 4954 §4",
    )
