"""The IMAP client engine against a scripted server: canned server bytes in, the exact client bytes out.

Each session is a script of (what the server sends, what the client must write in
reply). The scripts cover both device profiles (sync and idle), the login paths
(LOGIN, literals, AUTHENTICATE PLAIN, STARTTLS) and the ways a session fails.
"""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.protocol.errors import LocalProtocolError
from simulator.protocol.imap import client as c
from simulator.protocol.imap.client import ClientConfig, ClientState, IMAPClient

GREETING = b"* OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS] mail.example.org ready.\r\n"
LOGIN = b"A0001 LOGIN bob@example.org builder\r\n"
LOGGED_IN = b"A0001 OK [CAPABILITY IMAP4rev1 IDLE UIDPLUS] Logged in\r\n"
SELECT = b"A0002 SELECT INBOX\r\n"


def selected(tag: str, exists: int, uidvalidity: int = 7, uidnext: int = 4) -> bytes:
    return (
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
        b"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Flags permitted.\r\n"
        b"* %d EXISTS\r\n* 0 RECENT\r\n"
        b"* OK [UIDVALIDITY %d] UIDs valid\r\n* OK [UIDNEXT %d] Predicted next UID\r\n"
        b"%s OK [READ-WRITE] Select completed.\r\n" % (exists, uidvalidity, uidnext, tag.encode())
    )


def message(n: int) -> bytes:
    return b"Subject: message %d\r\n\r\nbody %d\r\n" % (n, n)


def fetched(number: int, uid: int, flags: bytes = b"") -> bytes:
    body = message(uid)
    return (
        b'* %d FETCH (UID %d FLAGS (%s) INTERNALDATE " 2-Dec-2026 10:00:00 +0000" RFC822.SIZE %d BODY[] {%d}\r\n'
        % (number, uid, flags, len(body), len(body))
        + body
        + b")\r\n"
    )


BOB = ClientConfig(username="bob@example.org", password="builder")


def converse(client: IMAPClient, script: list[tuple[bytes, bytes]]) -> None:
    """Play the server's side: feed each canned answer and check the client's exact reply to it."""
    for step, (server, expected) in enumerate(script):
        client.receive_data(server)
        assert client.data_to_send() == expected, f"step {step}: after {server!r}"


def of(events: list[c.Event], kind: type[c.Event]) -> list[c.Event]:
    return [e for e in events if isinstance(e, kind)]


def sync_script() -> list[tuple[bytes, bytes]]:
    """The device knows UIDs 1 and 2, read 2 elsewhere, deleted 1; the server has 1, 2 and 3."""
    return [
        (GREETING, LOGIN),
        (LOGGED_IN, SELECT),
        (selected("A0002", 3), b"A0003 UID FETCH 1:* (UID FLAGS)\r\n"),
        (
            b"* 1 FETCH (UID 1 FLAGS ())\r\n* 2 FETCH (UID 2 FLAGS (\\Answered))\r\n"
            b"* 3 FETCH (UID 3 FLAGS (\\Flagged))\r\nA0003 OK Fetch completed.\r\n",
            b"A0004 UID FETCH 3 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])\r\n",
        ),
        (
            fetched(3, 3, b"\\Flagged") + b"A0004 OK Fetch completed.\r\n",
            b"A0005 UID STORE 2 +FLAGS.SILENT (\\Seen)\r\n",
        ),
        (b"A0005 OK Store completed.\r\n", b"A0006 UID STORE 1 +FLAGS.SILENT (\\Deleted)\r\n"),
        (b"A0006 OK Store completed.\r\n", b"A0007 UID EXPUNGE 1\r\n"),
        (b"* 1 EXPUNGE\r\nA0007 OK Expunge completed.\r\n", b"A0008 LOGOUT\r\n"),
        (b"* BYE Logging out\r\nA0008 OK Logout completed.\r\n", b""),
    ]


SYNC_CONFIG = replace(BOB, uidvalidity=7, known={1: (), 2: ()}, set_flags={2: ("\\Seen",)}, delete=frozenset({1}))


# --- profile "sync" ----------------------------------------------------------------------------


def test_sync_fetches_only_new_messages_pushes_flags_and_expunges_with_uidplus() -> None:
    client = IMAPClient(SYNC_CONFIG)
    converse(client, sync_script())
    events = list(client.events())
    assert client.closed
    assert of(events, c.Authenticated) == [c.Authenticated("bob@example.org", "LOGIN")]
    assert of(events, c.Selected) == [
        c.Selected(
            "INBOX", 7, 3, 4, ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"),
            ("\\Deleted", "\\Seen", "\\*"), False, False,
        )
    ]  # fmt: skip
    assert of(events, c.FlagsSeen) == [
        c.FlagsSeen(1, ()),
        c.FlagsSeen(2, ("\\Answered",)),
        c.FlagsSeen(3, ("\\Flagged",)),
    ]
    assert of(events, c.MessageFetched) == [
        c.MessageFetched(3, ("\\Flagged",), message(3), " 2-Dec-2026 10:00:00 +0000", len(message(3)))
    ]
    assert of(events, c.FlagsStored) == [
        c.FlagsStored((2,), ("\\Seen",)),
        c.FlagsStored((1,), ("\\Deleted",)),
    ]
    assert of(events, c.Expunged) == [c.Expunged(1, 1)]
    assert client.sequence_map == (2, 3)
    [complete] = of(events, c.SessionComplete)
    assert isinstance(complete, c.SessionComplete)
    assert complete.summary == c.SyncSummary(
        uidvalidity=7,
        fetched=(3,),
        server_flags=((2, ("\\Answered", "\\Seen")), (3, ("\\Flagged",))),
        removed=(),
        stored=(2,),
        expunged=(1,),
    )
    assert not of(events, c.SessionFailed)
    assert isinstance(events[-1], c.ConnectionClosed)


def test_the_same_session_fed_one_byte_at_a_time_writes_the_same_bytes() -> None:
    client = IMAPClient(SYNC_CONFIG)
    for server, expected in sync_script():
        for i in range(len(server)):
            client.receive_data(server[i : i + 1])
        assert client.data_to_send() == expected
    assert of(list(client.events()), c.SessionComplete)


def test_password_is_hidden_in_the_trace_but_real_on_the_wire() -> None:
    client = IMAPClient(SYNC_CONFIG)
    client.receive_data(GREETING)
    [output] = client.outgoing()
    assert output.data == LOGIN
    assert output.summary == "A0001 LOGIN bob@example.org ****"
    assert "RFC 3501 §6.2.3" in output.rfc and output.explain


def test_without_uidplus_the_device_expunges_with_plain_expunge() -> None:
    client = IMAPClient(replace(BOB, uidvalidity=7, known={1: (), 2: ()}, delete=frozenset({2})))
    converse(
        client,
        [
            (b"* OK [CAPABILITY IMAP4rev1] ready\r\n", LOGIN),
            (b"A0001 OK [CAPABILITY IMAP4rev1] Logged in\r\n", SELECT),
            (selected("A0002", 2), b"A0003 UID FETCH 1:* (UID FLAGS)\r\n"),
            (
                b"* 1 FETCH (UID 1 FLAGS ())\r\n* 2 FETCH (UID 2 FLAGS ())\r\nA0003 OK done\r\n",
                b"A0004 UID STORE 2 +FLAGS.SILENT (\\Deleted)\r\n",
            ),
            (b"A0004 OK done\r\n", b"A0005 EXPUNGE\r\n"),
            (b"* 2 EXPUNGE\r\nA0005 OK done\r\n", b"A0006 LOGOUT\r\n"),
        ],
    )
    assert [e for e in client.events() if isinstance(e, c.Expunged)] == [c.Expunged(2, 2)]


def test_a_refused_deletion_mark_is_not_followed_by_expunge() -> None:
    client = IMAPClient(replace(BOB, uidvalidity=7, known={1: ()}, delete=frozenset({1})))
    converse(
        client,
        [
            (GREETING, LOGIN),
            (LOGGED_IN, SELECT),
            (selected("A0002", 1), b"A0003 UID FETCH 1:* (UID FLAGS)\r\n"),
            (b"* 1 FETCH (UID 1 FLAGS ())\r\nA0003 OK done\r\n", b"A0004 UID STORE 1 +FLAGS.SILENT (\\Deleted)\r\n"),
            (b"A0004 NO Mailbox is read-only.\r\n", b"A0005 LOGOUT\r\n"),
        ],
    )
    assert c.FlagsStored((1,), ("\\Deleted",), ok=False) in list(client.events())


def test_uidvalidity_change_refetches_everything_and_drops_stale_local_changes() -> None:
    config = replace(BOB, uidvalidity=6, known={1: (), 2: ()}, set_flags={1: ("\\Seen",)}, delete={2})
    client = IMAPClient(config)
    converse(
        client,
        [
            (GREETING, LOGIN),
            (LOGGED_IN, SELECT),
            (selected("A0002", 2), b"A0003 UID FETCH 1:* (UID FLAGS)\r\n"),
            (
                b"* 1 FETCH (UID 1 FLAGS ())\r\n* 2 FETCH (UID 2 FLAGS (\\Seen))\r\nA0003 OK done\r\n",
                b"A0004 UID FETCH 1:2 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])\r\n",
            ),
            # No STORE and no EXPUNGE: the device's UIDs name messages of an older UIDVALIDITY.
            (fetched(1, 1) + fetched(2, 2, b"\\Seen") + b"A0004 OK done\r\n", b"A0005 LOGOUT\r\n"),
            (b"* BYE bye\r\nA0005 OK done\r\n", b""),
        ],
    )
    events = list(client.events())
    [selected_event] = of(events, c.Selected)
    assert isinstance(selected_event, c.Selected) and selected_event.uidvalidity_changed
    assert [e.uid for e in events if isinstance(e, c.MessageFetched)] == [1, 2]
    [complete] = of(events, c.SessionComplete)
    assert isinstance(complete, c.SessionComplete)
    assert complete.summary.stale and complete.summary.fetched == (1, 2) and complete.summary.stored == ()


def test_messages_gone_from_the_server_are_reported_as_removed() -> None:
    client = IMAPClient(replace(BOB, uidvalidity=7, known={1: (), 5: ()}))
    converse(
        client,
        [
            (GREETING, LOGIN),
            (LOGGED_IN, SELECT),
            (selected("A0002", 1), b"A0003 UID FETCH 1:* (UID FLAGS)\r\n"),
            (b"* 1 FETCH (UID 1 FLAGS (\\Seen))\r\nA0003 OK done\r\n", b"A0004 LOGOUT\r\n"),
            (b"* BYE bye\r\n", b""),
        ],
    )
    client.receive_data(b"")  # the server closes after BYE, before its tagged OK: the work is done all the same
    [complete] = of(list(client.events()), c.SessionComplete)
    assert isinstance(complete, c.SessionComplete) and complete.summary.removed == (5,)


def test_an_empty_mailbox_needs_no_listing() -> None:
    client = IMAPClient(BOB)
    converse(
        client,
        [(GREETING, LOGIN), (LOGGED_IN, SELECT), (selected("A0002", 0, uidnext=1), b"A0003 LOGOUT\r\n")],
    )


def test_capability_is_asked_when_neither_greeting_nor_login_says() -> None:
    client = IMAPClient(BOB)
    converse(
        client,
        [
            (b"* OK ready\r\n", b"A0001 CAPABILITY\r\n"),
            (b"* CAPABILITY IMAP4rev1\r\nA0001 OK done\r\n", b"A0002 LOGIN bob@example.org builder\r\n"),
            # RFC 3501 §6.2.3: capabilities may change after login, and this OK did not list them.
            (b"A0002 OK Logged in\r\n", b"A0003 CAPABILITY\r\n"),
            (b"* CAPABILITY IMAP4rev1 UIDPLUS\r\nA0003 OK done\r\n", b"A0004 SELECT INBOX\r\n"),
        ],
    )
    assert "UIDPLUS" in client.capabilities
    caps = [e for e in client.events() if isinstance(e, c.Capabilities)]
    assert caps == [c.Capabilities(("IMAP4rev1",)), c.Capabilities(("IMAP4rev1", "UIDPLUS"))]


def test_preauth_skips_the_login() -> None:
    client = IMAPClient(BOB)
    converse(client, [(b"* PREAUTH [CAPABILITY IMAP4rev1] welcome\r\n", SELECT.replace(b"A0002", b"A0001"))])
    assert c.Authenticated("bob@example.org", "PREAUTH") in list(client.events())


def test_alert_codes_are_passed_to_the_user() -> None:
    client = IMAPClient(BOB)
    converse(client, [(GREETING, LOGIN), (b"* OK [ALERT] Quota at 95%\r\n", b"")])
    assert c.Alert("Quota at 95%") in list(client.events())


# --- logging in ---------------------------------------------------------------------------------


def test_login_failure_reports_and_logs_out() -> None:
    client = IMAPClient(ClientConfig(username="bob@example.org", password="wrong"))
    converse(
        client,
        [
            (GREETING, b"A0001 LOGIN bob@example.org wrong\r\n"),
            (b"A0001 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n", b"A0002 LOGOUT\r\n"),
            (b"* BYE Logging out\r\nA0002 OK Logout completed.\r\n", b""),
        ],
    )
    events = list(client.events())
    [failed] = of(events, c.LoginFailed)
    assert isinstance(failed, c.LoginFailed) and failed.response.text == "Authentication failed."
    assert [e.reason for e in events if isinstance(e, c.SessionFailed)] == ["the login was refused"]
    assert not of(events, c.SessionComplete) and not of(events, c.Authenticated)
    assert client.closed


def test_login_arguments_are_quoted_when_they_must_be() -> None:
    client = IMAPClient(ClientConfig(username="bob smith", password='pa"ss'))
    client.receive_data(GREETING)
    [output] = client.outgoing()
    assert output.data == b'A0001 LOGIN "bob smith" "pa\\"ss"\r\n'
    assert output.summary == 'A0001 LOGIN "bob smith" ****'


def test_a_literal_waits_for_the_servers_go_ahead() -> None:
    client = IMAPClient(ClientConfig(username="bob", password="pässword"))  # 8-bit: only a literal carries it
    client.receive_data(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
    [first] = client.outgoing()
    assert first.data == b"A0001 LOGIN bob {9}\r\n"
    assert "pässword" not in first.summary
    client.receive_data(b"+ Ready for literal data\r\n")
    [second] = client.outgoing()
    assert second.data == "pässword\r\n".encode()
    assert "****" in second.summary and "pässword" not in second.summary
    client.receive_data(b"A0001 OK [CAPABILITY IMAP4rev1] Logged in\r\n")
    assert client.data_to_send() == SELECT


def test_a_refused_literal_ends_the_command_without_sending_it() -> None:
    client = IMAPClient(ClientConfig(username="bob", password="pässword"))
    converse(
        client,
        [
            (b"* OK [CAPABILITY IMAP4rev1] ready\r\n", b"A0001 LOGIN bob {9}\r\n"),
            (b"A0001 NO Literal refused\r\n", b"A0002 LOGOUT\r\n"),
        ],
    )


def test_literal_plus_sends_the_literal_at_once() -> None:
    client = IMAPClient(ClientConfig(username="bob", password="pässword"))
    client.receive_data(b"* OK [CAPABILITY IMAP4rev1 LITERAL+] ready\r\n")
    assert client.data_to_send() == "A0001 LOGIN bob {9+}\r\npässword\r\n".encode()


def test_authenticate_plain_with_sasl_ir_sends_the_response_on_the_command_line() -> None:
    client = IMAPClient(replace(BOB, login="sasl-plain"))
    client.receive_data(b"* OK [CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN] ready\r\n")
    [output] = client.outgoing()
    token = base64.b64encode(b"\0bob@example.org\0builder")
    assert output.data == b"A0001 AUTHENTICATE PLAIN " + token + b"\r\n"
    assert output.summary == "A0001 AUTHENTICATE PLAIN ****"
    client.receive_data(b"A0001 OK [CAPABILITY IMAP4rev1] Logged in\r\n")
    assert client.data_to_send() == SELECT
    assert c.Authenticated("bob@example.org", "AUTHENTICATE PLAIN") in list(client.events())


def test_authenticate_plain_without_sasl_ir_waits_for_the_empty_challenge() -> None:
    client = IMAPClient(replace(BOB, login="sasl-plain"))
    token = base64.b64encode(b"\0bob@example.org\0builder")
    converse(
        client,
        [
            (b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n", b"A0001 AUTHENTICATE PLAIN\r\n"),
            (b"+ \r\n", token + b"\r\n"),
            (b"+ more?\r\n", b"*\r\n"),  # PLAIN has nothing more to say: cancel
            (b"A0001 BAD Authentication aborted\r\n", b"A0002 LOGOUT\r\n"),
        ],
    )


def test_sasl_plain_falls_back_to_login_when_auth_plain_is_not_offered() -> None:
    client = IMAPClient(replace(BOB, login="sasl-plain"))
    converse(client, [(b"* OK [CAPABILITY IMAP4rev1 SASL-IR] ready\r\n", LOGIN)])


def test_logindisabled_means_no_password_in_clear() -> None:
    client = IMAPClient(BOB)
    converse(client, [(b"* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] ready\r\n", b"A0001 LOGOUT\r\n")])
    [failed] = [e for e in client.events() if isinstance(e, c.SessionFailed)]
    assert isinstance(failed, c.SessionFailed) and "LOGINDISABLED" in failed.reason


# --- STARTTLS -------------------------------------------------------------------------------------


def test_starttls_then_capability_again_then_login() -> None:
    client = IMAPClient(replace(BOB, starttls="required"))
    converse(
        client,
        [
            (b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n", b"A0001 STARTTLS\r\n"),
            # Whatever follows the OK in clear text may be injected: it is dropped (RFC 3501 §11.1).
            (b"A0001 OK Begin TLS negotiation now.\r\n* BYE injected\r\n", b""),
        ],
    )
    assert client.state is ClientState.TLS_HANDSHAKE
    assert c.TLSReady() in list(client.events())
    client.receive_data(b"\x16\x03\x01 handshake bytes are the host's business\r\n")
    assert client.data_to_send() == b"" and not client.closed
    client.tls_started()
    assert client.tls and client.capabilities == frozenset()
    assert client.data_to_send() == b"A0002 CAPABILITY\r\n"
    client.receive_data(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA0002 OK done\r\n")
    assert client.data_to_send() == b"A0003 LOGIN bob@example.org builder\r\n"


def test_tls_started_without_starttls_is_a_local_error() -> None:
    client = IMAPClient(BOB)
    with pytest.raises(LocalProtocolError):
        client.tls_started()


def test_required_tls_not_offered_ends_the_session_before_any_password() -> None:
    client = IMAPClient(replace(BOB, starttls="required"))
    converse(client, [(GREETING, b"A0001 LOGOUT\r\n")])
    assert any(isinstance(e, c.SessionFailed) and "STARTTLS" in e.reason for e in client.events())


def test_opportunistic_tls_goes_on_in_clear_when_not_offered_or_refused() -> None:
    client = IMAPClient(replace(BOB, starttls="opportunistic"))
    converse(client, [(GREETING, LOGIN)])
    client = IMAPClient(replace(BOB, starttls="opportunistic"))
    converse(
        client,
        [
            (b"* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n", b"A0001 STARTTLS\r\n"),
            (b"A0001 NO not now\r\n", b"A0002 LOGIN bob@example.org builder\r\n"),
        ],
    )


# --- profile "idle" --------------------------------------------------------------------------------

IDLE_CONFIG = replace(BOB, profile="idle", uidvalidity=7, known={1: (), 2: ()})


def idle_start() -> list[tuple[bytes, bytes]]:
    return [
        (GREETING, LOGIN),
        (LOGGED_IN, SELECT),
        (selected("A0002", 2, uidnext=3), b"A0003 UID FETCH 1:* (UID FLAGS)\r\n"),
        (b"* 1 FETCH (UID 1 FLAGS ())\r\n* 2 FETCH (UID 2 FLAGS ())\r\nA0003 OK done\r\n", b"A0004 IDLE\r\n"),
        (b"+ idling\r\n", b""),
    ]


def test_idle_new_mail_done_fetch_and_idle_again() -> None:
    client = IMAPClient(IDLE_CONFIG)
    converse(client, idle_start())
    assert client.state is ClientState.IDLING
    assert c.Idling() in list(client.events())
    converse(
        client,
        [
            (b"* 3 EXISTS\r\n* 1 RECENT\r\n", b"DONE\r\n"),
            (
                b"A0004 OK Idle completed.\r\n",
                b"A0005 UID FETCH 3:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])\r\n",
            ),
            (fetched(3, 3, b"\\Recent") + b"A0005 OK done\r\n", b"A0006 IDLE\r\n"),
            (b"+ idling\r\n", b""),
        ],
    )
    events = list(client.events())
    assert of(events, c.NewMail) == [c.NewMail(3)]
    assert [(e.uid, e.content) for e in events if isinstance(e, c.MessageFetched)] == [(3, message(3))]
    assert client.state is ClientState.IDLING and client.sequence_map == (1, 2, 3)


def test_uid_range_past_the_highest_returns_a_known_message_which_is_not_refetched() -> None:
    """RFC 3501 §6.4.8: `UID FETCH 3:*` matches UID 2 when 2 is the highest, since * is the largest in use."""
    client = IMAPClient(IDLE_CONFIG)
    converse(client, idle_start())
    converse(
        client,
        [
            (b"* 3 EXISTS\r\n", b"DONE\r\n"),
            (
                b"* 3 EXPUNGE\r\nA0004 OK Idle completed.\r\n",
                b"A0005 UID FETCH 3:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])\r\n",
            ),
            (fetched(2, 2) + b"A0005 OK done\r\n", b"A0006 IDLE\r\n"),
        ],
    )
    assert not [e for e in client.events() if isinstance(e, c.MessageFetched)]


def test_stop_while_idling_sends_done_then_logout() -> None:
    client = IMAPClient(IDLE_CONFIG)
    converse(client, idle_start())
    client.stop()
    assert client.data_to_send() == b"DONE\r\n"
    converse(
        client,
        [
            (b"A0004 OK Idle completed.\r\n", b"A0005 LOGOUT\r\n"),
            (b"* BYE Logging out\r\nA0005 OK Logout completed.\r\n", b""),
        ],
    )
    events = list(client.events())
    assert client.closed and of(events, c.SessionComplete) and not of(events, c.SessionFailed)


def test_stop_during_the_first_synchronisation_logs_out_instead_of_idling() -> None:
    client = IMAPClient(IDLE_CONFIG)
    converse(client, idle_start()[:3])
    client.stop()
    assert client.data_to_send() == b""
    converse(
        client,
        [(b"* 1 FETCH (UID 1 FLAGS ())\r\n* 2 FETCH (UID 2 FLAGS ())\r\nA0003 OK done\r\n", b"A0004 LOGOUT\r\n")],
    )


def test_refresh_idle_reissues_idle_with_a_new_tag() -> None:
    client = IMAPClient(IDLE_CONFIG)
    converse(client, idle_start())
    assert client.refresh_idle()
    assert client.data_to_send() == b"DONE\r\n"
    assert not client.refresh_idle()  # not idling until the server says '+' again
    converse(client, [(b"A0004 OK Idle completed.\r\n", b"A0005 IDLE\r\n"), (b"+ idling\r\n", b"")])
    assert client.state is ClientState.IDLING


def test_new_mail_before_the_go_ahead_ends_idle_at_once() -> None:
    client = IMAPClient(IDLE_CONFIG)
    converse(client, idle_start()[:4])
    converse(
        client,
        [
            (b"* 3 EXISTS\r\n", b""),
            (b"+ idling\r\n", b"DONE\r\n"),
            (b"A0004 OK done\r\n", b"A0005 UID FETCH 3:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])\r\n"),
        ],
    )


def test_expunge_while_idling_shifts_the_sequence_map() -> None:
    config = replace(BOB, profile="idle", uidvalidity=7, known={1: (), 2: (), 3: ()})
    client = IMAPClient(config)
    converse(
        client,
        [
            (GREETING, LOGIN),
            (LOGGED_IN, SELECT),
            (selected("A0002", 3), b"A0003 UID FETCH 1:* (UID FLAGS)\r\n"),
            (
                b"* 1 FETCH (UID 1 FLAGS ())\r\n* 2 FETCH (UID 2 FLAGS ())\r\n* 3 FETCH (UID 3 FLAGS ())\r\n"
                b"A0003 OK done\r\n",
                b"A0004 IDLE\r\n",
            ),
            (b"+ idling\r\n* 1 EXPUNGE\r\n* 2 FETCH (FLAGS (\\Seen))\r\n", b""),
        ],
    )
    events = list(client.events())
    # After message 1 went, message 2 is UID 3: the flags without a UID belong to UID 3.
    assert of(events, c.Expunged) == [c.Expunged(1, 1)]
    assert of(events, c.FlagsSeen)[-1] == c.FlagsSeen(3, ("\\Seen",))
    assert client.sequence_map == (2, 3)
    assert client.state is ClientState.IDLING


def test_idle_profile_without_idle_capability_gives_up() -> None:
    client = IMAPClient(replace(BOB, profile="idle"))
    converse(
        client,
        [
            (b"* OK [CAPABILITY IMAP4rev1] ready\r\n", LOGIN),
            (b"A0001 OK [CAPABILITY IMAP4rev1] in\r\n", SELECT),
            (selected("A0002", 0, uidnext=1), b"A0003 LOGOUT\r\n"),
        ],
    )
    assert any(isinstance(e, c.SessionFailed) and "IDLE" in e.reason for e in client.events())


# --- failures ----------------------------------------------------------------------------------


def test_bye_from_the_server_fails_the_session_without_logout() -> None:
    client = IMAPClient(IDLE_CONFIG)
    converse(client, [*idle_start(), (b"* BYE Disconnected for inactivity.\r\n", b"")])
    events = list(client.events())
    assert client.closed
    [failed] = of(events, c.SessionFailed)
    assert isinstance(failed, c.SessionFailed) and "Disconnected for inactivity." in failed.reason
    assert not of(events, c.SessionComplete)


def test_bye_greeting_refuses_the_connection() -> None:
    client = IMAPClient(BOB)
    converse(client, [(b"* BYE Too many connections\r\n", b"")])
    events = list(client.events())
    assert client.closed and of(events, c.Greeting) and of(events, c.SessionFailed)


def test_a_refused_select_logs_out() -> None:
    client = IMAPClient(replace(BOB, mailbox="Archive"))
    converse(
        client,
        [
            (GREETING, LOGIN),
            (LOGGED_IN, b"A0002 SELECT Archive\r\n"),
            (b"A0002 NO [NONEXISTENT] Mailbox doesn't exist: Archive\r\n", b"A0003 LOGOUT\r\n"),
        ],
    )


@pytest.mark.parametrize(
    ("server", "reason"),
    [
        (b"* 1 FETCH (UID\r\n", "cannot be parsed"),
        (b"A0009 OK not yours\r\n", "A0009"),
        (b"* 9 EXPUNGE\r\n", "EXPUNGE"),
        (b"* 1 EXISTS\r\n", "EXISTS"),
        (b"* 1 FETCH (UID 8 FLAGS ())\r\n* 1 FETCH (UID 9 FLAGS ())\r\n", "UID 9"),
        (b"+ what?\r\n", "continuation"),
        (b"* PREAUTH again\r\n", "PREAUTH"),
    ],
)
def test_a_broken_server_fails_the_session_and_never_raises(server: bytes, reason: str) -> None:
    client = IMAPClient(SYNC_CONFIG)
    converse(client, sync_script()[:3])
    client.receive_data(server)
    events = list(client.events())
    failed = [e for e in events if isinstance(e, c.SessionFailed)]
    assert len(failed) == 1 and reason in failed[0].reason, failed
    assert client.closed and isinstance(events[-1], c.ConnectionClosed)
    client.receive_data(b"A0003 OK late\r\n")  # nothing more happens after the end
    assert client.data_to_send() == b"" and not list(client.events())


def test_the_first_line_must_be_a_greeting() -> None:
    client = IMAPClient(BOB)
    client.receive_data(b"* 3 EXISTS\r\n")
    assert client.closed and any(isinstance(e, c.SessionFailed) for e in client.events())


def test_a_lost_connection_fails_the_session() -> None:
    client = IMAPClient(SYNC_CONFIG)
    converse(client, sync_script()[:4])
    client.receive_data(b"")
    events = list(client.events())
    assert [e.reason for e in events if isinstance(e, c.SessionFailed)] == ["the connection was lost"]
    assert client.closed


def test_config_is_checked() -> None:
    with pytest.raises(LocalProtocolError):
        ClientConfig(profile="push")


@settings(max_examples=200, deadline=None)
@given(noise=st.binary(max_size=200), cut=st.integers(min_value=0, max_value=8))
def test_arbitrary_server_bytes_never_raise(noise: bytes, cut: int) -> None:
    client = IMAPClient(IDLE_CONFIG)
    converse(client, idle_start()[: cut % 6])
    client.receive_data(noise)
    client.data_to_send()
    events = list(client.events())
    if client.closed:
        assert isinstance(events[-1], c.ConnectionClosed)


def test_literal_minus_allows_only_small_literals_without_waiting() -> None:
    """RFC 7888 §4: LITERAL- servers take `{n+}` up to 4096 octets; a longer literal waits for '+'."""
    small = IMAPClient(ClientConfig(username="bob", password="pässword"))
    small.receive_data(b"* OK [CAPABILITY IMAP4rev1 LITERAL-] ready\r\n")
    assert small.data_to_send() == "A0001 LOGIN bob {9+}\r\npässword\r\n".encode()
    large = IMAPClient(ClientConfig(username="bob", password="ä" * 3000))
    large.receive_data(b"* OK [CAPABILITY IMAP4rev1 LITERAL-] ready\r\n")
    assert large.data_to_send() == b"A0001 LOGIN bob {6000}\r\n"
    large.receive_data(b"+ Ready for literal data\r\n")
    assert large.data_to_send() == ("ä" * 3000).encode() + b"\r\n"
