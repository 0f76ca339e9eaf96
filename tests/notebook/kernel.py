"""Run a tutorial notebook top to bottom in a fresh Jupyter kernel, then a test's own cell after it.

The test's cell runs in the same kernel, after the learner's cells, so it can click the widgets
the notebook made (the live ones, found through ipywidgets' registry) and print what it saw as
one JSON line for the test to read. A cell that raises fails the run (nbclient's
CellExecutionError names the cell). Each notebook gets a minute, as the course promises.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"

# Helpers the test cells share: the live widgets of a kind, in the order the notebook made them.
PRELUDE = """
import json as _json
from ipywidgets import Widget as _Widget

def _live(kind):
    return [w for w in list(_Widget.widgets.values()) if type(w).__name__ == kind]
"""


def run_notebook(name: str, check: str, tmp_path: Path) -> tuple[Any, dict[str, Any]]:
    """Execute notebooks/NAME.ipynb and then `check`; return the executed notebook and the JSON `check` printed."""
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(PRELUDE + "\n" + check))
    client = NotebookClient(
        notebook,
        timeout=60,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    printed = "".join(
        output.get("text", "") for output in notebook.cells[-1].outputs if output.get("output_type") == "stream"
    )
    lines = [line for line in printed.splitlines() if line.startswith("{")]
    assert lines, f"the check cell printed no JSON line; it printed {printed!r}"
    return notebook, json.loads(lines[-1])


def outputs_of(notebook: Any, mime: str) -> list[Any]:
    """Every output of the learner's cells (the check cell left out) that carries `mime`."""
    found = []
    for cell in notebook.cells[:-1]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if mime in data:
                found.append(data[mime])
    return found


def text_of(notebook: Any) -> str:
    """Everything the learner's cells printed."""
    return "".join(
        output.get("text", "")
        for cell in notebook.cells[:-1]
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    )
