"""Sender authentication and filtering at a mail server: DKIM signing on the way out, checks on the way in.

On the way out, the submission server signs what its users send (RFC 6376 §5: rsa-sha256,
relaxed/relaxed) with d= the From domain, when that is a domain it signs for, using a key
whose public half the domain publishes at `<selector>._domainkey.<domain>`.

On the way in, on port 25, the MX does what Postfix with OpenDKIM, OpenDMARC and SpamAssassin
does at the end of DATA, before it answers:

1. SPF (RFC 7208): is the connecting address permitted by the policy of the MAIL FROM domain
   (of the HELO name, for the null sender)?
2. DKIM (RFC 6376 §6): does each DKIM-Signature verify with the key its d= and s= name?
3. DMARC (RFC 7489): did SPF or DKIM pass for a domain aligned with the From address, and if
   not, what does the From domain's policy ask: nothing, quarantine (the Junk folder) or reject
   (550 5.7.1 at the end of DATA)?
4. It prepends Authentication-Results (RFC 8601) with its own name as the authserv-id.
5. With the spam filter on, it scores the message (`simulator.mail.spam`), prepends the X-Spam
   fields, and files it in INBOX or Junk or refuses it with 550 5.7.1.

The DNS questions these checks ask are answered from the world's DNS data at once, as a
resolver on the MX answers from its cache; they take no simulated time, and each check's trace
event lists the records it read. Injected DNS faults (SERVFAIL, NXDOMAIN) reach them all the same.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal, TypeAlias

from simulator.mail import authentication as auth
from simulator.mail import dns, spam
from simulator.mail.headers import header_values, split_header_section
from simulator.mail.store import INBOX, JUNK
from simulator.nodes.mailing_list import MailingList
from simulator.protocol.smtp.replies import Code, Reply

Action: TypeAlias = Literal["inbox", "junk", "reject"]

DMARC_REJECT_RFC = "RFC 7489 §6.6.4, §10.3; RFC 3463 §3.8"


@dataclass(frozen=True)
class Finding:
    """One thing the MX found or did, as one trace event."""

    kind: str
    summary: str
    explain: str
    rfc: str


# --- signing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DKIMSigner:
    """How a submission server signs: which key, under which selector, for which From domains.

    Attributes:
        selector: the s= tag: which of the domain's keys (RFC 6376 §3.1).
        key_name: the shipped key it signs with (`authentication.shipped_key`).
        domains: the From domains it signs for; mail from any other domain goes out unsigned.
    """

    selector: str
    key_name: str
    domains: frozenset[str]

    def record_name(self, domain: str) -> str:
        """Where `domain` publishes this signer's public key."""
        return auth.key_name(domain, self.selector)

    def sign(self, host: str, message: bytes) -> tuple[bytes, Finding | None]:
        """The message with a DKIM-Signature on top, and the trace event saying so.

        Mail whose From domain is not one it signs for goes out as it is, without an event.
        """
        domain = auth.from_domain(message)
        if domain is None or domain not in self.domains:
            return message, None
        key = auth.shipped_key(self.key_name)
        try:
            signature = auth.sign(message, domain, self.selector, key.private_key_pem)
        except ValueError as exc:
            return message, Finding(
                "dkim-sign",
                f"{host} cannot DKIM-sign the message: {exc}",
                "The message could not be signed, so it goes out without a DKIM-Signature; a receiver whose "
                "checks rely on DKIM will see dkim=none.",
                "RFC 6376 §5",
            )
        signed = _tag(header_values(signature, "DKIM-Signature")[0], "h").split(":")
        return signature + message, Finding(
            "dkim-sign",
            f"{host} signs the message with DKIM (d={domain}, s={self.selector})",
            f"Before the message leaves, {host} signs it for {domain}: it hashes the body (bh=) and signs that hash "
            f"together with the header fields {', '.join(signed)} with {domain}'s private key (rsa-sha256, "
            f"relaxed canonicalization). The public key is published in DNS at {self.record_name(domain)}, so any "
            "receiver can check that the message comes from a server holding the key and that nobody changed "
            "the signed parts on the way.",
            "RFC 6376 §5; RFC 8301 §3",
        )


def _tag(value: str, name: str) -> str:
    """One tag of a DKIM-Signature value (RFC 6376 §3.2), whitespace removed; "" when absent."""
    for part in value.split(";"):
        tag, _, text = part.partition("=")
        if tag.strip() == name:
            return "".join(text.split())
    return ""


# --- checking ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Screening:
    """What the MX concluded about one message: the results by name, the spam score, and what it did.

    Kept per message on the server so that a scenario's [[expect_auth]] can be checked; the
    names are those of Authentication-Results (RFC 8601 §2.7) and "" for a check not run.

    Attributes:
        dkim: the result of the topmost signature (the last one added), "none" when unsigned.
        spam: the filter's decision (accept, junk, reject), "" with the filter off.
        action: inbox, junk (the Junk folder), or reject (refused with 550 5.7.1).
    """

    message_id: str
    recipients: tuple[str, ...]
    spf: str
    dkim: str
    dmarc: str
    spam: str
    score: float | None
    action: Action

    @property
    def folder(self) -> str | None:
        """The folder the message was filed in; None when it was refused."""
        return {"inbox": INBOX, "junk": JUNK}.get(self.action)


@dataclass(frozen=True)
class Decision:
    """The MX's answer for one message: the message as it files it, the folder or the refusal, and the trace.

    Attributes:
        message: the message with the MX's own fields on top (Authentication-Results, X-Spam-*)
            and any field that falsely claims to be its Authentication-Results removed.
    """

    message: bytes
    folder: str
    refusal: Reply | None
    findings: tuple[Finding, ...]
    screening: Screening


@dataclass
class _Recording:
    """DNS lookups into the world that remember what they were asked and what they found."""

    lookups: auth.DNSLookups
    asked: list[str] = field(default_factory=list)

    def txt(self, name: str) -> list[str]:
        try:
            found = self.lookups.txt(name)
        except auth.DNSTemporaryError:
            self.asked.append(f"TXT {name} → SERVFAIL")
            raise
        self.asked.append(f"TXT {name} → " + ("; ".join(f'"{_shortened(t)}"' for t in found) or "no record"))
        return found

    def a(self, name: str) -> list[str]:
        try:
            found = self.lookups.a(name)
        except auth.DNSTemporaryError:
            self.asked.append(f"A {name} → SERVFAIL")
            raise
        self.asked.append(f"A {name} → " + (", ".join(found) or "no record"))
        return found

    def mx(self, name: str) -> list[tuple[int, str]]:
        try:
            found = self.lookups.mx(name)
        except auth.DNSTemporaryError:
            self.asked.append(f"MX {name} → SERVFAIL")
            raise
        self.asked.append(f"MX {name} → " + (", ".join(f"{p} {h}" for p, h in found) or "no record"))
        return found

    def as_lookups(self) -> auth.DNSLookups:
        return auth.DNSLookups(txt=self.txt, a=self.a, mx=self.mx)

    def told(self) -> str:
        """What DNS said, as a sentence for an explanation."""
        return " DNS answered: " + "; ".join(self.asked) + "." if self.asked else ""


def _shortened(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _pct_draw(message_id: str) -> int:
    """The receiver's 0-99 draw for DMARC pct= sampling (RFC 7489 §6.6.4), taken from the Message-ID.

    A hash rather than the world's random stream: the same message gets the same draw in every
    run, and switching the checks on does not shift the draws that link loss and faults make.
    """
    return int.from_bytes(hashlib.sha256(message_id.encode("utf-8")).digest()[:4], "big") % 100


@dataclass(eq=False)
class InboundChecks:
    """What an MX checks on port 25: SPF, DKIM and DMARC when `sender_auth`, the spam filter when `thresholds`.

    Attributes:
        authserv_id: the name written into Authentication-Results, the MX's host name (RFC 8601 §2.5).
        dns_db: the world's DNS data the lookups read.
        sender_auth: check SPF, DKIM and DMARC, write Authentication-Results and apply DMARC policy.
        thresholds: the spam filter's junk and reject scores; None with the filter off.
        unchecked: client networks whose mail is taken without checks: the loopback network, as
            OpenDKIM's InternalHosts, OpenDMARC's IgnoreHosts and policyd-spf's skip_addresses
            have it by default. Only `smtpsim serve`'s real clients connect from there.
    """

    authserv_id: str
    dns_db: dns.DNSDatabase
    sender_auth: bool = True
    thresholds: spam.Thresholds | None = None
    unchecked: tuple[str, ...] = ("127.0.0.0/8",)

    def screen(
        self, message: bytes, *, ip: str, mail_from: str, helo: str, message_id: str, recipients: tuple[str, ...]
    ) -> Decision:
        """Check one message as it completes DATA on port 25, and decide where it goes."""
        host = self.authserv_id
        if _in_networks(ip, self.unchecked):
            skipped = Finding(
                "auth-results",
                f"{host} does not check mail from {ip}, a local client",
                f"{ip} is on this host's own loopback network, where its filters trust every client, as their "
                "default settings do: mail from there is delivered without SPF, DKIM, DMARC or spam checks.",
                "RFC 8601 §5",
            )
            screening = Screening(message_id, recipients, "", "", "", "", None, "inbox")
            return Decision(message, INBOX, None, (skipped,), screening)
        findings: list[Finding] = []
        results_field = spam_fields = b""
        results: spam.AuthResults | None = None
        spf_result: auth.SPFResult | None = None
        dkim_results: tuple[auth.DKIMResult, ...] = ()
        dmarc_result: auth.DMARCResult | None = None
        if self.sender_auth:
            spf_result, dkim_results, dmarc_result = results = self._authenticate(
                message, ip, mail_from, helo, message_id, findings
            )
            results_field = auth.authentication_results(host, spf_result, dkim_results, dmarc_result)
        checked = len(findings)
        verdict: spam.SpamVerdict | None = None
        refusal: Reply | None = None
        if dmarc_result is not None and dmarc_result.disposition == "reject":
            refusal = dmarc_reject_reply(dmarc_result)
        elif self.thresholds is not None:
            verdict = spam.assess(message, results, self.thresholds)
            findings.append(_spam_finding(host, verdict))
            spam_fields = spam.x_spam_headers(verdict)
            if verdict.decision == "reject":
                refusal = spam.reject_reply(verdict)
        junk = (verdict is not None and verdict.decision == "junk") or (
            dmarc_result is not None and dmarc_result.disposition == "quarantine"
        )
        action: Action = "reject" if refusal is not None else "junk" if junk else "inbox"
        if refusal is not None:
            findings.append(
                Finding("refuse", f"{host} refuses the message: {refusal.first_line()}", refusal.explain, refusal.rfc)
            )
        elif self.sender_auth:  # a refused message is not kept, so it gets no Authentication-Results
            findings.insert(checked, _results_finding(host, results_field))
        screening = Screening(
            message_id=message_id,
            recipients=recipients,
            spf=spf_result.result if spf_result is not None else "",
            dkim=dkim_results[0].result if dkim_results else "",
            dmarc=dmarc_result.result if dmarc_result is not None else "",
            spam=verdict.decision if verdict is not None else "",
            score=verdict.score if verdict is not None else None,
            action=action,
        )
        message, forged = without_forged_results(message, host) if self.sender_auth else (message, 0)
        if forged:
            findings.insert(0, _forged_finding(host, forged))
        message, stale = without_spam_fields(message) if self.thresholds is not None else (message, 0)
        if stale:
            findings.insert(0, _stale_spam_finding(host, stale))
        return Decision(
            spam_fields + results_field + message, JUNK if junk else INBOX, refusal, tuple(findings), screening
        )

    def _authenticate(
        self, message: bytes, ip: str, mail_from: str, helo: str, message_id: str, findings: list[Finding]
    ) -> tuple[auth.SPFResult, tuple[auth.DKIMResult, ...], auth.DMARCResult]:
        """SPF, then DKIM, then DMARC on both, in the order a receiver runs them; each adds its trace event."""
        host = self.authserv_id
        lookups = auth.dns_lookups(self.dns_db)
        spf_dns, dkim_dns, dmarc_dns = _Recording(lookups), _Recording(lookups), _Recording(lookups)
        spf_result = auth.check_spf(ip, mail_from, helo, spf_dns.as_lookups())
        findings.append(_spf_finding(host, spf_result, mail_from, spf_dns.told()))
        dkim_results = tuple(auth.verify_all(message, dkim_dns.txt))
        findings += [_dkim_finding(host, r, dkim_dns.told()) for r in dkim_results]
        dmarc_result = auth.check_dmarc(message, spf_result, dkim_results, dmarc_dns.txt, sample=_pct_draw(message_id))
        findings.append(_dmarc_finding(host, dmarc_result, spf_result, dkim_results, dmarc_dns.told()))
        return spf_result, dkim_results, dmarc_result


def _in_networks(ip: str, networks: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network) for network in networks)


def without_forged_results(message: bytes, authserv_id: str) -> tuple[bytes, int]:
    """The message without Authentication-Results fields that name this MX as their author, and how many there were.

    Only the MX itself writes results under its name; one that arrives from outside is forged
    (or left over from a loop) and would mislead every filter and reader after it (RFC 8601 §5).
    """
    wanted = authserv_id.lower().encode("ascii", "replace")

    def claims_to_be_ours(name: bytes, value: bytes) -> bool:
        author = b" ".join(value.split()).split(b";", 1)[0].split(b" ", 1)[0].lower()
        return name == b"authentication-results" and author == wanted

    return _without(message, claims_to_be_ours)


def without_spam_fields(message: bytes) -> tuple[bytes, int]:
    """The message without X-Spam-* fields, and how many there were: only this MX's filter may write them here.

    SpamAssassin removes them too before it adds its own, so that a sender cannot arrive
    already marked "X-Spam-Status: No".
    """
    return _without(message, lambda name, value: name.startswith(b"x-spam-"))


def _without(message: bytes, drop: Callable[[bytes, bytes], bool]) -> tuple[bytes, int]:
    """The message without the header fields `drop(lower-case name, value)` picks, and how many it picked."""
    head, rest = split_header_section(message)
    fields: list[list[bytes]] = []
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1].append(line)  # a continuation line belongs to the field above (RFC 5322 §2.2.3)
        else:
            fields.append([line])
    kept: list[bytes] = []
    for field_lines in fields:
        whole = b"".join(field_lines)
        name, _, value = whole.partition(b":")
        if not drop(name.strip().lower(), value):
            kept.append(whole)
    removed = len(fields) - len(kept)
    return (b"".join(kept) + rest, removed) if removed else (message, 0)


def dmarc_reject_reply(result: auth.DMARCResult) -> Reply:
    """The reply OpenDMARC has Postfix send at the end of DATA for a message its domain's policy rejects."""
    return Reply(
        int(Code.S550_MAILBOX_UNAVAILABLE),
        "5.7.1",
        (f"rejected by DMARC policy for {result.header_from}",),
        f"{result.header_from} publishes p=reject: mail that fails DMARC must be refused. The MX refuses it at the "
        "end of DATA, so the sending server keeps the responsibility and returns the message to its envelope "
        "sender with a bounce; nothing is silently lost.",
        DMARC_REJECT_RFC,
    )


# --- what each check says in the trace -------------------------------------------------------------

# The same results give the same texts: made once and shared, a busy world's trace holds one copy.
_SHARED = 512

_SPF_AFTERWARDS = (
    " A failing SPF check alone does not refuse the message here: DMARC decides, from SPF and DKIM together."
)


@lru_cache(maxsize=_SHARED)
def _spf_finding(host: str, result: auth.SPFResult, mail_from: str, told: str) -> Finding:
    sender = mail_from.strip("<>")
    if result.identity == "helo":
        whose = f"the HELO name {result.domain} (the envelope sender is null, as in a bounce)"
    else:
        whose = f"{result.domain}, the domain of the envelope sender {sender}"
    return Finding(
        "spf",
        f"{host}: SPF {result.result} for {result.domain} (client {result.ip})",
        "SPF: a domain publishes in DNS which servers may send its mail. The MX compared the connecting address "
        f"{result.ip} with the SPF policy of {whose}.{told} {result.explain}"
        + ("" if result.result in ("pass", "none", "neutral") else _SPF_AFTERWARDS),
        "RFC 7208 §2.6, §4",
    )


@lru_cache(maxsize=_SHARED)
def _dkim_finding(host: str, result: auth.DKIMResult, told: str) -> Finding:
    if result.result == "none":
        return Finding(
            "dkim",
            f"{host}: DKIM none (the message is not signed)",
            "DKIM: a signing server adds a DKIM-Signature header field with a hash of the body and a signature "
            "over chosen header fields. This message has none, so no domain vouches for its content.",
            result.rfc,
        )
    summary = f"{host}: DKIM {result.result} for {result.domain} (selector {result.selector})"
    if result.reason:
        summary += f": {result.reason}"
    return Finding(
        "dkim",
        summary,
        f"DKIM: the signature names its domain (d={result.domain}) and key (s={result.selector}). The MX fetched "
        "the public key from DNS, recomputed the hash of the body and compared it with bh=, then checked the "
        f"signature over the signed header fields.{told} {result.explain}",
        result.rfc,
    )


@lru_cache(maxsize=_SHARED)
def _dmarc_finding(
    host: str,
    result: auth.DMARCResult,
    spf_result: auth.SPFResult,
    dkim_results: tuple[auth.DKIMResult, ...],
    told: str,
) -> Finding:
    what = {
        "reject": "the MX refuses the message with 550 5.7.1.",
        "quarantine": "the MX delivers it into the recipient's Junk folder.",
        "none": "the message is delivered as usual: the policy asks for nothing more.",
    }[result.disposition]
    summary = f"{host}: DMARC {result.result} for {result.header_from or 'the From domain'}"
    if result.result in ("pass", "fail"):
        summary += f" (p={result.policy}, action {result.disposition})"
    authenticated = [f"SPF {spf_result.result} for {spf_result.domain}"] + [
        f"DKIM {r.result} for {r.domain}" for r in dkim_results if r.domain
    ]
    explain = (
        "DMARC ties SPF and DKIM to the address the reader sees: the domain of the From header. It passes when "
        "SPF or DKIM passed for that domain or one in the same organization (alignment); it fails otherwise, "
        f"and the From domain's policy says what to do then. Found: {', '.join(authenticated)}."
        f"{told} {result.explain}"
    )
    if result.result == "fail":
        explain += f" So {what}"
    return Finding("dmarc", summary, explain, result.rfc)


@lru_cache(maxsize=_SHARED)
def _forged_finding(host: str, count: int) -> Finding:
    return Finding(
        "auth-results",
        f"{host} removes {count} Authentication-Results field(s) that claim to be its own",
        f"The message arrived with Authentication-Results naming {host}, which only {host} itself may write: "
        "a sender who forges one hopes that a mail program will trust it and show the message as verified. "
        "The MX deletes such fields before adding its own.",
        "RFC 8601 §5",
    )


def _stale_spam_finding(host: str, count: int) -> Finding:
    return Finding(
        "spam",
        f"{host} removes {count} X-Spam field(s) the message arrived with",
        "X-Spam fields record this MX's own spam verdict; ones that arrive with a message were written by "
        "someone else, perhaps a spammer marking the message 'X-Spam-Status: No'. The filter removes them "
        "before it adds its own, as SpamAssassin does.",
        "RFC 5321 §7.1",
    )


@lru_cache(maxsize=_SHARED)
def _results_finding(host: str, header: bytes) -> Finding:
    line = b" ".join(part.strip() for part in header.split(b"\r\n") if part).decode("utf-8", "replace")
    return Finding(
        "auth-results",
        f"{host} adds {line}",
        f"The MX records the three results at the top of the message in an Authentication-Results header field "
        f"named after itself ({host}): the recipient's mail program and filters read this instead of checking "
        "again. It means something only when written by a server the reader trusts, since anyone can write "
        "such a field into a message.",
        "RFC 8601 §2, §5",
    )


@lru_cache(maxsize=_SHARED)
def _spam_finding(host: str, verdict: spam.SpamVerdict) -> Finding:
    rfc = {
        "accept": "RFC 5321 §7.1",
        "junk": "RFC 5321 §7.1; RFC 6154 §2 (\\Junk)",
        "reject": "RFC 5321 §7.1; RFC 3463 §3.8",
    }
    return Finding(
        "spam",
        f"{host}: {verdict.summary}",
        "The spam filter adds up points: each rule that matched (authentication results, header fields, content) "
        "and a word model trained on example messages. It records the score in X-Spam header fields. "
        + verdict.explain,
        rfc[verdict.decision],
    )


# --- one server's share --------------------------------------------------------------------------


@dataclass
class MailAuth:
    """A mail server's signing, checks and lists, set up from its scenario; everything off by default.

    Attributes:
        signer: DKIM signing of submitted mail; None signs nothing.
        inbound: the checks on port 25; None checks nothing.
        lists: the mailing lists it hosts, by lower-cased list address.
        screenings: what the checks concluded, one entry per message, in order.
    """

    signer: DKIMSigner | None = None
    inbound: InboundChecks | None = None
    lists: dict[str, MailingList] = field(default_factory=dict)
    screenings: list[Screening] = field(default_factory=list)
