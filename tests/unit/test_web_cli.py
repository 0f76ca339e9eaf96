"""`smtpsim web` and `smtpsim notebook` up to the point where a server would start: no server.

The only sockets are the busy-port tests' own listener; elsewhere the --port check is stubbed out,
so that a port such as 8866 taken on the test machine changes nothing.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any, cast

import pytest

from simulator import cli, web
from simulator.lessons import lesson, lessons
from simulator.lessons.notebooks import notebook_text

REPO = Path(__file__).resolve().parents[2]
LESSON_01 = "01-first-smtp-dialogue.ipynb"
CHECK_PORT = web.check_port  # the real one, for the tests of a busy port


@pytest.fixture(autouse=True)
def ports_are_free(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web, "check_port", lambda port, host=web.HOST: None)


@pytest.fixture
def listener() -> Iterator[int]:
    """Another program's server: a socket listening on a port of 127.0.0.1, the port yielded."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def no_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run as if installed: no checkout beside the package, the cache under tmp_path; returns the cache folder."""
    monkeypatch.setattr(web, "PACKAGE_ROOT", tmp_path / "site-packages")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "smtpsim" / "notebooks" / web.installed_version()


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
    expected = no_checkout(tmp_path, monkeypatch)
    folder = web.default_dir()
    assert folder == expected
    written = folder / LESSON_01
    assert json.loads(written.read_text(encoding="utf-8"))["metadata"]["kernelspec"]["name"] == "python3"
    assert written.read_text(encoding="utf-8") == notebook_text(lesson("01"))
    assert {p.name for p in folder.glob("*.ipynb")} == {f"{item.slug}.ipynb" for item in lessons()}


def test_the_cache_folder_is_per_installed_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert web.installed_version() == importlib.metadata.version("smtpsim")
    assert web.cache_dir() == tmp_path / "smtpsim" / "notebooks" / importlib.metadata.version("smtpsim")

    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    assert web.cache_dir() == tmp_path / "smtpsim" / "notebooks" / "dev"


def test_a_learners_edits_in_the_cache_are_kept_and_missing_notebooks_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = no_checkout(tmp_path, monkeypatch)
    assert web.default_dir() == folder
    edited = folder / LESSON_01
    edited.write_text("a learner's saved work", encoding="utf-8")
    removed = folder / f"{lessons()[1].slug}.ipynb"
    removed.unlink()
    assert web.default_dir() == folder
    assert edited.read_text(encoding="utf-8") == "a learner's saved work"
    assert removed.read_text(encoding="utf-8") == notebook_text(lessons()[1])
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{item.slug}.ipynb" for item in lessons())

    monkeypatch.setattr(web, "installed_version", lambda: "9.9.9")  # a new version: fresh copies of its own
    fresh = web.default_dir()
    assert fresh == folder.parent / "9.9.9"
    assert (fresh / LESSON_01).read_text(encoding="utf-8") == notebook_text(lesson("01"))
    assert edited.read_text(encoding="utf-8") == "a learner's saved work"


@pytest.mark.parametrize("beside", ["notebooks", "pyproject.toml"])
def test_a_checkout_needs_both_pyproject_and_notebooks(
    beside: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = no_checkout(tmp_path, monkeypatch)
    root = tmp_path / "site-packages"
    if beside == "notebooks":
        (root / "notebooks").mkdir(parents=True)
    else:
        root.mkdir()
        (root / "pyproject.toml").write_text("[project]\n")
    assert web.default_dir() == folder  # not a checkout: the cache, for both questions alike
    env = web._child_env(web.voila(folder, None, 8866), tmp_path / "jupyter")
    assert str(root) not in env.get("PYTHONPATH", "").split(":")

    if beside == "notebooks":  # now both: a checkout
        (root / "pyproject.toml").write_text("[project]\n")
    else:
        (root / "notebooks").mkdir()
    assert web.default_dir() == root / "notebooks"
    env = web._child_env(web.voila(root / "notebooks", None, 8866), tmp_path / "jupyter2")
    assert env["PYTHONPATH"].split(":")[0] == str(root)


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


@pytest.mark.parametrize(
    "name",
    ["/tmp/x.ipynb", "/nonexistent/01", "**", "a**b", "*", "0?", "[0]1", "../notebooks/01", "..", ".", "", "01/"],
)
@pytest.mark.parametrize("command", ["web", "notebook"])
def test_a_name_that_is_no_notebook_in_the_folder_is_exit_2_in_one_line(
    command: str, name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    launched = started(monkeypatch)
    assert cli.main([command, name]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"smtpsim {command}: no notebook {name!r} in "), line
    assert launched == []


def test_a_notebook_outside_the_folder_is_not_found(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inside, outside = tmp_path / "tutorials", tmp_path / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    (outside / "secret.ipynb").write_text("{}")
    (inside / "02-linked.ipynb").symlink_to(outside / "secret.ipynb")
    (inside / "01-here.ipynb").write_text("{}")
    assert web.find_notebook(inside, "01") == inside / "01-here.ipynb"
    for name in ("02", "02-linked", "02-linked.ipynb", str(outside / "secret.ipynb"), "../elsewhere/secret"):
        with pytest.raises(web.WebError, match="no notebook"):
            web.find_notebook(inside, name)


def test_a_busy_port_is_exit_2_in_one_line(
    listener: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(web, "check_port", CHECK_PORT)
    launched = started(monkeypatch)
    assert cli.main(["web", "--port", str(listener)]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"smtpsim web: port {listener} is in use on 127.0.0.1"), line
    assert launched == []


def test_a_free_port_passes_the_check() -> None:
    port = web.free_port()
    CHECK_PORT(port)  # no exception: nobody listens there


class ExitedChild:
    """A server process that has already exited with `code`."""

    def __init__(self, code: int) -> None:
        self.returncode = code

    def poll(self) -> int:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        return self.returncode


def test_no_url_is_printed_for_a_port_that_answers_after_our_server_exited(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(web, "_listening", lambda port: True)  # another program answers on the port
    out = StringIO()
    child = cast(Any, ExitedChild(1))
    assert web._supervise(web.voila(REPO / "notebooks", None, 8866), child, [], out) == 1
    assert out.getvalue() == ""
    assert "Voila exited with code 1 before it listened" in capsys.readouterr().err


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
