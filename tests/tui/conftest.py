"""Fixtures for the terminal app's tests."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def no_running_loop_left_by_other_tests() -> Iterator[None]:
    """Let these tests start their own event loop (asyncio.run, Pilot, snapshots).

    Playwright's sync API, which the browser tests use, keeps its event loop marked as running
    in the main thread until the session ends, and asyncio.run refuses to start under it. No
    test here touches that loop, so it is set aside for the test and put back afterwards.
    """
    left = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(left)
