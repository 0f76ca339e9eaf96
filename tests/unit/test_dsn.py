"""Delivery status notifications: structure (RFC 3464, RFC 6522), RET and NOTIFY (RFC 3461), and reading them back."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Sequence
from email.message import EmailMessage, Message, MIMEPart

import pytest

from simulator.mail.dsn import RecipientStatus, build_dsn, parse_dsn, should_bounce, should_notify
from simulator.mail.headers import header_values

ORIGINAL = (
    b"From: Alice <alice@example.com>\r\n"
    b"To: nobody@example.org, bob@example.org\r\n"
    b"Subject: Lunch on Friday?\r\n"
    b"Message-ID: <1@laptop.example.com>\r\n"
    b"\r\n"
    b"Shall we meet at noon?\r\n"
)
UTF8_ORIGINAL = (
    "From: Ålice <alice@example.com>\r\n"
    "Subject: Grüße aus Zürich\r\n"
    "X-Long: " + "wort " * 25 + "\r\n"  # longer than 78: must not be refolded
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "Schöne Grüße, 😀\r\n"
).encode()

UNKNOWN = RecipientStatus(
    recipient="nobody@example.org",
    action="failed",
    status="5.1.1",
    remote_mta="mx.example.org",
    diagnostic="smtp; 550 5.1.1 <nobody@example.org>: Recipient address rejected: "
    "User unknown in local recipient table",
    original_recipient="rfc822;nobody@example.org",
)
DELAYED = RecipientStatus(
    recipient="bob@example.org",
    action="delayed",
    status="4.4.1",
    remote_mta=None,
    diagnostic="smtp; 421 4.4.1 connect to mx.example.org[192.0.2.25]:25: Connection timed out",
    original_recipient=None,
    will_retry_until=5 * 86400 + 5,
)
DELIVERED = RecipientStatus(
    recipient="bob@example.org",
    action="delivered",
    status="2.0.0",
    remote_mta="mx.example.org",
    diagnostic="smtp; 250 2.0.0 Ok: queued as 9B2C",
    original_recipient="rfc822;bob@example.org",
)


def dsn(
    recipients: Sequence[RecipientStatus] = (UNKNOWN,),
    *,
    original: bytes = ORIGINAL,
    ret: str | None = None,
    envid: str | None = "QQ314159",
    counter: int = 1,
    sender: str = "alice@example.com",
) -> bytes:
    return build_dsn(
        reporting_mta="smtp.example.com",
        original=original,
        envelope_sender=sender,
        recipients=recipients,
        arrival_seconds=5,
        now_seconds=3 * 3600 + 5,
        envid=envid,
        ret=ret,
        postmaster="postmaster@example.com",
        queue_id="4F1A2B3C4D",
        counter=counter,
    )


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def parts(data: bytes) -> list[MIMEPart]:
    return list(parse(data).iter_parts())


def status_blocks(data: bytes) -> list[Message]:
    payload = parts(data)[1].get_payload()
    assert isinstance(payload, list)
    return [block for block in payload if isinstance(block, Message)]


def fields(block: Message) -> dict[str, str]:
    return {name: str(value) for name, value in block.items()}


# --- structure -----------------------------------------------------------------------


def test_a_dsn_is_a_multipart_report_with_three_parts() -> None:
    msg = parse(dsn())
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert [p.get_content_type() for p in msg.iter_parts()] == [
        "text/plain",
        "message/delivery-status",
        "message/rfc822",
    ]
    assert not msg.defects
    assert all(not part.defects for part in msg.walk())


def test_headers_of_a_bounce() -> None:
    data = dsn()
    msg = parse(data)
    assert header_values(data, "From") == ["MAILER-DAEMON@smtp.example.com (Mail Delivery System)"]
    assert msg["To"] == "alice@example.com"
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    assert msg["Date"] == "Fri, 06 Nov 2026 12:00:05 +0000"
    assert msg["Message-Id"] == "<20261106120005.4F1A2B3C4D.1@smtp.example.com>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["MIME-Version"] == "1.0"
    assert msg.get_boundary() == "4F1A2B3C4D.1/smtp.example.com"
    # Exactly as written: unquoted report-type, folded before the boundary.
    assert header_values(data, "Content-Type") == [
        'multipart/report; report-type=delivery-status; boundary="4F1A2B3C4D.1/smtp.example.com"'
    ]
    assert header_values(data, "Content-Transfer-Encoding") == []  # all 7-bit


@pytest.mark.parametrize(
    ("recipients", "subject"),
    [
        ([UNKNOWN], "Undelivered Mail Returned to Sender"),
        ([DELAYED], "Delayed Mail (still being retried)"),
        ([DELIVERED], "Successful Mail Delivery Report"),
        ([DELAYED, UNKNOWN], "Undelivered Mail Returned to Sender"),  # the most serious wins
    ],
)
def test_subject_names_the_kind_of_report(recipients: list[RecipientStatus], subject: str) -> None:
    assert parse(dsn(recipients))["Subject"] == subject


def test_the_human_part_explains_each_recipient() -> None:
    text = parts(dsn([UNKNOWN]))[0]
    assert text.get_content_type() == "text/plain"
    assert text.get_content_charset() == "us-ascii"
    assert text["Content-Description"] == "Notification"
    body = text.get_content()
    assert "This is the mail system at host smtp.example.com." in body
    assert "could not be delivered" in body
    assert "<postmaster@example.com>" in body
    assert (
        "<nobody@example.org>: host mx.example.org said: 550 5.1.1 <nobody@example.org>: "
        "Recipient address rejected: User unknown in local recipient table"
    ) in body


def test_the_human_part_of_a_delay_warning_says_no_action_is_needed() -> None:
    body = parts(dsn([DELAYED]))[0].get_content()
    assert "warning" in body
    assert "no need to send your message again" in body
    assert "3 hours" in body  # arrived at 09:00:05, reported at 12:00:05
    assert "retrying until Wed, 11 Nov 2026 09:00:05 +0000" in body


# --- the delivery-status part ---------------------------------------------------------------


def test_per_message_fields() -> None:
    per_message = fields(status_blocks(dsn())[0])
    assert per_message == {
        "Original-Envelope-Id": "QQ314159",
        "Reporting-MTA": "dns; smtp.example.com",
        "Arrival-Date": "Fri, 06 Nov 2026 09:00:05 +0000",
        "X-Postfix-Queue-ID": "4F1A2B3C4D",
        "X-Postfix-Sender": "rfc822; alice@example.com",
    }


def test_no_original_envelope_id_without_envid() -> None:
    assert "Original-Envelope-Id" not in fields(status_blocks(dsn(envid=None))[0])


def test_one_block_per_recipient_with_its_fields() -> None:
    blocks = status_blocks(dsn([UNKNOWN, DELAYED]))
    assert len(blocks) == 3
    assert fields(blocks[1]) == {
        "Original-Recipient": "rfc822;nobody@example.org",
        "Final-Recipient": "rfc822; nobody@example.org",
        "Action": "failed",
        "Status": "5.1.1",
        "Remote-MTA": "dns; mx.example.org",
        "Diagnostic-Code": "smtp; 550 5.1.1 <nobody@example.org>: Recipient address rejected: "
        "User unknown in local recipient table",
    }
    assert fields(blocks[2]) == {
        "Final-Recipient": "rfc822; bob@example.org",
        "Action": "delayed",
        "Status": "4.4.1",
        "Diagnostic-Code": "smtp; 421 4.4.1 connect to mx.example.org[192.0.2.25]:25: Connection timed out",
        "Will-Retry-Until": "Wed, 11 Nov 2026 09:00:05 +0000",
    }


def test_long_fields_are_folded_at_whitespace_within_78_columns() -> None:
    data = dsn([UNKNOWN])
    section = data.split(b"Content-Type: message/delivery-status\r\n\r\n", 1)[1].split(b"\r\n--", 1)[0]
    assert b"Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.org>: Recipient address\r\n rejected:" in section
    assert all(len(line) <= 78 for line in section.split(b"\r\n"))
    header = data.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in header.split(b"\r\n"))


def test_an_untyped_diagnostic_is_taken_as_an_smtp_reply() -> None:
    plain = RecipientStatus("x@example.org", "failed", "5.0.0", None, "550 5.0.0 no", None)
    assert fields(status_blocks(dsn([plain]))[1])["Diagnostic-Code"] == "smtp; 550 5.0.0 no"
    typed = RecipientStatus("x@example.org", "failed", "5.0.0", None, "X-Unix; no such file", None)
    assert fields(status_blocks(dsn([typed]))[1])["Diagnostic-Code"] == "X-Unix; no such file"


# --- RET: the returned original ----------------------------------------------------------------


@pytest.mark.parametrize("ret", [None, "FULL", "full"])
def test_full_or_absent_ret_returns_the_whole_message_byte_for_byte(ret: str | None) -> None:
    data = dsn(ret=ret)
    returned = parts(data)[2]
    assert returned.get_content_type() == "message/rfc822"
    assert returned["Content-Description"] == "Undelivered Message"
    assert returned["Content-Transfer-Encoding"] == "7bit"
    inner = returned.get_content()
    assert isinstance(inner, EmailMessage)
    assert inner["Subject"] == "Lunch on Friday?"
    assert inner.get_content().splitlines() == ["Shall we meet at noon?"]
    assert b"\r\n\r\n" + ORIGINAL + b"\r\n--4F1A2B3C4D.1/smtp.example.com--\r\n" in data


@pytest.mark.parametrize("ret", ["HDRS", "hdrs"])
def test_ret_hdrs_returns_the_header_section_only(ret: str) -> None:
    data = dsn(ret=ret)
    returned = parts(data)[2]
    assert returned.get_content_type() == "text/rfc822-headers"
    assert returned["Content-Description"] == "Undelivered Message Headers"
    header_section = ORIGINAL.split(b"\r\n\r\n")[0] + b"\r\n"
    assert returned.get_payload(decode=True) == header_section
    assert b"Shall we meet" not in data
    assert "message's header" in parts(data)[0].get_content()


def test_a_success_report_names_the_delivered_message() -> None:
    assert parts(dsn([DELIVERED]))[2]["Content-Description"] == "Delivered Message"
    assert parts(dsn([DELIVERED], ret="HDRS"))[2]["Content-Description"] == "Delivered Message Headers"


def test_an_8bit_utf8_original_survives_untouched() -> None:
    data = dsn(original=UTF8_ORIGINAL)
    assert UTF8_ORIGINAL in data  # not refolded, not re-encoded
    msg = parse(data)
    assert msg["Content-Transfer-Encoding"] == "8bit"  # the report must travel with BODY=8BITMIME
    returned = list(msg.iter_parts())[2]
    assert returned["Content-Transfer-Encoding"] == "8bit"
    inner = returned.get_content()
    assert isinstance(inner, EmailMessage)
    assert inner["Subject"] == "Grüße aus Zürich"
    assert inner.get_content().splitlines() == ["Schöne Grüße, 😀"]


def test_an_8bit_header_section_survives_ret_hdrs() -> None:
    data = dsn(original=UTF8_ORIGINAL, ret="HDRS")
    assert UTF8_ORIGINAL.split(b"\r\n\r\n")[0] + b"\r\n" in data
    assert "Schöne".encode() not in data


def test_internationalised_addresses_are_written_in_utf8() -> None:
    jose = RecipientStatus("josé@example.org", "failed", "5.1.1", None, "smtp; 550 5.1.1 <josé@example.org>: no", None)
    data = dsn([jose], sender="älice@example.com")
    assert "To: älice@example.com\r\n".encode() in data
    assert "Final-Recipient: rfc822; josé@example.org\r\n".encode() in data
    assert parse_dsn(data) == [jose]


def test_a_boundary_found_in_the_original_is_not_used() -> None:
    trap = ORIGINAL + b"--4F1A2B3C4D.1/smtp.example.com\r\n"
    msg = parse(dsn(original=trap))
    assert msg.get_boundary() == "4F1A2B3C4D.1/smtp.example.com.1"
    assert len(list(msg.iter_parts())) == 3


# --- wire form -------------------------------------------------------------------------------


@pytest.mark.parametrize("original", [ORIGINAL, UTF8_ORIGINAL, b"Subject: bare\n\nline feeds\nonly\r"])
@pytest.mark.parametrize("ret", [None, "HDRS"])
def test_every_line_ends_in_crlf(original: bytes, ret: str | None) -> None:
    data = dsn([UNKNOWN, DELAYED], original=original, ret=ret)
    assert re.search(rb"(?<!\r)\n", data) is None
    assert re.search(rb"\r(?!\n)", data) is None
    assert data.endswith(b"\r\n")
    assert max(len(line) for line in data.split(b"\r\n")) <= 998  # RFC 5322 §2.1.1


def test_same_inputs_give_the_same_bytes() -> None:
    assert dsn([UNKNOWN, DELAYED]) == dsn([UNKNOWN, DELAYED])
    assert dsn(original=UTF8_ORIGINAL) == dsn(original=UTF8_ORIGINAL)


def test_the_counter_changes_message_id_and_boundary() -> None:
    first, second = parse(dsn(counter=1)), parse(dsn(counter=2))
    assert first["Message-Id"] != second["Message-Id"]
    assert first.get_boundary() != second.get_boundary()


# --- reading a DSN back --------------------------------------------------------------------------


def test_parse_dsn_round_trip() -> None:
    recipients = [UNKNOWN, DELAYED, DELIVERED]
    assert parse_dsn(dsn(recipients)) == recipients


def test_parse_dsn_reads_a_hand_written_report() -> None:
    report = (
        b"From: MAILER-DAEMON@mx.example.net\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n'
        b"\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nsorry\r\n"
        b"--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        b"Reporting-MTA: dns; mx.example.net\r\n\r\n"
        b"Final-Recipient: RFC822; carol@example.net\r\n"
        b"Action: Failed\r\n"
        b"Status: 5.2.2 (mailbox full)\r\n"
        b"Diagnostic-Code: smtp; 552 5.2.2 Mailbox full\r\n"
        b"--b--\r\n"
    )
    assert parse_dsn(report) == [
        RecipientStatus(
            recipient="carol@example.net",
            action="failed",
            status="5.2.2",
            remote_mta=None,
            diagnostic="smtp; 552 5.2.2 Mailbox full",
            original_recipient=None,
        )
    ]


def test_parse_dsn_refuses_an_ordinary_message() -> None:
    with pytest.raises(ValueError, match="not a DSN"):
        parse_dsn(ORIGINAL)


# --- when (not) to send one --------------------------------------------------------------------------


@pytest.mark.parametrize(("sender", "expected"), [("alice@example.com", True), ("", False), ("<>", False)])
def test_never_a_dsn_to_the_null_sender(sender: str, expected: bool) -> None:
    assert should_bounce(sender) is expected


@pytest.mark.parametrize("sender", ["", "<>"])
def test_build_dsn_refuses_the_null_sender(sender: str) -> None:
    with pytest.raises(ValueError, match="null sender"):
        dsn(sender=sender)


@pytest.mark.parametrize(
    ("notify", "action", "expected"),
    [
        (None, "failed", True),
        (None, "delayed", True),
        (None, "delivered", False),
        (("NEVER",), "failed", False),
        (("NEVER",), "delayed", False),
        (("SUCCESS",), "delivered", True),
        (("SUCCESS",), "relayed", True),
        (("SUCCESS",), "failed", False),
        (("failure", "delay"), "failed", True),
        (("FAILURE",), "delayed", False),
        (("DELAY",), "delayed", True),
    ],
)
def test_should_notify_follows_rcpt_notify(notify: tuple[str, ...] | None, action: str, expected: bool) -> None:
    assert should_notify(notify, action) is expected


@pytest.mark.parametrize(
    ("recipients", "message"),
    [
        ([], "at least one recipient"),
        ([RecipientStatus("x@example.org", "bounced", "5.0.0")], "unknown DSN action"),
        ([RecipientStatus("x@example.org", "failed", "550")], "malformed status"),
        ([RecipientStatus("x@example.org", "failed", "3.0.0")], "malformed status"),
    ],
)
def test_build_dsn_refuses_malformed_statuses(recipients: list[RecipientStatus], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dsn(recipients)
