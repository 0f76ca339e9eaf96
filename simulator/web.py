"""Serve the tutorial notebooks in a browser: Voila for learners (`smtpsim web`), JupyterLab for teachers.

Voila and JupyterLab run as a child process (`python -m voila`, `python -m jupyterlab`) rather than
in this one, so `import simulator` never imports Jupyter and no Jupyter start-up code can take the
command's own signal handling or output over. The child gets a session of its own: Ctrl+C and
SIGTERM reach this process only, which passes SIGTERM on; both servers answer it by shutting
their kernels down and exiting, and this process then exits 0, as `smtpsim serve` does. (The
kernels are not in the server's session: jupyter_client starts each in a session of its own, so
they end only when the server shuts them down, or, if the server is killed, when ipykernel's
parent poller sees the server gone.)

The kernel is pinned to this Python: the child sees a `python3` kernelspec running
`sys.executable -m ipykernel_launcher` ahead of any other on JUPYTER_PATH (a user's own
`python3` kernelspec could point at a Python without smtpsim), and, from a source checkout,
a PYTHONPATH starting with the checkout, so the notebooks import the simulator the command runs.
"""

from __future__ import annotations

import errno
import importlib.metadata
import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TextIO

HOST = "127.0.0.1"
EXTRA = "pip install 'smtpsim[notebook]'"
READY_TIMEOUT = 120.0  # an upper bound only: the URL is printed as soon as the server listens
STOP_TIMEOUT = 20.0  # time given to the server to shut its kernels down after SIGTERM
PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # site-packages, or the source checkout

# (module the child runs, what it needs importable, the name a learner knows it by)
SERVERS = {
    "web": ("voila", ("voila", "ipykernel", "ipywidgets"), "Voila"),
    "notebook": ("jupyterlab", ("jupyterlab", "ipykernel", "ipywidgets"), "JupyterLab"),
}


class WebError(Exception):
    """A mistake in the command's input or a missing extra: str() is the one line to print (exit 2)."""


@dataclass(frozen=True)
class Launch:
    """How to start one server: the child's command line and environment, and the URL to print."""

    name: str  # "Voila" or "JupyterLab", for messages
    argv: list[str]
    port: int
    url: str
    env: dict[str, str] = field(default_factory=dict, repr=False)  # added to os.environ


def check_installed(command: str) -> None:
    """Raise WebError naming the extra to install when the server behind `command` is missing."""
    _, modules, name = SERVERS[command]
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise WebError(f"{name} is not installed (missing {', '.join(missing)}): {EXTRA}")


def _checkout() -> bool:
    """True when the package runs from a source checkout: `pyproject.toml` and `notebooks/` beside it.

    Never true in site-packages, where neither is installed beside the package.
    """
    return (PACKAGE_ROOT / "pyproject.toml").is_file() and (PACKAGE_ROOT / "notebooks").is_dir()


def installed_version() -> str:
    """The installed smtpsim's version, or "dev" when it runs uninstalled (from a checkout on PYTHONPATH)."""
    try:
        return importlib.metadata.version("smtpsim")
    except importlib.metadata.PackageNotFoundError:
        return "dev"


def cache_dir() -> Path:
    """Where notebooks written from the lessons go when there is no source checkout: a folder of the
    user's cache per installed version, `.../smtpsim/notebooks/<version>`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "smtpsim" / "notebooks" / installed_version()


def default_dir() -> Path:
    """The tutorials folder: the checkout's `notebooks/` beside the package, else the lessons written to the cache.

    Only the notebooks missing from the cache folder are written, so a learner's edits (saved from
    JupyterLab) are kept from one start to the next; the folder is per installed version, so a new
    version of smtpsim starts from fresh copies of its own lessons, and a deleted notebook comes back.
    """
    if _checkout():
        return PACKAGE_ROOT / "notebooks"
    from simulator.lessons import lessons  # noqa: PLC0415 - only when there is no checkout
    from simulator.lessons.notebooks import notebook_text  # noqa: PLC0415

    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for item in lessons():
            path = folder / f"{item.slug}.ipynb"
            if path.exists():
                continue  # maybe edited: never overwritten
            part = path.with_name(f".{path.name}.{os.getpid()}.part")
            part.write_text(notebook_text(item), encoding="utf-8")
            part.replace(path)  # whole or not at all: an interrupted write leaves no half notebook to keep
    except OSError as exc:
        raise WebError(f"cannot write the tutorial notebooks to {folder}: {exc.strerror or exc} (give --dir)") from None
    return folder


def tutorials(directory: Path | None) -> Path:
    """The folder to serve: --dir as given (it must be a folder), else `default_dir()`."""
    if directory is None:
        return default_dir()
    if not directory.is_dir():
        raise WebError(f"--dir {directory}: no such folder (give the folder holding the tutorial notebooks)")
    return directory.resolve()


def find_notebook(folder: Path, name: str) -> Path:
    """The notebook in `folder` that `name` means: a file name (with or without .ipynb) or a lesson id such as 01.

    `name` is compared with the names of the notebooks in `folder`, never used as a path or a
    glob pattern, so it can only ever mean a file directly inside the folder.
    """
    root = folder.resolve()
    try:
        there = sorted(p.name for p in root.iterdir() if p.suffix == ".ipynb" and p.is_file())
    except OSError as exc:
        raise WebError(f"cannot list the notebooks in {folder}: {exc.strerror or exc}") from None
    wanted = [name, f"{name}.ipynb"]  # a file name, with or without .ipynb
    wanted += [n for n in there if n.startswith(f"{name}-")]  # a lesson id: 01 -> 01-first-smtp-dialogue.ipynb
    for candidate in wanted:
        if candidate in there:
            path = (root / candidate).resolve()
            if path.parent == root:  # not a symlink leading out of the folder
                return path
    raise WebError(f"no notebook {name!r} in {folder} (there: {', '.join(there) or 'none'})")


def free_port(host: str = HOST) -> int:
    """A port nobody listens on just now; the server is told not to wander off it (port_retries=0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def check_port(port: int, host: str = HOST) -> None:
    """Raise WebError unless `port` can be bound on `host` now, as the server will bind it (SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        if os.name == "posix":  # as Tornado does: a port left in TIME_WAIT is free, one listened on is not
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise WebError(f"port {port} is in use on {host} (give another --port, or 0 for a free one)") from None
            raise WebError(f"port {port} cannot be used on {host}: {exc.strerror or exc}") from None


def voila(folder: Path, notebook: Path | None, port: int) -> Launch:
    """Voila on `folder` in tree mode (every notebook listed), or on just `notebook` at the root URL."""
    argv = [
        sys.executable,
        "-m",
        "voila",
        str(notebook if notebook is not None else folder),
        "--no-browser",
        f"--Voila.ip={HOST}",
        f"--port={port}",
        "--Voila.port_retries=0",
        f"--Voila.root_dir={folder}",
        "--template=lab",
        "--show_tracebacks=True",  # on 127.0.0.1 only: a learner's error is worth seeing whole
    ]
    return Launch("Voila", argv, port, f"http://{HOST}:{port}/")


def jupyterlab(folder: Path, notebook: Path | None, port: int, token: str | None = None) -> Launch:
    """JupyterLab on `folder`, token-protected as by default: the token is made here so the URL can carry it."""
    token = token or secrets.token_urlsafe(24)
    argv = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--ServerApp.ip={HOST}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={folder}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # Jupyter Server refuses root without this; containers and CI run as root, and the
        # server is reachable from 127.0.0.1 only, with a token.
        argv.append("--allow-root")
    path = f"lab/tree/{notebook.name}" if notebook is not None else "lab"
    # In the environment, not on the command line, where `ps` would show it to other users.
    return Launch("JupyterLab", argv, port, f"http://{HOST}:{port}/{path}?token={token}", {"JUPYTER_TOKEN": token})


def launch(command: str, directory: Path | None, notebook: str | None, port: int) -> Launch:
    """Check the installation and the input, and say how to start `command` ("web" or "notebook")."""
    check_installed(command)
    folder = tutorials(directory)
    path = find_notebook(folder, notebook) if notebook is not None else None
    if port:
        check_port(port)  # else another program's server would answer, and ours would fail to start
    chosen = port or free_port()
    return voila(folder, path, chosen) if command == "web" else jupyterlab(folder, path, chosen)


def run(how: Launch, out: TextIO = sys.stdout) -> int:
    """Start the server, print `{"url": ...}` once it listens, and return when it has stopped.

    SIGINT and SIGTERM are passed on as SIGTERM; the server then has STOP_TIMEOUT seconds to
    shut its kernels down before it is killed. Returns 0 after a stop asked for, else 1.
    """
    stopping: list[int] = []

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with tempfile.TemporaryDirectory(prefix="smtpsim-jupyter-") as jupyter_path:
            child = subprocess.Popen(
                how.argv,
                env=_child_env(how, Path(jupyter_path)),
                stdin=subprocess.DEVNULL,
                stdout=sys.stderr,  # its log, not ours: our stdout carries the one JSON line
                start_new_session=True,
            )
            try:
                return _supervise(how, child, stopping, out)
            finally:
                _stop(child)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _supervise(how: Launch, child: subprocess.Popen[bytes], stopping: list[int], out: TextIO) -> int:
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if stopping:
            return 0
        listening = _listening(how.port)
        # Asked after the port answered: a listener while our server has exited is another program's.
        if child.poll() is not None:
            print(f"smtpsim: {how.name} exited with code {child.returncode} before it listened (its log is above)",
                  file=sys.stderr)  # fmt: skip
            return 1
        if listening:
            break
        if time.monotonic() > deadline:
            print(f"smtpsim: {how.name} did not listen on {HOST}:{how.port} within {READY_TIMEOUT:.0f}s",
                  file=sys.stderr)  # fmt: skip
            return 1
        time.sleep(0.1)
    print(json.dumps({"url": how.url}), file=out, flush=True)
    while not stopping:
        try:
            code = child.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            continue
        print(f"smtpsim: {how.name} exited with code {code}", file=sys.stderr)
        return 1
    return 0


def _stop(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server and give it time to shut its kernels down; kill it only if it hangs.

    The kernels are not in the server's process group: jupyter_client starts each in a session of
    its own. They end because the server, on SIGTERM, shuts them down; if it hangs and is killed
    here (its group only), each kernel's ipykernel parent poller sees the server gone and exits.
    """
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        print(f"smtpsim: the server did not stop within {STOP_TIMEOUT:.0f}s; killing it", file=sys.stderr)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


def _child_env(how: Launch, jupyter_path: Path) -> dict[str, str]:
    """os.environ plus the launch's own variables, this Python's kernelspec first, this package importable."""
    kernel = jupyter_path / "kernels" / "python3"
    kernel.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (smtpsim)",
        "language": "python",
        "metadata": {"debugger": True},
    }
    (kernel / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    env = dict(os.environ)
    env.update(how.env)
    env["JUPYTER_PATH"] = _prepend(str(jupyter_path), env.get("JUPYTER_PATH"))
    if _checkout():  # a source checkout, maybe not installed; never site-packages
        env["PYTHONPATH"] = _prepend(str(PACKAGE_ROOT), env.get("PYTHONPATH"))
    return env


def _prepend(first: str, rest: str | None) -> str:
    return os.pathsep.join([first, *([rest] if rest else [])])


def main(command: str, directory: Path | None, notebook: str | None, port: int) -> int:
    """The `smtpsim web` / `smtpsim notebook` command; input mistakes and a missing extra are exit 2."""
    try:
        how = launch(command, directory, notebook, port)
    except WebError as exc:
        print(f"smtpsim {command}: {exc}", file=sys.stderr)
        return 2
    return run(how)
