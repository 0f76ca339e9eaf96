"""Property tests for the IMAP server engine: whatever the client sends, however it is split.

The server never raises, writes only well-formed responses (`* ...`, `+ ...` or
`tag OK|NO|BAD ...`, literals framed by their `{n}`), each Output is exactly one
response, and what it writes and emits does not depend on how the input was cut
into receive_data() calls. Inputs mix arbitrary bytes with lines from an IMAP
vocabulary so that the selected state, literals, IDLE and SASL are all reached.
"""

from __future__ import annotations

import base64
import itertools
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.mail.store import Account, FlagMode
from simulator.protocol.imap.server import Credentials, ServerConfig
from tests.unit.test_imap_server import FIRST, SECOND, THIRD, Node, mailbox

PROFILE = settings(
    max_examples=400,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CRLF = b"\r\n"
_TAG = rb"[\x21\x23\x24\x26\x27\x2c-\x5b\x5d-\x7a\x7c\x7e]+"
_FIRST_LINE = re.compile(rb"(\* |\+ |" + _TAG + rb" (OK|NO|BAD) )")
_LITERAL_AT_END = re.compile(rb"\{([0-9]+)\}\Z")


def responses(data: bytes) -> list[bytes]:
    """Cut a server's output into responses, reading literals by their announced length; AssertionError if malformed."""
    units: list[bytes] = []
    pos = 0
    while pos < len(data):
        start = pos
        while True:
            end = data.find(CRLF, pos)
            assert end >= 0, f"a response without its CRLF: {data[start:]!r}"
            literal = _LITERAL_AT_END.search(data, pos, end)
            pos = end + 2
            if literal is None:
                break
            size = int(literal.group(1))
            assert pos + size <= len(data), "a literal shorter than announced"
            pos += size
        unit = data[start:pos]
        assert _FIRST_LINE.match(unit), f"not an IMAP response: {unit[:80]!r}"
        units.append(unit)
    return units


@st.composite
def split(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """Cut `data` at arbitrary points into non-empty pieces (b"" would mean EOF)."""
    cuts = draw(st.lists(st.integers(0, len(data)), max_size=12))
    if draw(st.integers(0, 9)) == 0:  # sometimes one byte at a time
        cuts = list(range(len(data)))
    bounds = [0, *sorted(set(cuts)), len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


_VOCABULARY = [
    b"a CAPABILITY",
    b"a NOOP",
    b"b LOGIN bob builder",
    b"b LOGIN bob wrong",
    b"c AUTHENTICATE PLAIN " + base64.b64encode(b"\0bob\0builder"),
    b"c AUTHENTICATE PLAIN",
    b"c AUTHENTICATE LOGIN",
    base64.b64encode(b"bob"),
    base64.b64encode(b"builder"),
    b"*",
    b"d SELECT INBOX",
    b"d EXAMINE INBOX",
    b"d SELECT Archive",
    b"e CREATE Archive",
    b"e DELETE Archive",
    b"e RENAME Archive Old",
    b"e SUBSCRIBE INBOX",
    b'f LIST "" *',
    b'f LIST "" ""',
    b'f LSUB "" %',
    b"g STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)",
    b"h APPEND INBOX {5}",
    b"hello",
    b"h APPEND INBOX (\\Seen) {3+}",
    b"h APPEND Nope {0+}",
    b"h APPEND INBOX {999999999999}",
    b"i FETCH 1:* (FLAGS UID RFC822.SIZE INTERNALDATE ENVELOPE)",
    b"i FETCH 1 BODY[]",
    b"i FETCH 2 (BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODYSTRUCTURE BODY[TEXT]<2.3>)",
    b"i UID FETCH 1:* RFC822",
    b"i FETCH 9 FLAGS",
    b"j STORE 1:2 +FLAGS (\\Deleted)",
    b"j UID STORE 3 FLAGS.SILENT (\\Seen Work)",
    b"j STORE 1 -FLAGS (\\Recent)",
    b"k EXPUNGE",
    b"k UID EXPUNGE 1:2",
    b"l SEARCH UNSEEN",
    b"l UID SEARCH OR SUBJECT two NOT DELETED",
    b"l SEARCH CHARSET KOI8-R ALL",
    b"m COPY 1 Archive",
    b"m UID MOVE 2 Archive",
    b"m MOVE 1 Nope",
    b"n IDLE",
    b"DONE",
    b"o CLOSE",
    b"o UNSELECT",
    b"p NAMESPACE",
    b"p ENABLE IDLE",
    b"q CHECK",
    b"r STARTTLS",
    b"s LOGOUT",
    b"t FROB",
    b"",
]


@st.composite
def _session(draw: st.DrawFn) -> bytes:
    """Lines of the vocabulary, with a few lines of arbitrary bytes slipped in among them."""
    lines = draw(st.lists(st.sampled_from(_VOCABULARY), min_size=1, max_size=30))
    for junk in draw(st.lists(st.binary(max_size=40), max_size=3)):
        lines.insert(draw(st.integers(0, len(lines))), junk)
    return b"".join(line + CRLF for line in lines)


def run(pieces: list[bytes], *, start: int, eof: bool = False) -> tuple[bytes, list[bytes], list[object]]:
    """Feed the pieces to a fresh server on a fresh account; return its output, its Outputs' data and its events.

    `start` 0 begins before login, 1 logged in, 2 with INBOX selected.
    """
    node = Node(mailbox(FIRST, SECOND, THIRD), ServerConfig(starttls=True, max_literal=1000, max_bad_commands=20))
    if start >= 1:
        node.login()
    if start >= 2:
        node.select()
    wire = b""
    units: list[bytes] = []
    for piece in [*pieces, *([b""] if eof else [])]:
        node.server.receive_data(piece)
        for event in node.server.events():
            node.events.append(event)
            if isinstance(event, Credentials):
                if event.password == "builder":
                    node.server.accept_login(node.account, FlagMode)
                else:
                    node.server.refuse_login()
        for output in node.server.outgoing():
            units.append(output.data)
            wire += output.data
    return wire, units, list(node.events)


@PROFILE
@given(st.data(), _session(), st.sampled_from([0, 1, 2, 2]), st.booleans())
def test_never_raises_always_well_formed_and_split_independent(
    data: st.DataObject, stream: bytes, start: int, eof: bool
) -> None:
    whole, units, events = run([stream] if stream else [], start=start, eof=eof)
    for unit in units:
        assert responses(unit) == [unit], f"one Output must be exactly one response: {unit[:80]!r}"
    responses(whole)
    pieces = data.draw(split(stream))
    assert run(pieces, start=start, eof=eof) == (whole, units, events)


@PROFILE
@given(st.data(), st.binary(max_size=3000), st.booleans())
def test_a_literal_of_any_size_split_anywhere_is_stored_whole(
    data: st.DataObject, content: bytes, synchronising: bool
) -> None:
    marker = b"{%d}" % len(content) if synchronising else b"{%d+}" % len(content)
    stream = b"a APPEND INBOX " + marker + CRLF + content + CRLF + b"b NOOP" + CRLF
    node = Node(Account("bob"), ServerConfig(max_literal=10_000)).login()
    wire = b"".join(node.send(piece) for piece in data.draw(split(stream)))
    continuation = b"+ Ready for literal data\r\n" if synchronising else b""
    assert wire == continuation + b"a OK [APPENDUID 1 1] Append completed.\r\nb OK NOOP completed.\r\n"
    assert node.account.inbox.messages[1].content == content


@PROFILE
@given(st.data(), st.integers(1001, 10**12), st.booleans())
def test_an_over_limit_literal_is_refused_before_it_is_read(
    data: st.DataObject, size: int, synchronising: bool
) -> None:
    marker = b"{%d}" % size if synchronising else b"{%d+}" % size
    stream = b"a APPEND INBOX " + marker + CRLF
    if not synchronising:  # a non-synchronising literal comes anyway
        size = min(size, 1500)
        stream = b"a APPEND INBOX {%d+}\r\n" % size + b"x" * size + CRLF
    stream += b"b NOOP\r\n"
    node = Node(Account("bob"), ServerConfig(max_literal=1000)).login()
    wire = b"".join(node.send(piece) for piece in data.draw(split(stream)))
    if synchronising:  # the client waits for "+", so nothing more comes: the session goes on
        assert wire == b"a BAD [TOOBIG] Literal too large.\r\nb OK NOOP completed.\r\n"
    else:  # the octets are on their way: the server hangs up instead of reading them
        assert wire == b"a BAD [TOOBIG] Literal too large.\r\n* BYE Literal too large, disconnecting.\r\n"
    assert node.account.inbox.messages == {}


def test_the_checker_rejects_what_is_not_a_response() -> None:
    for bad in (b"hello\r\n", b"* 1 FETCH (BODY[] {10}\r\nabc)\r\n", b"a OK done"):
        try:
            responses(bad)
        except AssertionError:
            continue
        raise AssertionError(f"accepted {bad!r}")
    assert responses(b"* 1 FETCH (BODY[] {3}\r\na\r\n)\r\n+ idling\r\nx1 NO y\r\n") == [
        b"* 1 FETCH (BODY[] {3}\r\na\r\n)\r\n",
        b"+ idling\r\n",
        b"x1 NO y\r\n",
    ]
