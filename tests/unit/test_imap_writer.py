"""The IMAP response writer: values, status responses, response codes, and round trips through the reader."""

from __future__ import annotations

import imaplib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.protocol.imap import events as ev
from simulator.protocol.imap import responses
from simulator.protocol.imap import writers as w
from simulator.protocol.imap.parser import parse_command
from simulator.protocol.imap.readers import CommandReader, NeedsContinuation
from simulator.protocol.imap.writers import Atom, ImapValue, Literal, Raw, Status

ENCODE_CASES: list[tuple[ImapValue, bytes]] = [
    (None, b"NIL"),
    (0, b"0"),
    (4294967295, b"4294967295"),
    ("", b'""'),
    ("hello world", b'"hello world"'),
    ('say "hi"', b'"say \\"hi\\""'),
    ("a\\b", b'"a\\\\b"'),
    ('"q" "r" \\', b'{9}\r\n"q" "r" \\'),  # three escapes: a literal reads better
    ("two\r\nlines", b"{10}\r\ntwo\r\nlines"),
    ("caf\u00e9", b"{5}\r\ncaf\xc3\xa9"),  # 8-bit never goes quoted
    ("nul\x00", b"{4}\r\nnul\x00"),
    (b"raw bytes", b'"raw bytes"'),
    ("x" * 1001, b"{1001}\r\n" + b"x" * 1001),
    (Atom("\\Seen"), b"\\Seen"),
    (Literal(b"short"), b"{5}\r\nshort"),
    (Raw(b"(already encoded)"), b"(already encoded)"),
    ([], b"()"),
    ((Atom("\\Seen"), Atom("$Work")), b"(\\Seen $Work)"),
    (("text", "plain", ("charset", "us-ascii"), None, 12), b'("text" "plain" ("charset" "us-ascii") NIL 12)'),
    ([[None, None, "undisclosed", None], [None, None, None, None]], b'((NIL NIL "undisclosed" NIL) (NIL NIL NIL NIL))'),
]


@pytest.mark.parametrize(("value", "wire"), ENCODE_CASES)
def test_encode(value: ImapValue, wire: bytes) -> None:
    assert w.encode(value) == wire


def test_booleans_are_not_numbers() -> None:
    with pytest.raises(TypeError):
        w.encode(True)


@pytest.mark.parametrize(
    ("text", "wire"),
    [
        ("INBOX", b"INBOX"),
        ("Archive/2026]", b"Archive/2026]"),
        ("NIL", b'"NIL"'),
        ("nil", b'"nil"'),
        ("", b'""'),
        ("a b", b'"a b"'),
        ("50%", b'"50%"'),
        ("x*", b'"x*"'),
        ("(x)", b'"(x)"'),
        ("\u00fc", b"{2}\r\n\xc3\xbc"),
    ],
)
def test_encode_astring(text: str, wire: bytes) -> None:
    assert w.encode_astring(text) == wire


def _login_through_reader(user: bytes, password: bytes) -> ev.Command | ev.CommandError:
    """Send LOGIN with the writer's encodings through the reader, as a client would, byte by byte."""
    reader = CommandReader()
    data = b"t1 LOGIN " + user + b" " + password + b"\r\n"
    out: list[ev.Command | ev.CommandError] = []
    for byte in data:
        reader.feed(bytes([byte]))
        while (event := reader.next_event()) is not None:
            if not isinstance(event, NeedsContinuation):
                assert isinstance(event, ev.Command | ev.CommandError)
                out.append(event)
    assert len(out) == 1
    return out[0]


@settings(max_examples=200, deadline=None)
@given(user=st.text(max_size=40), password=st.text(max_size=40))
def test_strings_round_trip_through_the_reader(user: str, password: str) -> None:
    result = _login_through_reader(w.encode_string(user), w.encode_astring(password))
    assert result == ev.Login("t1", user, password)


@settings(max_examples=200, deadline=None)
@given(user=st.binary(max_size=40))
def test_any_octets_round_trip_through_the_reader(user: bytes) -> None:
    result = _login_through_reader(w.encode_string(user), b"pw")
    assert isinstance(result, ev.Login)
    assert result.user.encode("utf-8", errors="surrogateescape") == user


def test_quoted_strings_carry_only_printable_ascii_and_tab() -> None:
    assert w.encode_string("a\tb") == b'"a\tb"'
    for octet in [*range(0x09), *range(0x0A, 0x20), *range(0x7F, 0x100)]:
        assert w.encode_string(bytes([octet])).startswith(b"{1}\r\n"), octet


# --- status responses and codes ----------------------------------------------------------

STATUS_CASES: list[tuple[bytes, bytes]] = [
    (w.format_tagged("a1", Status.OK, "Select completed.", w.READ_WRITE), b"a1 OK [READ-WRITE] Select completed.\r\n"),
    (w.format_tagged("a1", Status.OK, "Examine completed.", w.READ_ONLY), b"a1 OK [READ-ONLY] Examine completed.\r\n"),
    (
        w.format_tagged("a2", Status.NO, "Mailbox doesn't exist: X", w.TRYCREATE),
        b"a2 NO [TRYCREATE] Mailbox doesn't exist: X\r\n",
    ),
    (
        w.format_tagged("a3", Status.BAD, "Error in IMAP command FOO: Unknown command."),
        b"a3 BAD Error in IMAP command FOO: Unknown command.\r\n",
    ),
    (
        w.format_untagged_status(Status.OK, "Flags permitted.", w.permanentflags_code(["\\Seen", "\\Deleted", "\\*"])),
        b"* OK [PERMANENTFLAGS (\\Seen \\Deleted \\*)] Flags permitted.\r\n",
    ),
    (
        w.format_untagged_status(Status.OK, "Predicted next UID", w.uidnext_code(42)),
        b"* OK [UIDNEXT 42] Predicted next UID\r\n",
    ),
    (
        w.format_untagged_status(Status.OK, "UIDs valid", w.uidvalidity_code(1764000000)),
        b"* OK [UIDVALIDITY 1764000000] UIDs valid\r\n",
    ),
    (w.format_untagged_status(Status.OK, "First unseen.", w.unseen_code(3)), b"* OK [UNSEEN 3] First unseen.\r\n"),
    (w.format_untagged_status(Status.OK, "Watch out", w.ALERT), b"* OK [ALERT] Watch out\r\n"),
    (
        w.format_untagged_status(Status.OK, "Previous mailbox closed.", w.CLOSED),
        b"* OK [CLOSED] Previous mailbox closed.\r\n",
    ),
    (
        w.format_tagged("c", Status.OK, "Append completed.", w.appenduid_code(7, 12)),
        b"c OK [APPENDUID 7 12] Append completed.\r\n",
    ),
    (
        w.format_tagged("c", Status.OK, "Copy completed.", w.copyuid_code(7, [1, 2, 3, 5], [20, 21, 22, 23])),
        b"c OK [COPYUID 7 1:3,5 20:23] Copy completed.\r\n",
    ),
    (
        w.format_untagged_status(Status.OK, "ready.", w.capability_code(["IMAP4rev1", "IDLE", "AUTH=PLAIN"])),
        b"* OK [CAPABILITY IMAP4rev1 IDLE AUTH=PLAIN] ready.\r\n",
    ),
    (w.format_untagged_status(Status.BYE, "Logging out"), b"* BYE Logging out\r\n"),
    (
        w.format_untagged_status(Status.BAD, "Error in IMAP command received by server."),
        b"* BAD Error in IMAP command received by server.\r\n",
    ),
    (w.format_tagged("a", Status.OK, "one\r\ntwo"), b"a OK one  two\r\n"),  # text cannot end the line early
    (w.format_continuation("Ready for literal data"), b"+ Ready for literal data\r\n"),
    (w.format_continuation(), b"+ \r\n"),
]


@pytest.mark.parametrize(("wire", "expected"), STATUS_CASES)
def test_status_responses(wire: bytes, expected: bytes) -> None:
    assert wire == expected


def test_bye_and_preauth_are_never_tagged() -> None:
    for status in (Status.BYE, Status.PREAUTH):
        with pytest.raises(ValueError):
            w.format_tagged("a", status, "x")


@pytest.mark.parametrize(
    ("numbers", "compact"),
    [
        ([], ""),
        ([7], "7"),
        ([1, 2, 3, 5], "1:3,5"),
        ([1, 3, 5], "1,3,5"),
        ([4, 5, 6, 7], "4:7"),
        ([5, 6, 1, 2], "5:6,1:2"),
        ([3, 3], "3,3"),
    ],
)
def test_compact_set(numbers: list[int], compact: str) -> None:
    assert w.compact_set(numbers) == compact


def test_compacted_sets_parse_back_to_the_same_numbers() -> None:
    numbers = [1, 2, 3, 5, 8, 9, 10, 42]
    result = parse_command(b"a UID FETCH " + w.compact_set(numbers).encode() + b" FLAGS")
    assert isinstance(result, ev.Fetch) and result.messages.numbers(largest=100) == numbers


# --- untagged data -----------------------------------------------------------------------


def test_untagged_data() -> None:
    assert w.format_untagged(Atom("CAPABILITY"), Atom("IMAP4rev1"), Atom("IDLE")) == b"* CAPABILITY IMAP4rev1 IDLE\r\n"
    assert w.format_untagged(3, Atom("EXISTS")) == b"* 3 EXISTS\r\n"
    assert w.format_untagged(Atom("FLAGS"), w.flag_list(["\\Answered", "\\Seen"])) == b"* FLAGS (\\Answered \\Seen)\r\n"


def test_fetch_response() -> None:
    wire = w.format_fetch(12, [("UID", 40), ("FLAGS", w.flag_list(["\\Seen"])), ("BODY[]", Literal(b"Hi\r\n"))])
    assert wire == b"* 12 FETCH (UID 40 FLAGS (\\Seen) BODY[] {4}\r\nHi\r\n)\r\n"


def test_list_search_status() -> None:
    assert w.format_list(["\\HasNoChildren"], "/", "INBOX") == b'* LIST (\\HasNoChildren) "/" INBOX\r\n'
    assert w.format_list([], None, "Entw\u00fcrfe", "LSUB") == b"* LSUB () NIL Entw&APw-rfe\r\n"
    assert w.format_list(["\\Noselect"], ".", "My Folder") == b'* LIST (\\Noselect) "." "My Folder"\r\n'
    assert w.format_search([2, 5, 9]) == b"* SEARCH 2 5 9\r\n"
    assert w.format_search([]) == b"* SEARCH\r\n"
    assert w.format_status("INBOX", [("MESSAGES", 3), ("UNSEEN", 1)]) == b"* STATUS INBOX (MESSAGES 3 UNSEEN 1)\r\n"


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (datetime(2026, 12, 2, 10, 0, tzinfo=UTC), " 2-Dec-2026 10:00:00 +0000"),
        (datetime(2026, 1, 17, 23, 59, 58, tzinfo=timezone(-timedelta(hours=5))), "17-Jan-2026 23:59:58 -0500"),
        (datetime(2026, 3, 9, 8, 5, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))), " 9-Mar-2026 08:05:01 +0530"),
    ],
)
def test_internal_date(when: datetime, text: str) -> None:
    assert w.format_date_time(when) == text
    # imaplib, a real client, reads it back to the same instant.
    parsed = imaplib.Internaldate2tuple(b'1 (INTERNALDATE "' + text.encode() + b'")')
    assert parsed is not None and parsed[:6] == when.astimezone().timetuple()[:6]
    # ... and so does our APPEND parser.
    result = parse_command(b"a APPEND INBOX " + w.encode(text) + b" {0+}\r\n")
    assert isinstance(result, ev.Append) and result.internal_date == when


# --- named responses -----------------------------------------------------------------------


def test_named_responses_follow_dovecot() -> None:
    caps = ["IMAP4rev1", "LITERAL+", "IDLE"]
    assert responses.greeting("mail.example.org", caps).untagged() == (
        b"* OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE] mail.example.org ready.\r\n"
    )
    assert responses.AUTHENTICATION_FAILED.tagged("a1") == b"a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
    assert responses.BYE_LOGOUT.untagged() == b"* BYE Logging out\r\n"
    assert responses.LOGOUT_OK.tagged("z") == b"z OK Logout completed.\r\n"
    assert responses.login_ok(caps).tagged("a2") == b"a2 OK [CAPABILITY IMAP4rev1 LITERAL+ IDLE] Logged in\r\n"
    assert responses.copy_ok(9, [4, 5], [100, 101]).tagged("c") == b"c OK [COPYUID 9 4:5 100:101] Copy completed.\r\n"
    assert responses.append_ok(9, 102).tagged("d") == b"d OK [APPENDUID 9 102] Append completed.\r\n"
    assert responses.trycreate("Work").tagged("e") == b"e NO [TRYCREATE] Mailbox doesn't exist: Work\r\n"
    unknown = parse_command(b"f FOO")
    assert isinstance(unknown, ev.CommandError)
    assert responses.bad_command(unknown.text).tagged("f") == b"f BAD Error in IMAP command FOO: Unknown command.\r\n"


def test_every_named_response_explains_itself_with_an_rfc() -> None:
    named = [value for value in vars(responses).values() if isinstance(value, responses.Response)]
    assert len(named) > 30
    for response in named:
        assert response.explain and response.rfc.startswith("RFC "), response
