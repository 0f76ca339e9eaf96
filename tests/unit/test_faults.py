"""The fault catalogue: the spec grammar, what each fault does to the default world, and that no mail is lost."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import faults
from simulator.cli import main
from simulator.mail import dsn
from simulator.mail.headers import header_values
from simulator.mail.queue import RetrySchedule
from simulator.sim import Simulation

MX = "mx.example.org"
LINK = "smtp.example.com/mx.example.org"


@pytest.mark.parametrize(
    "spec",
    [
        "down:mx.example.org,at=10,for=3600",
        "crash:mx.example.org,at=0.1,for=600",
        f"latency:{LINK}=0.5",
        f"loss:{LINK}=0.2,p=0.5",
        f"partition:{LINK},for=60",
        "drop-after:mx.example.org=data-end,once",
        "drop-after:mx.example.org=rcpt",
        "silent:mx.example.org,for=100",
        "overloaded:mx.example.org",
        "maxconn:mx.example.org=2",
        "greylist:mx.example.org=600",
        "diskfull:mx.example.org",
        "mailboxfull:bob@example.org",
        "reject-sender:alice@example.com=554",
        "reject-rcpt:bob@example.org=450",
        "dns:example.org=servfail,for=1800",
        "dns:example.org=nxdomain",
        "dns:example.org=nomx",
        "dns:example.org=wrongmx:smtp.example.com",
    ],
)
def test_specs_read_back_to_themselves(spec: str) -> None:
    assert faults.parse(spec).spec() == spec


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("bogus:x", "unknown kind 'bogus'"),
        ("down", "expected KIND:TARGET"),
        ("down:mx.example.org,at=soon", "at must be a number"),
        ("down:mx.example.org,for=-5", "for must not be negative"),
        ("loss:a/b=2", "loss is a probability"),
        ("latency:a=0.5", "names a link as HOST/HOST"),
        ("maxconn:mx.example.org", "maxconn needs =N"),
        ("reject-rcpt:bob@example.org=250", "4xx or 5xx"),
        ("dns:example.org=slow", "dns takes"),
        ("drop-after:mx.example.org=quit", "drop-after takes one of"),
        ("down:mx.example.org,p=1.5", "p is a probability"),
        ("down:mx.example.org,soon", "unknown option 'soon'"),
    ],
)
def test_bad_specs_say_what_was_expected(spec: str, message: str) -> None:
    with pytest.raises(faults.FaultSpecError, match=message.replace("(", r"\(")):
        faults.parse(spec)


def run_with(spec: str, seed: int = 1) -> Simulation:
    sim = Simulation.from_scenario("basic", seed=seed)
    sim.inject(faults.parse(spec))
    sim.run()
    return sim


def kinds(sim: Simulation) -> list[str]:
    return [e.kind for e in sim.trace]


@pytest.mark.parametrize(
    ("spec", "status", "copies", "must_see"),
    [
        ("down:mx.example.org,for=1000", "delivered", 1, ["refused", "defer", "deliver"]),
        ("crash:mx.example.org,at=0.1,for=100", "delivered", 1, ["reset", "defer", "deliver"]),
        (f"partition:{LINK},for=400", "delivered", 1, ["timeout", "defer", "deliver"]),
        (f"loss:{LINK}=0.3", "delivered", 1, ["deliver"]),
        ("silent:mx.example.org,for=100", "delivered", 1, ["timeout", "defer", "deliver"]),
        ("overloaded:mx.example.org,for=10", "delivered", 1, ["defer", "deliver"]),
        ("greylist:mx.example.org", "delivered", 1, ["defer", "deliver"]),
        ("diskfull:mx.example.org,for=100", "delivered", 1, ["defer", "deliver"]),
        ("dns:example.org=servfail,for=600", "delivered", 1, ["defer", "deliver"]),
        ("drop-after:mx.example.org=data-end,once", "delivered", 2, ["reset", "resend", "duplicate"]),
        ("drop-after:mx.example.org=rcpt,once", "delivered", 1, ["reset", "defer", "deliver"]),
        ("mailboxfull:bob@example.org", "bounced", 0, ["bounce"]),
        ("reject-rcpt:bob@example.org=550", "bounced", 0, ["bounce"]),
        ("reject-sender:alice@example.com=554", "bounced", 0, ["bounce"]),
        ("dns:example.org=nxdomain", "bounced", 0, ["bounce"]),
    ],
)
def test_each_fault_changes_what_happens_and_mail_still_ends_somewhere(
    spec: str, status: str, copies: int, must_see: list[str]
) -> None:
    sim = run_with(spec)
    (outcome,) = sim.outcome()
    assert (outcome.status, outcome.copies) == (status, copies)
    seen = kinds(sim)
    assert "fault" in seen
    for kind in must_see:
        assert kind in seen, (kind, seen)
    firing = [e for e in sim.trace if e.kind == "fault"]
    assert all(e.explain for e in firing)
    if status == "bounced":
        reports = [s for m in sim.mailbox("alice@example.com") for s in dsn.parse_dsn(m.content)]
        assert [s.recipient for s in reports if s.action == "failed"] == ["bob@example.org"]
    assert len(sim.mailbox("bob@example.org")) == copies


def test_the_rfc1047_duplicate_is_marked_in_the_mailbox_and_the_trace() -> None:
    sim = run_with("drop-after:mx.example.org=data-end,once")
    first, second = sim.mailbox("bob@example.org")
    assert first.duplicate_of is None and second.duplicate_of == first.queue_id
    (resend,) = [e for e in sim.trace if e.kind == "resend"]
    assert "RFC 1047" in resend.rfc


def test_rate_limiting_lets_one_connection_through_and_retries_the_rest() -> None:
    sim = Simulation.from_scenario("basic", seed=1)
    sim.inject(faults.parse("maxconn:mx.example.org=1"))
    for n in range(3):
        sim.submit("alice@example.com", ["bob@example.org"], f"Subject: {n}\r\n\r\nmessage {n}\r\n")
    sim.run()
    refusals = [e for e in sim.trace if e.kind == "fault" and "refuses a connection" in e.summary]
    assert refusals  # several messages at once opened parallel connections, and some were refused
    assert {o.status for o in sim.outcome()} == {"delivered"}
    assert len(sim.mailbox("bob@example.org")) == 4


def test_probabilistic_faults_follow_the_seed() -> None:
    def run(seed: int) -> list[str]:
        sim = Simulation.from_scenario("basic", seed=seed)
        sim.inject(faults.parse("reject-rcpt:bob@example.org=451,p=0.5"))
        sim.run()
        return [e.summary for e in sim.trace]

    assert run(5) == run(5)
    assert any(run(seed) != run(5) for seed in (6, 7, 8))


def test_injection_is_replayed_by_back() -> None:
    sim = Simulation.from_scenario("basic", seed=1)
    for _ in range(5):
        sim.step()
    sim.inject(faults.parse("greylist:mx.example.org"))
    sim.run()
    final = [e.summary for e in sim.trace]
    for _ in range(len(final) - 5):
        sim.back()
    sim.run()
    assert [e.summary for e in sim.trace] == final
    for _ in range(len(final) - 4):
        sim.back()  # now before the injection: it is undone too
    sim.run()
    assert "greylist" not in " ".join(e.summary for e in sim.trace)


def test_cli_fault_flag_and_its_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "basic", "--fault", "greylist:mx.example.org", "--format", "summary"]) == 0
    assert "delivered" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        main(["run", "basic", "--fault", "nonsense"])
    assert exc.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert main(["run", "basic", "--fault", "down:nosuch.example"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["smtpsim: --fault: down: no host named 'nosuch.example'; "
                   "hosts: laptop.example.com, smtp.example.com, ns.example.net, mx.example.org, "
                   "laptop.example.org, phone.example.org"]  # fmt: skip


# --- conservation ------------------------------------------------------------------------------

FAULT_CHOICES = [
    "down:mx.example.org",
    "crash:mx.example.org",
    f"partition:{LINK}",
    f"loss:{LINK}=0.3",
    "silent:mx.example.org",
    "overloaded:mx.example.org",
    "greylist:mx.example.org",
    "diskfull:mx.example.org",
    "drop-after:mx.example.org=data-end",
    "drop-after:mx.example.org=rcpt",
    "dns:example.org=servfail",
    "reject-rcpt:bob@example.org=451",
    "maxconn:mx.example.org=1",
]

schedules = st.lists(
    st.tuples(st.sampled_from(FAULT_CHOICES), st.floats(0, 600), st.floats(1, 7200), st.sampled_from([1.0, 0.5])),
    max_size=3,
)


@settings(max_examples=25, derandomize=True, deadline=None)
@given(schedule=schedules, seed=st.integers(1, 1000), messages=st.integers(1, 4))
def test_no_accepted_message_is_ever_lost(
    schedule: list[tuple[str, float, float, float]], seed: int, messages: int
) -> None:
    """Every message that got its 250 is, at the end, in each mailbox, bounced with a DSN, or queued."""
    sim = Simulation.from_scenario("basic", seed=seed)
    short = RetrySchedule(first_retry=300, max_backoff=1200, lifetime=6 * 3600, delay_warning=3600)
    for server in sim.world.servers.values():
        server.queue.schedule = short
    for spec, at, duration, p in schedule:
        fault = faults.parse(spec)
        fault.at, fault.duration, fault.probability = at, duration, p
        sim.inject(fault)
    for n in range(messages):
        sim.submit("alice@example.com", ["bob@example.org"], f"Subject: {n}\r\n\r\nbody {n}\r\n", at=n * 10.0)
    sim.run(until=2 * 86400)
    inbox = sim.mailbox("bob@example.org")
    queued = {header_values(e.content, "Message-ID")[0] for e in sim.queue("smtp.example.com")}
    failed_reports = [r for r in sim.mailbox("alice@example.com") if b"Undelivered Mail" in r.content]
    duplicates = [e for e in sim.trace if e.kind == "duplicate"]
    for outcome in sim.outcome():
        if outcome.status == "rejected":
            continue  # never accepted: the submission itself was refused
        copies = [m for m in inbox if m.message_id == outcome.message_id]
        returned = [r for r in failed_reports if outcome.message_id.encode() in r.content]
        assert copies or returned or outcome.message_id in queued, outcome
        if len(copies) > 1:
            assert all(m.duplicate_of for m in copies[1:])  # marked
            assert duplicates  # and only through the RFC 1047 window


def test_a_later_connection_limit_replaces_the_earlier_one_while_it_lasts() -> None:
    def refused(extra: list[str]) -> int:
        sim = Simulation.from_scenario("rate-limited", seed=1)
        for spec in extra:
            sim.inject(faults.parse(spec))
        sim.run()
        return sum(1 for e in sim.trace if e.kind == "fault" and "refuses a connection" in e.summary)

    strict = refused([])
    assert strict > 0, "the scenario's own limit of one connection turns some away"
    assert refused(["maxconn:mx.example.org=10"]) == 0, "the limit raised to ten: nobody is turned away"
    assert refused(["maxconn:mx.example.org=10,for=0.001"]) == strict, "once the raised limit ends, one applies"


def test_a_spec_injected_at_the_current_point_counts_its_time_from_there() -> None:
    sim = Simulation.from_scenario("basic", seed=1)
    sim.run()
    sim.submit("alice@example.com", ["bob@example.org"], "Subject: later\r\n\r\nHi", at=5000)
    sim.run(until=4000)
    fault = sim.inject_spec("down:mx.example.org,for=3600")
    assert fault.at == sim.now >= 4000, "no at= (or one in the past) means now"
    sim.run()
    later = [e.time for e in sim.trace if e.kind == "deliver"][-1]
    assert later >= fault.at + 3600, "the MX is down for an hour from the moment it was injected"
    waiting = sim.inject_spec("greylist:mx.example.org,at=99999")
    assert waiting.at == 99999, "an at= still to come is kept"
    with pytest.raises(faults.FaultSpecError):
        sim.inject_spec("down:nowhere.example")


def test_faults_given_to_from_scenario_are_in_from_the_start() -> None:
    plain = Simulation.from_scenario("basic", seed=1)
    plain.run()
    greylisted = Simulation.from_scenario("basic", seed=1, faults=["greylist:mx.example.org"])
    greylisted.run()

    def said(sim: Simulation) -> list[str]:
        return [unit.summary for e in sim.trace if e.kind == "send" for unit in e.units]

    assert not any(line.startswith("451") for line in said(plain))
    assert any(line.startswith("451 4.7.1") for line in said(greylisted))
    with pytest.raises(faults.FaultSpecError):
        Simulation.from_scenario("basic", faults=["nonsense"])


def test_every_fault_kind_says_what_it_models() -> None:
    assert all(faults.kinds().values()), [kind for kind, models in faults.kinds().items() if not models]
