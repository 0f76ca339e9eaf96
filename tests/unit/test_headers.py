"""Trace and submission header fields: the exact bytes a Postfix-like MTA writes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.mail.headers import (
    EPOCH,
    add_missing,
    fold,
    header_values,
    prepend,
    received,
    return_path,
    rfc5322_date,
    split_header_section,
)

MESSAGE = b"From: alice@example.com\r\nTo: bob@example.org\r\nSubject: hi\r\n\r\nHello\r\n"


def physical_lines(field: bytes) -> list[bytes]:
    assert field.endswith(b"\r\n")
    return field[:-2].split(b"\r\n")


# --- dates -------------------------------------------------------------------------


def test_epoch_is_utc_morning_of_6_november_2026() -> None:
    assert EPOCH.isoformat() == "2026-11-06T09:00:00+00:00"


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "Fri, 06 Nov 2026 09:00:00 +0000"),
        (5, "Fri, 06 Nov 2026 09:00:05 +0000"),
        (5.9, "Fri, 06 Nov 2026 09:00:05 +0000"),  # RFC 5322 dates have whole seconds
        (15 * 3600, "Sat, 07 Nov 2026 00:00:00 +0000"),
        (5 * 86400, "Wed, 11 Nov 2026 09:00:00 +0000"),
        (60 * 86400, "Tue, 05 Jan 2027 09:00:00 +0000"),
    ],
)
def test_rfc5322_date(seconds: float, expected: str) -> None:
    assert rfc5322_date(seconds) == expected


# --- Received ------------------------------------------------------------------------


def test_received_submission_with_tls_and_one_recipient() -> None:
    field = received(
        from_helo="laptop.example.com",
        from_host="laptop.example.com",
        from_ip="192.0.2.10",
        by_host="smtp.example.com",
        protocol="ESMTPSA",
        queue_id="4F1A2B3C4D",
        recipient="bob@example.org",
        sim_seconds=5,
        tls="(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))",
    )
    assert field == (
        b"Received: from laptop.example.com (laptop.example.com [192.0.2.10])\r\n"
        b"\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
        b"\tby smtp.example.com (smtpsim) with ESMTPSA id 4F1A2B3C4D\r\n"
        b"\tfor <bob@example.org>; Fri, 06 Nov 2026 09:00:05 +0000\r\n"
    )


def test_received_without_tls_has_no_tls_line() -> None:
    field = received(
        from_helo="smtp.example.com",
        from_host="smtp.example.com",
        from_ip="192.0.2.25",
        by_host="mx.example.org",
        protocol="ESMTP",
        queue_id="7C3D",
        recipient="bob@example.org",
        sim_seconds=65,
    )
    assert field == (
        b"Received: from smtp.example.com (smtp.example.com [192.0.2.25])\r\n"
        b"\tby mx.example.org (smtpsim) with ESMTP id 7C3D\r\n"
        b"\tfor <bob@example.org>; Fri, 06 Nov 2026 09:01:05 +0000\r\n"
    )


def test_received_with_several_recipients_names_none_and_dates_the_by_clause() -> None:
    # Postfix names no recipient unless there is exactly one, so Bcc recipients stay hidden.
    field = received(
        from_helo="client.example",
        from_host="unknown",
        from_ip="198.51.100.7",
        by_host="mx.example.org",
        protocol="SMTP",
        queue_id="AB12",
        recipient=None,
        sim_seconds=0,
    )
    assert field == (
        b"Received: from client.example (unknown [198.51.100.7])\r\n"
        b"\tby mx.example.org (smtpsim) with SMTP id AB12;\r\n"
        b"\tFri, 06 Nov 2026 09:00:00 +0000\r\n"
    )


def test_received_tags_ipv6_and_uses_the_dns_name_without_helo() -> None:
    field = received(
        from_helo="",
        from_host="laptop.example.com",
        from_ip="2001:db8::10",
        by_host="smtp.example.com",
        protocol="ESMTP",
        queue_id="Q",
        recipient="bob@example.org",
        sim_seconds=0,
    )
    assert physical_lines(field)[0] == b"Received: from laptop.example.com (laptop.example.com [IPv6:2001:db8::10])"


def test_received_folds_a_long_clause_at_whitespace_within_78_columns() -> None:
    helo = "long-client-name-given-in-ehlo.branch-office.example.com"  # 56 characters
    field = received(
        from_helo=helo,
        from_host="unknown",
        from_ip="192.0.2.99",
        by_host="smtp.example.com",
        protocol="ESMTP",
        queue_id="Q",
        recipient="bob@example.org",
        sim_seconds=0,
    )
    lines = physical_lines(field)
    assert lines[:2] == [f"Received: from {helo}".encode(), b" (unknown [192.0.2.99])"]
    assert all(len(line) <= 78 for line in lines)
    assert all(line[:1] in (b" ", b"\t") for line in lines[1:])
    # Unfolding (removing CRLF) gives back the clause exactly: folding only inserts line breaks.
    assert header_values(field, "Received") == [
        f"from {helo} (unknown [192.0.2.99])\tby smtp.example.com (smtpsim) with ESMTP id Q"
        "\tfor <bob@example.org>; Fri, 06 Nov 2026 09:00:00 +0000"
    ]


# --- Return-Path ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "expected"),
    [
        ("alice@example.com", b"Return-Path: <alice@example.com>\r\n"),
        ("<alice@example.com>", b"Return-Path: <alice@example.com>\r\n"),
        ("", b"Return-Path: <>\r\n"),
        ("<>", b"Return-Path: <>\r\n"),
    ],
)
def test_return_path(sender: str, expected: bytes) -> None:
    assert return_path(sender) == expected


# --- prepend ----------------------------------------------------------------------


def test_prepend_puts_the_newest_trace_on_top() -> None:
    first = b"Received: from a (a [192.0.2.1])\r\n\tby b (smtpsim) with ESMTP id 1; date\r\n"
    second = b"Received: from b (b [192.0.2.2])\r\n\tby c (smtpsim) with ESMTP id 2; date\r\n"
    delivered = prepend(return_path("alice@example.com") + second, prepend(first, MESSAGE))
    assert delivered == b"Return-Path: <alice@example.com>\r\n" + second + first + MESSAGE
    assert [v.split()[1] for v in header_values(delivered, "received")] == ["b", "a"]


def test_prepend_refuses_an_unterminated_field() -> None:
    with pytest.raises(ValueError, match="CRLF"):
        prepend(b"Received: from a", MESSAGE)


# --- add_missing -----------------------------------------------------------------------


def submit(message: bytes, counter: int = 7, sender: str = "alice@example.com") -> bytes:
    return add_missing(message, sender=sender, sim_seconds=5, host="smtp.example.com", counter=counter)


def test_add_missing_appends_date_message_id_and_from_to_the_header_section() -> None:
    assert submit(b"Subject: hi\r\n\r\nHello\r\n") == (
        b"Subject: hi\r\n"
        b"Date: Fri, 06 Nov 2026 09:00:05 +0000\r\n"
        b"Message-ID: <20261106090005.7@smtp.example.com>\r\n"
        b"From: alice@example.com\r\n"
        b"\r\n"
        b"Hello\r\n"
    )


def test_add_missing_leaves_a_complete_message_byte_for_byte() -> None:
    message = (
        b"From: Alice <alice@example.com>\r\nDate: Thu, 05 Nov 2026 10:00:00 +0100\r\n"
        b"Message-ID: <own@laptop.example.com>\r\n\r\nHello\r\n"
    )
    assert submit(message) == message


def test_add_missing_keeps_existing_fields_in_any_case_and_adds_only_the_rest() -> None:
    message = b"DATE: Thu, 05 Nov 2026 10:00:00 +0100\r\nfrom: alice@example.com\r\n\r\nbody\r\n"
    result = submit(message)
    assert header_values(result, "Date") == ["Thu, 05 Nov 2026 10:00:00 +0100"]
    assert header_values(result, "From") == ["alice@example.com"]
    assert header_values(result, "Message-ID") == ["<20261106090005.7@smtp.example.com>"]
    assert result.endswith(b"\r\n\r\nbody\r\n")


def test_add_missing_is_deterministic_and_the_counter_makes_ids_unique() -> None:
    message = b"Subject: hi\r\n\r\nHello\r\n"
    assert submit(message) == submit(message)
    ids = {header_values(submit(message, counter=n), "Message-ID")[0] for n in range(5)}
    assert len(ids) == 5


def test_add_missing_adds_no_from_for_the_null_sender() -> None:
    result = submit(b"Subject: hi\r\n\r\nHello\r\n", sender="")
    assert header_values(result, "From") == []
    assert len(header_values(result, "Date")) == 1


def test_add_missing_supplies_the_separator_a_message_lacks() -> None:
    # A message that starts with body text has an empty header section: the fields and a blank
    # line go in front of it, so the text stays body and does not become a malformed field.
    result = submit(b"Hello Bob,\r\nsee you.\r\n")
    assert result.endswith(b"From: alice@example.com\r\n\r\nHello Bob,\r\nsee you.\r\n")
    assert result.startswith(b"Date: ")
    # Header fields only, not even a line ending.
    assert submit(b"Subject: hi").endswith(
        b"Subject: hi\r\nDate: Fri, 06 Nov 2026 09:00:05 +0000\r\n"
        b"Message-ID: <20261106090005.7@smtp.example.com>\r\n"
        b"From: alice@example.com\r\n\r\n"
    )


def test_add_missing_ignores_look_alike_fields_in_the_body() -> None:
    result = submit(b"Subject: hi\r\n\r\nDate: yesterday\r\nMessage-ID: <x@y>\r\n")
    assert header_values(result, "Date") == ["Fri, 06 Nov 2026 09:00:05 +0000"]
    assert header_values(result, "Message-ID") == ["<20261106090005.7@smtp.example.com>"]


# --- reading header fields ---------------------------------------------------------------


def test_header_values_unfolds_and_finds_every_occurrence_case_insensitively() -> None:
    message = (
        b"Received: from a\r\n\tby b; date1\r\n"
        b"Subject: a long\r\n subject line\r\n"
        b"received: from c\r\n by d; date2\r\n"
        b"\r\n"
        b"Received: in the body, not a field\r\n"
    )
    assert header_values(message, "RECEIVED") == ["from a\tby b; date1", "from c by d; date2"]
    assert header_values(message, "Subject") == ["a long subject line"]
    assert header_values(message, "To") == []


def test_header_values_decodes_utf8_fields() -> None:
    assert header_values("Subject: Grüße\r\n\r\n".encode(), "subject") == ["Grüße"]


@pytest.mark.parametrize(
    ("message", "section", "rest"),
    [
        (MESSAGE, MESSAGE[: MESSAGE.index(b"\r\n\r\n") + 2], b"\r\nHello\r\n"),
        (b"A: 1\r\n B\r\n\r\n", b"A: 1\r\n B\r\n", b"\r\n"),
        (b"A: 1\r\nnot a field\r\n", b"A: 1\r\n", b"not a field\r\n"),
        (b"body only\r\n", b"", b"body only\r\n"),
        (b"\r\nbody after an empty header\r\n", b"", b"\r\nbody after an empty header\r\n"),
        (b"A: 1", b"A: 1", b""),
        (b"", b"", b""),
    ],
)
def test_split_header_section(message: bytes, section: bytes, rest: bytes) -> None:
    assert split_header_section(message) == (section, rest)


# --- folding --------------------------------------------------------------------------


def test_fold_breaks_before_whitespace_and_keeps_it() -> None:
    line = "Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown"
    assert fold(line) == [
        "Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.org>: Recipient address",
        " rejected: User unknown",
    ]


def test_fold_leaves_an_unbreakable_word_whole() -> None:
    word = "x" * 100
    assert fold(f"X-Token: {word} end") == ["X-Token:", f" {word}", " end"]
    assert fold(word) == [word]


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab \t:;<>@."), max_size=300))
def test_fold_is_lossless_and_within_width_where_possible(line: str) -> None:
    lines = fold(line)
    assert "".join(lines) == line
    for piece in lines:
        # Too long only if there was no whitespace to break at (the first character of a
        # continuation is its whitespace and does not count as a break).
        assert len(piece) <= 78 or not any(c in " \t" for c in piece[1:79])


def _split_line_by_line(message: bytes) -> tuple[bytes, bytes]:
    """RFC 5322 §2.2 read literally, one line at a time: the reference for split_header_section."""
    pos, in_field = 0, False
    while pos < len(message):
        end = message.find(b"\n", pos)
        end = len(message) if end < 0 else end + 1
        line = message[pos:end]
        name, colon, _ = line.partition(b":")
        is_field = bool(colon) and bool(name) and all(0x21 <= c <= 0x7E for c in name)
        if not (is_field or (in_field and line[:1] in (b" ", b"\t"))):
            break
        in_field, pos = True, end
    return message[:pos], message[pos:]


_PIECES = st.sampled_from(
    [b"Subject", b"X-a", b":", b" ", b"\t", b"\r\n", b"\n", b"\r", b"text", b"\xff", b"na me", b"From: a\r\n"]
)


@settings(max_examples=500, derandomize=True)
@given(st.lists(_PIECES, max_size=30).map(b"".join))
def test_split_header_section_agrees_with_reading_line_by_line(message: bytes) -> None:
    assert split_header_section(message) == _split_line_by_line(message)
