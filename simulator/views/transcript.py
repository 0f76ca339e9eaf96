"""The transcript: a dialogue as a learner reads it, one line per wire line.

Notation (as in swaks): `->` the client speaks, `<-` the server answers,
`==` something happened that is not on the wire. With `explain`, each line is
followed by what it means and where the RFC says so. Long message bodies are
folded to their first lines unless `full` is set.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from simulator.trace import TraceEvent

BODY_LINES = 8


def render_transcript(
    events: Iterable[TraceEvent], *, explain: bool = True, full: bool = False, width: int = 100
) -> str:
    """Render trace events as text.

    Args:
        explain: add the learner's note and RFC reference under each line.
        full: show message bodies whole instead of folded.
        width: wrap notes to this many columns.
    """
    out: list[str] = []
    servers: set[str] = set()
    for event in events:
        stamp = f"{event.time:8.3f}s"
        if event.kind == "connect":
            servers.add(event.dst)
            out.append(f"{stamp} == {event.summary}")
        elif event.kind == "send":
            arrow = "<-" if event.src in servers else "->"
            lines = _wire_lines(event.data)
            if len(lines) > BODY_LINES + 4 and not full:
                hidden = len(lines) - BODY_LINES - 1
                lines = [*lines[:BODY_LINES], f"[... {hidden} more lines ...]", lines[-1]]
            for i, line in enumerate(lines):
                out.append(f"{stamp if i == 0 else ' ' * len(stamp)} {arrow} {line}")
        else:
            out.append(f"{stamp} == {event.summary}")
        if explain and event.explain:
            note = f"{event.explain} [{event.rfc}]" if event.rfc else event.explain
            indent = " " * (len(stamp) + 4)
            out.extend(textwrap.wrap(note, width=width, initial_indent=indent + "# ", subsequent_indent=indent + "  "))
    return "\n".join(out) + "\n"


def _wire_lines(data: bytes) -> list[str]:
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\r\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.replace("\r", "\\r").replace("\n", "\\n") for line in lines] or [""]
