"""The inspector pane: everything about the selected event, and the engine states around it.

Shows the raw bytes as text and as hex, the explanation and the RFC section, each
unit of a pipelined or TLS write, the engines' states before and after, and the
state diagram of the protocol with the current state lit (drawn from the engines'
own transition tables by simulator.views.state_diagram).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll

from simulator.net.record import Note
from simulator.sim import EngineState
from simulator.trace import TraceEvent
from simulator.tui.widgets.text_pane import TextPane
from simulator.views.state_diagram import CURRENT_MARK, render_state_text

HEX_LIMIT = 128  # octets shown in hex (the text view above shows them all): enough to see the bytes


def _bytes_per_row(width: int) -> int:
    """The most octets per hex dump row (16, 8 or 4) whose row, 13 + 4 per octet wide, fits `width`."""
    return next((n for n in (16, 8) if 13 + 4 * n <= width), 4)


def hex_dump(data: bytes, per_line: int = 16) -> str:
    """Offset, hex and printable ASCII, as `hexdump -C` lays them out."""
    lines = []
    for offset in range(0, min(len(data), HEX_LIMIT), per_line):
        chunk = data[offset : offset + per_line]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{offset:08x}  {hexes:<{per_line * 3 - 1}}  |{text}|")
    if len(data) > HEX_LIMIT:
        lines.append(f"... {len(data) - HEX_LIMIT} more octets")
    return "\n".join(lines)


def _wire_text(data: bytes) -> str:
    """The bytes as text, line ends shown as a learner reads them in an RFC (<CR><LF>)."""
    text = data[:HEX_LIMIT].decode("utf-8", errors="replace")
    shown = text.replace("\r\n", "<CR><LF>\n").replace("\r", "<CR>").replace("\n\n", "\n")
    return shown.rstrip("\n") + (f"\n... {len(data) - HEX_LIMIT} more octets" if len(data) > HEX_LIMIT else "")


def _states_line(states: list[EngineState] | None, conn: int | None) -> str:
    if states is None:
        return "not recorded (step to this event one at a time to see it)"
    mine = [s for s in states if conn is None or s.conn == conn]
    if not mine:
        return "no engine on this connection" if conn is not None else "no open connection"
    return "; ".join(f"{s.host}: {s.state} ({s.table})" for s in mine)


class Inspector(VerticalScroll):
    """The details of one trace event."""

    DEFAULT_CSS = """
    Inspector > Static { width: 1fr; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: tuple[TraceEvent | None, list[EngineState] | None, list[EngineState] | None] = (None, None, None)
        self._drawn_width = 0

    def compose(self) -> ComposeResult:
        yield TextPane(id="inspector-text")

    def on_resize(self) -> None:
        if self.size.width != self._drawn_width:
            self.show(*self._shown)

    def show(self, event: TraceEvent | None, before: list[EngineState] | None, after: list[EngineState] | None) -> None:
        """Show an event with the engine states just before and just after it (None: not recorded)."""
        self._shown = (event, before, after)
        self._drawn_width = self.size.width
        out = Text()
        if event is None:
            out.append("Nothing has happened yet.\n", style="italic")
            out.append("Press s to step, space to run, ? for help.")
            self.query_one("#inspector-text", TextPane).show_text(out)
            return
        width = max(self.scrollable_content_region.width - 1, 30)
        out.append(f"#{event.seq}  {event.kind}  {event.protocol}", style="bold")
        out.append(f"  t={event.time:.3f} s\n")
        out.append(f"{event.src} → {event.dst}" + (f"  (connection {event.conn})" if event.conn is not None else ""))
        out.append("\n\n")
        out.append(event.summary + "\n", style="bold")
        out.append(event.explain + "\n")
        out.append(event.rfc + "\n", style="italic")
        if event.data:
            out.append("\nOn the wire (text)\n", style="bold underline")
            out.append(_wire_text(event.data) + "\n")
            out.append("\nOn the wire (hex)\n", style="bold underline")
            out.append(hex_dump(event.data, _bytes_per_row(width)) + "\n")
        for note in event.notes:
            self._note(out, note, "")
        if event.conn is not None:
            out.append("\nEngine states\n", style="bold underline")
            out.append(f"before: {_states_line(before, event.conn)}\n")
            out.append(f"after:  {_states_line(after, event.conn)}\n")
            self._diagram(out, event, after if after is not None else before, width)
        self.query_one("#inspector-text", TextPane).show_text(out)

    def _note(self, out: Text, note: Note, indent: str) -> None:
        out.append(f"\n{indent}• {note.summary}\n", style="bold")
        out.append(f"{indent}  {note.explain}\n")
        out.append(f"{indent}  {note.rfc}\n", style="italic")
        for inner in note.inner:
            self._note(out, inner, indent + "  ")

    def _diagram(self, out: Text, event: TraceEvent, states: list[EngineState] | None, width: int) -> None:
        """The state diagram of the engine that reads this write (the other end's when it has none)."""
        mine = [s for s in states or [] if s.conn == event.conn]
        engine = next((s for s in mine if s.host == event.dst), None) or next(iter(mine), None)
        if engine is None:
            return
        out.append(f"\nState diagram: {engine.host}\n", style="bold underline")
        for line in render_state_text(engine.table, current=engine.state, width=width).splitlines():
            out.append(line + "\n", style="bold reverse" if line.startswith(CURRENT_MARK) else "")
