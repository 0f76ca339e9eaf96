"""State diagrams drawn from the protocol engines' own transition tables.

The SMTP, POP3 and IMAP servers each consult a literal `TRANSITIONS` dict for
every command (simulator/protocol/*/state.py); the SMTP client steers its
session set-up by `SESSION_TRANSITIONS`. This view reads those same tables, so
the picture a learner sees cannot drift from what the engines do. Every state of
the table's `State` enum is drawn, in the enum's order (the order of a session),
and every key of the table is one labelled arrow; commands that leave the state
as it was are listed inside the state instead of drawn as loops.

Two renderings: text (for a terminal and the TUI) and a standalone SVG (for
notebooks and the HTML report). Both can highlight the state a connection is in.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from html import escape

from simulator.protocol.imap import state as imap_state
from simulator.protocol.pop3 import state as pop3_state
from simulator.protocol.smtp import client as smtp_client
from simulator.protocol.smtp import state as smtp_state

PROTOCOLS = ("smtp", "pop3", "imap", "smtp-client")

# Event classes whose name is not the command on the wire (the rest are their verb: Noop -> NOOP).
_LABELS: dict[str, str] = {
    "MailFrom": "MAIL FROM",
    "RcptTo": "RCPT TO",
    "DataComplete": "end of message",
    "TLSEstablished": "TLS handshake done",
    "AuthCredentials": "SASL exchange done",
    "AuthAborted": "SASL exchange aborted",
    "Commit": "deletions done",
}
_POP3_LABELS: dict[str, str] = {"Credentials": "PASS", "ApopCredentials": "APOP", "StartTLS": "STLS"}


@dataclass(frozen=True, slots=True)
class Transition:
    """All the keys of a table that lead from one state to another, as one arrow."""

    source: str
    target: str
    labels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StateTable:
    """A transition table as a diagram reads it: states in order, arrows grouped by their two ends."""

    protocol: str
    title: str
    note: str
    states: tuple[tuple[str, str], ...]  # (name, what it means), in the enum's order
    transitions: tuple[Transition, ...]

    def state_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.states)

    def leaving(self, state: str) -> list[Transition]:
        """The arrows out of a state to another state."""
        return [t for t in self.transitions if t.source == state and t.target != state]

    def staying(self, state: str) -> tuple[str, ...]:
        """What a state accepts without leaving it."""
        return next((t.labels for t in self.transitions if t.source == state == t.target), ())


def state_table(protocol: str) -> StateTable:
    """The table of one protocol ("smtp", "pop3", "imap" or "smtp-client") in diagram form.

    Raises:
        ValueError: for any other protocol name.
    """
    if protocol == "smtp":
        return _table(
            "smtp",
            "SMTP server",
            "A command moves the server along an arrow only when it succeeds; a command with no "
            "arrow from the current state is refused with 503 (RFC 5321 §4.1.4, §4.3.2).",
            smtp_state.State,
            {(s, _label(kind.__name__)): t for (s, kind), t in smtp_state.TRANSITIONS.items()},
        )
    if protocol == "pop3":
        return _table(
            "pop3",
            "POP3 server",
            "A command moves the server along an arrow only when it succeeds (+OK); a command not "
            "valid in the current state gets -ERR (RFC 1939 §3).",
            pop3_state.State,
            {(s, _label(kind.__name__, _POP3_LABELS)): t for (s, kind), t in pop3_state.TRANSITIONS.items()},
        )
    if protocol == "imap":
        edges: dict[tuple[Enum, str], Enum] = {
            (s, _label(kind.__name__)): t for (s, kind), t in imap_state.TRANSITIONS.items()
        }
        for (s, kind), t in imap_state.FAILED_TRANSITIONS.items():
            if t is not imap_state.TRANSITIONS[(s, kind)]:  # only where failing leads elsewhere
                edges[(s, f"{_label(kind.__name__)} fails")] = t
        return _table(
            "imap",
            "IMAP server",
            "A command moves the server along an arrow when it completes with OK; a command not "
            "valid in the current state gets a tagged BAD (RFC 3501 §3, §6).",
            imap_state.State,
            edges,
        )
    if protocol == "smtp-client":
        return _table(
            "smtp-client",
            "SMTP client, session set-up",
            "What the client does next, by the class of the reply it got (2xx success, 4xx "
            "transient, 5xx permanent); inside a transaction each recipient's reply is weighed on "
            "its own (RFC 5321 §4.2.1, §4.3.2).",
            smtp_client.ClientState,
            {(s, f"{code}xx reply"): t for (s, code), t in smtp_client.SESSION_TRANSITIONS.items()},
        )
    raise ValueError(f"no state table for {protocol!r}; expected one of {', '.join(PROTOCOLS)}")


def _label(name: str, overrides: Mapping[str, str] = _LABELS) -> str:
    return overrides.get(name) or _LABELS.get(name) or name.upper()


def _table(
    protocol: str, title: str, note: str, states: type[Enum], edges: Mapping[tuple[Enum, str], Enum]
) -> StateTable:
    grouped: dict[tuple[str, str], list[str]] = {}
    for (source, label), target in edges.items():
        labels = grouped.setdefault((source.name, target.name), [])
        if label not in labels:
            labels.append(label)
    return StateTable(
        protocol,
        title,
        note,
        tuple((s.name, str(s.value)) for s in states),
        tuple(Transition(s, t, tuple(labels)) for (s, t), labels in grouped.items()),
    )


def _checked(table: StateTable, current: str | None) -> str | None:
    if current is None:
        return None
    name = current.upper()
    if name not in table.state_names():
        raise ValueError(f"{table.title} has no state {current!r}; its states: {', '.join(table.state_names())}")
    return name


# --- text ----------------------------------------------------------------------------------------

CURRENT_MARK = "==>"


def render_state_text(protocol: str, *, current: str | None = None, width: int = 80) -> str:
    """The state diagram as text: each state with its arrows out, the current one marked `==>`.

    Args:
        protocol: "smtp", "pop3", "imap" or "smtp-client".
        current: the name of the state to highlight (as the table names it, any case).
        width: wrap lines to this many columns.
    """
    table = state_table(protocol)
    here = _checked(table, current)
    out = [f"{table.title} states", *textwrap.wrap(table.note, width), ""]
    name_width = max(len(name) for name in table.state_names())
    for name, meaning in table.states:
        mark = CURRENT_MARK if name == here else ""
        head = f"{mark:<4}{name:<{name_width}}  "
        tail = f"(current state) {meaning}" if name == here else meaning
        out.extend(textwrap.wrap(tail, width, initial_indent=head, subsequent_indent=" " * len(head)))
        rows = [(f"-> {t.target}", t.labels) for t in table.leaving(name)]
        if table.staying(name):
            rows.append(("stays", table.staying(name)))
        if not rows:
            out.append("        (no arrow leaves this state in the table)")
        arrow_width = max((len(arrow) for arrow, _ in rows), default=0)
        for arrow, labels in rows:
            head = f"        {arrow:<{arrow_width}}  "
            out.extend(
                textwrap.wrap(
                    ", ".join(labels),
                    max(width, len(head) + 20),
                    initial_indent=head,
                    subsequent_indent=" " * len(head),
                    break_on_hyphens=False,
                )
            )
    return "\n".join(out) + "\n"


# --- SVG -----------------------------------------------------------------------------------------

CHAR = 7.2  # width of one character at the 12 px monospace font the SVG uses
LINE = 15  # line height in px
BOX_PAD = 8
ROW_GAP = 34
LEVEL_STEP = 22  # horizontal distance between nested arrows
STAY_WRAP = 44  # characters per line of a state's "stays on" list
SVG_NOTE = "An arrow is taken when its command succeeds; commands listed in a state leave it unchanged."

# Scoped to the diagram: inline SVG in an HTML page shares the page's style sheet.
_STYLE = """
.state-diagram text { font-family: ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12px;
  fill: #1f2937; }
.state-diagram .title { font-size: 14px; font-weight: bold; }
.state-diagram .state rect { fill: #f8fafc; stroke: #475569; stroke-width: 1.5; }
.state-diagram .state .name { font-weight: bold; }
.state-diagram .state .meaning, .state-diagram .state .stays { fill: #475569; font-size: 11px; }
.state-diagram .state.current rect { fill: #fde68a; stroke: #b45309; stroke-width: 3; }
.state-diagram .transition path { fill: none; stroke: #2563eb; stroke-width: 1.3; }
.state-diagram .transition.back path { stroke: #7c3aed; }
.state-diagram .transition text { paint-order: stroke; stroke: #ffffff; stroke-width: 3px; stroke-linejoin: round;
  font-size: 11px; }
"""


@dataclass
class _Box:
    name: str
    lines: list[tuple[str, str]]  # (css class, text)
    x: float = 0
    y: float = 0
    width: float = 0

    @property
    def height(self) -> float:
        return len(self.lines) * LINE + 2 * BOX_PAD


@dataclass
class _Arrow:
    transition: Transition
    forward: bool
    low: int  # row indexes it spans
    high: int
    level: int = 0


def render_state_svg(protocol: str, *, current: str | None = None) -> str:
    """The state diagram as a standalone SVG document (inline style, no external assets).

    States stand in a column in the order a session meets them; arrows to a later state
    run on the right, arrows back to an earlier one on the left, each with its commands
    as a label and a tooltip. The current state, when given, is filled and named so.
    """
    table = state_table(protocol)
    here = _checked(table, current)
    names = table.state_names()
    boxes = [_box(table, name, meaning, name == here) for name, meaning in table.states]
    box_width = max(max(len(text) for _, text in box.lines) * CHAR for box in boxes) + 2 * BOX_PAD

    arrows = [
        _Arrow(t, names.index(t.target) > names.index(t.source),
               min(names.index(t.source), names.index(t.target)), max(names.index(t.source), names.index(t.target)))
        for t in table.transitions if t.source != t.target
    ]  # fmt: skip
    for side in (True, False):
        _assign_levels([a for a in arrows if a.forward is side])
    label_room = {
        side: max((len(_arrow_label(a)) * CHAR for a in arrows if a.forward is side), default=0)
        for side in (True, False)
    }
    levels = {side: max((a.level for a in arrows if a.forward is side), default=0) for side in (True, False)}
    left = 20 + label_room[False] + (levels[False] + 1) * LEVEL_STEP
    top = 80.0
    y = top
    for box in boxes:
        box.x, box.y, box.width = left, y, box_width
        y += box.height + ROW_GAP
    width = left + box_width + (levels[True] + 1) * LEVEL_STEP + label_room[True] + 20
    height = y - ROW_GAP + 20

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="state-diagram" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{escape(table.title)} state diagram">',
        f"<style>{_STYLE}</style>",
        "<defs>"
        f'<marker id="{_marker(protocol)}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#334155"/></marker>'
        "</defs>",
        f'<rect x="0" y="0" width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>',
        f'<text class="title" x="20" y="24">{escape(table.title)} states</text>',
        f'<text x="20" y="42">{escape(SVG_NOTE)}</text>',
    ]
    first = boxes[0]  # a session starts in the enum's first state, as UML marks it: a dot and an arrow
    out.append(
        f'<g class="start"><title>A session starts in {escape(first.name)}</title>'
        f'<circle cx="{first.x + 24:.1f}" cy="{first.y - 18:.1f}" r="5" fill="#334155"/>'
        f'<path d="M{first.x + 24:.1f},{first.y - 13:.1f} V{first.y:.1f}" stroke="#334155" '
        f'marker-end="url(#{_marker(protocol)})"/></g>'
    )
    out.extend(_box_svg(protocol, box, box.name == here) for box in boxes)
    placed: list[tuple[float, float, float, float]] = []
    ports = _ports(arrows, boxes)
    for arrow in sorted(arrows, key=lambda a: (a.level, a.low)):
        out.append(_arrow_svg(protocol, arrow, boxes, names, ports, placed))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _box(table: StateTable, name: str, meaning: str, current: bool) -> _Box:
    lines = [("name", f"{name}  (current state)" if current else name)]
    lines.extend(("meaning", line) for line in textwrap.wrap(meaning, STAY_WRAP))
    stays = table.staying(name)
    if stays:
        lines.extend(("stays", line) for line in textwrap.wrap("stays on: " + ", ".join(stays), STAY_WRAP))
    return _Box(name, lines)


def _assign_levels(arrows: list[_Arrow]) -> None:
    """Nest arrows like intervals: shorter spans inside, no two overlapping spans on one level."""
    taken: dict[int, list[tuple[int, int]]] = {}
    for arrow in sorted(arrows, key=lambda a: (a.high - a.low, a.low)):
        level = 0
        while any(arrow.low < high and low < arrow.high for low, high in taken.get(level, [])):
            level += 1
        arrow.level = level
        taken.setdefault(level, []).append((arrow.low, arrow.high))


def _arrow_label(arrow: _Arrow) -> str:
    return ", ".join(arrow.transition.labels)


def _ports(arrows: list[_Arrow], boxes: list[_Box]) -> dict[tuple[int, bool, str], float]:
    """Where each arrow meets a box: the ends on one side of a box spread over its height."""
    ends: dict[tuple[int, bool], list[str]] = {}
    for arrow in sorted(arrows, key=lambda a: -a.level):
        key = f"{arrow.transition.source}>{arrow.transition.target}"
        for row in (arrow.low, arrow.high):
            ends.setdefault((row, arrow.forward), []).append(key)
    ports: dict[tuple[int, bool, str], float] = {}
    for (row, side), keys in ends.items():
        box = boxes[row]
        for n, key in enumerate(keys):
            ports[(row, side, key)] = box.y + box.height * (n + 1) / (len(keys) + 1)
    return ports


def _marker(protocol: str) -> str:
    """Ids unique per protocol, so that several diagrams can share one HTML page."""
    return f"state-head-{protocol}"


def _box_svg(protocol: str, box: _Box, current: bool) -> str:
    css = "state current" if current else "state"
    meaning = " ".join(text for kind, text in box.lines if kind == "meaning")
    parts = [
        f'<g class="{css}" id="{protocol}-state-{escape(box.name)}" data-state="{escape(box.name)}">',
        f"<title>{escape(box.name)}: {escape(meaning)}</title>",
        f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{box.height:.1f}" rx="8"/>',
    ]
    for n, (kind, text) in enumerate(box.lines):
        baseline = box.y + BOX_PAD + (n + 1) * LINE - 4
        parts.append(f'<text class="{kind}" x="{box.x + BOX_PAD:.1f}" y="{baseline:.1f}">{escape(text)}</text>')
    parts.append("</g>")
    return "".join(parts)


def _arrow_svg(
    protocol: str,
    arrow: _Arrow,
    boxes: list[_Box],
    names: tuple[str, ...],
    ports: dict[tuple[int, bool, str], float],
    placed: list[tuple[float, float, float, float]],
) -> str:
    t = arrow.transition
    key = f"{t.source}>{t.target}"
    source, target = names.index(t.source), names.index(t.target)
    y1, y2 = ports[(source, arrow.forward, key)], ports[(target, arrow.forward, key)]
    edge = boxes[0].x + boxes[0].width if arrow.forward else boxes[0].x
    sign = 1 if arrow.forward else -1
    x = edge + sign * (arrow.level + 1) * LEVEL_STEP
    r = min(6.0, abs(y2 - y1) / 2)
    down = 1 if y2 > y1 else -1
    path = (
        f"M{edge:.1f},{y1:.1f} H{x - sign * r:.1f} Q{x:.1f},{y1:.1f} {x:.1f},{y1 + down * r:.1f} "
        f"V{y2 - down * r:.1f} Q{x:.1f},{y2:.1f} {x - sign * r:.1f},{y2:.1f} H{edge:.1f}"
    )
    label = _arrow_label(arrow)
    label_width = len(label) * CHAR
    label_x = x + sign * 4
    left = label_x if arrow.forward else label_x - label_width
    label_y = _free_y(left, label_width, min(y1, y2), max(y1, y2), placed)
    anchor = "start" if arrow.forward else "end"
    css = "transition" if arrow.forward else "transition back"
    tooltip = f"{t.source} -> {t.target}: {label}"
    return (
        f'<g class="{css}" data-source="{escape(t.source)}" data-target="{escape(t.target)}">'
        f"<title>{escape(tooltip)}</title>"
        f'<path d="{path}" marker-end="url(#{_marker(protocol)})"/>'
        f'<text x="{label_x:.1f}" y="{label_y:.1f}" text-anchor="{anchor}">{escape(label)}</text>'
        "</g>"
    )


def _free_y(
    left: float, width: float, low: float, high: float, placed: list[tuple[float, float, float, float]]
) -> float:
    """A baseline on the arrow's vertical run where its label overlaps no label placed before."""
    middle = (low + high) / 2 + 4
    candidates = [middle + sign * step * LINE for step in range(0, 40) for sign in (1, -1)]
    inside = [y for y in candidates if low + LINE <= y <= high - 2] or [middle]
    for y in [*inside, *candidates]:
        box = (left, y - LINE + 3, left + width, y + 3)
        if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
            placed.append(box)
            return y
    return middle
