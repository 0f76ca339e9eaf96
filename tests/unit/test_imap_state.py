"""The IMAP state machine as a table (command types only, no bytes), against RFC 3501 §3 and §6."""

from __future__ import annotations

import pytest

from simulator.protocol.imap import events as ev
from simulator.protocol.imap.state import (
    FAILED_TRANSITIONS,
    TRANSITIONS,
    CommandType,
    State,
    is_valid,
    next_state,
    valid_commands,
)

S = State
NOT_AUTH, AUTH, SELECTED, LOGOUT = S.NOT_AUTHENTICATED, S.AUTHENTICATED, S.SELECTED, S.LOGOUT

# (command, states where it is valid) — the lists of RFC 3501 §6.1 to §6.4 plus extensions.
VALIDITY: list[tuple[CommandType, set[State]]] = [
    (ev.Capability, {NOT_AUTH, AUTH, SELECTED}),
    (ev.Noop, {NOT_AUTH, AUTH, SELECTED}),
    (ev.Logout, {NOT_AUTH, AUTH, SELECTED}),
    (ev.StartTLS, {NOT_AUTH}),
    (ev.Authenticate, {NOT_AUTH}),
    (ev.Login, {NOT_AUTH}),
    *[
        (kind, {AUTH, SELECTED})
        for kind in (
            ev.Select,
            ev.Examine,
            ev.Create,
            ev.Delete,
            ev.Rename,
            ev.Subscribe,
            ev.Unsubscribe,
            ev.List,
            ev.Lsub,
            ev.Status,
            ev.Append,
            ev.Namespace,
            ev.Enable,
            ev.Idle,
        )
    ],
    *[
        (kind, {SELECTED})
        for kind in (ev.Check, ev.Close, ev.Unselect, ev.Expunge, ev.Search, ev.Fetch, ev.Store, ev.Copy, ev.Move)
    ],
]


@pytest.mark.parametrize(("kind", "states"), VALIDITY)
def test_where_each_command_is_valid(kind: CommandType, states: set[State]) -> None:
    assert {state for state in State if is_valid(state, kind)} == states


def test_every_command_type_is_in_the_table() -> None:
    commands = {cls for cls in vars(ev).values() if isinstance(cls, type) and issubclass(cls, ev.Command)}
    commands.discard(ev.Command)
    assert commands == {kind for kind, _ in VALIDITY}
    assert commands == {kind for (_, kind) in TRANSITIONS}


def test_nothing_is_valid_after_logout() -> None:
    assert valid_commands(LOGOUT) == frozenset()


TRANSITION_CASES: list[tuple[State, CommandType, State]] = [
    (NOT_AUTH, ev.Login, AUTH),
    (NOT_AUTH, ev.Authenticate, AUTH),
    (NOT_AUTH, ev.StartTLS, NOT_AUTH),
    (NOT_AUTH, ev.Capability, NOT_AUTH),
    (NOT_AUTH, ev.Logout, LOGOUT),
    (AUTH, ev.Select, SELECTED),
    (AUTH, ev.Examine, SELECTED),
    (AUTH, ev.List, AUTH),
    (AUTH, ev.Idle, AUTH),
    (AUTH, ev.Logout, LOGOUT),
    (SELECTED, ev.Select, SELECTED),
    (SELECTED, ev.Fetch, SELECTED),
    (SELECTED, ev.Expunge, SELECTED),
    (SELECTED, ev.Idle, SELECTED),
    (SELECTED, ev.Close, AUTH),
    (SELECTED, ev.Unselect, AUTH),
    (SELECTED, ev.Logout, LOGOUT),
]


@pytest.mark.parametrize(("state", "kind", "target"), TRANSITION_CASES)
def test_transitions_on_success(state: State, kind: CommandType, target: State) -> None:
    assert TRANSITIONS[(state, kind)] is target
    assert next_state(state, kind) is target


@pytest.mark.parametrize(
    ("state", "kind", "target"),
    [
        (NOT_AUTH, ev.Login, NOT_AUTH),
        (NOT_AUTH, ev.Authenticate, NOT_AUTH),
        (AUTH, ev.Select, AUTH),
        (SELECTED, ev.Select, AUTH),
        (SELECTED, ev.Examine, AUTH),
        (SELECTED, ev.Copy, SELECTED),
        (AUTH, ev.Logout, LOGOUT),
    ],
)
def test_transitions_on_failure(state: State, kind: CommandType, target: State) -> None:
    assert next_state(state, kind, ok=False) is target


def test_failed_transitions_are_only_for_valid_commands() -> None:
    assert set(FAILED_TRANSITIONS) <= set(TRANSITIONS)


def test_invalid_command_has_no_next_state() -> None:
    with pytest.raises(KeyError):
        next_state(NOT_AUTH, ev.Fetch)
    assert not is_valid(AUTH, ev.Fetch) and not is_valid(SELECTED, ev.Login)
