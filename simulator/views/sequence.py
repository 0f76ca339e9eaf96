"""Sequence diagrams of a trace: as box-drawing text, as SVG and as Mermaid.

One lifeline per node, one arrow per event that crosses between two nodes (a
write on a connection, a connect, a close, a DNS datagram, an HTTPS fetch), and
a note on the lifeline for what happens inside one node (a queue decision, a
delivery, a fault). A long quiet stretch of simulated time (a retry after 300 s)
is drawn as a marked gap, so that the picture keeps the story's rhythm.

The three renderings share one layout (`_layout`), so they always agree on the
order of the lifelines and on what is an arrow and what is a note.

Notation, kept the same in all three: a request is a solid arrow, a reply (from
the side that accepted the connection, or a DNS answer) a dashed one; TLS
records are drawn as such (a double line in text, the TLS color and a padlock in
SVG, a shaded block in Mermaid) and labelled "[TLS] ..."; a refused or reset
connection ends in a cross; a fault is marked on its node.
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from xml.sax.saxutils import escape, quoteattr

from simulator.trace import TraceEvent

__all__ = ["render_sequence_mermaid", "render_sequence_svg", "render_sequence_text"]

TLS_TAG = "[TLS]"
# Events that put something on the wire between two nodes: drawn as arrows.
WIRE_KINDS = frozenset({"send", "connect", "close", "refused", "reset", "https"})
# A connection that never came up, or was torn down: the arrow ends in a cross.
FAILURE_KINDS = frozenset({"refused", "reset"})
# Quiet simulated time longer than this between two events is drawn as a gap.
GAP_SECONDS = 1.0
# Wire traffic of mail flowing towards its destination; the readers' protocols come after.
# The lifelines are ordered by the first of these each node takes part in, so a sender
# stands left of its server, the server left of the next hop, and Bob's devices last.
_DELIVERY_PROTOCOLS = frozenset({"SMTP", "DNS", "HTTPS", "TCP"})


class Style(Enum):
    """How an arrow is drawn."""

    REQUEST = "request"  # the side that opened the connection, or a DNS query
    REPLY = "reply"  # the side that accepted it, or a DNS answer
    FAILURE = "failure"  # refused or reset


@dataclass(frozen=True, slots=True)
class Step:
    """One row of a sequence diagram.

    Attributes:
        kind: "arrow" (src to dst), "note" (on src, or across src..dst when they differ),
            or "gap" (quiet time; `label` says how long).
        src, dst: lifeline indexes (equal for a note on one node; unused for a gap).
        label: the one-line text of the row, before any truncation.
        style: for an arrow, how it is drawn.
        tls: TLS records (or a TLS handshake note).
        fault: a fault the scenario injected.
        protocol: what colors the row ("SMTP", "POP3", "IMAP", "DNS", "TLS", "HTTPS", ...).
        event: the trace event drawn, None for a gap.
    """

    kind: str
    src: int
    dst: int
    label: str
    style: Style = Style.REQUEST
    tls: bool = False
    fault: bool = False
    protocol: str = ""
    event: TraceEvent | None = None


def _layout(events: Iterable[TraceEvent]) -> tuple[list[str], list[Step]]:
    """The lifelines (node names, left to right) and the rows, shared by every rendering."""
    trace = list(events)
    names = _lifelines(trace)
    index = {name: i for i, name in enumerate(names)}
    servers: dict[int, str] = {}  # connection -> the node that accepted it
    steps: list[Step] = []
    last_time: float | None = None
    for event in trace:
        if not (event.src or event.dst):
            continue  # on no node: nothing to draw it on
        if last_time is not None and event.time - last_time >= GAP_SECONDS:
            quiet = f"{_duration(event.time - last_time)} later (t={_clock(event.time)})"
            steps.append(Step("gap", 0, 0, quiet))
        last_time = event.time
        src = index[event.src or event.dst]
        dst = index[event.dst or event.src]
        if event.kind == "connect" and event.conn is not None:
            servers[event.conn] = event.dst
        fault = event.kind == "fault" or event.protocol == "FAULT"
        tls = event.summary.startswith(TLS_TAG) or event.protocol == "TLS"
        protocol = "FAULT" if fault else "TLS" if tls else event.protocol
        label = _label(event)
        if event.kind in WIRE_KINDS and src != dst:
            steps.append(Step("arrow", src, dst, label, _style(event, servers), tls, fault, protocol, event))
        else:
            steps.append(Step("note", src, dst, label, Style.REQUEST, tls, fault, protocol, event))
    return names, steps


def _lifelines(trace: Sequence[TraceEvent]) -> list[str]:
    """Nodes in the order mail reaches them: delivery traffic first, then the readers', then the rest."""
    order: dict[str, None] = {}
    wire = [e for e in trace if e.kind in WIRE_KINDS and e.src != e.dst]
    passes = (
        [e for e in wire if e.protocol in _DELIVERY_PROTOCOLS],
        [e for e in wire if e.protocol not in _DELIVERY_PROTOCOLS],
        list(trace),
    )
    for events in passes:
        for event in events:
            for name in (event.src, event.dst):
                if name:
                    order.setdefault(name, None)
    return list(order)


def _style(event: TraceEvent, servers: dict[int, str]) -> Style:
    if event.kind in FAILURE_KINDS:
        return Style.FAILURE
    if event.conn is not None and event.conn in servers:
        return Style.REPLY if event.src == servers[event.conn] else Style.REQUEST
    if event.protocol == "DNS":  # a datagram: queries end in "?", as their summaries say
        return Style.REQUEST if event.summary.endswith("?") else Style.REPLY
    return Style.REQUEST


def _label(event: TraceEvent) -> str:
    """The event's summary on one line, without the node name its lifeline already shows."""
    text = " ".join(event.summary.split())
    for lead in (f"{event.src}: ", f"{event.src} "):
        if event.src and text.startswith(lead) and len(text) > len(lead):
            text = text[len(lead) :]
            break
    return "".join(c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in text) or event.kind


def _tooltip(event: TraceEvent) -> str:
    """Everything a learner may want on hover: the summary, what it means and where the RFC says so."""
    lines = [" ".join(event.summary.split())]
    if event.explain:
        lines.append(event.explain)
    if event.rfc:
        lines.append(event.rfc)
    units = event.notes
    if len(units) > 1 or (units and units[0].explain != event.explain):
        for unit in units:
            lines.append(f"- {unit.summary}: {unit.explain} ({unit.rfc})" if unit.rfc else f"- {unit.summary}")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds < 100:
        return f"{seconds:.3g} s"
    if seconds < 7200:
        return f"{seconds:.0f} s" if seconds < 600 else f"{seconds / 60:.3g} min"
    return f"{seconds / 3600:.3g} h"


def _clock(seconds: float) -> str:
    return f"{seconds:.3f} s" if seconds < 100 else f"{seconds:.1f} s"


# ---------------------------------------------------------------------------------------------
# Text


MIN_COLUMN = 4  # a box of one letter between its borders, and a space before the next
READABLE_COLUMN = 8  # a box of five letters
MAX_COLUMN = 24
FULL_NAMES_LABEL_ROOM = 44  # full names only while the labels keep this much room: labels tell the story
LABEL_ROOM = 28  # the label column we try to keep
MIN_LABEL_ROOM = 12  # below this the labels say too little: abbreviate harder first
LEGEND_TITLE = "Lifelines: "

# Arrow shafts and the lifeline glyph an arrow starts from (right-going, left-going).
_SHAFT = {Style.REQUEST: "─", Style.REPLY: "┄", Style.FAILURE: "─"}
_TLS_SHAFT = "═"
_START = {False: ("├", "┤"), True: ("╞", "╡")}
LIFELINE = "│"
NOTE_MARK = "◆"
FAULT_MARK = "×"
GAP_LINE = "┆"
NOTE_SPAN = "┈"


def render_sequence_text(events: Iterable[TraceEvent], *, width: int = 80, explain: bool = False) -> str:
    """A sequence diagram in box-drawing characters, no line wider than `width`.

    The lifelines take the left part, the labels the right. When the full node names do not
    fit, the columns narrow and the names are abbreviated, with a legend under the diagram.

    Args:
        width: the widest line allowed, in terminal cells.
        explain: add each row's explanation and RFC reference under it.

    Raises:
        ValueError: when `width` cannot hold one narrow column per node and a label.
    """
    names, steps = _layout(events)
    if not names:
        return "(no events)\n"
    col, shown = _text_columns(names, width)
    centers = [i * col + (col - 2) // 2 for i in range(len(names))]
    diagram = len(names) * col  # the last column's trailing space separates the labels
    room = width - diagram

    def row(marks: dict[int, str], label: str, fill: str = LIFELINE) -> str:
        cells = [" "] * diagram
        for x in centers:
            cells[x] = fill
        for x, mark in marks.items():
            cells[x] = mark
        return ("".join(cells) + _clip(label, room)).rstrip()

    out = _text_header(shown, col)
    for step in steps:
        if step.kind == "gap":
            out.append(row({}, f"⋯ {step.label}", GAP_LINE))
            continue
        marks = _arrow_marks(step, centers) if step.kind == "arrow" else _note_marks(step, centers)
        out.append(row(marks, step.label))
        if explain and step.event is not None:
            for line in _explanation_lines(step.event, room - 2):
                out.append(row({}, "  " + line))
    if shown != names:
        spelled = [f"{short} = {name}" for short, name in zip(shown, names, strict=True) if short != name]
        out.extend(_legend(spelled, width))
    return "\n".join(out) + "\n"


def _legend(entries: Sequence[str], width: int) -> list[str]:
    """The abbreviations spelled out, wrapped between entries, never inside one."""
    lines: list[str] = []
    line = LEGEND_TITLE
    for n, entry in enumerate(entries):
        piece = entry + ("," if n < len(entries) - 1 else "")
        if line.strip() and _cells(line) + 1 + _cells(piece) > width and line != LEGEND_TITLE:
            lines.append(line.rstrip())
            line = " " * len(LEGEND_TITLE)
        line += piece if line.endswith(" ") else " " + piece
    lines.append(line)
    return [_clip(text, width) for text in lines]


def _text_columns(names: Sequence[str], width: int) -> tuple[int, list[str]]:
    """The width of one lifeline's column, and the names shown: full where they fit, else abbreviated.

    Abbreviated names take the narrowest column that holds them, leaving the rest to the labels.
    """
    full = min(max(_cells(n) for n in names) + 3, MAX_COLUMN)
    if full * len(names) + FULL_NAMES_LABEL_ROOM <= width and full - 3 >= max(_cells(n) for n in names):
        return full, list(names)
    # Names of five cells ("smtp", "lap.c") say more than longer labels; one letter is the last resort.
    for least, room in ((READABLE_COLUMN, LABEL_ROOM), (READABLE_COLUMN, MIN_LABEL_ROOM), (MIN_COLUMN, MIN_LABEL_ROOM)):
        col = min(full, (width - room) // len(names))
        if col >= least:
            shown = _abbreviations(names, col - 3)
            return max(max(_cells(n) for n in shown) + 3, MIN_COLUMN), shown
    raise ValueError(f"a width of {width} cannot hold {len(names)} lifelines and their labels")


def _abbreviations(names: Sequence[str], cells: int) -> list[str]:
    """Names that fit `cells`, unique: the host's first label, told apart by a later one if need be."""
    short: list[str] = []
    for name in names:
        labels = name.split(".")
        first = labels[0]
        twins = [other.split(".") for other in names if other != name and other.split(".")[0] == first]
        suffix = ""
        if twins:  # laptop.example.com and laptop.example.org: "laptop.c" and "laptop.o"
            for i, label in enumerate(labels[1:], start=1):
                if any(len(t) <= i or t[i] != label for t in twins):
                    suffix = "." + label[:1]
                    break
        keep = max(cells - len(suffix), 1)
        short.append(_clip(first, keep, mark="") + suffix if _cells(first) > keep else first + suffix)
    result: list[str] = []
    clipped = [_clip(candidate, cells, mark="") for candidate in short]
    for i, candidate in enumerate(clipped):
        if candidate in result or candidate in clipped[i + 1 :]:  # still ambiguous: number them
            tag = str(i + 1)
            result.append(_clip(candidate, max(cells - len(tag), 0), mark="") + tag)
        else:
            result.append(candidate)
    return result


def _text_header(shown: Sequence[str], col: int) -> list[str]:
    inner = col - 3
    top, middle, bottom = "", "", ""
    for name in shown:
        pad = inner - _cells(name)
        left = pad // 2
        top += "┌" + "─" * inner + "┐ "
        middle += "│" + " " * left + name + " " * (pad - left) + "│ "
        stem = (col - 2) // 2 - 1  # the lifeline's offset inside the box's border
        bottom += "└" + "─" * stem + "┬" + "─" * (inner - stem - 1) + "┘ "
    return [top.rstrip(), middle.rstrip(), bottom.rstrip()]


def _arrow_marks(step: Step, centers: Sequence[int]) -> dict[int, str]:
    start, end = centers[step.src], centers[step.dst]
    shaft = _TLS_SHAFT if step.tls else _SHAFT[step.style]
    rightwards = end > start
    marks = {x: shaft for x in range(min(start, end) + 1, max(start, end))}
    marks[start] = _START[step.tls][0 if rightwards else 1]
    head_at = end - 1 if rightwards else end + 1
    if step.style is Style.FAILURE:
        marks[head_at] = "x"
    else:
        marks[head_at] = ">" if rightwards else "<"
    return marks


def _note_marks(step: Step, centers: Sequence[int]) -> dict[int, str]:
    mark = FAULT_MARK if step.fault else NOTE_MARK
    first, last = sorted((centers[step.src], centers[step.dst]))
    marks = {x: NOTE_SPAN for x in range(first + 1, last)}
    marks[first] = marks[last] = mark
    return marks


def _explanation_lines(event: TraceEvent, cells: int) -> list[str]:
    if cells < 8 or not event.explain:
        return []
    text = f"{event.explain} [{event.rfc}]" if event.rfc else event.explain
    lines = textwrap.wrap(" ".join(text.split()), width=cells)
    units = event.notes
    if len(units) > 1 or (units and units[0].explain != event.explain):
        for unit in units:
            note = f"{unit.summary}: {unit.explain} [{unit.rfc}]" if unit.rfc else f"{unit.summary}: {unit.explain}"
            lines.extend(
                textwrap.wrap(" ".join(note.split()), width=cells, initial_indent="- ", subsequent_indent="  ")
            )
    return [_clip(line, cells) for line in lines]


def _cells(text: str) -> int:
    """Terminal cells `text` takes: wide East Asian characters take two, combining marks none."""
    return sum(_char_cells(c) for c in text)


def _char_cells(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _clip(text: str, cells: int, mark: str = "…") -> str:
    """`text` cut to `cells` terminal cells, ending in `mark` when something was cut."""
    if _cells(text) <= cells:
        return text
    if cells <= 0:
        return ""
    room = cells - _cells(mark)
    kept, used = [], 0
    for char in text:
        size = _char_cells(char)
        if used + size > room:
            break
        kept.append(char)
        used += size
    return "".join(kept).rstrip() + mark if room > 0 else text[:cells]


# ---------------------------------------------------------------------------------------------
# SVG


COLORS = {
    "SMTP": "#1f5fbf",
    "POP3": "#c25e00",
    "IMAP": "#7b3fb5",
    "DNS": "#00807f",
    "TLS": "#2e7d32",
    "HTTPS": "#8d5524",
    "TCP": "#555555",
    "FAULT": "#c62828",
}
OTHER_COLOR = "#555555"
SVG_FONT = "DejaVu Sans, Verdana, Arial, sans-serif"  # installed fonts only: no web font is fetched
CHAR_PX = 6.7  # the average advance of the 11 px font, to truncate labels before they overflow
MARGIN = 24
MIN_COLUMN_PX = 180
BOX_HEIGHT = 30
ROW_PX = 28
GAP_PX = 24


def render_sequence_svg(events: Iterable[TraceEvent], *, title: str = "") -> str:
    """A standalone SVG document: lifelines, colored arrows and notes, a tooltip on each row.

    Each row is a `<g>` whose `<title>` holds the summary, the explanation and the RFC
    reference, which a browser shows on hover. No external asset is referenced.
    """
    names, steps = _layout(events)
    col = max(MIN_COLUMN_PX, round(max((len(n) for n in names), default=0) * 7.4 + 28))
    # Wide enough for the title too (15 px bold: about 9 px a character), however few the lifelines.
    width = max(MARGIN * 2 + col * max(len(names), 1), MARGIN * 2 + round(len(title) * 9))
    centers = [MARGIN + col * i + col / 2 for i in range(len(names))]
    protocols = sorted({s.protocol for s in steps if s.kind != "gap"}, key=_protocol_order)
    y = MARGIN + (28 if title else 0)
    legend_y = y
    y += 22 if protocols else 0
    top = y
    body: list[str] = []
    y += BOX_HEIGHT + 14
    for step in steps:
        if step.kind == "gap":
            body.append(_svg_gap(step, width, y))
            y += GAP_PX
        elif step.kind == "arrow":
            body.append(_svg_arrow(step, centers, col, width, y))
            y += ROW_PX
        else:
            body.append(_svg_note(step, centers, col, width, y))
            y += ROW_PX
    bottom = y + 6
    height = bottom + BOX_HEIGHT + MARGIN
    heading = title or "Sequence diagram"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family={quoteattr(SVG_FONT)} font-size="11" '
        f'role="img" aria-label={quoteattr(heading)}>',
        f"<title>{_xml(heading)}</title>",
        _svg_defs(),
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
    ]
    if title:
        out.append(f'<text x="{MARGIN}" y="{MARGIN + 12}" font-size="15" font-weight="bold">{_xml(title)}</text>')
    out.append(_svg_legend(protocols, legend_y))
    for name, x in zip(names, centers, strict=True):
        out.append(
            f'<line class="lifeline" x1="{x:.1f}" y1="{top + BOX_HEIGHT}" x2="{x:.1f}" y2="{bottom}" '
            'stroke="#9e9e9e" stroke-dasharray="4 3"/>'
        )
        out.append(_svg_box(name, x, top, col))
        out.append(_svg_box(name, x, bottom, col))
    out.extend(body)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _protocol_order(protocol: str) -> tuple[int, str]:
    known = list(COLORS)
    return (known.index(protocol) if protocol in known else len(known), protocol)


def _color(protocol: str) -> str:
    return COLORS.get(protocol, OTHER_COLOR)


def _marker_id(protocol: str) -> str:
    return "seq-head-" + re.sub(r"[^a-z0-9]", "", protocol.lower() or "other")


def _svg_defs() -> str:
    markers = [
        f'<marker id="{_marker_id(p)}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" '
        f'markerUnits="userSpaceOnUse" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{c}"/></marker>'
        for p, c in [*COLORS.items(), ("other", OTHER_COLOR)]
    ]
    markers.append(
        '<marker id="seq-cross" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="10" markerHeight="10" '
        'markerUnits="userSpaceOnUse">'
        f'<path d="M1,1 L9,9 M9,1 L1,9" stroke="{COLORS["FAULT"]}" stroke-width="2"/></marker>'
    )
    return "<defs>" + "".join(markers) + "</defs>"


def _svg_legend(protocols: Sequence[str], y: float) -> str:
    parts = ['<g class="legend">']
    x = MARGIN
    for protocol in protocols:
        color = _color(protocol)
        parts.append(f'<rect x="{x}" y="{y}" width="12" height="12" rx="2" fill="{color}"/>')
        parts.append(f'<text x="{x + 16}" y="{y + 10}" fill="#333333">{_xml(protocol)}</text>')
        x += 28 + round(len(protocol) * CHAR_PX)
    parts.append("</g>")
    return "".join(parts)


def _svg_box(name: str, x: float, y: float, col: int) -> str:
    w = col - 16
    return (
        f'<g class="participant"><rect x="{x - w / 2:.1f}" y="{y}" width="{w}" height="{BOX_HEIGHT}" rx="4" '
        f'fill="#eef2f7" stroke="#4a5a70"/><text x="{x:.1f}" y="{y + 19}" text-anchor="middle" '
        f'font-weight="bold" fill="#1d2733">{_xml(name)}</text></g>'
    )


def _svg_arrow(step: Step, centers: Sequence[float], col: int, canvas: float, y: float) -> str:
    assert step.event is not None
    x1, x2 = centers[step.src], centers[step.dst]
    color = _color("FAULT" if step.style is Style.FAILURE else step.protocol)
    dash = ' stroke-dasharray="6 4"' if step.style is Style.REPLY else ""
    thick = "2.4" if step.tls else "1.4"
    marker = (
        "seq-cross" if step.style is Style.FAILURE else _marker_id(step.protocol if step.protocol in COLORS else "")
    )
    line_y = y + 14
    # The label starts at the arrow's left end and may run past its right end over the next
    # lifelines (a white halo keeps it readable), so that short arrows keep useful labels.
    start = min(x1, x2) + (16 if x2 < x1 else 10)  # clear of a head pointing left
    room = min(max(abs(x2 - x1) - 20, col * 1.7), canvas - MARGIN / 2 - start) - (14 if step.tls else 0)
    label = _clip(step.label, max(int(room / CHAR_PX), 8))
    classes = f"step arrow {step.style.value} {_css(step.protocol)}" + (" tls" if step.tls else "")
    parts = [
        f'<g class="{classes}" data-seq="{step.event.seq}">',
        f"<title>{_xml(_tooltip(step.event))}</title>",
        f'<line x1="{x1:.1f}" y1="{line_y}" x2="{x2:.1f}" y2="{line_y}" stroke="{color}" '
        f'stroke-width="{thick}"{dash} marker-end="url(#{marker})"/>',
    ]
    if step.tls:  # a padlock before the label: these bytes are TLS records
        parts.append(_svg_padlock(start, line_y - 14, color))
        start += 14
    parts.append(
        f'<text x="{start:.1f}" y="{line_y - 4}" fill="{color}" stroke="#ffffff" stroke-width="3" '
        f'paint-order="stroke">{_xml(label)}</text>'
    )
    parts.append("</g>")
    return "".join(parts)


def _svg_padlock(x: float, y: float, color: str) -> str:
    return (
        f'<g class="padlock" transform="translate({x:.1f},{y:.1f})">'
        f'<path d="M2,5 V3.5 a3,3 0 0 1 6,0 V5" fill="none" stroke="{color}" stroke-width="1.4"/>'
        f'<rect x="0" y="5" width="10" height="7" rx="1.5" fill="{color}"/></g>'
    )


def _svg_lightning(x: float, y: float) -> str:
    return (
        f'<path class="lightning" transform="translate({x:.1f},{y:.1f})" d="M7,0 L1,9 H5 L3,16 L10,6 H6 Z" '
        f'fill="#ffd600" stroke="{COLORS["FAULT"]}" stroke-width="1"/>'
    )


def _svg_note(step: Step, centers: Sequence[float], col: int, width: float, y: float) -> str:
    assert step.event is not None
    color = _color(step.protocol)
    first, last = sorted((centers[step.src], centers[step.dst]))
    span = last - first
    max_w = max(span + col * 0.8, col * 1.8)
    chars = max(int((max_w - 20 - (16 if step.fault else 0)) / CHAR_PX), 8)
    label = _clip(step.label, chars)
    w = max(min(len(label) * CHAR_PX + 20 + (16 if step.fault else 0), max_w), span + 24)
    left = min(max((first + last) / 2 - w / 2, 4), width - w - 4)
    fill = "#ffebee" if step.fault else "#fffde7" if not step.tls else "#e8f5e9"
    classes = f"step note {_css(step.protocol)}" + (" fault" if step.fault else "") + (" tls" if step.tls else "")
    parts = [
        f'<g class="{classes}" data-seq="{step.event.seq}">',
        f"<title>{_xml(_tooltip(step.event))}</title>",
        f'<rect x="{left:.1f}" y="{y + 3}" width="{w:.1f}" height="{ROW_PX - 6}" rx="3" fill="{fill}" '
        f'stroke="{color}"/>',
    ]
    text_x = left + 10
    if step.fault:
        parts.append(_svg_lightning(left + 5, y + 6))
        text_x += 14
    parts.append(f'<text x="{text_x:.1f}" y="{y + 18}" fill="#212121">{_xml(label)}</text>')
    parts.append("</g>")
    return "".join(parts)


def _svg_gap(step: Step, width: float, y: float) -> str:
    mid = y + GAP_PX / 2
    text = f"⋯ {step.label}"
    w = len(text) * CHAR_PX + 16
    return (
        f'<g class="gap"><line x1="{MARGIN / 2}" y1="{mid}" x2="{width - MARGIN / 2}" y2="{mid}" stroke="#bdbdbd" '
        f'stroke-dasharray="2 4"/><rect x="{width / 2 - w / 2:.1f}" y="{mid - 8}" width="{w:.1f}" height="16" '
        f'fill="#ffffff"/><text x="{width / 2:.1f}" y="{mid + 4}" text-anchor="middle" fill="#616161" '
        f'font-style="italic">{_xml(text)}</text></g>'
    )


def _css(protocol: str) -> str:
    return re.sub(r"[^a-z0-9-]", "", protocol.lower()) or "other"


# Characters XML 1.0 cannot carry at all (C0 controls but tab, LF, CR; lone surrogates).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml(text: str) -> str:
    return escape(_NOT_XML.sub("\N{REPLACEMENT CHARACTER}", text))


# ---------------------------------------------------------------------------------------------
# Mermaid


MERMAID_LABEL = 90  # characters of a message before it is cut
TLS_BLOCK = "rect rgb(232, 245, 233)"
# Words of the sequenceDiagram grammar that cannot be participant ids.
_MERMAID_KEYWORDS = frozenset({
    "participant", "actor", "as", "end", "loop", "alt", "else", "opt", "par", "and", "rect", "note", "over",
    "left", "right", "of", "title", "autonumber", "activate", "deactivate", "critical", "break", "box", "links",
    "link", "properties", "details", "create", "destroy", "sequencediagram",
})  # fmt: skip
# Mermaid's entity codes (#name; or #number;) are its only escape: ";" ends a statement,
# "#" starts a code, and "<" ">" would be taken for HTML by the renderer.
_MERMAID_ESCAPES = {"#": "#35;", ";": "#59;", "<": "#lt;", ">": "#gt;"}
_MERMAID_ARROWS = {Style.REQUEST: "->>", Style.REPLY: "-->>", Style.FAILURE: "--x"}


def render_sequence_mermaid(events: Iterable[TraceEvent]) -> str:
    """The trace as Mermaid `sequenceDiagram` text, for Markdown and documentation.

    Participants get plain ids with the node name as alias; requests are `->>`, replies
    `-->>`, a refused or reset connection `--x`; events on one node are `Note over` it;
    TLS records sit in shaded `rect` blocks; messages are cut to a readable length.
    """
    names, steps = _layout(events)
    ids = _mermaid_ids(names)
    out = ["sequenceDiagram"]
    out.extend(f"    participant {pid} as {_mermaid_text(name)}" for pid, name in zip(ids, names, strict=True))
    in_tls = False
    for step in steps:
        if step.tls != in_tls and step.kind != "gap":
            out.append("    end" if in_tls else f"    {TLS_BLOCK}")
            in_tls = step.tls
        indent = "        " if in_tls else "    "
        label = _mermaid_text(_clip(step.label, MERMAID_LABEL))
        if step.kind == "gap":
            over = ids[0] if len(ids) == 1 else f"{ids[0]},{ids[-1]}"
            out.append(f"{indent}Note over {over}: {label}")
        elif step.kind == "arrow":
            out.append(f"{indent}{ids[step.src]}{_MERMAID_ARROWS[step.style]}{ids[step.dst]}: {label}")
        else:
            over = ids[step.src] if step.src == step.dst else f"{ids[step.src]},{ids[step.dst]}"
            out.append(f"{indent}Note over {over}: {'⚡ ' if step.fault else ''}{label}")
    if in_tls:
        out.append("    end")
    return "\n".join(out) + "\n"


def _mermaid_ids(names: Sequence[str]) -> list[str]:
    """Ids made of letters, digits and underscores only (a dot or a dash would end the id)."""
    ids: list[str] = []
    for name in names:
        base = re.sub(r"\W", "_", name, flags=re.ASCII).strip("_") or "node"
        if base[0].isdigit() or base.lower() in _MERMAID_KEYWORDS:
            base = "n_" + base
        candidate, n = base, 2
        while candidate in ids:
            candidate, n = f"{base}_{n}", n + 1
        ids.append(candidate)
    return ids


def _mermaid_text(text: str) -> str:
    flat = " ".join(text.split())
    return "".join(_MERMAID_ESCAPES.get(c, c) for c in flat) or "-"
