"""`smtpsim serve` puts the whole simulated world behind its ports, in real time."""

from __future__ import annotations

import json
import smtplib
from pathlib import Path

import pytest

from simulator.mail.headers import header_values
from tests.integration.serving import Served, read_line

pytestmark = [pytest.mark.integration, pytest.mark.timeout(20)]

MESSAGE = (
    b"From: Alice <alice@example.com>\r\n"
    b"To: Bob <bob@example.org>\r\n"
    b"Subject: through the whole world\r\n"
    b"Message-ID: <world@real-client.localhost>\r\n"
    b"\r\n"
    b"Relayed by smtp.example.com to the MX of example.org.\r\n"
)


def test_a_real_submission_is_relayed_through_dns_and_mx_into_bobs_mailbox(served: Served) -> None:
    with smtplib.SMTP("127.0.0.1", served.submission, local_hostname="laptop.example.com", timeout=5) as smtp:
        smtp.login("alice@example.com", "wonderland")
        refused = smtp.sendmail("alice@example.com", ["bob@example.org"], MESSAGE)
    assert refused == {}
    assert served.process.stdout is not None
    delivered = json.loads(read_line(served.process.stdout, 10.0))
    assert (delivered["delivered"], delivered["server"], delivered["uid"]) == ("bob@example.org", "mx.example.org", 1)
    stored = Path(delivered["file"]).read_bytes()
    assert stored.startswith(b"Return-Path: <alice@example.com>\r\n")
    received = header_values(stored, "Received")
    assert len(received) == 2  # one per hop: the MSA, then the MX
    assert "by mx.example.org" in received[0] and "from smtp.example.com" in received[0]
    assert "by smtp.example.com" in received[1] and "with ESMTPA" in received[1]
    assert "from laptop.example.com (real-client.localhost [127.0.0.1])" in received[1]
    assert stored.endswith(MESSAGE.split(b"\r\n\r\n", 1)[1])  # the body arrives untouched


def test_the_mx_port_takes_mail_for_its_domain_as_an_mx_does(served: Served) -> None:
    with smtplib.SMTP("127.0.0.1", served.smtp, local_hostname="relay.example.net", timeout=5) as smtp:
        assert smtp.sendmail("carol@example.net", ["bob@example.org"], MESSAGE) == {}
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            smtp.sendmail("carol@example.net", ["someone@elsewhere.example"], MESSAGE)
    assert refused.value.recipients["someone@elsewhere.example"][0] == 554
    assert served.process.stdout is not None
    delivered = json.loads(read_line(served.process.stdout, 10.0))
    assert delivered["delivered"] == "bob@example.org"
    received = header_values(Path(delivered["file"]).read_bytes(), "Received")
    assert len(received) == 1 and "from relay.example.net (real-client.localhost [127.0.0.1])" in received[0]
