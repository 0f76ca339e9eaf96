"""The client side's IMAP response reader: case tables fed whole and one byte at a time, and properties.

Every case is read twice, whole and one octet at a time, and must give the same
result; the properties check that no input raises, that framing does not depend
on how the bytes are split, and that what the server's writers produce reads back.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.protocol.imap import responses_reader as rr
from simulator.protocol.imap import writers as w
from simulator.protocol.imap.writers import Atom, ResponseCode, Status


def read_all(
    data: bytes, *, chunk: int | None = None, reader: rr.ResponseReader | None = None
) -> list[rr.ServerResponse]:
    """Feed `data` whole (chunk None) or `chunk` octets at a time; collect every response."""
    reader = reader or rr.ResponseReader()
    out: list[rr.ServerResponse] = []
    pieces = [data] if chunk is None else [data[i : i + chunk] for i in range(0, len(data), chunk)]
    for piece in pieces:
        reader.feed(piece)
        while (response := reader.next_response()) is not None:
            out.append(response)
    return out


def read_one(data: bytes) -> rr.ServerResponse:
    """The single response in `data`, checked to read the same whole and one byte at a time."""
    whole = read_all(data)
    trickled = read_all(data, chunk=1)
    assert whole == trickled
    assert len(whole) == 1, whole
    return whole[0]


BODY = b'From: a@example.com\r\nSubject: {5}\r\n\r\n(body) with ) and "quotes"\r\n'
ENVELOPE_LINE = (
    b'ENVELOPE ("Wed, 2 Dec 2026 10:00:00 +0000" "say \\"hi\\"" (("Alice" NIL "alice" "example.com")) '
    b'(("Alice" NIL "alice" "example.com")) (("Alice" NIL "alice" "example.com")) '
    b'((NIL NIL "bob" "example.org")("Carol" NIL "carol" "example.org")) NIL NIL NIL "<1@example.com>")'
)

CASES: list[tuple[bytes, rr.ServerResponse]] = [
    # tagged status responses, with and without codes (RFC 3501 §7.1)
    (b"A0001 OK Logged in\r\n", rr.StatusResponse("A0001", Status.OK, "Logged in")),
    (
        b"A0002 OK [READ-WRITE] Select completed.\r\n",
        rr.StatusResponse("A0002", Status.OK, "Select completed.", ResponseCode("READ-WRITE")),
    ),
    (
        b"a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n",
        rr.StatusResponse("a1", Status.NO, "Authentication failed.", ResponseCode("AUTHENTICATIONFAILED")),
    ),
    (b"x BAD Error in IMAP command\r\n", rr.StatusResponse("x", Status.BAD, "Error in IMAP command")),
    (b"A0009 ok done\r\n", rr.StatusResponse("A0009", Status.OK, "done")),
    # untagged status responses
    (
        b"* OK [CAPABILITY IMAP4rev1 IDLE AUTH=PLAIN] mail.example.org ready.\r\n",
        rr.StatusResponse(
            None, Status.OK, "mail.example.org ready.", ResponseCode("CAPABILITY", "IMAP4rev1 IDLE AUTH=PLAIN")
        ),
    ),
    (b"* PREAUTH welcome back\r\n", rr.StatusResponse(None, Status.PREAUTH, "welcome back")),
    (b"* BYE Logging out\r\n", rr.StatusResponse(None, Status.BYE, "Logging out")),
    (b"* OK\r\n", rr.StatusResponse(None, Status.OK, "")),
    (
        b"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n",
        rr.StatusResponse(None, Status.OK, "UIDs valid", ResponseCode("UIDVALIDITY", "3857529045")),
    ),
    (
        b"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n",
        rr.StatusResponse(None, Status.OK, "Limited", ResponseCode("PERMANENTFLAGS", "(\\Deleted \\Seen \\*)")),
    ),
    (
        b"* NO [ALERT] Disk almost full\r\n",
        rr.StatusResponse(None, Status.NO, "Disk almost full", ResponseCode("ALERT")),
    ),
    # untagged data
    (b"* CAPABILITY IMAP4rev1 IDLE UIDPLUS\r\n", rr.CapabilityData(("IMAP4rev1", "IDLE", "UIDPLUS"))),
    (b"* FLAGS (\\Answered \\Seen $Junk)\r\n", rr.FlagsData(("\\Answered", "\\Seen", "$Junk"))),
    (b"* FLAGS ()\r\n", rr.FlagsData(())),
    (b"* 23 EXISTS\r\n", rr.Exists(23)),
    (b"* 0 EXISTS\r\n", rr.Exists(0)),
    (b"* 5 RECENT\r\n", rr.Recent(5)),
    (b"* 3 EXPUNGE\r\n", rr.Expunge(3)),
    (b"* SEARCH 2 84 882\r\n", rr.SearchData((2, 84, 882))),
    (b"* SEARCH\r\n", rr.SearchData(())),
    (b"* SEARCH \r\n", rr.SearchData(())),
    (b'* LIST (\\HasNoChildren) "/" INBOX\r\n', rr.ListData("LIST", ("\\HasNoChildren",), "/", "INBOX")),
    (b'* LIST (\\Noselect) "/" "&AOk-t&AOk-"\r\n', rr.ListData("LIST", ("\\Noselect",), "/", "été")),
    (b"* LSUB () NIL {8}\r\nArchive \r\n", rr.ListData("LSUB", (), None, "Archive ")),
    (b'* LIST () "." inbox\r\n', rr.ListData("LIST", (), ".", "INBOX")),
    (
        b"* STATUS INBOX (MESSAGES 3 UNSEEN 1 UIDNEXT 44)\r\n",
        rr.StatusData("INBOX", (("MESSAGES", 3), ("UNSEEN", 1), ("UIDNEXT", 44))),
    ),
    (b"* ENABLED CONDSTORE\r\n", rr.EnabledData(("CONDSTORE",))),
    (
        b'* NAMESPACE (("" "/")) (("Other Users/" "/")) NIL\r\n',
        rr.NamespaceData((("", "/"),), (("Other Users/", "/"),), None),
    ),
    (b'* ID ("name" "Dovecot")\r\n', rr.OtherData("ID", ((b"name", b"Dovecot"),))),
    (b"* 4 XFOO bar\r\n", rr.OtherData("XFOO", (Atom("bar"),), 4)),
    # continuation requests (RFC 3501 §7.5)
    (b"+ Ready for literal data\r\n", rr.Continuation("Ready for literal data")),
    (b"+ idling\r\n", rr.Continuation("idling")),
    (b"+ \r\n", rr.Continuation("")),
    (b"+\r\n", rr.Continuation("")),
    (b"+ dGVzdA==\r\n", rr.Continuation("dGVzdA==")),
    (b"+ [not a code\r\n", rr.Continuation("[not a code")),
]


@pytest.mark.parametrize(("data", "expected"), CASES)
def test_cases_read_the_same_whole_and_byte_by_byte(data: bytes, expected: rr.ServerResponse) -> None:
    assert read_one(data) == expected


def test_fetch_with_a_literal_body_nested_lists_nil_and_escapes() -> None:
    data = (
        b'* 12 FETCH (UID 40 FLAGS (\\Seen $Label1) INTERNALDATE " 2-Dec-2026 10:00:00 +0000" '
        b"RFC822.SIZE %d BODY[] {%d}\r\n"
        % (len(BODY), len(BODY))
        + BODY
        + b" "
        + ENVELOPE_LINE
        + b" BODY[HEADER.FIELDS "
        b'(From "Subject")]<0> NIL MODSEQ (12345))\r\n'
    )
    fetch = read_one(data)
    assert isinstance(fetch, rr.FetchData)
    assert (fetch.number, fetch.uid, fetch.flags) == (12, 40, ("\\Seen", "$Label1"))
    assert fetch.internal_date == " 2-Dec-2026 10:00:00 +0000"
    assert fetch.size == len(BODY)
    assert fetch.section() == BODY
    assert fetch.section('BODY[HEADER.FIELDS (From "Subject")]<0>') is None
    assert ("MODSEQ", (12345,)) in fetch.items
    envelope = fetch.envelope
    assert envelope is not None
    assert envelope.subject == 'say "hi"'
    assert envelope.date == "Wed, 2 Dec 2026 10:00:00 +0000"
    assert [str(a) for a in envelope.to] == ["bob@example.org", "carol@example.org"]
    assert envelope.from_ == (rr.Address("Alice", None, "alice", "example.com"),)
    assert envelope.cc == () and envelope.in_reply_to is None
    assert envelope.message_id == "<1@example.com>"


def test_a_literal_announcement_inside_quotes_is_text_not_a_literal() -> None:
    fetch = read_one(b'* 1 FETCH (UID 9 BODY[] "ends in {3}")\r\n')
    assert isinstance(fetch, rr.FetchData)
    assert fetch.section() == b"ends in {3}"


def test_a_literal_may_hold_crlf_and_what_looks_like_responses() -> None:
    body = b"A0001 OK fake\r\n* BYE fake\r\n"
    responses = read_all(b"* 2 FETCH (UID 3 BODY[] {%d}\r\n" % len(body) + body + b")\r\nA0004 OK done\r\n", chunk=3)
    assert len(responses) == 2
    assert isinstance(responses[0], rr.FetchData) and responses[0].section() == body
    assert responses[1] == rr.StatusResponse("A0004", Status.OK, "done")


def test_several_responses_in_one_feed_come_out_in_order() -> None:
    data = (
        b"* 3 EXISTS\r\n* 1 RECENT\r\n* OK [UIDNEXT 4] Predicted next UID\r\n"
        b"A0002 OK [READ-WRITE] Select completed.\r\n"
    )
    responses = read_all(data)
    assert responses == read_all(data, chunk=1)
    assert [type(r) for r in responses] == [rr.Exists, rr.Recent, rr.StatusResponse, rr.StatusResponse]
    status = responses[2]
    assert isinstance(status, rr.StatusResponse) and status.code_number("UIDNEXT") == 4


def test_structured_codes_read_back() -> None:
    copy = read_one(b"A0005 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n")
    assert isinstance(copy, rr.StatusResponse)
    assert copy.copyuid == rr.UidMapping(38505, (304, 319, 320), (3956, 3957, 3958))
    append = read_one(b"A0006 OK [APPENDUID 38505 3955] APPEND completed\r\n")
    assert isinstance(append, rr.StatusResponse)
    assert append.appenduid == rr.UidMapping(38505, (), (3955,))
    assert append.copyuid is None and append.code_number("UIDNEXT") is None
    greeting = read_one(b"* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n")
    assert isinstance(greeting, rr.StatusResponse)
    assert greeting.capabilities == ("IMAP4rev1", "LITERAL+")
    flags = read_one(b"* OK [PERMANENTFLAGS (\\Seen \\*)] ok\r\n")
    assert isinstance(flags, rr.StatusResponse) and flags.code_atoms("PERMANENTFLAGS") == ("\\Seen", "\\*")


MALFORMED = [
    b"\r\n",  # empty
    b"A0001 PREAUTH hi\r\n",  # PREAUTH is never tagged
    b"A0001 MAYBE\r\n",
    b"(foo) OK\r\n",  # not a tag
    b"* OK [UIDVALIDITY x] bad\r\n",
    b"* OK [UIDNEXT 1 unclosed\r\n",
    b"* OK [PERMANENTFLAGS \\Seen] not a list\r\n",
    b"A1 OK [COPYUID 1 1:3 4] the sets differ in size\r\n",
    b"* 0 EXPUNGE\r\n",
    b"* 3 EXISTS more\r\n",
    b"* 1 FETCH UID 3\r\n",  # not parenthesised
    b"* 1 FETCH (UID)\r\n",  # name without value
    b"* 1 FETCH (UID x)\r\n",
    b"* 1 FETCH (UID 0)\r\n",
    b"* 1 FETCH (FLAGS \\Seen)\r\n",
    b"* 1 FETCH (BODY[] (a b))\r\n",
    b'* 1 FETCH (BODY[] "open)\r\n',
    b'* 1 FETCH (BODY[] "bad \\escape")\r\n',
    b"* 1 FETCH (ENVELOPE (NIL NIL))\r\n",
    b"* 1 FETCH (UID 4 BODY[TEXT NIL)\r\n",
    b"* FLAGS (\\Seen) (\\Draft)\r\n",
    b"* SEARCH 1 two\r\n",
    b'* LIST (\\Noselect) "/"\r\n',
    b"* STATUS INBOX (MESSAGES)\r\n",
    b"* NAMESPACE NIL NIL\r\n",
    b"* 1 FETCH (UID 99999999999999999999999)\r\n",
    b"* 1 FETCH " + b"(" * 100 + b")" * 100 + b"\r\n",
]


@pytest.mark.parametrize("data", MALFORMED)
def test_malformed_responses_become_unparsed_and_reading_goes_on(data: bytes) -> None:
    responses = read_all(data + b"A0001 OK next\r\n")
    assert responses == read_all(data + b"A0001 OK next\r\n", chunk=1)
    assert isinstance(responses[0], rr.Unparsed), responses[0]
    assert responses[0].reason and not responses[0].fatal
    assert responses[-1] == rr.StatusResponse("A0001", Status.OK, "next")


def test_a_literal_counts_octets_not_lines() -> None:
    # The literal announces 10 octets: it takes "short)\r\n* 2" and the response goes on after them.
    responses = read_all(b"* 1 FETCH (BODY[] {10}\r\nshort)\r\n* 2 EXISTS\r\n", chunk=1)
    assert len(responses) == 1
    assert isinstance(responses[0], rr.Unparsed)


def test_a_line_over_the_limit_is_reported_once_and_reading_goes_on() -> None:
    reader = rr.ResponseReader(max_line=64)
    responses = read_all(b"* OK " + b"x" * 200 + b"\r\n* 2 EXISTS\r\n", chunk=7, reader=reader)
    assert isinstance(responses[0], rr.Unparsed) and "longer than 64" in responses[0].reason
    assert responses[1:] == [rr.Exists(2)]


def test_a_literal_over_the_limit_ends_reading_for_good() -> None:
    reader = rr.ResponseReader(max_literal=100)
    responses = read_all(b"* 1 FETCH (BODY[] {101}\r\n" + b"x" * 101 + b")\r\n* 2 EXISTS\r\n", reader=reader)
    assert len(responses) == 1
    assert isinstance(responses[0], rr.Unparsed) and responses[0].fatal
    assert reader.broken
    reader.feed(b"* 3 EXISTS\r\n")
    assert reader.next_response() is None


def test_clear_forgets_a_half_read_response() -> None:
    reader = rr.ResponseReader()
    reader.feed(b"* 1 FETCH (BODY[] {10}\r\nabc")
    assert reader.next_response() is None and reader.in_response
    reader.clear()
    assert not reader.in_response
    assert read_all(b"* 2 EXISTS\r\n", reader=reader) == [rr.Exists(2)]


# --- properties -------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    for response in read_all(data):
        assert isinstance(response, rr.ServerResponse)


# Bytes that look like IMAP: structure characters, digits and words, so the parser goes deep.
_PIECES = st.sampled_from(
    [b"* ", b"A1 ", b"+ ", b"OK ", b"FETCH ", b"(", b")", b"{3}\r\n", b"{0}\r\n", b'"', b"\\", b"[", b"]", b"1 ",
     b"UID ", b"BODY[] ", b"NIL ", b"\r\n", b"EXISTS", b"\n", b"\r", b"~{2}\r\n", b"<0>", b"x"]
)  # fmt: skip
_IMAPISH = st.lists(_PIECES, max_size=40).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(st.one_of(_IMAPISH, st.binary(max_size=200)), st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_reading_does_not_depend_on_how_the_bytes_are_split(data: bytes, cuts: list[int]) -> None:
    points = sorted({min(c, len(data)) for c in cuts})
    reader = rr.ResponseReader()
    split: list[rr.ServerResponse] = []
    for start, end in zip([0, *points], [*points, len(data)], strict=True):
        reader.feed(data[start:end])
        while (response := reader.next_response()) is not None:
            split.append(response)
    assert split == read_all(data)


_FLAG = st.sampled_from(["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft", "$Junk", "Work"])


@settings(max_examples=200, deadline=None)
@given(
    number=st.integers(min_value=1, max_value=10**6),
    uid=st.integers(min_value=1, max_value=2**32 - 1),
    flags=st.lists(_FLAG, unique=True, max_size=4),
    body=st.binary(max_size=200),
    subject=st.one_of(st.none(), st.text(max_size=40)),
)
def test_what_the_server_writers_produce_reads_back(
    number: int, uid: int, flags: list[str], body: bytes, subject: str | None
) -> None:
    envelope = (None, subject, None, None, None, ((None, None, "bob", "example.org"),), None, None, None, None)
    data = w.format_fetch(
        number,
        [
            ("UID", uid),
            ("FLAGS", w.flag_list(flags)),
            ("RFC822.SIZE", len(body)),
            ("ENVELOPE", envelope),
            ("BODY[]", w.Literal(body)),
        ],
    )
    fetch = read_one(data)
    assert isinstance(fetch, rr.FetchData)
    assert (fetch.number, fetch.uid, fetch.flags, fetch.size) == (number, uid, tuple(flags), len(body))
    assert fetch.section() == body
    assert fetch.envelope is not None
    expected = (
        None
        if subject is None
        else subject.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="surrogateescape")
    )
    assert fetch.envelope.subject == expected
    assert fetch.envelope.to == (rr.Address(None, None, "bob", "example.org"),)


@settings(max_examples=100, deadline=None)
@given(
    status=st.sampled_from([Status.OK, Status.NO, Status.BAD]),
    text=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30),
    uidnext=st.integers(min_value=1, max_value=2**32 - 1),
)
def test_status_responses_from_the_writers_read_back(status: Status, text: str, uidnext: int) -> None:
    tagged = read_one(w.format_tagged("A0042", status, text, w.uidnext_code(uidnext)))
    assert isinstance(tagged, rr.StatusResponse)
    assert (tagged.tag, tagged.status, tagged.code_number("UIDNEXT")) == ("A0042", status, uidnext)
    assert tagged.text == text.rstrip(" ") or tagged.text == text
