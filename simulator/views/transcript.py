"""The transcript: a dialogue as a learner reads it, one line per wire line.

Notation (as in swaks): `->` the client speaks, `<-` the server answers,
`==` something happened that is not on the wire. With `explain`, each line is
followed by what it means and where the RFC says so. Long message bodies are
folded to their first lines unless `full` is set.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from simulator.trace import Note, TraceEvent

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
    servers: dict[int | None, str] = {}  # connection -> its server, to tell the two sides apart
    context: tuple[int | None, str, str] | None = None
    for event in events:
        stamp = f"{event.time:8.3f}s"
        if event.kind == "connect":
            servers[event.conn] = event.dst
            context = (event.conn, event.src, event.dst)
            out.append(f"{stamp} == {event.summary}")
        elif event.kind == "send":
            here = (event.conn, event.src, event.dst) if event.conn is None else _conn_context(event, servers)
            if here != context:
                context = here
                out.append(f"{' ' * len(stamp)} -- {_describe_context(event, servers)}")
            if event.conn is None:  # a datagram: queries go out, answers come back
                arrow = "->" if event.summary.endswith("?") else "<-"
            else:
                arrow = "<-" if servers.get(event.conn) == event.src else "->"
            notes = event.units or (Note(event.data, event.summary, event.explain, event.rfc),)
            if len(notes) > 1 and explain:
                out.append(f"{stamp} {arrow} ({len(notes)} in one write)")
                out.extend(_explanation(event.explain, event.rfc, len(stamp), width))
                stamp = " " * len(stamp)
            for n, note in enumerate(notes):
                lines = _wire_lines(note.data) if _is_text(note.data) else [f"[{event.protocol}] {note.summary}"]
                if len(lines) > BODY_LINES + 4 and not full:
                    hidden = len(lines) - BODY_LINES - 1
                    lines = [*lines[:BODY_LINES], f"[... {hidden} more lines ...]", lines[-1]]
                for i, line in enumerate(lines):
                    out.append(f"{stamp if n == i == 0 else ' ' * len(stamp)} {arrow} {line}")
                if explain:
                    out.extend(_explanation(note.explain, note.rfc, len(stamp), width))
            continue
        else:
            out.append(f"{stamp} == {event.summary}")
        if explain:
            out.extend(_explanation(event.explain, event.rfc, len(stamp), width))
    return "\n".join(out) + "\n"


def _conn_context(event: TraceEvent, servers: dict[int | None, str]) -> tuple[int | None, str, str]:
    server = servers.get(event.conn, event.dst)
    client = event.src if event.dst == server else event.dst
    return (event.conn, client, server)


def _describe_context(event: TraceEvent, servers: dict[int | None, str]) -> str:
    if event.conn is None:
        return f"{event.src} to {event.dst} ({event.protocol})"
    _, client, server = _conn_context(event, servers)
    return f"connection {event.conn}: {client} (->) and {server} (<-), {event.protocol}"


def _is_text(data: bytes) -> bool:
    """Printable UTF-8 with only CR, LF and TAB as controls: show it as lines, else by its summary."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c in "\r\n\t" or c.isprintable() for c in text)


def _explanation(text: str, rfc: str, margin: int, width: int) -> list[str]:
    if not text:
        return []
    note = f"{text} [{rfc}]" if rfc else text
    indent = " " * (margin + 4)
    return textwrap.wrap(note, width=width, initial_indent=indent + "# ", subsequent_indent=indent + "  ")


def _wire_lines(data: bytes) -> list[str]:
    text = data.decode("utf-8", errors="replace")
    lines = text.split("\r\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.replace("\r", "\\r").replace("\n", "\\n") for line in lines] or [""]
