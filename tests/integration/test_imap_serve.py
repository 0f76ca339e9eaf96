"""Real IMAP clients read, flag and delete what a real SMTP client sent through the simulated world."""

from __future__ import annotations

import imaplib
import json
import smtplib
import socket
import subprocess

import pytest

from tests.integration.serving import Served, read_line, require_tool

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]


def _send_and_wait(served: Served, subject: str) -> None:
    message = f"From: Alice <alice@example.com>\r\nTo: Bob <bob@example.org>\r\nSubject: {subject}\r\n\r\nHello.\r\n"
    with smtplib.SMTP("127.0.0.1", served.submission, local_hostname="laptop.example.com", timeout=5) as smtp:
        smtp.login("alice@example.com", "wonderland")
        assert smtp.sendmail("alice@example.com", ["bob@example.org"], message.encode()) == {}
    assert served.process.stdout is not None
    assert json.loads(read_line(served.process.stdout, 10.0))["delivered"] == "bob@example.org"


def _login(served: Served) -> imaplib.IMAP4:
    imap = imaplib.IMAP4("127.0.0.1", served.imap, timeout=5)
    imap.login("bob@example.org", "builder")
    return imap


def test_imaplib_fetches_flags_and_a_second_session_sees_seen_and_expunge(served: Served) -> None:
    _send_and_wait(served, "for imaplib")
    first, second = _login(served), _login(served)
    assert first.select("INBOX") == ("OK", [b"1"])
    assert second.select("INBOX") == ("OK", [b"1"])
    status, found = first.search(None, "ALL")
    assert (status, found) == ("OK", [b"1"])
    status, data = first.fetch("1", "(BODY.PEEK[] FLAGS)")
    assert status == "OK"
    assert b"Subject: for imaplib" in data[0][1] and b"Received: from smtp.example.com" in data[0][1]
    assert first.store("1", "+FLAGS", "(\\Seen)")[0] == "OK"
    # The second session hears of the first one's flag change, untagged, with its next command.
    second.noop()
    typ, told = second.response("FETCH")
    assert typ == "FETCH" and told[0] is not None and b"\\Seen" in told[0]
    # The first session deletes the message; the second is told EXPUNGE 1.
    first.store("1", "+FLAGS", "(\\Deleted)")
    assert first.expunge() == ("OK", [b"1"])
    second.noop()
    assert second.response("EXPUNGE") == ("EXPUNGE", [b"1"])
    assert second.search(None, "ALL") == ("OK", [b""])
    first.logout()
    second.logout()


def test_curl_lists_searches_and_fetches_over_imap(served: Served) -> None:
    curl = require_tool("curl")
    _send_and_wait(served, "for curl")
    url = f"imap://127.0.0.1:{served.imap}"
    auth = ["--user", "bob@example.org:builder", "--max-time", "10", "--silent", "--show-error"]
    folders = subprocess.run([curl, *auth, f"{url}/"], capture_output=True, check=True, timeout=15)
    assert b"INBOX" in folders.stdout
    search = subprocess.run([curl, *auth, f"{url}/INBOX?ALL"], capture_output=True, check=True, timeout=15)
    assert search.stdout.strip() == b"* SEARCH 1"
    fetched = subprocess.run([curl, *auth, f"{url}/INBOX;UID=1"], capture_output=True, check=True, timeout=15)
    assert b"Subject: for curl" in fetched.stdout
    flag = [curl, *auth, "--request", "STORE 1 +FLAGS (\\Flagged)", f"{url}/INBOX"]
    stored = subprocess.run(flag, capture_output=True, check=True, timeout=15)
    assert b"\\Flagged" in stored.stdout


def test_a_session_in_idle_is_told_of_new_mail_at_once(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.imap), timeout=10) as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"* OK ")
        sock.sendall(b"a LOGIN bob@example.org builder\r\n")
        assert reader.readline().startswith(b"a OK ")
        sock.sendall(b"b SELECT INBOX\r\n")
        selected = [reader.readline() for _ in range(7)]  # FLAGS, PERMANENTFLAGS, EXISTS, RECENT, two OKs, b OK
        assert selected[-1].startswith(b"b OK [READ-WRITE]"), selected
        sock.sendall(b"c IDLE\r\n")
        assert reader.readline() == b"+ idling\r\n"
        _send_and_wait(served, "while idling")
        assert reader.readline() == b"* 1 EXISTS\r\n"  # pushed without a command from this client
        assert reader.readline() == b"* 1 RECENT\r\n"
        sock.sendall(b"DONE\r\n")
        assert reader.readline().startswith(b"c OK ")
