"""The Simulation facade on the default world: delivery, determinism, stepping back, retries."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re

import pytest

from simulator.mail.headers import header_values
from simulator.scenarios import builtin_scenarios
from simulator.sim import Simulation
from simulator.trace import TraceEvent
from simulator.views.jsonl import render_jsonl


def masked(event: TraceEvent | None) -> TraceEvent | None:
    """The event with TLS ciphertext left out: OpenSSL draws keys at random, so those bytes differ per run."""
    if event is not None and event.summary.startswith("[TLS]"):
        return dataclasses.replace(event, data=b"")
    return event


def masked_jsonl(events: list[TraceEvent]) -> str:
    return render_jsonl([e for e in map(masked, events) if e is not None])


def observable(sim: Simulation) -> object:
    """Everything a learner can see: mailboxes and flags, queues, connections, devices, trace length, outcomes."""
    world = sim.world
    return (
        len(sim.trace),
        sim.now,
        {
            name: (
                {
                    a: [(m.uid, m.content, box.inbox.flags_of(m.uid)) for m in box.messages]
                    for a, box in server.store.mailboxes.items()
                },
                [(e.queue_id, e.next_attempt, e.attempts, [(r.address, r.status) for r in e.recipients])
                 for e in sim.queue(name)],
            )
            for name, server in world.servers.items()
        },
        sorted((c.id, c.state) for c in world.network.connections.values()),
        {name: [(m.uid, m.subject, m.flags) for m in d.messages.values()] for name, d in sim.devices.items()},
        sim.outcome(),
    )  # fmt: skip


def test_basic_delivers_into_bobs_mailbox_with_the_headers_of_each_hop() -> None:
    sim = Simulation.from_scenario("basic", seed=1)
    sim.run()
    (message,) = sim.mailbox("bob@example.org")
    received = header_values(message.content, "Received")
    assert [re.search(r"\bby (\S+)", r).group(1) for r in received] == [  # type: ignore[union-attr]
        "mx.example.org",
        "smtp.example.com",
    ]
    assert "with ESMTPA" in received[1] and "with ESMTP " in received[0]
    assert message.content.startswith(b"Return-Path: <alice@example.com>\r\n")
    assert header_values(message.content, "Date")  # added by the MSA (RFC 6409 §8)
    (outcome,) = sim.outcome()
    assert (outcome.recipient, outcome.status, outcome.where, outcome.copies) == (
        "bob@example.org", "delivered", "mx.example.org", 1
    )  # fmt: skip
    assert sim.queue("smtp.example.com") == []
    kinds = [e.kind for e in sim.trace]
    assert kinds.count("connect") == 2 and "deliver" in kinds and "queue" in kinds
    assert [e.summary for e in sim.trace if e.protocol == "DNS"] == [
        "MX example.org?", "MX example.org? -> 10 mx.example.org",
        "A mx.example.org?", "A mx.example.org? -> 198.51.100.25",
    ]  # fmt: skip
    assert all(e.explain and e.rfc for e in sim.trace)


def test_one_seed_gives_the_same_json_trace() -> None:
    first, second = Simulation.from_scenario("basic", seed=7), Simulation.from_scenario("basic", seed=7)
    first.run()
    second.run()
    assert render_jsonl(first.trace) == render_jsonl(second.trace)
    assert [json.loads(line)["seq"] for line in render_jsonl(first.trace).splitlines()] == list(range(len(first.trace)))


def test_back_restores_the_state_before_each_step_and_replays_the_same_event() -> None:
    reference = Simulation.from_scenario("basic", seed=3)
    reference.run()
    total = len(reference.trace)
    sim = Simulation.from_scenario("basic", seed=3)
    before = [observable(sim)]
    for _ in range(total):
        sim.step()
        before.append(observable(sim))
    assert sim.step() is None
    for k in range(total, 0, -1):
        sim.back()
        assert observable(sim) == before[k - 1]
        again = sim.step()
        assert again == reference.trace[k - 1]
        assert observable(sim) == before[k]
        sim.back()


def test_back_at_the_start_does_nothing_and_submissions_are_replayed() -> None:
    sim = Simulation.from_scenario("basic", seed=1)
    assert sim.back() is None
    sim.run()
    sim.submit("alice@example.com", ["bob@example.org"], "Subject: second\r\n\r\nAgain\r\n")
    steps = sim.run()
    assert len(sim.mailbox("bob@example.org")) == 2
    for _ in range(steps):
        sim.back()
    assert len(sim.mailbox("bob@example.org")) == 1  # the submission was made before these steps
    sim.run()
    assert len(sim.mailbox("bob@example.org")) == 2
    assert [o.status for o in sim.outcome()] == ["delivered", "delivered"]


def test_run_until_a_time_or_a_predicate() -> None:
    sim = Simulation.from_scenario("basic", seed=1)
    sim.run(until=0.05)
    assert sim.trace and all(e.time <= 0.05 for e in sim.trace)
    assert sim.now == 0.05
    sim.run(until=lambda e: e.kind == "deliver")
    assert sim.trace[-1].kind == "deliver"


def test_a_down_mx_is_retried_on_the_backoff_schedule_then_bounced_with_dsns() -> None:
    sim = Simulation.from_scenario("basic", seed=1)
    sim.world.network.hosts["mx.example.org"].up = False
    sim.run()
    refused = [e.time for e in sim.trace if e.kind == "refused" and e.src == "mx.example.org"]
    gaps = [b - a for a, b in itertools.pairwise(refused)]
    # Postfix's defaults: 300 s, then doubling up to 4000 s between attempts (each gap also holds
    # the few milliseconds the failed attempt itself took: DNS, then the refused connect).
    expected = [300, 600, 1200, 2400] + [4000] * (len(gaps) - 4)
    assert len(gaps) > 30
    assert all(0 < gap - want < 0.1 for gap, want in zip(gaps, expected, strict=True))
    deferrals = [e.summary.rsplit("next try in ", 1)[1] for e in sim.trace if e.kind == "defer"]
    assert deferrals[:6] == ["300 s", "600 s", "1200 s", "2400 s", "4000 s", "4000 s"]
    notices = [e for e in sim.trace if e.kind in ("notify", "bounce")]
    assert [e.kind for e in notices] == ["notify", "bounce"]
    assert 4 * 3600 <= notices[0].time < 4 * 3600 + 4000  # the delay warning, at the first attempt after 4 h
    assert 5 * 86400 <= notices[1].time < 5 * 86400 + 4000  # the bounce, when the 5-day lifetime is over
    inbox = sim.mailbox("alice@example.com")
    assert [header_values(m.content, "Subject")[0] for m in inbox] == [
        "Delayed Mail (still being retried)",
        "Undelivered Mail Returned to Sender",
    ]
    assert all(m.content.startswith(b"Return-Path: <>\r\n") for m in inbox)  # DSNs come from the null sender
    (outcome,) = sim.outcome()
    assert outcome.status == "bounced"


@pytest.mark.parametrize("seed", [1, 2])
def test_unknown_scenario_is_a_key_error_naming_the_built_ins(seed: int) -> None:
    with pytest.raises(KeyError, match="built-in: auth-failure, basic"):
        Simulation.from_scenario("nosuch", seed=seed)


BUILT_INS = sorted(s.name for s in builtin_scenarios())


@pytest.mark.parametrize("name", BUILT_INS)
def test_every_built_in_gives_the_same_json_trace_twice(name: str) -> None:
    first, second = Simulation.from_scenario(name, seed=11), Simulation.from_scenario(name, seed=11)
    first.run()
    second.run()
    assert masked_jsonl(first.trace) == masked_jsonl(second.trace)


@pytest.mark.parametrize("name", BUILT_INS)
def test_every_built_in_steps_back_to_the_state_before_each_step(name: str) -> None:
    reference = Simulation.from_scenario(name, seed=2)
    reference.run()
    sim = Simulation.from_scenario(name, seed=2)
    before = [observable(sim)]
    while sim.step() is not None:
        before.append(observable(sim))
    assert len(before) == len(reference.trace) + 1
    for k in range(len(reference.trace), 0, -1):
        sim.back()
        assert observable(sim) == before[k - 1], k
        assert masked(sim.step()) == masked(reference.trace[k - 1])
        assert observable(sim) == before[k]
        sim.back()
