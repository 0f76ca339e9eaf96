"""`smtpsim web` and `smtpsim notebook` up to the point where a server would start: no server, no socket."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulator import cli, web
from simulator.lessons import lesson, lessons
from simulator.lessons.notebooks import notebook_text

REPO = Path(__file__).resolve().parents[2]
LESSON_01 = "01-first-smtp-dialogue.ipynb"


def started(monkeypatch: pytest.MonkeyPatch) -> list[web.Launch]:
    """Record what `smtpsim web/notebook` would start instead of starting it."""
    launched: list[web.Launch] = []

    def fake_run(how: web.Launch) -> int:
        launched.append(how)
        return 0

    monkeypatch.setattr(web, "run", fake_run)
    return launched


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("command", ["web", "notebook"])
def test_a_missing_folder_is_exit_2_naming_it(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([command, "--dir", "/nonexistent/tutorials"]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"smtpsim {command}: --dir /nonexistent/tutorials: no such folder"), line


def test_a_file_is_not_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("not a folder")
    assert cli.main(["web", "--dir", str(file)]) == 2
    assert str(file) in one_error_line(capsys)


@pytest.mark.parametrize(
    ("command", "module", "name"),
    [("web", "voila", "Voila"), ("notebook", "jupyterlab", "JupyterLab"), ("web", "ipykernel", "Voila")],
)
def test_a_missing_extra_is_exit_2_saying_what_to_install(
    command: str, module: str, name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda wanted, *a: None if wanted == module else real(wanted, *a),
    )
    launched = started(monkeypatch)
    assert cli.main([command]) == 2
    line = one_error_line(capsys)
    assert line == f"smtpsim {command}: {name} is not installed (missing {module}): pip install 'smtpsim[notebook]'"
    assert launched == []


def test_the_default_folder_is_the_checkouts_notebooks() -> None:
    assert web.PACKAGE_ROOT == REPO
    assert web.default_dir() == REPO / "notebooks"


def test_without_a_checkout_the_lessons_are_written_to_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web, "PACKAGE_ROOT", tmp_path / "site-packages")  # no notebooks/ beside the package
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = web.default_dir()
    assert folder == tmp_path / "cache" / "smtpsim" / "notebooks"
    written = folder / LESSON_01
    assert json.loads(written.read_text(encoding="utf-8"))["metadata"]["kernelspec"]["name"] == "python3"
    assert written.read_text(encoding="utf-8") == notebook_text(lesson("01"))
    assert {p.name for p in folder.glob("*.ipynb")} == {f"{item.slug}.ipynb" for item in lessons()}


def test_an_unwritable_cache_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(web, "PACKAGE_ROOT", tmp_path / "site-packages")
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert cli.main(["web"]) == 2
    line = one_error_line(capsys)
    assert "cannot write the tutorial notebooks" in line and "--dir" in line, line


def test_web_serves_the_folder_as_a_tree_on_loopback_without_a_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    launched = started(monkeypatch)
    assert cli.main(["web", "--port", "8866"]) == 0
    (how,) = launched
    assert how.argv[:4] == [sys.executable, "-m", "voila", str(REPO / "notebooks")]
    for option in ("--no-browser", "--Voila.ip=127.0.0.1", "--port=8866", "--Voila.port_retries=0", "--template=lab"):
        assert option in how.argv
    assert how.url == "http://127.0.0.1:8866/"


@pytest.mark.parametrize("name", ["01", "01-first-smtp-dialogue", LESSON_01])
def test_web_serves_one_lesson_by_id_or_name(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    launched = started(monkeypatch)
    assert cli.main(["web", name, "--port", "8866"]) == 0
    (how,) = launched
    assert how.argv[3] == str(REPO / "notebooks" / LESSON_01)
    assert f"--Voila.root_dir={REPO / 'notebooks'}" in how.argv
    assert how.url == "http://127.0.0.1:8866/"


def test_an_unknown_notebook_is_exit_2_listing_those_there(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    launched = started(monkeypatch)
    assert cli.main(["web", "99"]) == 2
    line = one_error_line(capsys)
    assert "no notebook '99'" in line and LESSON_01 in line, line
    assert launched == []


def test_port_0_picks_a_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web, "free_port", lambda host=web.HOST: 41234)
    launched = started(monkeypatch)
    assert cli.main(["web"]) == 0
    assert "--port=41234" in launched[0].argv and launched[0].url == "http://127.0.0.1:41234/"


def test_notebook_keeps_a_token_out_of_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    launched = started(monkeypatch)
    assert cli.main(["notebook", "01", "--port", "8888"]) == 0
    (how,) = launched
    token = how.env["JUPYTER_TOKEN"]
    assert len(token) >= 24
    assert how.url == f"http://127.0.0.1:8888/lab/tree/{LESSON_01}?token={token}"
    assert not any(token in arg for arg in how.argv)
    for option in ("--no-browser", "--ServerApp.ip=127.0.0.1", "--ServerApp.port=8888", "--ServerApp.port_retries=0"):
        assert option in how.argv


def test_a_bad_port_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["web", "--port", "70000"])
    assert exit_info.value.code == 2
    assert "expected a port number" in one_error_line(capsys)


def test_the_kernel_is_this_python_and_imports_this_simulator(tmp_path: Path) -> None:
    how = web.voila(REPO / "notebooks", None, 8866)
    env = web._child_env(how, tmp_path)
    spec = json.loads((tmp_path / "kernels" / "python3" / "kernel.json").read_text(encoding="utf-8"))
    assert spec["argv"][:3] == [sys.executable, "-m", "ipykernel_launcher"]
    assert env["JUPYTER_PATH"].split(":")[0] == str(tmp_path)
    assert env["PYTHONPATH"].split(":")[0] == str(REPO)


def test_importing_the_cli_imports_no_jupyter() -> None:
    code = (
        "import sys, simulator, simulator.cli, simulator.web\n"
        "print([m for m in sys.modules if m.split('.')[0] in ('voila', 'jupyterlab', 'jupyter_server', 'ipykernel')])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "[]"
