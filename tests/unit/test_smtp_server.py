"""SMTPServer against good and bad input: the exact bytes a careful server (Postfix) sends.

No sockets: a small `Node` plays the policy side, answering the events that need a reply.
Tests that take the `bytewise` fixture run twice, once fed whole and once fed one byte
at a time, and must give the same wire bytes either way.
"""

from __future__ import annotations

import base64

import pytest

from simulator.protocol.errors import LocalProtocolError
from simulator.protocol.smtp import events as ev
from simulator.protocol.smtp import replies
from simulator.protocol.smtp.replies import Reply
from simulator.protocol.smtp.server import NEEDS_REPLY, ServerConfig, SMTPServer
from simulator.protocol.smtp.state import State
from simulator.protocol.smtp.writers import format_reply

HOST = "mx.example.org"
GREETING = b"220 mx.example.org ESMTP\r\n"
EHLO_REPLY = (
    b"250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-ENHANCEDSTATUSCODES\r\n"
    b"250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"
)
EHLO = b"EHLO client.example\r\n"
MAIL = b"MAIL FROM:<alice@example.com>\r\n"
RCPT = b"RCPT TO:<bob@example.org>\r\n"
TRANSACTION = EHLO + MAIL + RCPT

SENDER_OK = b"250 2.1.0 Ok\r\n"
RECIPIENT_OK = b"250 2.1.5 Ok\r\n"
START_DATA = b"354 End data with <CR><LF>.<CR><LF>\r\n"
QUEUED = b"250 2.0.0 Ok: queued as 4F2A1B\r\n"
OK = b"250 2.0.0 Ok\r\n"
BYE = b"221 2.0.0 Bye\r\n"
BARE_LF = b"550 5.5.2 Error: bare <LF> received\r\n"
BARE_CR = b"550 5.5.2 Error: bare <CR> received\r\n"
TOO_BIG = b"552 5.3.4 Message size exceeds fixed limit\r\n"  # SIZE= at MAIL
FILE_TOO_BIG = b"552 5.3.4 Error: message file too big\r\n"  # the data itself grew too big
NEED_MAIL = b"503 5.5.1 Error: need MAIL command\r\n"
NEED_RCPT = b"503 5.5.1 Error: need RCPT command\r\n"
NO_VALID_RECIPIENTS = b"554 5.5.1 Error: no valid recipients\r\n"
AUTH_OK = b"235 2.7.0 Authentication successful\r\n"
AUTH_FAILED = b"535 5.7.8 Error: authentication failed: authentication failure\r\n"
USERNAME_PROMPT = b"334 VXNlcm5hbWU6\r\n"  # base64 "Username:"
PASSWORD_PROMPT = b"334 UGFzc3dvcmQ6\r\n"  # base64 "Password:"

UNKNOWN_USER = "nobody@example.org"
BLOCKED_SENDER = "spammer@bad.example"


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


class Node:
    """Plays the node: feeds the server, answers what needs an answer, records the events.

    Policy: every sender but BLOCKED_SENDER, every recipient but UNKNOWN_USER, the user
    alice with password "secret", and every complete message is queued.
    """

    def __init__(self, config: ServerConfig | None = None, *, bytewise: bool = False, greet: bool = True) -> None:
        self.server = SMTPServer(config or ServerConfig(), greet=greet)
        self.bytewise = bytewise
        self.events: list[ev.Event] = []
        self.greeting = self.server.data_to_send()

    def feed(self, data: bytes) -> bytes:
        """Give the server `data` (whole or byte by byte); return the bytes it wrote."""
        pieces = [data[i : i + 1] for i in range(len(data))] if self.bytewise else [data]
        for piece in filter(None, pieces):  # never b"": that would mean end of input
            self.server.receive_data(piece)
            self.pump()
        return self.server.data_to_send()

    def eof(self) -> bytes:
        self.server.receive_data(b"")
        self.pump()
        return self.server.data_to_send()

    def pump(self) -> None:
        for event in self.server.events():
            self.events.append(event)
            if isinstance(event, NEEDS_REPLY):
                self.server.send(self.answer(event))

    @staticmethod
    def answer(event: ev.Event) -> Reply:
        if isinstance(event, ev.MailFrom):
            if event.sender.mailbox == BLOCKED_SENDER:
                return Reply(550, "5.7.1", (f"<{BLOCKED_SENDER}>: Sender address rejected: Access denied",))
            return replies.SENDER_OK
        if isinstance(event, ev.RcptTo):
            mailbox = event.recipient.mailbox
            return replies.unknown_user(mailbox) if mailbox == UNKNOWN_USER else replies.RECIPIENT_OK
        if isinstance(event, ev.Vrfy):
            if event.argument in ("bob", "bob@example.org"):
                return replies.vrfy_ok("bob@example.org")
            return replies.unknown_user(event.argument)
        if isinstance(event, ev.AuthCredentials):
            good = (event.username, event.password) == ("alice", "secret")
            return replies.AUTH_OK if good else replies.AUTH_FAILED
        assert isinstance(event, ev.DataComplete)
        return replies.queued("4F2A1B")

    def state(self) -> State:
        # A method, not an attribute read, so that type checkers do not pin the state.
        return self.server.state

    def of(self, kind: type[ev.Event]) -> list[ev.Event]:
        return [e for e in self.events if isinstance(e, kind)]

    @property
    def messages(self) -> list[ev.DataComplete]:
        return [e for e in self.events if isinstance(e, ev.DataComplete)]

    @property
    def closed_events(self) -> list[ev.ConnectionClosed]:
        return [e for e in self.events if isinstance(e, ev.ConnectionClosed)]


@pytest.fixture(params=["whole", "bytewise"])
def bytewise(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "bytewise")


def session(bytewise: bool = False, config: ServerConfig | None = None, prefix: bytes = EHLO) -> Node:
    """A greeted server that has already been fed `prefix` (EHLO by default)."""
    node = Node(config, bytewise=bytewise)
    node.feed(prefix)
    return node


def assert_closed(node: Node) -> None:
    assert node.server.closed
    assert node.state() is State.CLOSED
    assert isinstance(node.events[-1], ev.ConnectionClosed)
    assert len(node.closed_events) == 1
    assert node.feed(b"NOOP\r\n") == b"", "a closed server still answers"


# --- greeting and hello -------------------------------------------------------------------


def test_greeting_and_ehlo(bytewise: bool) -> None:
    node = Node(bytewise=bytewise)
    assert node.greeting == GREETING
    assert node.state() is State.GREETED
    assert node.feed(EHLO) == EHLO_REPLY
    assert node.events == [ev.Ehlo("client.example")]
    assert node.state() is State.READY


def test_helo_answers_without_extensions_and_the_envelope_says_smtp(bytewise: bool) -> None:
    node = session(bytewise, prefix=b"")
    assert node.feed(b"HELO client.example\r\n") == b"250 mx.example.org\r\n"
    wire = node.feed(MAIL + RCPT + b"DATA\r\nhi\r\n.\r\n")
    assert wire == SENDER_OK + RECIPIENT_OK + START_DATA + QUEUED
    (message,) = node.messages
    assert message.envelope.helo == "client.example"
    assert not message.envelope.esmtp
    assert message.envelope.protocol == "SMTP"


def test_ehlo_resets_an_open_transaction(bytewise: bool) -> None:
    node = session(bytewise, prefix=TRANSACTION)
    assert node.feed(EHLO) == EHLO_REPLY
    assert node.state() is State.READY
    assert node.feed(b"DATA\r\n") == NEED_RCPT
    assert node.feed(RCPT) == NEED_MAIL
    assert node.of(ev.Data) == []


@pytest.mark.parametrize(
    ("line", "wire"),
    [
        (b"EHLO\r\n", b"501 Syntax: EHLO hostname\r\n"),
        (b"HELO\r\n", b"501 Syntax: HELO hostname\r\n"),
        (b"EHLO   \r\n", b"501 Syntax: EHLO hostname\r\n"),
    ],
)
def test_hello_without_hostname(bytewise: bool, line: bytes, wire: bytes) -> None:
    node = session(bytewise, prefix=b"")
    assert node.feed(line) == wire
    assert node.state() is State.GREETED
    assert node.events == []


# --- syntax -------------------------------------------------------------------------------


def test_empty_line_is_500_bad_syntax(bytewise: bool) -> None:
    node = session(bytewise)
    assert node.feed(b"\r\n") == b"500 5.5.2 Error: bad syntax\r\n"
    assert node.feed(b"NOOP\r\n") == OK


@pytest.mark.parametrize("line", [b"FOO\r\n", b"EXPN staff\r\n", b"ETRN example.org\r\n", b"MAILFROM:<a@b>\r\n"])
def test_unknown_command_is_502(bytewise: bool, line: bytes) -> None:
    node = session(bytewise)
    assert node.feed(line) == b"502 5.5.2 Error: command not recognized\r\n"
    assert node.state() is State.READY


@pytest.mark.parametrize(
    ("config", "prefix", "line", "wire"),
    [
        (None, EHLO, b"MAIL\r\n", b"501 5.5.4 Syntax: MAIL FROM:<address>\r\n"),
        (None, EHLO, b"MAIL TO:<alice@example.com>\r\n", b"501 5.5.4 Syntax: MAIL FROM:<address>\r\n"),
        (None, EHLO, b"MAIL FROM:<alice@example.com\r\n", b"501 5.5.4 Syntax: MAIL FROM:<address>\r\n"),
        (None, EHLO, b"MAIL FROM:<alice example.com>\r\n", b"501 5.1.7 Bad sender address syntax\r\n"),
        (None, EHLO, b"MAIL FROM:<alice@>\r\n", b"501 5.1.7 Bad sender address syntax\r\n"),
        (None, EHLO + MAIL, b"RCPT\r\n", b"501 5.5.4 Syntax: RCPT TO:<address>\r\n"),
        (None, EHLO + MAIL, b"RCPT TO:<bob>\r\n", b"501 5.1.3 Bad recipient address syntax\r\n"),
        (None, EHLO + MAIL, b"RCPT TO:<>\r\n", b"501 5.1.3 Bad recipient address syntax\r\n"),
        (None, TRANSACTION, b"DATA now\r\n", b"501 5.5.4 Syntax: DATA\r\n"),
        (None, EHLO, b"RSET all\r\n", b"501 5.5.4 Syntax: RSET\r\n"),
        (None, EHLO, b"VRFY\r\n", b"501 5.5.4 Syntax: VRFY address\r\n"),
        (ServerConfig(starttls=True), EHLO, b"STARTTLS now\r\n", b"501 5.5.4 Syntax: STARTTLS\r\n"),
        (ServerConfig(tls_active=True), EHLO, b"AUTH\r\n", b"501 5.5.4 Syntax: AUTH mechanism\r\n"),
        (ServerConfig(tls_active=True), EHLO, b"AUTH PLAIN a b\r\n", b"501 5.5.4 Syntax: AUTH mechanism\r\n"),
        (None, EHLO, b"MAIL FROM:<j\xc3\xb6rg@example.com>\r\n",
         b"553 5.6.7 Must declare SMTPUTF8 to send unicode address\r\n"),
    ],
)  # fmt: skip
def test_501_syntax_errors_leave_the_session_usable(
    bytewise: bool, config: ServerConfig | None, prefix: bytes, line: bytes, wire: bytes
) -> None:
    node = session(bytewise, config, prefix)
    state = node.state()
    count = len(node.events)
    assert node.feed(line) == wire
    assert node.state() is state
    assert len(node.events) == count, "a refused command must not reach the node"
    assert node.feed(b"NOOP\r\n") == OK


@pytest.mark.parametrize(
    ("config", "prefix", "line", "wire"),
    [
        # Postfix quotes the parameter whole, as sent.
        (None, EHLO, b"MAIL FROM:<alice@example.com> FOO=BAR\r\n", b"555 5.5.4 Unsupported option: FOO=BAR\r\n"),
        (None, EHLO, b"MAIL FROM:<alice@example.com> AUTH=<>\r\n", b"555 5.5.4 Unsupported option: AUTH=<>\r\n"),
        (None, EHLO, b"MAIL FROM:<alice@example.com> x-Foo=b\r\n", b"555 5.5.4 Unsupported option: x-Foo=b\r\n"),
        (ServerConfig(dsn=False), EHLO, b"MAIL FROM:<alice@example.com> RET=HDRS\r\n",
         b"555 5.5.4 Unsupported option: RET=HDRS\r\n"),
        (ServerConfig(dsn=False), EHLO + MAIL, b"RCPT TO:<bob@example.org> NOTIFY=NEVER\r\n",
         b"555 5.5.4 Unsupported option: NOTIFY=NEVER\r\n"),
        (None, EHLO + MAIL, b"RCPT TO:<bob@example.org> XFORWARD=1\r\n",
         b"555 5.5.4 Unsupported option: XFORWARD=1\r\n"),
    ],
)  # fmt: skip
def test_555_unsupported_option(
    bytewise: bool, config: ServerConfig | None, prefix: bytes, line: bytes, wire: bytes
) -> None:
    node = session(bytewise, config, prefix)
    state, count = node.state(), len(node.events)
    assert node.feed(line) == wire
    assert node.state() is state
    assert len(node.events) == count, "a refused command must not reach the node"


@pytest.mark.parametrize(
    ("prefix", "line", "wire"),
    [
        (EHLO, b"MAIL FROM:<alice@example.com> SIZE=1 SIZE=2\r\n", b"501 5.5.4 Error: duplicate SIZE parameter\r\n"),
        (EHLO, b"MAIL FROM:<alice@example.com> BODY=7BIT body=8BITMIME\r\n",
         b"501 5.5.4 Error: duplicate BODY parameter\r\n"),
        (EHLO + MAIL, b"RCPT TO:<bob@example.org> NOTIFY=NEVER NOTIFY=NEVER\r\n",
         b"501 5.5.4 Error: duplicate NOTIFY parameter\r\n"),
    ],
)  # fmt: skip
def test_501_duplicate_parameter(bytewise: bool, prefix: bytes, line: bytes, wire: bytes) -> None:
    node = session(bytewise, prefix=prefix)
    state, count = node.state(), len(node.events)
    assert node.feed(line) == wire
    assert node.state() is state
    assert len(node.events) == count, "a refused command must not reach the node"


def test_esmtp_parameters_reach_the_envelope(bytewise: bool) -> None:
    node = session(bytewise)
    wire = node.feed(
        b"MAIL FROM:<j\xc3\xb6rg@example.com> SIZE=300 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ+2B1\r\n"
        b"RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+40example.org\r\n"
        b"RCPT TO:<b\xc3\xb8b@example.org>\r\n"
        b"DATA\r\nhi\r\n.\r\n"
    )
    assert wire == SENDER_OK + RECIPIENT_OK + RECIPIENT_OK + START_DATA + QUEUED
    (message,) = node.messages
    envelope = message.envelope
    assert envelope.sender == "jörg@example.com"
    assert envelope.params == ev.MailParams(size=300, body="8BITMIME", smtputf8=True, ret="HDRS", envid="QQ+1")
    assert envelope.recipients == (
        ev.Recipient("bob@example.org", ev.RcptParams(notify=("SUCCESS", "FAILURE"), orcpt="rfc822;bob@example.org")),
        ev.Recipient("bøb@example.org"),
    )


# --- order of commands ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "prefix", "line", "wire"),
    [
        (None, b"", MAIL, b"503 5.5.1 Error: send HELO/EHLO first\r\n"),
        (ServerConfig(starttls=True), b"", b"STARTTLS\r\n", b"503 5.5.1 Error: send HELO/EHLO first\r\n"),
        (ServerConfig(tls_active=True), b"", b"AUTH PLAIN\r\n", b"503 5.5.1 Error: send HELO/EHLO first\r\n"),
        # Postfix names what is missing right before RCPT and DATA, even before EHLO.
        (None, b"", RCPT, NEED_MAIL),
        (None, b"", b"DATA\r\n", NEED_RCPT),
        (None, EHLO, RCPT, NEED_MAIL),
        (None, EHLO, b"DATA\r\n", NEED_RCPT),
        (None, EHLO + MAIL, MAIL, b"503 5.5.1 Error: nested MAIL command\r\n"),
        (None, TRANSACTION, MAIL, b"503 5.5.1 Error: nested MAIL command\r\n"),
        # A transaction without an accepted recipient: 554, whether or not RCPT was tried.
        (None, EHLO + MAIL, b"DATA\r\n", NO_VALID_RECIPIENTS),
        (None, EHLO + MAIL + f"RCPT TO:<{UNKNOWN_USER}>\r\n".encode(), b"DATA\r\n", NO_VALID_RECIPIENTS),
        (ServerConfig(tls_active=True), TRANSACTION, b"AUTH PLAIN\r\n",
         b"503 5.5.1 Error: MAIL transaction in progress\r\n"),
        (ServerConfig(starttls=True), EHLO + MAIL, b"STARTTLS\r\n",
         b"503 5.5.1 Error: MAIL transaction in progress\r\n"),
        (None, TRANSACTION + b"BDAT 2\r\nab", b"DATA\r\n", b"503 5.5.1 Error: BDAT transaction in progress\r\n"),
        (None, TRANSACTION + b"BDAT 2\r\nab", RCPT, b"503 5.5.1 Error: BDAT transaction in progress\r\n"),
        (None, TRANSACTION + b"BDAT 2\r\nab", MAIL, b"503 5.5.1 Error: BDAT transaction in progress\r\n"),
    ],
)  # fmt: skip
def test_503_sequence_errors(
    bytewise: bool, config: ServerConfig | None, prefix: bytes, line: bytes, wire: bytes
) -> None:
    node = session(bytewise, config, b"")
    node.feed(prefix)
    state = node.state()
    assert node.feed(line) == wire
    assert node.state() is state


def test_refused_sender_leaves_no_transaction(bytewise: bool) -> None:
    node = session(bytewise)
    wire = node.feed(f"MAIL FROM:<{BLOCKED_SENDER}>\r\n".encode() + RCPT)
    assert wire == (b"550 5.7.1 <spammer@bad.example>: Sender address rejected: Access denied\r\n" + NEED_MAIL)
    assert node.state() is State.READY


# --- sizes and limits ---------------------------------------------------------------------------


def test_552_when_size_parameter_exceeds_the_limit(bytewise: bool) -> None:
    node = session(bytewise, ServerConfig(max_message_size=1000), b"")
    assert b"250-SIZE 1000\r\n" in node.feed(EHLO)
    assert node.feed(b"MAIL FROM:<alice@example.com> SIZE=1001\r\n") == TOO_BIG
    assert node.state() is State.READY
    assert node.of(ev.MailFrom) == []
    assert node.feed(b"MAIL FROM:<alice@example.com> SIZE=1000\r\n") == SENDER_OK


def test_oversize_data_is_refused_after_the_dot_and_the_session_goes_on(bytewise: bool) -> None:
    node = session(bytewise, ServerConfig(max_message_size=100), TRANSACTION)
    assert node.feed(b"DATA\r\n") == START_DATA
    # Nothing is said while the body streams in; the refusal waits for the dot.
    assert node.feed(b"Subject: big\r\n\r\n" + b"0123456789abcdef\r\n" * 10) == b""
    assert node.feed(b".\r\n") == FILE_TOO_BIG
    assert node.messages == []
    assert node.state() is State.READY
    # The next transaction on the same connection works and carries nothing of the first.
    wire = node.feed(MAIL + RCPT + b"DATA\r\nsmall\r\n.\r\n")
    assert wire == SENDER_OK + RECIPIENT_OK + START_DATA + QUEUED
    assert [m.content for m in node.messages] == [b"small\r\n"]


def test_message_exactly_at_the_size_limit_is_accepted(bytewise: bool) -> None:
    node = session(bytewise, ServerConfig(max_message_size=10), TRANSACTION)
    assert node.feed(b"DATA\r\n12345678\r\n.\r\n") == START_DATA + QUEUED  # 10 octets with CRLF
    assert (
        node.feed(MAIL + RCPT + b"DATA\r\n123456789\r\n.\r\n") == SENDER_OK + RECIPIENT_OK + START_DATA + FILE_TOO_BIG
    )


def test_452_past_max_recipients_keeps_the_earlier_ones(bytewise: bool) -> None:
    node = session(bytewise, ServerConfig(max_recipients=2), EHLO + MAIL)
    wire = node.feed(b"RCPT TO:<one@example.org>\r\nRCPT TO:<two@example.org>\r\nRCPT TO:<three@example.org>\r\n")
    assert wire == RECIPIENT_OK + RECIPIENT_OK + b"452 4.5.3 Error: too many recipients\r\n"
    assert len(node.of(ev.RcptTo)) == 2, "the node is not asked about a recipient past the limit"
    assert node.feed(b"DATA\r\nhi\r\n.\r\n") == START_DATA + QUEUED
    (message,) = node.messages
    assert [r.address for r in message.envelope.recipients] == ["one@example.org", "two@example.org"]
    assert node.server.errors == 0, "Postfix does not count recipients past the limit as errors"


def test_421_after_hard_error_limit_then_closed(bytewise: bool) -> None:
    node = session(bytewise, ServerConfig(hard_error_limit=3))
    wire = node.feed(b"FOO\r\n\r\nRCPT TO:<bob@example.org>\r\nNOOP\r\n")
    assert wire == (
        b"502 5.5.2 Error: command not recognized\r\n"
        b"500 5.5.2 Error: bad syntax\r\n" + NEED_MAIL + b"421 4.7.0 mx.example.org Error: too many errors\r\n"
    )
    assert node.of(ev.Noop) == []
    assert_closed(node)


def test_errors_the_node_answers_count_towards_the_limit(bytewise: bool) -> None:
    node = session(bytewise, ServerConfig(hard_error_limit=2), EHLO + MAIL)
    refused = f"RCPT TO:<{UNKNOWN_USER}>\r\n".encode()
    unknown = b"550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local recipient table\r\n"
    wire = node.feed(refused + refused + RCPT)
    assert wire == unknown + unknown + b"421 4.7.0 mx.example.org Error: too many errors\r\n"
    assert_closed(node)


# --- bare line endings (SMTP smuggling) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "wire"),
    [
        (b"EHLO client.example\n", BARE_LF),
        (b"NOOP\n", BARE_LF),
        (b"\n", BARE_LF),
        (b"MAIL FROM:<alice@example.com>\rRCPT TO:<bob@example.org>\r\n", BARE_CR),
        (b"NOOP\r\r\n", BARE_CR),
    ],
)
def test_bare_newline_in_a_command_hangs_up(bytewise: bool, data: bytes, wire: bytes) -> None:
    node = session(bytewise)
    assert node.feed(data + b"NOOP\r\n") == wire
    assert node.of(ev.MailFrom) == []
    assert node.of(ev.Noop) == []
    assert_closed(node)


@pytest.mark.parametrize(
    ("body", "wire"),
    [
        (b"Subject: a\r\n\r\nhi\n.\n", BARE_LF),
        (b"Subject: a\r\n\r\nhi\r\n.\n", BARE_LF),
        (b"Subject: a\r\n\r\nhi\n.\r\n", BARE_LF),
        (b"Subject: a\r\n\r\nhi\r.\r\n", BARE_CR),
        (b"Subject: a\r\n\r\nhi\r\n.\r.\r\n", BARE_CR),
    ],
    ids=["lf.lf", "crlf.lf", "lf.crlf", "cr.crlf", "crlf.cr."],
)
def test_bare_newline_in_data_hangs_up_and_nothing_is_stored(bytewise: bool, body: bytes, wire: bytes) -> None:
    node = session(bytewise, prefix=TRANSACTION + b"DATA\r\n")
    smuggled = b"MAIL FROM:<ceo@example.com>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nforged\r\n.\r\n"
    assert node.feed(body + smuggled + b".\r\n") == wire
    assert node.messages == []
    assert_closed(node)
    assert node.eof() == b""
    assert node.messages == []


def test_dot_after_a_bare_lf_does_not_end_data_so_nothing_is_smuggled(bytewise: bool) -> None:
    # SMTP smuggling (CVE-2023-51764): a filter in front may take "\n.\r\n" for the end of
    # the message and pass what follows as a second one. Postfix reads on to the real
    # CRLF . CRLF instead, then refuses the lot: the MAIL inside is never a command.
    node = session(bytewise, prefix=TRANSACTION)
    assert node.feed(b"DATA\r\n") == START_DATA
    assert node.feed(b"x\n.\r\nMAIL FROM:<evil@x.example>\r\n.\r\n") == BARE_LF
    senders = [e.sender.mailbox for e in node.events if isinstance(e, ev.MailFrom)]
    assert senders == ["alice@example.com"], "the smuggled MAIL was taken for a command"
    assert node.messages == []
    assert_closed(node)


def test_bare_lf_in_data_is_answered_only_at_the_real_end(bytewise: bool) -> None:
    node = session(bytewise, prefix=TRANSACTION + b"DATA\r\n")
    assert node.feed(b"Subject: a\r\n\r\nx\n") == b""
    assert node.feed(b".\r\n") == b"", "a dot right after a bare LF ended the data"
    assert node.feed(b"RSET\r\nNOOP\r\n") == b"", "lines of the message were taken for commands"
    assert node.state() is State.DATA
    assert not node.server.closed
    assert node.feed(b".\r\nNOOP\r\n") == BARE_LF
    assert node.of(ev.Rset) == []
    assert node.of(ev.Noop) == []
    assert node.messages == []
    assert_closed(node)


def test_bare_cr_in_data_is_answered_at_the_next_end(bytewise: bool) -> None:
    # The line itself ends in CRLF, so the dot after it is a real end of data.
    node = session(bytewise, prefix=TRANSACTION + b"DATA\r\n")
    assert node.feed(b"a\rb\r\n") == b""
    assert node.feed(b".\r\nNOOP\r\n") == BARE_CR
    assert node.messages == []
    assert node.of(ev.Noop) == []
    assert_closed(node)


def test_eof_before_the_real_end_after_a_bare_lf_stores_nothing(bytewise: bool) -> None:
    node = session(bytewise, prefix=TRANSACTION + b"DATA\r\n")
    assert node.feed(b"x\n.\r\n") == b""
    assert node.eof() == b""
    assert node.messages == []
    assert node.server.closed
    assert node.closed_events == [node.events[-1]]


# --- long lines ------------------------------------------------------------------------------------


def test_overlong_command_line_is_500_once(bytewise: bool) -> None:
    node = session(bytewise)
    assert node.feed(b"NOOP " + b"x" * 20_000 + b"\r\n") == b"500 5.5.2 Error: line too long\r\n"
    assert node.feed(b"NOOP\r\n") == OK


def test_command_line_limit_is_512_octets_with_crlf(bytewise: bool) -> None:
    node = session(bytewise)
    assert node.feed(b"NOOP " + b"x" * 505 + b"\r\n") == OK  # 512 octets
    assert node.feed(b"NOOP " + b"x" * 506 + b"\r\n") == b"500 5.5.2 Error: line too long\r\n"


def test_mail_line_may_exceed_512_for_esmtp_parameters(bytewise: bool) -> None:
    node = session(bytewise)
    line = b"MAIL FROM:<alice@example.com> ENVID=" + b"e" * 100 + b" RET=HDRS SIZE=1 BODY=8BITMIME SMTPUTF8"
    line += b" " * (600 - len(line)) + b"\r\n"
    assert node.feed(line) == SENDER_OK


def test_overlong_data_line_is_554_after_the_dot(bytewise: bool) -> None:
    node = session(bytewise, prefix=TRANSACTION + b"DATA\r\n")
    assert node.feed(b"Subject: x\r\n\r\n" + b"y" * 998 + b"\r\n") == b""  # 1000 octets: fine
    assert node.feed(b"z" * 5000 + b"\r\nmore\r\n") == b""
    assert node.feed(b".\r\n") == b"554 5.6.0 Error: message line too long\r\n"
    assert node.messages == []
    assert node.state() is State.READY
    assert node.feed(b"NOOP\r\n") == OK


def test_data_line_of_1000_octets_is_accepted(bytewise: bool) -> None:
    node = session(bytewise, prefix=TRANSACTION)
    line = b"y" * 998 + b"\r\n"
    assert node.feed(b"DATA\r\n" + line + b".\r\n") == START_DATA + QUEUED
    assert [m.content for m in node.messages] == [line]


# --- DATA ----------------------------------------------------------------------------------------------


def test_full_transaction_envelope_and_content(bytewise: bool) -> None:
    node = session(bytewise)
    body = b"From: alice@example.com\r\nSubject: hi\r\n\r\nHello Bob.\r\n"
    wire = node.feed(MAIL + RCPT + f"RCPT TO:<{UNKNOWN_USER}>\r\n".encode() + b"RCPT TO:<carol@example.org>\r\n")
    assert wire == (
        SENDER_OK
        + RECIPIENT_OK
        + b"550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local recipient table\r\n"
        + RECIPIENT_OK
    )
    assert node.feed(b"DATA\r\n") == START_DATA
    assert node.feed(body + b".\r\n") == QUEUED
    assert node.state() is State.READY
    (message,) = node.messages
    assert message.content == body
    assert message.envelope == ev.Envelope(
        helo="client.example",
        sender="alice@example.com",
        recipients=(ev.Recipient("bob@example.org"), ev.Recipient("carol@example.org")),
        esmtp=True,
    )
    assert message.envelope.protocol == "ESMTP"


def test_null_sender_for_bounces(bytewise: bool) -> None:
    node = session(bytewise)
    node.feed(b"MAIL FROM:<>\r\n" + RCPT + b"DATA\r\nbounce\r\n.\r\n")
    (message,) = node.messages
    assert message.envelope.sender == ""


def test_dot_unstuffing(bytewise: bool) -> None:
    node = session(bytewise, prefix=TRANSACTION)
    node.feed(b"DATA\r\n..leading dot\r\n..\r\n...\r\nmid.dle\r\n. not the end\r\n.\r\n")
    (message,) = node.messages
    assert message.content == b".leading dot\r\n.\r\n..\r\nmid.dle\r\n not the end\r\n"


def test_empty_message(bytewise: bool) -> None:
    node = session(bytewise, prefix=TRANSACTION)
    assert node.feed(b"DATA\r\n.\r\n") == START_DATA + QUEUED
    assert [m.content for m in node.messages] == [b""]


def test_pipelined_group_in_one_receive_data() -> None:
    node = session(prefix=EHLO)
    wire = node.feed(MAIL + RCPT + f"RCPT TO:<{UNKNOWN_USER}>\r\n".encode() + b"DATA\r\n")
    assert wire == (
        SENDER_OK
        + RECIPIENT_OK
        + b"550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local recipient table\r\n"
        + START_DATA
    )
    assert [type(e) for e in node.events[1:]] == [ev.MailFrom, ev.RcptTo, ev.RcptTo, ev.Data]
    assert (
        node.feed(b"Subject: x\r\n\r\nbody\r\n.\r\nMAIL FROM:<>\r\nRSET\r\nQUIT\r\n") == QUEUED + SENDER_OK + OK + BYE
    )
    assert_closed(node)


def test_pipelined_commands_wait_for_the_nodes_answer() -> None:
    server = SMTPServer()
    server.data_to_send()
    server.receive_data(EHLO + MAIL + RCPT + b"DATA\r\n")
    events = server.events()
    assert next(events) == ev.Ehlo("client.example")
    mail = next(events)
    assert isinstance(mail, ev.MailFrom)
    assert mail.sender.mailbox == "alice@example.com"
    assert server.data_to_send() == EHLO_REPLY, "RCPT must not be answered before MAIL is"
    server.send(replies.SENDER_OK)
    assert isinstance(next(events), ev.RcptTo)
    assert server.data_to_send() == SENDER_OK
    server.send(replies.RECIPIENT_OK)
    assert next(events) == ev.Data()
    assert list(events) == []
    assert server.data_to_send() == RECIPIENT_OK + START_DATA


# --- BDAT (RFC 3030) -----------------------------------------------------------------------------------


def test_bdat_chunks(bytewise: bool) -> None:
    node = session(bytewise, prefix=TRANSACTION)
    assert node.feed(b"BDAT 5\r\nHello") == b"250 2.0.0 Ok: 5 bytes\r\n"
    assert node.state() is State.BDAT
    assert node.feed(b"BDAT 9 LAST\r\n, world\r\n") == QUEUED
    assert node.of(ev.Bdat) == [ev.Bdat(5, False), ev.Bdat(9, True)]
    assert [m.content for m in node.messages] == [b"Hello, world\r\n"]
    assert node.state() is State.READY


def test_bdat_zero_last_ends_the_message(bytewise: bool) -> None:
    node = session(bytewise, prefix=TRANSACTION)
    wire = node.feed(b"BDAT 3\r\nabcBDAT 2\r\ndebdat 0 last\r\n")
    assert wire == b"250 2.0.0 Ok: 3 bytes\r\n250 2.0.0 Ok: 2 bytes\r\n" + QUEUED
    assert [m.content for m in node.messages] == [b"abcde"]


def test_bdat_zero_last_alone_is_an_empty_message(bytewise: bool) -> None:
    node = session(bytewise, prefix=TRANSACTION)
    assert node.feed(b"BDAT 0 LAST\r\n") == QUEUED
    assert [m.content for m in node.messages] == [b""]


def test_bdat_chunk_is_binary_and_not_line_framed(bytewise: bool) -> None:
    node = session(bytewise, prefix=TRANSACTION)
    chunk = b"a\nb\rc\r\n.\r\nQUIT\r\n\x00\xff"
    assert node.feed(b"BDAT %d LAST\r\n" % len(chunk) + chunk) == QUEUED
    assert [m.content for m in node.messages] == [chunk]
    assert not node.server.closed


def test_refused_bdat_chunk_is_still_consumed(bytewise: bool) -> None:
    node = session(bytewise)
    # The chunk holds "QUIT\r\n": it is data to skip, not a command.
    assert node.feed(b"BDAT 6\r\nQUIT\r\nNOOP\r\n") == NEED_RCPT + OK
    assert node.of(ev.Quit) == []
    assert node.of(ev.Bdat) == []
    assert not node.server.closed


def test_bdat_over_the_size_limit_fails_the_transaction(bytewise: bool) -> None:
    node = session(bytewise, ServerConfig(max_message_size=10), TRANSACTION)
    assert node.feed(b"BDAT 6\r\n123456") == b"250 2.0.0 Ok: 6 bytes\r\n"
    assert node.feed(b"BDAT 6 LAST\r\nabcdef") == FILE_TOO_BIG
    assert node.messages == []
    assert node.state() is State.READY
    assert node.feed(b"NOOP\r\n") == OK


def test_refused_middle_bdat_chunk_discards_the_pipelined_rest(bytewise: bool) -> None:
    node = session(bytewise, ServerConfig(max_message_size=10), TRANSACTION)
    # RFC 3030 §2: once a chunk is refused the transaction is over; the LAST chunk pipelined
    # behind it meets an empty session, is read and dropped, and nothing is delivered.
    wire = node.feed(b"BDAT 6\r\n123456BDAT 6\r\nabcdefBDAT 2 LAST\r\nQ\n")
    assert wire == b"250 2.0.0 Ok: 6 bytes\r\n" + FILE_TOO_BIG + NEED_RCPT
    assert node.messages == [], "a truncated message was delivered"
    assert node.of(ev.Bdat) == [ev.Bdat(6, False)]
    assert node.state() is State.READY
    assert node.feed(b"NOOP\r\n") == OK


def test_refused_first_bdat_chunk_discards_the_pipelined_rest(bytewise: bool) -> None:
    node = session(bytewise, ServerConfig(max_message_size=10), TRANSACTION)
    wire = node.feed(b"BDAT 20\r\n" + b"x" * 20 + b"BDAT 5 LAST\r\nhello")
    assert wire == FILE_TOO_BIG + NEED_RCPT
    assert node.messages == [], "a truncated message was delivered"
    assert node.of(ev.Bdat) == []
    assert node.state() is State.READY
    # The transaction is gone: a recipient needs a new MAIL first.
    assert node.feed(RCPT + b"NOOP\r\n") == NEED_MAIL + OK


@pytest.mark.parametrize(
    "rcpt", [b"", f"RCPT TO:<{UNKNOWN_USER}>\r\n".encode()], ids=["no rcpt tried", "all rcpts refused"]
)
def test_bdat_without_a_valid_recipient_ends_the_transaction(bytewise: bool, rcpt: bytes) -> None:
    node = session(bytewise, prefix=EHLO + MAIL + rcpt)
    assert node.state() is State.MAIL
    # Both chunks hold a bare LF and a command: they are skipped whole, never parsed.
    wire = node.feed(b"BDAT 6\r\nQUIT\r\nBDAT 5 LAST\r\nRSET\nNOOP\r\n")
    assert wire == NO_VALID_RECIPIENTS + NEED_RCPT + OK
    assert node.messages == []
    assert node.of(ev.Bdat) == []
    assert node.of(ev.Quit) == []
    assert node.state() is State.READY
    assert not node.server.closed


@pytest.mark.parametrize(
    "line",
    [
        b"BDAT\r\n",
        b"BDAT x\r\n",
        b"BDAT -1\r\n",
        b"BDAT 5 FIRST\r\n",
        b"BDAT 5 LAST now\r\n",
        b"BDAT " + b"9" * 21 + b"\r\n",
    ],
)
def test_bdat_with_a_bad_size_is_501_and_closes(bytewise: bool, line: bytes) -> None:
    node = session(bytewise, prefix=TRANSACTION)
    assert node.feed(line + b"abcde" + b"NOOP\r\n") == b"501 5.5.4 Syntax: BDAT count [LAST]\r\n"
    assert node.messages == []
    assert_closed(node)


# --- STARTTLS (RFC 3207) ---------------------------------------------------------------------------------

TLS = ServerConfig(starttls=True)
EHLO_BEFORE_TLS = (
    b"250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-STARTTLS\r\n"
    b"250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"
)
EHLO_AFTER_TLS = (
    b"250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-VRFY\r\n250-AUTH PLAIN LOGIN\r\n"
    b"250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n"
)
READY_TLS = b"220 2.0.0 Ready to start TLS\r\n"


def test_starttls_offered_then_accepted(bytewise: bool) -> None:
    node = session(bytewise, TLS, b"")
    assert node.feed(EHLO) == EHLO_BEFORE_TLS
    assert node.feed(b"STARTTLS\r\n") == READY_TLS
    assert node.events[-1] == ev.StartTLS()
    assert node.state() is State.STARTTLS


def test_input_pipelined_after_starttls_is_discarded() -> None:
    node = session(config=TLS)
    assert node.feed(b"STARTTLS\r\nMAIL FROM:<evil@example.net>\r\nRCPT TO:<bob@example.org>\r\n") == READY_TLS
    assert [type(e) for e in node.events] == [ev.Ehlo, ev.StartTLS]
    node.server.tls_started()
    node.pump()
    assert node.server.data_to_send() == b""
    assert node.of(ev.MailFrom) == []


def test_after_tls_the_session_starts_over(bytewise: bool) -> None:
    node = session(bytewise, TLS, EHLO + b"STARTTLS\r\n")
    node.server.tls_started()
    assert node.state() is State.GREETED
    assert node.server.tls
    assert node.feed(MAIL) == b"503 5.5.1 Error: send HELO/EHLO first\r\n"
    assert node.feed(EHLO) == EHLO_AFTER_TLS  # no STARTTLS any more, and AUTH now offered
    assert node.feed(b"STARTTLS\r\n") == b"554 5.5.1 Error: TLS already active\r\n"
    node.feed(MAIL + RCPT + b"DATA\r\nhi\r\n.\r\n")
    (message,) = node.messages
    assert message.envelope.tls
    assert message.envelope.protocol == "ESMTPS"


def test_ehlo_before_tls_hides_auth_when_it_requires_tls() -> None:
    node = session(config=TLS, prefix=b"")
    assert b"AUTH" not in node.feed(EHLO)


def test_implicit_tls_offers_auth_and_no_starttls() -> None:
    node = session(config=ServerConfig(starttls=True, tls_active=True), prefix=b"")
    assert node.feed(EHLO) == EHLO_AFTER_TLS
    assert node.feed(b"STARTTLS\r\n") == b"554 5.5.1 Error: TLS already active\r\n"


def test_starttls_not_configured_is_502(bytewise: bool) -> None:
    node = session(bytewise)
    assert node.feed(b"STARTTLS\r\n") == b"502 5.5.1 Error: command not implemented\r\n"
    assert node.state() is State.READY


def test_tls_started_without_starttls_is_our_mistake() -> None:
    node = session(config=TLS)
    with pytest.raises(LocalProtocolError):
        node.server.tls_started()


def test_plaintext_arriving_before_the_handshake_ends_is_discarded(bytewise: bool) -> None:
    # CVE-2011-0411: clear text that arrives after STARTTLS, in the same read or a later
    # one, must not be executed once TLS is up.
    node = session(bytewise, TLS)
    assert node.feed(b"STARTTLS\r\nEHLO evil.example\r\n") == READY_TLS
    assert node.feed(b"MAIL FROM:<evil@example.net>\r\nRCPT TO:<bob@example.org>\r\n") == b""
    assert node.state() is State.STARTTLS
    node.server.tls_started()
    node.pump()
    assert node.server.data_to_send() == b""
    assert [type(e) for e in node.events] == [ev.Ehlo, ev.StartTLS]
    assert node.state() is State.GREETED
    # What comes after the handshake is read as usual, starting over from EHLO.
    assert node.feed(MAIL) == b"503 5.5.1 Error: send HELO/EHLO first\r\n"
    assert node.feed(EHLO) == EHLO_AFTER_TLS
    assert node.server.helo == "client.example"


# --- AUTH (RFC 4954) --------------------------------------------------------------------------------------

AUTH = ServerConfig(tls_active=True)


def test_auth_plain_with_initial_response(bytewise: bool) -> None:
    node = session(bytewise, AUTH)
    assert node.feed(b"AUTH PLAIN " + b64(b"\0alice\0secret") + b"\r\n") == AUTH_OK
    assert node.of(ev.Auth) == [ev.Auth("PLAIN")]
    assert node.of(ev.AuthCredentials) == [ev.AuthCredentials("PLAIN", "alice", "secret", "")]
    assert node.server.auth_user == "alice"
    node.feed(MAIL + RCPT + b"DATA\r\nhi\r\n.\r\n")
    (message,) = node.messages
    assert message.envelope.auth_user == "alice"
    assert message.envelope.protocol == "ESMTPSA"


def test_auth_plain_with_empty_challenge(bytewise: bool) -> None:
    node = session(bytewise, AUTH)
    assert node.feed(b"auth plain\r\n") == b"334 \r\n"  # RFC 4954 §4: "334" SP, even when empty
    assert node.state() is State.AUTH
    assert node.feed(b64(b"admin\0alice\0secret") + b"\r\n") == AUTH_OK
    assert node.of(ev.AuthCredentials) == [ev.AuthCredentials("PLAIN", "alice", "secret", "admin")]


def test_auth_login_challenge_and_response(bytewise: bool) -> None:
    node = session(bytewise, AUTH)
    assert node.feed(b"AUTH LOGIN\r\n") == USERNAME_PROMPT
    assert node.feed(b64(b"alice") + b"\r\n") == PASSWORD_PROMPT
    assert node.feed(b64(b"secret") + b"\r\n") == AUTH_OK
    assert node.server.auth_user == "alice"
    assert node.state() is State.READY


def test_auth_login_with_initial_response(bytewise: bool) -> None:
    node = session(bytewise, AUTH)
    assert node.feed(b"AUTH LOGIN " + b64(b"alice") + b"\r\n") == PASSWORD_PROMPT
    assert node.feed(b64(b"secret") + b"\r\n") == AUTH_OK


def test_auth_wrong_password_may_be_retried(bytewise: bool) -> None:
    node = session(bytewise, AUTH)
    wire = node.feed(b"AUTH PLAIN " + b64(b"\0alice\0guess") + b"\r\n")
    assert wire == AUTH_FAILED
    assert node.server.auth_user is None
    assert node.state() is State.READY
    assert node.feed(b"AUTH PLAIN " + b64(b"\0alice\0secret") + b"\r\n") == AUTH_OK


@pytest.mark.parametrize(
    ("steps", "wire"),
    [
        ([b"AUTH PLAIN\r\n", b"*\r\n"], b"501 5.7.0 Authentication aborted\r\n"),
        ([b"AUTH LOGIN\r\n", b"*\r\n"], b"501 5.7.0 Authentication aborted\r\n"),
        ([b"AUTH LOGIN\r\n", b64(b"alice") + b"\r\n", b"*\r\n"], b"501 5.7.0 Authentication aborted\r\n"),
        ([b"AUTH PLAIN !!!notbase64\r\n"], b"501 5.5.2 Cannot decode response\r\n"),
        ([b"AUTH LOGIN\r\n", b"@@@\r\n"], b"501 5.5.2 Cannot decode response\r\n"),
        # Valid base64 that is not what PLAIN expects (RFC 4616 §2) fails like a wrong password.
        ([b"AUTH PLAIN " + b64(b"alice secret") + b"\r\n"], AUTH_FAILED),
        ([b"AUTH PLAIN " + b64(b"\0alice") + b"\r\n"], AUTH_FAILED),
        ([b"AUTH PLAIN " + b64(b"\0\0secret") + b"\r\n"], AUTH_FAILED),
        ([b"AUTH PLAIN\r\n", b64(b"a\0b\0c\0d") + b"\r\n"], AUTH_FAILED),
        ([b"AUTH PLAIN " + b64(b"\0\xff\0secret") + b"\r\n"], AUTH_FAILED),
        ([b"AUTH LOGIN\r\n", b64(b"\xff") + b"\r\n"], AUTH_FAILED),
        ([b"AUTH CRAM-MD5\r\n"], b"504 5.5.4 Unrecognized authentication type\r\n"),
        ([b"AUTH XOAUTH2 abc\r\n"], b"504 5.5.4 Unrecognized authentication type\r\n"),
    ],
    ids=[
        "plain *",
        "login * user",
        "login * password",
        "plain bad base64",
        "login bad base64",
        "plain no nul",
        "plain one nul",
        "plain empty user",
        "plain three nuls",
        "plain not utf-8",
        "login not utf-8",
        "cram",
        "xoauth2",
    ],
)
def test_auth_failures_return_to_ready(bytewise: bool, steps: list[bytes], wire: bytes) -> None:
    node = session(bytewise, AUTH)
    for step in steps[:-1]:
        node.feed(step)
    assert node.feed(steps[-1]) == wire
    assert node.state() is State.READY
    assert node.server.auth_user is None
    assert node.of(ev.AuthCredentials) == []
    assert node.feed(b"NOOP\r\n") == OK


def test_auth_before_tls_when_required_is_530(bytewise: bool) -> None:
    node = session(bytewise, TLS)
    assert node.feed(b"AUTH PLAIN " + b64(b"\0alice\0secret") + b"\r\n") == (
        b"530 5.7.0 Must issue a STARTTLS command first\r\n"
    )
    assert node.of(ev.AuthCredentials) == []


def test_second_auth_is_503(bytewise: bool) -> None:
    node = session(bytewise, AUTH)
    node.feed(b"AUTH PLAIN " + b64(b"\0alice\0secret") + b"\r\n")
    assert node.feed(b"AUTH LOGIN\r\n") == b"503 5.5.1 Error: already authenticated\r\n"
    assert node.state() is State.READY


def test_auth_not_enabled_is_503(bytewise: bool) -> None:
    node = session(bytewise, ServerConfig(tls_active=True, auth_mechanisms=()), b"")
    assert b"AUTH" not in node.feed(EHLO)
    assert node.feed(b"AUTH PLAIN\r\n") == b"503 5.5.1 Error: authentication not enabled\r\n"


def test_overlong_sasl_response(bytewise: bool) -> None:
    node = session(bytewise, AUTH)
    node.feed(b"AUTH LOGIN\r\n")
    assert node.feed(b"A" * 13_000 + b"\r\n") == b"500 5.5.6 Authentication Exchange line is too long\r\n"
    assert node.state() is State.READY


# --- VRFY, HELP, NOOP, RSET, QUIT --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "argument", "wire"),
    [
        (b"VRFY bob\r\n", "bob", b"252 2.0.0 bob@example.org\r\n"),
        (b"VRFY <bob@example.org>\r\n", "bob@example.org", b"252 2.0.0 bob@example.org\r\n"),
        (
            b"VRFY nobody\r\n",
            "nobody",
            b"550 5.1.1 <nobody>: Recipient address rejected: User unknown in local recipient table\r\n",
        ),
    ],
)
def test_vrfy_asks_the_node(bytewise: bool, line: bytes, argument: str, wire: bytes) -> None:
    node = session(bytewise, prefix=TRANSACTION)
    assert node.feed(line) == wire
    assert node.of(ev.Vrfy) == [ev.Vrfy(argument)]
    assert node.state() is State.RCPT


def test_vrfy_disabled(bytewise: bool) -> None:
    node = session(bytewise, ServerConfig(vrfy=False), b"")
    assert b"VRFY" not in node.feed(EHLO)
    assert node.feed(b"VRFY bob\r\n") == b"502 5.5.1 VRFY command is disabled\r\n"
    assert node.of(ev.Vrfy) == []


def test_help_lists_the_commands_on_offer(bytewise: bool) -> None:
    node = session(bytewise)
    assert node.feed(b"HELP\r\n") == (
        b"214-2.0.0 Commands:\r\n"
        b"214-2.0.0 BDAT DATA EHLO HELO HELP MAIL NOOP QUIT RCPT RSET VRFY\r\n"
        b"214 2.0.0 End of HELP info\r\n"
    )
    assert node.events[-1] == ev.Help("")


def test_noop_changes_nothing(bytewise: bool) -> None:
    node = session(bytewise, prefix=TRANSACTION)
    assert node.feed(b"NOOP\r\nNOOP ignored argument\r\n") == OK + OK
    assert node.state() is State.RCPT
    assert node.feed(b"DATA\r\nx\r\n.\r\n") == START_DATA + QUEUED


def test_rset_forgets_the_transaction(bytewise: bool) -> None:
    node = session(bytewise, prefix=TRANSACTION)
    assert node.feed(b"RSET\r\n") == OK
    assert node.state() is State.READY
    assert node.feed(b"DATA\r\n") == NEED_RCPT
    assert node.feed(RCPT) == NEED_MAIL
    node.feed(MAIL + b"RCPT TO:<carol@example.org>\r\nDATA\r\nx\r\n.\r\n")
    (message,) = node.messages
    assert [r.address for r in message.envelope.recipients] == ["carol@example.org"]


def test_rset_before_ehlo(bytewise: bool) -> None:
    node = session(bytewise, prefix=b"")
    assert node.feed(b"RSET\r\n") == OK
    assert node.state() is State.GREETED


def test_quit_says_bye_and_closes(bytewise: bool) -> None:
    node = session(bytewise, prefix=TRANSACTION)
    assert node.feed(b"QUIT\r\nNOOP\r\n") == BYE
    assert node.of(ev.Quit) == [ev.Quit()]
    assert node.messages == []
    assert_closed(node)


def test_shutdown_is_421(bytewise: bool) -> None:
    node = session(bytewise)
    node.server.shutdown()
    node.pump()
    assert node.server.data_to_send() == (
        b"421 4.3.2 mx.example.org Service shutting down, closing transmission channel\r\n"
    )
    assert_closed(node)


# --- misbehaving clients -------------------------------------------------------------------------------------


def test_client_speaking_before_the_greeting_gets_554_and_is_closed(bytewise: bool) -> None:
    node = Node(greet=False, bytewise=bytewise)
    assert node.greeting == b""
    assert node.feed(EHLO) == b""
    assert node.events == []
    node.server.greet()
    assert node.server.data_to_send() == b"554 5.5.0 Error: improper use of SMTP command pipelining\r\n"
    assert node.server.closed
    assert node.of(ev.Ehlo) == []


def test_client_speaking_before_the_greeting_gets_connection_closed_event(bytewise: bool) -> None:
    # Like every other way the server hangs up (QUIT, 421, bare LF, shutdown).
    node = Node(greet=False, bytewise=bytewise)
    node.feed(EHLO)
    node.server.greet()
    node.pump()
    assert node.server.data_to_send() == b"554 5.5.0 Error: improper use of SMTP command pipelining\r\n"
    assert node.events == [ev.ConnectionClosed("the client spoke before the greeting")]
    assert_closed(node)


def test_late_greeting() -> None:
    node = Node(greet=False)
    assert node.state() is State.CONNECTED
    node.server.greet()
    assert node.server.data_to_send() == GREETING
    assert node.feed(EHLO) == EHLO_REPLY
    with pytest.raises(LocalProtocolError):
        node.server.greet()


@pytest.mark.parametrize(
    "request_line",
    [b"GET / HTTP/1.1\r\n", b"POST /login HTTP/1.1\r\n", b"CONNECT mx.example.org:25 HTTP/1.1\r\n", b"Host: x\r\n"],
)
def test_http_request_is_221_and_closed(bytewise: bool, request_line: bytes) -> None:
    node = session(bytewise, prefix=b"")
    wire = node.feed(request_line + b"Host: mx.example.org\r\nUser-Agent: curl\r\n\r\n")
    assert wire == b"221 2.7.0 Error: I can break rules, too. Goodbye.\r\n"
    assert_closed(node)


def test_eof_mid_data_stores_nothing(bytewise: bool) -> None:
    node = session(bytewise, prefix=TRANSACTION + b"DATA\r\nSubject: cut\r\n\r\nhalf a messa")
    assert node.eof() == b""
    assert node.messages == []
    assert isinstance(node.events[-1], ev.ConnectionClosed)
    assert node.server.closed


def test_eof_mid_bdat_chunk_stores_nothing(bytewise: bool) -> None:
    node = session(bytewise, prefix=TRANSACTION + b"BDAT 100 LAST\r\nonly part")
    assert node.eof() == b""
    assert node.messages == []
    assert isinstance(node.events[-1], ev.ConnectionClosed)


def test_eof_between_commands(bytewise: bool) -> None:
    node = session(bytewise, prefix=TRANSACTION)
    assert node.eof() == b""
    assert node.events[-1] == node.closed_events[0]
    assert node.server.closed


# --- the node's side of the contract ---------------------------------------------------------------------------


def test_events_again_without_answering_raises() -> None:
    server = SMTPServer()
    server.receive_data(EHLO + MAIL)
    first = server.events()
    assert next(first) == ev.Ehlo("client.example")
    assert isinstance(next(first), ev.MailFrom)
    # The node drops that iterator and asks again without answering MAIL.
    with pytest.raises(LocalProtocolError):
        next(server.events())
    server.send(replies.SENDER_OK)  # answering puts things right
    assert list(server.events()) == []


def test_continuing_the_same_iterator_without_answering_raises() -> None:
    server = SMTPServer()
    server.receive_data(EHLO + MAIL + RCPT)
    events = server.events()
    next(events)
    assert isinstance(next(events), ev.MailFrom)
    with pytest.raises(LocalProtocolError):
        next(events)


def test_send_with_nothing_pending_raises() -> None:
    server = SMTPServer()
    with pytest.raises(LocalProtocolError):
        server.send(replies.OK)
    server.receive_data(EHLO + b"NOOP\r\n")
    assert [type(e) for e in server.events()] == [ev.Ehlo, ev.Noop]
    with pytest.raises(LocalProtocolError):
        server.send(replies.OK)


def test_answering_twice_raises() -> None:
    server = SMTPServer()
    server.receive_data(EHLO + MAIL)
    events = server.events()
    next(events)
    assert isinstance(next(events), ev.MailFrom)
    server.send(replies.SENDER_OK)
    with pytest.raises(LocalProtocolError):
        server.send(replies.SENDER_OK)


def test_outgoing_pairs_each_reply_with_its_bytes() -> None:
    server = SMTPServer()
    server.receive_data(EHLO + b"FOO\r\nNOOP\r\n")
    list(server.events())
    outputs = server.outgoing()
    assert [o.reply.code for o in outputs] == [220, 250, 502, 250]
    assert all(o.data == format_reply(o.reply) for o in outputs)
    assert all(o.reply.explain and o.reply.rfc for o in outputs)
    assert server.outgoing() == []


def test_without_enhanced_status_codes(bytewise: bool) -> None:
    node = session(bytewise, ServerConfig(enhanced_status_codes=False), b"")
    assert b"ENHANCEDSTATUSCODES" not in node.feed(EHLO)
    assert node.feed(MAIL + b"FOO\r\n") == b"250 Ok\r\n502 Error: command not recognized\r\n"
