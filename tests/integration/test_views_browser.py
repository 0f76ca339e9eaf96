"""The views in a real browser: headless Debian Chromium, driven by playwright.

The SVG sequence diagram is rendered to a PNG and must show every lifeline's label;
the Mermaid text of every built-in scenario must pass Mermaid's own parser, loaded
from the copy `make` installs under .cache/mermaid (see the Makefile).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from simulator import Simulation
from simulator.scenarios import builtin_names
from simulator.trace import TraceEvent
from simulator.views.sequence import render_sequence_mermaid, render_sequence_svg

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
MERMAID_JS = REPO / ".cache" / "mermaid" / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Parse each text with Mermaid's own grammar; an error's message comes back instead of null.
PARSE_ALL = """async (texts) => {
    mermaid.initialize({ startOnLoad: false });
    const results = [];
    for (const text of texts) {
        try {
            await mermaid.parse(text);
            results.push(null);
        } catch (error) {
            results.push(String((error && error.message) || error));
        }
    }
    return results;
}"""


def trace_of(name: str) -> list[TraceEvent]:
    sim = Simulation.from_scenario(name, seed=1)
    sim.run()
    return list(sim.trace)


def require_mermaid() -> Path:
    """Mermaid's browser build; skip without it, except in CI where `make pytest` must have installed it."""
    if not MERMAID_JS.is_file():
        message = f"{MERMAID_JS.relative_to(REPO)} is missing: run `make pytest` (it installs mermaid with npm)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return MERMAID_JS


@pytest.mark.parametrize("name", ["pop3-vs-imap", "mx-down-retry"])
def test_svg_sequence_diagram_renders_every_lifeline_label(page: Page, tmp_path: Path, name: str) -> None:
    trace = trace_of(name)
    nodes = sorted({n for e in trace for n in (e.src, e.dst) if n})
    svg = render_sequence_svg(trace, title=name)
    page.set_content(f"<!doctype html><html><body style='margin:0'>{svg}</body></html>")
    png = tmp_path / f"{name}.png"
    page.screenshot(path=str(png), full_page=True)
    assert png.read_bytes().startswith(PNG_SIGNATURE), f"no PNG written: {png}"

    drawn = page.locator("svg g.participant text")
    labels = drawn.all_text_contents()
    assert sorted(set(labels)) == nodes, f"lifeline labels {labels} in {png}"
    for i in range(drawn.count()):  # each label is laid out, with a size, inside the picture
        box = drawn.nth(i).bounding_box()
        assert box is not None and box["width"] > 20 and box["height"] > 5, f"{labels[i]} not drawn: {png}"
    picture = page.locator("svg").bounding_box()
    assert picture is not None and picture["height"] > 40 * 20, f"too small for {len(trace)} rows: {png}"
    shown = page.locator("svg").text_content() or ""
    assert all(node in shown for node in nodes), png


def test_mermaid_parser_accepts_every_scenario(page: Page) -> None:
    script = require_mermaid()
    names = builtin_names()
    texts = [render_sequence_mermaid(trace_of(name)) for name in names]
    # Controls: the parser really checks, and a raw ";" in a message is an error (hence the escaping).
    broken = ["sequenceDiagram\n    A->>: no target\n", "sequenceDiagram\n    A->>B: MAIL FROM:<a@b>; RCPT\n"]
    page.set_content("<!doctype html><html><body></body></html>")
    page.add_script_tag(path=str(script))
    results = page.evaluate(PARSE_ALL, texts + broken)
    assert len(results) == len(texts) + len(broken)
    failures = {name: error for name, error in zip(names, results, strict=False) if error is not None}
    assert not failures, failures
    assert all(results[len(texts) :]), "Mermaid accepted a diagram it should refuse"


def test_html_report_opens_with_no_console_errors_and_no_network_requests(page: Page, tmp_path: Path) -> None:
    from playwright.sync_api import ConsoleMessage, Request

    from simulator.cli import main

    report = tmp_path / "report.html"
    assert main(["export", "mx-down-retry", "--fault", "greylist:mx.example.org", "--html", str(report)]) == 0
    errors: list[str] = []
    fetched: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    def on_request(request: Request) -> None:
        if not request.url.startswith(("file:", "data:")):
            fetched.append(request.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", on_request)
    page.goto(report.as_uri(), wait_until="load")

    assert page.title() == "smtpsim: mx-down-retry"
    assert page.locator("h1").inner_text() == "Scenario mx-down-retry"
    diagram = page.locator("#sequence svg").first.bounding_box()
    assert diagram is not None and diagram["width"] > 400 and diagram["height"] > 400
    assert "mx.example.org" in (page.locator("#sequence svg").first.text_content() or "")
    assert page.locator("#outcome td.status").all_inner_texts() == ["delivered"]
    assert "-> MAIL FROM:<alice@example.com>" in page.locator("pre.transcript").inner_text()
    assert page.locator("#faults li").count() >= 2
    page.locator("#states summary").first.click()  # a state diagram opens without a script
    assert page.locator("#states svg.state-diagram").first.is_visible()
    assert errors == []
    assert fetched == []
