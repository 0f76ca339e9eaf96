"""What is legal when: the IMAP server's states and its transition table (RFC 3501 §3).

The table is the single source of truth. The engine consults it for every
command; a missing key means "not valid in this state" (a tagged BAD), and the
views draw the state diagram from the same dict. A transition is taken when the
command completes with OK: a failed LOGIN or SELECT leaves the state as it was,
except that a failed SELECT or EXAMINE in the selected state closes the mailbox
(RFC 3501 §6.3.1), which `FAILED_TRANSITIONS` records.

    +----------------------+  LOGIN, AUTHENTICATE  +---------------+  SELECT, EXAMINE  +----------+
    |  NOT_AUTHENTICATED   | --------------------> | AUTHENTICATED | <---------------> | SELECTED |
    +----------------------+                       +---------------+  CLOSE, UNSELECT  +----------+
               |  LOGOUT (from any state)                  |                              |
               +-------------------------------------------+-------------> LOGOUT <-------+
"""

from __future__ import annotations

from enum import Enum

from simulator.protocol.imap import events as ev


class State(Enum):
    """Server states, as RFC 3501 §3 names them."""

    NOT_AUTHENTICATED = "not authenticated: LOGIN or AUTHENTICATE first (RFC 3501 §3.1)"
    AUTHENTICATED = "authenticated: a mailbox may be selected (RFC 3501 §3.2)"
    SELECTED = "a mailbox is selected: its messages may be read (RFC 3501 §3.3)"
    LOGOUT = "logging out: the connection is closing (RFC 3501 §3.4)"


S = State
CommandType = type[ev.Command]

# Valid in every state, and leave it unchanged (RFC 3501 §6.1).
ANY_STATE: tuple[CommandType, ...] = (ev.Capability, ev.Noop)
# Valid only before authentication (RFC 3501 §6.2).
NOT_AUTHENTICATED_ONLY: tuple[CommandType, ...] = (ev.StartTLS,)
# Valid once authenticated, whether or not a mailbox is selected (RFC 3501 §6.3).
AUTHENTICATED_STAY: tuple[CommandType, ...] = (
    ev.Create, ev.Delete, ev.Rename, ev.Subscribe, ev.Unsubscribe, ev.List, ev.Lsub,
    ev.Status, ev.Append, ev.Namespace, ev.Enable, ev.Idle,
)  # fmt: skip
# Valid only with a mailbox selected, and staying there (RFC 3501 §6.4, RFC 6851, RFC 4315).
SELECTED_STAY: tuple[CommandType, ...] = (
    ev.Check, ev.Expunge, ev.Search, ev.Fetch, ev.Store, ev.Copy, ev.Move,
)  # fmt: skip

TRANSITIONS: dict[tuple[State, CommandType], State] = {
    **{(state, kind): state for state in (S.NOT_AUTHENTICATED, S.AUTHENTICATED, S.SELECTED) for kind in ANY_STATE},
    **{(state, ev.Logout): S.LOGOUT for state in (S.NOT_AUTHENTICATED, S.AUTHENTICATED, S.SELECTED)},
    (S.NOT_AUTHENTICATED, ev.StartTLS): S.NOT_AUTHENTICATED,  # RFC 3501 §6.2.1
    (S.NOT_AUTHENTICATED, ev.Login): S.AUTHENTICATED,  # RFC 3501 §6.2.3
    (S.NOT_AUTHENTICATED, ev.Authenticate): S.AUTHENTICATED,  # RFC 3501 §6.2.2
    **{(state, kind): state for state in (S.AUTHENTICATED, S.SELECTED) for kind in AUTHENTICATED_STAY},
    # SELECT and EXAMINE open a mailbox, from either state (RFC 3501 §6.3.1, §6.3.2).
    **{(state, kind): S.SELECTED for state in (S.AUTHENTICATED, S.SELECTED) for kind in (ev.Select, ev.Examine)},
    **{(S.SELECTED, kind): S.SELECTED for kind in SELECTED_STAY},
    (S.SELECTED, ev.Close): S.AUTHENTICATED,  # RFC 3501 §6.4.2: expunges, then closes
    (S.SELECTED, ev.Unselect): S.AUTHENTICATED,  # RFC 3691: closes without expunging
}

# Where a command that completed with NO (or BAD) leaves the server, when that is not where it was.
FAILED_TRANSITIONS: dict[tuple[State, CommandType], State] = {
    (S.SELECTED, ev.Select): S.AUTHENTICATED,  # RFC 3501 §6.3.1: a failed SELECT closes the current mailbox
    (S.SELECTED, ev.Examine): S.AUTHENTICATED,
    **{(state, ev.Logout): S.LOGOUT for state in (S.NOT_AUTHENTICATED, S.AUTHENTICATED, S.SELECTED)},
}


def is_valid(state: State, kind: CommandType) -> bool:
    """Whether a command may be issued in this state (a missing key in TRANSITIONS means it may not)."""
    return (state, kind) in TRANSITIONS


def next_state(state: State, kind: CommandType, *, ok: bool = True) -> State:
    """The state after a command that completed with OK (or, with `ok=False`, with NO).

    Raises KeyError for a command not valid in `state`: check `is_valid` first.
    """
    target = TRANSITIONS[(state, kind)]
    if ok:
        return target
    return FAILED_TRANSITIONS.get((state, kind), state)


def valid_commands(state: State) -> frozenset[CommandType]:
    """The command types valid in a state, for help texts and the state diagram."""
    return frozenset(kind for (source, kind) in TRANSITIONS if source is state)
