"""SPF, DKIM, DMARC and the spam filter at work in simulated worlds: signing at the MSA, checks at the MX.

Each world is built from a built-in scenario (or a variant of one made by editing its spec),
run to the end with a fixed seed, and then inspected: the delivered bytes, the folder, the
trace events, the ledger, and what `check()` says about the scenario's [[expect_auth]].
"""

from __future__ import annotations

import base64
import hashlib
from importlib import resources

import dkim  # type: ignore[import-untyped]
import dkim.canonicalization  # type: ignore[import-untyped]
import dkim.crypto  # type: ignore[import-untyped]
import pytest

from simulator import Simulation, faults
from simulator.mail import authentication as au
from simulator.mail import spam
from simulator.mail.dns import DNSDatabase
from simulator.mail.headers import header_values
from simulator.mail.store import INBOX, JUNK, StoredMessage
from simulator.nodes.mail_auth import InboundChecks, Screening
from simulator.nodes.mailing_list import MailingList
from simulator.scenarios import loader
from simulator.scenarios.schema import MailServerHost, ScenarioSpec, TXTRecord

SECURITY_SCENARIOS = ("spf-fail", "dkim-tampered", "dmarc-reject", "spam-false-positive")


def run(scenario: str, spec: ScenarioSpec | None = None) -> Simulation:
    sim = Simulation(scenario, 1, spec)
    sim.run()
    return sim


def with_server(spec: ScenarioSpec, name: str, **changes: object) -> ScenarioSpec:
    """The spec with one mail-server's fields changed, validated again as a whole."""
    hosts = [h.model_copy(update=changes) if h.name == name else h for h in spec.host]
    return ScenarioSpec.model_validate(spec.model_copy(update={"host": hosts}).model_dump(by_alias=True))


def with_txt(spec: ScenarioSpec, name: str, text: str) -> ScenarioSpec:
    """The spec with the TXT record at `name` replaced."""
    txt = [TXTRecord(name=name, text=text) if r.name == name else r for r in spec.dns.txt]
    return spec.model_copy(update={"dns": spec.dns.model_copy(update={"txt": txt})})


def folder(sim: Simulation, address: str, name: str) -> list[StoredMessage]:
    accounts = [a for s in sim.world.servers.values() if (a := s.store.get(address)) is not None]
    return [m for a in accounts if name in a.folders for m in a.folders[name].messages.values()]


def screenings(sim: Simulation, server: str) -> list[Screening]:
    return sim.world.servers[server].mail_auth.screenings


def events(sim: Simulation, kind: str) -> list[str]:
    return [e.summary for e in sim.trace if e.kind == kind]


# --- signing at the MSA, verifying with dkimpy --------------------------------------------------


def test_a_message_signed_by_our_mta_verifies_with_dkimpy_against_the_simulated_dns() -> None:
    sim = run("basic")
    (delivered,) = sim.mailbox("bob@example.org")
    lookup = au.txt_lookup(sim.world.dns_db)
    assert au.verify(delivered.content, lookup) == au.DKIMResult("pass", "example.com", "mail")

    # dkimpy on its own, asking the simulated DNS for the key: the signature is a real one.
    def dnsfunc(name: bytes, timeout: float = 5) -> bytes:
        return lookup(name.decode().rstrip("."))[0].encode()

    assert dkim.verify(delivered.content, dnsfunc=dnsfunc)
    # The key in DNS is the public half of the key shipped with the package.
    assert lookup("mail._domainkey.example.com") == [au.shipped_key("example.com").txt_record]


def test_signatures_are_the_same_in_every_run() -> None:
    first, second = run("basic"), run("basic")
    (a,), (b,) = first.mailbox("bob@example.org"), second.mailbox("bob@example.org")
    signature = header_values(a.content, "DKIM-Signature")
    assert signature == header_values(b.content, "DKIM-Signature")
    assert signature[0].startswith("v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=mail; ")


def test_our_signing_gives_dkimpys_own_signature_bit_for_bit() -> None:
    """The RSA step runs in OpenSSL for speed; PKCS #1 v1.5 is deterministic, so dkimpy's own path must agree."""
    key = au.shipped_key("example.org")
    message = (
        b"From: Bob <bob@example.org>\r\nTo: alice@example.com\r\nSubject: Re: lunch\r\n"
        b"Date: Fri, 06 Nov 2026 09:00:00 +0000\r\nMessage-ID: <r@example.org>\r\n\r\nYes!  \r\n\r\n"
    )
    ours = au.sign(message, "example.org", "s1", key.private_key_pem)
    signer = dkim.DKIM(message, signature_algorithm=au.ALGORITHM, linesep=b"\r\n")
    names = tuple(bytes(n).lower() for n in signer.default_sign_headers())
    policy = dkim.canonicalization.CanonicalizationPolicy.from_c_value(au.CANONICALIZATION)
    body_hash = base64.b64encode(hashlib.sha256(bytes(policy.canonicalize_body(signer.body))).digest())
    tags = [
        (b"v", b"1"), (b"a", au.ALGORITHM), (b"c", au.CANONICALIZATION), (b"d", b"example.org"), (b"s", b"s1"),
        (b"h", b":".join(names)), (b"bh", body_hash), (b"b", b"0" * 60),
    ]  # fmt: skip
    signer.hasher = dkim.crypto.HASH_ALGORITHMS[au.ALGORITHM]
    private = dkim.crypto.parse_pem_private_key(key.private_key_pem)
    theirs = b"DKIM-Signature: " + bytes(signer.gen_header(tags, names, policy, b"DKIM-Signature", private))
    assert ours == theirs
    assert au.verify(ours + message, lambda name: [key.txt_record]).result == "pass"


def test_only_mail_from_its_own_domains_is_signed_and_only_on_submission() -> None:
    sim = run("dmarc-reject")
    # smtp.example.net signs for example.net only: Mallory's forged From alice@example.com goes out unsigned.
    assert events(sim, "dkim-sign") == ["smtp.example.com signs the message with DKIM (d=example.com, s=mail)"]
    # Submission is never checked: the MSAs have no screenings, the MX has one per message.
    assert screenings(sim, "smtp.example.com") == [] and screenings(sim, "smtp.example.net") == []
    assert len(screenings(sim, "mx.example.org")) == 2


# --- the default world passes everything -------------------------------------------------------------


def test_the_default_world_passes_spf_dkim_and_dmarc_and_says_so() -> None:
    sim = run("basic")
    (delivered,) = sim.mailbox("bob@example.org")
    (results,) = header_values(delivered.content, "Authentication-Results")
    assert results == (
        "mx.example.org; spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com header.s=mail; "
        "dmarc=pass (p=reject dis=none) header.from=example.com"
    )
    assert header_values(delivered.content, "X-Spam-Status")[0].startswith("No, score=")
    assert "X-Spam-Flag" not in delivered.content.decode()
    # The MX's fields sit above its own Received field, below Return-Path, as Postfix's milters put them.
    names = [line.split(b":")[0] for line in delivered.content.split(b"\r\n")[:14] if line[:1] not in b" \t"]
    assert names[:3] == [b"Return-Path", b"X-Spam-Score", b"X-Spam-Level"]
    assert names.index(b"Authentication-Results") < names.index(b"Received")
    assert loader.check(sim) == []


def test_fields_forged_in_the_mx_s_name_are_removed_before_it_adds_its_own() -> None:
    spec = loader.load("basic")
    forged = (
        "Authentication-Results: MX.example.org;\n dkim=pass header.d=bank.example\n"
        "Authentication-Results: relay.example.net; spf=pass smtp.mailfrom=example.com\n"
        "X-Spam-Status: No, score=-10.0\n"
        "From: Alice <alice@example.com>\nTo: bob@example.org\nSubject: Hello\n\nHello Bob\n"
    )
    message = spec.message[0].model_copy(update={"raw": forged})
    sim = run("basic", spec.model_copy(update={"message": [message], "expect": []}))
    (delivered,) = sim.mailbox("bob@example.org")
    results = header_values(delivered.content, "Authentication-Results")
    # Its own, and the other server's, which it leaves for the reader to judge; the forged one is gone.
    assert [r.split(";")[0] for r in results] == ["mx.example.org", "relay.example.net"]
    assert "bank.example" not in delivered.content.decode()
    assert len(header_values(delivered.content, "X-Spam-Status")) == 1
    assert events(sim, "auth-results")[0] == (
        "mx.example.org removes 1 Authentication-Results field(s) that claim to be its own"
    )
    assert "mx.example.org removes 1 X-Spam field(s) the message arrived with" in events(sim, "spam")


def test_each_check_is_a_trace_event_with_an_explanation_and_an_rfc() -> None:
    sim = run("basic")
    expected = {
        "dkim-sign": "RFC 6376",
        "spf": "RFC 7208",
        "dkim": "RFC 6376",
        "dmarc": "RFC 7489",
        "auth-results": "RFC 8601",
        "spam": "RFC 5321",
    }
    for kind, rfc in expected.items():
        (event,) = [e for e in sim.trace if e.kind == kind]
        assert event.rfc.startswith(rfc), kind
        assert len(event.explain) > 100, kind
    (spf_event,) = [e for e in sim.trace if e.kind == "spf"]
    # What was checked, what DNS said, and why it passed.
    assert "192.0.2.25" in spf_event.explain and 'TXT example.com → "v=spf1 ip4:192.0.2.25 -all"' in spf_event.explain
    kinds = [e.kind for e in sim.trace]
    assert kinds.index("dkim-sign") < kinds.index("spf") < kinds.index("dmarc") < kinds.index("deliver")


# --- the security scenarios ----------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", SECURITY_SCENARIOS)
def test_each_security_scenario_states_and_meets_its_authentication_results(scenario: str) -> None:
    sim = run(scenario)
    assert sim.spec.expect_auth, "a security scenario states the results it expects"
    assert loader.check(sim) == []


def test_check_reports_a_result_that_differs_from_the_expectation() -> None:
    spec = loader.load("spf-fail")
    wrong = spec.expect_auth[0].model_copy(update={"spf": "pass", "folder": "Junk"})
    sim = run("spf-fail", spec.model_copy(update={"expect_auth": [wrong]}))
    assert loader.check(sim) == [
        "expect_auth[1]: message 1 to bob@example.org: expected spf=pass, got spf=fail",
        "expect_auth[1]: message 1 to bob@example.org: expected it in the Junk folder, got the INBOX folder",
    ]


def test_spf_fail_is_rescued_by_dkim_and_refused_without_it() -> None:
    sim = run("spf-fail")
    (delivered,) = sim.mailbox("bob@example.org")
    assert "spf=fail" in header_values(delivered.content, "Authentication-Results")[0]
    # Without DKIM nothing vouches for example.com, and its p=reject applies: 550 5.7.1 and a bounce to Alice.
    unsigned = with_server(loader.load("spf-fail"), "smtp.example.com", dkim=None)
    sim = run("spf-fail", unsigned)
    (outcome,) = sim.outcome()
    assert (outcome.status, outcome.detail) == ("bounced", "550 5.7.1 rejected by DMARC policy for example.com")
    assert sim.mailbox("bob@example.org") == []
    (bounce,) = sim.mailbox("alice@example.com")
    assert b"rejected by DMARC policy for example.com" in bounce.content


def test_the_lists_footer_breaks_the_body_hash_and_nothing_else() -> None:
    sim = run("dkim-tampered")
    direct, via_list = sim.mailbox("bob@example.org")
    lookup = au.txt_lookup(sim.world.dns_db)
    assert au.verify(direct.content, lookup).result == "pass"
    result = au.verify(via_list.content, lookup)
    assert (result.result, result.domain, result.reason) == ("fail", "example.com", "body hash did not verify")
    assert header_values(via_list.content, "List-Id") == ["<lunch.lists.example.net>"]
    # Cut the footer off and the signature verifies again: the footer was the only change that mattered.
    without_footer = via_list.content.split(b"-- \r\n")[0]
    assert au.verify(without_footer, lookup).result == "pass"
    assert "dkim=fail" in header_values(via_list.content, "Authentication-Results")[0]


def test_a_list_copy_goes_out_from_the_bounce_address_with_the_footer() -> None:
    mailing_list = MailingList("lunch@lists.example.net", ("bob@example.org",), "Footer for {address}")
    copy = mailing_list.distribute(b"From: a@example.com\r\nSubject: s\r\n\r\nHello\r\n")
    assert copy == (
        b"List-Id: <lunch.lists.example.net>\r\nList-Post: <mailto:lunch@lists.example.net>\r\n"
        b"From: a@example.com\r\nSubject: s\r\n\r\nHello\r\n-- \r\nFooter for lunch@lists.example.net\r\n"
    )
    assert mailing_list.bounce_address == "lunch-bounces@lists.example.net"
    # A body without a final line end, and a message without a body, still get the footer in the body.
    assert mailing_list.distribute(b"Subject: s\r\n\r\nHi").endswith(
        b"\r\n\r\nHi\r\n-- \r\nFooter for lunch@lists.example.net\r\n"
    )
    assert b"Subject: s\r\n\r\n-- \r\n" in mailing_list.distribute(b"Subject: s\r\n")


def test_dmarc_reject_refuses_with_550_571_and_the_sender_gets_the_bounce() -> None:
    sim = run("dmarc-reject")
    refusals = [e for e in sim.trace if e.kind == "send" and e.data.startswith(b"550 5.7.1")]
    assert [e.data for e in refusals] == [b"550 5.7.1 rejected by DMARC policy for example.com\r\n"]
    (bounce,) = sim.mailbox("mallory@example.net")
    assert header_values(bounce.content, "Subject") == ["Undelivered Mail Returned to Sender"]
    (genuine,) = sim.mailbox("bob@example.org")
    assert header_values(genuine.content, "Subject") == ["Lunch on Friday?"]
    # The refused message is not kept, so the trace shows Authentication-Results for the genuine one only.
    assert [s.split(";")[-1] for s in events(sim, "auth-results")] == [
        " dmarc=pass (p=reject dis=none) header.from=example.com"
    ]


def test_dmarc_quarantine_delivers_into_the_junk_folder() -> None:
    spec = with_txt(loader.load("dmarc-reject"), "_dmarc.example.com", "v=DMARC1; p=quarantine")
    sim = run("dmarc-reject", spec)
    (junked,) = folder(sim, "bob@example.org", JUNK)
    assert header_values(junked.content, "Subject") == ["New bank details for the invoice"]
    assert "dmarc=fail (p=quarantine dis=quarantine)" in header_values(junked.content, "Authentication-Results")[0]
    assert [header_values(m.content, "Subject") for m in folder(sim, "bob@example.org", INBOX)] == [
        ["Lunch on Friday?"]
    ]
    forged = next(o for o in sim.outcome() if o.message_id == "<forged@laptop.example.net>")
    assert (forged.status, forged.detail) == ("delivered", "Junk folder")
    assert screenings(sim, "mx.example.org")[0].folder == JUNK
    assert any("Junk folder" in s for s in events(sim, "deliver"))


def test_a_missing_dkim_key_is_a_permerror_and_dmarc_still_passes_on_spf() -> None:
    spec = loader.load("basic")
    smtp = next(h for h in spec.mail_servers() if h.name == "smtp.example.com")
    assert smtp.dkim is not None
    spec = with_server(spec, "smtp.example.com", dkim=smtp.dkim.model_copy(update={"publish": False}))
    sim = run("basic", spec)
    assert au.txt_lookup(sim.world.dns_db)("mail._domainkey.example.com") == []
    (delivered,) = sim.mailbox("bob@example.org")
    results = header_values(delivered.content, "Authentication-Results")[0]
    assert 'dkim=permerror reason="no key for signature" header.d=example.com' in results
    assert "dmarc=pass" in results
    assert screenings(sim, "mx.example.org")[0].action == "inbox"


def test_spam_the_filter_rejects_gets_550_571_and_the_sender_a_bounce() -> None:
    spec = with_server(loader.load("basic"), "mx.example.org", spam_junk=3.0, spam_reject=4.0)
    spam_text = (
        "From: Alice <alice@example.com>\nTo: bob@example.org\nSubject: URGENT: FREE $$$ BONUS\n\n"
        "Click here to claim your prize!!! You have won! Verify your account now!!! https://bit.ly/x\n"
    )
    message = spec.message[0].model_copy(update={"raw": spam_text})
    sim = run("basic", spec.model_copy(update={"message": [message], "expect": []}))
    (verdict,) = screenings(sim, "mx.example.org")
    assert (verdict.spam, verdict.action, verdict.dmarc) == ("reject", "reject", "pass")
    (outcome,) = sim.outcome()
    assert outcome.status == "bounced" and outcome.detail.startswith("550 5.7.1 Message rejected as spam (score ")
    (bounce,) = sim.mailbox("alice@example.com")
    assert b"Message rejected as spam" in bounce.content
    assert sim.mailbox("bob@example.org") == [] and folder(sim, "bob@example.org", JUNK) == []


def test_the_false_positive_is_junked_and_fixing_the_spf_record_fixes_delivery() -> None:
    sim = run("spam-false-positive")
    (junked,) = folder(sim, "bob@example.org", JUNK)
    assert header_values(junked.content, "X-Spam-Flag") == ["YES"]
    assert sim.mailbox("bob@example.org") == []

    fixed = with_txt(
        loader.load("spam-false-positive"), "greenleaf.example", "v=spf1 ip4:203.0.113.50 ip4:203.0.113.77 -all"
    )
    sim = run("spam-false-positive", fixed)
    (delivered,) = sim.mailbox("bob@example.org")
    assert header_values(delivered.content, "Subject") == ["Greenleaf news: the autumn sale"]
    assert folder(sim, "bob@example.org", JUNK) == []
    (verdict,) = screenings(sim, "mx.example.org")
    assert (verdict.spf, verdict.dmarc, verdict.spam, verdict.folder) == ("pass", "pass", "accept", INBOX)
    assert header_values(delivered.content, "X-Spam-Status")[0].startswith("No,")


def test_a_dns_failure_during_the_checks_is_a_temperror_not_a_refusal() -> None:
    sim = Simulation("basic", 1)
    # example.com's name server fails once the message is on its way: the checks at the MX cannot finish.
    sim.inject(faults.parse("dns:example.com=servfail,at=0.1"))
    sim.run()
    (delivered,) = sim.mailbox("bob@example.org")
    results = header_values(delivered.content, "Authentication-Results")[0]
    assert "spf=temperror" in results and "dkim=temperror" in results and "dmarc=temperror" in results
    assert screenings(sim, "mx.example.org")[0].action == "inbox"


# --- the scenario format ------------------------------------------------------------------------------


MX_CHECKS = "sender_auth = true              # on port 25: check SPF, DKIM and DMARC, add Authentication-Results\n"
EXPECT_AUTH = '\n[[expect_auth]]\nmessage = 1\nrecipient = "bob@example.org"\nspf = "pass"\n'


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        ('dkim = { key = "example.com", selector = "mail" }', 'dkim = { key = "nosuch" }', "host[2].dkim.key",
         "expected one of the shipped DKIM keys (example.com, example.net, example.org, greenleaf.example)"),
        ('dkim = { key = "example.com", selector = "mail" }', 'dkim = { key = "example.com", selector = "a b" }',
         "host[2].dkim.selector", "expected a DNS label"),
        ("imap = true ", "spam_junk = 9\nspam_reject = 8\nimap = true ", "host[4].spam_reject",
         "expected at least spam_junk (9), got 8"),
        ("imap = true                     # ... and on port 143 (RFC 3501)\n" + MX_CHECKS,
         "imap = true\n", "expect_auth[1]", "expected sender_auth = true on the mail-server of bob@example.org"),
        ('recipient = "bob@example.org"\nspf', 'recipient = "carol@example.org"\nspf', "expect_auth[1].recipient",
         "expected one of message 1's recipients or list members"),
    ],
)  # fmt: skip
def test_scenario_mistakes_are_one_line_a_teacher_can_act_on(old: str, new: str, path: str, message: str) -> None:
    text = (resources.files("simulator.scenarios") / "basic.toml").read_text() + EXPECT_AUTH
    assert old in text
    with pytest.raises(loader.ScenarioError) as caught:
        loader.parse(text.replace(old, new, 1), "lesson.toml")
    assert caught.value.path == path
    assert message in caught.value.message


def test_a_list_must_live_on_the_server_of_its_domain() -> None:
    spec = loader.load("dkim-tampered")
    data = spec.model_dump(by_alias=True)
    data["mailing_list"][0]["server"] = "mx.example.org"
    with pytest.raises(
        ValueError, match=r"mailing_list\[1\]\.server: expected the mail-server holding lists\.example\.net"
    ):
        ScenarioSpec.model_validate(data)


def test_txt_records_may_have_underscore_labels_but_not_junk() -> None:
    assert TXTRecord(name="_dmarc.Example.COM.", text="v=DMARC1; p=none").name == "_dmarc.example.com"
    assert TXTRecord(name="mail._domainkey.example.com", text="v=DKIM1").name == "mail._domainkey.example.com"
    with pytest.raises(ValueError, match="expected a domain name"):
        TXTRecord(name="bad name.example", text="x")


def test_the_shipped_keys_are_2048_bit_rsa() -> None:
    names = au.shipped_key_names()
    assert {"example.com", "example.org", "example.net", "greenleaf.example"} <= set(names)
    assert all(au.shipped_key(n).bits == 2048 for n in names)
    with pytest.raises(KeyError, match="shipped keys: "):
        au.shipped_key("nosuch")
    assert MailServerHost.model_fields["sender_auth"].default is False  # off unless a scenario asks


def test_mail_from_the_loopback_network_is_taken_unchecked_as_milters_do_by_default() -> None:
    """`smtpsim serve`'s real clients connect from 127.0.0.1: OpenDMARC's IgnoreHosts lets them through."""
    checks = InboundChecks("mx.example.org", DNSDatabase(), sender_auth=True, thresholds=spam.Thresholds())
    message = b"From: Alice <alice@example.com>\r\nSubject: hi\r\n\r\nHello\r\n"
    decision = checks.screen(
        message, ip="127.0.0.1", mail_from="carol@example.net", helo="relay", message_id="<x@y>", recipients=("b@c",)
    )
    assert (decision.message, decision.folder, decision.refusal) == (message, INBOX, None)
    assert [f.summary for f in decision.findings] == [
        "mx.example.org does not check mail from 127.0.0.1, a local client"
    ]
    # From anywhere else the same message is checked, and example.com (no records here) gets dmarc=none.
    decision = checks.screen(
        message, ip="192.0.2.99", mail_from="carol@example.net", helo="relay", message_id="<x@y>", recipients=("b@c",)
    )
    assert decision.message.startswith(b"X-Spam-")
    assert (decision.screening.spf, decision.screening.dkim, decision.screening.dmarc) == ("none", "none", "none")


def test_a_malformed_message_is_checked_without_a_traceback() -> None:
    checks = InboundChecks("mx.example.org", DNSDatabase(), sender_auth=True, thresholds=spam.Thresholds())
    for message in (
        b"",
        b"no header at all",
        b"DKIM-Signature: garbage\r\nFrom: a@b\r\nFrom: c@d\r\n\r\n",
        b"\xff\xfe:\r\n",
    ):
        decision = checks.screen(message, ip="192.0.2.99", mail_from="", helo="", message_id="", recipients=("b@c",))
        assert decision.screening.action in ("inbox", "junk", "reject")
        assert decision.message.endswith(message)
