"""Relay behaviour a mail engineer expects: no loops, unique queue ids, the next MX after a bad greeting,
honest timing for run(until=...), and retries that never resend what was taken."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from simulator import faults
from simulator.mail.queue import QueueEntry, RecipientState
from simulator.protocol.smtp.events import MailParams, RcptParams
from simulator.sim import Simulation


def fallback_variant(tmp_path: Path, *, backup_holds_mail: bool, fault: str) -> Path:
    text = (resources.files("simulator.scenarios") / "mx-fallback.toml").read_text()
    if not backup_holds_mail:
        text = text.replace(
            'domains = ["example.org"]     # holds example.org\'s mailboxes as well',
            'relay_domains = ["example.org"]  # a backup MX: queues until the primary is back',
        )
    text = text.replace('spec = "down:mx1.example.org"    # down from the start, for good', f'spec = "{fault}"')
    head, _, _ = text.partition("[[expect]]")
    path = tmp_path / "variant.toml"
    path.write_text(head)
    return path


def test_a_backup_mx_never_sends_mail_to_itself_and_waits_for_the_primary(tmp_path: Path) -> None:
    path = fallback_variant(tmp_path, backup_holds_mail=False, fault="down:mx1.example.org,for=1800")
    sim = Simulation.from_scenario(str(path), seed=1)
    sim.run(until=86400)
    loops = [e for e in sim.trace if e.kind == "defer" and e.src == "mx2.example.org"]
    assert loops  # the backup took the message and kept it queued
    assert all(e.kind != "connect" or e.dst != "mx2.example.org" or e.src != "mx2.example.org" for e in sim.trace)
    (message,) = sim.mailbox("bob@example.org")
    assert message.content.count(b"Received:") == 3  # MSA, backup MX, primary MX
    assert [o.status for o in sim.outcome()] == ["delivered"]


def test_a_421_greeting_sends_the_relay_to_the_next_mx_at_once(tmp_path: Path) -> None:
    path = fallback_variant(tmp_path, backup_holds_mail=True, fault="overloaded:mx1.example.org")
    sim = Simulation.from_scenario(str(path), seed=1)
    sim.run()
    (outcome,) = sim.outcome()
    assert (outcome.status, outcome.where) == ("delivered", "mx2.example.org")
    assert sim.now < 1.0  # in the same attempt, no retry wait


def test_the_ports_of_one_host_never_hand_out_the_same_queue_id() -> None:
    sim = Simulation.from_scenario("basic", seed=1)
    server = sim.world.servers["smtp.example.com"]
    ids = []
    for _ in range(3):
        for port in (25, 587):
            source = server.listeners[port].service.queue_ids
            assert source is not None
            ids.append(source())
    assert len(set(ids)) == len(ids)


def test_run_until_a_time_does_not_run_the_world_past_it() -> None:
    sim = Simulation.from_scenario("mx-down-retry", seed=1)
    sim.run(until=100)
    assert sim.now == 100 and sim.world.kernel.now <= 100
    later = sim.submit("alice@example.com", ["bob@example.org"], "Subject: later\r\n\r\nx\r\n")
    sim.run()
    submitted = [e for e in sim.trace if e.kind == "connect" and e.src == "laptop.example.com"]
    assert submitted[1].time >= 100  # it left when the learner asked, not at the next retry
    assert later in {o.message_id for o in sim.outcome()}


def test_a_refused_submit_or_inject_leaves_back_working() -> None:
    sim = Simulation.from_scenario("basic", seed=1)
    for _ in range(3):
        sim.step()
    with pytest.raises(KeyError):
        sim.submit("mallory@example.net", ["bob@example.org"], "Subject: x\r\n\r\nx\r\n")
    with pytest.raises(faults.FaultSpecError):
        sim.inject(faults.parse("down:nosuch.example"))
    sim.back()
    sim.run()
    assert [o.status for o in sim.outcome()] == ["delivered"]


def test_a_mailbox_on_two_servers_shows_both() -> None:
    sim = Simulation.from_scenario("mx-fallback", seed=1)
    sim.run()
    assert len(sim.mailbox("bob@example.org")) == 1  # on mx2, although mx1 also has a box for bob


def test_a_host_that_is_down_sends_nothing() -> None:
    sim = Simulation.from_scenario("basic", seed=1)
    sim.inject(faults.parse("down:smtp.example.com,at=0.06,for=1000"))
    sim.run()
    wire = ("send", "connect")
    spoke = [e for e in sim.trace if e.src == "smtp.example.com" and 0.07 < e.time < 1000 and e.kind in wire]
    assert spoke == []  # no DNS query, no connection while it is down
    assert [o.status for o in sim.outcome()] == ["delivered"]
    assert min(e.time for e in sim.trace if e.kind == "deliver") > 1000


def test_a_dns_fault_is_not_hidden_by_the_resolvers_cache() -> None:
    sim = Simulation.from_scenario("basic", seed=1)
    sim.run()  # the MX of example.org is now cached at smtp.example.com
    sim.inject(faults.parse("dns:example.org=nxdomain"))
    sim.submit("alice@example.com", ["bob@example.org"], "Subject: second\r\n\r\nx\r\n")
    sim.run()
    assert [o.status for o in sim.outcome()] == ["delivered", "bounced"]


def test_the_mail_client_retries_only_the_recipients_that_were_not_taken() -> None:
    sim = Simulation.from_scenario("multi-recipient", seed=1)
    sim.inject(faults.parse("diskfull:smtp.example.com,once"))  # 452 for the first RCPT only
    sim.run()
    retries = [e for e in sim.trace if e.kind == "defer" and e.src == "laptop.example.com"]
    assert len(retries) == 1
    for address in ("bob@example.org", "carol@example.org"):
        assert len(sim.mailbox(address)) == 1  # one copy each: the retry did not resend to carol


def test_a_552_to_rcpt_is_retried_like_452_then_bounced_at_expiry() -> None:
    sim = Simulation.from_scenario("basic", seed=1)
    sim.inject(faults.parse("mailboxfull:bob@example.org"))
    sim.run()
    kinds = [e.kind for e in sim.trace]
    assert kinds.count("defer") > 10  # RFC 5321 §4.5.3.1.10: 552 at RCPT is taken as 452
    assert kinds.index("notify") < kinds.index("bounce")
    assert [o.status for o in sim.outcome()] == ["bounced"]


@pytest.mark.parametrize(("notify", "reports"), [(None, 1), (("NEVER",), 0), (("SUCCESS",), 0), (("FAILURE",), 1)])
def test_notify_decides_whether_the_sender_hears_of_a_failure(notify: tuple[str, ...] | None, reports: int) -> None:
    sim = Simulation.from_scenario("basic", seed=1)
    sim.run()
    msa = sim.world.servers["smtp.example.com"]
    entry = QueueEntry(
        queue_id="NOTIFYTEST",
        sender="alice@example.com",
        content=b"Message-ID: <notify@test>\r\nSubject: x\r\n\r\nx\r\n",
        params=MailParams(),
        recipients=[RecipientState("nobody@example.org", RcptParams(notify=notify))],
        arrived=sim.world.kernel.now,
        next_attempt=sim.world.kernel.now,
    )
    msa.queue.add(entry)
    msa._schedule_run(0.0)
    sim.run()
    assert len(sim.mailbox("alice@example.com")) == reports  # RFC 3461 §4.1
