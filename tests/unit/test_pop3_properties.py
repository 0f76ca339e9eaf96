"""Property tests for the POP3 engines: whatever the peer sends, however it is split.

Server: never raises, writes only well-formed responses, and its events and output
do not depend on how the input was cut into receive_data() calls. Client: never
raises whatever the server answers. Writer and reader: a body survives
dot-stuffing and un-stuffing unchanged. Inputs mix arbitrary bytes with lines from
a POP3 vocabulary, so that deep states (TRANSACTION, AUTH, deletions) are reached.
"""

from __future__ import annotations

import base64
import itertools
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.protocol.linebuffer import LineBuffer
from simulator.protocol.pop3 import events as ev
from simulator.protocol.pop3.client import ClientConfig, POP3Client
from simulator.protocol.pop3.readers import ResponseReader
from simulator.protocol.pop3.replies import Response, Status
from simulator.protocol.pop3.server import Output, POP3Server, ServerConfig
from simulator.protocol.pop3.writers import format_response

PROFILE = settings(
    max_examples=250,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CRLF = b"\r\n"


@st.composite
def split(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """Cut `data` at arbitrary points into non-empty pieces (b"" would mean EOF)."""
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=12))
    if draw(st.integers(0, 9)) == 0:  # sometimes one byte at a time
        cuts = list(range(len(data)))
    bounds = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


_VOCABULARY = [
    b"CAPA",
    b"USER bob",
    b"user bob",
    b"USER locked",
    b"PASS builder",
    b"PASS wrong",
    b"PASS",
    b"APOP bob 0123456789abcdef0123456789abcdef",
    b"AUTH",
    b"AUTH PLAIN",
    b"AUTH PLAIN " + base64.b64encode(b"\0bob\0builder"),
    b"AUTH LOGIN",
    base64.b64encode(b"bob"),
    base64.b64encode(b"builder"),
    b"*",
    b"STLS",
    b"STAT",
    b"LIST",
    b"LIST 1",
    b"LIST 9",
    b"UIDL",
    b"UIDL 2",
    b"RETR 1",
    b"RETR 2",
    b"RETR x",
    b"TOP 1 0",
    b"TOP 2 5",
    b"TOP 1",
    b"DELE 1",
    b"DELE 2",
    b"dele 3",
    b"RSET",
    b"NOOP",
    b"QUIT",
    b"XYZZY",
    b"",
    b"NOOP " + b"x" * 300,
]
TERMINATORS = st.sampled_from([CRLF] * 20 + [b"\n", b"\r", b""])
LINES = st.one_of(st.sampled_from(_VOCABULARY), st.sampled_from(_VOCABULARY), st.binary(max_size=40))
# Most examples log in first, so that TRANSACTION and its deletions are explored, not just AUTHORIZATION.
LOGINS = st.sampled_from([b"", b"USER bob\r\nPASS builder\r\n", b"APOP bob 0123456789abcdef0123456789abcdef\r\n"])
CLIENT_INPUT = st.tuples(LOGINS, st.lists(st.tuples(LINES, TERMINATORS), max_size=25)).map(
    lambda parts: parts[0] + b"".join(a + b for a, b in parts[1])
)

MAILDROP = [
    ev.MaildropEntry("u1", b"Subject: a\r\n\r\n.dot\r\n"),
    ev.MaildropEntry("u2", b"Subject: b\r\n\r\nx"),
    ev.MaildropEntry("u3", b""),
]


def drive(pieces: list[bytes], config: ServerConfig, *, eof: bool = True) -> tuple[list[ev.Event], list[Output]]:
    """Run a server as a node would, answering logins by password; return its events and outputs."""
    server = POP3Server(config, timestamp="<1.1@mail.example.org>")
    events: list[ev.Event] = []
    outputs = server.outgoing()
    for piece in [*pieces, *([b""] if eof else [])]:
        server.receive_data(piece)
        for event in server.events():
            events.append(event)
            if isinstance(event, ev.Credentials | ev.AuthCredentials | ev.ApopCredentials):
                user = event.user
                good = isinstance(event, ev.ApopCredentials) or event.password == "builder"
                if user == "locked":
                    server.refuse_locked()
                elif good:
                    server.accept_login(MAILDROP)
                else:
                    server.refuse_login()
            elif isinstance(event, ev.StartTLS):
                server.tls_started()
        outputs += server.outgoing()
    return events, outputs


_STATUS_LINE = re.compile(rb"(\+OK|-ERR)( [^\r\n]*)?\r\n|\+ [^\r\n]*\r\n")


def assert_well_formed(output: Output) -> None:
    data = output.data
    end = data.find(CRLF) + 2
    assert end >= 2, data
    assert _STATUS_LINE.fullmatch(data[:end]), data[:end]
    rest = data[end:]
    if not output.response.multiline:
        assert rest == b""
        return
    assert output.response.status is Status.OK
    assert rest.endswith(b".\r\n")
    lines = rest[:-2].split(CRLF)
    assert lines[-1] == b"."
    for line in lines[:-1]:
        assert line != b"."  # a lone dot only as the terminator
        assert b"\r" not in line and b"\n" not in line


@PROFILE
@given(data=st.data(), raw=CLIENT_INPUT, stls=st.booleans())
def test_server_never_raises_and_writes_only_well_formed_responses(data: st.DataObject, raw: bytes, stls: bool) -> None:
    config = ServerConfig(stls=stls, apop=True, max_bad_commands=12, plaintext_requires_tls=stls)
    events, outputs = drive(data.draw(split(raw)), config)
    assert outputs, "the greeting at least"
    for output in outputs:
        assert_well_formed(output)
        assert output.data == format_response(output.response)
    assert isinstance(events[-1], ev.ConnectionClosed)
    # Deletions happen only through Commit, and only after a QUIT.
    commits = [e for e in events if isinstance(e, ev.Commit)]
    assert len(commits) <= 1
    if commits:
        assert any(isinstance(e, ev.Quit) for e in events[: events.index(commits[0])])


@PROFILE
@given(data=st.data(), raw=CLIENT_INPUT)
def test_server_output_does_not_depend_on_how_input_is_split(data: st.DataObject, raw: bytes) -> None:
    # No STLS here: bytes pipelined behind STLS are dropped by design (RFC 2595 §4), which
    # makes that one command depend on packet boundaries.
    config = ServerConfig(apop=True, max_bad_commands=12)
    whole_events, whole_out = drive([raw] if raw else [], config)
    split_events, split_out = drive(data.draw(split(raw)), config)
    assert split_events == whole_events
    assert b"".join(o.data for o in split_out) == b"".join(o.data for o in whole_out)


_SERVER_LINES = st.one_of(
    st.sampled_from(
        [
            b"+OK ready. <1.2@host>",
            b"+OK",
            b"-ERR [AUTH] Authentication failed.",
            b"-ERR [IN-USE] locked",
            b"+OK Logged in.",
            b"1 u1",
            b"2 u2",
            b".",
            b"..stuffed",
            b"+ ",
            b"STLS",
            b"UIDL",
        ]
    ),
    st.binary(max_size=30),
)
SERVER_INPUT = st.lists(st.tuples(_SERVER_LINES, TERMINATORS), max_size=30).map(
    lambda ls: b"".join(a + b for a, b in ls)
)


@PROFILE
@given(
    data=st.data(),
    raw=SERVER_INPUT,
    profile=st.sampled_from(["download-and-delete", "leave-on-server"]),
    login=st.sampled_from(["user", "apop", "sasl-plain"]),
)
def test_client_never_raises_and_writes_only_crlf_terminated_commands(
    data: st.DataObject, raw: bytes, profile: str, login: str
) -> None:
    config = ClientConfig(username="bob", password="builder", profile=profile, login=login, stls="opportunistic")
    client = POP3Client(config)
    written = b""
    for piece in [*data.draw(split(raw)), b""]:
        client.receive_data(piece)
        if client.state.name == "TLS_HANDSHAKE":
            client.tls_started()
        written += client.data_to_send()
        list(client.events())
    assert client.closed
    for line in written.split(CRLF)[:-1]:
        assert b"\r" not in line and b"\n" not in line
        assert len(line) + 2 <= 255
    assert written == b"" or written.endswith(CRLF)


BODY_LINES = st.lists(st.binary(max_size=20).filter(lambda b: b"\r" not in b and b"\n" not in b), max_size=8)


@PROFILE
@given(lines=BODY_LINES, data=st.data())
def test_a_body_survives_stuffing_and_unstuffing(lines: list[bytes], data: st.DataObject) -> None:
    body = b"".join(line + CRLF for line in lines)
    wire = format_response(Response(Status.OK, "x", body))
    buffer, reader = LineBuffer(), ResponseReader()
    reader.expect(True)
    got: list[Response] = []
    for piece in data.draw(split(wire)):
        buffer.feed(piece)
        while (line := buffer.take_line(4096)) is not None:
            response = reader.feed_line(line.content)
            if response is not None:
                got.append(response)
    assert [r.body for r in got] == [body]
