"""The IMAP command reader as case tables, fed one byte at a time (h11's test_io.py style).

Framing cases are checked fed whole, one byte at a time and, where short, split in two at
every position: the events must not depend on how the bytes arrived.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.protocol.imap import events as ev
from simulator.protocol.imap.events import (
    BodySection,
    FetchAttribute,
    Section,
    SectionText,
    SequenceSet,
    StoreAction,
    StoreMode,
)
from simulator.protocol.imap.parser import parse_command
from simulator.protocol.imap.readers import (
    TOO_LONG_LINE,
    CommandReader,
    LiteralTooLarge,
    NeedsContinuation,
    ReaderEvent,
    is_idle_done,
)
from simulator.protocol.imap.utf7 import decode_mailbox_name, encode_mailbox_name

# --- helpers --------------------------------------------------------------------


def splits(data: bytes) -> Iterator[list[bytes]]:
    """The ways of feeding `data` that every framing case is checked with."""
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    if len(data) <= 64:
        for cut in range(1, len(data)):
            yield [data[:cut], data[cut:]]


def read(pieces: list[bytes], reader: CommandReader | None = None) -> list[ReaderEvent]:
    """Feed the pieces, collecting every event after each."""
    reader = reader or CommandReader()
    out: list[ReaderEvent] = []
    for piece in pieces:
        reader.feed(piece)
        while (event := reader.next_event()) is not None:
            out.append(event)
    return out


def seq(*ranges: tuple[int | None, int | None]) -> SequenceSet:
    return SequenceSet(tuple(ranges))


# --- framing --------------------------------------------------------------------

FRAMING_CASES: list[tuple[bytes, list[ReaderEvent]]] = [
    (b"a1 NOOP\r\n", [ev.Noop("a1")]),
    (b"a1 NOOP\r\nA2 capability\r\n", [ev.Noop("a1"), ev.Capability("A2")]),
    (b"\r\na1 NOOP\r\n", [ev.Noop("a1")]),  # a stray empty line is ignored
    (
        b"a LOGIN {5}\r\nalice {10}\r\nwonderland\r\n",
        [NeedsContinuation("a", 5), NeedsContinuation("a", 10), ev.Login("a", "alice", "wonderland")],
    ),
    (
        b"a LOGIN {0}\r\n {3}\r\npwd\r\n",
        [NeedsContinuation("a", 0), NeedsContinuation("a", 3), ev.Login("a", "", "pwd")],
    ),
    (b"a LOGIN {3+}\r\nbob {7+}\r\nbuilder\r\n", [ev.Login("a", "bob", "builder")]),
    (b"a LOGIN {0+}\r\n {0+}\r\n\r\n", [ev.Login("a", "", "")]),
    # A literal holding CRLF, a brace and what looks like a command is data, not framing.
    (b"t APPEND INBOX {16+}\r\nx\r\n{3}\r\nb NOOP\r\n\r\n", [ev.Append("t", "INBOX", b"x\r\n{3}\r\nb NOOP\r\n")]),
    # A line ending with "{5}" inside an unterminated quoted string is not a literal announcement.
    (
        b'a LOGIN x "y {5}\r\nb NOOP\r\n',
        [ev.CommandError("a", "Error in IMAP command LOGIN: Missing '\"'.", "LOGIN"), ev.Noop("b")],
    ),
]


@pytest.mark.parametrize(("data", "expected"), FRAMING_CASES)
def test_framing_is_independent_of_splits(data: bytes, expected: list[ReaderEvent]) -> None:
    for pieces in splits(data):
        assert read(pieces) == expected, pieces


def test_continuation_is_reported_before_the_literal_is_sent() -> None:
    reader = CommandReader()
    reader.feed(b"a1 APPEND INBOX {11}\r\n")
    assert reader.next_event() == NeedsContinuation("a1", 11)
    assert reader.next_event() is None and reader.in_command
    reader.feed(b"Subject: x\r")
    assert reader.next_event() is None
    reader.feed(b"\r\n")
    assert reader.next_event() == ev.Append("a1", "INBOX", b"Subject: x\r")


def test_over_limit_synchronising_literal_is_refused_before_reading() -> None:
    reader = CommandReader(max_literal=10)
    reader.feed(b"a1 APPEND INBOX {11}\r\n")
    assert reader.next_event() == LiteralTooLarge("a1", 11, synchronizing=True)
    assert not reader.in_command  # the client sends nothing more of it: the next line is a new command
    reader.feed(b"a2 NOOP\r\n")
    assert reader.next_event() == ev.Noop("a2")


def test_literal_at_the_limit_is_accepted() -> None:
    assert read([b"a1 APPEND INBOX {10}\r\n0123456789\r\n"], CommandReader(max_literal=10)) == [
        NeedsContinuation("a1", 10),
        ev.Append("a1", "INBOX", b"0123456789"),
    ]


@pytest.mark.parametrize("cut", [1, 5, 25, 40])
def test_over_limit_non_synchronising_literal_is_discarded_with_its_command(cut: int) -> None:
    data = b"a1 APPEND INBOX {20+}\r\nb1 NOOP\r\nc1 LOGOUT\r\n\r\nd1 NOOP\r\n"
    events = read([data[:cut], data[cut:]], CommandReader(max_literal=10))
    assert events == [LiteralTooLarge("a1", 20, synchronizing=False), ev.Noop("d1")]


def test_literal_minus_limits_non_synchronising_literals_to_4096() -> None:
    line = b"a1 APPEND INBOX {4097+}\r\n"
    assert read([line], CommandReader(literal_minus=True))[0] == LiteralTooLarge("a1", 4097, synchronizing=False)
    small = b"a1 APPEND INBOX {4096+}\r\n" + b"x" * 4096 + b"\r\n"
    assert read([small], CommandReader(literal_minus=True)) == [ev.Append("a1", "INBOX", b"x" * 4096)]


def test_server_may_refuse_a_literal_after_the_announcement() -> None:
    reader = CommandReader()
    reader.feed(b"a1 APPEND INBOX {5000}\r\n")
    assert reader.next_event() == NeedsContinuation("a1", 5000)
    reader.refuse_literal()
    reader.feed(b"a2 NOOP\r\n")
    assert reader.next_event() == ev.Noop("a2")


def test_too_long_line_gives_bad_with_tag_and_reading_resumes() -> None:
    reader = CommandReader(max_line=64)
    events = read([b"a1 LOGIN " + b"x" * 100 + b" y\r\na2 NOOP\r\n"], reader)
    assert events == [ev.CommandError("a1", TOO_LONG_LINE), ev.Noop("a2")]


def test_command_size_limit_counts_lines_and_literals() -> None:
    reader = CommandReader(max_literal=100, max_command=60)
    events = read([b"a1 LOGIN {30+}\r\n" + b"u" * 30 + b" {30+}\r\n"], reader)
    assert events == [LiteralTooLarge("a1", 30, synchronizing=False)]


def test_idle_done_is_read_as_a_line() -> None:
    reader = CommandReader()
    reader.feed(b"a1 IDLE\r\n")
    assert reader.next_event() == ev.Idle("a1")
    reader.feed(b"done\r\n")
    line = reader.next_line()
    assert line is not None and is_idle_done(line)
    reader.feed(b"a2 NOOP\r\n")
    line = reader.next_line()
    assert line is not None and not is_idle_done(line)


@settings(max_examples=60, deadline=None)
@given(payload=st.binary(max_size=300), cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6))
def test_literals_of_any_content_and_size_split_anywhere(payload: bytes, cuts: list[int]) -> None:
    data = b"A7 APPEND Drafts {%d}\r\n" % len(payload) + payload + b"\r\nA8 NOOP\r\n"
    points = sorted({c for c in cuts if c < len(data)} | {0, len(data)})
    pieces = [data[a:b] for a, b in itertools.pairwise(points)]
    assert read(pieces) == [
        NeedsContinuation("A7", len(payload)),
        ev.Append("A7", "Drafts", payload),
        ev.Noop("A8"),
    ]


_SAMPLES = [
    b"a NOOP\r\n",
    b"b LOGIN {3}\r\nbob {2+}\r\npw\r\n",
    b"c FETCH 1:* (FLAGS BODY.PEEK[HEADER])\r\n",
    b'd SEARCH OR FROM "x" NOT SEEN\r\n',
    b"\r\n",
    b"{5}\r\n",
    b"e APPEND INBOX {3+}\r\n\r\n\r\r\n",
    b'"unterminated {4}\r\n',
    b"* BAD\r\n",
]


@settings(max_examples=150, deadline=None)
@given(
    chunks=st.lists(st.sampled_from(_SAMPLES) | st.binary(max_size=40), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
def test_arbitrary_input_never_raises_and_framing_ignores_splits(chunks: list[bytes], cuts: list[int]) -> None:
    data = b"".join(chunks)
    whole = read([data], CommandReader(max_line=64, max_literal=50))
    points = sorted({c for c in cuts if c < len(data)} | {0, len(data)})
    pieces = [data[a:b] for a, b in itertools.pairwise(points)]
    assert read(pieces, CommandReader(max_line=64, max_literal=50)) == whole
    assert read([bytes([b]) for b in data], CommandReader(max_line=64, max_literal=50)) == whole
    for event in whole:
        if isinstance(event, ev.CommandError):
            assert event.text and "\r" not in event.text and "\n" not in event.text


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=120))
def test_parse_command_never_raises(data: bytes) -> None:
    result = parse_command(data)
    assert isinstance(result, ev.Command | ev.CommandError)


@settings(max_examples=200, deadline=None)
@given(
    rest=st.lists(
        st.sampled_from(
            [
                b" ",
                b"(",
                b")",
                b"OR",
                b"NOT",
                b"1:*",
                b'"x"',
                b"FROM",
                b"BODY[",
                b"]",
                b"<1.2>",
                b"HEADER.FIELDS",
                b"{1}\r\nx",
                b"UID",
                b"SEEN",
                b"1-Feb-2026",
            ]
        ),
        max_size=12,
    )
)
def test_grammar_fragments_never_raise(rest: list[bytes]) -> None:
    for verb in (b"SEARCH", b"FETCH 1 ", b"STORE 1 +FLAGS ", b"UID FETCH 1:* ", b"APPEND INBOX "):
        result = parse_command(b"t " + verb + b"".join(rest))
        assert result.tag == "t"


# --- parsing: one row per command form ---------------------------------------------

EMPTY = Section()
PARSE_CASES: list[tuple[bytes, ev.Command]] = [
    (b"a CAPABILITY", ev.Capability("a")),
    (b"a noop", ev.Noop("a")),
    (b"a LOGOUT", ev.Logout("a")),
    (b"a STARTTLS", ev.StartTLS("a")),
    (b"a AUTHENTICATE PLAIN", ev.Authenticate("a", "PLAIN")),
    (b"a AUTHENTICATE plain AGFsaWNlAHdvbmRlcmxhbmQ=", ev.Authenticate("a", "PLAIN", "AGFsaWNlAHdvbmRlcmxhbmQ=")),
    (b"a AUTHENTICATE XOAUTH2 =", ev.Authenticate("a", "XOAUTH2", "=")),
    (b"a LOGIN alice wonderland", ev.Login("a", "alice", "wonderland")),
    (b'a LOGIN "al ice" "p\\"w\\\\d"', ev.Login("a", "al ice", 'p"w\\d')),
    (b"a LOGIN {4}\r\n\xc3\xa9t\xc3 x", ev.Login("a", "\u00e9t\udcc3", "x")),
    (b"a SELECT inbox", ev.Select("a", "INBOX")),
    (b'a SELECT "Entw&APw-rfe"', ev.Select("a", "Entw\u00fcrfe")),
    (b"a EXAMINE Archive/2026", ev.Examine("a", "Archive/2026")),
    (b"a CREATE Work", ev.Create("a", "Work")),
    (b"a DELETE Work", ev.Delete("a", "Work")),
    (b"a RENAME Work Job", ev.Rename("a", "Work", "Job")),
    (b"a SUBSCRIBE Work", ev.Subscribe("a", "Work")),
    (b"a UNSUBSCRIBE Work", ev.Unsubscribe("a", "Work")),
    (b'a LIST "" *', ev.List("a", "", "*")),
    (b'a LIST "" %/]x', ev.List("a", "", "%/]x")),
    (b'a LSUB "Archive/" "%"', ev.Lsub("a", "Archive/", "%")),
    (
        b"a STATUS INBOX (MESSAGES unseen UIDNEXT UIDVALIDITY RECENT)",
        ev.Status("a", "INBOX", ("MESSAGES", "UNSEEN", "UIDNEXT", "UIDVALIDITY", "RECENT")),
    ),
    (b"a APPEND INBOX {5}\r\nhello", ev.Append("a", "INBOX", b"hello")),
    (b"a APPEND INBOX (\\Seen $Label1) {0}\r\n", ev.Append("a", "INBOX", b"", ("\\Seen", "$Label1"))),
    (
        b'a APPEND Sent () " 2-Dec-2026 10:00:00 -0130" {1+}\r\nx',
        ev.Append(
            "a", "Sent", b"x", (), datetime(2026, 12, 2, 10, 0, tzinfo=timezone(-timedelta(hours=1, minutes=30)))
        ),
    ),
    (b"a NAMESPACE", ev.Namespace("a")),
    (b"a ENABLE CONDSTORE utf8=accept", ev.Enable("a", ("CONDSTORE", "UTF8=ACCEPT"))),
    (b"a IDLE", ev.Idle("a")),
    (b"a CHECK", ev.Check("a")),
    (b"a CLOSE", ev.Close("a")),
    (b"a UNSELECT", ev.Unselect("a")),
    (b"a EXPUNGE", ev.Expunge("a")),
    (b"a UID EXPUNGE 3:5,9", ev.Expunge("a", seq((3, 5), (9, 9)))),
    (b"a COPY 2,4:7,* Archive", ev.Copy("a", seq((2, 2), (4, 7), (None, None)), "Archive")),
    (b"a UID COPY 1:* Archive", ev.Copy("a", seq((1, None)), "Archive", uid=True)),
    (b"a MOVE 1 Trash", ev.Move("a", seq((1, 1)), "Trash")),
    (b"a uid move *:3 Trash", ev.Move("a", seq((None, 3)), "Trash", uid=True)),
    (b"a] NOOP", ev.Noop("a]")),  # "]" is an ASTRING-CHAR, so it may be part of a tag
]


@pytest.mark.parametrize(("data", "expected"), PARSE_CASES)
def test_parse(data: bytes, expected: ev.Command) -> None:
    assert parse_command(data) == expected
    # Framed byte by byte, a literal or not, the result is the same command.
    if b"{" not in data or b"+}" in data:
        assert read([bytes([b]) for b in data + b"\r\n"]) == [expected]


A = FetchAttribute
FETCH_CASES: list[tuple[bytes, tuple[ev.FetchItem, ...]]] = [
    (b"ALL", (A.FLAGS, A.INTERNALDATE, A.RFC822_SIZE, A.ENVELOPE)),
    (b"fast", (A.FLAGS, A.INTERNALDATE, A.RFC822_SIZE)),
    (b"FULL", (A.FLAGS, A.INTERNALDATE, A.RFC822_SIZE, A.ENVELOPE, A.BODY)),
    (b"FLAGS", (A.FLAGS,)),
    (b"(UID RFC822.SIZE INTERNALDATE)", (A.UID, A.RFC822_SIZE, A.INTERNALDATE)),
    (b"(RFC822 RFC822.HEADER RFC822.TEXT)", (A.RFC822, A.RFC822_HEADER, A.RFC822_TEXT)),
    (b"(ENVELOPE BODY BODYSTRUCTURE)", (A.ENVELOPE, A.BODY, A.BODYSTRUCTURE)),
    (b"BODY[]", (BodySection(EMPTY),)),
    (b"BODY.PEEK[]", (BodySection(EMPTY, peek=True),)),
    (b"BODY[]<0.2048>", (BodySection(EMPTY, partial=(0, 2048)),)),
    (b"BODY[HEADER]", (BodySection(Section((), SectionText.HEADER)),)),
    (b"BODY.PEEK[TEXT]<10.5>", (BodySection(Section((), SectionText.TEXT), peek=True, partial=(10, 5)),)),
    (
        b'BODY[HEADER.FIELDS (From To "Subject")]',
        (BodySection(Section((), SectionText.HEADER_FIELDS, ("FROM", "TO", "SUBJECT"))),),
    ),
    (
        b"BODY.PEEK[HEADER.FIELDS.NOT (Received)]",
        (BodySection(Section((), SectionText.HEADER_FIELDS_NOT, ("RECEIVED",)), peek=True),),
    ),
    (b"BODY[1]", (BodySection(Section((1,))),)),
    (b"BODY[1.2.TEXT]", (BodySection(Section((1, 2), SectionText.TEXT)),)),
    (b"BODY[2.MIME]", (BodySection(Section((2,), SectionText.MIME)),)),
    (b"BODY[3.HEADER.FIELDS (DATE)]", (BodySection(Section((3,), SectionText.HEADER_FIELDS, ("DATE",))),)),
    (b"(FLAGS BODY.PEEK[1.1]<0.100> UID)", (A.FLAGS, BodySection(Section((1, 1)), peek=True, partial=(0, 100)), A.UID)),
]


@pytest.mark.parametrize(("items", "expected"), FETCH_CASES)
def test_fetch_items(items: bytes, expected: tuple[ev.FetchItem, ...]) -> None:
    assert parse_command(b"f FETCH 1:3 " + items) == ev.Fetch("f", seq((1, 3)), expected)


def test_uid_fetch_always_includes_uid() -> None:
    assert parse_command(b"f UID FETCH 4:* FLAGS") == ev.Fetch("f", seq((4, None)), (A.UID, A.FLAGS), uid=True)
    assert parse_command(b"f UID FETCH 4 (FLAGS UID)") == ev.Fetch("f", seq((4, 4)), (A.FLAGS, A.UID), uid=True)


def test_body_section_response_names() -> None:
    assert (
        BodySection(Section((1, 2), SectionText.TEXT), peek=True, partial=(0, 9)).response_name == "BODY[1.2.TEXT]<0>"
    )
    fields = BodySection(Section((), SectionText.HEADER_FIELDS, ("FROM", "TO")))
    assert fields.response_name == "BODY[HEADER.FIELDS (FROM TO)]"
    assert BodySection().response_name == "BODY[]"


STORE_CASES: list[tuple[bytes, StoreAction]] = [
    (b"FLAGS (\\Seen)", StoreAction(StoreMode.REPLACE, ("\\Seen",))),
    (b"FLAGS ()", StoreAction(StoreMode.REPLACE, ())),
    (b"+FLAGS (\\Deleted \\Flagged)", StoreAction(StoreMode.ADD, ("\\Deleted", "\\Flagged"))),
    (b"-flags.silent (\\Seen)", StoreAction(StoreMode.REMOVE, ("\\Seen",), silent=True)),
    (b"+FLAGS.SILENT \\Answered $Work", StoreAction(StoreMode.ADD, ("\\Answered", "$Work"), silent=True)),
    (b"FLAGS.SILENT (Junk)", StoreAction(StoreMode.REPLACE, ("Junk",), silent=True)),
]


@pytest.mark.parametrize(("item", "expected"), STORE_CASES)
def test_store_items(item: bytes, expected: StoreAction) -> None:
    assert parse_command(b"s STORE 2:4 " + item) == ev.Store("s", seq((2, 4)), expected)
    assert parse_command(b"s UID STORE 9 " + item) == ev.Store("s", seq((9, 9)), expected, uid=True)


F = ev.HasFlag
SEARCH_CASES: list[tuple[bytes, ev.SearchKey]] = [
    (b"ALL", ev.All()),
    (b"ANSWERED", F("\\Answered")),
    (b"unanswered", ev.Not(F("\\Answered"))),
    (b"DELETED UNDELETED", ev.And((F("\\Deleted"), ev.Not(F("\\Deleted"))))),
    (
        b"DRAFT UNDRAFT FLAGGED UNFLAGGED",
        ev.And((F("\\Draft"), ev.Not(F("\\Draft")), F("\\Flagged"), ev.Not(F("\\Flagged")))),
    ),
    (b"SEEN", F("\\Seen")),
    (b"UNSEEN", ev.Not(F("\\Seen"))),
    (b"RECENT", F("\\Recent")),
    (b"NEW", ev.And((F("\\Recent"), ev.Not(F("\\Seen"))))),
    (b"OLD", ev.Not(F("\\Recent"))),
    (b"KEYWORD $Work", F("$Work")),
    (b"UNKEYWORD Junk", ev.Not(F("Junk"))),
    (b"BEFORE 1-Feb-2026", ev.DateKey(ev.DateField.INTERNAL, ev.DateOp.BEFORE, date(2026, 2, 1))),
    (b'ON "02-Dec-2026"', ev.DateKey(ev.DateField.INTERNAL, ev.DateOp.ON, date(2026, 12, 2))),
    (b"SINCE 29-feb-2024", ev.DateKey(ev.DateField.INTERNAL, ev.DateOp.SINCE, date(2024, 2, 29))),
    (b"SENTBEFORE 1-Jan-2026", ev.DateKey(ev.DateField.SENT, ev.DateOp.BEFORE, date(2026, 1, 1))),
    (b"SENTON 1-Jan-2026", ev.DateKey(ev.DateField.SENT, ev.DateOp.ON, date(2026, 1, 1))),
    (b"SENTSINCE 1-Jan-2026", ev.DateKey(ev.DateField.SENT, ev.DateOp.SINCE, date(2026, 1, 1))),
    (b"LARGER 1000", ev.SizeKey(True, 1000)),
    (b"SMALLER 50", ev.SizeKey(False, 50)),
    (b"FROM alice", ev.HeaderKey("FROM", "alice")),
    (b'TO "bob@example.org"', ev.HeaderKey("TO", "bob@example.org")),
    (b"CC carol BCC dave", ev.And((ev.HeaderKey("CC", "carol"), ev.HeaderKey("BCC", "dave")))),
    (b"SUBJECT {5}\r\nhello", ev.HeaderKey("SUBJECT", "hello")),
    (b'HEADER X-Spam-Flag ""', ev.HeaderKey("X-SPAM-FLAG", "")),
    (b"BODY lunch", ev.BodyKey("lunch")),
    (b'TEXT "see you"', ev.TextKey("see you")),
    (b"1:3,5", ev.SequenceKey(seq((1, 3), (5, 5)))),
    (b"*", ev.SequenceKey(seq((None, None)))),
    (b"UID 100:*", ev.UidKey(seq((100, None)))),
    (b"NOT SEEN", ev.Not(F("\\Seen"))),
    (b"NOT NOT SEEN", ev.Not(ev.Not(F("\\Seen")))),
    (b"OR SEEN FLAGGED", ev.Or(F("\\Seen"), F("\\Flagged"))),
    (
        b"OR (FROM a SUBJECT b) NOT LARGER 10",
        ev.Or(ev.And((ev.HeaderKey("FROM", "a"), ev.HeaderKey("SUBJECT", "b"))), ev.Not(ev.SizeKey(True, 10))),
    ),
    (b"OR OR SEEN DRAFT DELETED", ev.Or(ev.Or(F("\\Seen"), F("\\Draft")), F("\\Deleted"))),
    (b"(SEEN)", F("\\Seen")),
    (b"((SEEN) (UNSEEN)) 2:*", ev.And((ev.And((F("\\Seen"), ev.Not(F("\\Seen")))), ev.SequenceKey(seq((2, None)))))),
]


@pytest.mark.parametrize(("keys", "expected"), SEARCH_CASES)
def test_search_keys(keys: bytes, expected: ev.SearchKey) -> None:
    assert parse_command(b"s SEARCH " + keys) == ev.Search("s", expected)
    assert parse_command(b"s UID SEARCH CHARSET utf-8 " + keys) == ev.Search("s", expected, "UTF-8", uid=True)


def test_charset_alone_is_a_bad_search() -> None:
    result = parse_command(b"s SEARCH CHARSET UTF-8")
    assert isinstance(result, ev.CommandError) and result.tag == "s"


# --- errors -----------------------------------------------------------------------

ERROR_CASES: list[tuple[bytes, str | None, str]] = [
    (b"", None, "Error in IMAP command received by server."),
    (b"+ NOOP", None, "Error in IMAP command received by server."),
    (b"a*b NOOP", None, "Error in IMAP command received by server."),
    (b"a1", "a1", "Error in IMAP command received by server: Missing command."),
    (b"a1 ", "a1", "Error in IMAP command received by server: Missing command."),
    (b"a1 FROB x", "a1", "Error in IMAP command FROB: Unknown command."),
    (b"a1 UID FROB 1", "a1", "Error in IMAP command UID FROB: Unknown command."),
    (b"a1 LOGIN", "a1", "Error in IMAP command LOGIN: Missing arguments."),
    (b"a1 LOGIN alice", "a1", "Error in IMAP command LOGIN: Missing arguments."),
    (b"a1 LOGIN a b c", "a1", "Error in IMAP command LOGIN: Extra data after the command's arguments."),
    (b"a1 NOOP now", "a1", "Error in IMAP command NOOP: Extra data after the command's arguments."),
    (b'a1 LOGIN "a\\x" b', "a1", "Error in IMAP command LOGIN: Invalid escape in a quoted string."),
    (b"a1 SELECT &Jjo", "a1", "Error in IMAP command SELECT: Mailbox name is not valid mUTF-7."),
    (b"a1 FETCH 0 FLAGS", "a1", "Error in IMAP command FETCH: Invalid messageset."),
    (b"a1 FETCH 1:2:3 FLAGS", "a1", "Error in IMAP command FETCH: Invalid messageset."),
    (b"a1 FETCH 1 (FLAGS", "a1", "Error in IMAP command FETCH: Missing arguments."),
    (b"a1 FETCH 1 ()", "a1", "Error in IMAP command FETCH: Invalid arguments."),
    (b"a1 FETCH 1 FOO", "a1", "Error in IMAP command FETCH: Unknown FETCH attribute 'FOO'."),
    (b"a1 FETCH 1 BODY[0]", "a1", "Error in IMAP command FETCH: Invalid section."),
    (b"a1 FETCH 1 BODY[MIME]", "a1", "Error in IMAP command FETCH: MIME needs a part number."),
    (b"a1 FETCH 1 BODY[1]<5.0>", "a1", "Error in IMAP command FETCH: Invalid partial length."),
    (b"a1 FETCH 1 BODY[HEADER.FIELDS ()]", "a1", "Error in IMAP command FETCH: Invalid section."),
    (b"a1 STORE 1 FLAGZ (\\Seen)", "a1", "Error in IMAP command STORE: Invalid STORE data item."),
    (b"a1 SEARCH FROB", "a1", "Error in IMAP command SEARCH: Unknown search key 'FROB'."),
    (b"a1 SEARCH OR SEEN", "a1", "Error in IMAP command SEARCH: Missing arguments."),
    (b"a1 SEARCH SINCE 31-Feb-2026", "a1", "Error in IMAP command SEARCH: Invalid date."),
    (b"a1 SEARCH (SEEN", "a1", "Error in IMAP command SEARCH: Expected ')'."),
    (b"a1 SEARCH " + b"NOT " * 200 + b"SEEN", "a1", "Error in IMAP command SEARCH: Search key nested too deep."),
    (b"a1 STATUS INBOX (FOO)", "a1", "Error in IMAP command STATUS: Invalid status item FOO."),
    (b"a1 APPEND INBOX hello", "a1", "Error in IMAP command APPEND: Missing message literal."),
    (b'a1 APPEND INBOX "1-Dec-2026 10:00:00 +0000" {1}\r\nx', "a1", "Error in IMAP command APPEND: Invalid date-time."),
    (b"a1 LOGIN {9}\r\nab", "a1", "Error in IMAP command LOGIN: Literal shorter than announced."),
    (b"a1 ENABLE", "a1", "Error in IMAP command ENABLE: Missing arguments."),
    (b"a1 UID EXPUNGE", "a1", "Error in IMAP command UID EXPUNGE: Missing arguments."),
]


@pytest.mark.parametrize(("data", "tag", "text"), ERROR_CASES)
def test_malformed_commands_give_bad_with_their_tag(data: bytes, tag: str | None, text: str) -> None:
    result = parse_command(data)
    assert isinstance(result, ev.CommandError)
    assert (result.tag, result.text) == (tag, text)


def test_unknown_command_is_flagged_unknown() -> None:
    result = parse_command(b"x XYZZY")
    assert isinstance(result, ev.CommandError) and result.unknown and result.command == "XYZZY"
    known = parse_command(b"x LOGIN")
    assert isinstance(known, ev.CommandError) and not known.unknown


# --- sequence sets and mailbox names -------------------------------------------------


def test_sequence_set_membership_and_star() -> None:
    numbers = seq((2, 2), (4, 7), (None, None))
    assert [n for n in range(1, 12) if numbers.contains(n, largest=10)] == [2, 4, 5, 6, 7, 10]
    assert seq((5, None)).numbers(largest=3) == [3]  # 5:* is 3:5 when 3 is the largest
    assert seq((7, 3)).numbers(largest=10) == [3, 4, 5, 6, 7]
    assert seq((1, None)).numbers(largest=0) == []
    assert str(numbers) == "2,4:7,*"


@pytest.mark.parametrize(
    ("wire", "name"),
    [
        ("INBOX", "INBOX"),
        ("Entw&APw-rfe", "Entw\u00fcrfe"),
        ("Tom &- Jerry", "Tom & Jerry"),
        ("&ZeVnLIqe-", "\u65e5\u672c\u8a9e"),
        ("&2D3eAA-", "\U0001f600"),
    ],
)
def test_modified_utf7(wire: str, name: str) -> None:
    assert decode_mailbox_name(wire) == name
    assert encode_mailbox_name(name) == wire


@pytest.mark.parametrize("bad", ["&Jjo", "&AGE-", "&ZeVnLIqe=-", "caf\u00e9", "&Zev/-"])
def test_modified_utf7_rejects_bad_names(bad: str) -> None:
    with pytest.raises(ValueError):
        decode_mailbox_name(bad)


@settings(max_examples=200, deadline=None)
@given(name=st.text(max_size=30))
def test_modified_utf7_round_trip(name: str) -> None:
    assert decode_mailbox_name(encode_mailbox_name(name)) == name


def test_every_known_command_has_a_description() -> None:
    from simulator.protocol.imap.commands import COMMANDS, describe_command
    from simulator.protocol.imap.parser import KNOWN_COMMANDS

    assert set(COMMANDS) == KNOWN_COMMANDS
    assert describe_command("uid").rfc == "RFC 3501 §6.4.8"
    assert "expect BAD" in describe_command("XYZZY").explain


def test_clear_forgets_commands_pipelined_before_tls() -> None:
    # Plain-text bytes after STARTTLS must not be run once TLS is up (the STARTTLS injection attack).
    reader = CommandReader()
    reader.feed(b"a STARTTLS\r\nb LOGIN {3}\r\n")
    assert reader.next_event() == ev.StartTLS("a")
    reader.clear()
    assert reader.next_event() is None and not reader.in_command
    reader.feed(b"c NOOP\r\n")
    assert reader.next_event() == ev.Noop("c")
