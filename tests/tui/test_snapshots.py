"""Snapshots of the main, picker and help screens at 80x24 and 120x40 (pytest-textual-snapshot).

A change in what a screen draws fails here with a side-by-side report; after checking the new
picture, `pytest tests/tui/test_snapshots.py --snapshot-update` records it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from simulator import Simulation
from simulator.tui.app import SmtpsimApp

# Eight steps into the default world: the submission's pipelined MAIL, RCPT and DATA and their replies.
KEYS = {"main": [*"ssssssss"], "picker": ["o"], "help": ["question_mark"]}


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("view", list(KEYS))
def test_snapshot(snap_compare: Callable[..., bool], view: str, size: tuple[int, int]) -> None:
    app = SmtpsimApp(Simulation.from_scenario("basic", seed=1))
    assert snap_compare(app, press=KEYS[view], terminal_size=size)
