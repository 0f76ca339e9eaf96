"""Views read only the trace and the public tables, never the simulation's insides."""

from __future__ import annotations

import ast
from pathlib import Path

import simulator.views

VIEWS = Path(simulator.views.__file__).parent
PRIVATE = ("simulator.sim", "simulator.world", "simulator.nodes", "simulator.net")


def _imports(path: Path) -> list[str]:
    """Every module a file imports, at any depth (under TYPE_CHECKING too), with `from X import Y` as X.Y."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # a relative import: resolve it against simulator.views
                parent = "simulator.views".rsplit(".", node.level - 1)[0] if node.level > 1 else "simulator.views"
                base = f"{parent}.{base}" if base else parent
            found.append(base)
            found.extend(f"{base}.{alias.name}" for alias in node.names)
    return found


def _private(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in PRIVATE)


def test_no_view_imports_the_simulation_the_world_its_nodes_or_its_network() -> None:
    files = sorted(VIEWS.glob("*.py"))
    assert {"transcript.py", "state_diagram.py", "report.py"} <= {f.name for f in files}
    offending = {f.name: [m for m in _imports(f) if _private(m)] for f in files}
    assert {name: found for name, found in offending.items() if found} == {}


def test_the_check_sees_every_way_of_importing(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import simulator.sim\n"
        "from simulator import world\n"
        "from simulator.nodes.mail_server import MailServer\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from simulator.net.network import Network\n"
        "from simulator.trace import TraceEvent\n"
        "from ..net import observers\n"
    )
    found = {m for m in _imports(sample) if _private(m)}
    assert found == {
        "simulator.sim",
        "simulator.world",
        "simulator.nodes.mail_server",
        "simulator.nodes.mail_server.MailServer",
        "simulator.net.network",
        "simulator.net.network.Network",
        "simulator.net",
        "simulator.net.observers",
    }
