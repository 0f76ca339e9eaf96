"""Real POP3 clients read what a real SMTP client sent through the simulated world."""

from __future__ import annotations

import json
import poplib
import smtplib
import subprocess

import pytest

from tests.integration.serving import Served, read_line, require_tool

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]


def _message(subject: str) -> bytes:
    return (
        f"From: Alice <alice@example.com>\r\nTo: Bob <bob@example.org>\r\nSubject: {subject}\r\n\r\n"
        f"A line.\r\n.A line that starts with a dot.\r\n"
    ).encode()


def _send_and_wait(served: Served, subject: str) -> int:
    """Submit through the world and wait for its delivery line; returns the UID in bob's INBOX."""
    with smtplib.SMTP("127.0.0.1", served.submission, local_hostname="laptop.example.com", timeout=5) as smtp:
        smtp.login("alice@example.com", "wonderland")
        assert smtp.sendmail("alice@example.com", ["bob@example.org"], _message(subject)) == {}
    assert served.process.stdout is not None
    delivered = json.loads(read_line(served.process.stdout, 10.0))
    assert delivered["delivered"] == "bob@example.org"
    return int(delivered["uid"])


def test_poplib_lists_retrieves_and_deletes_what_smtplib_sent(served: Served) -> None:
    _send_and_wait(served, "first")
    _send_and_wait(served, "second")
    pop = poplib.POP3("127.0.0.1", served.pop3, timeout=5)
    assert pop.getwelcome().startswith(b"+OK mx.example.org ready.")
    pop.user("bob@example.org")
    pop.pass_("builder")
    count, size = pop.stat()
    assert count == 2 and size > 0
    _, listing, _ = pop.uidl()
    assert len(listing) == 2
    _, lines, _ = pop.retr(1)
    text = b"\r\n".join(lines)
    assert b"Subject: first" in text and b"Received: from smtp.example.com" in text
    assert b"\r\n.A line that starts with a dot." in text  # byte-stuffing undone by poplib
    pop.dele(1)
    with pytest.raises(poplib.error_proto, match="deleted"):
        pop.retr(1)
    pop.quit()
    again = poplib.POP3("127.0.0.1", served.pop3, timeout=5)
    again.user("bob@example.org")
    again.pass_("builder")
    assert again.stat()[0] == 1  # QUIT committed the deletion
    _, lines, _ = again.retr(1)
    assert b"Subject: second" in b"\r\n".join(lines)
    again.quit()


def test_a_dropped_session_deletes_nothing_and_a_locked_maildrop_is_refused(served: Served) -> None:
    _send_and_wait(served, "keep me")
    first = poplib.POP3("127.0.0.1", served.pop3, timeout=5)
    first.user("bob@example.org")
    first.pass_("builder")
    second = poplib.POP3("127.0.0.1", served.pop3, timeout=5)
    second.user("bob@example.org")
    with pytest.raises(poplib.error_proto, match=r"IN-USE"):
        second.pass_("builder")
    second.close()
    first.dele(1)
    first.close()  # no QUIT: the connection just goes away
    third = poplib.POP3("127.0.0.1", served.pop3, timeout=5)
    third.user("bob@example.org")
    third.pass_("builder")  # the lock went with the dropped session
    assert third.stat()[0] == 1
    third.quit()


def test_curl_lists_and_fetches_over_pop3(served: Served) -> None:
    curl = require_tool("curl")
    _send_and_wait(served, "for curl")
    url = f"pop3://127.0.0.1:{served.pop3}"
    auth = ["--user", "bob@example.org:builder", "--max-time", "10", "--silent", "--show-error"]
    listing = subprocess.run([curl, *auth, f"{url}/"], capture_output=True, check=True, timeout=15)
    assert listing.stdout.split()[:1] == [b"1"]  # "1 <size>": LIST of one message
    fetched = subprocess.run([curl, *auth, f"{url}/1"], capture_output=True, check=True, timeout=15)
    assert b"Subject: for curl" in fetched.stdout
    dele = [curl, *auth, "--request", "DELE", "--head", f"{url}/1"]
    deleted = subprocess.run(dele, check=False, capture_output=True, timeout=15)
    assert deleted.returncode == 0, deleted.stderr
    after = subprocess.run([curl, *auth, f"{url}/"], capture_output=True, check=True, timeout=15)
    assert after.stdout.strip() == b""
