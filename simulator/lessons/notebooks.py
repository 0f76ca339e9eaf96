"""Write the lessons out as Jupyter notebooks (nbformat 4 JSON), the form `notebooks/` and `smtpsim web` serve.

The notebook is built from the lesson alone, so it cannot say anything the Lessons screen of
the terminal app does not: a title cell with the goals and the time it takes, a set-up
cell, then the lesson's parts in order (prose as Markdown cells, a `try` block as the cell
that builds its widget, a `quiz` block as a Quiz widget, `python` blocks as they are), and
the summary. Plain JSON is written here rather than through nbformat, so the package needs no
Jupyter to do it; cells carry fixed ids, so writing the notebooks again changes nothing.

    python -m simulator.lessons.notebooks notebooks/      # (re)write every lesson's notebook there
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from simulator.lessons.model import Ask, Code, Explore, Lesson, Text, lessons

SETUP = """\
from simulator import Simulation, faults
from simulator.lessons import lesson
from simulator.notebook import Compare, Console, Quiz, Stepper

LESSON = lesson({id!r})"""


def notebook(item: Lesson) -> dict[str, object]:
    """The lesson as a notebook: a JSON-ready dict in nbformat 4.5."""
    meta = item.meta
    cells = [
        _markdown(f"# {meta.id} · {meta.title}\n\n{item.goals_markdown()}"),
        _code(SETUP.format(id=meta.id)),
    ]
    for part in item.parts:
        if isinstance(part, Text):
            cells.append(_markdown(part.markdown))
        elif isinstance(part, Code):
            cells.append(_code(part.source))
        elif isinstance(part, Explore):
            cells.append(_code(part.spec.code()))
        elif isinstance(part, Ask):
            cells.append(_code(f"Quiz(LESSON.question({part.question.id!r}))"))
    cells.append(_markdown(item.summary_markdown()))
    for number, cell in enumerate(cells):
        cell["id"] = f"{meta.id}-{number:02d}"
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
            "smtpsim": {"lesson": meta.id},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def notebook_text(item: Lesson) -> str:
    """The notebook file's text, byte for byte what `write_all` writes."""
    return json.dumps(notebook(item), indent=1, ensure_ascii=False) + "\n"


def write_all(folder: Path) -> list[Path]:
    """Write every lesson's notebook into `folder` (named after the lesson file); return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for item in lessons():
        path = folder / f"{item.slug}.ipynb"
        path.write_text(notebook_text(item), encoding="utf-8")
        written.append(path)
    return written


def _markdown(source: str) -> dict[str, object]:
    return {"cell_type": "markdown", "metadata": {}, "source": _lines(source)}


def _code(source: str) -> dict[str, object]:
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": _lines(source)}


def _lines(source: str) -> list[str]:
    return source.splitlines(keepends=True)


if __name__ == "__main__":  # pragma: no cover - a maintenance command
    for written_path in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "notebooks")):
        print(written_path)
