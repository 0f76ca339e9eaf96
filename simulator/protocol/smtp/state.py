"""What is legal when: the SMTP server's states and its transition table.

The table is the single source of truth. The engine consults it for every
command, a missing key means "not allowed here" (503), and the views draw the
state diagram from the same dict, so the picture cannot drift from the code.
A transition is taken when the command succeeds; a refused command leaves the
state as it was (a refused RCPT does not open the RCPT state).
"""

from __future__ import annotations

from enum import Enum

from simulator.protocol.smtp import events as ev
from simulator.protocol.smtp import replies
from simulator.protocol.smtp.replies import Reply


class State(Enum):
    """Server states, named after the stages of RFC 5321 §3 and §4.1.4."""

    CONNECTED = "connected, greeting not sent yet"
    GREETED = "greeting sent, waiting for EHLO or HELO"
    READY = "session open, no mail transaction"
    MAIL = "sender accepted, waiting for RCPT"
    RCPT = "recipients accepted, DATA or BDAT may follow"
    DATA = "reading the message up to the lone dot"
    BDAT = "reading the message in BDAT chunks"
    AUTH = "SASL exchange in progress"
    STARTTLS = "TLS handshake in progress"
    CLOSED = "connection closed"


class TLSEstablished(ev.Event):
    """The host finished the TLS handshake (`SMTPServer.tls_started()`)."""


S = State
# Commands that never change the state, legal wherever a command line is read.
_STAY = (ev.Noop, ev.Help, ev.Vrfy)
_SESSION = (S.GREETED, S.READY, S.MAIL, S.RCPT, S.BDAT)

TRANSITIONS: dict[tuple[State, type[ev.Event]], State] = {
    **{(state, kind): state for state in _SESSION for kind in _STAY},
    **{(state, ev.Quit): S.CLOSED for state in _SESSION},
    # EHLO/HELO start over: RFC 5321 §4.1.4 says they reset any transaction.
    **{(state, kind): S.READY for state in _SESSION for kind in (ev.Ehlo, ev.Helo)},
    (S.GREETED, ev.Rset): S.GREETED,
    **{(state, ev.Rset): S.READY for state in (S.READY, S.MAIL, S.RCPT, S.BDAT)},
    (S.READY, ev.MailFrom): S.MAIL,
    (S.READY, ev.StartTLS): S.STARTTLS,  # RFC 3207 §4
    (S.STARTTLS, TLSEstablished): S.GREETED,  # RFC 3207 §4.2: start again from EHLO
    (S.READY, ev.Auth): S.AUTH,  # RFC 4954 §4
    (S.AUTH, ev.AuthCredentials): S.READY,
    (S.MAIL, ev.RcptTo): S.RCPT,
    (S.RCPT, ev.RcptTo): S.RCPT,
    (S.RCPT, ev.Data): S.DATA,  # RFC 5321 §4.1.1.4
    (S.RCPT, ev.Bdat): S.BDAT,  # RFC 3030 §2
    (S.BDAT, ev.Bdat): S.BDAT,
    (S.DATA, ev.DataComplete): S.READY,
    (S.BDAT, ev.DataComplete): S.READY,
}


def sequence_error(state: State, kind: type[ev.Event]) -> Reply:
    """The 503 (or 554) a command gets where the table has no transition for it.

    The texts and choices are Postfix's smtpd, which names what is missing rather
    than just saying "bad sequence".
    """
    in_transaction = state in (S.MAIL, S.RCPT, S.BDAT)
    if kind is ev.RcptTo:
        return replies.DATA_AFTER_BDAT if state is S.BDAT else replies.NEED_MAIL
    if kind in (ev.Data, ev.Bdat):
        if state is S.BDAT:
            return replies.DATA_AFTER_BDAT
        # RFC 2920 §3.1: a transaction whose recipients were all refused gets 554 at DATA.
        return replies.NO_VALID_RECIPIENTS if in_transaction else replies.NEED_RCPT
    if state is S.GREETED:
        return replies.SEND_HELO_FIRST
    if kind is ev.MailFrom and in_transaction:
        return replies.DATA_AFTER_BDAT if state is S.BDAT else replies.NESTED_MAIL
    if kind is ev.Auth and in_transaction:
        return replies.AUTH_IN_TRANSACTION
    if kind is ev.StartTLS and in_transaction:
        return replies.TLS_IN_TRANSACTION
    return replies.BAD_SEQUENCE
