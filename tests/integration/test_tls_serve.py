"""Real TLS clients against `smtpsim serve`, verifying certificates with the CA that `--ca-cert` wrote.

Every client here checks the chain and the host name, as a careful mail program does: the
certificates the world presents name `localhost` and `127.0.0.1` besides the world's host names.
"""

from __future__ import annotations

import email
import imaplib
import json
import poplib
import smtplib
import socket
import ssl
import subprocess

import pytest

from tests.integration.serving import Served, read_line, require_tool

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]

ALICE, ALICE_PASSWORD = "alice@example.com", "wonderland"
BOB, BOB_PASSWORD = "bob@example.org", "builder"


def verifying(served: Served) -> ssl.SSLContext:
    """A client context that trusts only the world's CA and checks host names (the default)."""
    context = ssl.create_default_context(cafile=str(served.ca_cert))
    assert context.check_hostname and context.verify_mode is ssl.CERT_REQUIRED
    return context


def message(subject: str) -> bytes:
    return f"From: Alice <{ALICE}>\r\nTo: Bob <{BOB}>\r\nSubject: {subject}\r\n\r\nOver TLS.\r\n".encode()


def wait_for_delivery(served: Served) -> None:
    assert served.process.stdout is not None
    assert json.loads(read_line(served.process.stdout, 10.0))["delivered"] == BOB


def send_over_starttls(served: Served, subject: str) -> None:
    with smtplib.SMTP("localhost", served.submission, local_hostname="laptop.example.com", timeout=5) as smtp:
        smtp.starttls(context=verifying(served))
        smtp.login(ALICE, ALICE_PASSWORD)
        assert smtp.sendmail(ALICE, [BOB], message(subject)) == {}
    wait_for_delivery(served)


# --- SMTP ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["localhost", "127.0.0.1"])
def test_smtplib_starttls_then_login_submits(served: Served, address: str) -> None:
    with smtplib.SMTP(address, served.submission, local_hostname="laptop.example.com", timeout=5) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        code, _ = smtp.starttls(context=verifying(served))
        assert code == 220
        assert isinstance(smtp.sock, ssl.SSLSocket)
        peer = smtp.sock.getpeercert()
        assert peer is not None
        assert ("DNS", "localhost") in peer["subjectAltName"] and ("IP Address", "127.0.0.1") in peer["subjectAltName"]
        smtp.ehlo()  # RFC 3207 §4.2: the capabilities are asked for again over TLS
        assert smtp.has_extn("auth") and not smtp.has_extn("starttls")
        smtp.login(ALICE, ALICE_PASSWORD)
        assert smtp.sendmail(ALICE, [BOB], message("starttls")) == {}
    wait_for_delivery(served)
    spooled = served.submitted()
    assert spooled.envelope["sender"] == ALICE
    assert b"Subject: starttls" in spooled.content


def test_smtplib_submits_on_the_implicit_tls_port(served: Served) -> None:
    with smtplib.SMTP_SSL(
        "localhost", served.submissions, local_hostname="laptop.example.com", timeout=5, context=verifying(served)
    ) as smtp:
        assert isinstance(smtp.sock, ssl.SSLSocket) and smtp.sock.version() in ("TLSv1.2", "TLSv1.3")
        smtp.ehlo()
        assert smtp.has_extn("auth") and not smtp.has_extn("starttls")  # TLS is already on (RFC 8314 §3.3)
        smtp.login(ALICE, ALICE_PASSWORD)
        assert smtp.sendmail(ALICE, [BOB], message("implicit")) == {}
    wait_for_delivery(served)
    assert b"Subject: implicit" in served.submitted().content


def test_a_client_that_does_not_trust_the_world_ca_refuses_its_certificate(served: Served) -> None:
    with (
        smtplib.SMTP("localhost", served.submission, timeout=5) as smtp,
        pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer certificate"),
    ):
        smtp.starttls(context=ssl.create_default_context())
    assert served.messages() == []


def half_a_client_hello() -> bytes:
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    hello = outgoing.read()
    return hello[: len(hello) // 2]


def test_garbage_and_dropped_handshakes_on_the_tls_ports_leave_serve_working(served: Served) -> None:
    for port in (served.submissions, served.imaps, served.pop3s):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"EHLO laptop.example.com\r\n")  # clear text on a TLS port
            assert sock.recv(4096) == b""  # the server closes without a word: this is not TLS
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(half_a_client_hello())  # and then the client goes away mid-handshake
    with smtplib.SMTP_SSL("localhost", served.submissions, timeout=5, context=verifying(served)) as smtp:
        assert smtp.noop()[0] == 250  # still serving
    assert "Traceback" not in served.stderr


# --- IMAP and POP3 -------------------------------------------------------------------------------


def test_imaplib_starttls_then_reads_the_message(served: Served) -> None:
    send_over_starttls(served, "read over imap starttls")
    imap = imaplib.IMAP4("localhost", served.imap, timeout=5)
    try:
        assert "STARTTLS" in imap.capabilities and "LOGINDISABLED" not in imap.capabilities
        assert imap.starttls(ssl_context=verifying(served))[0] == "OK"
        imap.login(BOB, BOB_PASSWORD)
        assert imap.select("INBOX") == ("OK", [b"1"])
        typ, data = imap.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK"
        part = data[0]
        assert isinstance(part, tuple)
        assert part[1].strip() == b"Subject: read over imap starttls"
    finally:
        imap.logout()


def test_imaplib_reads_on_the_implicit_tls_port(served: Served) -> None:
    send_over_starttls(served, "read over imaps")
    with imaplib.IMAP4_SSL("localhost", served.imaps, ssl_context=verifying(served), timeout=5) as imap:
        assert "STARTTLS" not in imap.capabilities
        imap.login(BOB, BOB_PASSWORD)
        assert imap.select("INBOX", readonly=True) == ("OK", [b"1"])


def test_poplib_stls_then_retrieves_and_deletes(served: Served) -> None:
    send_over_starttls(served, "read over pop3 stls")
    pop = poplib.POP3("localhost", served.pop3, timeout=5)
    try:
        assert "STLS" in pop.capa()
        assert pop.stls(context=verifying(served)).startswith(b"+OK")
        assert "STLS" not in pop.capa()  # RFC 2595 §4: no second STLS over TLS
        pop.user(BOB)
        pop.pass_(BOB_PASSWORD)
        assert pop.stat()[0] == 1
        _, lines, _ = pop.retr(1)
        assert email.message_from_bytes(b"\r\n".join(lines))["Subject"] == "read over pop3 stls"
        pop.dele(1)
    finally:
        pop.quit()
    pop3s = poplib.POP3_SSL("localhost", served.pop3s, context=verifying(served), timeout=5)
    try:
        pop3s.user(BOB)
        pop3s.pass_(BOB_PASSWORD)
        assert pop3s.stat() == (0, 0)  # QUIT committed the deletion; the implicit-TLS port sees it
    finally:
        pop3s.quit()


# --- command-line clients --------------------------------------------------------------------------


def test_swaks_tls_auth_verifies_and_submits(served: Served) -> None:
    swaks = require_tool("swaks")
    result = subprocess.run(
        [
            swaks, "--server", "localhost", "--port", str(served.submission),
            "--tls", "--tls-verify", "--tls-ca-path", str(served.ca_cert),
            "--auth", "PLAIN", "--auth-user", ALICE, "--auth-password", ALICE_PASSWORD,
            "--from", ALICE, "--to", BOB, "--ehlo", "laptop.example.com",
            "--header", "Subject: from swaks over tls",
        ],
        capture_output=True, text=True, timeout=20, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "=== TLS started with cipher" in result.stdout
    assert " ~> AUTH PLAIN" in result.stdout  # swaks marks lines sent inside TLS with ~>
    assert "<~  235 2.7.0" in result.stdout
    wait_for_delivery(served)
    assert b"Subject: from swaks over tls" in served.submitted().content


def s_client(served: Served, host_name: str) -> subprocess.CompletedProcess[str]:
    """`openssl s_client -starttls smtp` to the submission port, checking the chain and `host_name`."""
    openssl = require_tool("openssl")
    return subprocess.run(
        [
            openssl, "s_client", "-quiet", "-starttls", "smtp", "-connect", f"127.0.0.1:{served.submission}",
            "-CAfile", str(served.ca_cert), "-verify_return_error", "-verify_hostname", host_name, "-crlf",
        ],
        input="EHLO laptop.example.com\nQUIT\n", capture_output=True, text=True, timeout=20, check=False,
    )  # fmt: skip


def test_openssl_s_client_starttls_smtp_verifies_the_chain_and_host_name(served: Served) -> None:
    result = s_client(served, "localhost")
    assert result.returncode == 0, result.stdout + result.stderr
    # -quiet prints each certificate it checked on stderr: the world CA, then the server's.
    assert "depth=1 O = smtpsim world, CN = smtpsim world CA\nverify return:1" in result.stderr
    assert "depth=0 O = smtpsim world, CN = smtp.example.com\nverify return:1" in result.stderr
    # What the server said inside TLS: the EHLO capabilities (AUTH now, no STARTTLS again), then QUIT's 221.
    assert "250-AUTH PLAIN LOGIN" in result.stdout and "STARTTLS" not in result.stdout
    assert result.stdout.rstrip().endswith("221 2.0.0 Bye")


def test_openssl_s_client_refuses_a_name_the_certificate_does_not_carry(served: Served) -> None:
    result = s_client(served, "mail.example.net")
    assert result.returncode != 0
    assert "hostname mismatch" in result.stderr
    assert "221 2.0.0" not in result.stdout
