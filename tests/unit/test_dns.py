"""The simulated DNS: real wire-format queries and answers, injected faults, and MX routing.

Every round trip goes through bytes (make_query -> answer -> parse_answer), and the bytes are
checked with dnspython as a real DNS message, since a pcap of them is decoded by tshark.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.mail.dns import (
    Answer,
    ARecord,
    DNSDatabase,
    ImplicitMX,
    MXRecord,
    NoSuchDomain,
    NullMX,
    Targets,
    TryAgain,
    TXTRecord,
    addresses,
    answer,
    describe_query,
    make_query,
    parse_answer,
    route_from_mx,
)

SPF = "v=spf1 ip4:192.0.2.0/24 -all"


@pytest.fixture
def db() -> DNSDatabase:
    """The default world's zones, plus a domain that takes no mail and one without MX."""
    world = DNSDatabase()
    world.add_a("ns.example.net", "192.0.2.53")
    world.add_a("smtp.example.com", "192.0.2.10")
    world.add_mx("example.org", 20, "mx2.example.org")
    world.add_mx("example.org", 10, "mx.example.org")
    world.add_a("mx.example.org", "192.0.2.25")
    world.add_a("mx2.example.org", "192.0.2.26")
    world.add_a("mail.example.org", "192.0.2.30")
    world.add_txt("example.org", SPF)
    world.add_mx("nomail.example", 0, ".")
    world.add_a("nomail.example", "192.0.2.99")
    world.add_a("plain.example", "192.0.2.40")
    return world


def ask(db: DNSDatabase, name: str, rtype: str, query_id: int = 4242) -> Answer:
    wire = answer(db, make_query(name, rtype, query_id))
    assert wire is not None
    return parse_answer(wire)


def raw(db: DNSDatabase, name: str, rtype: str, query_id: int = 4242) -> dns.message.Message:
    wire = answer(db, make_query(name, rtype, query_id))
    assert wire is not None
    return dns.message.from_wire(wire)


# --- round trips -------------------------------------------------------------------


def test_a_round_trip(db: DNSDatabase) -> None:
    got = ask(db, "mx.example.org", "A", query_id=7)
    assert got.rcode == "NOERROR"
    assert got.records == (ARecord("mx.example.org", "192.0.2.25"),)
    assert (got.name, got.rtype, got.query_id) == ("mx.example.org", "A", 7)
    assert addresses(got) == ("192.0.2.25",)
    assert got.summary == "A mx.example.org? -> 192.0.2.25"
    assert "IPv4" in got.explain
    assert got.rfc == "RFC 1035 §3.4.1"


def test_several_addresses_keep_their_order(db: DNSDatabase) -> None:
    db.add_a("multi.example", "192.0.2.3")
    db.add_a("multi.example", "192.0.2.1")
    db.add_a("multi.example", "192.0.2.3")  # a repeat is one record, not two
    got = ask(db, "multi.example", "A")
    assert addresses(got) == ("192.0.2.3", "192.0.2.1")
    assert got.summary == "A multi.example? -> 192.0.2.3, 192.0.2.1"


def test_mx_round_trip_sorted_by_preference(db: DNSDatabase) -> None:
    db.add_mx("example.org", 5, "mx0.example.org")
    got = ask(db, "example.org", "MX")
    assert got.rcode == "NOERROR"
    # The records come in the order the zone lists them...
    assert got.records == (
        MXRecord(20, "mx2.example.org"),
        MXRecord(10, "mx.example.org"),
        MXRecord(5, "mx0.example.org"),
    )
    # ...and the trace and the route show them in the order they will be tried.
    assert got.summary == "MX example.org? -> 5 mx0.example.org, 10 mx.example.org, 20 mx2.example.org"
    assert route_from_mx("example.org", got) == Targets(("mx0.example.org", "mx.example.org", "mx2.example.org"))
    assert got.rfc.startswith("RFC 5321 §5.1")


def test_txt_round_trip(db: DNSDatabase) -> None:
    got = ask(db, "example.org", "TXT")
    assert got.records == (TXTRecord("example.org", SPF),)
    assert got.summary == f'TXT example.org? -> "{SPF}"'


def test_long_txt_is_split_into_255_octet_strings_and_joined_back(db: DNSDatabase) -> None:
    key = "v=DKIM1; k=rsa; p=" + "A" * 600
    db.add_txt("sel._domainkey.example.org", key)
    message = raw(db, "sel._domainkey.example.org", "TXT")
    (rdata,) = message.answer[0]
    assert isinstance(rdata, dns.rdtypes.ANY.TXT.TXT)
    assert [len(s) for s in rdata.strings] == [255, 255, len(key) - 510]
    got = ask(db, "sel._domainkey.example.org", "TXT")
    assert got.records == (TXTRecord("sel._domainkey.example.org", key),)
    assert len(got.summary) < 120  # a trace line, not the whole key
    assert got.summary.endswith('..."')


def test_several_txt_records_stay_separate(db: DNSDatabase) -> None:
    db.add_txt("example.org", "google-site-verification=abc")
    db.add_txt("example.org", "")
    got = ask(db, "example.org", "TXT")
    assert [r.text for r in got.records if isinstance(r, TXTRecord)] == [SPF, "google-site-verification=abc", ""]


def test_nodata_when_the_name_exists_without_that_type(db: DNSDatabase) -> None:
    got = ask(db, "example.org", "A")
    assert got.rcode == "NOERROR"
    assert got.records == ()
    assert got.nodata
    assert got.summary == "A example.org? -> NODATA"
    assert "exists" in got.explain
    assert got.rfc == "RFC 2308 §2.2"
    assert addresses(got) == ()


def test_a_name_with_only_names_below_it_exists(db: DNSDatabase) -> None:
    # example.net has no record of its own, but ns.example.net does (RFC 8020): NODATA, not NXDOMAIN.
    got = ask(db, "example.net", "MX")
    assert got.rcode == "NOERROR"
    assert got.nodata


def test_nxdomain_for_an_unknown_name(db: DNSDatabase) -> None:
    got = ask(db, "nowhere.example", "A")
    assert got.rcode == "NXDOMAIN"
    assert got.records == ()
    assert not got.nodata
    assert got.summary == "A nowhere.example? -> NXDOMAIN"
    assert "does not exist" in got.explain
    assert addresses(got) == ()
    # A name that merely ends like a known one is not below it.
    assert ask(db, "xexample.org", "A").rcode == "NXDOMAIN"


def test_unsupported_query_types_get_nodata_or_nxdomain(db: DNSDatabase) -> None:
    query = dns.message.make_query("mx.example.org", "AAAA", id=9).to_wire()
    wire = answer(db, query)
    assert wire is not None
    assert parse_answer(wire).nodata
    query = dns.message.make_query("nowhere.example", "AAAA", id=9).to_wire()
    wire = answer(db, query)
    assert wire is not None
    assert parse_answer(wire).rcode == "NXDOMAIN"


# --- faults ------------------------------------------------------------------------


def test_nxdomain_fault_covers_the_name_and_names_under_it(db: DNSDatabase) -> None:
    db.set_failure("example.org", "NXDOMAIN")
    assert ask(db, "example.org", "MX").rcode == "NXDOMAIN"
    assert ask(db, "mx.example.org", "A").rcode == "NXDOMAIN"
    assert ask(db, "deep.below.example.org", "TXT").rcode == "NXDOMAIN"
    assert ask(db, "plain.example", "A").rcode == "NOERROR"
    db.clear_failure("example.org")
    assert ask(db, "mx.example.org", "A").records == (ARecord("mx.example.org", "192.0.2.25"),)


def test_servfail_fault_and_clearing_it(db: DNSDatabase) -> None:
    db.set_failure("example.org", "servfail")
    got = ask(db, "example.org", "MX")
    assert got.rcode == "SERVFAIL"
    assert got.summary == "MX example.org? -> SERVFAIL"
    assert "temporary" in got.explain
    assert ask(db, "mx.example.org", "A").rcode == "SERVFAIL"
    db.clear_failure("example.org")
    assert ask(db, "example.org", "MX").rcode == "NOERROR"
    assert ask(db, "mx.example.org", "A").rcode == "NOERROR"


def test_nearest_fault_wins_and_clearing_a_child_keeps_the_parent(db: DNSDatabase) -> None:
    db.set_failure("example.org", "SERVFAIL")
    db.set_failure("mx.example.org", "NXDOMAIN")
    assert ask(db, "mx.example.org", "A").rcode == "NXDOMAIN"
    assert ask(db, "mx2.example.org", "A").rcode == "SERVFAIL"
    db.clear_failure("mx.example.org")
    assert ask(db, "mx.example.org", "A").rcode == "SERVFAIL"
    db.clear_failure("never-failed.example")  # clearing nothing is harmless


def test_wrong_mx_override_and_clearing_it(db: DNSDatabase) -> None:
    db.override_mx("example.org", [(10, "mx.attacker.example")])
    got = ask(db, "example.org", "MX")
    assert got.records == (MXRecord(10, "mx.attacker.example"),)
    assert route_from_mx("example.org", got) == Targets(("mx.attacker.example",))
    # Only MX answers change; the domain's other records stay.
    assert ask(db, "example.org", "TXT").records == (TXTRecord("example.org", SPF),)
    db.clear_override("example.org")
    assert route_from_mx("example.org", ask(db, "example.org", "MX")) == Targets(("mx.example.org", "mx2.example.org"))
    db.clear_override("example.org")  # twice is harmless


def test_override_to_no_mx_gives_nodata(db: DNSDatabase) -> None:
    db.override_mx("example.org", [])
    got = ask(db, "example.org", "MX")
    assert got.nodata
    assert route_from_mx("example.org", got) == ImplicitMX("example.org")


def test_override_makes_an_unknown_domain_answer(db: DNSDatabase) -> None:
    db.override_mx("ghost.example", [(5, "mx.example.org")])
    assert route_from_mx("ghost.example", ask(db, "ghost.example", "MX")) == Targets(("mx.example.org",))


# --- null MX -------------------------------------------------------------------------


def test_null_mx_on_the_wire(db: DNSDatabase) -> None:
    message = raw(db, "nomail.example", "MX")
    assert message.answer[0].to_text() == "nomail.example. 3600 IN MX 0 ."
    got = parse_answer(message.to_wire())
    assert got.records == (MXRecord(0, "."),)
    assert got.records[0].is_null
    assert got.summary == "MX nomail.example? -> 0 . (null MX)"
    assert got.rfc == "RFC 7505 §3"
    assert "accepts no mail" in got.explain


def test_null_mx_route_fails_for_good_without_address_fallback(db: DNSDatabase) -> None:
    route = route_from_mx("nomail.example", ask(db, "nomail.example", "MX"))
    assert route == NullMX("nomail.example")
    assert isinstance(route, NullMX)
    assert route.permanent
    assert (route.code, route.status) == (556, "5.1.10")
    assert route.text == "Domain nomail.example does not accept mail (nullMX)"
    assert "RFC 7505" in route.rfc
    assert "no fallback" in route.explain


def test_null_mx_beside_real_exchangers_is_ignored() -> None:
    mx = Answer("NOERROR", (MXRecord(0, "."), MXRecord(10, "mx.example.org")), "broken.example", "MX")
    assert route_from_mx("broken.example", mx) == Targets(("mx.example.org",))


def test_only_null_exchangers_is_still_null_mx() -> None:
    mx = Answer("NOERROR", (MXRecord(0, "."), MXRecord(10, ".")), "odd.example", "MX")
    assert route_from_mx("odd.example", mx) == NullMX("odd.example")


# --- routing -------------------------------------------------------------------------


def test_route_targets(db: DNSDatabase) -> None:
    route = route_from_mx("example.org", ask(db, "example.org", "MX"))
    assert route == Targets(("mx.example.org", "mx2.example.org"))
    assert route.rfc == "RFC 5321 §5.1"
    assert "mx.example.org, mx2.example.org" in route.explain


def test_route_ties_are_sorted_by_name_and_repeats_dropped() -> None:
    mx = Answer(
        "NOERROR",
        (
            MXRecord(10, "b.example.org"),
            MXRecord(10, "a.example.org"),
            MXRecord(5, "c.example.org"),
            MXRecord(20, "a.example.org"),
        ),
        "example.org",
        "MX",
    )
    assert route_from_mx("example.org", mx) == Targets(("c.example.org", "a.example.org", "b.example.org"))


def test_route_implicit_mx(db: DNSDatabase) -> None:
    route = route_from_mx("plain.example", ask(db, "plain.example", "MX"))
    assert route == ImplicitMX("plain.example")
    assert isinstance(route, ImplicitMX)
    assert route.host == "plain.example"
    assert "implicit MX" in route.explain
    assert route.rfc == "RFC 5321 §5.1"
    # The next step, the A lookup of the domain itself, finds its address.
    assert addresses(ask(db, route.host, "A")) == ("192.0.2.40",)


def test_route_no_such_domain(db: DNSDatabase) -> None:
    route = route_from_mx("nowhere.example", ask(db, "nowhere.example", "MX"))
    assert route == NoSuchDomain("nowhere.example")
    assert isinstance(route, NoSuchDomain)
    assert route.permanent
    assert route.status == "5.1.2"
    assert route.code == 550
    assert route.text == (
        "Host or domain name not found. Name service error for name=nowhere.example type=MX: Host not found"
    )
    assert "NXDOMAIN" in route.explain
    assert route.rfc


def test_route_try_again_on_servfail(db: DNSDatabase) -> None:
    db.set_failure("example.org", "SERVFAIL")
    route = route_from_mx("example.org", ask(db, "example.org", "MX"))
    assert isinstance(route, TryAgain)
    assert not route.permanent
    assert route.status == "4.4.3"
    assert route.code // 100 == 4
    assert route.reason == "SERVFAIL"
    assert route.text == (
        "Host or domain name not found. Name service error for name=example.org type=MX: Host not found, try again"
    )
    assert "retried" in route.explain
    assert route.rfc


def test_route_try_again_on_timeout() -> None:
    route = route_from_mx("example.org", None)
    assert isinstance(route, TryAgain)
    assert "timeout" in route.reason
    assert route.status == "4.4.3"


def test_route_try_again_on_other_rcodes_and_garbage() -> None:
    assert route_from_mx("example.org", Answer("REFUSED", (), "example.org", "MX")) == TryAgain(
        "example.org", "REFUSED"
    )
    assert isinstance(route_from_mx("example.org", parse_answer(b"\x00\x01garbage")), TryAgain)


def test_route_does_not_follow_an_answer_to_another_question(db: DNSDatabase) -> None:
    # A spoofed or mismatched answer must not steer mail anywhere, nor crash the MTA.
    db.add_mx("evil.example", 10, "mx.attacker.example")
    for wrong in (ask(db, "evil.example", "MX"), ask(db, "example.org", "TXT")):
        route = route_from_mx("example.org", wrong)
        assert isinstance(route, TryAgain)
        assert "not MX example.org" in route.reason


def test_failures_name_the_lookup_that_failed() -> None:
    # The MTA reuses the failure types for the A lookups that follow the MX step.
    assert NoSuchDomain("mx.example.org", "A").text.endswith("name=mx.example.org type=A: Host not found")
    assert TryAgain("mx.example.org", "SERVFAIL", "A").text.endswith(
        "name=mx.example.org type=A: Host not found, try again"
    )


# --- names are case-insensitive -------------------------------------------------------


def test_names_are_case_insensitive() -> None:
    world = DNSDatabase()
    world.add_mx("Example.ORG.", 10, "MX.Example.Org.")
    world.add_a("mx.EXAMPLE.org", "192.0.2.25")
    assert world.mx == {"example.org": [(10, "mx.example.org")]}
    assert world.a == {"mx.example.org": ["192.0.2.25"]}
    got = ask(world, "EXAMPLE.org", "MX")
    assert got.records == (MXRecord(10, "mx.example.org"),)
    assert route_from_mx("eXample.Org", got) == Targets(("mx.example.org",))
    assert addresses(ask(world, "Mx.Example.Org", "A")) == ("192.0.2.25",)
    world.set_failure("EXAMPLE.ORG", "NXDOMAIN")
    assert ask(world, "mx.example.org", "A").rcode == "NXDOMAIN"
    world.clear_failure("Example.Org.")
    assert ask(world, "mx.example.org", "A").rcode == "NOERROR"


def test_the_answer_keeps_the_case_of_the_question(db: DNSDatabase) -> None:
    message = raw(db, "MX.Example.Org", "A")
    assert message.question[0].name.to_text() == "MX.Example.Org."
    assert message.answer[0].name.to_text() == "MX.Example.Org."


# --- real wire format -----------------------------------------------------------------


def test_query_is_a_real_dns_query() -> None:
    message = dns.message.from_wire(make_query("example.org", "mx", 0xBEEF))
    assert message.id == 0xBEEF
    assert message.flags & dns.flags.RD
    assert not message.flags & dns.flags.QR
    assert message.opcode() == dns.opcode.QUERY
    assert len(message.question) == 1
    question = message.question[0]
    assert question.name.to_text() == "example.org."
    assert question.rdtype == dns.rdatatype.MX
    assert question.rdclass == dns.rdataclass.IN


@pytest.mark.parametrize(
    ("name", "rtype", "rcode"),
    [
        ("example.org", "MX", dns.rcode.NOERROR),
        ("example.org", "A", dns.rcode.NOERROR),
        ("nowhere.example", "TXT", dns.rcode.NXDOMAIN),
    ],
)
def test_answer_is_a_real_authoritative_response(db: DNSDatabase, name: str, rtype: str, rcode: int) -> None:
    message = raw(db, name, rtype, query_id=0x1234)
    assert message.id == 0x1234
    assert message.flags & dns.flags.QR
    assert message.flags & dns.flags.AA
    assert message.flags & dns.flags.RD  # copied from the query (RFC 1035 §4.1.1)
    assert not message.flags & dns.flags.RA  # an authoritative server, not a recursive one
    assert message.rcode() == rcode
    assert message.question[0].name.to_text() == name + "."
    assert message.question[0].rdtype == dns.rdatatype.from_text(rtype)


def test_servfail_response_on_the_wire(db: DNSDatabase) -> None:
    db.set_failure("example.org", "SERVFAIL")
    message = raw(db, "example.org", "MX", query_id=77)
    assert message.id == 77
    assert message.rcode() == dns.rcode.SERVFAIL
    assert message.answer == []


def test_answers_are_byte_for_byte_deterministic(db: DNSDatabase) -> None:
    for n in range(6):
        db.add_mx("example.org", 30 + n, f"mx{30 + n}.example.org")
    query = make_query("example.org", "MX", 1)
    first = answer(db, query)
    # dnspython shuffles records unless told not to; a shuffle would show within a few tries.
    assert all(answer(db, query) == first for _ in range(20))
    assert make_query("example.org", "MX", 1) == query


def test_other_opcodes_get_notimp(db: DNSDatabase) -> None:
    query = dns.message.make_query("example.org", "MX", id=3)
    query.set_opcode(dns.opcode.STATUS)
    wire = answer(db, query.to_wire())
    assert wire is not None
    message = dns.message.from_wire(wire)
    assert (message.id, message.rcode()) == (3, dns.rcode.NOTIMP)


def test_two_questions_get_formerr(db: DNSDatabase) -> None:
    query = dns.message.make_query("example.org", "MX", id=4)
    query.find_rrset(
        query.question, dns.name.from_text("mx.example.org"), dns.rdataclass.IN, dns.rdatatype.A, create=True
    )
    wire = answer(db, query.to_wire())
    assert wire is not None
    message = dns.message.from_wire(wire)
    assert (message.id, message.rcode()) == (4, dns.rcode.FORMERR)


def test_chaos_class_is_refused(db: DNSDatabase) -> None:
    query = dns.message.make_query("version.bind", "TXT", rdclass="CH", id=5)
    wire = answer(db, query.to_wire())
    assert wire is not None
    assert parse_answer(wire).rcode == "REFUSED"


def test_a_response_is_not_answered(db: DNSDatabase) -> None:
    response = answer(db, make_query("example.org", "MX", 6))
    assert response is not None
    assert answer(db, response) is None


# --- malformed input ---------------------------------------------------------------------


def test_malformed_query_with_a_readable_id_gets_formerr(db: DNSDatabase) -> None:
    wire = answer(db, b"\xab\xcd\x01\x00garbage")
    assert wire is not None
    message = dns.message.from_wire(wire)
    assert message.id == 0xABCD
    assert message.flags & dns.flags.QR
    assert message.flags & dns.flags.RD  # echoed from the broken header
    assert message.rcode() == dns.rcode.FORMERR
    assert parse_answer(wire).rcode == "FORMERR"
    assert parse_answer(wire).query_id == 0xABCD


def test_malformed_query_without_an_id_gets_nothing(db: DNSDatabase) -> None:
    assert answer(db, b"") is None
    assert answer(db, b"\x01") is None


def test_parse_answer_on_garbage_is_formerr() -> None:
    for wire in (b"", b"\x01", b"\x00\x01not dns", make_query("example.org", "MX", 1)[:-3]):
        got = parse_answer(wire)
        assert got.rcode == "FORMERR"
        assert got.records == ()
        assert got.summary == "DNS response -> FORMERR"
        assert got.explain
        assert got.rfc
    assert parse_answer(b"\x00\x01not dns").query_id == 1
    assert parse_answer(b"").query_id is None


def test_parse_answer_of_a_query_is_formerr() -> None:
    got = parse_answer(make_query("example.org", "MX", 8))
    assert got.rcode == "FORMERR"
    assert got.query_id == 8


def test_describe_query() -> None:
    summary, explain, rfc = describe_query(make_query("Example.org", "MX", 1))
    assert summary == "MX example.org?"
    assert "mail" in explain
    assert "RFC 5321 §5.1" in rfc
    assert describe_query(make_query("mx.example.org", "A", 1))[0] == "A mx.example.org?"
    assert describe_query(make_query("example.org", "TXT", 1))[0] == "TXT example.org?"
    summary, explain, rfc = describe_query(b"\x00\x01junk")
    assert summary == "malformed DNS query"
    assert explain
    assert rfc == "RFC 1035 §4.1"


@given(st.binary(max_size=80))
def test_garbage_never_raises(wire: bytes) -> None:
    world = DNSDatabase()
    world.add_mx("example.org", 10, "mx.example.org")
    reply = answer(world, wire)
    if reply is None:
        assert len(wire) < 2 or dns.message.from_wire(wire).flags & dns.flags.QR
    else:
        message = dns.message.from_wire(reply)
        assert message.id == int.from_bytes(wire[:2], "big")
        assert message.flags & dns.flags.QR
    parse_answer(wire)
    describe_query(wire)


@given(st.binary(max_size=40), st.integers(min_value=0, max_value=200))
def test_corrupted_answers_never_raise(noise: bytes, at: int) -> None:
    world = DNSDatabase()
    world.add_mx("example.org", 10, "mx.example.org")
    world.add_txt("example.org", "x" * 300)
    good = answer(world, make_query("example.org", "TXT", 1))
    assert good is not None
    at = min(at, len(good))
    bad = good[:at] + noise + good[at + len(noise) :]
    got = parse_answer(bad)
    route_from_mx("example.org", Answer(got.rcode, got.records))


# --- the database ---------------------------------------------------------------------------


def test_database_deepcopy_is_independent(db: DNSDatabase) -> None:
    db.set_failure("plain.example", "SERVFAIL")
    db.override_mx("example.org", [(10, "mx.attacker.example")])
    snapshot = copy.deepcopy(db)
    assert snapshot == db
    before = answer(db, make_query("example.org", "MX", 1))
    db.add_mx("example.org", 1, "new.example.org")
    db.clear_override("example.org")
    db.clear_failure("plain.example")
    db.add_txt("example.org", "changed")
    assert snapshot != db
    assert answer(snapshot, make_query("example.org", "MX", 1)) == before
    assert ask(snapshot, "plain.example", "A").rcode == "SERVFAIL"
    assert ask(snapshot, "example.org", "TXT").records == (TXTRecord("example.org", SPF),)


@pytest.mark.parametrize(
    "call",
    [
        lambda w: w.add_a("host.example", "999.1.1.1"),
        lambda w: w.add_a("host.example", "2001:db8::1"),
        lambda w: w.add_a("", "192.0.2.1"),
        lambda w: w.add_a("a b.example", "192.0.2.1"),
        lambda w: w.add_a("x" * 64 + ".example", "192.0.2.1"),
        lambda w: w.add_mx("example.org", -1, "mx.example.org"),
        lambda w: w.add_mx("example.org", 65536, "mx.example.org"),
        lambda w: w.add_mx(".", 0, "mx.example.org"),
        lambda w: w.set_failure("example.org", "REFUSED"),
        lambda w: w.override_mx("example.org", [(10, "bad name.example")]),
    ],
)
def test_database_refuses_what_dns_cannot_carry(call: Callable[[DNSDatabase], None]) -> None:
    with pytest.raises(ValueError):
        call(DNSDatabase())


@pytest.mark.parametrize(
    ("name", "rtype", "query_id"),
    [("example.org", "AAAA", 1), ("example.org", "MX", -1), ("example.org", "MX", 65536), ("a..b", "A", 1)],
)
def test_make_query_refuses_misuse(name: str, rtype: str, query_id: int) -> None:
    with pytest.raises(ValueError):
        make_query(name, rtype, query_id)
