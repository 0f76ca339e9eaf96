"""The transcript: a dialogue as a learner reads it, one line per wire line.

The notation is swaks', kept the same for every protocol:

    ->  the client speaks, in clear text      ~>  the client speaks, inside TLS
    <-  the server answers, in clear text     <~  the server answers, inside TLS
    ==  something happened that is not a line on the wire (a connection, a queue decision)
    --  the dialogue moves to another connection: who is the client (->) and who the server (<-)

Every line starts with the simulated time. With `explain`, each line is followed
by what it means and where the RFC says so (`#`). A TLS record that carries no
protocol line (a handshake message, a session ticket, an alert) shows what it is,
tagged `[TLS]`; other binary units (DNS) are tagged with their protocol. Units
longer than a screenful (a message body, a FETCH with its literal) are folded to
their first lines and their last one unless `full` is set; pipelined commands and
multi-line replies are shown one wire line to an arrow, as sent.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass

from simulator.trace import Note, TraceEvent

BODY_LINES = 8  # lines of a folded unit shown before the "[... N more lines ...]" marker
FOLD_AFTER = BODY_LINES + 4  # units up to this many lines are shown whole: folding them would hide little
TLS_TAG = "[TLS] "  # how the trace marks a write of TLS records (simulator.trace.TraceEvent.notes)

CLIENT, SERVER = "->", "<-"
CLIENT_TLS, SERVER_TLS = "~>", "<~"
HAPPENED, CONTEXT = "==", "--"


@dataclass(frozen=True)
class _Context:
    """Who is talking: one connection, or one client and server exchanging datagrams."""

    conn: int | None
    client: str
    server: str
    protocol: str

    def describe(self) -> str:
        where = f"connection {self.conn} ({self.protocol})" if self.conn is not None else f"{self.protocol} datagrams"
        return f"{where}: {self.client} ({CLIENT}) and {self.server} ({SERVER})"

    def same_talk(self, other: _Context | None) -> bool:
        return other is not None and (self.conn, self.client, self.server) == (other.conn, other.client, other.server)


def clock(seconds: float) -> str:
    """Simulated time as h:mm:ss.mmm, for a mailbox's arrival or a queue's next try, where hours pass."""
    whole, fraction = divmod(seconds, 1.0)
    minutes, secs = divmod(int(whole), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}.{int(fraction * 1000):03d}"


def render_transcript(
    events: Iterable[TraceEvent], *, explain: bool = True, full: bool = False, width: int = 100
) -> str:
    """Render trace events as text, in the notation of the module docstring.

    Args:
        explain: add the learner's note and RFC reference under each line.
        full: show long units (message bodies, fetched messages) whole instead of folded.
        width: wrap notes to this many columns.
    """
    out: list[str] = []
    servers: dict[int, tuple[str, str]] = {}  # connection -> (client, server), from its connect event
    context: _Context | None = None
    for event in events:
        stamp = f"{event.time:8.3f}s"
        margin = " " * len(stamp)
        if event.kind == "connect" and event.conn is not None:
            servers[event.conn] = (event.src, event.dst)
            context = _Context(event.conn, event.src, event.dst, event.protocol)  # the line names both ends
        elif event.kind == "send" or event.conn in servers:
            here = _context_of(event, servers)
            if not here.same_talk(context):
                out.append(f"{margin} {CONTEXT} {here.describe()}")
            context = here
        if event.kind != "send":
            out.append(f"{stamp} {HAPPENED} {event.summary}")
            if explain:
                out.extend(_explanation(event.explain, event.rfc, len(stamp), width))
            continue
        assert context is not None
        out.extend(_write(event, context, stamp, explain=explain, full=full, width=width))
    return "\n".join(out) + "\n"


def _write(event: TraceEvent, context: _Context, stamp: str, *, explain: bool, full: bool, width: int) -> list[str]:
    """The lines of one write: each unit's wire lines, each unit's note under it."""
    tls = event.summary.startswith(TLS_TAG)
    from_client = event.src == context.client
    arrow = (CLIENT_TLS if tls else CLIENT) if from_client else (SERVER_TLS if tls else SERVER)
    margin = " " * len(stamp)
    out: list[str] = []
    notes = event.units or (Note(event.data, event.summary, event.explain, event.rfc),)
    if len(notes) > 1 and explain:
        out.append(f"{stamp} {arrow} ({len(notes)} in one write)")
        out.extend(_explanation(event.explain, event.rfc, len(stamp), width))
        stamp = margin
    for n, note in enumerate(notes):
        if _is_text(note.data):
            lines = _wire_lines(note.data)
        elif note.summary.startswith(TLS_TAG):
            lines = [note.summary]  # a handshake record, a ticket, an alert: one tag says what it is
        else:
            lines = [f"[{event.protocol}] {note.summary}"]
        if len(lines) > FOLD_AFTER and not full:
            hidden = len(lines) - BODY_LINES - 1
            lines = [*lines[:BODY_LINES], f"[... {hidden} more lines ...]", lines[-1]]
        for i, line in enumerate(lines):
            out.append(f"{stamp if n == i == 0 else margin} {arrow} {line}".rstrip())
        if explain:
            out.extend(_explanation(note.explain, note.rfc, len(stamp), width))
    return out


def _context_of(event: TraceEvent, servers: dict[int, tuple[str, str]]) -> _Context:
    if event.conn is not None:
        # A trace cut after the connect: the first writer is taken for the client, and kept so.
        client, server = servers.setdefault(event.conn, (event.src, event.dst))
        return _Context(event.conn, client, server, event.protocol)
    # A datagram: queries go out from the client, answers come back from the server.
    if event.summary.endswith("?"):
        return _Context(None, event.src, event.dst, event.protocol)
    return _Context(None, event.dst, event.src, event.protocol)


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
