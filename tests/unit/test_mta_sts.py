"""MTA-STS (RFC 8461): records, policies, MX matching and the sender's decision."""

from __future__ import annotations

import pytest

from simulator.mail.mta_sts import Mode, Policy, PolicyError, decide, parse_policy, parse_record

POLICY = "version: STSv1\r\nmode: enforce\r\nmx: mx.example.org\r\nmx: *.backup.example.org\r\nmax_age: 86400\r\n"


def test_the_record_is_found_among_other_txt_strings() -> None:
    assert parse_record(["v=spf1 -all", "v=STSv1; id=20261202T000000;"]) == parse_record(
        ["v=STSv1; id=20261202T000000"]
    )
    record = parse_record(["v=STSv1; id=20261202T000000;"])
    assert record is not None and record.id == "20261202T000000"


@pytest.mark.parametrize("texts", [[], ["v=spf1 -all"], ["v=STSv1; id=a;", "v=STSv1; id=b;"]])
def test_no_record_or_two_records_mean_no_policy(texts: list[str]) -> None:
    assert parse_record(texts) is None


@pytest.mark.parametrize("text", ["v=STSv1;", "v=STSv1; id=has-dash;", "v=STSv1; id=" + "x" * 33])
def test_a_malformed_record_is_an_error(text: str) -> None:
    with pytest.raises(PolicyError, match="id="):
        parse_record([text])


def test_a_policy_file_is_parsed() -> None:
    assert parse_policy(POLICY) == Policy(Mode.ENFORCE, ("mx.example.org", "*.backup.example.org"), 86400)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("mode: enforce\nmx: a.example\nmax_age: 1\n", "version"),
        ("version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n", "mode"),
        ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: forever\n", "max_age"),
        ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 99999999\n", "max_age"),
        ("version: STSv1\nmode: enforce\nmax_age: 1\n", "mx"),
        ("version: STSv1\nmode: enforce\nmx: bad_host!\nmax_age: 1\n", "mx"),
        ("version: STSv1\nthis line has no colon\n", "key: value"),
        ("version: STSv1\nmode: none\nmax_age: 1\n" + "x: y\n" * 20_000, "64 KiB"),
    ],
)
def test_a_bad_policy_says_what_was_expected(text: str, says: str) -> None:
    with pytest.raises(PolicyError, match=says):
        parse_policy(text)


def test_mode_none_needs_no_mx() -> None:
    assert parse_policy("version: STSv1\nmode: none\nmax_age: 0\n").mode is Mode.NONE


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("mx.example.org", True),
        ("MX.Example.Org.", True),
        ("mx1.backup.example.org", True),
        ("backup.example.org", False),  # the wildcard needs one more label
        ("a.b.backup.example.org", False),  # ... and only one
        ("evil.example.net", False),
    ],
)
def test_mx_patterns_match_as_rfc_8461_says(host: str, allowed: bool) -> None:
    assert parse_policy(POLICY).allows(host) is allowed


def test_enforce_delivers_only_to_a_listed_mx_over_verified_tls() -> None:
    policy = parse_policy(POLICY)
    assert decide(policy, "mx.example.org", "verified").deliver
    stripped = decide(policy, "mx.example.org", "absent")
    assert not stripped.deliver and stripped.report and "stripped" in stripped.reason
    assert not decide(policy, "mx.example.org", "failed").deliver
    impostor = decide(policy, "evil.example.net", "verified")
    assert not impostor.deliver and "not an mx the policy names" in impostor.reason


def test_testing_mode_delivers_and_reports() -> None:
    policy = parse_policy(POLICY.replace("enforce", "testing"))
    decision = decide(policy, "mx.example.org", "absent")
    assert decision.deliver and decision.report and "testing" in decision.reason


def test_without_a_policy_tls_is_opportunistic() -> None:
    decision = decide(None, "anything.example", "absent")
    assert decision.deliver and not decision.report
