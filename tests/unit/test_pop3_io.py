"""Readers and writers of the POP3 engines as case tables, fed one byte at a time (h11's test_io.py style).

Each framing case is checked fed whole, fed one byte at a time and, where short, split
in two at every position: the result must not depend on how the bytes arrived.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from simulator.protocol.errors import RemoteProtocolError
from simulator.protocol.linebuffer import LineBuffer
from simulator.protocol.pop3 import events as ev
from simulator.protocol.pop3 import replies
from simulator.protocol.pop3.readers import (
    Command,
    ResponseReader,
    SyntaxProblem,
    apop_timestamp_in,
    parse_capabilities,
    parse_command,
    parse_line_count,
    parse_listing,
    parse_number,
    top_of,
)
from simulator.protocol.pop3.replies import Response, Status
from simulator.protocol.pop3.server import POP3Server, ServerConfig
from simulator.protocol.pop3.writers import dot_stuff, format_command, format_response

# --- helpers --------------------------------------------------------------------


def splits(data: bytes) -> Iterator[list[bytes]]:
    """The ways of feeding `data` that every case is checked with."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    if len(data) <= 64:
        for cut in range(1, len(data)):
            yield [data[:cut], data[cut:]]


def read_responses(pieces: list[bytes], multiline: list[bool]) -> list[Response]:
    """What the client does with response bytes: frame lines, then assemble responses."""
    buffer, reader, out = LineBuffer(), ResponseReader(), []
    expectations = iter(multiline)
    reader.expect(next(expectations))
    for piece in pieces:
        buffer.feed(piece)
        while (line := buffer.take_line(4096)) is not None:
            response = reader.feed_line(line.content)
            if response is not None:
                out.append(response)
                reader.expect(next(expectations, False))
    assert not reader.partial
    return out


def server_replies(pieces: list[bytes]) -> bytes:
    server = POP3Server(ServerConfig())
    server.data_to_send()
    for piece in pieces:
        server.receive_data(piece)
        list(server.events())
    return server.data_to_send()


# --- writing: dot-stuffing (RFC 1939 §3) -------------------------------------------

STUFFING = [
    (b"", b".\r\n"),
    (b"hello\r\n", b"hello\r\n.\r\n"),
    (b"no final crlf", b"no final crlf\r\n.\r\n"),
    (b".starts with a dot\r\n", b"..starts with a dot\r\n.\r\n"),
    (b"a\r\n.\r\nb\r\n", b"a\r\n..\r\nb\r\n.\r\n"),  # a lone dot in the content is not the end
    (b"a\r\n..two\r\n", b"a\r\n...two\r\n.\r\n"),
    (b"mid.dot\r\n", b"mid.dot\r\n.\r\n"),  # only a dot at the start of a line is doubled
]


@pytest.mark.parametrize(("content", "wire"), STUFFING)
def test_dot_stuff(content: bytes, wire: bytes) -> None:
    assert dot_stuff(content) == wire


@pytest.mark.parametrize(("content", "wire"), STUFFING)
def test_reader_unstuffs_what_the_writer_stuffed_however_split(content: bytes, wire: bytes) -> None:
    expected = content if not content or content.endswith(b"\r\n") else content + b"\r\n"
    for pieces in splits(b"+OK 3 octets\r\n" + wire):
        (response,) = read_responses(pieces, [True])
        assert response.status is Status.OK
        assert response.text == "3 octets"
        assert response.body == expected


@pytest.mark.parametrize(
    ("response", "wire"),
    [
        (replies.NOOP_OK, b"+OK\r\n"),
        (replies.LOGGED_IN, b"+OK Logged in.\r\n"),
        (replies.IN_USE, b"-ERR [IN-USE] Mailbox is locked by another POP3 session.\r\n"),
        (replies.stat(2, 320), b"+OK 2 320\r\n"),
        (replies.scan_list([(1, 120), (3, 200)]), b"+OK 2 messages:\r\n1 120\r\n3 200\r\n.\r\n"),
        (replies.scan_list([]), b"+OK 0 messages:\r\n.\r\n"),
        (replies.uid_list([(1, "a1")]), b"+OK\r\n1 a1\r\n.\r\n"),
        (replies.auth_challenge(b"Username:"), b"+ VXNlcm5hbWU6\r\n"),
        (replies.auth_challenge(b""), b"+ \r\n"),
        (replies.message(9, b".x\r\ny\r\n"), b"+OK 9 octets\r\n..x\r\ny\r\n.\r\n"),
        (replies.greeting("mail.example.org"), b"+OK mail.example.org ready.\r\n"),
        (
            replies.greeting("mail.example.org", "<7.9@mail.example.org>"),
            b"+OK mail.example.org ready. <7.9@mail.example.org>\r\n",
        ),
    ],
)
def test_format_response(response: Response, wire: bytes) -> None:
    assert format_response(response) == wire


def test_format_command() -> None:
    assert format_command("TOP", "1", "10") == b"TOP 1 10\r\n"
    assert format_command("QUIT") == b"QUIT\r\n"


# --- reading responses (client side) -------------------------------------------------

RESPONSES = [
    # (wire, multi-line expected per response, (status, text, body) per response)
    (b"+OK\r\n", [False], [(Status.OK, "", None)]),
    (b"+OK\r\n.\r\n", [True], [(Status.OK, "", b"")]),
    (b"-ERR No such message.\r\n", [True], [(Status.ERR, "No such message.", None)]),  # -ERR is never multi-line
    (b"+ VXNlcm5hbWU6\r\n", [True], [(Status.CONTINUE, "VXNlcm5hbWU6", None)]),
    (b"+OK 1 2\r\n1 a\r\n.\r\n+OK bye\r\n", [True, False], [(Status.OK, "1 2", b"1 a\r\n"), (Status.OK, "bye", None)]),
    (b"+ok lower case\r\n", [False], [(Status.OK, "lower case", None)]),
    (b"+OK x\r\n...\r\n.\r\n", [True], [(Status.OK, "x", b"..\r\n")]),
]


@pytest.mark.parametrize(("wire", "multiline", "expected"), RESPONSES)
def test_response_reader(wire: bytes, multiline: list[bool], expected: list[tuple[Status, str, bytes | None]]) -> None:
    for pieces in splits(wire):
        got = read_responses(pieces, multiline)
        assert [(r.status, r.text, r.body) for r in got] == expected


@pytest.mark.parametrize("line", [b"OK", b"+OKAY", b"220 hello", b"", b"-ERRNO"])
def test_response_reader_refuses_what_is_not_a_status_line(line: bytes) -> None:
    with pytest.raises(RemoteProtocolError):
        ResponseReader().feed_line(line)


def test_responses_read_off_the_wire_get_an_explanation_from_their_response_code() -> None:
    (response,) = read_responses([b"-ERR [IN-USE] locked\r\n"], [False])
    assert response.code == "IN-USE"
    assert "RFC 2449" in response.rfc
    assert response.explain


def test_parse_capabilities_and_listing() -> None:
    capa = Response(Status.OK, "", b"TOP\r\nsasl PLAIN LOGIN\r\nIMPLEMENTATION x y\r\n")
    assert parse_capabilities(capa) == {"TOP": "", "SASL": "PLAIN LOGIN", "IMPLEMENTATION": "x y"}
    listing = Response(Status.OK, "", b"1 a\r\nbogus\r\n3 c extra\r\n")
    assert parse_listing(listing) == [(1, "a"), (3, "c")]


@pytest.mark.parametrize(
    ("text", "timestamp"),
    [
        ("mail.example.org ready. <1896.697170952@dbc.mtview.ca.us>", "<1896.697170952@dbc.mtview.ca.us>"),
        ("POP3 server ready", None),
        ("ready <no-at-sign>", None),
    ],
)
def test_apop_timestamp_in_greeting(text: str, timestamp: str | None) -> None:
    assert apop_timestamp_in(text) == timestamp


def test_apop_digest_matches_the_rfc_1939_example() -> None:
    # RFC 1939 §7: the example secret "tanstaaf" with this timestamp.
    digest = ev.apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf")
    assert digest == "c4c9334bac560ecc979e58001b3e22fb"


# --- reading commands (server side) -------------------------------------------------


@pytest.mark.parametrize(
    ("line", "command"),
    [
        (b"STAT", Command("STAT", "")),
        (b"stat", Command("STAT", "")),
        (b"Retr 1", Command("RETR", "1")),
        (b"TOP 1 10", Command("TOP", "1 10")),
        (b"PASS with spaces ", Command("PASS", "with spaces ")),
        (b"", Command("", "")),
    ],
)
def test_parse_command(line: bytes, command: Command) -> None:
    assert parse_command(line) == command


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("007", 7), ("0", 0), ("4294967296", 4294967296)])
def test_parse_number_accepts_decimal(text: str, value: int) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["", "-1", "+1", "1a", "0x10", "١", "1" * 41])
def test_parse_number_refuses_anything_else(text: str) -> None:
    with pytest.raises(SyntaxProblem) as info:
        parse_number(text)
    assert info.value.response.status is Status.ERR
    assert info.value.response.text.startswith("Invalid message number")


def test_parse_line_count() -> None:
    assert parse_line_count("0") == 0
    with pytest.raises(SyntaxProblem) as info:
        parse_line_count("-2")
    assert info.value.response.text == "Invalid number of lines: -2"


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (0, b"Subject: s\r\nFrom: a\r\n\r\n"),
        (1, b"Subject: s\r\nFrom: a\r\n\r\none\r\n"),
        (2, b"Subject: s\r\nFrom: a\r\n\r\none\r\ntwo\r\n"),
        (9, b"Subject: s\r\nFrom: a\r\n\r\none\r\ntwo\r\nthree\r\n"),
    ],
)
def test_top_of(lines: int, expected: bytes) -> None:
    assert top_of(b"Subject: s\r\nFrom: a\r\n\r\none\r\ntwo\r\nthree\r\n", lines) == expected


# --- line limits on the server (RFC 2449 §4) ------------------------------------------


def test_a_command_of_exactly_255_octets_is_read() -> None:
    line = b"NOOP " + b"x" * (255 - 7) + b"\r\n"
    assert len(line) == 255
    for pieces in [[line], [line[i : i + 1] for i in range(len(line))]]:
        # Read (so not "too long"), then refused for its argument, as NOOP takes none.
        assert server_replies(pieces) == b"-ERR Unknown command: NOOP\r\n"


def test_an_over_long_line_gets_err_and_the_next_command_still_works() -> None:
    data = b"USER " + b"x" * 300 + b"\r\nCAPA\r\n"
    for pieces in [[data], [data[i : i + 1] for i in range(len(data))]]:
        out = server_replies(pieces)
        assert out.startswith(b"-ERR Input line too long.\r\n+OK\r\nCAPA\r\n")
        assert out.endswith(b".\r\n")


def test_a_huge_line_without_end_does_not_grow_the_buffer_without_bound() -> None:
    server = POP3Server(ServerConfig())
    server.data_to_send()
    for _ in range(100):
        server.receive_data(b"x" * 10_000)
        list(server.events())
    assert len(server._buffer) < 20_000
    server.receive_data(b"\r\nNOOP\r\n")
    list(server.events())
    assert server.data_to_send() == b"-ERR Input line too long.\r\n-ERR Unknown command: NOOP\r\n"


def test_bare_lf_ends_a_command_line_as_dovecot_accepts() -> None:
    assert server_replies([b"CAPA\n"]).startswith(b"+OK\r\nCAPA\r\n")


def test_auth_lines_may_be_longer_than_255_octets() -> None:
    password = "p" * 400
    line = b"AUTH PLAIN " + base64.b64encode(f"\0bob\0{password}".encode()) + b"\r\n"
    assert len(line) > 255
    server = POP3Server(ServerConfig())
    server.data_to_send()
    server.receive_data(line)
    events = server.events()
    assert next(events) == ev.Auth("PLAIN")
    assert next(events) == ev.AuthCredentials("PLAIN", "bob", password)
    assert server.data_to_send() == b""  # no "too long": the engine waits for the node's decision
