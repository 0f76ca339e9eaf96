"""Sequence diagrams: the text fits its width, the SVG is well-formed XML, the Mermaid text is well-structured.

The real Mermaid parser and a real browser rendering of the SVG are in
tests/integration/test_views_browser.py.
"""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from simulator import Simulation
from simulator.scenarios import builtin_names
from simulator.trace import TraceEvent
from simulator.views.sequence import (
    COLORS,
    WIRE_KINDS,
    render_sequence_mermaid,
    render_sequence_svg,
    render_sequence_text,
)

SVG = "{http://www.w3.org/2000/svg}"
SCENARIOS = builtin_names()
# Every glyph a lifeline's column may hold in a row: the lifeline itself, an arrow's start,
# shaft or head, a note mark, a gap.
LIFELINE_GLYPHS = set("│┆├┤╞╡─┄═┈◆×<>x")
_TRACES: dict[str, list[TraceEvent]] = {}


def trace_of(name: str) -> list[TraceEvent]:
    """The whole trace of a built-in scenario with seed 1, run once per test session."""
    if name not in _TRACES:
        sim = Simulation.from_scenario(name, seed=1)
        sim.run()
        _TRACES[name] = list(sim.trace)
    return _TRACES[name]


def nodes_of(trace: list[TraceEvent]) -> set[str]:
    return {name for e in trace for name in (e.src, e.dst) if name}


def event(
    seq: int, kind: str, src: str, dst: str, summary: str, *, conn: int | None = 1, time: float = 0.0
) -> TraceEvent:
    return TraceEvent(seq, time, kind, src, dst, conn, "SMTP", b"", summary, f"what {summary} means", "RFC 5321 §4")


def lifeline_columns(text: str) -> list[int]:
    """Where the lifelines run: the stems under the header boxes."""
    stems = text.splitlines()[2]
    return [i for i, c in enumerate(stems) if c == "┬"]


def body_rows(text: str) -> list[str]:
    """The rows under the header, without the legend that may close the diagram."""
    lines = text.splitlines()[3:]
    legend = next((i for i, line in enumerate(lines) if line.startswith("Lifelines: ")), len(lines))
    return lines[:legend]


# --- text ---------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("name", SCENARIOS)
def test_text_fits_the_width_without_broken_lines(name: str, width: int) -> None:
    trace = trace_of(name)
    for explain in (False, True):
        text = render_sequence_text(trace, width=width, explain=explain)
        lines = text.splitlines()
        too_wide = [line for line in lines if len(line) > width]
        assert not too_wide, f"{name} at {width} (explain={explain}): {too_wide[0]!r}"
        columns = lifeline_columns(text)
        assert len(columns) == len(nodes_of(trace)), "one lifeline per node"
        rows = body_rows(text)
        for row in rows:  # every row carries every lifeline through: nothing wrapped or shifted
            glyphs = [row[x] if x < len(row) else " " for x in columns]
            assert all(g in LIFELINE_GLYPHS for g in glyphs), f"{name} at {width}: broken row {row!r}"
        if not explain:
            gaps = [row for row in rows if row.lstrip().startswith("┆")]
            assert len(rows) - len(gaps) == len(trace), "one row per trace event"


def test_text_draws_requests_replies_and_notes_between_the_right_lifelines() -> None:
    trace = trace_of("basic")
    text = render_sequence_text(trace, width=120)
    laptop, smtp, _ns, mx = lifeline_columns(text)
    rows = body_rows(text)
    connect, greeting = rows[0], rows[1]
    assert connect[laptop] == "├" and connect[smtp - 1] == ">" and set(connect[laptop + 1 : smtp - 1]) == {"─"}
    assert "connects to smtp.example.com port 587" in connect
    assert greeting[smtp] == "┤" and greeting[laptop + 1] == "<" and set(greeting[laptop + 2 : smtp]) == {"┄"}
    assert "220 smtp.example.com ESMTP" in greeting
    delivery = next(row for row in rows if "delivers" in row)
    assert delivery[mx] == "◆" and delivery[smtp] == "│", "a note sits on its own node's lifeline"
    assert "mx.example.org delivers" not in delivery, "the lifeline already names the node"


def test_lifelines_follow_the_mail_from_sender_to_reader() -> None:
    """In imap-idle-push the phone connects first, yet it reads last: it stands rightmost."""
    first_event = trace_of("imap-idle-push")[0]
    assert first_event.src == "phone.example.org"
    mermaid = render_sequence_mermaid(trace_of("imap-idle-push"))
    order = re.findall(r"^    participant \S+ as (\S+)$", mermaid, re.M)
    assert order == ["laptop.example.com", "smtp.example.com", "ns.example.net", "mx.example.org", "phone.example.org"]


def test_text_marks_tls_records_faults_refusals_and_quiet_time() -> None:
    tls_text = render_sequence_text(trace_of("starttls-submission"), width=120)
    tls_rows = [row for row in body_rows(tls_text) if "[TLS]" in row]
    assert tls_rows and all("═" in row for row in tls_rows), "TLS records are drawn as a double line"
    assert all("═" not in row for row in body_rows(tls_text) if "[TLS]" not in row)

    down = render_sequence_text(trace_of("mx-down-retry"), width=80)
    _laptop, smtp, _ns, mx = lifeline_columns(down)
    rows = body_rows(down)
    fault = next(row for row in rows if "fault:" in row)
    assert fault[mx] == "×"
    refused = next(row for row in rows if "refuses the connection" in row)
    assert refused[mx] == "┤" and refused[smtp + 1] == "x", "a refused connection ends in a cross"
    gap = next(row for row in rows if "300 s later" in row)
    assert gap[smtp] == "┆" and "t=300.1 s" in gap


def test_text_abbreviates_names_with_a_legend_when_the_lifelines_do_not_fit() -> None:
    trace = trace_of("pop3-vs-imap")  # six nodes, two of them called "laptop"
    wide = render_sequence_text(trace, width=200)
    assert "│laptop.example.com│" in wide and "Lifelines:" not in wide
    narrow = render_sequence_text(trace, width=60)
    assert max(len(line) for line in narrow.splitlines()) <= 60
    names = [cell.strip() for cell in narrow.splitlines()[1].split("│")[1::2]]
    assert len(set(names)) == len(names) == 6, f"abbreviations must stay distinct: {names}"
    assert names[:4] == ["lap.c", "smtp", "ns", "mx"] and names[4] == "lap.o"
    lines = narrow.splitlines()
    legend = " ".join(line.strip() for line in lines[[line[:11] for line in lines].index("Lifelines: ") :])
    for short, full in zip(names, ["laptop.example.com", "smtp.example.com", "ns.example.net"], strict=False):
        assert f"{short} = {full}" in legend


def test_text_cuts_long_labels_with_an_ellipsis() -> None:
    summary = "RCPT TO:<" + "x" * 300 + "@example.org>"
    text = render_sequence_text([event(0, "send", "a.example", "b.example", summary)], width=50)
    row = body_rows(text)[0]
    assert len(row) <= 50 and row.endswith("…") and "RCPT TO:<xx" in row


def test_text_explains_each_row_with_its_rfc() -> None:
    text = render_sequence_text(trace_of("basic"), width=100, explain=True)
    rows = body_rows(text)
    labels_from = lifeline_columns(text)[-1] + 2
    greeting = next(i for i, row in enumerate(rows) if "220 smtp.example.com ESMTP" in row)
    below = []
    for row in rows[greeting + 1 :]:
        if set(row[:labels_from]) - {" ", "│"}:  # the next arrow or note
            break
        below.append(row[labels_from:].strip())
    assert (
        " ".join(below)
        == "The server is ready. Its first line names the host; 'ESMTP' invites EHLO. [RFC 5321 §4.2, §3.1]"
    )


def test_text_refuses_a_width_that_cannot_hold_the_lifelines() -> None:
    names = [f"host{i}.example" for i in range(30)]
    trace = [event(i, "send", names[i], names[i + 1], "HELO") for i in range(29)]
    with pytest.raises(ValueError, match="cannot hold 30 lifelines"):
        render_sequence_text(trace, width=80)
    assert render_sequence_text([], width=80) == "(no events)\n"


# --- SVG ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", SCENARIOS)
def test_svg_is_xml_that_names_every_node(name: str) -> None:
    trace = trace_of(name)
    root = ET.fromstring(render_sequence_svg(trace, title=name))
    assert root.tag == f"{SVG}svg"
    boxes = [
        "".join(text.itertext())
        for group in root.iter(f"{SVG}g")
        if group.get("class") == "participant"
        for text in group.iter(f"{SVG}text")
    ]
    assert set(boxes) == nodes_of(trace)
    assert len(boxes) == 2 * len(nodes_of(trace)), "each lifeline is named at its top and at its bottom"
    steps = [g for g in root.iter(f"{SVG}g") if "step" in (g.get("class") or "").split()]
    assert len(steps) == len(trace), "one arrow or note per trace event"
    arrows = [g for g in steps if "arrow" in (g.get("class") or "").split()]
    assert len(arrows) == sum(1 for e in trace if e.kind in WIRE_KINDS and e.src != e.dst)


def test_svg_rows_carry_a_tooltip_with_the_explanation_and_rfc() -> None:
    trace = trace_of("basic")
    root = ET.fromstring(render_sequence_svg(trace))
    steps = [g for g in root.iter(f"{SVG}g") if "step" in (g.get("class") or "").split()]
    for group in steps:
        original = trace[int(group.get("data-seq", "-1"))]
        tooltip = group.find(f"{SVG}title")
        assert tooltip is not None and tooltip.text is not None
        assert original.explain in tooltip.text and original.rfc in tooltip.text


def test_svg_colors_by_protocol_and_marks_tls_and_faults() -> None:
    root = ET.fromstring(render_sequence_svg(trace_of("starttls-submission")))
    groups = [g for g in root.iter(f"{SVG}g") if "arrow" in (g.get("class") or "").split()]

    def stroke(group: ET.Element) -> str | None:
        line = group.find(f"{SVG}line")
        assert line is not None
        return line.get("stroke")

    dns = [g for g in groups if "dns" in (g.get("class") or "").split()]
    smtp = [g for g in groups if "smtp" in (g.get("class") or "").split()]
    tls = [g for g in groups if "tls" in (g.get("class") or "").split()]
    assert dns and {stroke(g) for g in dns} == {COLORS["DNS"]}
    assert smtp and {stroke(g) for g in smtp} == {COLORS["SMTP"]}
    assert tls and {stroke(g) for g in tls} == {COLORS["TLS"]}
    for group in tls:
        label = "".join(group.find(f"{SVG}text").itertext())  # type: ignore[union-attr]
        assert label.startswith("[TLS] ")
        assert any(g.get("class") == "padlock" for g in group.iter(f"{SVG}g"))
    replies = [g for g in smtp if "reply" in (g.get("class") or "").split()]
    assert replies and all(g.find(f"{SVG}line").get("stroke-dasharray") for g in replies)  # type: ignore[union-attr]

    down = ET.fromstring(render_sequence_svg(trace_of("mx-down-retry")))
    faults = [g for g in down.iter(f"{SVG}g") if "fault" in (g.get("class") or "").split()]
    assert faults and all(any(p.get("class") == "lightning" for p in g.iter(f"{SVG}path")) for g in faults), (
        "a fault carries a lightning mark"
    )
    refused = [g for g in down.iter(f"{SVG}g") if "failure" in (g.get("class") or "").split()]
    assert refused and all(g.find(f"{SVG}line").get("stroke") == COLORS["FAULT"] for g in refused)  # type: ignore[union-attr]


def test_svg_has_no_external_assets_and_escapes_text() -> None:
    nasty = 'a <b> & "c" \x07 \U0001f4e7'
    trace = [event(0, "connect", "a.example", "b.example", nasty), event(1, "queue", "b.example", "b.example", nasty)]
    svg = render_sequence_svg(trace, title="<title> & more")
    root = ET.fromstring(svg)
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert any(t.startswith('a <b> & "c"') for t in texts), texts
    for element in root.iter():
        for attribute, value in element.attrib.items():
            assert "href" not in attribute, f"{element.tag} links {value}"
            assert "url(" not in value or value.startswith("url(#"), f"{element.tag} {attribute}={value}"
    assert "<script" not in svg and "@import" not in svg and "@font-face" not in svg


def test_an_empty_trace_gives_empty_diagrams() -> None:
    root = ET.fromstring(render_sequence_svg([]))
    assert not [g for g in root.iter(f"{SVG}g") if g.get("class") in ("participant", "step")]
    assert render_sequence_mermaid([]) == "sequenceDiagram\n"
    assert render_sequence_text([]) == "(no events)\n"


# --- Mermaid ------------------------------------------------------------------------------

MERMAID_ID = r"[A-Za-z_][A-Za-z0-9_]*"
MERMAID_STATEMENTS = [
    re.compile(rf"^ {{4}}participant {MERMAID_ID} as \S.*$"),
    re.compile(rf"^ {{4,8}}{MERMAID_ID}(->>|-->>|--x){MERMAID_ID}: \S.*$"),
    re.compile(rf"^ {{4,8}}Note over {MERMAID_ID}(,{MERMAID_ID})?: \S.*$"),
    re.compile(r"^ {4}rect rgb\(\d+, \d+, \d+\)$"),
    re.compile(r"^ {4}end$"),
]
# What a message may not hold raw: ";" ends a statement, "#" that does not start an entity code.
RAW_IN_MESSAGE = re.compile(r";(?<!#\d\d;)(?<!#lt;)(?<!#gt;)|#(?!\d+;|lt;|gt;)")


@pytest.mark.parametrize("name", SCENARIOS)
def test_mermaid_structure(name: str) -> None:
    trace = trace_of(name)
    lines = render_sequence_mermaid(trace).splitlines()
    assert lines[0] == "sequenceDiagram"
    for line in lines[1:]:
        assert any(p.match(line) for p in MERMAID_STATEMENTS), f"not a statement we write: {line!r}"
    participants = dict(re.findall(rf"^ {{4}}participant ({MERMAID_ID}) as (.*)$", "\n".join(lines), re.M))
    assert set(participants.values()) == nodes_of(trace)
    arrows = [m for line in lines if (m := re.match(rf"^ +({MERMAID_ID})(?:->>|-->>|--x)({MERMAID_ID}): (.*)$", line))]
    assert len(arrows) == sum(1 for e in trace if e.kind in WIRE_KINDS and e.src != e.dst)
    for arrow in arrows:
        src, dst, message = arrow.groups()
        assert src in participants and dst in participants and src != dst
        assert not RAW_IN_MESSAGE.search(message), message
    opened = sum(1 for line in lines if line.strip().startswith("rect "))
    assert opened == sum(1 for line in lines if line.strip() == "end"), "every rect block is closed"


def test_mermaid_escapes_what_its_grammar_cannot_take() -> None:
    summary = "MAIL FROM:<a@b.example>; RCPT TO:<c#1@d.example>\r\nDATA"
    trace = [
        event(0, "connect", "a-b.example", "end", "connect"),
        event(1, "send", "a-b.example", "end", summary),
        event(2, "send", "end", "a-b.example", "250 Ok"),
        event(3, "deliver", "end", "end", "end delivers; #1", time=400.0),
    ]
    lines = render_sequence_mermaid(trace).splitlines()
    assert lines[1] == "    participant a_b_example as a-b.example"
    assert lines[2] == "    participant n_end as end", "a keyword is never an id"
    assert (
        lines[4] == "    a_b_example->>n_end: MAIL FROM:#lt;a@b.example#gt;#59; RCPT TO:#lt;c#35;1@d.example#gt; DATA"
    )
    assert lines[5] == "    n_end-->>a_b_example: 250 Ok"
    assert lines[6].startswith("    Note over a_b_example,n_end: 400 s later")
    assert lines[7] == "    Note over n_end: delivers#59; #35;1"


def test_mermaid_puts_tls_records_in_shaded_blocks_and_faults_in_notes() -> None:
    text = render_sequence_mermaid(trace_of("starttls-submission"))
    block = text.split("    rect rgb(232, 245, 233)\n", 1)[1].split("    end\n", 1)[0]
    assert block and all("[TLS]" in line or "TLS 1.3 handshake" in line for line in block.splitlines())
    down = render_sequence_mermaid(trace_of("mx-down-retry"))
    assert "    Note over mx_example_org: ⚡ fault: mx.example.org is down for 3600 s" in down
    assert "    mx_example_org--xsmtp_example_com: refuses the connection to port 25" in down


# --- purity -------------------------------------------------------------------------------


def test_the_view_reads_only_the_trace() -> None:
    source = Path(__file__).resolve().parents[2] / "simulator" / "views" / "sequence.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    simulator_modules = {m for m in imported if m.startswith("simulator")}
    assert simulator_modules == {"simulator.trace"}, simulator_modules


def test_the_title_fits_even_before_any_lifeline() -> None:
    from simulator.views.sequence import render_sequence_svg

    title = "starttls-submission (seed 1)"
    svg = render_sequence_svg([], title=title)
    width = int(svg.split('width="', 1)[1].split('"', 1)[0])
    assert width >= len(title) * 9, "a 15 px bold title needs about 9 px a character"
