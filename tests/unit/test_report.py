"""The HTML report: one self-contained page with the scenario, outcome, faults, diagrams and transcript."""

from __future__ import annotations

from functools import cache
from html.parser import HTMLParser

import pytest

from simulator import Simulation, scenarios
from simulator.views.report import Outcome, render_report

VOID = {"meta", "br", "hr", "img", "input", "link", "wbr", "col", "area", "base", "source", "track", "embed"}
EXTERNAL = ("http:", "https:", "file:", "//", "ftp:", "data:text/html")


class _Page(HTMLParser):
    """Collects what the tests look at and checks that every element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: dict[str, list[str]] = {}  # id of the enclosing section -> its text
        self.section = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "section":
            self.section = dict(attrs).get("id") or ""
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
        else:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.setdefault(self.section, []).append(data)

    def section_text(self, section: str) -> str:
        return "".join(self.text.get(section, []))


@cache
def _report(scenario: str) -> str:
    sim = Simulation.from_scenario(scenario, seed=1)
    sim.run()
    spec = scenarios.load(scenario)
    return render_report(
        sim.trace,
        name=scenario,
        description=spec.description,
        seed=sim.seed,
        fault_specs=[f.spec for f in spec.fault],
        outcomes=sim.outcome(),
    )


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


@pytest.mark.parametrize("scenario", ["basic", "starttls-submission", "mx-down-retry"])
def test_report_is_well_formed_and_self_contained(scenario: str) -> None:
    html = _report(scenario)
    page = _parse(html)
    assert page.errors == [] and page.open == []
    assert html.startswith("<!DOCTYPE html>")
    for tag, attrs in page.tags:
        assert tag not in ("script", "link", "iframe", "img", "object", "embed"), tag
        for name in ("src", "href", "xlink:href", "action", "srcset", "poster"):
            value = (attrs.get(name) or "").strip().lower()
            assert not value.startswith(EXTERNAL), (tag, name, value)
            if name == "href" and value:
                assert value.startswith("#"), value  # only links within the page
    assert "url(http" not in html and "@import" not in html


def test_report_holds_the_scenario_outcome_diagram_and_transcript() -> None:
    html = _report("basic")
    page = _parse(html)
    assert ("title", {}) in page.tags and "smtpsim: basic" in html
    assert "Alice&#x27;s laptop submits a message to smtp.example.com" in html  # the description
    outcome = page.section_text("outcome")
    assert "<lunch@laptop.example.com>" in outcome and "bob@example.org" in outcome and "delivered" in outcome
    # The sequence diagram is inline SVG with every node's lifeline label.
    sequence = page.section_text("sequence")
    assert [t for t, _ in page.tags].count("svg") >= 2  # the sequence diagram and the state diagrams
    for node in ("laptop.example.com", "smtp.example.com", "ns.example.net", "mx.example.org"):
        assert node in sequence
    transcript = page.section_text("transcript")
    assert "-> MAIL FROM:<alice@example.com>" in transcript
    assert "<- 354 End data with <CR><LF>.<CR><LF>" in transcript
    assert "# Go ahead: send the message" in transcript
    assert "SMTP server states" in page.section_text("states")
    assert "None: nothing was broken on purpose" in page.section_text("faults")


def test_report_lists_the_faults_asked_for_and_what_they_did() -> None:
    faults = _parse(_report("mx-down-retry")).section_text("faults")
    assert "down:mx.example.org,at=0,for=3600" in faults
    fired = faults.split("What they did", 1)[1]
    assert fired.index("fault: mx.example.org is down for 3600 s") < fired.index("fault over: mx.example.org is down")


def test_report_escapes_everything_it_is_given() -> None:
    hostile = "<script>alert(1)</script>"
    html = render_report(
        [],
        name=hostile,
        description=hostile,
        fault_specs=[hostile],
        outcomes=[Outcome(hostile, hostile, hostile, "<b>delivered", hostile, hostile)],
    )
    page = _parse(html)
    assert page.errors == [] and "<script" not in html.lower()
    assert not [tag for tag, _ in page.tags if tag in ("script", "b")]
    assert hostile in page.section_text("outcome") and hostile in page.section_text("faults")
    assert "None of them fired during the run." in page.section_text("faults")


def test_transcript_lines_carry_who_spoke_as_a_class() -> None:
    html = _report("starttls-submission")
    assert '<span class="client">   0.030s -&gt; STARTTLS</span>' in html
    assert '<span class="server">   0.035s &lt;- 220 2.0.0 Ready to start TLS</span>' in html
    assert '<span class="client tls">   0.050s ~&gt; EHLO laptop.example.com</span>' in html
    assert '<span class="server tls">          &lt;~ 250 CHUNKING</span>' in html
    assert '<span class="note">             # Asks to upgrade this connection to TLS' in html
