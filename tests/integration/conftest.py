"""Fixtures for the integration tests: a real `smtpsim serve` per test, on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.serving import Served, start_serve


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """`smtpsim serve --spool TMP/spool`, stopped with SIGTERM afterwards; it must exit 0 and log no traceback."""
    server = start_serve(tmp_path)
    try:
        yield server
    finally:
        server.terminate()
        code = server.wait()
        stderr = server.stderr
    assert code == 0, f"smtpsim serve exited {code}; stderr:\n{stderr}"
    assert "Traceback" not in stderr, stderr
