"""State diagrams: drawn from the engines' own transition tables, as text and as SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from enum import Enum

import pytest

from simulator.protocol.imap import state as imap_state
from simulator.protocol.pop3 import state as pop3_state
from simulator.protocol.smtp import client as smtp_client
from simulator.protocol.smtp import state as smtp_state
from simulator.views.state_diagram import render_state_svg, render_state_text

SVG = "{http://www.w3.org/2000/svg}"

# The command on the wire for the event classes not named after their verb.
WIRE_NAMES = {
    "MailFrom": "MAIL FROM",
    "RcptTo": "RCPT TO",
    "DataComplete": "end of message",
    "TLSEstablished": "TLS handshake done",
    "AuthCredentials": "SASL exchange done",
    "AuthAborted": "SASL exchange aborted",
    "Commit": "deletions done",
}
POP3_WIRE_NAMES = {"Credentials": "PASS", "ApopCredentials": "APOP", "StartTLS": "STLS"}


def _expected(protocol: str) -> tuple[type[Enum], set[tuple[str, str, str]]]:
    """Every (source, label, target) the diagram must show, straight from the engine's table."""
    if protocol == "smtp-client":
        client = {(s.name, f"{code}xx reply", t.name) for (s, code), t in smtp_client.SESSION_TRANSITIONS.items()}
        return smtp_client.ClientState, client
    module = {"smtp": smtp_state, "pop3": pop3_state, "imap": imap_state}[protocol]
    names = {**WIRE_NAMES, **POP3_WIRE_NAMES} if protocol == "pop3" else WIRE_NAMES
    edges = {(s.name, names.get(k.__name__, k.__name__.upper()), t.name) for (s, k), t in module.TRANSITIONS.items()}
    if protocol == "imap":  # a failed SELECT in the selected state closes the mailbox (RFC 3501 §6.3.1)
        edges |= {("SELECTED", "SELECT fails", "AUTHENTICATED"), ("SELECTED", "EXAMINE fails", "AUTHENTICATED")}
    return module.State, edges


def _parse_text(text: str) -> tuple[dict[str, set[tuple[str, str]]], list[str]]:
    """state -> {(label, target)} from the text diagram, and the states marked current."""
    shown: dict[str, set[tuple[str, str]]] = {}
    current: list[str] = []
    state = ""
    target = ""
    for line in text.splitlines():
        head = re.match(r"^(==> |    )([A-Z_]+)  ", line)
        if head:
            state, target = head.group(2), ""
            shown[state] = set()
            if head.group(1) == "==> ":
                current.append(state)
            continue
        arrow = re.match(r"^ {8}(-> ([A-Z_]+)|stays)\s+(.*)$", line)
        if arrow:
            target = arrow.group(2) or state
            labels = arrow.group(3)
        elif state and line.startswith(" " * 10) and target:
            labels = line.strip()  # a wrapped list goes on under its arrow
        else:
            target = ""
            continue
        shown[state] |= {(label.strip(), target) for label in labels.split(",") if label.strip()}
    return shown, current


@pytest.mark.parametrize("protocol", ["smtp", "pop3", "imap", "smtp-client"])
def test_text_shows_every_state_and_every_transition_of_the_table(protocol: str) -> None:
    states, edges = _expected(protocol)
    text = render_state_text(protocol)
    shown, current = _parse_text(text)
    assert list(shown) == [s.name for s in states]  # every state, in the order of a session
    assert current == []
    for source, label, target in edges:
        assert (label, target) in shown[source], (source, label, target)
    assert sum(len(v) for v in shown.values()) == len({(s, lab, t) for s, lab, t in edges})  # and nothing else
    assert all(len(line) <= 80 for line in text.splitlines())


@pytest.mark.parametrize(("protocol", "current"), [("smtp", "rcpt"), ("pop3", "TRANSACTION"), ("imap", "Selected")])
def test_text_marks_the_current_state(protocol: str, current: str) -> None:
    text = render_state_text(protocol, current=current)
    _, marked = _parse_text(text)
    assert marked == [current.upper()]
    (line,) = [line for line in text.splitlines() if line.startswith("==>")]
    assert re.match(rf"==> {current.upper()} +\(current state\) ", line)


@pytest.mark.parametrize("protocol", ["smtp", "pop3", "imap", "smtp-client"])
def test_svg_parses_and_draws_every_state_and_arrow(protocol: str) -> None:
    states, edges = _expected(protocol)
    root = ET.fromstring(render_state_svg(protocol))
    assert root.tag == f"{SVG}svg"
    groups = list(root.iter(f"{SVG}g"))
    boxes = {g.get("data-state"): g for g in groups if "state" in (g.get("class") or "").split()}
    assert list(boxes) == [s.name for s in states]
    arrows = {(g.get("data-source"), g.get("data-target")): g for g in groups if g.get("data-source")}
    for source, label, target in edges:
        if source == target:  # a command that stays is listed inside its state
            stays = " ".join(t.text or "" for t in boxes[source].iter(f"{SVG}text") if t.get("class") == "stays")
            assert label in [part.strip() for part in stays.removeprefix("stays on:").split(",")], (source, label)
        else:
            shown = "".join(arrows[(source, target)].itertext())
            assert label in shown, (source, label, target)
            title = arrows[(source, target)].find(f"{SVG}title")
            assert title is not None and label in (title.text or "")
    assert len(arrows) == len({(s, t) for s, _, t in edges if s != t})
    assert not any(f"{a}=" in render_state_svg(protocol) for a in ("href", "src"))  # no external assets


def test_svg_highlights_only_the_current_state() -> None:
    root = ET.fromstring(render_state_svg("smtp", current="DATA"))
    current = [g for g in root.iter(f"{SVG}g") if "current" in (g.get("class") or "").split()]
    assert [g.get("data-state") for g in current] == ["DATA"]
    assert "(current state)" in "".join(current[0].itertext())
    plain = ET.fromstring(render_state_svg("smtp"))
    assert not [g for g in plain.iter(f"{SVG}g") if "current" in (g.get("class") or "").split()]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: render_state_text("http"), "no state table for 'http'"),
        (lambda: render_state_svg("smtp", current="SELECTED"), "SMTP server has no state 'SELECTED'"),
    ],
)
def test_unknown_protocol_or_state_is_a_value_error(call: object, message: str) -> None:
    assert callable(call)
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
