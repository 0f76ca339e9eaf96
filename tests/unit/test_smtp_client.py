"""SMTPClient driven by scripted server replies, and against SMTPServer in memory.

No sockets: `Session` plays the server's side by feeding reply bytes, and records the
events the client reports. The last tests pump bytes between a real SMTPServer and the
client, with a small node answering the server's questions.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from simulator.protocol.errors import LocalProtocolError
from simulator.protocol.smtp import events as ev
from simulator.protocol.smtp import replies
from simulator.protocol.smtp.client import (
    LOST_AFTER_DOT,
    LOST_CONNECTION,
    NEEDS_SMTPUTF8,
    TLS_REQUIRED,
    TOO_BIG,
    ClientConfig,
    OutgoingMessage,
    SMTPClient,
)
from simulator.protocol.smtp.replies import Reply
from simulator.protocol.smtp.server import NEEDS_REPLY, ServerConfig, SMTPServer

GREETING = b"220 mx.example.org ESMTP\r\n"
SENDER_OK = b"250 2.1.0 Ok\r\n"
RECIPIENT_OK = b"250 2.1.5 Ok\r\n"
START_DATA = b"354 End data with <CR><LF>.<CR><LF>\r\n"
QUEUED = b"250 2.0.0 Ok: queued as 4F2A1B\r\n"
OK = b"250 2.0.0 Ok\r\n"
BYE = b"221 2.0.0 Bye\r\n"
UNKNOWN_USER = b"550 5.1.1 <carol@example.org>: Recipient address rejected: User unknown\r\n"
TOO_MANY = b"452 4.5.3 Error: too many recipients\r\n"
GREYLISTED = b"450 4.2.0 <dave@example.org>: Recipient address rejected: Greylisted\r\n"
NO_VALID_RECIPIENTS = b"554 5.5.1 Error: no valid recipients\r\n"
SHUTTING_DOWN = b"421 4.3.2 mx.example.org Service shutting down, closing transmission channel\r\n"

EHLO = b"EHLO client.example.com\r\n"
QUIT = b"QUIT\r\n"
RSET = b"RSET\r\n"
MAIL = b"MAIL FROM:<alice@example.com>\r\n"
BOB = b"RCPT TO:<bob@example.org>\r\n"
CAROL = b"RCPT TO:<carol@example.org>\r\n"
DATA = b"DATA\r\n"

CONTENT = b"Subject: hi\r\n\r\nHello Bob\r\n"
ONE = OutgoingMessage("alice@example.com", ("bob@example.org",), CONTENT)
TWO = OutgoingMessage("alice@example.com", ("bob@example.org", "carol@example.org"), CONTENT)


def ehlo_reply(*keywords: str, host: str = "mx.example.org") -> bytes:
    """A 250 reply to EHLO naming these extensions, one per line."""
    lines = [host, *keywords]
    last = len(lines) - 1
    return b"".join(f"250{'-' if i < last else ' '}{line}\r\n".encode() for i, line in enumerate(lines))


def b64(data: bytes) -> bytes:
    return base64.b64encode(data)


class Session:
    """A client with its messages queued, fed replies by the test."""

    def __init__(self, *messages: OutgoingMessage, config: ClientConfig | None = None, quit: bool = True) -> None:
        self.client = SMTPClient(config)
        for message in messages:
            self.client.send_message(message)
        if quit:
            self.client.quit()
        self.events: list[ev.Event] = list(self.client.events())

    def feed(self, data: bytes) -> bytes:
        """Deliver server bytes; return what the client writes in answer."""
        self.client.receive_data(data)
        self.events += self.client.events()
        return self.client.data_to_send()

    def open(self, *keywords: str) -> bytes:
        """Greet, answer EHLO with these extensions; return what the client writes next."""
        assert self.feed(GREETING) == EHLO
        return self.feed(ehlo_reply(*keywords))

    def of(self, kind: type[ev.Event]) -> list[ev.Event]:
        return [e for e in self.events if isinstance(e, kind)]

    def results(self) -> list[ev.MessageResult]:
        return [e for e in self.events if isinstance(e, ev.MessageResult)]

    def status(self, index: int = 1) -> dict[str, tuple[str, int]]:
        """Recipient -> (status, reply code) for message `index`."""
        (result,) = [r for r in self.results() if r.index == index]
        return {r.recipient: (r.status, r.reply.code) for r in result.recipients}


# --- greeting, EHLO, HELO ------------------------------------------------------------


def test_client_waits_for_the_greeting_then_sends_ehlo() -> None:
    session = Session(ONE, config=ClientConfig(local_hostname="laptop.example.com"))
    assert session.client.data_to_send() == b""  # RFC 5321 §3.1: the server speaks first
    assert session.feed(GREETING) == b"EHLO laptop.example.com\r\n"
    (greeting,) = session.of(ev.Greeting)
    assert isinstance(greeting, ev.Greeting)
    assert greeting.reply.code == 220
    assert greeting.reply.lines == ("mx.example.org ESMTP",)


def test_ehlo_keywords_become_capabilities() -> None:
    session = Session(ONE)
    session.open("PIPELINING", "SIZE 10240000", "auth PLAIN LOGIN", "8BITMIME", "ENHANCEDSTATUSCODES")
    (caps,) = session.of(ev.Capabilities)
    assert caps == ev.Capabilities(
        {"PIPELINING": "", "SIZE": "10240000", "AUTH": "PLAIN LOGIN", "8BITMIME": "", "ENHANCEDSTATUSCODES": ""},
        esmtp=True,
    )
    assert session.client.esmtp


def test_ehlo_refused_with_5xx_falls_back_to_helo_without_esmtp_parameters() -> None:
    message = OutgoingMessage(
        "alice@example.com",
        ("bob@example.org",),
        "Subject: Grüße\r\n\r\n8-bit body\r\n".encode(),
        notify=("SUCCESS", "FAILURE"),
        ret="HDRS",
        envid="env-1",
    )
    session = Session(message)
    assert session.feed(GREETING) == EHLO
    assert session.feed(b"502 5.5.2 Error: command not recognized\r\n") == b"HELO client.example.com\r\n"
    # HELO means plain RFC 821 SMTP: no SIZE, BODY, SMTPUTF8, RET, ENVID or NOTIFY.
    assert session.feed(b"250 mx.example.org\r\n") == MAIL
    assert session.of(ev.Capabilities) == [ev.Capabilities({}, esmtp=False)]
    assert not session.client.esmtp
    assert session.feed(SENDER_OK) == BOB
    assert session.feed(RECIPIENT_OK) == DATA


def test_ehlo_refused_with_4xx_gives_up_and_defers() -> None:
    session = Session(ONE)
    session.feed(GREETING)
    assert session.feed(b"451 4.3.0 Try again later\r\n") == QUIT
    assert session.status() == {"bob@example.org": ("deferred", 451)}
    assert len(session.of(ev.SessionFailed)) == 1


def test_554_greeting_fails_the_session_quits_and_reports_every_queued_message() -> None:
    session = Session(ONE, TWO)
    assert session.feed(b"554 5.7.1 mx.example.org no SMTP service here\r\n") == QUIT
    (failed,) = session.of(ev.SessionFailed)
    assert isinstance(failed, ev.SessionFailed)
    assert failed.reply is not None
    assert failed.reply.code == 554
    assert [r.index for r in session.results()] == [1, 2]
    assert session.status(1) == {"bob@example.org": ("failed", 554)}
    assert session.status(2) == {"bob@example.org": ("failed", 554), "carol@example.org": ("failed", 554)}
    assert session.feed(BYE) == b""
    assert isinstance(session.events[-1], ev.ConnectionClosed)
    assert session.client.closed


# --- pipelining or lock-step ---------------------------------------------------------


def test_with_pipelining_mail_every_rcpt_and_data_go_out_in_one_write() -> None:
    session = Session(TWO)
    assert session.open("PIPELINING") == MAIL + BOB + CAROL + DATA
    # Everything up to DATA is in flight; the content waits for 354 (RFC 2920 §3.1).
    assert session.feed(SENDER_OK + RECIPIENT_OK) == b""
    assert session.feed(RECIPIENT_OK + START_DATA) == CONTENT + b".\r\n"
    assert session.feed(QUEUED) == QUIT


@pytest.mark.parametrize(
    ("keywords", "config"),
    [((), ClientConfig()), (("PIPELINING",), ClientConfig(pipelining=False))],
    ids=["not-offered", "offered-but-disabled"],
)
def test_without_pipelining_one_command_per_reply(keywords: tuple[str, ...], config: ClientConfig) -> None:
    session = Session(TWO, config=config)
    assert session.open(*keywords) == MAIL
    assert session.feed(SENDER_OK) == BOB
    assert session.feed(RECIPIENT_OK) == CAROL
    assert session.feed(RECIPIENT_OK) == DATA
    assert session.feed(START_DATA) == CONTENT + b".\r\n"
    assert session.feed(QUEUED) == QUIT


# --- per-recipient results -----------------------------------------------------------


def test_each_recipient_gets_its_own_verdict() -> None:
    message = OutgoingMessage(
        "alice@example.com", ("bob@example.org", "carol@example.org", "dave@example.org", "erin@example.org"), CONTENT
    )
    session = Session(message)
    session.open("PIPELINING")
    wire = session.feed(SENDER_OK + RECIPIENT_OK + UNKNOWN_USER + GREYLISTED + TOO_MANY + START_DATA)
    assert wire == CONTENT + b".\r\n"  # one recipient accepted is enough to send
    assert session.results() == []  # nothing is settled before the final reply
    assert session.feed(QUEUED) == QUIT
    assert session.status() == {
        "bob@example.org": ("sent", 250),
        "carol@example.org": ("failed", 550),
        "dave@example.org": ("deferred", 450),
        "erin@example.org": ("deferred", 452),
    }
    (result,) = session.results()
    assert result.sent == ("bob@example.org",)
    assert result.recipients[0].reply.lines == ("Ok: queued as 4F2A1B",)
    assert result.recipients[1].reply.enhanced == "5.1.1"


def test_all_recipients_refused_without_pipelining_sends_no_data_but_rset() -> None:
    session = Session(TWO, config=ClientConfig(pipelining=False))
    session.open()
    session.feed(SENDER_OK)
    assert session.feed(UNKNOWN_USER) == CAROL
    assert session.feed(TOO_MANY) == RSET  # not DATA: nobody would receive it
    assert session.status() == {"bob@example.org": ("failed", 550), "carol@example.org": ("deferred", 452)}
    assert session.feed(OK) == QUIT


def test_all_recipients_refused_with_pipelining_data_gets_554_then_rset_and_no_content() -> None:
    session = Session(TWO)
    assert session.open("PIPELINING") == MAIL + BOB + CAROL + DATA
    assert session.feed(SENDER_OK + UNKNOWN_USER + GREYLISTED + NO_VALID_RECIPIENTS) == RSET
    assert session.status() == {"bob@example.org": ("failed", 550), "carol@example.org": ("deferred", 450)}
    assert session.feed(OK) == QUIT


def test_all_refused_with_pipelining_but_354_anyway_sends_an_empty_message() -> None:
    """RFC 2920 §3.1: a server that says 354 with no recipient gets only the terminating dot."""
    session = Session(TWO)
    session.open("PIPELINING")
    assert session.feed(SENDER_OK + UNKNOWN_USER + UNKNOWN_USER + START_DATA) == b".\r\n"
    assert session.feed(b"554 5.5.1 Error: no valid recipients\r\n") == QUIT
    assert session.status() == {"bob@example.org": ("failed", 550), "carol@example.org": ("failed", 550)}


@pytest.mark.parametrize(
    ("final", "status"),
    [(b"451 4.3.0 Error: queue file write error\r\n", "deferred"), (b"554 5.7.1 Spam\r\n", "failed")],
)
@pytest.mark.parametrize("pipelining", [True, False])
def test_final_reply_to_the_content_decides_for_accepted_recipients(
    final: bytes, status: str, pipelining: bool
) -> None:
    session = Session(TWO, config=ClientConfig(pipelining=pipelining))
    session.open("PIPELINING")
    for reply in (SENDER_OK, RECIPIENT_OK, UNKNOWN_USER):
        session.feed(reply)
    assert session.feed(START_DATA) == CONTENT + b".\r\n"
    session.feed(final)
    code = int(final[:3])
    assert session.status() == {"bob@example.org": (status, code), "carol@example.org": ("failed", 550)}


@pytest.mark.parametrize(
    ("refusal", "status"), [(b"451 4.3.0 Try later\r\n", "deferred"), (b"553 5.7.1 Sender rejected\r\n", "failed")]
)
def test_mail_refused_without_pipelining_gives_every_recipient_its_status(refusal: bytes, status: str) -> None:
    session = Session(TWO, config=ClientConfig(pipelining=False))
    session.open()
    assert session.feed(refusal) == QUIT  # no RCPT, and no RSET: no transaction is open
    code = int(refusal[:3])
    assert session.status() == {"bob@example.org": (status, code), "carol@example.org": (status, code)}


@pytest.mark.parametrize(
    ("refusal", "status"), [(b"451 4.3.0 Try later\r\n", "deferred"), (b"553 5.7.1 Sender rejected\r\n", "failed")]
)
def test_mail_refused_with_pipelining_ignores_the_replies_that_follow(refusal: bytes, status: str) -> None:
    session = Session(TWO)
    session.open("PIPELINING")
    need_mail = b"503 5.5.1 Error: need MAIL command\r\n"
    assert session.feed(refusal + need_mail) == b""  # still waiting for the other replies in flight
    assert session.results() == []
    assert session.feed(need_mail + need_mail) == QUIT
    code = int(refusal[:3])
    assert session.status() == {"bob@example.org": (status, code), "carol@example.org": (status, code)}


# --- MAIL parameters -----------------------------------------------------------------


def test_size_parameter_is_sent_when_offered() -> None:
    session = Session(ONE)
    assert session.open("SIZE 10240000") == f"MAIL FROM:<alice@example.com> SIZE={len(CONTENT)}\r\n".encode()
    other = Session(ONE)
    assert other.open("PIPELINING") == MAIL + BOB + DATA


def test_message_over_the_advertised_size_fails_locally_without_mail() -> None:
    big = OutgoingMessage("alice@example.com", ("bob@example.org",), b"x" * 2000 + b"\r\n")
    session = Session(big, ONE)
    wire = session.open("PIPELINING", "SIZE 1000")
    assert f"SIZE={len(big.content)}".encode() not in wire  # the big one never reaches the wire
    (first,) = [r for r in session.results() if r.index == 1]
    assert first.recipients == (ev.RecipientResult("bob@example.org", "failed", TOO_BIG),)
    assert (TOO_BIG.code, TOO_BIG.enhanced) == (552, "5.3.4")


def test_local_refusal_sends_no_rset_and_moves_on() -> None:
    big = OutgoingMessage("alice@example.com", ("bob@example.org",), b"x" * 2000 + b"\r\n")
    session = Session(big, ONE)
    wire = session.open("PIPELINING", "SIZE 1000")
    assert wire == f"MAIL FROM:<alice@example.com> SIZE={len(CONTENT)}\r\n".encode() + BOB + DATA


@pytest.mark.parametrize(
    ("content", "offered", "expected"),
    [
        ("Subject: Grüße\r\n\r\nGrüße\r\n".encode(), True, b" BODY=8BITMIME"),
        ("Subject: Grüße\r\n\r\nGrüße\r\n".encode(), False, b""),
        (b"Subject: hi\r\n\r\nplain ASCII\r\n", True, b""),
    ],
    ids=["8bit-offered", "8bit-not-offered", "7bit-offered"],
)
def test_body_8bitmime_only_for_8bit_content_when_offered(content: bytes, offered: bool, expected: bytes) -> None:
    session = Session(OutgoingMessage("alice@example.com", ("bob@example.org",), content))
    wire = session.open(*(["8BITMIME"] if offered else []))
    assert wire == b"MAIL FROM:<alice@example.com>" + expected + b"\r\n"


def test_smtputf8_parameter_for_a_non_ascii_address_when_offered() -> None:
    message = OutgoingMessage("alice@example.com", ("dörte@example.org",), CONTENT)
    session = Session(message)
    wire = session.open("PIPELINING", "SMTPUTF8")
    assert wire == MAIL[:-2] + b" SMTPUTF8\r\n" + "RCPT TO:<dörte@example.org>\r\n".encode() + DATA


def test_non_ascii_address_without_smtputf8_fails_locally_with_553_5_6_7() -> None:
    message = OutgoingMessage("alice@example.com", ("dörte@example.org", "bob@example.org"), CONTENT)
    session = Session(message)
    wire = session.open("PIPELINING", "8BITMIME")
    assert b"MAIL" not in wire and b"RCPT" not in wire
    assert session.status() == {"dörte@example.org": ("failed", 553), "bob@example.org": ("failed", 553)}
    (result,) = session.results()
    assert all(r.reply == NEEDS_SMTPUTF8 for r in result.recipients)
    assert NEEDS_SMTPUTF8.enhanced == "5.6.7"


DSN_MESSAGE = OutgoingMessage(
    "alice@example.com",
    ("bob@example.org",),
    CONTENT,
    notify=("SUCCESS", "FAILURE"),
    ret="HDRS",
    envid="q+1=a b",
)


def test_dsn_parameters_when_dsn_is_offered_with_envid_as_xtext() -> None:
    session = Session(DSN_MESSAGE)
    wire = session.open("PIPELINING", "DSN")
    assert wire == (
        b"MAIL FROM:<alice@example.com> RET=HDRS ENVID=q+2B1+3Da+20b\r\n"  # RFC 3461 §4: '+', '=', ' ' as +XX
        b"RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE\r\n" + DATA
    )


def test_no_dsn_parameters_when_dsn_is_not_offered() -> None:
    session = Session(DSN_MESSAGE)
    assert session.open("PIPELINING", "SIZE 1000") == (
        f"MAIL FROM:<alice@example.com> SIZE={len(CONTENT)}\r\n".encode() + BOB + DATA
    )


# --- framing the content -------------------------------------------------------------


def test_data_is_dot_stuffed_and_ends_with_crlf_dot_crlf() -> None:
    content = b".starts with a dot\r\nmiddle\r\n.\r\n..two\r\nno final newline"
    session = Session(OutgoingMessage("alice@example.com", ("bob@example.org",), content))
    session.open("PIPELINING")
    wire = session.feed(SENDER_OK + RECIPIENT_OK + START_DATA)
    assert wire == b"..starts with a dot\r\nmiddle\r\n..\r\n...two\r\nno final newline\r\n.\r\n"


def test_bdat_sends_exact_chunks_without_dot_stuffing() -> None:
    content = b".dot\r\n.\r\nend"  # 12 octets: chunks of 5, 5 and 2
    config = ClientConfig(chunking=True, chunk_size=5)
    session = Session(OutgoingMessage("alice@example.com", ("bob@example.org",), content), config=config)
    wire = session.open("PIPELINING", "CHUNKING")
    # RFC 3030 §4: BDAT may be pipelined with MAIL and RCPT; the octets follow each command.
    assert wire == MAIL + BOB + b"BDAT 5\r\n.dot\rBDAT 5\r\n\n.\r\neBDAT 2 LAST\r\nnd"
    assert session.feed(SENDER_OK + RECIPIENT_OK + b"250 2.0.0 Ok: 5 bytes\r\n" * 2) == b""
    assert session.feed(QUEUED) == QUIT
    assert session.status() == {"bob@example.org": ("sent", 250)}


def test_bdat_without_pipelining_waits_for_each_chunk_reply() -> None:
    config = ClientConfig(chunking=True, chunk_size=4, pipelining=False)
    session = Session(OutgoingMessage("alice@example.com", ("bob@example.org",), b"abcdef"), config=config)
    assert session.open("CHUNKING") == MAIL
    assert session.feed(SENDER_OK) == BOB
    assert session.feed(RECIPIENT_OK) == b"BDAT 4\r\nabcd"
    assert session.feed(b"250 2.0.0 Ok: 4 bytes\r\n") == b"BDAT 2 LAST\r\nef"
    assert session.feed(QUEUED) == QUIT


@pytest.mark.parametrize(
    ("config", "keywords"),
    [(ClientConfig(chunking=True), ("PIPELINING",)), (ClientConfig(), ("PIPELINING", "CHUNKING"))],
    ids=["not-offered", "not-configured"],
)
def test_data_is_used_unless_chunking_is_both_configured_and_offered(
    config: ClientConfig, keywords: tuple[str, ...]
) -> None:
    session = Session(ONE, config=config)
    assert session.open(*keywords) == MAIL + BOB + DATA


# --- STARTTLS ------------------------------------------------------------------------


def test_opportunistic_starttls_upgrades_then_says_ehlo_again() -> None:
    session = Session(ONE, config=ClientConfig(starttls="opportunistic"))
    assert session.open("PIPELINING", "STARTTLS") == b"STARTTLS\r\n"
    assert session.feed(b"220 2.0.0 Ready to start TLS\r\n") == b""  # the host runs the handshake now
    assert session.of(ev.TLSReady) == [ev.TLSReady()]
    session.client.tls_started()
    assert session.client.data_to_send() == EHLO  # RFC 3207 §4.2: forget what was learnt, EHLO again
    assert session.client.tls


def test_tls_started_without_an_accepted_starttls_is_our_error() -> None:
    session = Session(ONE, config=ClientConfig(starttls="opportunistic"))
    session.open("STARTTLS")
    with pytest.raises(LocalProtocolError):
        session.client.tls_started()


def test_after_tls_the_new_capabilities_replace_the_old() -> None:
    session = Session(ONE, config=ClientConfig(starttls="opportunistic"))
    session.open("PIPELINING", "STARTTLS", "SIZE 1000")
    session.feed(b"220 2.0.0 Ready to start TLS\r\n")
    session.client.tls_started()
    assert session.client.data_to_send() == EHLO
    assert session.feed(ehlo_reply("PIPELINING")) == MAIL + BOB + DATA  # no SIZE: not offered any more
    assert session.of(ev.Capabilities)[-1] == ev.Capabilities({"PIPELINING": ""}, esmtp=True)


def test_opportunistic_starttls_not_offered_sends_in_clear() -> None:
    session = Session(ONE, config=ClientConfig(starttls="opportunistic"))
    assert session.open("PIPELINING") == MAIL + BOB + DATA
    assert not session.client.tls


def test_required_starttls_not_offered_fails_the_session_and_quits() -> None:
    session = Session(ONE, config=ClientConfig(starttls="required"))
    assert session.open("PIPELINING", "AUTH PLAIN") == QUIT
    assert len(session.of(ev.SessionFailed)) == 1
    (result,) = session.results()
    assert [r.reply for r in result.recipients] == [TLS_REQUIRED]
    assert result.sent == ()
    session.feed(BYE)
    assert isinstance(session.events[-1], ev.ConnectionClosed)


def test_required_starttls_refused_fails_the_session_and_quits() -> None:
    session = Session(ONE, config=ClientConfig(starttls="required"))
    assert session.open("STARTTLS") == b"STARTTLS\r\n"
    assert session.feed(b"454 4.7.0 TLS not available due to local problem\r\n") == QUIT
    assert session.status() == {"bob@example.org": ("deferred", 454)}
    assert len(session.of(ev.SessionFailed)) == 1


def test_plaintext_injected_after_starttls_is_not_trusted_after_the_handshake() -> None:
    config = ClientConfig(starttls="opportunistic", username="alice", password="wonderland")
    session = Session(ONE, config=config)
    session.open("PIPELINING", "STARTTLS")
    # A man in the middle appends the start of a fake EHLO reply to the server's 220.
    session.feed(b"220 2.0.0 Ready to start TLS\r\n250-evil.example\r\n250-AUTH PLAIN\r\n")
    if session.of(ev.SessionFailed):
        return  # refusing to go on is a careful answer too
    session.client.tls_started()
    assert session.client.data_to_send() == EHLO
    wire = session.feed(ehlo_reply("PIPELINING"))  # the real, encrypted answer
    assert "AUTH" not in session.client.extensions
    assert b"AUTH" not in wire


# --- AUTH ----------------------------------------------------------------------------

AUTH_CONFIG = ClientConfig(username="alice", password="wonderland")


def test_auth_plain_sends_the_initial_response_then_mail() -> None:
    session = Session(ONE, config=AUTH_CONFIG)
    wire = session.open("PIPELINING", "AUTH PLAIN LOGIN")
    assert wire == b"AUTH PLAIN " + b64(b"\0alice\0wonderland") + b"\r\n"  # RFC 4616, RFC 4954 §4
    assert session.feed(b"235 2.7.0 Authentication successful\r\n") == MAIL + BOB + DATA
    assert session.of(ev.Authenticated) == [ev.Authenticated("alice")]
    assert session.client.authenticated


def test_auth_login_answers_each_334_challenge() -> None:
    session = Session(ONE, config=ClientConfig(username="alice", password="wonderland", auth_mechanisms=("LOGIN",)))
    assert session.open("AUTH PLAIN LOGIN") == b"AUTH LOGIN\r\n"
    assert session.feed(b"334 VXNlcm5hbWU6\r\n") == b64(b"alice") + b"\r\n"
    assert session.feed(b"334 UGFzc3dvcmQ6\r\n") == b64(b"wonderland") + b"\r\n"
    assert session.feed(b"235 2.7.0 Authentication successful\r\n") == MAIL
    assert session.of(ev.Authenticated) == [ev.Authenticated("alice")]


def test_auth_535_reports_auth_failed_and_quits_without_sending() -> None:
    session = Session(ONE, config=AUTH_CONFIG)
    session.open("AUTH PLAIN LOGIN")
    wire = session.feed(b"535 5.7.8 Error: authentication failed: authentication failure\r\n")
    assert wire == QUIT
    (failed,) = session.of(ev.AuthFailed)
    assert isinstance(failed, ev.AuthFailed)
    assert (failed.reply.code, failed.reply.enhanced) == (535, "5.7.8")
    assert len(session.of(ev.SessionFailed)) == 1
    assert session.results()[0].sent == ()
    assert not session.client.authenticated


def test_no_auth_when_the_server_does_not_offer_it() -> None:
    session = Session(ONE, config=AUTH_CONFIG)
    assert session.open("PIPELINING") == MAIL + BOB + DATA


# --- 421 and lost connections --------------------------------------------------------


def _drive_to(session: Session, point: str) -> None:
    """Play a pipelined session of TWO up to just before `point` gets its reply."""
    steps = {
        "greeting": [],
        "ehlo": [GREETING],
        "mail": [GREETING, ehlo_reply("PIPELINING")],
        "rcpt": [GREETING, ehlo_reply("PIPELINING"), SENDER_OK],
        "data": [GREETING, ehlo_reply("PIPELINING"), SENDER_OK, RECIPIENT_OK, UNKNOWN_USER],
        "dot": [GREETING, ehlo_reply("PIPELINING"), SENDER_OK, RECIPIENT_OK, UNKNOWN_USER, START_DATA],
    }
    for reply in steps[point]:
        session.feed(reply)


@pytest.mark.parametrize("point", ["greeting", "ehlo", "mail", "rcpt", "data", "dot"])
def test_421_at_any_point_fails_the_session_and_defers_what_is_not_settled(point: str) -> None:
    session = Session(TWO, ONE)
    _drive_to(session, point)
    session.feed(SHUTTING_DOWN)
    (failed,) = session.of(ev.SessionFailed)
    assert isinstance(failed, ev.SessionFailed)
    assert failed.reply is not None
    assert failed.reply.code == 421
    refused = point in ("data", "dot")  # carol's 550 came before the 421 and stands
    assert session.status(1) == {
        "bob@example.org": ("deferred", 421),
        "carol@example.org": ("failed", 550) if refused else ("deferred", 421),
    }
    assert session.status(2) == {"bob@example.org": ("deferred", 421)}


def test_unsolicited_421_while_idle_closes_the_session() -> None:
    session = Session(ONE, quit=False)
    session.open("PIPELINING")
    session.feed(SENDER_OK + RECIPIENT_OK + START_DATA)
    assert session.feed(QUEUED + b"421 4.4.2 mx.example.org Error: timeout exceeded\r\n") == b""
    assert session.status() == {"bob@example.org": ("sent", 250)}
    assert len(session.of(ev.SessionFailed)) == 1
    assert session.client.closed


def test_nothing_is_written_after_a_421_in_a_transaction() -> None:
    session = Session(TWO)
    _drive_to(session, "rcpt")
    assert session.feed(SHUTTING_DOWN) == b""
    assert isinstance(session.events[-1], ev.ConnectionClosed)


def test_connection_lost_after_the_final_dot_defers_with_the_duplicate_warning() -> None:
    session = Session(TWO, ONE)
    _drive_to(session, "dot")
    session.client.data_to_send()
    session.feed(b"")
    # RFC 1047: the server may have queued it; retrying may deliver it twice.
    assert session.status(1) == {"bob@example.org": ("deferred", 451), "carol@example.org": ("failed", 550)}
    (result, second) = session.results()
    assert result.recipients[0].reply == LOST_AFTER_DOT
    assert second.recipients == (ev.RecipientResult("bob@example.org", "deferred", LOST_CONNECTION),)
    assert session.of(ev.SessionFailed) == [ev.SessionFailed("the connection was lost", None)]
    assert isinstance(session.events[-1], ev.ConnectionClosed)


def test_connection_lost_before_the_content_went_out_is_a_plain_deferral() -> None:
    session = Session(TWO, config=ClientConfig(pipelining=False))
    session.open()
    session.feed(SENDER_OK)
    session.feed(RECIPIENT_OK)
    session.feed(b"")
    (result,) = session.results()
    assert [r.reply for r in result.recipients] == [LOST_CONNECTION, LOST_CONNECTION]
    assert [r.status for r in result.recipients] == ["deferred", "deferred"]


def test_nothing_is_written_after_the_connection_is_lost() -> None:
    session = Session(TWO)
    _drive_to(session, "dot")
    session.client.data_to_send()
    assert session.feed(b"") == b""


def test_bdat_connection_lost_after_last_chunk_is_the_duplicate_case_too() -> None:
    session = Session(ONE, config=ClientConfig(chunking=True))
    assert session.open("PIPELINING", "CHUNKING") == MAIL + BOB + b"BDAT %d LAST\r\n" % len(CONTENT) + CONTENT
    session.feed(SENDER_OK + RECIPIENT_OK)
    session.feed(b"")
    assert [r.reply for r in session.results()[0].recipients] == [LOST_AFTER_DOT]


# --- a session's end -----------------------------------------------------------------


def test_two_messages_in_one_session() -> None:
    session = Session(ONE, TWO)
    assert session.open("PIPELINING") == MAIL + BOB + DATA
    assert session.feed(SENDER_OK + RECIPIENT_OK + START_DATA) == CONTENT + b".\r\n"
    # The second transaction starts only once the first is settled.
    assert session.feed(QUEUED) == MAIL + BOB + CAROL + DATA
    assert session.feed(SENDER_OK + RECIPIENT_OK + UNKNOWN_USER + START_DATA) == CONTENT + b".\r\n"
    assert session.feed(QUEUED) == QUIT
    assert [r.index for r in session.results()] == [1, 2]
    assert session.status(1) == {"bob@example.org": ("sent", 250)}
    assert session.status(2) == {"bob@example.org": ("sent", 250), "carol@example.org": ("failed", 550)}


def test_quit_then_connection_closed_after_221() -> None:
    session = Session(quit=False)
    session.open("PIPELINING")
    assert session.client.data_to_send() == b""  # idle: nothing to send yet
    session.client.quit()
    assert session.client.data_to_send() == QUIT
    with pytest.raises(LocalProtocolError):
        session.client.send_message(ONE)
    assert session.feed(BYE) == b""
    assert isinstance(session.events[-1], ev.ConnectionClosed)
    assert session.client.closed
    count = len(session.events)
    session.feed(b"")  # the server's close after 221 is no news
    session.feed(b"250 late\r\n")
    assert len(session.events) == count


def test_reply_received_names_the_command_it_answers() -> None:
    session = Session(ONE)
    session.open("PIPELINING")
    session.feed(SENDER_OK + RECIPIENT_OK + START_DATA + QUEUED + BYE)
    commands = [e.command for e in session.events if isinstance(e, ev.ReplyReceived)]
    assert commands == [
        "",
        "EHLO client.example.com",
        "MAIL FROM:<alice@example.com>",
        "RCPT TO:<bob@example.org>",
        "DATA",
        "(message)",
        "QUIT",
    ]


@pytest.mark.parametrize(
    "garbage",
    [b"hello\r\n", b"250-first\r\n251 changed code\r\n", b"250ok\r\n", b"2" * 5000 + b"\r\n"],
    ids=["not-a-reply", "code-changes", "no-space", "too-long"],
)
def test_an_unparseable_reply_ends_the_session_without_raising(garbage: bytes) -> None:
    session = Session(ONE)
    session.open("PIPELINING")
    session.feed(garbage)
    assert len(session.of(ev.SessionFailed)) == 1
    assert session.status() == {"bob@example.org": ("deferred", 451)}
    assert session.client.closed


def test_a_size_keyword_with_a_non_ascii_digit_does_not_raise() -> None:
    """'²'.isdigit() is True but int('²') raises: the server's words must never crash us."""
    session = Session(ONE)
    session.feed(GREETING)
    wire = session.feed("250-mx.example.org\r\n250 SIZE ²\r\n".encode())
    assert wire.startswith(b"MAIL FROM:<alice@example.com>")


# --- against the real server engine --------------------------------------------------


def converse(
    client: SMTPClient, server: SMTPServer, answer: Callable[[ev.Event], Reply], *, rounds: int = 100
) -> tuple[list[ev.Event], list[ev.Event], list[bytes]]:
    """Pump bytes between the engines until both are quiet.

    Returns:
        (client events, server events, the client's writes in order)
    """
    client_events: list[ev.Event] = []
    server_events: list[ev.Event] = []
    client_writes: list[bytes] = []
    for _ in range(rounds):
        progressed = False
        for event in server.events():
            server_events.append(event)
            if isinstance(event, ev.StartTLS):
                server.tls_started()  # a stand-in for the handshake the host would run
            if isinstance(event, NEEDS_REPLY):
                server.send(answer(event))
        wire = server.data_to_send()
        if wire:
            client.receive_data(wire)
            progressed = True
        elif server.closed and not client.closed:
            client.receive_data(b"")
            progressed = True
        for event in client.events():
            client_events.append(event)
            if isinstance(event, ev.TLSReady):
                client.tls_started()
        wire = client.data_to_send()
        if wire:
            client_writes.append(wire)
            server.receive_data(wire)
            progressed = True
        if not progressed:
            return client_events, server_events, client_writes
    raise AssertionError("the engines never went quiet")


class Node:
    """The receiving host's policy: carol does not exist; keep what is delivered."""

    def __init__(self) -> None:
        self.delivered: list[ev.DataComplete] = []

    def answer(self, event: ev.Event) -> Reply:
        if isinstance(event, ev.RcptTo):
            mailbox = event.recipient.mailbox
            return replies.unknown_user(mailbox) if mailbox.startswith("carol@") else replies.RECIPIENT_OK
        if isinstance(event, ev.DataComplete):
            self.delivered.append(event)
            return replies.queued("4F2A1B")
        if isinstance(event, ev.AuthCredentials):
            ok = (event.username, event.password) == ("alice", "wonderland")
            return replies.AUTH_OK if ok else replies.AUTH_FAILED
        return replies.SENDER_OK


TRICKY_CONTENT = (
    "From: alice@example.com\r\nTo: bob@example.org\r\nSubject: Grüße\r\n\r\n"
    ".leading dot\r\n.\r\n..\r\nline with a . alone next\r\n.\r\n\r\nlast line\r\n"
).encode()


def test_pipelined_pair_delivers_byte_identical_content_and_reports_the_550() -> None:
    message = OutgoingMessage(
        "alice@example.com", ("bob@example.org", "carol@example.org", "dave@example.org"), TRICKY_CONTENT
    )
    client = SMTPClient(ClientConfig(local_hostname="laptop.example.com"))
    client.send_message(message)
    client.quit()
    node = Node()
    server = SMTPServer(ServerConfig())
    client_events, server_events, writes = converse(client, server, node.answer)

    # One write from EHLO's reply to DATA (RFC 2920), not one per command.
    assert writes[1].startswith(b"MAIL FROM:<alice@example.com> SIZE=")
    assert writes[1].count(b"RCPT TO:") == 3
    assert writes[1].endswith(b"DATA\r\n")
    (delivered,) = node.delivered
    assert delivered.content == TRICKY_CONTENT
    assert [r.address for r in delivered.envelope.recipients] == ["bob@example.org", "dave@example.org"]
    assert delivered.envelope.sender == "alice@example.com"
    assert delivered.envelope.params.body == "8BITMIME"
    (result,) = [e for e in client_events if isinstance(e, ev.MessageResult)]
    assert [(r.recipient, r.status, r.reply.code, r.reply.enhanced) for r in result.recipients] == [
        ("bob@example.org", "sent", 250, "2.0.0"),
        ("carol@example.org", "failed", 550, "5.1.1"),
        ("dave@example.org", "sent", 250, "2.0.0"),
    ]
    assert isinstance(client_events[-1], ev.ConnectionClosed)
    assert isinstance(server_events[-1], ev.ConnectionClosed)
    assert client.closed and server.closed


@pytest.mark.parametrize("pipelining", [True, False])
@pytest.mark.parametrize("chunking", [True, False])
def test_pair_content_survives_data_and_bdat_with_and_without_pipelining(chunking: bool, pipelining: bool) -> None:
    messages = [
        OutgoingMessage("alice@example.com", ("bob@example.org",), TRICKY_CONTENT),
        OutgoingMessage("alice@example.com", ("carol@example.org",), b"Subject: refused\r\n\r\nx\r\n"),
        OutgoingMessage("", ("dave@example.org",), b"Subject: bounce\r\n\r\n.\r\n"),
    ]
    client = SMTPClient(ClientConfig(pipelining=pipelining, chunking=chunking, chunk_size=9))
    for message in messages:
        client.send_message(message)
    client.quit()
    node = Node()
    server = SMTPServer(ServerConfig())
    client_events, server_events, _ = converse(client, server, node.answer)
    assert [d.content for d in node.delivered] == [TRICKY_CONTENT, b"Subject: bounce\r\n\r\n.\r\n"]
    assert [d.envelope.sender for d in node.delivered] == ["alice@example.com", ""]
    assert any(isinstance(e, ev.Bdat) for e in server_events) == chunking
    statuses = [[r.status for r in e.recipients] for e in client_events if isinstance(e, ev.MessageResult)]
    assert statuses == [["sent"], ["failed"], ["sent"]]
    assert client.closed and server.closed


def test_pair_starttls_then_auth_gives_an_esmtpsa_envelope() -> None:
    config = ClientConfig(starttls="required", username="alice", password="wonderland")
    client = SMTPClient(config)
    client.send_message(OutgoingMessage("alice@example.com", ("bob@example.org",), CONTENT))
    client.quit()
    node = Node()
    server = SMTPServer(ServerConfig(starttls=True))
    client_events, server_events, writes = converse(client, server, node.answer)
    assert writes[:2] == [EHLO, b"STARTTLS\r\n"]
    assert writes[2] == EHLO  # the second EHLO, "over TLS"
    assert writes[3].startswith(b"AUTH PLAIN ")  # AUTH is offered only once TLS is up
    (delivered,) = node.delivered
    assert delivered.envelope.tls and delivered.envelope.auth_user == "alice"
    assert delivered.envelope.protocol == "ESMTPSA"
    assert [e for e in client_events if isinstance(e, ev.Authenticated)] == [ev.Authenticated("alice")]
    assert any(isinstance(e, ev.StartTLS) for e in server_events)
