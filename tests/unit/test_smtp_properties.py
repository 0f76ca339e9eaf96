"""Property tests for the SMTP engines: whatever the peer sends, however it is split.

Server: never raises, writes only well-formed replies, and its events and output do
not depend on how the input was cut into receive_data() calls. Client: the same,
fed arbitrary replies while it tries to send two messages. Inputs mix arbitrary
bytes with lines built from an SMTP vocabulary, so that deep states (DATA, BDAT,
AUTH, pipelined transactions) are reached and not just the first syntax error.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.protocol.smtp import events as ev
from simulator.protocol.smtp import replies
from simulator.protocol.smtp.client import ClientConfig, OutgoingMessage, SMTPClient
from simulator.protocol.smtp.client import Output as ClientOutput
from simulator.protocol.smtp.replies import Reply
from simulator.protocol.smtp.server import NEEDS_REPLY, ServerConfig, SMTPServer
from simulator.protocol.smtp.server import Output as ServerOutput

PROFILE = settings(
    max_examples=250,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

CRLF = b"\r\n"

# --- splitting -----------------------------------------------------------------------


@st.composite
def split(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """Cut `data` at arbitrary points into non-empty pieces (b"" would mean EOF)."""
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=12))
    if draw(st.integers(0, 9)) == 0:  # sometimes one byte at a time
        cuts = list(range(len(data)))
    bounds = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


def _joined(lines: Sequence[tuple[bytes, bytes]]) -> bytes:
    return b"".join(line + end for line, end in lines)


# A terminator: mostly CRLF, sometimes the bare LF or CR that smuggling attacks use,
# or nothing (the next piece continues the line: over-long lines, glued commands).
TERMINATORS = st.sampled_from([CRLF] * 30 + [b"\n", b"\r", b""])

# --- server input ----------------------------------------------------------------------

_HELLOS = [b"EHLO client.example.com", b"HELO client.example.com", b"ehlo lower.example"]
_MAILS = [
    b"MAIL FROM:<alice@example.com>",
    b"MAIL FROM:<>",
    b"mail from: <alice@example.com>",
    b"MAIL FROM:<alice@example.com> SIZE=120 BODY=8BITMIME",
    b"MAIL FROM:<alice@example.com> SIZE=99999999999",
    b"MAIL FROM:<alice@example.com> RET=HDRS ENVID=id+2B1 AUTH=<>",
    b"MAIL FROM:<alice@example.com> SMTPUTF8",
    "MAIL FROM:<ålice@exämple.com> SMTPUTF8".encode(),
    "MAIL FROM:<ålice@exämple.com>".encode(),
    b"MAIL FROM:<alice@example.com> FOO=1",
    b"MAIL FROM:<alice@example.com> SIZE=1 SIZE=2",
    b"MAIL FROM:<alice@example.com> ENVID=bad+zz",
    b"MAIL FROM:<broken",
    b"MAIL TO:<alice@example.com>",
]
_RCPTS = [
    b"RCPT TO:<bob@example.org>",
    b"RCPT TO:<carol@example.org>",
    b"RCPT TO:<postmaster>",
    b"RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.org",
    b"RCPT TO:<bob@example.org> NOTIFY=NEVER,DELAY",
    b"RCPT TO:<@hop.example:bob@example.org>",
    "RCPT TO:<bøb@example.org>".encode(),
    b"RCPT TO:bob@example.org",
    b"RCPT TO:<>",
]
_BODY_LINES = [
    b"Subject: hello",
    b"",
    b".",
    b"..",
    b".hidden line",
    b"text",
    "Grüße aus Köln".encode(),
    b"\xff\xfe\x00 not utf-8",
    b"x" * 1100,
    b"MAIL FROM:<smuggled@example.com>",
]
_OTHERS = [
    b"DATA",
    b"DATA now",
    b"BDAT 0",
    b"BDAT 5",
    b"BDAT 3 LAST",
    b"BDAT 0 LAST",
    b"RSET",
    b"RSET now",
    b"NOOP",
    b"NOOP whatever",
    b"HELP",
    b"HELP MAIL",
    b"VRFY bob",
    b"VRFY <bob@example.org>",
    b"VRFY",
    b"STARTTLS",
    b"AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=",
    b"AUTH PLAIN",
    b"AUTH LOGIN",
    b"AUTH LOGIN YWxpY2U=",
    b"AUTH CRAM-MD5",
    b"AUTH PLAIN =",
    b"AUTH PLAIN not-base64!",
    b"AUTH PLAIN YWxpY2U=",
    b"YWxpY2U=",
    b"d29uZGVybGFuZA==",
    b"AGFsaWNlAHdvbmRlcmxhbmQ=",
    b"*",
    b"=",
    b"FOO bar",
    b"",
    b"A" * 600,
    b"\xff\xfe\x00 not utf-8",
]
# Commands that end the session at once: kept rare so that most runs go deep.
_ENDERS = [b"QUIT", b"GET / HTTP/1.1", b"BDAT x", b"BDAT 99999999999999999999", b"BDAT 1  LAST"]
_ANY_LINE = st.sampled_from(_HELLOS + _MAILS + _RCPTS + _BODY_LINES + _OTHERS * 2 + _ENDERS)


def _line(lines: list[bytes]) -> st.SearchStrategy[bytes]:
    return st.tuples(st.sampled_from(lines), TERMINATORS).map(b"".join)


@st.composite
def transaction(draw: st.DrawFn) -> bytes:
    """MAIL, some RCPTs, then the content by DATA or in BDAT chunks (sometimes miscounted)."""
    parts = [draw(_line(_MAILS))]
    parts += draw(st.lists(_line(_RCPTS), max_size=4))
    if draw(st.booleans()):
        parts.append(b"DATA\r\n")
        parts += draw(st.lists(_line(_BODY_LINES), max_size=6))
        parts.append(draw(st.sampled_from([b".\r\n"] * 6 + [b".\n", b"\n.\r\n"])))
    else:
        chunks = draw(
            st.lists(st.binary(max_size=12) | st.sampled_from([b"x\r\n.\r\n", b"a\nb"]), min_size=1, max_size=3)
        )
        for i, chunk in enumerate(chunks):
            count = max(len(chunk) + draw(st.sampled_from([0, 0, 0, 0, 0, 1, -1])), 0)
            last = " LAST" if i == len(chunks) - 1 else ""
            parts.append(f"BDAT {count}{last}\r\n".encode() + chunk)
    return b"".join(parts)


_AUTH_EXCHANGES = st.sampled_from(
    [
        b"AUTH PLAIN AGFsaWNlAHdvbmRlcmxhbmQ=\r\n",
        b"AUTH PLAIN\r\nAGFsaWNlAHdvbmRlcmxhbmQ=\r\n",
        b"AUTH LOGIN\r\nYWxpY2U=\r\nd29uZGVybGFuZA==\r\n",
        b"AUTH LOGIN\r\n*\r\n",
        b"AUTH LOGIN\r\nYWxpY2U=\r\n!!\r\n",
    ]
)
smtp_session_bytes = st.tuples(
    st.sampled_from([*_HELLOS, b"NOOP", b"MAIL FROM:<early@example.com>"]).map(lambda line: line + CRLF),
    st.lists(
        transaction() | transaction() | _AUTH_EXCHANGES | st.tuples(_ANY_LINE, TERMINATORS).map(b"".join),
        max_size=8,
    ).map(b"".join),
).map(b"".join)
server_input = st.one_of(
    smtp_session_bytes,
    smtp_session_bytes,
    st.binary(max_size=400),
    st.tuples(smtp_session_bytes, st.binary(max_size=40), smtp_session_bytes).map(b"".join),
)

# --- what a well-formed reply stream looks like ------------------------------------------

_REPLY_LINE = re.compile(rb"[2-5]\d\d(?:[ -].*)?", re.DOTALL)


def parse_replies(data: bytes) -> list[tuple[int, list[bytes]]]:
    """Split bytes into replies, asserting RFC 5321 §4.2 form; return (code, lines) each."""
    if not data:
        return []
    assert data.endswith(CRLF), data[-80:]
    found: list[tuple[int, list[bytes]]] = []
    open_code: bytes | None = None
    lines: list[bytes] = []
    for line in data[:-2].split(CRLF):
        assert b"\r" not in line and b"\n" not in line, line
        assert _REPLY_LINE.fullmatch(line), line
        code = line[:3]
        if open_code is not None:
            assert code == open_code, f"multi-line reply changed code: {open_code!r} then {line!r}"
        lines.append(line)
        if line[3:4] == b"-":
            open_code = code
        else:
            found.append((int(code), lines))
            open_code, lines = None, []
    assert open_code is None, "the output ends inside a multi-line reply"
    return found


class Node:
    """Answers every event that needs a reply, accepting or refusing by a fixed rule."""

    def __init__(self) -> None:
        self.asked = 0

    def answer(self, event: ev.Event) -> Reply:
        self.asked += 1
        accept = self.asked % 3 != 0
        if isinstance(event, ev.MailFrom):
            return replies.SENDER_OK if accept else Reply(451, "4.3.0", ("Sender check unavailable, try later",))
        if isinstance(event, ev.RcptTo):
            return replies.RECIPIENT_OK if accept else replies.unknown_user(event.recipient.mailbox)
        if isinstance(event, ev.Vrfy):
            return replies.vrfy_ok(event.argument) if accept else replies.unknown_user(event.argument)
        if isinstance(event, ev.AuthCredentials):
            return replies.AUTH_OK if accept else replies.AUTH_FAILED
        assert isinstance(event, ev.DataComplete)
        return replies.queued(f"Q{self.asked}") if accept else Reply(554, "5.7.1", ("Message refused",))


SERVER_CONFIG = ServerConfig(auth_requires_tls=False, max_message_size=5000, max_recipients=3, hard_error_limit=12)


def run_server(chunks: Sequence[bytes], eof: bool) -> tuple[list[ev.Event], list[ServerOutput]]:
    """Feed the chunks one by one after the greeting, answering as a node would."""
    server = SMTPServer(SERVER_CONFIG)
    node = Node()
    events: list[ev.Event] = []
    outputs = server.outgoing()
    feeds: list[bytes] = [*chunks, b""] if eof else list(chunks)
    for chunk in feeds:
        server.receive_data(chunk)
        for event in server.events():
            events.append(event)
            if isinstance(event, NEEDS_REPLY):
                server.send(node.answer(event))
        outputs += server.outgoing()
    return events, outputs


def _server_checks(chunks: list[bytes], eof: bool) -> None:
    events, outputs = run_server(chunks, eof)
    for out in outputs:
        # Each Output is exactly one reply, the one it says it renders.
        parsed = parse_replies(out.data)
        assert [code for code, _ in parsed] == [out.reply.code], out.data
    parse_replies(b"".join(o.data for o in outputs))
    closed = [i for i, e in enumerate(events) if isinstance(e, ev.ConnectionClosed)]
    assert closed in ([], [len(events) - 1]), "events after the connection closed"
    whole_events, whole_outputs = run_server([b"".join(chunks)] if chunks else [], eof)
    assert events == whole_events
    assert repr(events) == repr(whole_events)
    assert outputs == whole_outputs


@PROFILE
@given(data=st.data(), raw=server_input, eof=st.booleans())
def test_server_never_raises_replies_well_formed_and_split_independent(
    data: st.DataObject, raw: bytes, eof: bool
) -> None:
    _server_checks(data.draw(split(raw)), eof)


# --- client input ------------------------------------------------------------------------

_CODES = [220, 221, 235, 250, 250, 250, 250, 250, 251, 334, 354, 354, 421, 450, 451, 452, 454]
_CODES += [500, 501, 502, 503, 530, 535, 550, 552, 553, 554, 555]
_TEXTS = [
    "mx.example.org ESMTP",
    "Ok",
    "PIPELINING",
    "SIZE 1000",
    "SIZE 100",
    "SIZE",
    "SIZE 0",
    "SIZE ²",  # a Unicode digit that int() does not take
    "SIZE 1x",
    "8BITMIME",
    "SMTPUTF8",
    "DSN",
    "CHUNKING",
    "STARTTLS",
    "AUTH PLAIN LOGIN",
    "AUTH LOGIN",
    "AUTH=LOGIN",
    "ENHANCEDSTATUSCODES",
    "VXNlcm5hbWU6",
    "UGFzc3dvcmQ6",
    "not base64!",
    "*",
    "",
    "End data with <CR><LF>.<CR><LF>",
    "Grüße",
]
_ENHANCED = st.sampled_from(["", "2.0.0 ", "2.1.5 ", "4.4.2 ", "5.1.1 ", "5.7.8 ", "4.7.0 ", "9.9.9 ", "5.1 "])


@st.composite
def plausible_reply(draw: st.DrawFn) -> bytes:
    """One reply as a server might send it: maybe multi-line, maybe sloppy."""
    code = draw(st.sampled_from(_CODES) | st.integers(100, 699))
    count = draw(st.integers(1, 5))
    out = []
    for i in range(count):
        this = code if draw(st.integers(0, 19)) else draw(st.integers(200, 599))  # rarely a changed code
        sep = "-" if i < count - 1 else draw(st.sampled_from([" ", " ", " ", ""]))
        text = draw(st.sampled_from(_TEXTS) | st.text(max_size=12))
        line = f"{this}{sep}{draw(_ENHANCED)}{text}" if sep or not text else f"{this}{text}"
        out.append(line.encode("utf-8", errors="surrogatepass") + draw(TERMINATORS))
    return b"".join(out)


_KEYWORDS = [
    "PIPELINING",
    "SIZE 1000",
    "SIZE 40",
    "SIZE",
    "SIZE ²",  # a Unicode digit that int() does not take
    "8BITMIME",
    "SMTPUTF8",
    "DSN",
    "CHUNKING",
    "STARTTLS",
    "AUTH PLAIN LOGIN",
    "AUTH LOGIN",
    "ENHANCEDSTATUSCODES",
]


@st.composite
def ehlo_reply(draw: st.DrawFn) -> bytes:
    """A 250 reply to EHLO with some extensions, as a real server words it."""
    keywords = draw(st.lists(st.sampled_from(_KEYWORDS), max_size=6))
    lines = ["mx.example.org", *keywords]
    return b"".join(f"250{'-' if i < len(lines) - 1 else ' '}{line}".encode() + CRLF for i, line in enumerate(lines))


_STEP_REPLIES = st.sampled_from(
    [b"250 2.1.0 Ok\r\n"] * 6
    + [b"354 End data with <CR><LF>.<CR><LF>\r\n"] * 2
    + [
        b"220 2.0.0 Ready to start TLS\r\n",
        b"334 VXNlcm5hbWU6\r\n",
        b"334 UGFzc3dvcmQ6\r\n",
        b"235 2.7.0 Authentication successful\r\n",
        b"221 2.0.0 Bye\r\n",
        b"421 4.7.0 mx.example.org Error: too many errors\r\n",
        b"452 4.5.3 Error: too many recipients\r\n",
        b"550 5.1.1 <bob@example.org>: Recipient address rejected\r\n",
        b"554 5.5.1 Error: no valid recipients\r\n",
    ]
)
# A session that gets past the greeting and EHLO, then answers step by step.
session_replies = st.tuples(
    st.sampled_from([b"220 mx.example.org ESMTP\r\n"] * 4 + [b"554 5.7.1 no SMTP service here\r\n"]),
    ehlo_reply() | plausible_reply(),
    st.lists(_STEP_REPLIES | plausible_reply(), max_size=20).map(b"".join),
).map(b"".join)

client_input = st.one_of(
    session_replies,
    st.lists(plausible_reply(), max_size=25).map(b"".join),
    st.binary(max_size=300),
    st.tuples(st.lists(plausible_reply(), max_size=8).map(b"".join), st.binary(max_size=40)).map(b"".join),
)

CLIENT_CONFIGS = [
    ClientConfig(),
    ClientConfig(pipelining=False),
    ClientConfig(chunking=True, chunk_size=7),
    ClientConfig(chunking=True, chunk_size=7, pipelining=False),
    ClientConfig(starttls="opportunistic", username="alice", password="wonderland"),
    ClientConfig(starttls="required"),
    ClientConfig(username="alice", password="wonderland", auth_mechanisms=("LOGIN",)),
]
MESSAGES = (
    OutgoingMessage(
        "alice@example.com",
        ("bob@example.org", "carol@example.org"),
        b"Subject: one\r\n\r\n.dot first\r\nbody\r\n",
        notify=("SUCCESS", "FAILURE"),
        ret="HDRS",
        envid="id+1=x",
    ),
    OutgoingMessage("alice@example.com", ("dörte@example.org",), "Subject: zwei\r\n\r\nGrüße\r\n".encode()),
)


def run_client(config: ClientConfig, chunks: Sequence[bytes], eof: bool) -> tuple[list[ev.Event], list[ClientOutput]]:
    client = SMTPClient(config)
    for message in MESSAGES:
        client.send_message(message)
    client.quit()
    events: list[ev.Event] = list(client.events())
    outputs = client.outgoing()
    feeds: list[bytes] = [*chunks, b""] if eof else list(chunks)
    for chunk in feeds:
        client.receive_data(chunk)
        events += client.events()
        outputs += client.outgoing()
    return events, outputs


@PROFILE
@given(data=st.data(), config=st.sampled_from(CLIENT_CONFIGS), raw=client_input, eof=st.booleans())
def test_client_never_raises_and_is_split_independent(
    data: st.DataObject, config: ClientConfig, raw: bytes, eof: bool
) -> None:
    chunks = data.draw(split(raw))
    events, outputs = run_client(config, chunks, eof)
    whole_events, whole_outputs = run_client(config, [raw] if raw else [], eof)
    assert events == whole_events
    assert repr(events) == repr(whole_events)
    assert outputs == whole_outputs


@PROFILE
@given(config=st.sampled_from(CLIENT_CONFIGS), raw=client_input)
def test_client_reports_every_message_once_when_the_connection_ends(config: ClientConfig, raw: bytes) -> None:
    """Whatever the server said, once the connection is gone each recipient has one verdict."""
    events, outputs = run_client(config, [raw] if raw else [], eof=True)
    assert isinstance(events[-1], ev.ConnectionClosed)
    results = [e for e in events if isinstance(e, ev.MessageResult)]
    assert [r.index for r in results] == [1, 2]
    for result, message in zip(results, MESSAGES, strict=True):
        assert [r.recipient for r in result.recipients] == list(message.recipients)
        assert all(r.status in ("sent", "deferred", "failed") for r in result.recipients)
    for out in outputs:
        assert out.data.endswith(CRLF) or out.summary.startswith("(")  # BDAT chunks are raw octets
