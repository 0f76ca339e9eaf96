"""The HTML report: one self-contained page that tells what happened in a run.

It holds the scenario's name and description, what happened to each recipient,
the faults (those the scenario asked for and those that fired), the sequence
diagram, the annotated transcript, and the state diagrams of the protocols that
were spoken. Everything is inline (style sheet and SVG), nothing is fetched and
no script runs, so the file opens the same from a disk, a mail attachment or a
learning platform that strips scripts.

The caller passes the trace and plain data about the run (the outcome rows, the
fault specs): this view never looks inside a simulation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Protocol

from simulator.trace import TraceEvent
from simulator.views.sequence import render_sequence_svg
from simulator.views.state_diagram import render_state_svg
from simulator.views.transcript import render_transcript

# The trace's protocol names that have a state table (simulator.views.state_diagram).
STATE_DIAGRAMS = {"SMTP": "smtp", "POP3": "pop3", "IMAP": "imap"}


class OutcomeRow(Protocol):
    """What happened to one recipient of one message (`Simulation.outcome()` gives such rows)."""

    @property
    def message_id(self) -> str: ...
    @property
    def sender(self) -> str: ...
    @property
    def recipient(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def where(self) -> str: ...
    @property
    def detail(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """An outcome row as plain data, for callers that have no `Simulation` at hand."""

    message_id: str
    sender: str
    recipient: str
    status: str
    where: str
    detail: str = ""


_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0;
  color: #1f2937; background: #ffffff; line-height: 1.45; }
header, main, footer { max-width: 72rem; margin: 0 auto; padding: 0 1.25rem; }
header { padding-top: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 .4rem; }
h1 code { font-size: 1.4rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .6rem; border-bottom: 1px solid #e5e7eb; padding-bottom: .2rem; }
nav a { margin-right: 1rem; color: #1d4ed8; }
.meta { color: #4b5563; font-size: .9rem; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid #e5e7eb; vertical-align: top; }
th { background: #f3f4f6; }
td.status { font-weight: bold; white-space: nowrap; }
.status-delivered { color: #166534; }
.status-bounced, .status-rejected { color: #b91c1c; }
.status-queued, .status-submitted { color: #92400e; }
.figure { overflow-x: auto; border: 1px solid #e5e7eb; border-radius: 6px; padding: .5rem; background: #ffffff; }
pre.transcript { font-family: ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: .8rem;
  line-height: 1.35; background: #f9fafb; border: 1px solid #e5e7eb; border-radius: 6px; padding: .75rem;
  overflow-x: auto; }
.transcript .client { color: #1e3a8a; }
.transcript .server { color: #14532d; }
.transcript .tls { background: #ecfdf5; }
.transcript .happened { color: #6b21a8; }
.transcript .context { color: #6b7280; font-style: italic; }
.transcript .note { color: #6b7280; }
.faults li { margin-bottom: .4rem; }
.rfc { color: #4b5563; font-size: .85rem; }
details { margin: .6rem 0; }
summary { cursor: pointer; font-weight: 600; }
footer { color: #6b7280; font-size: .8rem; padding: 2rem 1.25rem; }
"""

# A transcript line: the time column, then the mark that says who spoke (simulator.views.transcript).
_LINE = re.compile(r"^(?:\s*\d+\.\d{3}s|\s+) (->|<-|~>|<~|==|--) ")
_MARKS = {
    "->": "client",
    "<-": "server",
    "~>": "client tls",
    "<~": "server tls",
    "==": "happened",
    "--": "context",
}


def render_report(
    events: Sequence[TraceEvent],
    *,
    name: str,
    description: str = "",
    seed: int | None = None,
    fault_specs: Sequence[str] = (),
    outcomes: Iterable[OutcomeRow] = (),
    full: bool = False,
) -> str:
    """The report as one HTML document.

    Args:
        events: the run's trace.
        name: the scenario's name, the page's title.
        description: what the scenario is about, as its file says.
        seed: the seed of the run, shown so that the run can be repeated.
        fault_specs: the faults the scenario (or the command line) asked for, in the
            grammar of `smtpsim run --fault`.
        outcomes: what happened to each recipient (`Simulation.outcome()`).
        full: show message bodies whole in the transcript.
    """
    events = list(events)
    rows = list(outcomes)
    duration = events[-1].time if events else 0.0
    meta = [f"{len(events)} trace events", f"{_duration(duration)} of simulated time"]
    if seed is not None:
        meta.insert(0, f"seed {seed}")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>smtpsim: {escape(name)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>Scenario <code>{escape(name)}</code></h1>",
        f'<p class="meta">{escape(" · ".join(meta))}</p>',
        f'<p class="description">{escape(description)}</p>' if description else "",
        '<nav><a href="#outcome">Outcome</a><a href="#faults">Faults</a><a href="#sequence">Sequence diagram</a>'
        '<a href="#transcript">Transcript</a><a href="#states">State diagrams</a></nav>',
        "</header>",
        "<main>",
        _outcome_section(rows),
        _faults_section(events, fault_specs),
        '<section id="sequence"><h2>Sequence diagram</h2>',
        "<p>One arrow per write on the wire; hover over a row for its explanation.</p>",
        f'<div class="figure">{_inline_svg(render_sequence_svg(events, title=name))}</div>',
        "</section>",
        _transcript_section(events, full),
        _states_section(events),
        "</main>",
        "<footer>Made by smtpsim from the trace of one run; every byte shown is what crossed the simulated wire."
        "</footer>",
        "</body>",
        "</html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def _outcome_section(rows: Sequence[OutcomeRow]) -> str:
    out = ['<section id="outcome"><h2>Outcome</h2>']
    if not rows:
        out.append("<p>No message was submitted in this run.</p>")
    else:
        out.append(
            "<table><thead><tr><th>Message</th><th>From</th><th>To</th><th>Status</th><th>Where</th>"
            "<th>Detail</th></tr></thead><tbody>"
        )
        for row in rows:
            status = re.sub(r"[^a-z-]", "", row.status.lower())
            out.append(
                f"<tr><td><code>{escape(row.message_id)}</code></td><td>{escape(row.sender)}</td>"
                f"<td>{escape(row.recipient)}</td>"
                f'<td class="status status-{status}">{escape(row.status)}</td>'
                f"<td>{escape(row.where)}</td><td>{escape(row.detail)}</td></tr>"
            )
        out.append("</tbody></table>")
    out.append("</section>")
    return "\n".join(out)


def _faults_section(events: Sequence[TraceEvent], specs: Sequence[str]) -> str:
    fired = [e for e in events if e.kind == "fault"]
    out = ['<section id="faults" class="faults"><h2>Faults</h2>']
    if not specs and not fired:
        out.append("<p>None: nothing was broken on purpose in this run.</p>")
    if specs:
        out.append("<p>Asked for:</p><ul>")
        out.extend(f"<li><code>{escape(spec)}</code></li>" for spec in specs)
        out.append("</ul>")
    if fired:
        out.append("<p>What they did, as the trace shows it:</p><ul>")
        for event in fired:
            rfc = f' <span class="rfc">[{escape(event.rfc)}]</span>' if event.rfc else ""
            out.append(
                f"<li><strong>{event.time:.3f} s</strong> {escape(event.summary)}<br>{escape(event.explain)}{rfc}</li>"
            )
        out.append("</ul>")
    elif specs:
        out.append("<p>None of them fired during the run.</p>")
    out.append("</section>")
    return "\n".join(out)


def _transcript_section(events: Sequence[TraceEvent], full: bool) -> str:
    text = render_transcript(events, explain=True, full=full)
    lines = []
    kind = ""
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            kind = _MARKS[match.group(1)]
            css = kind
        elif line.lstrip().startswith("#") or kind == "note":
            kind = css = "note"  # an explanation and its wrapped lines
        else:
            css = kind
        lines.append(f'<span class="{css}">{escape(line)}</span>' if css else escape(line))
    legend = (
        "<p><code>-&gt;</code> the client speaks, <code>&lt;-</code> the server answers; "
        "<code>~&gt;</code> and <code>&lt;~</code> the same inside TLS; <code>==</code> something that is "
        "not on the wire; <code>--</code> the dialogue moves to another connection; <code>#</code> what the "
        "line above means and where the RFC says so.</p>"
    )
    return (
        f'<section id="transcript"><h2>Transcript</h2>{legend}\n'
        f'<pre class="transcript">{chr(10).join(lines)}</pre></section>'
    )


def _states_section(events: Sequence[TraceEvent]) -> str:
    spoken = [p for p in STATE_DIAGRAMS if any(e.protocol == p for e in events)]
    if not spoken:
        return ""
    out = [
        '<section id="states"><h2>State diagrams</h2>',
        "<p>The server side of each protocol in this run, drawn from the engine's own transition table.</p>",
    ]
    for protocol in spoken:
        out.append(f"<details><summary>{escape(protocol)} server</summary>")
        out.append(f'<div class="figure">{_inline_svg(render_state_svg(STATE_DIAGRAMS[protocol]))}</div>')
        out.append("</details>")
    out.append("</section>")
    return "\n".join(out)


def _inline_svg(svg: str) -> str:
    """An SVG document as an element of the page (an XML declaration cannot stand inside HTML)."""
    return re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", svg)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.3f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} minutes"
    return f"{seconds / 3600:.1f} hours"
