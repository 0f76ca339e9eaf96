"""How long each tutorial notebook takes to run top to bottom in a fresh kernel: the course promises a minute.

Prints, per notebook in `notebooks/`, the wall time of a fresh kernel running every cell (as
"Restart and run all" does), and beside it the time of the peer measured in the same run: a
notebook holding only the set-up cell (kernel start, importing the simulator and the widgets),
so that the figure that matters, what the lesson itself costs, reads as a difference and a ratio
on a noisy machine.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
LIMIT = 60.0  # seconds: each notebook must run in under a minute
ROUNDS = 3


def _execute(notebook: nbformat.NotebookNode, folder: str) -> float:
    start = time.perf_counter()
    NotebookClient(
        notebook, timeout=int(LIMIT), kernel_name="python3", resources={"metadata": {"path": folder}}
    ).execute()
    return time.perf_counter() - start


def main() -> int:
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    setup_only = nbformat.read(paths[0], as_version=4)
    setup_only.cells = [cell for cell in setup_only.cells if "from simulator.notebook import" in cell.source]
    over = []
    with tempfile.TemporaryDirectory() as folder:
        peer = statistics.median(_execute(nbformat.from_dict(setup_only), folder) for _ in range(ROUNDS))
        print(f"{'set-up cell only (the peer)':34} {peer:6.2f} s")
        for path in paths:
            seconds = _execute(nbformat.read(path, as_version=4), folder)
            print(
                f"{path.stem:34} {seconds:6.2f} s   {seconds - peer:6.2f} s of lesson   x{seconds / peer:4.1f} the peer"
            )
            if seconds >= LIMIT:
                over.append(path.stem)
    if over:
        print(f"over a minute: {', '.join(over)}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
