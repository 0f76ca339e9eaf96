"""`smtpsim tui` and `make run` without a terminal, and the package staying free of Textual."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from simulator import cli

ROOT = Path(__file__).resolve().parents[2]


def test_tui_without_a_terminal_says_so_and_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert not sys.stdout.isatty()  # pytest captures it
    assert cli.main(["tui", "basic", "--seed", "2"]) == cli.USAGE_ERROR
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "smtpsim tui: the terminal app needs a terminal; try `smtpsim run` for the transcript\n"


def test_tui_with_a_bad_scenario_is_a_usage_error_before_any_screen(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert cli.main(["tui", "no-such-scenario"]) == cli.USAGE_ERROR
    assert "no-such-scenario" in capsys.readouterr().err


def test_importing_simulator_and_its_command_line_does_not_import_textual() -> None:
    code = "import sys, simulator, simulator.cli; print(sorted(m for m in sys.modules if m.startswith('textual')))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_without_a_terminal_prints_the_transcript() -> None:
    # VENV is the running interpreter's environment, taken as installed (-o): make only runs.
    venv = Path(sys.executable).parent.parent
    done = subprocess.run(
        ["make", "--no-print-directory", "-o", f"{venv}/.run-installed", "run", f"VENV={venv}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "<- 220 smtp.example.com ESMTP" in done.stdout
    assert "-> QUIT" in done.stdout
