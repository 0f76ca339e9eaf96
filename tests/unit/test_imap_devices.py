"""Devices reading mail over IMAP in a world: flags kept in step across devices, IDLE push."""

from __future__ import annotations

from simulator.scenarios import check
from simulator.sim import Simulation
from simulator.trace import TraceEvent

SEEN = "\\Seen"


def _imap(sim: Simulation, src: str) -> list[TraceEvent]:
    return [e for e in sim.trace if e.protocol == "IMAP" and e.kind == "send" and e.src == src]


def test_a_message_read_on_the_laptop_shows_as_read_on_the_phone() -> None:
    sim = Simulation.from_scenario("imap-two-devices", seed=1)
    sim.run()
    laptop, phone = sim.devices["laptop.example.org"], sim.devices["phone.example.org"]
    first = "Lunch on Friday?"
    assert [(m.subject, SEEN in m.flags) for m in laptop.messages.values()] == [
        (first, True),
        ("Re: Lunch on Friday?", False),
    ]
    assert [(m.subject, SEEN in m.flags) for m in phone.messages.values()] == [
        (first, True),
        ("Re: Lunch on Friday?", False),
    ]
    # The laptop told the server; the phone learned it from the server, not from the laptop.
    assert any("UID STORE 1 +FLAGS.SILENT (\\Seen)" in e.summary for e in _imap(sim, "laptop.example.org"))
    assert not any("STORE" in e.summary for e in _imap(sim, "phone.example.org"))
    account = sim.world.servers["mx.example.org"].store.get("bob@example.org")
    assert account is not None and SEEN in account.inbox.flags_of(1)
    assert check(sim) == []


def test_each_sync_fetches_only_the_uids_the_device_does_not_have() -> None:
    sim = Simulation.from_scenario("imap-two-devices", seed=1)
    sim.run()
    fetches = [e.summary for e in _imap(sim, "laptop.example.org") if "BODY.PEEK[]" in e.summary]
    assert [f.split()[3] for f in fetches] == ["1", "2"]  # UID FETCH 1 at t=30, then only 2 at t=120


def test_idle_tells_the_phone_of_new_mail_in_the_same_instant_as_the_delivery() -> None:
    sim = Simulation.from_scenario("imap-idle-push", seed=1)
    sim.run()
    (delivered,) = [e for e in sim.trace if e.kind == "deliver"]
    pushed = next(e for e in sim.trace if e.protocol == "IMAP" and e.summary.startswith("* 1 EXISTS"))
    assert pushed.time == delivered.time and pushed.seq > delivered.seq
    done = next(e for e in _imap(sim, "phone.example.org") if e.summary == "DONE")
    assert done.time - pushed.time < 0.1  # the phone answers the push at once, it does not poll
    assert [m.subject for m in sim.devices["phone.example.org"].messages.values()] == ["Are you there?"]
    assert check(sim) == []


def test_the_idling_phone_leaves_after_idle_for_and_never_times_out() -> None:
    sim = Simulation.from_scenario("imap-idle-push", seed=1)
    sim.run()
    logout = next(e for e in _imap(sim, "phone.example.org") if "LOGOUT" in e.summary)
    assert 5 + 600 <= logout.time < 5 + 600 + 1
    assert not any(e.kind == "timeout" for e in sim.trace)
