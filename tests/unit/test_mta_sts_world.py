"""MTA-STS in the world (RFC 8461): published in DNS and over HTTPS, fetched, cached and honoured by the relay."""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest

from simulator import faults
from simulator.scenarios import ScenarioError, ScenarioSpec, check, load, parse
from simulator.sim import Simulation

SECRET = b"Please keep them to yourself."


def _sim(spec: ScenarioSpec | None = None) -> Simulation:
    return Simulation("mta-sts", 1, spec if spec is not None else load("mta-sts"))


def _policy(**changes: Any) -> ScenarioSpec:
    spec = load("mta-sts")
    return spec.model_copy(update={"mta_sts": [spec.mta_sts[0].model_copy(update=changes)]})


def _kinds(sim: Simulation, kind: str) -> list[str]:
    return [e.summary for e in sim.trace if e.kind == kind]


def test_the_relay_defers_while_starttls_is_stripped_and_delivers_over_tls_afterwards() -> None:
    sim = _sim()
    sim.run(until=3000)  # the man in the middle is still there
    (outcome,) = sim.outcome()
    assert (outcome.status, outcome.where) == ("queued", "smtp.example.com")
    assert outcome.detail.startswith("451 4.7.4 TLS is required, but was not offered")
    assert sum("mode enforce: not delivered" in s for s in _kinds(sim, "mta-sts")) == 4
    sim.run()
    assert check(sim) == []
    wire = sim.world.network.taps[0].wire
    assert SECRET not in wire and b"MAIL FROM" not in wire  # never in clear, on any attempt
    assert any(e.kind == "tls" and "issued by" in e.summary and e.dst == "mx.example.org" for e in sim.trace)


def test_the_policy_is_published_fetched_once_and_cached() -> None:
    sim = _sim()
    sim.run()
    asked = [e for e in sim.trace if e.kind == "send" and e.summary.startswith("TXT _mta-sts.example.org?")]
    assert asked  # the relay asks DNS first, on every attempt whose DNS answer is not cached
    fetches = [e for e in sim.trace if e.kind == "https"]
    assert [e.summary for e in fetches] == [
        "smtp.example.com fetches the MTA-STS policy of example.org: "
        "GET https://mta-sts.example.org/.well-known/mta-sts.txt",
        "200 OK: mode enforce, mx mx.example.org, max_age 604800",
    ]
    assert fetches[1].data == b"version: STSv1\r\nmode: enforce\r\nmx: mx.example.org\r\nmax_age: 604800\r\n"
    assert (fetches[0].src, fetches[0].dst) == ("smtp.example.com", "mx.example.org")  # the host serving it
    assert sim.world.dns_db.txt["_mta-sts.example.org"] == ["v=STSv1; id=20260101"]


def test_a_cached_policy_stays_in_force_when_the_txt_record_disappears() -> None:
    sim = _sim()
    sim.run(until=100)
    assert "example.org" in sim.world.servers["smtp.example.com"].sts_cache
    # An attacker who can also suppress the TXT record gains nothing (RFC 8461 §5.1).
    del sim.world.dns_db.txt["_mta-sts.example.org"]
    sim.world.servers["smtp.example.com"].resolver.cache.clear()
    sim.run(until=3000)
    (outcome,) = sim.outcome()
    assert outcome.status == "queued" and "4.7.4" in outcome.detail
    assert len(_kinds(sim, "https")) == 2  # no new fetch


def test_a_policy_that_names_no_mx_host_keeps_the_mail() -> None:
    sim = _sim(_policy(mx=["mail.example.org"]))
    sim.run(until=600)
    (outcome,) = sim.outcome()
    assert (outcome.status, outcome.detail) == (
        "queued",
        "451 4.7.5 MTA-STS policy of example.org: no MX host it names",
    )
    assert not any(e.kind == "connect" and e.dst == "mx.example.org" for e in sim.trace)
    assert any("not an mx the policy names (mail.example.org)" in s for s in _kinds(sim, "mta-sts"))


def test_a_wildcard_pattern_matches_the_mx() -> None:
    sim = _sim(_policy(mx=["*.example.org"]))
    sim.run()
    assert check(sim) == []


def test_mode_testing_does_not_stop_a_downgrade() -> None:
    sim = _sim(_policy(mode="testing"))
    sim.run()
    assert check(sim) == []
    assert SECRET in sim.world.network.taps[0].wire  # delivered, in clear: testing only reports (RFC 8460)


def test_a_policy_that_cannot_be_fetched_counts_as_none() -> None:
    sim = _sim()
    sim.world.network.web.clear()  # the policy host is gone
    sim.run()
    assert check(sim) == []
    assert any(s.startswith("no usable MTA-STS policy for example.org") for s in _kinds(sim, "https"))
    assert SECRET in sim.world.network.taps[0].wire


def test_a_relay_that_does_not_honour_mta_sts_is_downgraded() -> None:
    spec = load("mta-sts")
    hosts = [h.model_copy(update={"mta_sts_outbound": False}) if h.name == "smtp.example.com" else h for h in spec.host]
    sim = _sim(spec.model_copy(update={"host": hosts}))
    sim.run()
    assert check(sim) == []
    assert _kinds(sim, "https") == [] and _kinds(sim, "mta-sts") == []
    assert SECRET in sim.world.network.taps[0].wire


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ('domain = "example.org"\nmode = "enforce"', "mta_sts[1].mx: expected at least one mx pattern"),
        ('domain = "example.org"\nmx = ["mx example.org"]', "mta_sts[1].mx: expected host names or *.domain"),
        ('domain = "example.net"\nmx = ["mx.example.net"]', "mta_sts[1].served_by: expected a [[host]]"),
        ('domain = "example.org"\nmx = ["mx.example.org"]\nid = "not valid!"', "mta_sts[1].id"),
    ],
)
def test_a_wrong_policy_table_is_a_one_line_error(table: str, problem: str) -> None:
    source = (resources.files("simulator.scenarios") / "mta-sts.toml").read_text()
    start = source.index("[[mta_sts]]")
    end = source.index("[[observer]]")
    with pytest.raises(ScenarioError) as info:
        parse(source[:start] + f"[[mta_sts]]\n{table}\n\n" + source[end:], "mine.toml")
    assert problem in str(info.value)


def test_a_policy_host_cut_off_from_the_sender_gives_no_policy() -> None:
    # The policy comes from mx.example.org; with the link cut, the fetch gets no answer at all.
    sim = _sim()
    sim.inject(faults.parse("partition:smtp.example.com/mx.example.org,at=0,for=60"))
    sim.run(until=61)
    assert "no usable MTA-STS policy for example.org: no answer from the policy's web server" in _kinds(sim, "https")
    assert not any(s.startswith("200 OK") for s in _kinds(sim, "https"))
