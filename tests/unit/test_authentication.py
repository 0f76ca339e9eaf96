"""SPF, DKIM and DMARC against a fake DNS, and the Authentication-Results field they produce.

The DNS here is plain dicts (or the world's DNSDatabase through its adapter); nothing leaves
the process. Keys come from `dkim_key`, cached per process, so the suite makes few RSA keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dkim  # type: ignore[import-untyped]
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.mail import authentication as au
from simulator.mail.dns import DNSDatabase
from simulator.mail.headers import header_values

MESSAGE = (
    b"From: Alice <alice@example.com>\r\n"
    b"To: Bob <bob@example.org>\r\n"
    b"Subject: Lunch on Friday?\r\n"
    b"Date: Fri, 06 Nov 2026 09:00:00 +0000\r\n"
    b"Message-ID: <20261106090000.1@smtp.example.com>\r\n"
    b"\r\n"
    b"Shall we try the new place on the corner?\r\n"
)

FOOTER = b"-- \r\nYou are subscribed to lunch@lists.example.net\r\n"


@dataclass
class FakeDNS:
    """Records in dicts; names in `servfail` fail for now, as a broken name server would."""

    txt: dict[str, list[str]] = field(default_factory=dict)
    a: dict[str, list[str]] = field(default_factory=dict)
    mx: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    servfail: set[str] = field(default_factory=set)
    asked: list[tuple[str, str]] = field(default_factory=list)

    def _get(self, table: dict[str, list[str]], rtype: str, name: str) -> list[str]:
        self.asked.append((rtype, name))
        if name in self.servfail:
            raise au.DNSTemporaryError(f"{rtype} {name}: SERVFAIL")
        return list(table.get(name, []))

    def lookup_txt(self, name: str) -> list[str]:
        return self._get(self.txt, "TXT", name)

    def lookup_a(self, name: str) -> list[str]:
        return self._get(self.a, "A", name)

    def lookup_mx(self, name: str) -> list[tuple[int, str]]:
        self.asked.append(("MX", name))
        if name in self.servfail:
            raise au.DNSTemporaryError(f"MX {name}: SERVFAIL")
        return list(self.mx.get(name, []))

    @property
    def lookups(self) -> au.DNSLookups:
        return au.DNSLookups(txt=self.lookup_txt, a=self.lookup_a, mx=self.lookup_mx)


@pytest.fixture(scope="module")
def key() -> au.DKIMKey:
    return au.dkim_key("example.com/sel1")


@pytest.fixture
def fake(key: au.DKIMKey) -> FakeDNS:
    dns = FakeDNS()
    dns.txt["sel1._domainkey.example.com"] = [key.txt_record]
    return dns


def signed(key: au.DKIMKey, message: bytes = MESSAGE, domain: str = "example.com", selector: str = "sel1") -> bytes:
    return au.sign(message, domain, selector, key.private_key_pem) + message


# --- DKIM ------------------------------------------------------------------------------


def test_sign_then_verify_passes(key: au.DKIMKey, fake: FakeDNS) -> None:
    result = au.verify(signed(key), fake.lookup_txt)
    assert result == au.DKIMResult("pass", "example.com", "sel1")
    assert ("TXT", "sel1._domainkey.example.com") in fake.asked


def test_signature_field_shape(key: au.DKIMKey) -> None:
    header = au.sign(MESSAGE, "example.com", "sel1", key.private_key_pem)
    assert header.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com;")
    assert header.endswith(b"\r\n")
    assert b"\n" not in header.replace(b"\r\n", b"")
    # Every physical line but the first is a continuation line.
    assert all(line[:1] in (b" ", b"\t") for line in header.split(b"\r\n")[1:-1])
    (value,) = header_values(header + b"\r\n", "DKIM-Signature")
    tags = dict(part.strip().split("=", 1) for part in value.split(";"))
    signed_fields = tags["h"].replace(" ", "").split(":")
    assert signed_fields == ["from", "to", "subject", "date", "message-id", "from"]
    assert tags["s"] == "sel1"
    assert "t" not in tags


def test_dkimpy_itself_accepts_our_signature(key: au.DKIMKey, fake: FakeDNS) -> None:
    def dnsfunc(name: bytes, timeout: float = 5) -> bytes | None:
        records = fake.lookup_txt(name.decode().rstrip("."))
        return records[0].encode() if records else None

    assert dkim.verify(signed(key), dnsfunc=dnsfunc) is True


def test_timestamp_goes_into_t_tag_and_still_verifies(key: au.DKIMKey, fake: FakeDNS) -> None:
    header = au.sign(MESSAGE, "example.com", "sel1", key.private_key_pem, timestamp=1_700_000_000)
    assert b" t=1700000000;" in header
    assert au.verify(header + MESSAGE, fake.lookup_txt).result == "pass"


def test_footer_added_by_a_mailing_list_breaks_the_body_hash(key: au.DKIMKey, fake: FakeDNS) -> None:
    result = au.verify(signed(key) + FOOTER, fake.lookup_txt)
    assert result == au.DKIMResult("fail", "example.com", "sel1", "body hash did not verify")
    assert "changed after it was signed" in result.explain


def test_changed_signed_header_fails_the_signature(key: au.DKIMKey, fake: FakeDNS) -> None:
    tampered = signed(key).replace(b"Subject: Lunch on Friday?", b"Subject: [lunch] Lunch on Friday?")
    result = au.verify(tampered, fake.lookup_txt)
    assert (result.result, result.reason) == ("fail", "signature did not verify")


def test_relaxed_canonicalization_survives_refolding(key: au.DKIMKey, fake: FakeDNS) -> None:
    refolded = signed(key).replace(b"Subject: Lunch on Friday?", b"Subject: Lunch\r\n   on  Friday?")
    assert au.verify(refolded, fake.lookup_txt).result == "pass"
    # Trailing whitespace on a body line is canonicalized away as well (RFC 6376 §3.4.4).
    padded = signed(key).replace(b"corner?\r\n", b"corner?  \r\n")
    assert au.verify(padded, fake.lookup_txt).result == "pass"


def test_unsigned_message_is_none(fake: FakeDNS) -> None:
    assert au.verify(MESSAGE, fake.lookup_txt) == au.DKIMResult("none")
    assert au.verify_all(MESSAGE, fake.lookup_txt) == [au.DKIMResult("none")]
    assert fake.asked == []


def test_missing_key_is_permerror(key: au.DKIMKey) -> None:
    result = au.verify(signed(key), FakeDNS().lookup_txt)
    assert result == au.DKIMResult("permerror", "example.com", "sel1", "no key for signature")


def test_revoked_key_is_permerror(key: au.DKIMKey, fake: FakeDNS) -> None:
    fake.txt["sel1._domainkey.example.com"] = ["v=DKIM1; k=rsa; p="]
    result = au.verify(signed(key), fake.lookup_txt)
    assert result.result == "permerror"
    assert result.reason.startswith("bad key")


def test_key_of_another_pair_fails(key: au.DKIMKey, fake: FakeDNS) -> None:
    fake.txt["sel1._domainkey.example.com"] = [au.dkim_key("someone-else").txt_record]
    assert au.verify(signed(key), fake.lookup_txt).reason == "signature did not verify"


def test_key_lookup_servfail_is_temperror(key: au.DKIMKey, fake: FakeDNS) -> None:
    fake.servfail.add("sel1._domainkey.example.com")
    result = au.verify(signed(key), fake.lookup_txt)
    assert result.result == "temperror"
    assert "SERVFAIL" in result.reason


def test_malformed_signature_is_permerror(fake: FakeDNS) -> None:
    message = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=sel1; h=from; b=AAAA\r\n" + MESSAGE
    result = au.verify(message, fake.lookup_txt)
    assert result.result == "permerror"
    assert result.reason == "signature syntax error: missing bh="
    assert (result.domain, result.selector) == ("example.com", "sel1")


def test_every_signature_is_verified_topmost_first(key: au.DKIMKey, fake: FakeDNS) -> None:
    list_key = au.dkim_key("lists.example.net/list")
    fake.txt["list._domainkey.lists.example.net"] = [list_key.txt_record]
    relayed = signed(key) + FOOTER
    resigned = au.sign(relayed, "lists.example.net", "list", list_key.private_key_pem) + relayed
    assert au.signature_count(resigned) == 2
    assert [(r.result, r.domain) for r in au.verify_all(resigned, fake.lookup_txt)] == [
        ("pass", "lists.example.net"),
        ("fail", "example.com"),
    ]
    assert au.verify(resigned, fake.lookup_txt, index=5) == au.DKIMResult("none")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 4), st.binary(max_size=4)), max_size=4))
def test_verify_never_raises_on_damaged_messages(
    key: au.DKIMKey, fake: FakeDNS, edits: list[tuple[int, int, bytes]]
) -> None:
    message = bytearray(signed(key))
    for position, length, replacement in edits:
        at = position % len(message)
        message[at : at + length] = replacement
    result = au.verify(bytes(message), fake.lookup_txt)
    assert result.result in ("pass", "fail", "neutral", "none", "temperror", "permerror")


def test_keys_are_cached_per_label(key: au.DKIMKey) -> None:
    assert au.dkim_key("example.com/sel1") is key
    assert au.dkim_key("example.org/sel1").private_key_pem != key.private_key_pem
    assert key.bits == 2048
    assert key.txt_record.startswith("v=DKIM1; k=rsa; p=MIIBIjAN")


def test_1024_bit_keys_verify_and_smaller_are_refused(fake: FakeDNS) -> None:
    small = au.dkim_key("small", bits=1024)
    fake.txt["s1024._domainkey.example.com"] = [small.txt_record]
    assert au.verify(signed(small, selector="s1024"), fake.lookup_txt).result == "pass"
    with pytest.raises(ValueError, match="1024"):
        au.dkim_key("tiny", bits=512)


def test_sign_refuses_bad_input(key: au.DKIMKey) -> None:
    with pytest.raises(ValueError, match="PEM"):
        au.sign(MESSAGE, "example.com", "sel1", b"not a key")
    with pytest.raises(ValueError, match="From"):
        au.sign(MESSAGE, "example.com", "sel1", key.private_key_pem, include_headers=["Subject"])
    with pytest.raises(ValueError, match="message"):
        au.sign(b"From: a@example.com\r\nnot a header line\r\n", "example.com", "sel1", key.private_key_pem)


def test_dkim_through_the_world_dns(key: au.DKIMKey) -> None:
    db = DNSDatabase()
    db.add_txt(au.key_name("Example.COM.", "sel1"), key.txt_record)
    lookup = au.txt_lookup(db)
    assert au.verify(signed(key), lookup).result == "pass"
    db.set_failure("example.com", "SERVFAIL")
    assert au.verify(signed(key), lookup).result == "temperror"
    db.set_failure("example.com", "NXDOMAIN")
    assert au.verify(signed(key), lookup).reason == "no key for signature"


# --- SPF -------------------------------------------------------------------------------


def spf_fake(record: str | None, **more: list[str]) -> FakeDNS:
    dns = FakeDNS()
    if record is not None:
        dns.txt["example.com"] = [record]
    for name, texts in more.items():
        dns.txt[name.replace("__", ".")] = texts
    return dns


@pytest.mark.parametrize(
    ("record", "ip", "expected", "mechanism"),
    [
        ("v=spf1 ip4:192.0.2.10 -all", "192.0.2.10", "pass", "ip4:192.0.2.10"),
        ("v=spf1 ip4:192.0.2.0/24 -all", "192.0.2.77", "pass", "ip4:192.0.2.0/24"),
        ("v=spf1 ip4:192.0.2.10 -all", "198.51.100.1", "fail", "-all"),
        ("v=spf1 ip4:192.0.2.10 ~all", "198.51.100.1", "softfail", "~all"),
        ("v=spf1 ip4:192.0.2.10 ?all", "198.51.100.1", "neutral", "?all"),
        ("v=spf1 ip4:192.0.2.10", "198.51.100.1", "neutral", ""),
        ("v=spf1 -ip4:198.51.100.1 +all", "198.51.100.1", "fail", "-ip4:198.51.100.1"),
    ],
)
def test_spf_results(record: str, ip: str, expected: str, mechanism: str) -> None:
    result = au.check_spf(ip, "alice@example.com", "smtp.example.com", spf_fake(record).lookups)
    assert (result.result, result.mechanism) == (expected, mechanism)
    assert (result.domain, result.ip, result.identity) == ("example.com", ip, "mailfrom")


def test_spf_none_without_a_record() -> None:
    dns = spf_fake(None, example__com=["google-site-verification=abc"])
    assert au.check_spf("192.0.2.10", "alice@example.com", "h", dns.lookups).result == "none"
    assert au.check_spf("192.0.2.10", "alice@nowhere.example", "h", dns.lookups).result == "none"


def test_spf_include_a_and_mx() -> None:
    dns = spf_fake(
        "v=spf1 include:_spf.example.net a:smtp.example.com mx -all",
        _spf__example__net=["v=spf1 ip4:203.0.113.0/28 -all"],
    )
    dns.a["smtp.example.com"] = ["192.0.2.10"]
    dns.mx["example.com"] = [(10, "mx1.example.com"), (20, "mx2.example.com")]
    dns.a["mx2.example.com"] = ["192.0.2.30"]
    dns.a["mx1.example.com"] = ["192.0.2.20"]
    check = dns.lookups
    assert au.check_spf("203.0.113.5", "a@example.com", "h", check).mechanism == "include:_spf.example.net"
    assert au.check_spf("192.0.2.10", "a@example.com", "h", check).mechanism == "a:smtp.example.com"
    assert au.check_spf("192.0.2.30", "a@example.com", "h", check).mechanism == "mx"
    assert au.check_spf("192.0.2.99", "a@example.com", "h", check).result == "fail"
    assert ("MX", "example.com") in dns.asked


def test_spf_syntax_error_is_permerror() -> None:
    result = au.check_spf("192.0.2.10", "a@example.com", "h", spf_fake("v=spf1 ip4:192.0.2.300 -all").lookups)
    assert result.result == "permerror"
    assert "Invalid IP4 address" in result.explanation
    unknown = au.check_spf("192.0.2.10", "a@example.com", "h", spf_fake("v=spf1 frobnicate -all").lookups)
    assert unknown.result == "permerror"


def test_spf_two_records_is_permerror() -> None:
    dns = spf_fake(None, example__com=["v=spf1 -all", "v=spf1 +all"])
    assert au.check_spf("192.0.2.10", "a@example.com", "h", dns.lookups).result == "permerror"


def test_spf_more_than_ten_lookups_is_permerror() -> None:
    # A chain of includes: each costs one DNS-querying term (RFC 7208 §4.6.4).
    chain = {f"s{i}__example__com": [f"v=spf1 include:s{i + 1}.example.com -all"] for i in range(12)}
    dns = spf_fake("v=spf1 include:s0.example.com -all", **chain)
    result = au.check_spf("192.0.2.10", "a@example.com", "h", dns.lookups)
    assert result.result == "permerror"
    assert "Too many DNS lookups" in result.explanation


def test_spf_ten_lookups_is_still_fine() -> None:
    chain = {f"s{i}__example__com": [f"v=spf1 include:s{i + 1}.example.com -all"] for i in range(9)}
    chain["s9__example__com"] = ["v=spf1 ip4:192.0.2.10 -all"]
    dns = spf_fake("v=spf1 include:s0.example.com -all", **chain)
    assert au.check_spf("192.0.2.10", "a@example.com", "h", dns.lookups).result == "pass"


def test_spf_more_than_two_void_lookups_is_permerror() -> None:
    dns = spf_fake("v=spf1 a:n1.example.com a:n2.example.com a:n3.example.com -all")
    result = au.check_spf("192.0.2.10", "a@example.com", "h", dns.lookups)
    assert result.result == "permerror"
    assert "Void lookup limit" in result.explanation


def test_spf_servfail_is_temperror() -> None:
    dns = spf_fake("v=spf1 -all")
    dns.servfail.add("example.com")
    result = au.check_spf("192.0.2.10", "a@example.com", "h", dns.lookups)
    assert result.result == "temperror"
    assert "SERVFAIL" in result.explanation


def test_spf_null_sender_checks_helo() -> None:
    dns = FakeDNS(txt={"smtp.example.com": ["v=spf1 ip4:192.0.2.10 -all"]})
    result = au.check_spf("192.0.2.10", "<>", "smtp.example.com", dns.lookups)
    assert (result.result, result.identity, result.domain) == ("pass", "helo", "smtp.example.com")


def test_spf_angle_brackets_and_bad_ip() -> None:
    dns = spf_fake("v=spf1 ip4:192.0.2.10 -all")
    assert au.check_spf("192.0.2.10", "<a@Example.COM>", "h", dns.lookups).result == "pass"
    assert au.check_spf("not-an-ip", "a@example.com", "h", dns.lookups).result == "permerror"


def test_spf_through_the_world_dns() -> None:
    db = DNSDatabase()
    db.add_txt("example.com", "v=spf1 mx a:smtp.example.com ~all")
    db.add_mx("example.com", 10, "mx.example.com")
    db.add_a("mx.example.com", "192.0.2.20")
    db.add_a("smtp.example.com", "192.0.2.10")
    lookups = au.dns_lookups(db)
    assert au.check_spf("192.0.2.20", "a@example.com", "h", lookups).mechanism == "mx"
    assert au.check_spf("192.0.2.10", "a@example.com", "h", lookups).mechanism == "a:smtp.example.com"
    assert au.check_spf("192.0.2.99", "a@example.com", "h", lookups).result == "softfail"
    db.set_failure("example.com", "SERVFAIL")
    assert au.check_spf("192.0.2.10", "a@example.com", "h", lookups).result == "temperror"
    db.set_failure("example.com", "NXDOMAIN")
    assert au.check_spf("192.0.2.10", "a@example.com", "h", lookups).result == "none"


def test_world_adapter_answers_like_the_dns_server() -> None:
    db = DNSDatabase()
    db.add_txt("example.com", "x" * 600)  # longer than one character-string: joined back whole
    db.add_mx("example.com", 10, "mx.example.com")
    db.add_a("mx.example.com", "192.0.2.20")
    lookups = au.dns_lookups(db)
    assert lookups.txt("example.com") == ["x" * 600]
    assert lookups.mx("EXAMPLE.com.") == [(10, "mx.example.com")]
    assert lookups.a("mx.example.com") == ["192.0.2.20"]
    assert lookups.a("example.com") == []  # NODATA
    assert lookups.txt("nowhere.example") == []  # NXDOMAIN
    assert lookups.txt("bad name with spaces") == []


# --- DMARC -----------------------------------------------------------------------------


def spf_pass(domain: str = "example.com") -> au.SPFResult:
    return au.SPFResult("pass", domain, "192.0.2.10")


def spf_fail(domain: str = "example.com") -> au.SPFResult:
    return au.SPFResult("fail", domain, "198.51.100.1")


def dkim_pass(domain: str = "example.com") -> au.DKIMResult:
    return au.DKIMResult("pass", domain, "sel1")


NO_DKIM = au.DKIMResult("none")


def policy(record: str, name: str = "example.com") -> FakeDNS:
    return FakeDNS(txt={f"_dmarc.{name}": [record]})


def test_dmarc_passes_through_spf_alignment() -> None:
    result = au.check_dmarc(MESSAGE, spf_pass(), NO_DKIM, policy("v=DMARC1; p=reject").lookup_txt)
    assert (result.result, result.spf_aligned, result.dkim_aligned) == ("pass", True, False)
    assert (result.policy, result.disposition, result.header_from) == ("reject", "none", "example.com")
    assert "SPF authenticated" in result.explain


def test_dmarc_passes_through_dkim_alignment() -> None:
    result = au.check_dmarc(MESSAGE, spf_fail(), [dkim_pass()], policy("v=DMARC1; p=reject").lookup_txt)
    assert (result.result, result.spf_aligned, result.dkim_aligned) == ("pass", False, True)


@pytest.mark.parametrize("p", ["reject", "quarantine", "none"])
def test_dmarc_fail_applies_the_policy(p: str) -> None:
    result = au.check_dmarc(MESSAGE, spf_fail(), NO_DKIM, policy(f"v=DMARC1; p={p}").lookup_txt)
    assert (result.result, result.policy, result.disposition) == ("fail", p, p)


def test_dmarc_fail_when_passes_are_for_other_domains() -> None:
    lookup = policy("v=DMARC1; p=reject").lookup_txt
    result = au.check_dmarc(MESSAGE, spf_pass("bulkmailer.example.net"), [dkim_pass("example.net")], lookup)
    assert (result.result, result.disposition) == ("fail", "reject")


def test_dmarc_none_without_a_record() -> None:
    dns = FakeDNS(txt={"_dmarc.example.com": ["some other text"]})
    result = au.check_dmarc(MESSAGE, spf_fail(), NO_DKIM, dns.lookup_txt)
    assert (result.result, result.disposition, result.header_from) == ("none", "none", "example.com")
    assert au.check_dmarc(MESSAGE, spf_fail(), NO_DKIM, FakeDNS().lookup_txt).result == "none"


def test_dmarc_two_records_mean_no_policy() -> None:
    dns = FakeDNS(txt={"_dmarc.example.com": ["v=DMARC1; p=reject", "v=DMARC1; p=none"]})
    assert au.check_dmarc(MESSAGE, spf_fail(), NO_DKIM, dns.lookup_txt).result == "none"


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ("v=DMARC1; p=reject", "pass"),
        ("v=DMARC1; p=reject; aspf=r", "pass"),
        ("v=DMARC1; p=reject; aspf=s", "fail"),
    ],
)
def test_dmarc_spf_alignment_relaxed_and_strict(record: str, expected: str) -> None:
    # The bounce address is in a subdomain: relaxed alignment accepts it, strict does not (RFC 7489 §3.1.2).
    result = au.check_dmarc(MESSAGE, spf_pass("bounces.example.com"), NO_DKIM, policy(record).lookup_txt)
    assert result.result == expected


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ("v=DMARC1; p=quarantine", "pass"),
        ("v=DMARC1; p=quarantine; adkim=s", "fail"),
    ],
)
def test_dmarc_dkim_alignment_relaxed_and_strict(record: str, expected: str) -> None:
    result = au.check_dmarc(MESSAGE, None, [dkim_pass("mail.example.com")], policy(record).lookup_txt)
    assert result.result == expected


def test_dmarc_relaxed_alignment_between_sibling_subdomains() -> None:
    message = MESSAGE.replace(b"alice@example.com", b"alice@news.example.com")
    dns = policy("v=DMARC1; p=reject")
    result = au.check_dmarc(message, None, [dkim_pass("mail.example.com")], dns.lookup_txt)
    assert (result.result, result.header_from, result.policy_domain) == ("pass", "news.example.com", "example.com")
    # The From domain's own record is asked for first, then the organizational domain's (RFC 7489 §6.6.3).
    assert dns.asked == [("TXT", "_dmarc.news.example.com"), ("TXT", "_dmarc.example.com")]


def test_dmarc_subdomain_policy_comes_from_sp() -> None:
    message = MESSAGE.replace(b"alice@example.com", b"alice@news.example.com")
    result = au.check_dmarc(message, spf_fail(), NO_DKIM, policy("v=DMARC1; p=reject; sp=quarantine").lookup_txt)
    assert (result.result, result.policy, result.disposition) == ("fail", "quarantine", "quarantine")
    no_sp = au.check_dmarc(message, spf_fail(), NO_DKIM, policy("v=DMARC1; p=reject").lookup_txt)
    assert (no_sp.policy, no_sp.disposition) == ("reject", "reject")


def test_dmarc_public_suffix_never_aligns() -> None:
    result = au.check_dmarc(MESSAGE, spf_pass("com"), [dkim_pass("com")], policy("v=DMARC1; p=reject").lookup_txt)
    assert result.result == "fail"


@pytest.mark.parametrize(
    ("pct", "sample", "disposition"),
    [(100, 99, "reject"), (50, 10, "reject"), (50, 50, "quarantine"), (0, 0, "quarantine")],
)
def test_dmarc_pct_sampling(pct: int, sample: int, disposition: str) -> None:
    lookup = policy(f"v=DMARC1; p=reject; pct={pct}").lookup_txt
    assert au.check_dmarc(MESSAGE, spf_fail(), NO_DKIM, lookup, sample=sample).disposition == disposition


def test_dmarc_pct_sampling_of_quarantine_and_bad_samples() -> None:
    lookup = policy("v=DMARC1; p=quarantine; pct=0").lookup_txt
    assert au.check_dmarc(MESSAGE, spf_fail(), NO_DKIM, lookup).disposition == "none"
    with pytest.raises(ValueError, match="0 to 99"):
        au.check_dmarc(MESSAGE, spf_fail(), NO_DKIM, lookup, sample=100)


def test_dmarc_errors() -> None:
    bad = au.check_dmarc(MESSAGE, spf_pass(), NO_DKIM, policy("v=DMARC1; p=bogus").lookup_txt)
    assert (bad.result, bad.policy_domain) == ("permerror", "example.com")
    dns = policy("v=DMARC1; p=reject")
    dns.servfail.add("_dmarc.example.com")
    assert au.check_dmarc(MESSAGE, spf_pass(), NO_DKIM, dns.lookup_txt).result == "temperror"
    no_from = MESSAGE.replace(b"From: Alice <alice@example.com>\r\n", b"")
    assert au.check_dmarc(no_from, spf_pass(), NO_DKIM, dns.lookup_txt).result == "permerror"
    two = MESSAGE.replace(b"From: Alice <alice@example.com>", b"From: alice@example.com, mallory@example.net")
    assert au.check_dmarc(two, spf_pass(), NO_DKIM, dns.lookup_txt).result == "permerror"


def test_from_domain_and_organizational_domain() -> None:
    assert au.from_domain(MESSAGE.replace(b"example.com>", b"Example.COM>")) == "example.com"
    assert au.organizational_domain("mail.news.example.com") == "example.com"
    assert au.organizational_domain("example.org") == "example.org"
    assert au.organizational_domain("www.example.co.uk") == "example.co.uk"
    assert au.organizational_domain("example.co.uk") == "example.co.uk"


# --- Authentication-Results ---------------------------------------------------------------

PASSING = (
    au.SPFResult("pass", "example.com", "192.0.2.10"),
    au.DKIMResult("pass", "example.com", "sel1"),
    au.DMARCResult("pass", "example.com", "reject", "none", spf_aligned=True, dkim_aligned=True),
)


def test_authentication_results_field() -> None:
    header = au.authentication_results("mx.example.org", *PASSING)
    assert header == (
        b"Authentication-Results: mx.example.org;\r\n"
        b" spf=pass smtp.mailfrom=example.com;\r\n"
        b" dkim=pass header.d=example.com header.s=sel1;\r\n"
        b" dmarc=pass (p=reject dis=none) header.from=example.com\r\n"
    )
    (value,) = header_values(header + b"\r\nbody", "Authentication-Results")
    assert value == (
        "mx.example.org; spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com header.s=sel1; "
        "dmarc=pass (p=reject dis=none) header.from=example.com"
    )


def test_authentication_results_failures_carry_reasons() -> None:
    header = au.authentication_results(
        "mx.example.org",
        au.SPFResult("softfail", "example.com", "198.51.100.1", explanation='say "no"\\'),
        [au.DKIMResult("fail", "example.com", "sel1", "body hash did not verify"), au.DKIMResult("none")],
        au.DMARCResult("fail", "example.com", "quarantine", "quarantine"),
    )
    lines = header.decode().split("\r\n")
    assert lines[1] == ' spf=softfail reason="say \\"no\\"\\\\" smtp.mailfrom=example.com;'
    assert 'dkim=fail reason="body hash did not verify" header.d=example.com' in header.decode()
    assert " dkim=none;\r\n" in header.decode()
    assert header.endswith(b" dmarc=fail (p=quarantine dis=quarantine) header.from=example.com\r\n")
    assert all(len(line) <= 78 for line in lines)


def test_authentication_results_helo_identity_and_nothing_checked() -> None:
    helo = au.SPFResult("pass", "smtp.example.com", "192.0.2.10", identity="helo")
    assert (
        au.authentication_results("mx", helo, None, None)
        == b"Authentication-Results: mx;\r\n spf=pass smtp.helo=smtp.example.com\r\n"
    )
    assert au.authentication_results("mx", None, None, None) == b"Authentication-Results: mx;\r\n none\r\n"


# --- all together, and determinism --------------------------------------------------------


def world(key: au.DKIMKey, spf_record: str = "v=spf1 ip4:192.0.2.10 -all", dmarc: str = "p=reject") -> DNSDatabase:
    db = DNSDatabase()
    db.add_txt("example.com", spf_record)
    db.add_txt(au.key_name("example.com", "sel1"), key.txt_record)
    db.add_txt("_dmarc.example.com", f"v=DMARC1; {dmarc}")
    return db


def run(db: DNSDatabase, message: bytes, ip: str = "192.0.2.10") -> au.Verdict:
    return au.authenticate(
        message,
        ip=ip,
        mail_from="<alice@example.com>",
        helo="smtp.example.com",
        lookups=au.dns_lookups(db),
        authserv_id="mx.example.org",
    )


def test_everything_passes_in_a_carefully_configured_world(key: au.DKIMKey) -> None:
    verdict = run(world(key), signed(key))
    assert (verdict.spf.result, [d.result for d in verdict.dkim], verdict.dmarc.result) == ("pass", ["pass"], "pass")
    assert verdict.header == au.authentication_results("mx.example.org", *PASSING)


def test_footer_and_unlisted_server_make_dmarc_reject(key: au.DKIMKey) -> None:
    db = world(key)
    still_aligned_spf = run(db, signed(key) + FOOTER)
    assert (still_aligned_spf.dkim[0].result, still_aligned_spf.dmarc.result) == ("fail", "pass")
    both_broken = run(db, signed(key) + FOOTER, ip="198.51.100.1")
    assert (both_broken.dmarc.result, both_broken.dmarc.disposition) == ("fail", "reject")


def test_results_are_deterministic(key: au.DKIMKey) -> None:
    assert au.sign(MESSAGE, "example.com", "sel1", key.private_key_pem) == au.sign(
        MESSAGE, "example.com", "sel1", key.private_key_pem
    )
    stamped = [au.sign(MESSAGE, "example.com", "sel1", key.private_key_pem, timestamp=1_700_000_000) for _ in "ab"]
    assert stamped[0] == stamped[1]
    db = world(key, dmarc="p=quarantine; pct=50")
    message = signed(key) + FOOTER
    assert run(db, message, ip="198.51.100.1") == run(db, message, ip="198.51.100.1")
