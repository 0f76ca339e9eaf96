"""Real SMTP clients against `smtpsim serve`: smtplib, aiosmtplib, swaks and curl.

Each delivery checks the spooled .eml is byte for byte the message the client
meant to send (dot-stuffing undone) and the envelope JSON shows that the ESMTP
extensions the client offers (SIZE, 8BITMIME, SMTPUTF8, AUTH) were really used.
"""

from __future__ import annotations

import asyncio
import signal
import smtplib
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from io import BufferedReader
from pathlib import Path

import aiosmtplib
import pytest

from tests.integration.serving import Served, require_tool, start_serve

pytestmark = [pytest.mark.integration, pytest.mark.timeout(10)]

HOST = "127.0.0.1"
IO_TIMEOUT = 5.0  # upper bound for any one read; nothing waits this long when all is well
HELO = "laptop.example.com"

# Lines that begin with a dot (one, two, and a lone dot that must not end the
# message) exercise dot-stuffing; the Swedish line is 8-bit UTF-8 in the body.
MESSAGE = (
    b"From: Alice <alice@example.com>\r\n"
    b"To: Bob <bob@example.org>\r\n"
    b"Subject: Integration test\r\n"
    b"Message-ID: <integration@laptop.example.com>\r\n"
    b"\r\n"
    b".a line that starts with a dot\r\n"
    b"..and one that starts with two\r\n"
    b".\r\n"
    b"Sm\xc3\xb6rg\xc3\xa5sbord: 8-bit UTF-8 in the body\r\n"
    b"Alice\r\n"
)
UTF8_SENDER = "ålice@example.com"
UTF8_MESSAGE = MESSAGE.replace(b"From: Alice <alice@example.com>", "From: Ålice <ålice@example.com>".encode())


def smtp(port: int) -> smtplib.SMTP:
    return smtplib.SMTP(HOST, port, local_hostname=HELO, timeout=IO_TIMEOUT)


def run_tool(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run swaks or curl; a non-zero exit fails the test with everything it printed."""
    result = subprocess.run(argv, capture_output=True, timeout=8, check=False)
    out, err = result.stdout.decode(errors="replace"), result.stderr.decode(errors="replace")
    assert result.returncode == 0, f"{argv[0]} exited {result.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    return subprocess.CompletedProcess(argv, result.returncode, out, err)


@contextmanager
def raw(port: int) -> Iterator[tuple[socket.socket, BufferedReader]]:
    """A plain socket (for what no client library will send) and a binary reader over it."""
    with socket.create_connection((HOST, port), timeout=IO_TIMEOUT) as sock, sock.makefile("rb") as reader:
        yield sock, reader


def read_reply(reader: BufferedReader) -> list[bytes]:
    """The lines of one (possibly multi-line) reply."""
    lines: list[bytes] = []
    while True:
        line = reader.readline()
        assert line, f"connection closed mid-reply after {lines!r}"
        lines.append(line)
        if line[3:4] != b"-":
            return lines


def assert_transcript_order(transcript: str, *needles: str) -> None:
    """Each needle starts a transcript line, and they come in this order."""
    lines = transcript.splitlines()
    positions = []
    for needle in needles:
        found = [i for i, line in enumerate(lines) if line.startswith(needle)]
        assert found, f"{needle!r} not in transcript:\n{transcript}"
        positions.append(found[0])
    assert positions == sorted(positions), f"expected {needles} in this order:\n{transcript}"


# --- Python's smtplib --------------------------------------------------------------------


def test_smtplib_delivers_byte_identical_with_size_and_8bitmime(served: Served) -> None:
    with smtp(served.smtp) as client:
        refused = client.sendmail("alice@example.com", ["bob@example.org"], MESSAGE, mail_options=["BODY=8BITMIME"])
        assert client.has_extn("size")
    assert refused == {}
    message = served.only_message()
    assert message.content == MESSAGE
    env = message.envelope
    assert env["sender"] == "alice@example.com"
    assert env["recipients"] == ["bob@example.org"]
    assert env["helo"] == HELO
    assert env["size"] == len(MESSAGE)  # smtplib adds SIZE= by itself when offered
    assert env["body"] == "8BITMIME"
    assert env["smtputf8"] is False
    assert env["protocol"] == "ESMTP"
    assert env["auth_user"] is None


def test_smtplib_smtputf8_sender_and_refused_utf8_recipient(served: Served) -> None:
    with smtp(served.smtp) as client:
        refused = client.sendmail(
            UTF8_SENDER,
            ["bob@example.org", "bøb@example.org"],
            UTF8_MESSAGE,
            mail_options=["SMTPUTF8", "BODY=8BITMIME"],
        )
    code, text = refused["bøb@example.org"]
    assert code == 550
    assert (
        text.decode("utf-8")
        == "5.1.1 <bøb@example.org>: Recipient address rejected: User unknown in local recipient table"
    )
    assert list(refused) == ["bøb@example.org"]
    message = served.only_message()
    assert message.content == UTF8_MESSAGE
    assert message.envelope["sender"] == UTF8_SENDER
    assert message.envelope["recipients"] == ["bob@example.org"]
    assert message.envelope["smtputf8"] is True
    assert message.envelope["body"] == "8BITMIME"
    assert message.envelope["size"] == len(UTF8_MESSAGE)


def test_smtplib_bdat_two_chunks_stored_verbatim(served: Served) -> None:
    # BDAT content is not dot-stuffed (RFC 3030 §2): a lone "." inside a chunk is data.
    # The chunk boundary falls between CR and LF, which must not count as a bare CR.
    split = MESSAGE.index(b"\r\nAlice") + 1
    first, last = MESSAGE[:split], MESSAGE[split:]
    assert first.endswith(b"\r") and last.startswith(b"\n")
    with smtp(served.smtp) as client:
        client.ehlo()
        assert client.has_extn("chunking")
        assert client.docmd(f"MAIL FROM:<alice@example.com> SIZE={len(MESSAGE)} BODY=8BITMIME") == (250, b"2.1.0 Ok")
        assert client.docmd("RCPT TO:<bob@example.org>") == (250, b"2.1.5 Ok")
        client.putcmd(f"BDAT {len(first)}")
        client.send(first)
        assert client.getreply() == (250, f"2.0.0 Ok: {len(first)} bytes".encode())
        client.putcmd(f"BDAT {len(last)} LAST")
        client.send(last)
        code, text = client.getreply()
    assert code == 250
    message = served.only_message()
    assert text == f"2.0.0 Ok: queued as {message.queue_id}".encode()
    assert message.content == MESSAGE
    assert message.envelope["size"] == len(MESSAGE)
    assert message.envelope["body"] == "8BITMIME"


def test_bdat_pipelined_in_one_write(served: Served) -> None:
    # RFC 3030 §4: BDAT may be pipelined with MAIL and RCPT, chunk bytes and all.
    first, last = MESSAGE[:40], MESSAGE[40:]
    batch = (
        b"EHLO laptop.example.com\r\n"
        b"MAIL FROM:<alice@example.com> BODY=8BITMIME\r\n"
        b"RCPT TO:<bob@example.org>\r\n"
        + f"BDAT {len(first)}\r\n".encode()
        + first
        + f"BDAT {len(last)} LAST\r\n".encode()
        + last
        + b"QUIT\r\n"
    )
    with raw(served.smtp) as (sock, reader):
        assert read_reply(reader) == [b"220 mx.example.org ESMTP\r\n"]
        sock.sendall(batch)
        assert read_reply(reader)[-1] == b"250 CHUNKING\r\n"
        rest = [read_reply(reader)[0] for _ in range(5)]
    message = served.only_message()
    assert rest == [
        b"250 2.1.0 Ok\r\n",
        b"250 2.1.5 Ok\r\n",
        b"250 2.0.0 Ok: 40 bytes\r\n",
        f"250 2.0.0 Ok: queued as {message.queue_id}\r\n".encode(),
        b"221 2.0.0 Bye\r\n",
    ]
    assert message.content == MESSAGE


@pytest.mark.parametrize("how", ["login-default", "LOGIN-initial-response", "LOGIN-challenge"])
def test_smtplib_authenticated_submission_to_any_domain(served: Served, how: str) -> None:
    with smtp(served.submission) as client:
        client.ehlo()
        if how == "login-default":
            assert client.login("alice@example.com", "wonderland") == (235, b"2.7.0 Authentication successful")
        else:
            client.user, client.password = "alice@example.com", "wonderland"
            reply = client.auth("LOGIN", client.auth_login, initial_response_ok=how == "LOGIN-initial-response")
            assert reply == (235, b"2.7.0 Authentication successful")
        refused = client.sendmail(
            "alice@example.com", ["bob@example.org", "carol@elsewhere.test"], MESSAGE, mail_options=["BODY=8BITMIME"]
        )
    assert refused == {}
    message = served.submitted()
    assert message.content == MESSAGE
    assert message.envelope["recipients"] == ["bob@example.org", "carol@elsewhere.test"]
    assert message.envelope["auth_user"] == "alice@example.com"
    assert message.envelope["protocol"] == "ESMTPA"
    assert message.envelope["size"] == len(MESSAGE)


def test_submission_refuses_mail_before_auth(served: Served) -> None:
    with smtp(served.submission) as client:
        client.ehlo()
        assert client.mail("alice@example.com") == (530, b"5.7.0 Authentication required")
        with pytest.raises(smtplib.SMTPSenderRefused) as exc:
            client.sendmail("alice@example.com", ["bob@example.org"], MESSAGE)
        assert exc.value.smtp_code == 530
    assert served.messages() == []


def test_submission_wrong_password_then_still_refuses_mail(served: Served) -> None:
    with smtp(served.submission) as client:
        with pytest.raises(smtplib.SMTPAuthenticationError) as exc:
            client.login("alice@example.com", "looking-glass")
        assert (exc.value.smtp_code, exc.value.smtp_error[:5]) == (535, b"5.7.8")
        assert client.mail("alice@example.com")[0] == 530
    assert served.messages() == []


def test_mx_refuses_relaying_and_unknown_users(served: Served) -> None:
    with smtp(served.smtp) as client, pytest.raises(smtplib.SMTPRecipientsRefused) as exc:
        client.sendmail("alice@example.com", ["carol@elsewhere.test", "nobody@example.org"], MESSAGE)
    assert exc.value.recipients == {
        "carol@elsewhere.test": (554, b"5.7.1 <carol@elsewhere.test>: Relay access denied"),
        "nobody@example.org": (
            550,
            b"5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local recipient table",
        ),
    }
    assert served.messages() == []


def test_smtplib_dsn_parameters_reach_the_envelope(served: Served) -> None:
    with smtp(served.smtp) as client:
        client.ehlo()
        assert client.has_extn("dsn")
        refused = client.sendmail(
            "alice@example.com",
            ["bob@example.org"],
            MESSAGE,
            mail_options=["RET=HDRS", "ENVID=lunch+2Bfriday"],
            rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;bob+2Bfood@example.org"],
        )
    assert refused == {}
    env = served.only_message().envelope
    assert (env["ret"], env["envid"]) == ("HDRS", "lunch+friday")  # xtext decoded (RFC 3461 §4)
    assert env["notify"] == {"bob@example.org": ["SUCCESS", "FAILURE"]}
    assert env["orcpt"] == {"bob@example.org": "rfc822;bob+food@example.org"}


def test_large_message_framed_across_many_reads(served: Served) -> None:
    # About 2 MB: it crosses many TCP reads, so line and dot framing must survive any split.
    lines = [b".%06d starts with a dot\r\n" % i if i % 3 == 0 else b"x" * 900 + b"\r\n" for i in range(2400)]
    big = MESSAGE + b"".join(lines)
    with smtp(served.smtp) as client:
        assert client.sendmail("alice@example.com", ["bob@example.org"], big, mail_options=["BODY=8BITMIME"]) == {}
    message = served.only_message()
    assert message.envelope["size"] == len(big)
    assert message.content == big


def test_sessions_are_independent_and_a_dropped_one_stores_nothing(served: Served) -> None:
    with raw(served.smtp) as (sock, reader):
        read_reply(reader)
        sock.sendall(b"HELO dropped.example.com\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.org>\r\n")
        for _ in range(3):
            read_reply(reader)
        sock.sendall(b"DATA\r\n")
        assert read_reply(reader)[0].startswith(b"354 ")
        sock.sendall(b"Subject: never finished\r\n\r\nhalf")
        # While that session sits in DATA, a second client delivers through the same server.
        with smtp(served.smtp) as client:
            assert client.sendmail("alice@example.com", ["bob@example.org"], MESSAGE) == {}
        # Now the first client vanishes without the final dot.
    with smtp(served.smtp) as client:
        assert client.noop()[0] == 250  # the server is still serving
    [message] = served.messages()
    assert message.content == MESSAGE
    assert message.envelope["helo"] == HELO


# --- aiosmtplib ----------------------------------------------------------------------------


def test_aiosmtplib_delivers_byte_identical(served: Served) -> None:
    async def send() -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
        client = aiosmtplib.SMTP(
            hostname=HOST, port=served.smtp, local_hostname=HELO, start_tls=False, timeout=IO_TIMEOUT
        )
        async with client:
            return await client.sendmail(
                "alice@example.com", ["bob@example.org"], MESSAGE, mail_options=["BODY=8BITMIME"]
            )

    refused, reply = asyncio.run(send())
    assert refused == {}
    message = served.only_message()
    assert reply == f"2.0.0 Ok: queued as {message.queue_id}"
    assert message.content == MESSAGE
    assert message.envelope["size"] == len(MESSAGE)
    assert message.envelope["body"] == "8BITMIME"


def test_aiosmtplib_authenticated_smtputf8_submission(served: Served) -> None:
    async def send() -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
        client = aiosmtplib.SMTP(
            hostname=HOST, port=served.submission, local_hostname=HELO, start_tls=False, timeout=IO_TIMEOUT
        )
        async with client:
            await client.login("alice@example.com", "wonderland")
            return await client.sendmail(
                UTF8_SENDER,
                ["bob@example.org", "carol@elsewhere.test"],
                UTF8_MESSAGE,
                mail_options=["SMTPUTF8", "BODY=8BITMIME"],
            )

    refused, _ = asyncio.run(send())
    assert refused == {}
    message = served.submitted()
    assert message.content == UTF8_MESSAGE
    env = message.envelope
    assert (env["sender"], env["recipients"]) == (UTF8_SENDER, ["bob@example.org", "carol@elsewhere.test"])
    assert (env["smtputf8"], env["body"], env["size"]) == (True, "8BITMIME", len(UTF8_MESSAGE))
    assert env["auth_user"] == "alice@example.com"


# --- swaks ------------------------------------------------------------------------------------


def swaks_data_file(tmp_path: Path) -> Path:
    # swaks always ends the data with CRLF "." CRLF, adding a line break of its own even when
    # the file ends in one; give it the message without its last CRLF so what it sends is MESSAGE.
    path = tmp_path / "message.eml"
    path.write_bytes(MESSAGE.removesuffix(b"\r\n"))
    return path


def test_swaks_pipelines_to_mx(served: Served, tmp_path: Path) -> None:
    swaks = require_tool("swaks")
    # swaks, unlike the other clients, sends no SIZE or BODY parameters.
    result = run_tool(
        [
            swaks,
            "--server",
            f"{HOST}:{served.smtp}",
            "--helo",
            HELO,
            "--from",
            "alice@example.com",
            "--to",
            "bob@example.org",
            "--data",
            f"@{swaks_data_file(tmp_path)}",
            "--pipeline",
            "--timeout",
            "5",
        ]
    )
    # Pipelined: MAIL, RCPT and DATA all went out before the first of their replies came back.
    assert_transcript_order(
        result.stdout, " -> MAIL FROM:<alice@example.com>", " -> RCPT TO:<bob@example.org>", " -> DATA", "<-  250 2.1.0"
    )
    assert " -> ..a line that starts with a dot" in result.stdout  # swaks stuffed it
    message = served.only_message()
    assert message.content == MESSAGE
    assert message.envelope["recipients"] == ["bob@example.org"]
    assert message.envelope["helo"] == HELO


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_swaks_auth_submission(served: Served, tmp_path: Path, mechanism: str) -> None:
    swaks = require_tool("swaks")
    result = run_tool(
        [
            swaks,
            "--server",
            f"{HOST}:{served.submission}",
            "--helo",
            HELO,
            "--auth",
            mechanism,
            "--auth-user",
            "bob@example.org",
            "--auth-password",
            "builder",
            "--from",
            "bob@example.org",
            "--to",
            "alice@example.com,carol@elsewhere.test",
            "--data",
            f"@{swaks_data_file(tmp_path)}",
            "--pipeline",
            "--timeout",
            "5",
        ]
    )
    assert "<-  235 2.7.0 Authentication successful" in result.stdout
    assert_transcript_order(
        result.stdout, " -> AUTH " + mechanism, "<-  235", " -> MAIL FROM:", " -> DATA", "<-  250 2.1.0"
    )
    message = served.submitted()
    assert message.content == MESSAGE
    assert message.envelope["auth_user"] == "bob@example.org"
    assert message.envelope["recipients"] == ["alice@example.com", "carol@elsewhere.test"]


# --- curl ---------------------------------------------------------------------------------------


def test_curl_delivers_to_mx_with_size(served: Served, tmp_path: Path) -> None:
    curl = require_tool("curl")
    path = tmp_path / "message.eml"
    path.write_bytes(MESSAGE)
    result = run_tool(
        [
            curl,
            "-sS",
            "-v",
            "--max-time",
            "5",
            f"smtp://{HOST}:{served.smtp}/{HELO}",
            "--mail-from",
            "alice@example.com",
            "--mail-rcpt",
            "bob@example.org",
            "-T",
            str(path),
        ]
    )
    assert f"> MAIL FROM:<alice@example.com> SIZE={len(MESSAGE)}" in result.stderr
    message = served.only_message()
    assert message.content == MESSAGE
    assert message.envelope["size"] == len(MESSAGE)
    assert message.envelope["helo"] == HELO


@pytest.mark.parametrize(
    "options",
    [[], ["--sasl-ir"], ["--login-options", "AUTH=LOGIN"]],
    ids=["PLAIN-challenge", "PLAIN-initial-response", "LOGIN"],
)
def test_curl_auth_submission_smtputf8(served: Served, tmp_path: Path, options: list[str]) -> None:
    curl = require_tool("curl")
    path = tmp_path / "message.eml"
    path.write_bytes(UTF8_MESSAGE)
    result = run_tool(
        [
            curl,
            "-sS",
            "-v",
            "--max-time",
            "5",
            f"smtp://{HOST}:{served.submission}/{HELO}",
            "--user",
            "alice@example.com:wonderland",
            *options,
            "--mail-from",
            UTF8_SENDER,
            "--mail-rcpt",
            "bob@example.org",
            "--mail-rcpt",
            "carol@elsewhere.test",
            "-T",
            str(path),
        ]
    )
    assert "< 235 2.7.0 Authentication successful" in result.stderr
    message = served.submitted()
    assert message.content == UTF8_MESSAGE
    env = message.envelope
    assert env["sender"] == UTF8_SENDER
    assert env["recipients"] == ["bob@example.org", "carol@elsewhere.test"]
    assert (env["smtputf8"], env["size"], env["auth_user"]) == (True, len(UTF8_MESSAGE), "alice@example.com")


# --- hygiene and shutdown ----------------------------------------------------------------------


BARE_LF = b"550 5.5.2 Error: bare <LF> received\r\n"


@pytest.mark.parametrize("where", ["command", "data", "smuggling"])
def test_bare_lf_gets_550_and_hang_up_nothing_stored(served: Served, where: str) -> None:
    with raw(served.smtp) as (sock, reader):
        assert read_reply(reader) == [b"220 mx.example.org ESMTP\r\n"]
        if where == "command":
            sock.sendall(b"EHLO laptop.example.com\n")
        else:
            sock.sendall(b"HELO laptop.example.com\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.org>\r\n")
            for _ in range(3):
                assert read_reply(reader)[0].startswith(b"250 ")
            sock.sendall(b"DATA\r\n")
            assert read_reply(reader) == [b"354 End data with <CR><LF>.<CR><LF>\r\n"]
        if where == "data":
            sock.sendall(b"Subject: smuggling\r\n\r\nbare\nLF\r\n.\r\n")
        elif where == "smuggling":
            # A dot after a bare LF is not the end (CVE-2023-51764): the second message is
            # data, and the server stays silent until the real CRLF . CRLF.
            sock.sendall(b"Subject: s\r\n\r\nx\n.\r\nMAIL FROM:<evil@x.example>\r\nRCPT TO:<bob@example.org>\r\n")
            sock.sendall(b"DATA\r\nforged\r\n.\r\n")
        # Exactly one reply and then EOF: nothing answered the forged commands.
        assert reader.read() == BARE_LF
    assert served.messages() == []


@pytest.mark.parametrize("where", ["idle", "data"])
def test_sigterm_says_421_to_connected_client(served: Served, where: str) -> None:
    with raw(served.smtp) as (sock, reader):
        assert read_reply(reader) == [b"220 mx.example.org ESMTP\r\n"]
        sock.sendall(b"EHLO laptop.example.com\r\n")
        read_reply(reader)
        if where == "data":
            sock.sendall(b"MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
            assert [read_reply(reader)[0][:4] for _ in range(3)] == [b"250 ", b"250 ", b"354 "]
            sock.sendall(b"Subject: half a message\r\n\r\n")
        served.terminate()
        assert reader.read() == (b"421 4.3.2 mx.example.org Service shutting down, closing transmission channel\r\n")
    assert served.wait() == 0
    assert served.messages() == []


def test_empty_auth_challenge_keeps_its_space(served: Served) -> None:
    with raw(served.submission) as (sock, reader):
        read_reply(reader)
        sock.sendall(b"EHLO laptop.example.com\r\n")
        read_reply(reader)
        sock.sendall(b"AUTH PLAIN\r\n")
        assert read_reply(reader) == [b"334 \r\n"]


def test_sigint_stops_serve_cleanly_too(tmp_path: Path) -> None:
    server = start_serve(tmp_path)
    with raw(server.smtp) as (_sock, reader):
        assert read_reply(reader) == [b"220 mx.example.org ESMTP\r\n"]
        server.process.send_signal(signal.SIGINT)
        assert reader.read() == b"421 4.3.2 mx.example.org Service shutting down, closing transmission channel\r\n"
    assert server.wait() == 0
    assert "Traceback" not in server.stderr
