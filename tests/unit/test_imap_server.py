"""The IMAP server engine, command by command, on the real mail store.

Each test drives an IMAPServer with bytes, answers its login events as a node
would, and checks the exact bytes it writes. Several sessions on one account show
how changes one makes reach the others (RFC 3501 §7), and an imaplib client talks
to the engine through an in-process transport to show a real client understands it.
"""

from __future__ import annotations

import base64
import copy
import imaplib
import pickle
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from simulator.mail.headers import EPOCH
from simulator.mail.store import Account, FlagMode
from simulator.protocol.errors import LocalProtocolError
from simulator.protocol.imap import access
from simulator.protocol.imap import events as ev
from simulator.protocol.imap.server import (
    CommandCompleted,
    ConnectionClosed,
    Credentials,
    Event,
    IMAPServer,
    ServerConfig,
    StartTLS,
    summarize,
)
from simulator.protocol.imap.state import State
from simulator.protocol.imap.writers import Status

if TYPE_CHECKING:
    from typing_extensions import Buffer  # collections.abc.Buffer from Python 3.12

# mypy proves here that the store's Account is what the engine's access protocol describes.
_: access.MailAccount[FlagMode] = Account("x")

FIRST = b"From: Alice <alice@example.com>\r\nTo: bob@example.org\r\nSubject: one\r\n\r\nHello Bob.\r\n"
SECOND = b"From: carol@example.net\r\nSubject: two\r\n\r\nSecond body\r\n"
THIRD = b"Subject: three\r\n\r\n3\r\n"
PASSWORDS = {"bob": "builder"}
CAPS = "IMAP4rev1 SASL-IR LITERAL+ ENABLE IDLE NAMESPACE UIDPLUS MOVE UNSELECT"


def mailbox(*contents: bytes) -> Account:
    account = Account("bob@example.org")
    for n, content in enumerate(contents, 1):
        account.append(content, float(n * 60), f"q{n}")
    return account


class Node:
    """A node around one server: checks passwords, hands over the account, starts TLS when asked."""

    def __init__(self, account: Account | None = None, config: ServerConfig | None = None) -> None:
        self.account = account if account is not None else mailbox(FIRST, SECOND, THIRD)
        self.server = IMAPServer(config or ServerConfig())
        self.greeting = self.server.data_to_send()
        self.events: list[Event] = []

    def send(self, data: bytes) -> bytes:
        self.server.receive_data(data)
        for event in self.server.events():
            self.events.append(event)
            if isinstance(event, Credentials):
                if PASSWORDS.get(event.user) == event.password:
                    self.server.accept_login(self.account, FlagMode)
                else:
                    self.server.refuse_login()
        return self.server.data_to_send()

    def login(self) -> Node:
        assert self.send(b"a LOGIN bob builder\r\n") == f"a OK [CAPABILITY {CAPS}] Logged in\r\n".encode()
        return self

    def select(self, name: bytes = b"INBOX") -> Node:
        out = self.send(b"s SELECT " + name + b"\r\n")
        assert out.endswith(b"s OK [READ-WRITE] Select completed.\r\n"), out
        return self

    def state(self) -> State:
        return self.server.state

    def of(self, kind: type[Event]) -> list[Event]:
        return [e for e in self.events if isinstance(e, kind)]


def session(account: Account | None = None) -> Node:
    return Node(account).login().select()


# --- greeting, capabilities, login ---------------------------------------------------------------------------


def test_greeting_carries_capabilities_and_capability_lists_them() -> None:
    node = Node()
    assert node.greeting == f"* OK [CAPABILITY {CAPS} AUTH=PLAIN AUTH=LOGIN] mail.example.org ready.\r\n".encode()
    assert node.send(b"c1 CAPABILITY\r\n") == (
        f"* CAPABILITY {CAPS} AUTH=PLAIN AUTH=LOGIN\r\nc1 OK Capability completed.\r\n".encode()
    )
    node.login()
    assert node.send(b"c2 CAPABILITY\r\n") == f"* CAPABILITY {CAPS}\r\nc2 OK Capability completed.\r\n".encode()


def test_logindisabled_before_tls_and_starttls_offered() -> None:
    node = Node(config=ServerConfig(starttls=True, plaintext_requires_tls=True))
    assert node.greeting == f"* OK [CAPABILITY {CAPS} STARTTLS LOGINDISABLED] mail.example.org ready.\r\n".encode()
    out = node.send(b"a LOGIN bob builder\r\n")
    assert out.startswith(b"* BAD [ALERT] Plaintext authentication not allowed without SSL/TLS")
    assert out.endswith(
        b"a NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\r\n"
    )
    assert node.of(Credentials) == []
    plain = base64.b64encode(b"\0bob\0builder")
    assert node.send(b"b AUTHENTICATE PLAIN " + plain + b"\r\n").startswith(b"b NO [PRIVACYREQUIRED]")
    assert node.state() is State.NOT_AUTHENTICATED


def test_starttls_discards_pipelined_commands_and_then_login_works() -> None:
    node = Node(config=ServerConfig(starttls=True, plaintext_requires_tls=True))
    out = node.send(b"t STARTTLS\r\nx LOGIN bob builder\r\n")
    assert out == b"t OK Begin TLS negotiation now.\r\n"
    assert node.of(StartTLS) == [StartTLS("t")]
    assert node.send(b"y LOGIN bob builder\r\n") == b""  # clear text during the handshake is ignored
    node.server.tls_started()
    assert node.send(b"c CAPABILITY\r\n").startswith(f"* CAPABILITY {CAPS} AUTH=PLAIN AUTH=LOGIN\r\n".encode())
    assert node.send(b"t2 STARTTLS\r\n") == b"t2 BAD TLS is already active.\r\n"
    node.login()
    assert node.of(Credentials) == [Credentials("a", "bob", "builder")]


def test_starttls_refused_when_not_offered_or_after_login() -> None:
    node = Node()
    assert node.send(b"t STARTTLS\r\n") == b"t BAD TLS support isn't enabled.\r\n"
    with pytest.raises(LocalProtocolError):
        node.server.tls_started()
    node.login()
    assert node.send(b"t STARTTLS\r\n") == b"t BAD Command not permitted when logged in.\r\n"


def test_wrong_password_is_refused_and_state_stays() -> None:
    node = Node()
    assert node.send(b"a LOGIN bob wrong\r\n") == b"a NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
    assert node.state() is State.NOT_AUTHENTICATED
    node.login()
    assert node.state() is State.AUTHENTICATED
    assert node.send(b"b LOGIN bob builder\r\n") == b"b BAD Already logged in.\r\n"


def test_commands_before_login_are_refused() -> None:
    node = Node()
    assert node.send(b"a SELECT INBOX\r\n") == b"a BAD Please log in first.\r\n"
    assert node.send(b"b NOOP\r\n") == b"b OK NOOP completed.\r\n"


def test_events_must_be_answered_before_reading_on() -> None:
    server = IMAPServer()
    server.receive_data(b"a LOGIN bob builder\r\nb NOOP\r\n")
    events = server.events()
    assert isinstance(next(events), Credentials)
    with pytest.raises(LocalProtocolError):
        next(events)
    with pytest.raises(LocalProtocolError):
        IMAPServer().accept_login(Account("x"), FlagMode)


def test_authenticate_plain_with_initial_response_and_without() -> None:
    node = Node()
    plain = base64.b64encode(b"\0bob\0builder")
    assert node.send(b"a AUTHENTICATE PLAIN " + plain + b"\r\n").startswith(b"a OK [CAPABILITY")
    assert node.of(Credentials) == [Credentials("a", "bob", "builder", "PLAIN")]
    node = Node()
    assert node.send(b"a AUTHENTICATE PLAIN\r\n") == b"+ \r\n"
    assert node.send(plain + b"\r\n").startswith(b"a OK [CAPABILITY")
    assert node.state() is State.AUTHENTICATED


def test_authenticate_login_asks_for_user_then_password() -> None:
    node = Node()
    assert node.send(b"a AUTHENTICATE LOGIN\r\n") == b"+ " + base64.b64encode(b"Username:") + b"\r\n"
    assert node.send(base64.b64encode(b"bob") + b"\r\n") == b"+ " + base64.b64encode(b"Password:") + b"\r\n"
    assert node.send(base64.b64encode(b"wrong") + b"\r\n") == (
        b"a NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
    )
    assert node.of(Credentials) == [Credentials("a", "bob", "wrong", "LOGIN")]


def test_authenticate_cancel_bad_base64_and_unknown_mechanism() -> None:
    node = Node()
    node.send(b"a AUTHENTICATE PLAIN\r\n")
    assert node.send(b"*\r\n") == b"a BAD Authentication aborted by client.\r\n"
    node.send(b"b AUTHENTICATE PLAIN\r\n")
    assert node.send(b"%%%\r\n") == b"b BAD Invalid base64 data in continued response\r\n"
    assert node.send(b"c AUTHENTICATE CRAM-MD5\r\n") == b"c NO Unsupported authentication mechanism.\r\n"
    assert node.send(b"d NOOP\r\n") == b"d OK NOOP completed.\r\n"


# --- mailboxes -------------------------------------------------------------------------------------------------


def test_select_reports_the_mailbox_and_examine_is_read_only() -> None:
    account = mailbox(FIRST, SECOND, THIRD)
    account.inbox.flags[1] = frozenset({"\\Seen"})
    node = Node(account).login()
    out = node.send(b"e EXAMINE INBOX\r\n")
    assert out == (
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
        b"* OK [PERMANENTFLAGS ()] Read-only mailbox.\r\n"
        b"* 3 EXISTS\r\n"
        b"* 3 RECENT\r\n"
        b"* OK [UNSEEN 2] First unseen.\r\n"
        b"* OK [UIDVALIDITY 1] UIDs valid\r\n"
        b"* OK [UIDNEXT 4] Predicted next UID\r\n"
        b"e OK [READ-ONLY] Examine completed.\r\n"
    )
    out = node.send(b"s SELECT inbox\r\n")
    assert b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted.\r\n" in out
    assert b"* 3 RECENT\r\n" in out  # EXAMINE took no \Recent away (RFC 3501 §6.3.2)
    assert out.endswith(b"s OK [READ-WRITE] Select completed.\r\n")
    assert node.state() is State.SELECTED


def test_failed_select_closes_the_current_mailbox() -> None:
    node = session()
    assert node.send(b"x SELECT Nope\r\n") == b"x NO [NONEXISTENT] Mailbox doesn't exist: Nope\r\n"
    assert node.state() is State.AUTHENTICATED
    assert node.server.view is None
    assert node.send(b"f FETCH 1 FLAGS\r\n") == b"f BAD No mailbox selected.\r\n"


def test_create_delete_rename_subscribe() -> None:
    node = Node().login()
    assert node.send(b"1 CREATE Work/2026\r\n") == b"1 OK Create completed.\r\n"
    assert node.send(b"2 CREATE Work/2026\r\n") == b"2 NO [ALREADYEXISTS] Mailbox already exists\r\n"
    assert node.send(b"3 RENAME Work/2026 Work/Done\r\n") == b"3 OK Rename completed.\r\n"
    assert node.send(b"4 RENAME Nope X\r\n") == b"4 NO [NONEXISTENT] Mailbox doesn't exist: Nope\r\n"
    assert node.send(b"5 SUBSCRIBE Work/Done\r\n") == b"5 OK Subscribe completed.\r\n"
    assert node.send(b"6 SUBSCRIBE Nope\r\n") == b"6 NO [NONEXISTENT] Mailbox doesn't exist: Nope\r\n"
    assert node.send(b'7 LSUB "" *\r\n') == b'* LSUB () "/" Work/Done\r\n7 OK Lsub completed.\r\n'
    assert node.send(b"8 UNSUBSCRIBE Work/Done\r\n") == b"8 OK Unsubscribe completed.\r\n"
    assert node.send(b"9 UNSUBSCRIBE Work/Done\r\n") == b"9 NO [NONEXISTENT] Mailbox doesn't exist: Work/Done\r\n"
    assert node.send(b"10 DELETE Work/Done\r\n") == b"10 OK Delete completed.\r\n"
    assert node.send(b"11 DELETE INBOX\r\n") == b"11 NO [CANNOT] INBOX can't be deleted.\r\n"
    assert node.send(b"12 DELETE Nope\r\n") == b"12 NO [NONEXISTENT] Mailbox doesn't exist: Nope\r\n"
    assert node.send(b'13 CREATE "a*b"\r\n').startswith(b"13 NO [CANNOT] Folder names cannot hold")


def test_list_with_children_noselect_and_the_delimiter_query() -> None:
    node = Node().login()
    node.send(b"1 CREATE Work/2026\r\n")
    node.send(b"2 DELETE Work\r\n")  # Work has an inferior: it becomes \Noselect
    assert node.send(b'3 LIST "" ""\r\n') == b'* LIST (\\Noselect) "/" ""\r\n3 OK List completed.\r\n'
    assert node.send(b'4 LIST "" *\r\n') == (
        b'* LIST (\\HasNoChildren) "/" INBOX\r\n'
        b'* LIST (\\Noselect \\HasChildren) "/" Work\r\n'
        b'* LIST (\\HasNoChildren) "/" Work/2026\r\n'
        b"4 OK List completed.\r\n"
    )
    assert node.send(b"5 LIST Work/ %\r\n") == b'* LIST (\\HasNoChildren) "/" Work/2026\r\n5 OK List completed.\r\n'


def test_status_counts_without_selecting() -> None:
    node = Node().login()
    assert node.send(b"1 STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)\r\n") == (
        b"* STATUS INBOX (MESSAGES 3 RECENT 3 UIDNEXT 4 UIDVALIDITY 1 UNSEEN 3)\r\n1 OK Status completed.\r\n"
    )
    assert node.send(b"2 STATUS Nope (MESSAGES)\r\n") == b"2 NO [NONEXISTENT] Mailbox doesn't exist: Nope\r\n"


def test_namespace_enable_check_noop() -> None:
    node = session()
    assert node.send(b"1 NAMESPACE\r\n") == b'* NAMESPACE (("" "/")) NIL NIL\r\n1 OK Namespace completed.\r\n'
    assert node.send(b"2 ENABLE CONDSTORE\r\n") == b"* ENABLED\r\n2 OK Enabled.\r\n"
    assert node.send(b"3 CHECK\r\n") == b"3 OK Check completed.\r\n"
    assert node.send(b"4 NOOP\r\n") == b"4 OK NOOP completed.\r\n"


def test_logout_says_bye_closes_and_releases_recent() -> None:
    account = mailbox(FIRST)
    node = session(account)
    assert node.send(b"z LOGOUT\r\n") == b"* BYE Logging out\r\nz OK Logout completed.\r\n"
    assert node.server.closed
    assert node.state() is State.LOGOUT
    assert node.of(ConnectionClosed) == [ConnectionClosed("the client said LOGOUT")]
    assert account.inbox.views == []
    assert node.send(b"y NOOP\r\n") == b""


# --- APPEND and literals ---------------------------------------------------------------------------------------


def test_append_with_a_synchronising_literal_waits_for_the_continuation() -> None:
    node = Node().login()
    assert node.send(b"a APPEND INBOX (\\Seen) {12}\r\n") == b"+ Ready for literal data\r\n"
    assert node.send(b"Subject: x\r\n") == b""  # the literal is complete, the command line is not
    assert node.send(b"\r\n") == b"a OK [APPENDUID 1 4] Append completed.\r\n"
    stored = node.account.inbox.messages[4]
    assert stored.content == b"Subject: x\r\n"
    assert node.account.inbox.flags[4] == frozenset({"\\Seen"})


def test_append_with_literal_plus_sends_no_continuation_and_keeps_the_date() -> None:
    node = Node().login()
    out = node.send(b'a APPEND INBOX "02-Dec-2026 10:00:00 +0000" {5+}\r\nhello\r\n')
    assert out == b"a OK [APPENDUID 1 4] Append completed.\r\n"
    arrived = node.account.inbox.messages[4].arrived
    assert arrived == (datetime(2026, 12, 2, 10, 0, tzinfo=UTC) - EPOCH).total_seconds()


def test_append_empty_literal_and_to_a_missing_mailbox() -> None:
    node = Node().login()
    assert node.send(b"a APPEND INBOX {0+}\r\n\r\n") == b"a OK [APPENDUID 1 4] Append completed.\r\n"
    assert node.send(b"b APPEND Nope {1+}\r\nx\r\n") == b"b NO [TRYCREATE] Mailbox doesn't exist: Nope\r\n"


def test_append_into_the_selected_mailbox_reports_exists() -> None:
    node = session()
    node.server.now = 600.0
    out = node.send(b"a APPEND INBOX {3+}\r\nabc\r\n")
    assert out == b"* 4 EXISTS\r\n* 4 RECENT\r\na OK [APPENDUID 1 4] Append completed.\r\n"
    assert node.account.inbox.messages[4].arrived == 600.0
    assert node.send(b"f FETCH 4 INTERNALDATE\r\n").startswith(b'* 4 FETCH (INTERNALDATE " 6-Nov-2026 09:10:00 +0000")')


def test_over_limit_literal_is_refused_before_it_is_read_and_the_next_command_works() -> None:
    node = Node(config=ServerConfig(max_literal=10)).login()
    assert node.send(b"a APPEND INBOX {11}\r\n") == b"a BAD [TOOBIG] Literal too large.\r\n"
    assert node.send(b"b NOOP\r\n") == b"b OK NOOP completed.\r\n"
    # A non-synchronising literal is already on its way: rather than read it, the server hangs up,
    # and nothing of it is taken as commands.
    out = node.send(b"c APPEND INBOX {11+}\r\nd NOOP\r\nxx\r\ne NOOP\r\n")
    assert out == b"c BAD [TOOBIG] Literal too large.\r\n* BYE Literal too large, disconnecting.\r\n"
    assert node.server.closed
    assert len(node.account.inbox.messages) == 3


def test_a_too_long_line_is_answered_bad_and_the_session_goes_on() -> None:
    node = Node(config=ServerConfig(max_line=100)).login()
    out = node.send(b"a NOOP " + b"x" * 200 + b"\r\nb NOOP\r\n")
    assert out == b"a BAD Error in IMAP command received by server: Too long line.\r\nb OK NOOP completed.\r\n"


# --- FETCH -----------------------------------------------------------------------------------------------------


def test_fetch_flags_uid_size_and_internaldate() -> None:
    node = session()
    out = node.send(b"f FETCH 1:2 (FLAGS UID RFC822.SIZE INTERNALDATE)\r\n")
    first, second = len(FIRST), len(SECOND)
    assert (
        out
        == (
            f'* 1 FETCH (FLAGS (\\Recent) UID 1 RFC822.SIZE {first} INTERNALDATE " 6-Nov-2026 09:01:00 +0000")\r\n'
            f'* 2 FETCH (FLAGS (\\Recent) UID 2 RFC822.SIZE {second} INTERNALDATE " 6-Nov-2026 09:02:00 +0000")\r\n'
            "f OK Fetch completed.\r\n"
        ).encode()
    )


def test_uid_fetch_always_includes_the_uid_and_ignores_missing_uids() -> None:
    node = session()
    assert node.send(b"f UID FETCH 2:9 FLAGS\r\n") == (
        b"* 2 FETCH (UID 2 FLAGS (\\Recent))\r\n* 3 FETCH (UID 3 FLAGS (\\Recent))\r\nf OK Fetch completed.\r\n"
    )
    assert node.send(b"g UID FETCH 50 FLAGS\r\n") == b"g OK Fetch completed.\r\n"


def test_fetch_body_sets_seen_but_peek_does_not() -> None:
    node = session()
    assert node.send(b"p FETCH 1 BODY.PEEK[]\r\n") == (
        b"* 1 FETCH (BODY[] {%d}\r\n" % len(FIRST) + FIRST + b")\r\np OK Fetch completed.\r\n"
    )
    assert "\\Seen" not in node.account.inbox.flags[1]
    assert node.send(b"b FETCH 1 BODY[]\r\n") == (
        b"* 1 FETCH (BODY[] {%d}\r\n" % len(FIRST) + FIRST + b" FLAGS (\\Recent \\Seen))\r\nb OK Fetch completed.\r\n"
    )
    assert "\\Seen" in node.account.inbox.flags[1]
    # Already seen: nothing changes, so no FLAGS is added.
    assert (
        node.send(b"c FETCH 1 BODY[TEXT]\r\n")
        == b"* 1 FETCH (BODY[TEXT] {12}\r\nHello Bob.\r\n)\r\nc OK Fetch completed.\r\n"
    )


def test_fetch_sections_partial_and_rfc822_items() -> None:
    node = session()
    assert node.send(b"a FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]\r\n") == (
        b"* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {16}\r\nSubject: one\r\n\r\n)\r\na OK Fetch completed.\r\n"
    )
    assert node.send(b"b FETCH 1 BODY.PEEK[TEXT]<0.5>\r\n") == (
        b"* 1 FETCH (BODY[TEXT]<0> {5}\r\nHello)\r\nb OK Fetch completed.\r\n"
    )
    header = FIRST.split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    assert node.send(b"c FETCH 1 RFC822.HEADER\r\n") == (
        b"* 1 FETCH (RFC822.HEADER {%d}\r\n" % len(header) + header + b")\r\nc OK Fetch completed.\r\n"
    )
    assert "\\Seen" not in node.account.inbox.flags[1]  # RFC822.HEADER is a peek
    out = node.send(b"d FETCH 2 RFC822\r\n")
    assert out.startswith(b"* 2 FETCH (RFC822 {%d}\r\n" % len(SECOND) + SECOND + b" FLAGS (\\Recent \\Seen))")
    assert node.send(b"e FETCH 1 BODY.PEEK[7]\r\n") == b"* 1 FETCH (BODY[7] NIL)\r\ne OK Fetch completed.\r\n"


def test_fetch_envelope_and_bodystructure() -> None:
    node = session()
    out = node.send(b"f FETCH 1 (ENVELOPE BODYSTRUCTURE BODY)\r\n")
    assert out.startswith(b'* 1 FETCH (ENVELOPE (NIL "one" (("Alice" NIL "alice" "example.com"))')
    assert b'BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 1 NIL NIL NIL NIL)' in out
    assert out.endswith(
        b'BODY ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 1))\r\nf OK Fetch completed.\r\n'
    )


def test_fetch_in_examine_sets_no_seen() -> None:
    node = Node().login()
    node.send(b"e EXAMINE INBOX\r\n")
    out = node.send(b"f FETCH 1 BODY[]\r\n")
    assert b"FLAGS" not in out
    assert node.account.inbox.flags[1] == frozenset()


def test_sequence_numbers_out_of_range_are_bad() -> None:
    node = session()
    assert node.send(b"f FETCH 4 FLAGS\r\n") == b"f BAD Error in IMAP command FETCH: Invalid messageset\r\n"
    assert node.send(b"g STORE 2:7 +FLAGS \\Seen\r\n") == b"g BAD Error in IMAP command STORE: Invalid messageset\r\n"
    assert node.send(b"h COPY 9 INBOX\r\n") == b"h BAD Error in IMAP command COPY: Invalid messageset\r\n"
    assert node.account.inbox.flags[2] == frozenset()
    empty = Node(Account("e")).login().select()
    assert empty.send(b"f FETCH 1:* FLAGS\r\n") == b"f BAD Error in IMAP command FETCH: Invalid messageset\r\n"


# --- STORE, COPY, MOVE, EXPUNGE, CLOSE ---------------------------------------------------------------------------


def test_store_modes_silent_and_uid() -> None:
    node = session()
    assert node.send(b"1 STORE 1 +FLAGS (\\Seen \\Flagged)\r\n") == (
        b"* 1 FETCH (FLAGS (\\Recent \\Flagged \\Seen))\r\n1 OK Store completed.\r\n"
    )
    assert node.send(b"2 STORE 1 -FLAGS (\\Flagged)\r\n") == (
        b"* 1 FETCH (FLAGS (\\Recent \\Seen))\r\n2 OK Store completed.\r\n"
    )
    assert node.send(b"3 STORE 1:2 FLAGS.SILENT (\\Answered)\r\n") == b"3 OK Store completed.\r\n"
    assert node.account.inbox.flags[2] == frozenset({"\\Answered"})
    assert node.send(b"4 UID STORE 3 +FLAGS (Work)\r\n") == (
        b"* 3 FETCH (FLAGS (\\Recent Work) UID 3)\r\n"
        b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft Work)\r\n"  # a new keyword (RFC 3501 §7.2.6)
        b"4 OK Store completed.\r\n"
    )


def test_store_refusals() -> None:
    node = session()
    assert node.send(b"1 STORE 1 +FLAGS (\\Recent)\r\n").startswith(b"1 NO [CANNOT] ")
    node.send(b"e EXAMINE INBOX\r\n")
    assert node.send(b"2 STORE 1 +FLAGS (\\Seen)\r\n") == b"2 NO Mailbox is read-only.\r\n"
    assert node.send(b"3 EXPUNGE\r\n") == b"3 NO Mailbox is read-only.\r\n"
    assert node.send(b"4 MOVE 1 INBOX\r\n") == b"4 NO Mailbox is read-only.\r\n"


def test_copy_reports_copyuid_and_trycreate() -> None:
    node = session()
    node.send(b"c CREATE Archive\r\n")
    assert node.send(b"1 COPY 1:2 Archive\r\n") == b"1 OK [COPYUID 2 1:2 1:2] Copy completed.\r\n"
    assert node.send(b"2 UID COPY 3 Archive\r\n") == b"2 OK [COPYUID 2 3 3] Copy completed.\r\n"
    assert node.send(b"3 COPY 1 Nope\r\n") == b"3 NO [TRYCREATE] Mailbox doesn't exist: Nope\r\n"
    assert node.send(b"4 UID COPY 99 Archive\r\n") == b"4 OK No messages found.\r\n"
    assert len(node.account.folders["Archive"].messages) == 3
    assert len(node.account.inbox.messages) == 3


def test_copy_into_the_selected_mailbox_reports_the_new_messages() -> None:
    node = session()
    assert node.send(b"1 COPY 1 INBOX\r\n") == b"* 4 EXISTS\r\n* 4 RECENT\r\n1 OK [COPYUID 1 1 4] Copy completed.\r\n"


def test_move_sends_copyuid_untagged_then_expunges_then_ok() -> None:
    node = session()
    node.send(b"c CREATE Archive\r\n")
    assert node.send(b"1 UID MOVE 1,3 Archive\r\n") == (
        b"* OK [COPYUID 2 1,3 1:2] Moved UIDs.\r\n* 1 EXPUNGE\r\n* 2 EXPUNGE\r\n1 OK Move completed.\r\n"
    )
    assert list(node.account.inbox.messages) == [2]
    assert node.send(b"2 MOVE 1 Nope\r\n") == b"2 NO [TRYCREATE] Mailbox doesn't exist: Nope\r\n"


def test_expunge_and_uid_expunge() -> None:
    node = session()
    node.send(b"1 STORE 1:3 +FLAGS.SILENT (\\Deleted)\r\n")
    assert node.send(b"2 UID EXPUNGE 2\r\n") == b"* 2 EXPUNGE\r\n2 OK Expunge completed.\r\n"
    assert node.send(b"3 EXPUNGE\r\n") == b"* 1 EXPUNGE\r\n* 1 EXPUNGE\r\n3 OK Expunge completed.\r\n"
    assert node.account.inbox.messages == {}


def test_close_expunges_silently_and_unselect_does_not() -> None:
    node = session()
    node.send(b"1 STORE 1 +FLAGS.SILENT (\\Deleted)\r\n")
    assert node.send(b"2 UNSELECT\r\n") == b"2 OK Unselect completed.\r\n"
    assert node.state() is State.AUTHENTICATED
    assert len(node.account.inbox.messages) == 3
    node.select()
    assert node.send(b"3 CLOSE\r\n") == b"3 OK Close completed.\r\n"
    assert node.state() is State.AUTHENTICATED
    assert list(node.account.inbox.messages) == [2, 3]
    assert node.send(b"4 CLOSE\r\n") == b"4 BAD No mailbox selected.\r\n"


# --- SEARCH ----------------------------------------------------------------------------------------------------


def test_search_forms() -> None:
    node = session()
    node.send(b"0 STORE 2 +FLAGS.SILENT (\\Seen)\r\n")
    assert node.send(b"1 SEARCH ALL\r\n") == b"* SEARCH 1 2 3\r\n1 OK Search completed.\r\n"
    assert node.send(b"2 SEARCH UNSEEN\r\n") == b"* SEARCH 1 3\r\n2 OK Search completed.\r\n"
    assert node.send(b"3 SEARCH SUBJECT two\r\n") == b"* SEARCH 2\r\n3 OK Search completed.\r\n"
    assert node.send(b"4 UID SEARCH OR FROM alice TEXT three\r\n") == b"* SEARCH 1 3\r\n4 OK Search completed.\r\n"
    assert node.send(b"5 SEARCH CHARSET UTF-8 NOT 2:*\r\n") == b"* SEARCH 1\r\n5 OK Search completed.\r\n"
    assert node.send(b"6 SEARCH BODY nothing\r\n") == b"* SEARCH\r\n6 OK Search completed.\r\n"
    assert node.send(b"7 SEARCH CHARSET KOI8-R ALL\r\n") == (
        b"7 NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset\r\n"
    )
    assert node.send(b"8 SEARCH SINCE 6-Nov-2026 SMALLER 50\r\n") == b"* SEARCH 3\r\n8 OK Search completed.\r\n"


# --- several sessions on one mailbox -------------------------------------------------------------------------------


def test_recent_goes_to_exactly_one_session() -> None:
    account = mailbox(FIRST, SECOND)
    one = Node(account).login()
    two = Node(account).login()
    assert b"* 2 RECENT\r\n" in one.send(b"s SELECT INBOX\r\n")
    assert b"* 0 RECENT\r\n" in two.send(b"s SELECT INBOX\r\n")
    account.append(THIRD, 300.0, "q3")
    assert one.send(b"n NOOP\r\n") == b"* 3 EXISTS\r\n* 3 RECENT\r\nn OK NOOP completed.\r\n"
    assert two.send(b"n NOOP\r\n") == b"* 3 EXISTS\r\n* 0 RECENT\r\nn OK NOOP completed.\r\n"


def test_a_store_in_one_session_reaches_the_other_as_fetch_flags() -> None:
    account = mailbox(FIRST, SECOND)
    one, two = session(account), session(account)
    one.send(b"1 STORE 2 +FLAGS.SILENT (\\Flagged)\r\n")
    assert two.send(b"n NOOP\r\n") == b"* 2 FETCH (FLAGS (\\Flagged))\r\nn OK NOOP completed.\r\n"
    assert one.send(b"n NOOP\r\n") == b"n OK NOOP completed.\r\n"  # the actor was answered already


def test_an_expunge_waits_during_fetch_and_comes_after() -> None:
    account = mailbox(FIRST, SECOND, THIRD)
    one, two = session(account), session(account)
    one.send(b"1 STORE 2 +FLAGS.SILENT (\\Deleted)\r\n")
    assert one.send(b"2 EXPUNGE\r\n") == b"* 2 EXPUNGE\r\n2 OK Expunge completed.\r\n"
    out = two.send(b"f FETCH 3 UID\r\n")  # still message 3 for this client, and no EXPUNGE now
    assert out == b"* 3 FETCH (UID 3)\r\nf OK Fetch completed.\r\n"
    # The expunged message keeps its number but matches nothing (RFC 2180 §4.1.3).
    assert two.send(b"g SEARCH ALL\r\n") == b"* SEARCH 1 3\r\ng OK Search completed.\r\n"
    assert two.send(b"n NOOP\r\n") == b"* 2 EXPUNGE\r\nn OK NOOP completed.\r\n"
    assert two.send(b"h UID FETCH 3 UID\r\n") == b"* 2 FETCH (UID 3)\r\nh OK Fetch completed.\r\n"


def test_uid_commands_may_carry_the_expunges() -> None:
    account = mailbox(FIRST, SECOND)
    one, two = session(account), session(account)
    one.send(b"1 STORE 1 +FLAGS.SILENT (\\Deleted)\r\n1 EXPUNGE\r\n")
    assert two.send(b"u UID SEARCH ALL\r\n") == b"* SEARCH 2\r\n* 1 EXPUNGE\r\nu OK Search completed.\r\n"


def test_idle_reports_a_delivery_when_woken_and_done_ends_it() -> None:
    account = mailbox(FIRST)
    node = session(account)
    assert node.send(b"i IDLE\r\n") == b"+ idling\r\n"
    assert node.server.idling
    assert node.server.wake() is False  # nothing new yet
    account.append(SECOND, 120.0, "q2")
    assert node.server.wake() is True
    assert node.server.data_to_send() == b"* 2 EXISTS\r\n* 2 RECENT\r\n"
    assert node.send(b"DONE\r\n") == b"i OK Idle completed.\r\n"
    assert not node.server.idling
    assert node.server.wake() is False
    assert node.send(b"n NOOP\r\n") == b"n OK NOOP completed.\r\n"


def test_idle_sees_another_sessions_expunge_and_anything_but_done_ends_it() -> None:
    account = mailbox(FIRST, SECOND)
    one, two = session(account), session(account)
    two.send(b"i IDLE\r\n")
    one.send(b"1 STORE 1 +FLAGS.SILENT (\\Deleted)\r\n2 EXPUNGE\r\n")
    two.server.wake()
    assert two.server.data_to_send() == b"* 1 EXPUNGE\r\n"
    assert two.send(b"x NOOP\r\n") == b"i BAD Expected DONE.\r\n"
    assert two.send(b"y NOOP\r\n") == b"y OK NOOP completed.\r\n"


def test_idle_before_select_and_in_the_wrong_state() -> None:
    node = Node()
    assert node.send(b"i IDLE\r\n") == b"i BAD Please log in first.\r\n"
    node.login()
    assert node.send(b"i IDLE\r\n") == b"+ idling\r\n"
    assert node.send(b"done\r\n") == b"i OK Idle completed.\r\n"


def test_connection_loss_closes_the_view_and_releases_recent() -> None:
    account = mailbox(FIRST)
    node = session(account)
    node.send(b"")
    assert node.of(ConnectionClosed) == [ConnectionClosed("the client closed the connection")]
    assert node.server.closed and account.inbox.views == []
    assert b"* 0 RECENT\r\n" in session(account).send(b"s SELECT INBOX\r\n")  # \Recent ended with that session


# --- errors ----------------------------------------------------------------------------------------------------


def test_unknown_and_malformed_commands_are_bad() -> None:
    node = Node().login()
    assert node.send(b"a FROB\r\n") == b"a BAD Error in IMAP command FROB: Unknown command.\r\n"
    assert node.send(b"+++\r\n") == b"* BAD Error in IMAP command received by server.\r\n"
    assert node.send(b"b SELECT\r\n").startswith(b"b BAD Error in IMAP command SELECT: ")
    assert node.send(b"c FETCH 1 FLAGS\r\n") == b"c BAD No mailbox selected.\r\n"
    assert node.send(b"d NOOP\r\n") == b"d OK NOOP completed.\r\n"


def test_too_many_bad_commands_in_a_row_end_the_connection() -> None:
    node = Node(config=ServerConfig(max_bad_commands=3)).login()
    node.send(b"a FROB\r\nb FROB\r\nc NOOP\r\nd FROB\r\ne FROB\r\n")  # the NOOP resets the count
    assert not node.server.closed
    out = node.send(b"f FROB\r\ng NOOP\r\n")
    assert out == b"f BAD Error in IMAP command FROB: Unknown command.\r\n* BYE Too many invalid IMAP commands.\r\n"
    assert node.server.closed
    assert node.of(ConnectionClosed) == [ConnectionClosed("too many invalid commands")]


def test_every_output_is_annotated_and_summaries_elide_literals() -> None:
    node = session()
    node.server.receive_data(b"f FETCH 1 (UID BODY.PEEK[])\r\n")
    list(node.server.events())
    outputs = node.server.outgoing()
    assert [o.summary for o in outputs] == [f"* 1 FETCH (UID 1 BODY[] {{{len(FIRST)}}})", "f OK Fetch completed."]
    assert all(o.explain and re.match(r"RFC \d+", o.rfc) for o in outputs)
    assert outputs[1].response is not None and outputs[1].response.status is Status.OK
    assert summarize(b"* 1 FETCH (BODY[] {3}\r\na\r\n RFC822.SIZE 3)\r\n") == "* 1 FETCH (BODY[] {3} RFC822.SIZE 3)"


def test_completions_are_reported_as_events() -> None:
    node = session()
    node.send(b"u UID FETCH 1 FLAGS\r\nx FROB\r\n")
    done = node.of(CommandCompleted)
    assert CommandCompleted("u", "UID FETCH", Status.OK) in done
    assert CommandCompleted("x", "FROB", Status.BAD) in done
    assert CommandCompleted("s", "SELECT", Status.OK) in done


def test_the_default_epoch_is_the_simulations() -> None:
    assert ServerConfig().epoch == EPOCH


def test_store_mode_names_match_the_store() -> None:
    assert {m.value for m in ev.StoreMode} == {m.value for m in FlagMode}


# --- a real client ---------------------------------------------------------------------------------------------


class EngineIMAP4(imaplib.IMAP4):
    """imaplib talking to the engine in-process: send() feeds it, read()/readline() take its answer."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._incoming = bytearray()
        super().__init__("mail.example.org")

    def open(self, host: str = "", port: int = 143, timeout: float | None = None) -> None:
        self.host, self.port = host, port
        self._incoming += self.node.greeting

    def read(self, size: int) -> bytes:
        data = bytes(self._incoming[:size])
        del self._incoming[:size]
        return data

    def readline(self) -> bytes:
        end = self._incoming.find(b"\n") + 1 or len(self._incoming)
        return self.read(end)

    def send(self, data: Buffer) -> None:
        self._incoming += self.node.send(bytes(data))

    def shutdown(self) -> None:
        self.node.send(b"")


def test_imaplib_reads_flags_searches_appends_and_logs_out() -> None:
    node = Node()
    client = EngineIMAP4(node)
    assert "IDLE" in client.capabilities
    assert client.login("bob", "builder")[0] == "OK"
    assert client.select("INBOX") == ("OK", [b"3"])
    assert client.search(None, "SUBJECT", "two") == ("OK", [b"2"])
    typ, fetched = client.fetch("1", "(BODY.PEEK[] FLAGS)")
    assert typ == "OK" and fetched[0] == (b"1 (BODY[] {%d}" % len(FIRST), FIRST)
    assert client.uid("STORE", "2", "+FLAGS", r"(\Flagged)") == ("OK", [b"2 (FLAGS (\\Recent \\Flagged) UID 2)"])
    message = b"Subject: new\r\n\r\nx\r\n"
    appended = client.append("INBOX", r"(\Seen)", imaplib.Time2Internaldate(1_800_000_000), message)
    assert appended == ("OK", [b"[APPENDUID 1 4] Append completed."])
    assert client.list()[1][0] == b'(\\HasNoChildren) "/" INBOX'
    assert client.logout()[0] == "BYE"
    assert node.server.closed


def test_a_snapshot_of_account_and_engine_carries_on_on_its_own() -> None:
    node = session()
    node.send(b"f FETCH 1 BODY.PEEK[]\r\n")
    snapshot = copy.deepcopy(node)
    assert snapshot.send(b"1 STORE 1 +FLAGS (\\Seen)\r\n") == (
        b"* 1 FETCH (FLAGS (\\Recent \\Seen))\r\n1 OK Store completed.\r\n"
    )
    assert node.account.inbox.flags[1] == frozenset()
    assert (
        node.send(b"2 STORE 1 +FLAGS (\\Seen)\r\n")
        == b"* 1 FETCH (FLAGS (\\Recent \\Seen))\r\n2 OK Store completed.\r\n"
    )
    restored = pickle.loads(pickle.dumps(node))
    assert restored.send(b"3 FETCH 1 FLAGS\r\n") == b"* 1 FETCH (FLAGS (\\Recent \\Seen))\r\n3 OK Fetch completed.\r\n"


def test_untagged_data_carries_a_learners_explanation() -> None:
    account = mailbox(FIRST)
    node = session(account)
    account.append(SECOND, 120.0, "q2")
    node.server.receive_data(b"n NOOP\r\n")
    list(node.server.events())
    exists, recent, done = node.server.outgoing()
    assert (exists.summary, exists.explain, exists.rfc) == (
        "* 2 EXISTS",
        "The mailbox now holds 2 messages.",
        "RFC 3501 §7.3.1",
    )
    assert recent.rfc == "RFC 3501 §7.3.2" and recent.response is None
    assert done.response is not None and done.rfc == "RFC 3501 §6.1.2"
