"""The receiving MX's spam filter: an explainable score from named rules and a small naive Bayes model.

It works the way SpamAssassin does, the filter whose headers learners meet in real mail: every
named rule that matches a message adds its points, a naive Bayes model of the message's words
adds a bounded number of points more, and the total decides between accepting the message,
filing it in the junk folder, and refusing it at the end of DATA with 550 5.7.1. Every point is
accounted for, so a learner can see why a message was judged as it was: each rule hit carries
a one-line description and an explanation, and the model names the words that pushed it most.
That is also how the classic false positive shows itself: a genuine newsletter sent from a
server its domain's SPF record forgot to list fails SPF, and those points tip it into junk.

The rules read three things: the SPF, DKIM and DMARC results of `simulator.mail.authentication`,
the header fields, and the text of the message (Subject and the decoded text parts). The model
is trained once per process on example messages shipped with the package (`spam_corpus.json`),
never on mail that passes through a simulation; `PRIVACY_NOTE` says why that matters.

Everything here is pure and deterministic: the same message and results give the same verdict,
and no message, however malformed, makes `assess` raise.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email import message_from_bytes
from email.errors import MessageError
from email.header import decode_header, make_header
from email.policy import compat32
from email.utils import getaddresses
from functools import cache, cached_property
from importlib import resources
from typing import Literal, TypeAlias

from simulator.mail.authentication import DKIMResult, DMARCResult, SPFResult, Verdict, organizational_domain
from simulator.mail.headers import MAX_LINE, header_values, split_header_section
from simulator.protocol.smtp.replies import Code, Reply
from simulator.protocol.values import Value

Decision: TypeAlias = Literal["accept", "junk", "reject"]
Area: TypeAlias = Literal["authentication", "header", "content"]

AuthResults: TypeAlias = tuple[SPFResult | None, DKIMResult | Sequence[DKIMResult] | None, DMARCResult | None]
"""SPF, DKIM (one result or one per signature) and DMARC results; None for a check that was not run."""

JUNK_THRESHOLD = 5.0
"""From this score on a message goes to the junk folder: SpamAssassin's default `required_score`."""

REJECT_THRESHOLD = 15.0
"""From this score on a message is refused with 550 5.7.1, as many sites configure their MTA."""

PRIVACY_NOTE = (
    "A content filter reads every word of every message it scores. This one learned from a few dozen "
    "example messages shipped with the simulator and never learns from the mail it filters. A mail "
    "provider's machine-learning filter is trained on its users' own mail and on their 'spam' and "
    "'not spam' clicks: that makes it far better at catching new spam, and it means the content of "
    "private mail is processed, and kept in some form, to build a model. Rules over authentication "
    "results need no content at all, but catch less."
)
"""The trade-off between an AI-based content filter and privacy, for the lesson on spam filtering."""

# --- thresholds and results --------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds(Value):
    """The scores at which a message is junked and rejected; `math.inf` turns either off.

    Raises:
        ValueError: a threshold is NaN, or the reject threshold is below the junk threshold.
    """

    junk: float = JUNK_THRESHOLD
    reject: float = REJECT_THRESHOLD

    def __post_init__(self) -> None:
        if math.isnan(self.junk) or math.isnan(self.reject):
            raise ValueError("spam thresholds must be numbers, not NaN")
        if self.reject < self.junk:
            raise ValueError(f"the reject threshold ({self.reject}) is below the junk threshold ({self.junk})")

    def decide(self, score: float) -> Decision:
        """What the MX does with a message of this score: reject, junk, or accept."""
        if score >= self.reject:
            return "reject"
        if score >= self.junk:
            return "junk"
        return "accept"


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Rule(Value):
    """One named test of the filter, as a learner sees it in a rules table.

    Attributes:
        name: the name in X-Spam-Status, in SpamAssassin's style (SPF_FAIL, MISSING_DATE, ...).
        score: the points the rule adds when it matches.
        area: what it reads: authentication results, header fields, or content.
        description: one line saying what matched.
        explain: why that makes a message more likely to be spam, and when it misleads.
    """

    name: str
    score: float
    area: Area
    description: str
    explain: str


@dataclass(frozen=True)
class RuleHit(Value):
    """A rule that matched one message: its name, its points, and what it found there, for a learner."""

    name: str
    score: float
    description: str
    explain: str


@dataclass(frozen=True)
class SpamVerdict(Value):
    """The filter's judgement of one message, with every point accounted for.

    Attributes:
        score: the total, rounded to one decimal: the rule hits plus `bayes_score`.
        hits: the rules that matched, in the order of `RULES`.
        bayes_score: the content model's points, between `BAYES_MIN_POINTS` and `BAYES_MAX_POINTS`.
        bayes_probability: the model's probability that the message is spam.
        bayes_words: the words that pushed the model most, each with its share of the log-odds
            (positive: towards spam), strongest first.
        decision: accept, junk (deliver to the junk folder) or reject (550 5.7.1 at the end of DATA).
        thresholds: the junk and reject scores the decision was taken with.
    """

    score: float
    hits: tuple[RuleHit, ...]
    bayes_score: float
    bayes_probability: float
    bayes_words: tuple[tuple[str, float], ...]
    decision: Decision
    thresholds: Thresholds = DEFAULT_THRESHOLDS

    @property
    def required(self) -> float:
        """The score from which a message counts as spam (SpamAssassin's `required`)."""
        return self.thresholds.junk

    @property
    def is_spam(self) -> bool:
        """The message was judged spam: junked or rejected."""
        return self.decision != "accept"

    @property
    def bayes_rule(self) -> str:
        """The model's result as SpamAssassin names it: BAYES_00 (surely ham) to BAYES_99 (surely spam)."""
        return bayes_rule_name(self.bayes_probability)

    @property
    def tests(self) -> tuple[str, ...]:
        """The names of the matching rules and the Bayes bucket, sorted, as X-Spam-Status lists them."""
        return tuple(sorted([hit.name for hit in self.hits] + [self.bayes_rule]))

    @property
    def summary(self) -> str:
        """One line for the trace, such as "spam score 6.5 (required 5.0): junk; SPF_FAIL 3.0, ..."."""
        parts = [f"{hit.name} {hit.score:+.1f}" for hit in self.hits] + [f"{self.bayes_rule} {self.bayes_score:+.1f}"]
        return f"spam score {self.score:.1f} (required {self.required:.1f}): {self.decision}; " + ", ".join(parts)

    @property
    def explain(self) -> str:
        """What the filter saw and decided, in sentences, for a learner."""
        lines = [
            _DECISION_TEXT[self.decision].format(
                score=self.score, junk=self.thresholds.junk, reject=self.thresholds.reject
            )
        ]
        lines += [f"{hit.name} ({hit.score:+.1f}): {hit.explain}" for hit in self.hits]
        lines.append(f"{self.bayes_rule} ({self.bayes_score:+.1f}): {self._bayes_text()}")
        return "\n".join(lines)

    def _bayes_text(self) -> str:
        text = f"the word model gives a spam probability of {self.bayes_probability:.0%}"
        if self.bayes_words:
            words = ", ".join(f"'{word}' ({weight:+.2f})" for word, weight in self.bayes_words)
            text += f"; the words that weighed most: {words}"
        return text + "."

    def report(self) -> str:
        """SpamAssassin's "content analysis details" table: points, rule name and description per line."""
        rows = [" pts rule name              description", "---- ---------------------- " + "-" * 50]
        for hit in self.hits:
            rows.append(f"{hit.score:4.1f} {hit.name:<22} {hit.description}")
        rows.append(
            f"{self.bayes_score:4.1f} {self.bayes_rule:<22} Bayes spam probability is {self.bayes_probability:.0%}"
        )
        return "\n".join(rows)


_DECISION_TEXT: dict[Decision, str] = {
    "accept": "Score {score:.1f} is below the junk threshold {junk:.1f}: the message is delivered to the inbox.",
    "junk": "Score {score:.1f} reaches the junk threshold {junk:.1f} (but not {reject:.1f}): the message is "
    "delivered to the junk folder, marked with X-Spam-Flag: YES.",
    "reject": "Score {score:.1f} reaches the reject threshold {reject:.1f}: the MX refuses the message at the end "
    "of DATA with 550 5.7.1, so the sender's server must return it to its sender.",
}

# --- what the rules read -----------------------------------------------------------------


@dataclass(frozen=True)
class _Facts:
    """What the rules and the model read from one message and its authentication results."""

    subject: str
    from_name: str
    from_domain: str
    reply_to_domains: tuple[str, ...]
    to_count: int
    has_date: bool
    has_message_id: bool
    plain: tuple[str, ...]
    markup: tuple[str, ...]
    spf: SPFResult | None
    dkim: tuple[DKIMResult, ...] | None
    dmarc: DMARCResult | None

    @cached_property
    def text(self) -> str:
        """The readable text: Subject, the plain-text parts, and the HTML parts without their markup."""
        return "\n".join((self.subject, *self.plain, *(_strip_markup(part) for part in self.markup)))


# Patterns that cannot backtrack over what they have already scanned: a filter on port 25 must
# not take quadratic time on a body of ten thousand "<" or unclosed "<script" tags.
_OPEN_SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b", re.IGNORECASE)
_CLOSE = {"script": re.compile(r"</script[^>]*>", re.IGNORECASE), "style": re.compile(r"</style[^>]*>", re.IGNORECASE)}
_TAG = re.compile(r"<[^<>]*>")


def _strip_markup(markup: str) -> str:
    """The text of an HTML part: scripts, styles and tags removed, character references resolved.

    An unclosed script or style runs to the end of the part, as a browser would read it.
    """
    kept: list[str] = []
    pos = 0
    while (opened := _OPEN_SCRIPT_OR_STYLE.search(markup, pos)) is not None:
        kept.append(markup[pos : opened.start()])
        closed = _CLOSE[opened.group(1).lower()].search(markup, opened.end())
        if closed is None:
            pos = len(markup)
            break
        pos = closed.end()
    kept.append(markup[pos:])
    return html.unescape(_TAG.sub(" ", " ".join(kept)))


# The parser and decoders below meet whatever arrives on port 25; these are what they raise on it.
_PARSE_ERRORS = (ValueError, LookupError, TypeError, AttributeError, IndexError, RecursionError, MessageError)


def _decoded(value: str) -> str:
    """A header value with its RFC 2047 encoded words decoded; the raw value when they are unreadable."""
    try:
        return str(make_header(decode_header(value)))
    except _PARSE_ERRORS:
        return value


def _addresses(values: Sequence[str]) -> list[tuple[str, str]]:
    """(display name, address) pairs of address fields, names decoded; [] when they cannot be parsed."""
    try:
        pairs = getaddresses(list(values))
    except _PARSE_ERRORS:
        return []
    return [(_decoded(name), address) for name, address in pairs if name or address]


def _domain(address: str) -> str:
    """The domain of an address, lower case, "" when it has none."""
    _, at, domain = address.rpartition("@")
    return domain.strip().strip("<>.").lower() if at else ""


def _decode_payload(payload: bytes, charset: str | None) -> str:
    try:
        return payload.decode(charset or "utf-8", "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


def _text_parts(message: bytes) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The decoded text/plain and text/html parts of a message (attachments left out).

    The `email` package undoes base64 and quoted-printable and finds the parts of a multipart
    message. A message it cannot take apart counts as one plain-text body.
    """
    plain: list[str] = []
    markup: list[str] = []
    try:
        parsed = message_from_bytes(message, policy=compat32)
        for part in parsed.walk():
            if part.is_multipart() or part.get_content_maintype() != "text":
                continue
            if part.get_content_disposition() == "attachment":
                continue
            subtype = part.get_content_subtype()
            if subtype not in ("plain", "html"):
                continue
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes):
                continue
            text = _decode_payload(payload, part.get_content_charset())
            (markup if subtype == "html" else plain).append(text)
    except _PARSE_ERRORS:
        _, body = split_header_section(message)
        return (body.decode("utf-8", "replace"),), ()
    return tuple(plain), tuple(markup)


def _normalize_auth(
    auth: Verdict | AuthResults | None,
) -> tuple[SPFResult | None, tuple[DKIMResult, ...] | None, DMARCResult | None]:
    if auth is None:
        return None, None, None
    if isinstance(auth, Verdict):
        return auth.spf, auth.dkim, auth.dmarc
    spf_result, dkim_results, dmarc_result = auth
    if dkim_results is None:
        return spf_result, None, dmarc_result
    dkim = (dkim_results,) if isinstance(dkim_results, DKIMResult) else tuple(dkim_results)
    # No results at all means DKIM was not checked: verification reports "none" for an unsigned message.
    return spf_result, dkim or None, dmarc_result


def _facts(message: bytes, auth: Verdict | AuthResults | None) -> _Facts:
    subjects = header_values(message, "Subject")
    senders = _addresses(header_values(message, "From"))
    from_name, from_address = senders[0] if senders else ("", "")
    reply_to = tuple(_domain(address) for _, address in _addresses(header_values(message, "Reply-To")))
    plain, markup = _text_parts(message)
    spf_result, dkim_results, dmarc_result = _normalize_auth(auth)
    return _Facts(
        subject=_decoded(subjects[0]) if subjects else "",
        from_name=from_name,
        from_domain=_domain(from_address),
        reply_to_domains=tuple(domain for domain in reply_to if domain),
        to_count=len([address for _, address in _addresses(header_values(message, "To")) if address]),
        has_date=bool(header_values(message, "Date")),
        has_message_id=bool(header_values(message, "Message-ID")),
        plain=plain,
        markup=markup,
        spf=spf_result,
        dkim=dkim_results,
        dmarc=dmarc_result,
    )


# --- the rules ---------------------------------------------------------------------------

MAX_TO_RECIPIENTS = 10
"""More addresses than this in To fire TO_TOO_MANY."""

EXCLAMATION_LIMIT = 5
"""This many exclamation marks in Subject and text fire MANY_EXCLAMATIONS."""

SPAM_PHRASE_LIMIT = 2
"""This many different spam phrases fire SPAM_PHRASES."""

URL_SHORTENERS = (
    "bit.ly", "buff.ly", "cutt.ly", "goo.gl", "is.gd", "ow.ly", "rebrand.ly", "shorturl.at", "t.co",
    "tiny.cc", "tinyurl.com",
)  # fmt: skip
"""Link shorteners, whose links hide where they lead."""

SPAM_PHRASES = (
    "100% free", "act now", "bank details", "buy now", "claim your prize", "click here", "confirm your password",
    "dear beneficiary", "double your money", "earn money", "guaranteed income", "limited time", "lottery",
    "no credit check", "no risk", "once in a lifetime", "risk free", "verify your account", "winner",
    "wire transfer", "work from home", "you have won",
)  # fmt: skip
"""Phrases typical of spam and phishing, matched as whole words in any case."""

_SHORTENER = re.compile(
    r"(?<![\w.-])(?:https?://)?(?:www\.)?(" + "|".join(re.escape(host) for host in URL_SHORTENERS) + r")(?=[/?#])",
    re.IGNORECASE,
)
_PHRASE = re.compile(r"\b(" + "|".join(re.escape(p) for p in SPAM_PHRASES) + r")(?!\w)", re.IGNORECASE)
_DOMAIN_LIKE = re.compile(r"(?<![\w.-])[a-z0-9-]+(?:\.[a-z0-9-]+)+(?![\w-])", re.IGNORECASE)
_TOP_LEVEL = re.compile(r"[a-z]{2,}", re.IGNORECASE)
_FREE = re.compile(r"\bFREE\b")
_WHITESPACE = re.compile(r"\s+")


def _spf(result: str) -> Callable[[_Facts], str | None]:
    def check(facts: _Facts) -> str | None:
        return facts.spf.explain if facts.spf is not None and facts.spf.result == result else None

    return check


def _dkim_invalid(facts: _Facts) -> str | None:
    if not facts.dkim or any(r.result == "pass" for r in facts.dkim):
        return None
    bad = [r for r in facts.dkim if r.result in ("fail", "permerror")]
    return bad[0].explain if bad else None


def _dkim_none(facts: _Facts) -> str | None:
    if facts.dkim is None or any(r.result != "none" for r in facts.dkim):
        return None
    return "The message carries no DKIM signature."


def _dmarc(policy: str) -> Callable[[_Facts], str | None]:
    def check(facts: _Facts) -> str | None:
        result = facts.dmarc
        return result.explain if result is not None and result.result == "fail" and result.policy == policy else None

    return check


def _missing_date(facts: _Facts) -> str | None:
    return None if facts.has_date else "The message has no Date field."


def _missing_mid(facts: _Facts) -> str | None:
    return None if facts.has_message_id else "The message has no Message-ID field."


def _fromname_spoofed(facts: _Facts) -> str | None:
    if not facts.from_domain:
        return None
    own = organizational_domain(facts.from_domain)
    for shown in _DOMAIN_LIKE.findall(facts.from_name):
        if _TOP_LEVEL.fullmatch(shown.rpartition(".")[2]) and organizational_domain(shown) != own:
            name, address = facts.from_name, facts.from_domain
            return f"The display name {name!r} shows {shown.lower()}, but the address is at {address}."
    return None


def _subj_all_caps(facts: _Facts) -> str | None:
    letters = [c for c in facts.subject if c.isalpha()]
    words = [w for w in facts.subject.split() if any(c.isalpha() for c in w)]
    if len(letters) >= 6 and len(words) >= 2 and all(c.isupper() for c in letters):
        return f"The subject {facts.subject!r} is written in capitals only."
    return None


def _subj_free(facts: _Facts) -> str | None:
    return f"The subject {facts.subject!r} shouts FREE." if _FREE.search(facts.subject) else None


def _subj_dollars(facts: _Facts) -> str | None:
    return f"The subject {facts.subject!r} contains $$$." if "$$$" in facts.subject else None


def _to_too_many(facts: _Facts) -> str | None:
    if facts.to_count > MAX_TO_RECIPIENTS:
        return f"The To field lists {facts.to_count} addresses, visible to every recipient."
    return None


def _replyto_diff(facts: _Facts) -> str | None:
    if not facts.from_domain:
        return None
    own = organizational_domain(facts.from_domain)
    for domain in facts.reply_to_domains:
        if organizational_domain(domain) != own:
            return f"The message is from {facts.from_domain}, but replies go to {domain}."
    return None


def _many_exclamations(facts: _Facts) -> str | None:
    count = facts.text.count("!")
    return f"Subject and text hold {count} exclamation marks." if count >= EXCLAMATION_LIMIT else None


def _uri_shortener(facts: _Facts) -> str | None:
    hosts = {m.lower() for part in (facts.subject, *facts.plain, *facts.markup) for m in _SHORTENER.findall(part)}
    return f"Links through {', '.join(sorted(hosts))}." if hosts else None


def _html_only(facts: _Facts) -> str | None:
    if facts.markup and not facts.plain:
        return "The message has an HTML part and no plain-text alternative."
    return None


def _spam_phrases(facts: _Facts) -> str | None:
    found = {m.lower() for m in _PHRASE.findall(_WHITESPACE.sub(" ", facts.text))}
    if len(found) >= SPAM_PHRASE_LIMIT:
        return "Phrases found: " + ", ".join(f"'{p}'" for p in sorted(found)) + "."
    return None


RULES: tuple[Rule, ...] = (
    Rule("SPF_FAIL", 3.0, "authentication", "SPF: the sending server is not permitted by the sender's SPF record",
         "Forged mail fails this way, and so does genuine mail sent from a new server that its domain forgot to "
         "add to its SPF record: a common reason for good mail landing in junk."),
    Rule("SPF_SOFTFAIL", 1.5, "authentication", "SPF: the sending server is probably not permitted (softfail)",
         "The domain's SPF record ends in ~all: unlisted servers are suspicious rather than forbidden, which "
         "domains often publish while they are still listing all their servers."),
    Rule("SPF_NONE", 0.5, "authentication", "SPF: the sender's domain publishes no SPF record",
         "Without an SPF record nobody can tell which servers may send for the domain. It costs little, because "
         "many small domains publish none."),
    Rule("DKIM_INVALID", 2.0, "authentication", "DKIM: a signature is present but does not verify",
         "The message was signed, but the signature no longer matches: it was changed on the way (a mailing "
         "list's footer, a rewritten header) or the signature was forged, so the signer cannot vouch for it."),
    Rule("DKIM_NONE", 0.5, "authentication", "DKIM: the message is not signed",
         "An unsigned message gets no credit for a verified signer. The score is small because plenty of "
         "legitimate mail is still unsigned."),
    Rule("DMARC_REJECT", 3.0, "authentication", "DMARC: fails, and the From domain's policy is reject",
         "The From domain asks receivers to refuse mail that fails DMARC (p=reject), so this message is very "
         "likely forged."),
    Rule("DMARC_QUAR", 2.5, "authentication", "DMARC: fails, and the From domain's policy is quarantine",
         "The From domain asks receivers to treat mail that fails DMARC as suspicious (p=quarantine), which "
         "means the junk folder."),
    Rule("DMARC_NONE", 1.0, "authentication", "DMARC: fails, and the From domain's policy is none",
         "The From domain asks receivers only to report mail that fails DMARC, not to act on it (p=none), so "
         "the failure counts for a little."),
    Rule("MISSING_DATE", 1.0, "header", "Missing Date: header",
         "Every message must have a Date field (RFC 5322 §3.6), and mail programs and submission servers add "
         "one (RFC 6409 §8.2); mail without it usually comes from a bulk-mailing script."),
    Rule("MISSING_MID", 0.5, "header", "Missing Message-ID: header",
         "Messages should carry a Message-ID (RFC 5322 §3.6.4), which submission servers add; its absence "
         "suggests mail that never went through a normal mail program."),
    Rule("FROMNAME_SPOOFED_DOMAIN", 2.0, "header", "From: display name shows another domain than the address",
         "Mail programs often show only the display name, so a name such as 'bank.example' on an address "
         "elsewhere makes a message look as if it came from a domain it did not come from. DMARC protects the "
         "address, not the name."),
    Rule("SUBJ_ALL_CAPS", 1.0, "header", "Subject is all capital letters",
         "Shouting in the subject is a way to be noticed in a full inbox, which legitimate senders rarely need."),
    Rule("SUBJ_FREE", 1.0, "header", "Subject contains FREE in capitals",
         "Offers of something for nothing are the oldest bait in spam."),
    Rule("SUBJ_DOLLARS", 1.0, "header", "Subject contains $$$",
         "Dollar signs promise easy money, a staple of spam."),
    Rule("TO_TOO_MANY", 1.0, "header", f"To: lists more than {MAX_TO_RECIPIENTS} recipients",
         "Mail to many people normally goes to a list address or to Bcc; a long To field that every recipient "
         "sees is typical of a spammer's harvested addresses."),
    Rule("REPLYTO_DIFF_DOMAIN", 1.0, "header", "Reply-To: domain differs from the From: domain",
         "Replies would go to another organisation than the one the message claims to come from: a phisher "
         "writes from a convincing address and collects the answers elsewhere. Newsletters and helpdesks do "
         "this legitimately too, so the score is small."),
    Rule("MANY_EXCLAMATIONS", 1.0, "content", f"{EXCLAMATION_LIMIT} or more exclamation marks",
         "Excitement in every sentence is a mark of advertising and scams, rarely of ordinary mail."),
    Rule("URI_SHORTENER", 1.0, "content", "Links through a URL shortener",
         "A shortener hides where a link really leads, so neither the reader nor the filter can check the "
         "destination. Marketing mail uses them too."),
    Rule("MIME_HTML_ONLY", 1.0, "content", "Message has an HTML part and no plain-text part",
         "Mail programs send HTML with a plain-text alternative (multipart/alternative); bulk mail is often "
         "HTML only. Some legitimate newsletters are, too."),
    Rule("SPAM_PHRASES", 1.5, "content", f"{SPAM_PHRASE_LIMIT} or more phrases typical of spam",
         "Phrases such as 'click here', 'verify your account' or 'you have won' are the vocabulary of spam and "
         "phishing: urgency, prizes, and requests for credentials."),
)  # fmt: skip
"""Every rule, in the order the filter tries them and lists its hits."""

_CHECKS: dict[str, Callable[[_Facts], str | None]] = {
    "SPF_FAIL": _spf("fail"),
    "SPF_SOFTFAIL": _spf("softfail"),
    "SPF_NONE": _spf("none"),
    "DKIM_INVALID": _dkim_invalid,
    "DKIM_NONE": _dkim_none,
    "DMARC_REJECT": _dmarc("reject"),
    "DMARC_QUAR": _dmarc("quarantine"),
    "DMARC_NONE": _dmarc("none"),
    "MISSING_DATE": _missing_date,
    "MISSING_MID": _missing_mid,
    "FROMNAME_SPOOFED_DOMAIN": _fromname_spoofed,
    "SUBJ_ALL_CAPS": _subj_all_caps,
    "SUBJ_FREE": _subj_free,
    "SUBJ_DOLLARS": _subj_dollars,
    "TO_TOO_MANY": _to_too_many,
    "REPLYTO_DIFF_DOMAIN": _replyto_diff,
    "MANY_EXCLAMATIONS": _many_exclamations,
    "URI_SHORTENER": _uri_shortener,
    "MIME_HTML_ONLY": _html_only,
    "SPAM_PHRASES": _spam_phrases,
}


def _hits(facts: _Facts) -> tuple[RuleHit, ...]:
    hits: list[RuleHit] = []
    for rule in RULES:
        found = _CHECKS[rule.name](facts)
        if found is not None:
            hits.append(RuleHit(rule.name, rule.score, rule.description, f"{found} {rule.explain}"))
    return tuple(hits)


# --- the naive Bayes content model -------------------------------------------------------

BAYES_MAX_POINTS = 3.5
"""The most the model adds for a message it is sure is spam (SpamAssassin's BAYES_99 gives 3.5)."""

BAYES_MIN_POINTS = -2.0
"""The most the model takes off for a message it is sure is ham (SpamAssassin's BAYES_00 gives -1.9)."""

BAYES_SCALE = 10.0
"""The log-odds at which the points reach tanh(1), about three quarters, of their bound."""

BAYES_TOP_WORDS = 6
"""How many of the most telling words a verdict names."""

MAX_TOKENS = 5000
"""Only the first this many words of a message are read, so that a huge message costs no more."""

STOP_WORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "been", "by", "for", "from", "has", "have", "he", "her", "his", "i",
    "if", "in", "is", "it", "its", "of", "on", "or", "she", "so", "than", "that", "the", "their", "them", "then",
    "there", "these", "they", "this", "those", "to", "was", "we", "were", "which", "who", "will", "with",
))  # fmt: skip
"""Function words the model skips: they occur in every message and, counted, would drown the telling words."""

_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|\$+")
_MAX_TOKEN_LENGTH = 30
_CORPUS = "spam_corpus.json"


def tokens(text: str) -> list[str]:
    """The words of a text as the model counts them: lower case, letters and digits, runs of $ kept, no stop words."""
    found = (t for t in _TOKEN.findall(text.lower()) if len(t) <= _MAX_TOKEN_LENGTH and t not in STOP_WORDS)
    return [t for _, t in zip(range(MAX_TOKENS), found, strict=False)]


@dataclass(frozen=True)
class NaiveBayes(Value):
    """A multinomial naive Bayes model of words in spam and ham, with Laplace (add-one) smoothing.

    P(word | class) = (count of the word in the class + 1) / (words in the class + vocabulary size).
    A message's log-odds of being spam is log P(spam) - log P(ham) plus, for each occurrence of
    a known word, log P(word | spam) - log P(word | ham); words never seen in training count
    for nothing. Working in log-probabilities keeps long messages from underflowing to zero.
    """

    log_prior_odds: float
    spam_log_likelihood: Mapping[str, float] = field(repr=False)
    ham_log_likelihood: Mapping[str, float] = field(repr=False)
    spam_messages: int
    ham_messages: int

    @property
    def vocabulary(self) -> int:
        """How many different words the model knows."""
        return len(self.spam_log_likelihood)

    def weights(self, words: Sequence[str]) -> dict[str, float]:
        """Each known word's share of the log-odds: occurrences x (log P(w|spam) - log P(w|ham))."""
        counts = Counter(w for w in words if w in self.spam_log_likelihood)
        return {w: n * (self.spam_log_likelihood[w] - self.ham_log_likelihood[w]) for w, n in counts.items()}

    def log_odds(self, words: Sequence[str]) -> float:
        """log P(spam | words) - log P(ham | words): above 0 the model leans to spam."""
        return self.log_prior_odds + math.fsum(self.weights(words).values())


def train(ham: Iterable[str], spam: Iterable[str]) -> NaiveBayes:
    """A model trained on example texts of each class (each text is one message's Subject and body).

    Raises:
        ValueError: a class has no examples, so its prior and likelihoods are undefined.
    """
    ham_docs = [tokens(text) for text in ham]
    spam_docs = [tokens(text) for text in spam]
    if not ham_docs or not spam_docs:
        raise ValueError("naive Bayes needs at least one example of ham and one of spam")
    ham_counts = Counter(w for doc in ham_docs for w in doc)
    spam_counts = Counter(w for doc in spam_docs for w in doc)
    vocabulary = sorted(set(ham_counts) | set(spam_counts))
    ham_total = sum(ham_counts.values()) + len(vocabulary)
    spam_total = sum(spam_counts.values()) + len(vocabulary)
    return NaiveBayes(
        log_prior_odds=math.log(len(spam_docs)) - math.log(len(ham_docs)),
        spam_log_likelihood={w: math.log((spam_counts[w] + 1) / spam_total) for w in vocabulary},
        ham_log_likelihood={w: math.log((ham_counts[w] + 1) / ham_total) for w in vocabulary},
        spam_messages=len(spam_docs),
        ham_messages=len(ham_docs),
    )


@dataclass(frozen=True)
class CorpusExample(Value):
    """One example message of the training corpus: a Subject and a plain-text body."""

    subject: str
    body: str

    @property
    def text(self) -> str:
        """What the model reads of it: the Subject, then the body."""
        return f"{self.subject}\n{self.body}"


def _examples(data: object, label: str) -> tuple[CorpusExample, ...]:
    items = data.get(label) if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError(f"{_CORPUS} has no list of {label} examples")
    examples = []
    for item in items:
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("subject"), str)
            or not isinstance(item.get("body"), str)
        ):
            raise ValueError(f"{_CORPUS}: each {label} example needs a subject and a body")
        examples.append(CorpusExample(item["subject"], item["body"]))
    return tuple(examples)


@cache
def corpus() -> tuple[tuple[CorpusExample, ...], tuple[CorpusExample, ...]]:
    """The (ham, spam) example messages shipped with the package, read once per process."""
    data: object = json.loads(resources.files(__package__ or "simulator.mail").joinpath(_CORPUS).read_text("utf-8"))
    return _examples(data, "ham"), _examples(data, "spam")


@cache
def default_model() -> NaiveBayes:
    """The model trained on the shipped corpus, once per process, at the first message it scores."""
    ham, spam = corpus()
    return train((e.text for e in ham), (e.text for e in spam))


def bayes_points(log_odds: float) -> float:
    """The points a log-odds is worth: smoothly bounded by `BAYES_MIN_POINTS` and `BAYES_MAX_POINTS`, one decimal.

    Naive Bayes is overconfident (it treats words as independent, so every repetition counts
    again); the bound keeps the content model from outvoting the rules on its own.
    """
    bound = BAYES_MAX_POINTS if log_odds > 0 else -BAYES_MIN_POINTS
    return round(bound * math.tanh(log_odds / BAYES_SCALE), 1) + 0.0


def _probability(log_odds: float) -> float:
    """The logistic function, computed without overflow at either end."""
    if log_odds >= 0:
        return 1.0 / (1.0 + math.exp(-log_odds))
    e = math.exp(log_odds)
    return e / (1.0 + e)


_BAYES_BUCKETS = ((0.01, "BAYES_00"), (0.05, "BAYES_05"), (0.20, "BAYES_20"), (0.40, "BAYES_40"),
                  (0.60, "BAYES_50"), (0.80, "BAYES_60"), (0.95, "BAYES_80"), (0.99, "BAYES_95"))  # fmt: skip


def bayes_rule_name(probability: float) -> str:
    """SpamAssassin's name for a spam probability: BAYES_00 below 1%, ..., BAYES_50 for 40-60%, BAYES_99 from 99%."""
    for upper, name in _BAYES_BUCKETS:
        if probability < upper:
            return name
    return "BAYES_99"


# --- the verdict -------------------------------------------------------------------------


def assess(
    message: bytes,
    auth: Verdict | AuthResults | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    *,
    model: NaiveBayes | None = None,
) -> SpamVerdict:
    """Score a message as the MX's filter does and decide: accept, junk or reject.

    Args:
        message: the message as received, header and body; anything at all, it never raises.
        auth: the SPF, DKIM and DMARC results, as an `authentication.Verdict` or a tuple
            (SPF, DKIM or a sequence of DKIM, DMARC) with None for a check not run; None for none.
        thresholds: the junk and reject scores.
        model: the content model, the one trained on the shipped corpus by default.
    """
    facts = _facts(message, auth)
    hits = _hits(facts)
    content_model = model if model is not None else default_model()
    words = tokens(facts.text)
    weights = content_model.weights(words)
    log_odds = content_model.log_prior_odds + math.fsum(weights.values())
    strongest = sorted(weights.items(), key=lambda item: (-abs(item[1]), item[0]))[:BAYES_TOP_WORDS]
    bayes = bayes_points(log_odds)
    score = round(math.fsum([hit.score for hit in hits] + [bayes]), 1) + 0.0
    return SpamVerdict(
        score=score,
        hits=hits,
        bayes_score=bayes,
        bayes_probability=_probability(log_odds),
        bayes_words=tuple((word, round(weight, 2)) for word, weight in strongest if weight),
        decision=thresholds.decide(score),
        thresholds=thresholds,
    )


# --- what the MX writes ------------------------------------------------------------------


def _fold_units(units: Sequence[tuple[str, str]]) -> list[str]:
    """Physical lines from (separator, text) units, breaking before a unit that would pass the width.

    A continuation line starts with a tab where the separator (a space, or nothing inside the
    comma-separated test list) was, as SpamAssassin folds X-Spam-Status.
    """
    lines: list[str] = []
    current = ""
    for separator, text in units:
        if current and len(current) + len(separator) + len(text) > MAX_LINE:
            lines.append(current)
            current = "\t" + text
        else:
            current += separator + text
    lines.append(current)
    return lines


def _score_text(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.1f}"


def x_spam_headers(verdict: SpamVerdict) -> bytes:
    """The X-Spam header fields the MX prepends, folded and CRLF-terminated, as SpamAssassin writes them.

    X-Spam-Flag: YES only on a message judged spam; X-Spam-Score with the total; X-Spam-Level
    with one star per whole point; X-Spam-Status with the verdict, the score, the junk threshold
    and every test that contributed, such as
    `X-Spam-Status: Yes, score=7.3 required=5.0 tests=BAYES_50,DKIM_NONE,SPF_FAIL`.
    """
    fields: list[list[str]] = []
    if verdict.is_spam:
        fields.append(["X-Spam-Flag: YES"])
    fields.append([f"X-Spam-Score: {verdict.score:.1f}"])
    fields.append([f"X-Spam-Level: {'*' * max(0, min(50, int(verdict.score)))}".rstrip()])
    names = verdict.tests
    units: list[tuple[str, str]] = [
        ("", "X-Spam-Status:"),
        (" ", "Yes," if verdict.is_spam else "No,"),
        (" ", f"score={verdict.score:.1f}"),
        (" ", f"required={_score_text(verdict.required)}"),
    ]
    units += [(" " if i == 0 else "", ("tests=" if i == 0 else "") + name + ("," if i < len(names) - 1 else ""))
              for i, name in enumerate(names)]  # fmt: skip
    fields.append(_fold_units(units))
    return "".join(f"{line}\r\n" for lines in fields for line in lines).encode("ascii")


REJECT_ENHANCED = "5.7.1"
"""Delivery not authorized, message refused (RFC 3463 §3.8): what a filter's refusal carries."""


def reject_reply(verdict: SpamVerdict) -> Reply:
    """The reply the MX sends at the end of DATA when it refuses a message as spam (550 5.7.1)."""
    return Reply(
        int(Code.S550_MAILBOX_UNAVAILABLE),
        REJECT_ENHANCED,
        (f"Message rejected as spam (score {verdict.score:.1f})",),
        f"The receiving server's spam filter scored the message {verdict.score:.1f}, at or above its reject "
        f"threshold of {_score_text(verdict.thresholds.reject)}, and refuses it for good; the sending server "
        "returns it to its sender with a bounce.",
        "RFC 5321 §4.2.3; RFC 3463 §3.8",
    )


def reject_text(verdict: SpamVerdict) -> str:
    """The reject reply as one line, such as "550 5.7.1 Message rejected as spam (score 16.2)"."""
    return reject_reply(verdict).first_line()
