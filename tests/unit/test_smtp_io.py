"""Readers and writers of the SMTP engine as case tables, fed one byte at a time (h11's test_io.py style).

Each framing case is checked fed whole, fed one byte at a time and, where short, split
in two at every position: the result must not depend on how the bytes arrived.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator.protocol.errors import RemoteProtocolError
from simulator.protocol.linebuffer import Line, LineBuffer
from simulator.protocol.smtp import events as ev
from simulator.protocol.smtp import replies
from simulator.protocol.smtp.address import Path
from simulator.protocol.smtp.events import MailParams, RcptParams
from simulator.protocol.smtp.readers import (
    Command,
    ReplyReader,
    SyntaxProblem,
    decode_xtext,
    encode_xtext,
    parse_command,
    parse_mail,
    parse_rcpt,
)
from simulator.protocol.smtp.replies import Reply
from simulator.protocol.smtp.server import ServerConfig, SMTPServer
from simulator.protocol.smtp.writers import dot_stuff, format_reply

# --- helpers --------------------------------------------------------------------


def splits(data: bytes) -> Iterator[list[bytes]]:
    """The ways of feeding `data` that every case is checked with."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    if len(data) <= 64:
        for cut in range(1, len(data)):
            yield [data[:cut], data[cut:]]


def take_lines(pieces: list[bytes], limit: int) -> tuple[list[Line], int]:
    """Feed the pieces, taking every complete line after each; return the lines and what is left."""
    buffer = LineBuffer()
    lines: list[Line] = []
    for piece in pieces:
        buffer.feed(piece)
        while (line := buffer.take_line(limit)) is not None:
            lines.append(line)
    return lines, len(buffer)


def read_replies(pieces: list[bytes]) -> list[Reply]:
    """What a client does with reply bytes: frame lines, then assemble replies."""
    buffer, reader, out = LineBuffer(), ReplyReader(), []
    for piece in pieces:
        buffer.feed(piece)
        while (line := buffer.take_line(512)) is not None:
            reply = reader.feed_line(line.content)
            if reply is not None:
                out.append(reply)
    assert not reader.partial
    return out


def reply_tuple(reply: Reply) -> tuple[int, str | None, tuple[str, ...]]:
    return reply.code, reply.enhanced, reply.lines


def server_reply(prefix: bytes, line: bytes) -> bytes:
    """Feed a greeted server `prefix` then `line`, one byte at a time; return the reply to `line`."""
    server = SMTPServer(ServerConfig())
    server.data_to_send()

    def pump(data: bytes) -> None:
        for i in range(len(data)):
            server.receive_data(data[i : i + 1])
            for event in server.events():
                if isinstance(event, ev.MailFrom):
                    server.send(replies.SENDER_OK)
                elif isinstance(event, ev.RcptTo):
                    server.send(replies.RECIPIENT_OK)

    pump(prefix)
    server.data_to_send()
    pump(line)
    return server.data_to_send()


# The ESMTP keywords the default server offers before TLS (no AUTH without TLS).
SERVER_EXT = {"PIPELINING", "SIZE", "VRFY", "ENHANCEDSTATUSCODES", "8BITMIME", "DSN", "SMTPUTF8", "CHUNKING"}
ALL_EXT = SERVER_EXT | {"AUTH"}

# --- LineBuffer framing ----------------------------------------------------------

LIMIT = 10
X8 = b"x" * 8

LINE_CASES: list[tuple[str, bytes, list[Line], int]] = [
    # (id, input, lines, octets left buffered); limit is LIMIT octets, CRLF included
    ("crlf", b"EHLO a\r\n", [Line(b"EHLO a", length=8)], 0),
    ("two lines", b"AB\r\nC\r\n", [Line(b"AB", length=4), Line(b"C", length=3)], 0),
    ("empty line", b"\r\n", [Line(b"", length=2)], 0),
    ("partial", b"NOOP", [], 4),
    ("partial after line", b"A\r\nNO", [Line(b"A", length=3)], 2),
    ("cr waiting for lf", b"NOOP\r", [], 5),
    ("bare lf", b"EHLO a\n", [Line(b"EHLO a", bare_lf=True, length=7)], 0),
    ("lone lf", b"\n", [Line(b"", bare_lf=True, length=1)], 0),
    ("lf then crlf", b"a\nb\r\n", [Line(b"a", bare_lf=True, length=2), Line(b"b", length=3)], 0),
    ("bare cr inside", b"a\rb\r\n", [Line(b"a\rb", bare_cr=True, length=5)], 0),
    ("cr cr lf", b"a\r\r\n", [Line(b"a\r", bare_cr=True, length=4)], 0),
    ("cr then bare lf", b"a\rb\n", [Line(b"a\rb", bare_lf=True, bare_cr=True, length=4)], 0),
    ("exactly the limit", X8 + b"\r\n", [Line(X8, length=10)], 0),
    ("one over the limit", b"x" * 9 + b"\r\n", [Line(X8, too_long=True, length=11)], 0),
    ("body at limit, cr over", b"x" * 10 + b"\r\n", [Line(X8, too_long=True, length=12)], 0),
    ("far over the limit", b"x" * 40 + b"\r\n", [Line(X8, too_long=True, length=42)], 0),
    ("over-long bare lf", b"x" * 40 + b"\n", [Line(X8, bare_lf=True, too_long=True, length=41)], 0),
    (
        "over-long cr early",
        b"x\r" + b"x" * 38 + b"\r\n",
        [Line(b"x\rxxxxxx", bare_cr=True, too_long=True, length=42)],
        0,
    ),
    ("over-long cr late", b"x" * 38 + b"\rx\r\n", [Line(X8, bare_cr=True, too_long=True, length=42)], 0),
    ("over-long cr cr lf", b"x" * 38 + b"\r\r\n", [Line(X8, bare_cr=True, too_long=True, length=41)], 0),
    (
        "over-long then normal",
        b"y" * 30 + b"\r\nok\r\n",
        [Line(b"y" * 8, too_long=True, length=32), Line(b"ok", length=4)],
        0,
    ),
    (
        "two over-long",
        b"a" * 12 + b"\r\n" + b"b" * 15 + b"\r\n",
        [Line(b"a" * 8, too_long=True, length=14), Line(b"b" * 8, too_long=True, length=17)],
        0,
    ),
]


@pytest.mark.parametrize(("data", "expected", "left"), [c[1:] for c in LINE_CASES], ids=[c[0] for c in LINE_CASES])
def test_linebuffer_framing_however_split(data: bytes, expected: list[Line], left: int) -> None:
    for pieces in splits(data):
        lines, remaining = take_lines(pieces, LIMIT)
        assert lines == expected, f"split as {[len(p) for p in pieces]}"
        if not any(line.too_long for line in expected):
            assert remaining == left


def test_overlong_line_reported_once_with_its_full_length_memory_bounded() -> None:
    buffer = LineBuffer()
    reported: list[Line] = []
    for _ in range(100_000):
        buffer.feed(b"z")
        # Asking repeatedly must not report the line early or twice.
        assert buffer.take_line(LIMIT) is None
        assert buffer.take_line(LIMIT) is None
        assert len(buffer) <= LIMIT + 1, "the over-long line is kept in memory"
    buffer.feed(b"\r")
    assert buffer.take_line(LIMIT) is None
    buffer.feed(b"\nNOOP\r\n")
    while (line := buffer.take_line(LIMIT)) is not None:
        reported.append(line)
    assert reported == [Line(b"z" * 8, too_long=True, length=100_002), Line(b"NOOP", length=6)]


def test_take_exact_waits_for_the_whole_chunk() -> None:
    data = b"BDAT 5\r\nab\r\ncNOOP\r\n"
    for pieces in splits(data):
        buffer = LineBuffer()
        got: list[object] = []
        want: list[str] = ["line", "chunk", "line"]
        for piece in pieces:
            buffer.feed(piece)
            while got != want:
                if len(got) == 1:
                    item: object = buffer.take_exact(5)
                else:
                    item = buffer.take_line(512)
                if item is None:
                    break
                got.append("chunk" if isinstance(item, bytes) else "line")
                if isinstance(item, bytes):
                    assert item == b"ab\r\nc"  # CRLF inside a chunk is data, not framing
                else:
                    assert isinstance(item, Line)
                    assert item.content in (b"BDAT 5", b"NOOP")
        assert got == want
        assert len(buffer) == 0


def test_take_exact_returns_none_and_keeps_data_until_complete() -> None:
    buffer = LineBuffer()
    buffer.feed(b"abc")
    assert buffer.take_exact(4) is None
    assert len(buffer) == 3
    buffer.feed(b"de")
    assert buffer.take_exact(4) == b"abcd"
    assert buffer.take_exact(0) == b""
    assert buffer.take_exact(1) == b"e"
    assert not buffer


def test_take_upto_streams_what_is_there() -> None:
    buffer = LineBuffer()
    buffer.feed(b"abc")
    assert buffer.take_upto(2) == b"ab"
    assert buffer.take_upto(5) == b"c"
    assert buffer.take_upto(5) == b""
    buffer.feed(b"\r\nrest")
    assert buffer.take_upto(2) == b"\r\n"
    assert buffer.take_line(512) is None
    assert len(buffer) == 4


def test_clear_forgets_data_and_a_half_read_overlong_line() -> None:
    buffer = LineBuffer()
    buffer.feed(b"q" * 50)
    assert buffer.take_line(LIMIT) is None  # now discarding an over-long line
    buffer.clear()
    assert not buffer
    assert len(buffer) == 0
    buffer.feed(b"ok\r\n")
    assert buffer.take_line(LIMIT) == Line(b"ok", length=4)


# --- command lines ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"EHLO client.example", Command("EHLO", "client.example")),
        (b"ehlo client.example", Command("EHLO", "client.example")),
        (b"Mail FROM:<a@b.example> SIZE=10", Command("MAIL", "FROM:<a@b.example> SIZE=10")),
        (b"NOOP", Command("NOOP", "")),
        (b"QUIT   ", Command("QUIT", "")),
        (b"RCPT  TO:<a@b.example>  ", Command("RCPT", "TO:<a@b.example>")),
        (b"", Command("", "")),
        (b" NOOP", Command("", "NOOP")),
        (b"VRFY j\xc3\xb6rg", Command("VRFY", "jörg")),
        (b"VRFY \xff", Command("VRFY", "\udcff")),  # undecodable octets survive, escaped
        (b"\xc3\xa9hlo x", Command("éhlo", "x")),  # a non-ASCII verb is left as sent: it is no command
    ],
)
def test_parse_command(content: bytes, expected: Command) -> None:
    assert parse_command(content) == expected


# --- MAIL FROM ---------------------------------------------------------------------

MAIL_OK: list[tuple[str, set[str], Path, MailParams]] = [
    ("FROM:<alice@example.com>", SERVER_EXT, Path("alice@example.com"), MailParams()),
    ("from:<alice@example.com>", SERVER_EXT, Path("alice@example.com"), MailParams()),
    ("FROM: <alice@example.com>", SERVER_EXT, Path("alice@example.com"), MailParams()),
    ("FROM:alice@example.com", SERVER_EXT, Path("alice@example.com"), MailParams()),
    ("FROM:<>", SERVER_EXT, Path(""), MailParams()),
    (
        "FROM:<@relay.example:alice@example.com>",
        SERVER_EXT,
        Path("alice@example.com", ("relay.example",)),
        MailParams(),
    ),
    ('FROM:<"john doe"@example.com>', SERVER_EXT, Path('"john doe"@example.com'), MailParams()),
    ("FROM:<a@[192.0.2.1]>", SERVER_EXT, Path("a@[192.0.2.1]"), MailParams()),
    ("FROM:<a@[IPv6:2001:db8::1]>", SERVER_EXT, Path("a@[IPv6:2001:db8::1]"), MailParams()),
    ("FROM:<a@b.example> SIZE=1000", SERVER_EXT, Path("a@b.example"), MailParams(size=1000)),
    ("FROM:<a@b.example> size=0", SERVER_EXT, Path("a@b.example"), MailParams(size=0)),
    ("FROM:<a@b.example> BODY=8bitmime", SERVER_EXT, Path("a@b.example"), MailParams(body="8BITMIME")),
    ("FROM:<a@b.example> BODY=7BIT", SERVER_EXT, Path("a@b.example"), MailParams(body="7BIT")),
    ("FROM:<a@b.example> SMTPUTF8", SERVER_EXT, Path("a@b.example"), MailParams(smtputf8=True)),
    ("FROM:<josé@exämple.org> SMTPUTF8", SERVER_EXT, Path("josé@exämple.org"), MailParams(smtputf8=True)),
    ("FROM:<a@b.example> RET=hdrs", SERVER_EXT, Path("a@b.example"), MailParams(ret="HDRS")),
    ("FROM:<a@b.example> RET=FULL", SERVER_EXT, Path("a@b.example"), MailParams(ret="FULL")),
    ("FROM:<a@b.example> ENVID=QQ314159", SERVER_EXT, Path("a@b.example"), MailParams(envid="QQ314159")),
    ("FROM:<a@b.example> ENVID=a+2Bb+3Dc", SERVER_EXT, Path("a@b.example"), MailParams(envid="a+b=c")),
    ("FROM:<a@b.example> AUTH=<>", ALL_EXT, Path("a@b.example"), MailParams(auth="<>")),
    ("FROM:<a@b.example> AUTH=alice+40example.com", ALL_EXT, Path("a@b.example"), MailParams(auth="alice@example.com")),
    (
        "FROM:<a@b.example>  SIZE=5 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=x+2By AUTH=<>",
        ALL_EXT,
        Path("a@b.example"),
        MailParams(size=5, body="8BITMIME", smtputf8=True, ret="HDRS", envid="x+y", auth="<>"),
    ),
]


@pytest.mark.parametrize(("argument", "extensions", "path", "params"), MAIL_OK)
def test_parse_mail_valid(argument: str, extensions: set[str], path: Path, params: MailParams) -> None:
    assert parse_mail(argument, extensions) == (path, params)


SYNTAX_MAIL = (501, "5.5.4", "Syntax: MAIL FROM:<address>")
BAD_SENDER = (501, "5.1.7", "Bad sender address syntax")
NEED_UTF8 = (553, "5.6.7", "Must declare SMTPUTF8 to send unicode address")

# (argument, extensions, (code, enhanced, text)); text None: only code and enhanced code checked
MAIL_BAD: list[tuple[str, set[str], tuple[int, str, str | None]]] = [
    ("", SERVER_EXT, SYNTAX_MAIL),
    ("TO:<a@b.example>", SERVER_EXT, SYNTAX_MAIL),
    ("FROM <a@b.example>", SERVER_EXT, SYNTAX_MAIL),
    ("FROM:", SERVER_EXT, SYNTAX_MAIL),
    ("FROM:<a@b.example", SERVER_EXT, SYNTAX_MAIL),
    ("FROM:<a@b.example>SIZE=10", SERVER_EXT, SYNTAX_MAIL),
    ("FROM:<a b@example.com>", SERVER_EXT, BAD_SENDER),
    ("FROM:<a@>", SERVER_EXT, BAD_SENDER),
    ("FROM:<@b.example>", SERVER_EXT, BAD_SENDER),
    ("FROM:<a..b@example.com>", SERVER_EXT, BAD_SENDER),
    ("FROM:<" + "a" * 65 + "@example.com>", SERVER_EXT, BAD_SENDER),
    ("FROM:<a@[999.0.0.1]>", SERVER_EXT, BAD_SENDER),
    ("FROM:<josé@example.com>", SERVER_EXT, NEED_UTF8),
    ("FROM:<a@b.example> FOO=1", SERVER_EXT, (555, "5.5.4", "Unsupported option: FOO=1")),
    ("FROM:<a@b.example> AUTH=<>", SERVER_EXT, (555, "5.5.4", "Unsupported option: AUTH=<>")),
    ("FROM:<a@b.example> RET=FULL", SERVER_EXT - {"DSN"}, (555, "5.5.4", "Unsupported option: RET=FULL")),
    (
        "FROM:<a@b.example> BODY=8BITMIME",
        SERVER_EXT - {"8BITMIME"},
        (555, "5.5.4", "Unsupported option: BODY=8BITMIME"),
    ),
    # Postfix quotes the parameter whole and as sent, case and all.
    ("FROM:<a@b.example> foo=Bar", SERVER_EXT, (555, "5.5.4", "Unsupported option: foo=Bar")),
    ("FROM:<a@b.example> XYZ", SERVER_EXT, (555, "5.5.4", "Unsupported option: XYZ")),
    ("FROM:<a@b.example> SIZE=abc", SERVER_EXT, (501, "5.5.4", "Bad message size syntax")),
    ("FROM:<a@b.example> SIZE", SERVER_EXT, (501, "5.5.4", "Bad message size syntax")),
    ("FROM:<a@b.example> SIZE=-1", SERVER_EXT, (501, "5.5.4", "Bad message size syntax")),
    ("FROM:<a@b.example> SIZE=" + "9" * 21, SERVER_EXT, (501, "5.5.4", "Bad message size syntax")),
    ("FROM:<a@b.example> SIZE=1 SIZE=2", SERVER_EXT, (501, "5.5.4", "Error: duplicate SIZE parameter")),
    ("FROM:<a@b.example> BODY=BINARYMIME", SERVER_EXT, (501, "5.5.4", "Bad BODY keyword value syntax")),
    ("FROM:<a@b.example> BODY", SERVER_EXT, (501, "5.5.4", "Bad BODY keyword value syntax")),
    ("FROM:<a@b.example> SMTPUTF8=yes", SERVER_EXT, (501, "5.5.4", "Bad SMTPUTF8 syntax")),
    ("FROM:<a@b.example> RET=ALL", SERVER_EXT, (501, "5.5.4", "Bad RET parameter syntax")),
    ("FROM:<a@b.example> ENVID=a=b", SERVER_EXT, (501, "5.5.4", "Bad ENVID parameter syntax")),
    ("FROM:<a@b.example> ENVID=ab+2", SERVER_EXT, (501, "5.5.4", "Bad ENVID parameter syntax")),
    ("FROM:<a@b.example> ENVID=ab+2b", SERVER_EXT, (501, "5.5.4", "Bad ENVID parameter syntax")),
    ("FROM:<a@b.example> ENVID=", SERVER_EXT, (501, "5.5.4", "Bad ENVID parameter syntax")),
    ("FROM:<a@b.example> ENVID=" + "e" * 101, SERVER_EXT, (501, "5.5.4", "Bad ENVID parameter syntax")),
    ("FROM:<a@b.example> AUTH=a+zz", ALL_EXT, (501, "5.5.4", "Bad AUTH parameter syntax")),
]


def _check_problem(problem: SyntaxProblem, expected: tuple[int, str, str | None]) -> None:
    code, enhanced, text = expected
    assert (problem.reply.code, problem.reply.enhanced) == (code, enhanced)
    if text is not None:
        assert problem.reply.text == text
    assert problem.reply_hint == code


@pytest.mark.parametrize(("argument", "extensions", "expected"), MAIL_BAD)
def test_parse_mail_malformed(argument: str, extensions: set[str], expected: tuple[int, str, str | None]) -> None:
    with pytest.raises(SyntaxProblem) as caught:
        parse_mail(argument, extensions)
    _check_problem(caught.value, expected)


@pytest.mark.parametrize(
    ("argument", "expected"), [(a, e) for a, x, e in MAIL_BAD if x == SERVER_EXT and e[2] is not None]
)
def test_server_answers_malformed_mail_byte_by_byte(argument: str, expected: tuple[int, str, str]) -> None:
    wire = server_reply(b"EHLO c.example\r\n", f"MAIL {argument}\r\n".encode())
    code, enhanced, text = expected
    assert wire == f"{code} {enhanced} {text}\r\n".encode()


# --- RCPT TO -------------------------------------------------------------------------

RCPT_OK: list[tuple[str, set[str], bool, Path, RcptParams]] = [
    ("TO:<bob@example.org>", SERVER_EXT, False, Path("bob@example.org"), RcptParams()),
    ("to: <bob@example.org>", SERVER_EXT, False, Path("bob@example.org"), RcptParams()),
    ("TO:bob@example.org", SERVER_EXT, False, Path("bob@example.org"), RcptParams()),
    ("TO:<Postmaster>", SERVER_EXT, False, Path("postmaster"), RcptParams()),
    ("TO:<@hop1.example,@hop2.example:bob@example.org>", SERVER_EXT, False,
     Path("bob@example.org", ("hop1.example", "hop2.example")), RcptParams()),
    ("TO:<bøb@exämple.org>", SERVER_EXT, True, Path("bøb@exämple.org"), RcptParams()),
    ("TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE", SERVER_EXT, False, Path("bob@example.org"),
     RcptParams(notify=("SUCCESS", "FAILURE"))),
    ("TO:<bob@example.org> notify=never", SERVER_EXT, False, Path("bob@example.org"), RcptParams(notify=("NEVER",))),
    ("TO:<bob@example.org> NOTIFY=DELAY", SERVER_EXT, False, Path("bob@example.org"), RcptParams(notify=("DELAY",))),
    ("TO:<bob@example.org> ORCPT=rfc822;bob+40example.org", SERVER_EXT, False, Path("bob@example.org"),
     RcptParams(orcpt="rfc822;bob@example.org")),
    ("TO:<bob@example.org> NOTIFY=FAILURE ORCPT=rfc822;x+2By@example.org", SERVER_EXT, False,
     Path("bob@example.org"), RcptParams(notify=("FAILURE",), orcpt="rfc822;x+y@example.org")),
]  # fmt: skip


@pytest.mark.parametrize(("argument", "extensions", "utf8", "path", "params"), RCPT_OK)
def test_parse_rcpt_valid(argument: str, extensions: set[str], utf8: bool, path: Path, params: RcptParams) -> None:
    assert parse_rcpt(argument, extensions, utf8=utf8) == (path, params)


SYNTAX_RCPT = (501, "5.5.4", "Syntax: RCPT TO:<address>")
BAD_RECIPIENT = (501, "5.1.3", "Bad recipient address syntax")
BAD_NOTIFY = (501, "5.5.4", "Bad NOTIFY parameter syntax")
BAD_ORCPT = (501, "5.5.4", "Bad ORCPT parameter syntax")

RCPT_BAD: list[tuple[str, set[str], tuple[int, str, str | None]]] = [
    ("", SERVER_EXT, SYNTAX_RCPT),
    ("FROM:<bob@example.org>", SERVER_EXT, SYNTAX_RCPT),
    ("TO:", SERVER_EXT, SYNTAX_RCPT),
    ("TO:<bob@example.org", SERVER_EXT, SYNTAX_RCPT),
    ("TO:<>", SERVER_EXT, BAD_RECIPIENT),
    ("TO:<bob>", SERVER_EXT, BAD_RECIPIENT),
    ("TO:<bob@exa_mple.org>", SERVER_EXT, BAD_RECIPIENT),
    ("TO:<bøb@example.org>", SERVER_EXT, NEED_UTF8),
    ("TO:<bob@example.org> NOTIFY=SOMETIMES", SERVER_EXT, BAD_NOTIFY),
    ("TO:<bob@example.org> NOTIFY=NEVER,SUCCESS", SERVER_EXT, BAD_NOTIFY),
    ("TO:<bob@example.org> NOTIFY=SUCCESS,SUCCESS", SERVER_EXT, BAD_NOTIFY),
    ("TO:<bob@example.org> NOTIFY", SERVER_EXT, BAD_NOTIFY),
    ("TO:<bob@example.org> ORCPT=bob@example.org", SERVER_EXT, BAD_ORCPT),
    ("TO:<bob@example.org> ORCPT=rfc822;", SERVER_EXT, BAD_ORCPT),
    ("TO:<bob@example.org> ORCPT=;bob@example.org", SERVER_EXT, BAD_ORCPT),
    ("TO:<bob@example.org> ORCPT=rfc822;bob+zz", SERVER_EXT, BAD_ORCPT),
    ("TO:<bob@example.org> FOO=bar", SERVER_EXT, (555, "5.5.4", "Unsupported option: FOO=bar")),
    ("TO:<bob@example.org> NOTIFY=SUCCESS", SERVER_EXT - {"DSN"}, (555, "5.5.4", "Unsupported option: NOTIFY=SUCCESS")),
    ("TO:<bob@example.org> NOTIFY=NEVER notify=never", SERVER_EXT, (501, "5.5.4", "Error: duplicate NOTIFY parameter")),
]


@pytest.mark.parametrize(("argument", "extensions", "expected"), RCPT_BAD)
def test_parse_rcpt_malformed(argument: str, extensions: set[str], expected: tuple[int, str, str | None]) -> None:
    with pytest.raises(SyntaxProblem) as caught:
        parse_rcpt(argument, extensions, utf8=False)
    _check_problem(caught.value, expected)


@pytest.mark.parametrize(("argument", "expected"), [(a, e) for a, x, e in RCPT_BAD if x == SERVER_EXT])
def test_server_answers_malformed_rcpt_byte_by_byte(argument: str, expected: tuple[int, str, str]) -> None:
    prefix = b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\n"
    wire = server_reply(prefix, f"RCPT {argument}\r\n".encode())
    code, enhanced, text = expected
    assert wire == f"{code} {enhanced} {text}\r\n".encode()


# --- xtext (RFC 3461 §4) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("decoded", "encoded"),
    [("plain", "plain"), ("a+b", "a+2Bb"), ("k=v", "k+3Dv"), ("two words", "two+20words"), ("", "")],
)
def test_xtext_round_trip(decoded: str, encoded: str) -> None:
    assert encode_xtext(decoded) == encoded
    assert decode_xtext(encoded) == decoded


@pytest.mark.parametrize("bad", ["a+2b", "a+", "a+G0", "a=b", "a b", "caf\u00e9"])
def test_xtext_malformed(bad: str) -> None:
    with pytest.raises(ValueError):
        decode_xtext(bad)


# --- replies, read -------------------------------------------------------------------------

REPLY_CASES: list[tuple[str, bytes, list[tuple[int, str | None, tuple[str, ...]]]]] = [
    ("single", b"250 2.1.0 Ok\r\n", [(250, "2.1.0", ("Ok",))]),
    ("greeting", b"220 mx.example.org ESMTP\r\n", [(220, None, ("mx.example.org ESMTP",))]),
    ("bare code", b"250\r\n", [(250, None, ("",))]),
    ("code and space", b"250 \r\n", [(250, None, ("",))]),
    ("enhanced only", b"451 4.3.0\r\n", [(451, "4.3.0", ("",))]),
    (
        "ehlo",
        b"250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 CHUNKING\r\n",
        [(250, None, ("mx.example.org", "PIPELINING", "SIZE 10240000", "CHUNKING"))],
    ),
    (
        "multi-line enhanced",
        b"214-2.0.0 Commands:\r\n214-2.0.0 EHLO QUIT\r\n214 2.0.0 End of HELP info\r\n",
        [(214, "2.0.0", ("Commands:", "EHLO QUIT", "End of HELP info"))],
    ),
    ("enhanced first line only", b"250-2.0.0 a\r\n250 b\r\n", [(250, "2.0.0", ("a", "b"))]),
    ("empty middle line", b"250-first\r\n250-\r\n250 last\r\n", [(250, None, ("first", "", "last"))]),
    (
        "recipient refused",
        b"550 5.1.1 <bob@example.org>: Recipient address rejected\r\n",
        [(550, "5.1.1", ("<bob@example.org>: Recipient address rejected",))],
    ),
    ("class mismatch is text", b"250 5.1.1 odd\r\n", [(250, None, ("5.1.1 odd",))]),
    ("no space after enhanced", b"250 2.0.0Ok\r\n", [(250, None, ("2.0.0Ok",))]),
    ("three-digit detail", b"550 5.7.100 policy\r\n", [(550, "5.7.100", ("policy",))]),
    ("challenge", b"334 VXNlcm5hbWU6\r\n", [(334, None, ("VXNlcm5hbWU6",))]),
    ("empty challenge", b"334 \r\n", [(334, None, ("",))]),
    ("start data", b"354 End data with <CR><LF>.<CR><LF>\r\n", [(354, None, ("End data with <CR><LF>.<CR><LF>",))]),
    ("utf-8 text", "250 2.0.0 déjà vu\r\n".encode(), [(250, "2.0.0", ("déjà vu",))]),
    (
        "pipelined replies",
        b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n550 5.1.1 no\r\n354 go\r\n",
        [(250, "2.1.0", ("Ok",)), (250, "2.1.5", ("Ok",)), (550, "5.1.1", ("no",)), (354, None, ("go",))],
    ),
]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in REPLY_CASES], ids=[c[0] for c in REPLY_CASES])
def test_reply_reader_however_split(data: bytes, expected: list[tuple[int, str | None, tuple[str, ...]]]) -> None:
    for pieces in splits(data):
        got = read_replies(pieces)
        assert [reply_tuple(r) for r in got] == expected, f"split as {[len(p) for p in pieces]}"


def test_reply_reader_is_partial_inside_a_multiline_reply_and_annotates() -> None:
    reader = ReplyReader()
    assert not reader.partial
    assert reader.feed_line(b"250-mx.example.org") is None
    assert reader.partial
    reply = reader.feed_line(b"250 2.0.0 SMTPUTF8")
    assert reply is not None
    assert not reader.partial
    assert reply.explain and reply.rfc  # annotated for the learner from the code


@pytest.mark.parametrize(
    "lines",
    [
        [b""],
        [b"hello"],
        [b"25"],
        [b"250x"],
        [b"2500"],
        [b"250_ok"],
        [b"250\tok"],
        [b"600 too high"],
        [b"199 too low"],
        [b"abc 250"],
        [b" 250 ok"],
        [b"250-first", b"251 second"],
        [b"250-first", b"garbage"],
    ],
    ids=lambda lines: repr(b"|".join(lines)),
)
def test_reply_reader_rejects_malformed_lines(lines: list[bytes]) -> None:
    reader = ReplyReader()
    for line in lines[:-1]:
        assert reader.feed_line(line) is None
    with pytest.raises(RemoteProtocolError):
        reader.feed_line(lines[-1])


# --- replies, written ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "wire"),
    [
        (Reply(250, "2.1.0", ("Ok",)), b"250 2.1.0 Ok\r\n"),
        (Reply(220, None, ("mx.example.org ESMTP",)), b"220 mx.example.org ESMTP\r\n"),
        # RFC 4954 §4: an empty challenge is "334 " with its space; other codes keep it too.
        (Reply(334, None, ("",)), b"334 \r\n"),
        (replies.auth_challenge(b""), b"334 \r\n"),
        (Reply(250, None, ("",)), b"250 \r\n"),
        (Reply(550, "5.1.1", ("first", "second")), b"550-5.1.1 first\r\n550 5.1.1 second\r\n"),
        (Reply(250, None, ("a", "", "c")), b"250-a\r\n250-\r\n250 c\r\n"),
        (Reply(250, "2.0.0", ("déjà",)), "250 2.0.0 déjà\r\n".encode()),
        (replies.START_DATA, b"354 End data with <CR><LF>.<CR><LF>\r\n"),
        (replies.BYE, b"221 2.0.0 Bye\r\n"),
        (replies.queued("4ABC"), b"250 2.0.0 Ok: queued as 4ABC\r\n"),
        (replies.chunk_ok(42), b"250 2.0.0 Ok: 42 bytes\r\n"),
        (replies.greeting("mx.example.org"), b"220 mx.example.org ESMTP\r\n"),
        (replies.helo("mx.example.org"), b"250 mx.example.org\r\n"),
        (
            replies.ehlo("mx.example.org", ["PIPELINING", "SIZE 1000", "CHUNKING"]),
            b"250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 CHUNKING\r\n",
        ),
        (
            replies.help_text(["EHLO", "QUIT"]),
            b"214-2.0.0 Commands:\r\n214-2.0.0 EHLO QUIT\r\n214 2.0.0 End of HELP info\r\n",
        ),
        (replies.auth_challenge(b"Username:"), b"334 VXNlcm5hbWU6\r\n"),
        (replies.syntax("EHLO hostname", enhanced=None), b"501 Syntax: EHLO hostname\r\n"),
        (replies.bare_newline("LF"), b"550 5.5.2 Error: bare <LF> received\r\n"),
        (replies.too_many_errors("mx.example.org"), b"421 4.7.0 mx.example.org Error: too many errors\r\n"),
    ],
    ids=lambda value: repr(value)[:40] if isinstance(value, bytes) else None,
)
def test_format_reply(reply: Reply, wire: bytes) -> None:
    assert format_reply(reply) == wire


@pytest.mark.parametrize(
    "reply",
    [
        Reply(250, "2.1.0", ("Ok",)),
        Reply(550, "5.1.1", ("first", "second", "third")),
        Reply(220, None, ("mx.example.org ESMTP",)),
        Reply(250, None, ("mx.example.org", "PIPELINING", "8BITMIME")),
        replies.help_text(["DATA", "EHLO"]),
        replies.too_many_errors("mx.example.org"),
    ],
)
def test_written_replies_read_back_however_split(reply: Reply) -> None:
    for pieces in splits(format_reply(reply)):
        assert read_replies(pieces) == [reply]


# --- the DATA body ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "wire"),
    [
        (b"Hello\r\n", b"Hello\r\n.\r\n"),
        (b"Hello", b"Hello\r\n.\r\n"),
        (b"", b"\r\n.\r\n"),
        (b".start\r\n", b"..start\r\n.\r\n"),
        (b"a\r\n.\r\nb\r\n", b"a\r\n..\r\nb\r\n.\r\n"),
        (b"a\r\n..b\r\n", b"a\r\n...b\r\n.\r\n"),
        (b".\r\n", b"..\r\n.\r\n"),
        (b"a.b\r\nc .\r\n", b"a.b\r\nc .\r\n.\r\n"),
        (b"x\r\n\r\n.\r\n", b"x\r\n\r\n..\r\n.\r\n"),
    ],
)
def test_dot_stuff(content: bytes, wire: bytes) -> None:
    assert dot_stuff(content) == wire


@pytest.mark.parametrize(
    "content",
    [
        b"Subject: hi\r\n\r\nHello\r\n",
        b".\r\n..\r\n...\r\n",
        b"a\r\n.\r\nMAIL FROM:<x@y.example>\r\n",
        b"\r\n",
        b"no final newline",
    ],
)
def test_dot_stuffed_content_survives_the_server_byte_by_byte(content: bytes) -> None:
    server = SMTPServer(ServerConfig())
    prefix = b"EHLO c.example\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n"
    received: list[bytes] = []
    for octet in [bytes([b]) for b in prefix + dot_stuff(content)]:
        server.receive_data(octet)
        for event in server.events():
            if isinstance(event, ev.MailFrom):
                server.send(replies.SENDER_OK)
            elif isinstance(event, ev.RcptTo):
                server.send(replies.RECIPIENT_OK)
            elif isinstance(event, ev.DataComplete):
                received.append(event.content)
                server.send(replies.queued("1"))
    expected = content if content.endswith(b"\r\n") else content + b"\r\n"
    assert received == [expected]
