"""SEARCH keys evaluated against messages (RFC 3501 §6.4.4), parsed from the wire as a client sends them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from simulator.protocol.imap import events as ev
from simulator.protocol.imap.parser import parse_command
from simulator.protocol.imap.search import SearchTarget, matches, search


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


TEA = crlf(
    "Date: Wed, 02 Dec 2026 23:30:00 -0500\n"  # already 3 December in UTC: SENT* uses the sender's own date
    "From: Alice Liddell <alice@example.com>\n"
    "To: bob@example.org\n"
    "Cc: Hatter <hatter@example.net>\n"
    "Subject: =?UTF-8?Q?Th=C3=A9_at?= four\n"
    "X-Priority: 1\n"
    "\n"
    "Bring the MARCH hare.\n"
)
REPORT = crlf(
    "Date: Mon, 5 Jan 2026 09:00:00 +0000\n"
    "From: carol@example.net\n"
    "To: alice@example.com\n"
    "Subject: Quarterly report\n"
    "MIME-Version: 1.0\n"
    'Content-Type: multipart/mixed; boundary="b"\n'
    "\n"
    "--b\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "RnLDvGhzdMO8Y2sgYXQgbm9vbg==\n"  # "Frühstück at noon"
    "--b--\n"
)
UNDATED = crlf("From: nobody@example.org\nSubject: no date\n\nplain body with lunch\n")

MESSAGES = [
    SearchTarget(
        sequence=1,
        uid=10,
        flags={"\\Seen", "\\Answered"},
        internal_date=datetime(2026, 12, 3, 4, 31, tzinfo=UTC),
        message=TEA,
    ),
    SearchTarget(
        sequence=2,
        uid=20,
        flags={"\\Flagged", "$Work", "\\Recent"},
        internal_date=datetime(2026, 1, 5, 9, 1, tzinfo=timezone(timedelta(hours=-8))),
        message=REPORT,
    ),
    SearchTarget(sequence=3, uid=35, flags=(), internal_date=datetime(2026, 2, 1, 0, 0, tzinfo=UTC), message=UNDATED),
]
SIZES = [len(TEA), len(REPORT), len(UNDATED)]


def run(keys: str, *, uid: bool = False) -> list[int]:
    command = parse_command(b"s " + (b"UID " if uid else b"") + b"SEARCH " + keys.encode("utf-8"))
    assert isinstance(command, ev.Search), command
    return search(command.key, MESSAGES, uid=command.uid)


SEARCH_CASES: list[tuple[str, list[int]]] = [
    ("ALL", [1, 2, 3]),
    ("SEEN", [1]),
    ("UNSEEN", [2, 3]),
    ("ANSWERED", [1]),
    ("FLAGGED", [2]),
    ("UNFLAGGED", [1, 3]),
    ("KEYWORD $work", [2]),  # flags compare case-insensitively
    ("UNKEYWORD $Work", [1, 3]),
    ("RECENT", [2]),
    ("NEW", [2]),
    ("OLD", [1, 3]),
    ("DELETED", []),
    ("UNDELETED", [1, 2, 3]),
    ("1", [1]),
    ("2:*", [2, 3]),
    ("*", [3]),
    ("1,3", [1, 3]),
    ("UID 20:*", [2, 3]),
    ("UID 11:19", []),
    ("UID *", [3]),
    ("FROM alice", [1]),
    ("FROM ALICE@EXAMPLE", [1]),
    ('FROM "Liddell"', [1]),
    ("TO alice", [2]),
    ("CC hatter", [1]),
    ("BCC anyone", []),
    ("SUBJECT report", [2]),
    ('SUBJECT "THÉ"', [1]),  # encoded-words are decoded for searching ...
    ("SUBJECT Th=C3=A9", [1]),  # ... and the raw form still matches
    ('HEADER X-Priority ""', [1]),  # an empty string matches every message with the field
    ("HEADER X-Priority 2", []),
    ("BODY march", [1]),
    ('BODY "frühstück"', [2]),  # base64 is decoded before searching
    ("BODY alice", []),  # BODY does not look at the header
    ("TEXT alice", [1, 2]),  # TEXT looks at both
    ("TEXT lunch", [3]),
    ("BEFORE 5-Jan-2026", []),
    ("ON 5-Jan-2026", [2]),  # 09:01 -0800 is still 5 January where it was stamped
    ("SINCE 1-Feb-2026", [1, 3]),
    ("BEFORE 1-Feb-2026", [2]),
    ("ON 3-Dec-2026", [1]),
    ("SENTON 2-Dec-2026", [1]),  # the Date header's own day, not UTC's
    ("SENTBEFORE 2-Dec-2026", [2]),
    ("SENTSINCE 2-Dec-2026", [1]),
    ("SENTSINCE 1-Jan-2000", [1, 2]),  # no Date header, no match
    (f"LARGER {SIZES[2]}", [i + 1 for i, size in enumerate(SIZES) if size > SIZES[2]]),
    (f"SMALLER {SIZES[0]}", [i + 1 for i, size in enumerate(SIZES) if size < SIZES[0]]),
    (f"LARGER {max(SIZES)}", []),
    ("NOT SEEN", [2, 3]),
    ("NOT NOT SEEN", [1]),
    ("OR SEEN FLAGGED", [1, 2]),
    ("OR SEEN OR FLAGGED TO nobody", [1, 2]),
    ("OR (SEEN FLAGGED) 3", [3]),
    ("SEEN FLAGGED", []),
    ("NOT (UNSEEN OR FLAGGED 3)", [1]),
    ("OR FROM carol NOT SINCE 1-Feb-2026 UNSEEN", [2]),
]


@pytest.mark.parametrize(("keys", "expected"), SEARCH_CASES)
def test_search(keys: str, expected: list[int]) -> None:
    assert run(keys) == expected


def test_uid_search_returns_uids() -> None:
    assert run("UNSEEN", uid=True) == [20, 35]
    assert run("UID 1:20", uid=True) == [10, 20]


def test_star_in_uid_sets_means_the_largest_uid_in_the_mailbox() -> None:
    key = ev.UidKey(ev.SequenceSet(((None, None),)))
    assert search(key, MESSAGES[:2], largest_uid=99) == []  # "*" is UID 99, which these do not have
    assert search(key, MESSAGES[:2]) == [2]


def test_matches_on_one_message() -> None:
    tea = MESSAGES[0]
    assert matches(ev.HasFlag("\\SEEN"), tea, largest_sequence=3, largest_uid=35)
    assert not matches(ev.Not(ev.All()), tea, largest_sequence=3, largest_uid=35)
    assert matches(ev.SizeKey(larger=True, size=len(TEA) - 1), tea, largest_sequence=3, largest_uid=35)
    assert not matches(ev.SizeKey(larger=True, size=len(TEA)), tea, largest_sequence=3, largest_uid=35)


def test_size_defaults_to_the_crlf_size() -> None:
    target = SearchTarget(
        sequence=1, uid=1, flags=(), internal_date=datetime(2026, 1, 1, tzinfo=UTC), message=b"Subject: x\n\nbody\n"
    )
    assert target.size == len(b"Subject: x\r\n\r\nbody\r\n")


def test_malformed_message_and_unknown_charset_do_not_raise() -> None:
    raw = b"Date: not a date\r\nSubject: =?x-unknown?q?zz?=\r\nContent-Type: text/plain; charset=x-nope\r\n"
    raw += b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64"
    target = SearchTarget(sequence=1, uid=1, flags=(), internal_date=datetime(2026, 1, 1, tzinfo=UTC), message=raw)
    for keys in ("SENTON 1-Jan-2026", "SUBJECT zz", "BODY base64", "TEXT zz"):
        command = parse_command(b"s SEARCH " + keys.encode())
        assert isinstance(command, ev.Search)
        matches(command.key, target, largest_sequence=1, largest_uid=1)
    assert matches(ev.HeaderKey("SUBJECT", "ZZ"), target, largest_sequence=1, largest_uid=1)
    assert not matches(
        ev.DateKey(ev.DateField.SENT, ev.DateOp.SINCE, datetime(1970, 1, 1).date()),
        target,
        largest_sequence=1,
        largest_uid=1,
    )
