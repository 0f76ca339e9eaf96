"""ENVELOPE, BODY, BODYSTRUCTURE and body sections, against RFC 3501 §6.4.5 and §7.4.2.

Expected structures are written out by hand from the RFC's grammar; sizes are counted from
the test's own message pieces. imaplib, a real client, reads our FETCH output at the end.
"""

from __future__ import annotations

import imaplib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.protocol.imap.envelope import (
    ParsedMessage,
    parse_address_list,
    partial,
    rfc822_size,
    to_crlf,
)
from simulator.protocol.imap.events import Section, SectionText
from simulator.protocol.imap.writers import Literal, encode, format_fetch


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


SIMPLE = crlf(
    "Date: Wed, 02 Dec 2026 10:00:00 +0000\n"
    "From: Alice Liddell <alice@example.com>\n"
    "To: bob@example.org\n"
    "Subject: Tea at four\n"
    "Message-ID: <tea.1@example.com>\n"
    "\n"
    "See you at four.\n"
    "Bring the hare.\n"
)


def test_simple_message() -> None:
    message = ParsedMessage.parse(SIMPLE)
    alice = b'("Alice Liddell" NIL "alice" "example.com")'
    assert encode(message.envelope()) == (
        b'("Wed, 02 Dec 2026 10:00:00 +0000" "Tea at four" (' + alice + b") (" + alice + b") (" + alice + b") "
        b'((NIL NIL "bob" "example.org")) NIL NIL NIL "<tea.1@example.com>")'
    )
    # The body "See you at four.\r\nBring the hare.\r\n" is 18 + 17 octets on 2 lines.
    assert (
        encode(message.body_structure())
        == b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 35 2 NIL NIL NIL NIL)'
    )
    assert (
        encode(message.body_structure(extensible=False))
        == b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 35 2)'
    )
    assert message.size == len(SIMPLE)


def test_size_and_sections_count_crlf_even_when_stored_with_lf() -> None:
    lf = SIMPLE.replace(b"\r\n", b"\n")
    assert rfc822_size(lf) == len(SIMPLE) == ParsedMessage.parse(lf).size
    assert to_crlf(lf) == SIMPLE
    assert to_crlf(b"a\r\nb\nc") == b"a\r\nb\r\nc"
    assert ParsedMessage.parse(lf).section(Section()) == SIMPLE


ALTERNATIVE = crlf(
    "From: a@example.com\n"
    "Subject: alt\n"
    "MIME-Version: 1.0\n"
    'Content-Type: multipart/alternative; boundary="b1"\n'
    "\n"
    "--b1\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Hi=21\n"
    "--b1\n"
    "Content-Type: text/html; charset=utf-8\n"
    "\n"
    "<p>Hi!</p>\n"
    "--b1--\n"
)


def test_multipart_alternative() -> None:
    message = ParsedMessage.parse(ALTERNATIVE)
    # The CRLF before each delimiter belongs to the delimiter (RFC 2046 §5.1.1): "Hi=21" is 5 octets, 1 line.
    assert encode(message.body_structure()) == (
        b'(("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 5 1 NIL NIL NIL NIL)'
        b'("text" "html" ("charset" "utf-8") NIL NIL "7bit" 10 1 NIL NIL NIL NIL)'
        b' "alternative" ("boundary" "b1") NIL NIL NIL)'
    )
    assert encode(message.body_structure(extensible=False)) == (
        b'(("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 5 1)'
        b'("text" "html" ("charset" "utf-8") NIL NIL "7bit" 10 1) "alternative")'
    )
    assert message.section(Section((1,))) == b"Hi=21"
    assert message.section(Section((2,))) == b"<p>Hi!</p>"


MIXED = crlf(
    'From: "Bob, the Builder" <bob@example.org>\n'
    "To: Alice <alice@example.com>, carol@example.net\n"
    "Cc: Friends: dave@example.net, Eve <eve@example.net>;\n"
    "Subject: =?UTF-8?Q?Caf=C3=A9?= plans\n"
    'Content-Type: multipart/mixed; boundary="==XYZ=="\n'
    "\n"
    "This is a multi-part message in MIME format.\n"
    "--==XYZ==\n"
    'Content-Type: text/plain; charset="us-ascii"\n'
    "\n"
    "See attached.\n"
    "--==XYZ==\n"
    'Content-Type: application/pdf; name="plan.pdf"\n'
    'Content-Disposition: attachment; filename="plan.pdf"\n'
    "Content-Transfer-Encoding: base64\n"
    "Content-ID: <plan@example.org>\n"
    "Content-Description: The plan\n"
    "Content-Language: en\n"
    "\n"
    "JVBERi0xLjQK\n"
    "--==XYZ==--\n"
    "epilogue\n"
)
PDF_MIME = crlf(
    'Content-Type: application/pdf; name="plan.pdf"\n'
    'Content-Disposition: attachment; filename="plan.pdf"\n'
    "Content-Transfer-Encoding: base64\n"
    "Content-ID: <plan@example.org>\n"
    "Content-Description: The plan\n"
    "Content-Language: en\n"
    "\n"
)


def test_multipart_mixed_with_attachment() -> None:
    message = ParsedMessage.parse(MIXED)
    bob = b'("Bob, the Builder" NIL "bob" "example.org")'
    assert encode(message.envelope()) == (
        b'(NIL "=?UTF-8?Q?Caf=C3=A9?= plans" (' + bob + b") (" + bob + b") (" + bob + b") "
        b'(("Alice" NIL "alice" "example.com")(NIL NIL "carol" "example.net")) '
        b'((NIL NIL "Friends" NIL)(NIL NIL "dave" "example.net")("Eve" NIL "eve" "example.net")(NIL NIL NIL NIL)) '
        b"NIL NIL NIL)"
    )
    assert encode(message.body_structure()) == (
        b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 13 1 NIL NIL NIL NIL)'
        b'("application" "pdf" ("name" "plan.pdf") "<plan@example.org>" "The plan" "base64" 12 NIL'
        b' ("attachment" ("filename" "plan.pdf")) "en" NIL)'
        b' "mixed" ("boundary" "==XYZ==") NIL NIL NIL)'
    )


MIXED_SECTIONS: list[tuple[Section, bytes | None]] = [
    (Section(), MIXED),
    (Section((), SectionText.HEADER), MIXED[: MIXED.index(b"\r\n\r\n") + 4]),
    (Section((), SectionText.TEXT), MIXED[MIXED.index(b"\r\n\r\n") + 4 :]),
    (
        Section((), SectionText.HEADER_FIELDS, ("SUBJECT", "TO")),
        b"To: Alice <alice@example.com>, carol@example.net\r\nSubject: =?UTF-8?Q?Caf=C3=A9?= plans\r\n\r\n",
    ),
    (Section((), SectionText.HEADER_FIELDS, ("X-NOT-THERE",)), b"\r\n"),
    (
        Section((), SectionText.HEADER_FIELDS_NOT, ("FROM", "TO", "CC", "SUBJECT")),
        b'Content-Type: multipart/mixed; boundary="==XYZ=="\r\n\r\n',
    ),
    (Section((1,)), b"See attached."),
    (Section((1,), SectionText.MIME), b'Content-Type: text/plain; charset="us-ascii"\r\n\r\n'),
    (Section((2,)), b"JVBERi0xLjQK"),
    (Section((2,), SectionText.MIME), PDF_MIME),
    (Section((3,)), None),
    (Section((1, 1)), b"See attached."),  # part 1 of a non-multipart part is the part itself
    (Section((1,), SectionText.TEXT), None),  # HEADER and TEXT of a part exist only for message/rfc822
]


@pytest.mark.parametrize(("section", "expected"), MIXED_SECTIONS)
def test_sections_of_a_mixed_message(section: Section, expected: bytes | None) -> None:
    assert ParsedMessage.parse(MIXED).section(section) == expected


INNER = crlf(
    "From: alice@example.com\n"
    "Subject: Tea\n"
    "Date: Tue, 1 Dec 2026 09:00:00 -0500\n"
    'Content-Type: multipart/alternative; boundary="inner"\n'
    "\n"
    "--inner\n"
    "Content-Type: text/plain\n"
    "\n"
    "tea?\n"
    "--inner\n"
    "Content-Type: text/html\n"
    "\n"
    "<b>tea?</b>\n"
    "--inner--"
)
FORWARD = (
    crlf(
        "From: carol@example.net\n"
        "To: bob@example.org\n"
        "Subject: Fwd: Tea\n"
        'Content-Type: multipart/mixed; boundary="outer"\n'
        "\n"
        "--outer\n"
        "Content-Type: text/plain\n"
        "\n"
        "Forwarding.\n"
        "--outer\n"
        "Content-Type: message/rfc822\n"
        "\n"
    )
    + INNER
    + b"\r\n--outer--\r\n"
)


def test_nested_message_rfc822() -> None:
    message = ParsedMessage.parse(FORWARD)
    alice = b'((NIL NIL "alice" "example.com"))'
    inner_envelope = (
        b'("Tue, 1 Dec 2026 09:00:00 -0500" "Tea" ' + alice + b" " + alice + b" " + alice + b" NIL NIL NIL NIL NIL)"
    )
    inner_body = (
        b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 4 1 NIL NIL NIL NIL)'
        b'("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 11 1 NIL NIL NIL NIL)'
        b' "alternative" ("boundary" "inner") NIL NIL NIL)'
    )
    inner_lines = INNER.count(b"\r\n") + 1  # the last line, "--inner--", has no CRLF of its own
    assert encode(message.body_structure()) == (
        b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 11 1 NIL NIL NIL NIL)'
        b'("message" "rfc822" NIL NIL NIL "7bit" %d '
        % len(INNER)
        + inner_envelope
        + b" "
        + inner_body
        + b" %d NIL NIL NIL NIL)" % inner_lines
        + b' "mixed" ("boundary" "outer") NIL NIL NIL)'
    )


NESTED_SECTIONS: list[tuple[Section, bytes | None]] = [
    (Section((2,)), INNER),
    (Section((2,), SectionText.HEADER), INNER[: INNER.index(b"\r\n\r\n") + 4]),
    (Section((2,), SectionText.TEXT), INNER[INNER.index(b"\r\n\r\n") + 4 :]),
    (Section((2,), SectionText.HEADER_FIELDS, ("SUBJECT",)), b"Subject: Tea\r\n\r\n"),
    (Section((2,), SectionText.MIME), b"Content-Type: message/rfc822\r\n\r\n"),
    (Section((2, 1)), b"tea?"),
    (Section((2, 2)), b"<b>tea?</b>"),
    (Section((2, 1), SectionText.MIME), b"Content-Type: text/plain\r\n\r\n"),
    (Section((2, 3)), None),
]


@pytest.mark.parametrize(("section", "expected"), NESTED_SECTIONS)
def test_sections_inside_an_encapsulated_message(section: Section, expected: bytes | None) -> None:
    assert ParsedMessage.parse(FORWARD).section(section) == expected


def test_single_part_message_part_one_is_its_body() -> None:
    message = ParsedMessage.parse(SIMPLE)
    assert message.section(Section((1,))) == b"See you at four.\r\nBring the hare.\r\n"
    assert message.section(Section((2,))) is None


@pytest.mark.parametrize(
    ("start", "length", "expected"),
    [(0, 4, b"Date"), (6, 3, b"Wed"), (len(SIMPLE) - 3, 10, b"e.\r\n"[-3:]), (len(SIMPLE), 5, b""), (10_000, 1, b"")],
)
def test_partial(start: int, length: int, expected: bytes) -> None:
    assert partial(SIMPLE, start, length) == expected
    assert ParsedMessage.parse(SIMPLE).section(Section(), (start, length)) == expected


# --- addresses -----------------------------------------------------------------------------

ADDRESS_CASES: list[tuple[str, bytes]] = [
    ("alice@example.com", b'(NIL NIL "alice" "example.com")'),
    ("Alice <alice@example.com>", b'("Alice" NIL "alice" "example.com")'),
    ('"Liddell, Alice" <alice@example.com>', b'("Liddell, Alice" NIL "alice" "example.com")'),
    ("alice@example.com (Alice in a comment)", b'(NIL NIL "alice" "example.com")'),
    ("John Q. Public <jqp@example.com>", b'("John Q. Public" NIL "jqp" "example.com")'),
    ("<@relay.example:bob@example.org>", b'(NIL "@relay.example" "bob" "example.org")'),
    ("first.last@[192.0.2.1]", b'(NIL NIL "first.last" "[192.0.2.1]")'),
    ("undisclosed-recipients:;", b'(NIL NIL "undisclosed-recipients" NIL) (NIL NIL NIL NIL)'),
    ("root", b'(NIL NIL "root" "MISSING_DOMAIN")'),
    ("=?UTF-8?Q?Caf=C3=A9?= <cafe@example.com>", b'("=?UTF-8?Q?Caf=C3=A9?=" NIL "cafe" "example.com")'),
]


@pytest.mark.parametrize(("header", "expected"), ADDRESS_CASES)
def test_address_structures(header: str, expected: bytes) -> None:
    assert b" ".join(encode(address) for address in parse_address_list(header)) == expected


def test_sender_and_reply_to_default_to_from() -> None:
    header = crlf("From: a@x.example\nSender:\nReply-To: r@y.example\n\n")
    envelope = ParsedMessage.parse(header).envelope()
    assert encode(envelope[3]) == encode(envelope[2]) == b'((NIL NIL "a" "x.example"))'
    assert encode(envelope[4]) == b'((NIL NIL "r" "y.example"))'


def test_folded_subject_is_unfolded_and_8bit_goes_as_literal() -> None:
    raw = b"Subject: a long\r\n\tsubject\r\nFrom: Andr\xc3\xa9 <andre@example.com>\r\n\r\n"
    envelope = ParsedMessage.parse(raw).envelope()
    assert encode(envelope[1]) == b'"a long\tsubject"'
    assert encode(envelope[2]) == b'(({6}\r\nAndr\xc3\xa9 NIL "andre" "example.com"))'


# --- malformed messages never raise ---------------------------------------------------------

MALFORMED_CASES: list[tuple[bytes, bytes]] = [
    (b"", b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)'),
    (b"this is not a message", b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)'),
    (
        b"Content-Type: multipart/mixed\r\n\r\nno boundary\r\n",
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 13 1 NIL NIL NIL NIL)',
    ),
    (
        b'Content-Type: multipart/mixed; boundary="zz"\r\n\r\nthe boundary never comes',
        b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 24 1 NIL NIL NIL NIL)',
    ),
    # No closing delimiter: the last part runs to the end.
    (
        b'Content-Type: multipart/mixed; boundary="zz"\r\n\r\n--zz\r\n\r\nopen',
        b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 4 1 NIL NIL NIL NIL)'
        b' "mixed" ("boundary" "zz") NIL NIL NIL)',
    ),
    # "--zzz" is not the delimiter "--zz".
    (
        b'Content-Type: multipart/mixed; boundary="zz"\r\n\r\n--zz\r\n\r\na\r\n--zzz\r\nb\r\n--zz--\r\n',
        b'(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 11 3 NIL NIL NIL NIL)'
        b' "mixed" ("boundary" "zz") NIL NIL NIL)',
    ),
    (
        b'Content-Type: text/plain; charset="unterminated\r\n\r\nx',
        b'("text" "plain" ("charset" "\\"unterminated") NIL NIL "7bit" 1 1 NIL NIL NIL NIL)',
    ),
]


@pytest.mark.parametrize(("raw", "expected"), MALFORMED_CASES)
def test_malformed_messages(raw: bytes, expected: bytes) -> None:
    assert encode(ParsedMessage.parse(raw).body_structure()) == expected


def test_broken_address_headers_do_not_raise() -> None:
    raw = b'From: <<@@>>, "unterminated\r\nTo: ,,,;:\r\nCc: (unclosed comment\r\nBcc: a@b:c;d\r\n\r\n'
    envelope = encode(ParsedMessage.parse(raw).envelope())
    assert envelope.startswith(b"(NIL NIL (") and envelope.endswith(b" NIL NIL)")


_HEADER_NAMES = st.sampled_from(
    [b"From", b"To", b"Cc", b"Subject", b"Content-Type", b"Content-Disposition", b"Content-Language", b"Date"]
)
_FRAGMENTS = st.sampled_from(
    [
        b"<",
        b">",
        b"@",
        b",",
        b";",
        b":",
        b'"',
        b"(",
        b")",
        b"\\",
        b"=?x?q?a?=",
        b"a",
        b"\xff",
        b"multipart/mixed; boundary=q",
        b"message/rfc822",
        b"\r\n",
        b"\r\n\r\n",
        b"--q",
        b" ",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    headers=st.lists(st.tuples(_HEADER_NAMES, st.lists(_FRAGMENTS | st.binary(max_size=5), max_size=10)), max_size=6),
    body=st.lists(_FRAGMENTS, max_size=20),
)
def test_any_message_gives_well_formed_structures(headers: list[tuple[bytes, list[bytes]]], body: list[bytes]) -> None:
    raw = b"".join(name + b": " + b"".join(value) + b"\r\n" for name, value in headers) + b"\r\n" + b"".join(body)
    message = ParsedMessage.parse(raw)
    for structure in (message.envelope(), message.body_structure(), message.body_structure(extensible=False)):
        wire = encode(structure)
        assert wire.startswith(b"(") and wire.endswith(b")")
    for section in (Section((1,)), Section((1, 1), SectionText.MIME), Section((2,), SectionText.HEADER)):
        result = message.section(section)
        assert result is None or result in message.raw


# --- a real client reads the output ---------------------------------------------------------


class _ScriptedIMAP(imaplib.IMAP4):
    """imaplib talking to a script instead of a socket: each command line gets the script's answer."""

    def __init__(self, answer: Callable[[bytes, bytes], bytes]) -> None:
        self._answer = answer
        self._incoming = bytearray(b"* OK [CAPABILITY IMAP4rev1] mail.example.org ready.\r\n")
        super().__init__("mail.example.org")

    def open(self, host: str = "", port: int = 143, timeout: float | None = None) -> None:
        self.host, self.port = host, port

    def read(self, size: int) -> bytes:
        data = bytes(self._incoming[:size])
        del self._incoming[:size]
        return data

    def readline(self) -> bytes:
        end = self._incoming.find(b"\n") + 1
        return self.read(end or len(self._incoming))

    def send(self, data: bytes) -> None:  # type: ignore[override]  # imaplib only ever sends bytes
        tag, _, command = data.rstrip(b"\r\n").partition(b" ")
        self._incoming += self._answer(tag, command)

    def shutdown(self) -> None:
        pass


def test_imaplib_reads_envelope_bodystructure_and_literal_body() -> None:
    message = ParsedMessage.parse(MIXED)
    fetch = format_fetch(
        1,
        [
            ("ENVELOPE", message.envelope()),
            ("BODYSTRUCTURE", message.body_structure()),
            ("BODY[]", Literal(message.raw)),
        ],
    )

    def answer(tag: bytes, command: bytes) -> bytes:
        if command.startswith(b"FETCH"):
            return fetch + tag + b" OK Fetch completed.\r\n"
        return b"* CAPABILITY IMAP4rev1\r\n" + tag + b" OK Capability completed.\r\n"

    client = _ScriptedIMAP(answer)
    client.state = "SELECTED"
    status, data = client.fetch("1", "(ENVELOPE BODYSTRUCTURE BODY[])")
    assert status == "OK"
    first = data[0]
    assert isinstance(first, tuple)
    head, body = first
    assert body == MIXED  # the literal arrived whole
    assert head == (
        b"1 (ENVELOPE "
        + encode(message.envelope())
        + b" BODYSTRUCTURE "
        + encode(message.body_structure())
        + b" BODY[] {%d}" % len(MIXED)
    )
    assert data[1] == b")"


def test_header_fields_keep_folding_and_stray_cr() -> None:
    raw = b"X-A: one\r\n two\r\nX-B: x\ry\r\nX-C: z\r\n\r\nbody"
    message = ParsedMessage.parse(raw)
    assert message.section(Section((), SectionText.HEADER_FIELDS, ("X-A", "X-B"))) == (
        b"X-A: one\r\n two\r\nX-B: x\ry\r\n\r\n"
    )
    assert message.section(Section((), SectionText.HEADER_FIELDS_NOT, ("X-A", "X-B"))) == b"X-C: z\r\n\r\n"
