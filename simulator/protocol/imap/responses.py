"""Every status response our IMAP server sends, with a learner's explanation and its RFC section.

Texts follow Dovecot's, so a learner who later reads a real IMAP session
recognises them. Fixed responses are constants; those that name a host, a
mailbox or a number are small functions. A `Response` renders tagged (the
completion of a command) or untagged (`* ...`) with the writers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from simulator.protocol.imap import writers as w
from simulator.protocol.imap.writers import ResponseCode, Status
from simulator.protocol.values import Value


@dataclass(frozen=True)
class Response(Value):
    """A status response: OK, NO, BAD, BYE or PREAUTH, an optional response code and text.

    Attributes:
        status: the status word (RFC 3501 §7.1).
        text: the human-readable text.
        code: the bracketed response code, if any.
        explain: what this response means, for a learner.
        rfc: where the behaviour is specified.
    """

    status: Status
    text: str
    code: ResponseCode | None = None
    explain: str = field(default="", compare=False)
    rfc: str = field(default="", compare=False)

    def tagged(self, tag: str) -> bytes:
        return w.format_tagged(tag, self.status, self.text, self.code)

    def untagged(self) -> bytes:
        return w.format_untagged_status(self.status, self.text, self.code)

    def with_code(self, code: ResponseCode) -> Response:
        """The same response with a response code, such as [COPYUID ...] known only at run time."""
        return Response(self.status, self.text, code, self.explain, self.rfc)


def _ok(text: str, explain: str, rfc: str, code: ResponseCode | None = None) -> Response:
    return Response(Status.OK, text, code, explain, rfc)


def _no(text: str, explain: str, rfc: str, code: ResponseCode | None = None) -> Response:
    return Response(Status.NO, text, code, explain, rfc)


def _bad(text: str, explain: str, rfc: str, code: ResponseCode | None = None) -> Response:
    return Response(Status.BAD, text, code, explain, rfc)


# --- greeting, capability, logout ------------------------------------------------------


def greeting(host: str, capabilities: Iterable[str]) -> Response:
    """`* OK [CAPABILITY ...] mail.example.org ready.`, the untagged greeting (RFC 3501 §7.1.1)."""
    return _ok(
        f"{host} ready.",
        "The server is ready; the CAPABILITY code saves the client from asking what it supports.",
        "RFC 3501 §7.1.1, §7.1",
        w.capability_code(capabilities),
    )


CONTINUE_LITERAL = "Ready for literal data"  # the text after "+ " for a synchronising literal (RFC 3501 §7.5)
CONTINUE_IDLE = "idling"  # Dovecot's "+ idling" (RFC 2177 §3)

CAPABILITY_OK = _ok("Capability completed.", "The CAPABILITY list was sent just above.", "RFC 3501 §6.1.1")
NOOP_OK = _ok(
    "NOOP completed.",
    "NOOP does nothing, but gives the server a chance to report new messages and flag changes.",
    "RFC 3501 §6.1.2",
)
BYE_LOGOUT = Response(
    Status.BYE, "Logging out", None, "The server is about to close the connection, as asked.", "RFC 3501 §6.1.3"
)
LOGOUT_OK = _ok("Logout completed.", "LOGOUT is done; the connection closes now.", "RFC 3501 §6.1.3")
BYE_IDLE_TIMEOUT = Response(
    Status.BYE,
    "Disconnected for inactivity.",
    None,
    "The client said nothing for too long, so the server closes the connection.",
    "RFC 3501 §5.4",
)

# --- STARTTLS and login ---------------------------------------------------------------

STARTTLS_OK = _ok(
    "Begin TLS negotiation now.",
    "The TLS handshake starts right after this line; what was said before is forgotten.",
    "RFC 3501 §6.2.1",
)


def login_ok(capabilities: Iterable[str]) -> Response:
    """`OK [CAPABILITY ...] Logged in`: after login the capabilities change, so Dovecot resends them."""
    return _ok(
        "Logged in",
        "The credentials are good: the session is now in the authenticated state.",
        "RFC 3501 §6.2.3, §6.2.2",
        w.capability_code(capabilities),
    )


AUTHENTICATION_FAILED = _no(
    "Authentication failed.",
    "Wrong user name or password. The server does not say which, so as not to help a guesser.",
    "RFC 3501 §6.2.3; RFC 5530 §3",
    w.AUTHENTICATIONFAILED,
)
AUTHENTICATION_UNAVAILABLE = _no(
    "Temporary authentication failure.",
    "The server could not check the credentials just now (its user database is unreachable); try again later.",
    "RFC 3501 §6.2.2; RFC 5530 §3",
    ResponseCode("UNAVAILABLE"),  # RFC 5530 §3: a temporary failure, try again later
)
AUTHENTICATE_ABORTED = _bad(
    "Authentication aborted by client.",
    "The client answered a SASL challenge with '*', which cancels AUTHENTICATE.",
    "RFC 3501 §6.2.2",
)
UNSUPPORTED_MECHANISM = _no(
    "Unsupported authentication mechanism.",
    "The server does not offer that SASL mechanism; CAPABILITY lists the AUTH= ones it has.",
    "RFC 3501 §6.2.2",
)
INVALID_BASE64 = _bad(
    "Invalid base64 data in continued response",
    "A SASL response must be base64; this one is not.",
    "RFC 3501 §6.2.2",
)
PRIVACY_REQUIRED = _no(
    "Plaintext authentication disallowed on non-secure (SSL/TLS) connections.",
    "The password would cross the network in clear: STARTTLS first.",
    "RFC 3501 §6.2.3, §11.1; RFC 5530 §3",
    w.PRIVACYREQUIRED,
)
LOGINDISABLED_ALERT = _bad(
    "Plaintext authentication not allowed without SSL/TLS, but your client did it anyway. "
    "If anyone was listening, the password was exposed.",
    "The client sent LOGIN although CAPABILITY said LOGINDISABLED: the password is already out.",
    "RFC 3501 §6.2.3, §7.2.1",
    w.ALERT,
)
ALREADY_AUTHENTICATED = _bad(
    "Already logged in.", "LOGIN and AUTHENTICATE are only valid before logging in.", "RFC 3501 §6.2"
)
TLS_ALREADY_ACTIVE = _bad(
    "TLS is already active.", "STARTTLS cannot be repeated on an encrypted connection.", "RFC 3501 §6.2.1"
)

# --- mailboxes --------------------------------------------------------------------------

SELECT_OK = _ok(
    "Select completed.",
    "The mailbox is open and its messages may be changed.",
    "RFC 3501 §6.3.1",
    w.READ_WRITE,
)
EXAMINE_OK = _ok(
    "Examine completed.",
    "The mailbox is open read-only: flags cannot change, nothing gets \\Seen.",
    "RFC 3501 §6.3.2",
    w.READ_ONLY,
)
CLOSED_PREVIOUS = _ok(
    "Previous mailbox closed.",
    "Selecting another mailbox first closes the one that was open.",
    "RFC 7162 §3.2.11",
    w.CLOSED,
)


def nonexistent(mailbox: str) -> Response:
    """`NO [NONEXISTENT] Mailbox doesn't exist: Foo` (Dovecot's text)."""
    return _no(
        f"Mailbox doesn't exist: {mailbox}",
        "There is no mailbox by that name. LIST shows the ones there are.",
        "RFC 3501 §6.3.1; RFC 5530 §3",
        w.NONEXISTENT,
    )


def trycreate(mailbox: str) -> Response:
    """`NO [TRYCREATE] Mailbox doesn't exist: Foo`, for COPY, MOVE and APPEND to a missing mailbox."""
    return _no(
        f"Mailbox doesn't exist: {mailbox}",
        "The target mailbox does not exist; the client may CREATE it and try again.",
        "RFC 3501 §6.4.7, §6.3.11, §7.1",
        w.TRYCREATE,
    )


ALREADY_EXISTS = _no(
    "Mailbox already exists",
    "CREATE or RENAME to a name that is taken.",
    "RFC 3501 §6.3.3; RFC 5530 §3",
    w.ALREADYEXISTS,
)
CANNOT_DELETE_INBOX = _no(
    "INBOX can't be deleted.", "INBOX always exists: it is where new mail arrives.", "RFC 3501 §6.3.4", w.CANNOT
)
CREATE_OK = _ok("Create completed.", "The mailbox now exists.", "RFC 3501 §6.3.3")
DELETE_OK = _ok("Delete completed.", "The mailbox and its messages are gone.", "RFC 3501 §6.3.4")
RENAME_OK = _ok("Rename completed.", "The mailbox has its new name.", "RFC 3501 §6.3.5")
SUBSCRIBE_OK = _ok("Subscribe completed.", "The mailbox is added to the subscription list (LSUB).", "RFC 3501 §6.3.6")
UNSUBSCRIBE_OK = _ok("Unsubscribe completed.", "The mailbox is off the subscription list.", "RFC 3501 §6.3.7")
LIST_OK = _ok("List completed.", "The matching mailboxes were listed just above.", "RFC 3501 §6.3.8")
LSUB_OK = _ok("Lsub completed.", "The matching subscribed mailboxes were listed above.", "RFC 3501 §6.3.9")
STATUS_OK = _ok("Status completed.", "The STATUS line above gives the counts asked for.", "RFC 3501 §6.3.10")
NAMESPACE_OK = _ok("Namespace completed.", "The personal, other users' and shared prefixes.", "RFC 2342 §5")
ENABLE_OK = _ok("Enabled.", "The extensions listed in * ENABLED are now in force.", "RFC 5161 §3.1")
IDLE_OK = _ok("Idle completed.", "The client said DONE; normal commands may follow.", "RFC 2177 §3")


def append_ok(uidvalidity: int, uid: int) -> Response:
    """`OK [APPENDUID v uid] Append completed.` (RFC 4315 §3 gives the new message's UID)."""
    return _ok(
        "Append completed.",
        "The message is stored; APPENDUID gives its UID so the client need not search for it.",
        "RFC 3501 §6.3.11; RFC 4315 §3",
        w.appenduid_code(uidvalidity, uid),
    )


MESSAGE_TOO_BIG = _no(
    "Mail size is too large",
    "The message is larger than this server accepts.",
    "RFC 3501 §6.3.11; RFC 7889",
    w.LIMIT,
)
BYE_LITERAL_TOO_BIG = Response(
    Status.BYE,
    "Literal too large, disconnecting.",
    None,
    "A non-synchronising literal ({n+}) is on its way whatever the server says; rather than read and "
    "throw away that many octets, the server hangs up.",
    "RFC 7888 §4",
)
LITERAL_TOO_BIG = _bad(
    "Literal too large.",
    "The announced literal is over the server's limit, so it was refused before any of it was read.",
    "RFC 3501 §7.5; RFC 7888 §4",
    w.TOOBIG,
)

# --- selected state -----------------------------------------------------------------------

NO_MAILBOX_SELECTED = _bad(
    "No mailbox selected.", "This command works on messages: SELECT a mailbox first.", "RFC 3501 §6.4"
)
NOT_AUTHENTICATED = _bad(
    "Please log in first.", "Only CAPABILITY, NOOP, LOGOUT, STARTTLS and logins work before login.", "RFC 3501 §3.1"
)
CHECK_OK = _ok("Check completed.", "A checkpoint: the server saved its state.", "RFC 3501 §6.4.1")
CLOSE_OK = _ok("Close completed.", "Messages marked \\Deleted were removed and the mailbox closed.", "RFC 3501 §6.4.2")
UNSELECT_OK = _ok("Unselect completed.", "The mailbox is closed; nothing was expunged.", "RFC 3691 §2")
EXPUNGE_OK = _ok(
    "Expunge completed.", "Messages marked \\Deleted are gone; * n EXPUNGE lines said which.", "RFC 3501 §6.4.3"
)
SEARCH_OK = _ok("Search completed.", "The * SEARCH line lists the matching messages.", "RFC 3501 §6.4.4")
FETCH_OK = _ok("Fetch completed.", "The * n FETCH lines above hold the data asked for.", "RFC 3501 §6.4.5")
STORE_OK = _ok(
    "Store completed.",
    "The flags are changed; the FETCH lines before this show the new ones, unless .SILENT asked for none.",
    "RFC 3501 §6.4.6",
)
READ_ONLY_MAILBOX = _no(
    "Mailbox is read-only.", "The mailbox was opened with EXAMINE: nothing may change.", "RFC 3501 §6.3.2"
)
BAD_CHARSET = _no(
    "Unsupported charset",
    "SEARCH was given a CHARSET this server does not know.",
    "RFC 3501 §6.4.4",
    ResponseCode("BADCHARSET", "(US-ASCII UTF-8)"),
)


def copy_ok(uidvalidity: int, source: Iterable[int], destination: Iterable[int]) -> Response:
    """`OK [COPYUID v 1:3 7:9] Copy completed.` (RFC 4315 §3)."""
    return _ok(
        "Copy completed.",
        "The messages were copied; COPYUID pairs each source UID with its new UID in the target.",
        "RFC 3501 §6.4.7; RFC 4315 §3",
        w.copyuid_code(uidvalidity, list(source), list(destination)),
    )


def move_ok(uidvalidity: int, source: Iterable[int], destination: Iterable[int]) -> Response:
    """`OK [COPYUID ...] Move completed.`; with MOVE, COPYUID goes in an untagged OK first (RFC 6851 §4.3)."""
    return _ok(
        "Move completed.",
        "The messages moved: copied to the target, then expunged here.",
        "RFC 6851 §3",
        w.copyuid_code(uidvalidity, list(source), list(destination)),
    )


# --- syntax ---------------------------------------------------------------------------------


def bad_command(text: str) -> Response:
    """A BAD for a command that could not be parsed; `text` comes from the reader's CommandError."""
    return _bad(
        text,
        "The server could not parse this command: it breaks the IMAP grammar or is unknown.",
        "RFC 3501 §7.1.3, §9",
    )
