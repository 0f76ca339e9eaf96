"""What is legal when: the POP3 server's states and its transition table.

The table is the single source of truth. The engine consults it for every
command: a missing key means "not allowed in this state" (-ERR), and the views
draw the state diagram from the same dict. A transition is taken when the
command succeeds; a refused command leaves the state as it was (a refused PASS
stays in AUTHORIZATION, RFC 1939 §4).
"""

from __future__ import annotations

from enum import Enum

from simulator.protocol.pop3 import events as ev


class State(Enum):
    """Server states, named as RFC 1939 §3 names them, plus the SASL and STLS exchanges."""

    AUTHORIZATION = "greeting sent; the client must identify itself"
    AUTH = "SASL exchange in progress (RFC 5034)"
    STLS = "TLS handshake in progress (RFC 2595)"
    TRANSACTION = "logged in, maildrop locked; messages may be read and marked"
    UPDATE = "QUIT received: marked messages are being removed"
    CLOSED = "connection closed"


class TLSEstablished(ev.Event):
    """The host finished the TLS handshake (`POP3Server.tls_started()`)."""


S = State
# Commands that read or mark the maildrop: legal only once logged in (RFC 1939 §5).
_MAILDROP = (ev.Stat, ev.List, ev.Retr, ev.Top, ev.Dele, ev.Rset, ev.Noop, ev.Uidl)

TRANSITIONS: dict[tuple[State, type[ev.Event]], State] = {
    # AUTHORIZATION (RFC 1939 §4): identify, or upgrade to TLS first, or leave.
    (S.AUTHORIZATION, ev.Capa): S.AUTHORIZATION,  # RFC 2449 §5: legal in both states
    (S.AUTHORIZATION, ev.User): S.AUTHORIZATION,
    (S.AUTHORIZATION, ev.Credentials): S.TRANSACTION,  # PASS accepted
    (S.AUTHORIZATION, ev.ApopCredentials): S.TRANSACTION,  # RFC 1939 §7
    (S.AUTHORIZATION, ev.Auth): S.AUTH,  # RFC 5034 §4
    (S.AUTH, ev.AuthCredentials): S.TRANSACTION,
    (S.AUTH, ev.AuthAborted): S.AUTHORIZATION,  # cancelled, malformed or refused
    (S.AUTHORIZATION, ev.StartTLS): S.STLS,  # RFC 2595 §4: only before login
    (S.STLS, TLSEstablished): S.AUTHORIZATION,  # RFC 2595 §4: start over, knowing nothing
    (S.AUTHORIZATION, ev.Quit): S.CLOSED,  # RFC 1939 §6: no UPDATE without a TRANSACTION
    # TRANSACTION (RFC 1939 §5): numbers are fixed for the whole session.
    (S.TRANSACTION, ev.Capa): S.TRANSACTION,
    **{(S.TRANSACTION, kind): S.TRANSACTION for kind in _MAILDROP},
    (S.TRANSACTION, ev.Quit): S.UPDATE,  # RFC 1939 §6
    # UPDATE: the node deletes, the server says goodbye.
    (S.UPDATE, ev.Commit): S.CLOSED,
}
