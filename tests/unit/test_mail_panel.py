"""The mail panel that the terminal app and the notebook Stepper both show, from the facade's tables."""

from __future__ import annotations

from simulator import Simulation
from simulator.views.mailboxes import SHOWN, device_lines, mailbox_lines, queue_lines


def test_the_mailboxes_hold_each_users_inbox_and_the_folders_with_mail() -> None:
    sim = Simulation.from_scenario("spam-false-positive", seed=1)
    sim.run()
    boxes = sim.mailboxes()
    assert boxes["bob@example.org"]["INBOX"] == []
    assert [m.uid for m in boxes["bob@example.org"]["Junk"]] == [1]
    texts = [(line.text, line.depth) for line in mailbox_lines(boxes)]
    at = texts.index(("bob@example.org: 0 messages", 0))
    assert texts[at + 1] == ("Junk: 1 message", 1)
    assert texts[at + 2][0].startswith("UID 1 at 0:00:00.") and "'Greenleaf news" in texts[at + 2][0]


def test_a_queue_entry_says_whom_it_waits_for_and_when_it_tries_again() -> None:
    sim = Simulation.from_scenario("mx-down-retry", seed=1)
    sim.run(until=lambda e: e.kind == "defer")
    lines = queue_lines(sim.queues(), sim.now)
    assert [line.text for line in lines if line.heading] == ["Queues"]
    entry = next(i for i, line in enumerate(lines) if line.text.endswith("to bob@example.org"))
    assert lines[entry].depth == 1 and lines[entry + 1].depth == 2
    assert lines[entry + 1].text.startswith("1 try; next try at 0:05:00.") and lines[entry + 1].text.endswith("s)")


def test_long_queues_are_cut_and_say_how_many_more() -> None:
    sim = Simulation.from_scenario("mx-down-retry", seed=1)
    for n in range(SHOWN + 3):
        sim.submit("alice@example.com", ["bob@example.org"], f"Subject: {n}\r\n\r\nhi", at=1 + n)
    sim.run(until=100)
    lines = queue_lines(sim.queues(), sim.now)
    assert any(line.text == "... and 4 more" for line in lines)


def test_devices_are_listed_only_where_there_are_some() -> None:
    sim = Simulation.from_scenario("pop3-download-delete", seed=1)
    sim.run()
    lines = device_lines(sim.devices.values())
    assert lines[0].heading and lines[0].text == "Devices"
    assert any(line.text.startswith("laptop.example.org (pop3-download-delete) shows 1: ") for line in lines)
    assert device_lines([]) == []
