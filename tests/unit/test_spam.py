"""The MX's spam filter: each rule, the naive Bayes model, the verdict, the X-Spam headers and the false positive."""

from __future__ import annotations

import email
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.mail import spam
from simulator.mail.authentication import Disposition, DKIMResult, DMARCResult, SPFResult, Verdict

# --- building messages and authentication results ------------------------------------------

PLAIN_BODY = "Hi Bob,\r\nhere are the notes from Monday's meeting. The budget review moves to Thursday.\r\nAlice\r\n"


def build(
    *,
    subject: str = "Notes from Monday's meeting",
    sender: str = "Alice Liddell <alice@example.com>",
    to: str = "bob@example.org",
    extra: tuple[str, ...] = (),
    date: bool = True,
    message_id: bool = True,
    content_type: str | None = None,
    body: str = PLAIN_BODY,
) -> bytes:
    """A message with the given header fields and body, CRLF line endings."""
    fields = [f"From: {sender}", f"To: {to}", f"Subject: {subject}"]
    if date:
        fields.append("Date: Fri, 06 Nov 2026 09:00:00 +0000")
    if message_id:
        fields.append("Message-ID: <20261106090000.1@smtp.example.com>")
    if content_type is not None:
        fields += ["MIME-Version: 1.0", f"Content-Type: {content_type}"]
    fields += list(extra)
    return ("\r\n".join(fields) + "\r\n\r\n" + body).encode("utf-8")


SPF_PASS = SPFResult("pass", "example.com", "192.0.2.10", mechanism="ip4:192.0.2.10")
DKIM_PASS = DKIMResult("pass", "example.com", "sel1")
DMARC_PASS = DMARCResult(
    "pass", "example.com", policy="reject", spf_aligned=True, dkim_aligned=True, policy_domain="example.com"
)
GOOD_AUTH: spam.AuthResults = (SPF_PASS, DKIM_PASS, DMARC_PASS)


def dmarc_fail(policy: Disposition) -> DMARCResult:
    return DMARCResult("fail", "example.com", policy=policy, disposition=policy, policy_domain="example.com")


def names(verdict: spam.SpamVerdict) -> set[str]:
    return {hit.name for hit in verdict.hits}


CLEAN = build()

# --- the rules -----------------------------------------------------------------------------

HTML_ONLY = build(content_type="text/html; charset=utf-8", body="<html><body><p>Hello Bob</p></body></html>\r\n")

# One message (and authentication results) built to trigger each rule.
TRIGGERS: dict[str, tuple[bytes, spam.AuthResults]] = {
    "SPF_FAIL": (CLEAN, (SPFResult("fail", "example.com", "203.0.113.9", mechanism="-all"), DKIM_PASS, DMARC_PASS)),
    "SPF_SOFTFAIL": (CLEAN, (SPFResult("softfail", "example.com", "203.0.113.9", mechanism="~all"), DKIM_PASS, None)),
    "SPF_NONE": (CLEAN, (SPFResult("none", "example.com", "203.0.113.9"), DKIM_PASS, None)),
    "DKIM_INVALID": (CLEAN, (SPF_PASS, DKIMResult("fail", "example.com", "sel1", "body hash did not verify"), None)),
    "DKIM_NONE": (CLEAN, (SPF_PASS, DKIMResult("none"), None)),
    "DMARC_REJECT": (CLEAN, (None, None, dmarc_fail("reject"))),
    "DMARC_QUAR": (CLEAN, (None, None, dmarc_fail("quarantine"))),
    "DMARC_NONE": (CLEAN, (None, None, dmarc_fail("none"))),
    "MISSING_DATE": (build(date=False), GOOD_AUTH),
    "MISSING_MID": (build(message_id=False), GOOD_AUTH),
    "FROMNAME_SPOOFED_DOMAIN": (build(sender='"bank.example" <alerts@mailer.example.net>'), GOOD_AUTH),
    "SUBJ_ALL_CAPS": (build(subject="IMPORTANT NOTICE FOR YOU"), GOOD_AUTH),
    "SUBJ_FREE": (build(subject="Your FREE ticket is waiting"), GOOD_AUTH),
    "SUBJ_DOLLARS": (build(subject="Earn $$$ this week"), GOOD_AUTH),
    "TO_TOO_MANY": (build(to=", ".join(f"user{i}@example.org" for i in range(11))), GOOD_AUTH),
    "REPLYTO_DIFF_DOMAIN": (build(extra=("Reply-To: answers@collector.example.net",)), GOOD_AUTH),
    "MANY_EXCLAMATIONS": (build(body="Great news! Really! Yes! Come along! Now!\r\n"), GOOD_AUTH),
    "URI_SHORTENER": (build(body="The slides: https://tinyurl.com/slides-monday\r\n"), GOOD_AUTH),
    "MIME_HTML_ONLY": (HTML_ONLY, GOOD_AUTH),
    "SPAM_PHRASES": (build(body="Click here to verify your account today.\r\n"), GOOD_AUTH),
}


def test_every_rule_has_a_trigger_in_this_file() -> None:
    assert set(TRIGGERS) == {rule.name for rule in spam.RULES}


def test_rules_table_is_well_formed() -> None:
    assert len({rule.name for rule in spam.RULES}) == len(spam.RULES)
    for rule in spam.RULES:
        assert re.fullmatch(r"[A-Z][A-Z0-9_]{2,22}", rule.name), rule.name
        assert rule.score > 0
        assert rule.area in ("authentication", "header", "content")
        assert rule.description and "\n" not in rule.description
        assert len(rule.explain) > len(rule.description)


def test_a_clean_message_with_passing_authentication_hits_no_rule() -> None:
    verdict = spam.assess(CLEAN, GOOD_AUTH)
    assert verdict.hits == ()
    assert verdict.decision == "accept"
    assert verdict.score == verdict.bayes_score
    assert verdict.score < 0  # ordinary meeting notes: the word model leans to ham


@pytest.mark.parametrize("rule", sorted(TRIGGERS))
def test_rule_fires_on_its_trigger_and_not_on_the_clean_message(rule: str) -> None:
    message, auth = TRIGGERS[rule]
    verdict = spam.assess(message, auth)
    hit = next((h for h in verdict.hits if h.name == rule), None)
    assert hit is not None, verdict.summary
    table = next(r for r in spam.RULES if r.name == rule)
    assert (hit.score, hit.description) == (table.score, table.description)
    assert hit.explain.endswith(table.explain)
    assert len(hit.explain) > len(table.explain)  # it says what it found in this message
    assert rule not in names(spam.assess(CLEAN, GOOD_AUTH))


@pytest.mark.parametrize(
    ("rule", "message", "auth"),
    [
        ("SPF_FAIL", CLEAN, (SPFResult("neutral", "example.com", "203.0.113.9"), None, None)),
        ("SPF_NONE", CLEAN, None),  # not checked is not "none"
        ("DKIM_INVALID", CLEAN, (None, (DKIMResult("fail", "a.example", "s"), DKIM_PASS), None)),
        ("DKIM_INVALID", CLEAN, (None, DKIMResult("temperror", "example.com", "sel1", "SERVFAIL"), None)),
        ("DKIM_NONE", CLEAN, (None, (), None)),
        ("DMARC_QUAR", CLEAN, (None, None, DMARC_PASS)),
        ("DMARC_NONE", CLEAN, (None, None, DMARCResult("none", "example.com"))),
        ("FROMNAME_SPOOFED_DOMAIN", build(sender='"news.example.com" <alice@example.com>'), GOOD_AUTH),
        ("FROMNAME_SPOOFED_DOMAIN", build(sender="J.R.R. Tolkien <jrr@example.com>"), GOOD_AUTH),
        ("SUBJ_ALL_CAPS", build(subject="FYI"), GOOD_AUTH),
        ("SUBJ_ALL_CAPS", build(subject="Meeting at 10 AM in room B2"), GOOD_AUTH),
        ("SUBJ_FREE", build(subject="Feel free to join us for lunch"), GOOD_AUTH),
        ("SUBJ_DOLLARS", build(subject="Budget: $300 for the trip"), GOOD_AUTH),
        ("TO_TOO_MANY", build(to=", ".join(f"user{i}@example.org" for i in range(10))), GOOD_AUTH),
        ("REPLYTO_DIFF_DOMAIN", build(extra=("Reply-To: lists.example.com <team@lists.example.com>",)), GOOD_AUTH),
        ("MANY_EXCLAMATIONS", build(body="Great! Really! Yes! Now!\r\n"), GOOD_AUTH),
        ("URI_SHORTENER", build(body="See https://example.com/t.co.html and bit.lyrics\r\n"), GOOD_AUTH),
        ("SPAM_PHRASES", build(body="Please click here for the agenda.\r\n"), GOOD_AUTH),
        (
            "MIME_HTML_ONLY",
            build(
                content_type='multipart/alternative; boundary="b1"',
                body="--b1\r\nContent-Type: text/plain\r\n\r\nHello Bob\r\n"
                "--b1\r\nContent-Type: text/html\r\n\r\n<p>Hello Bob</p>\r\n--b1--\r\n",
            ),
            GOOD_AUTH,
        ),
    ],
)
def test_rule_does_not_fire_on_a_near_miss(rule: str, message: bytes, auth: spam.AuthResults | None) -> None:
    assert rule not in names(spam.assess(message, auth))


def test_rules_read_decoded_text_and_encoded_subjects() -> None:
    """Base64 bodies and RFC 2047 subjects are decoded by the email package before the rules read them."""
    body = "Q2xpY2sgaGVyZSB0byB2ZXJpZnkgeW91ciBhY2NvdW50IQ==\r\n"  # "Click here to verify your account!"
    message = build(
        subject="=?utf-8?b?SU1QT1JUQU5UIE5PVElDRQ==?=",  # "IMPORTANT NOTICE"
        content_type="text/plain; charset=utf-8",
        extra=("Content-Transfer-Encoding: base64",),
        body=body,
    )
    hits = names(spam.assess(message, GOOD_AUTH))
    assert {"SPAM_PHRASES", "SUBJ_ALL_CAPS"} <= hits


def test_attachments_are_not_read_as_text() -> None:
    message = build(
        content_type='multipart/mixed; boundary="m"',
        body="--m\r\nContent-Type: text/plain\r\n\r\nThe file you asked for.\r\n"
        '--m\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename="log.txt"\r\n\r\n'
        "click here verify your account\r\n--m--\r\n",
    )
    assert "SPAM_PHRASES" not in names(spam.assess(message, GOOD_AUTH))


def test_auth_as_a_verdict_or_a_tuple_gives_the_same_result() -> None:
    spf_fail = SPFResult("fail", "example.com", "203.0.113.9")
    dkim_fail = DKIMResult("fail", "example.com", "sel1", "body hash did not verify")
    dmarc = dmarc_fail("quarantine")
    from_verdict = spam.assess(CLEAN, Verdict(spf_fail, (dkim_fail,), dmarc, header=b""))
    from_tuple = spam.assess(CLEAN, (spf_fail, dkim_fail, dmarc))
    assert from_verdict == from_tuple
    assert names(from_tuple) >= {"SPF_FAIL", "DKIM_INVALID", "DMARC_QUAR"}


def test_no_auth_results_means_no_auth_rules() -> None:
    verdict = spam.assess(CLEAN)
    areas = {next(r.area for r in spam.RULES if r.name == hit.name) for hit in verdict.hits}
    assert "authentication" not in areas


# --- the naive Bayes model -----------------------------------------------------------------

HELD_OUT_HAM = [
    "Band practice on Wednesday\nWe meet in the garage at seven. Bring the new song sheets and your own drumsticks.",
    "Your library card renewal\nYour library card expires next month. Renew it at the front desk with a photo ID.",
    "Re: slides for the seminar\nThanks, the slides look good. I would shorten the introduction and add one example.",
    "Allotment committee notes\nWe agreed to buy a water butt and to paint the shed in spring. Next meeting in March.",
    "Order confirmation 5521\nThank you for your order of two notebooks and a pen set. It is dispatched on Monday.",
    "Coffee after the lecture?\nShall we get a coffee after the networks lecture on Friday and go over the lab sheet?",
]
HELD_OUT_SPAM = [
    "You won a free cruise!!!\nCongratulations, you are the winner of a luxury cruise. Claim your prize now, act fast!",
    "Confirm your password now\nYour account will be closed. Click here and confirm your password and card details.",
    "Guaranteed profit, no risk\nInvest today in our secret trading system and double your money in one week!",
    "Unpaid delivery fee\nYour parcel is held. Pay the delivery fee now through the link or it will be returned.",
    "Cheap pills, best prices\nOrder cheap pills online now, no prescription, discreet worldwide shipping, free bonus!",
    "Claim your cash reward\nYou have been selected for a cash reward. Reply with your bank account details today.",
]


def test_corpus_ships_with_the_package_and_has_both_classes() -> None:
    ham, spam_examples = spam.corpus()
    assert len(ham) >= 35 and len(spam_examples) >= 35
    texts = [e.text for e in ham + spam_examples]
    assert len(set(texts)) == len(texts)
    assert all(e.subject and e.body for e in ham + spam_examples)


def test_model_is_trained_once_per_process() -> None:
    assert spam.default_model() is spam.default_model()
    ham, spam_examples = spam.corpus()
    model = spam.default_model()
    assert (model.ham_messages, model.spam_messages) == (len(ham), len(spam_examples))
    assert model.vocabulary > 300


def test_model_classifies_corpus_examples_held_out_from_training() -> None:
    ham, spam_examples = spam.corpus()
    model = spam.train((e.text for e in ham[:30]), (e.text for e in spam_examples[:30]))
    held_out = [(e.text, False) for e in ham[30:]] + [(e.text, True) for e in spam_examples[30:]]
    right = sum((model.log_odds(spam.tokens(text)) > 0) == is_spam for text, is_spam in held_out)
    assert right >= 0.8 * len(held_out)


def test_default_model_classifies_new_examples_mostly_right() -> None:
    model = spam.default_model()
    right = sum(model.log_odds(spam.tokens(t)) < 0 for t in HELD_OUT_HAM)
    right += sum(model.log_odds(spam.tokens(t)) > 0 for t in HELD_OUT_SPAM)
    assert right >= 10  # of 12


def test_laplace_smoothed_likelihoods_are_probability_distributions() -> None:
    model = spam.default_model()
    assert math.fsum(math.exp(v) for v in model.spam_log_likelihood.values()) == pytest.approx(1.0)
    assert math.fsum(math.exp(v) for v in model.ham_log_likelihood.values()) == pytest.approx(1.0)
    assert all(v < 0 for v in model.spam_log_likelihood.values())  # add-one: no word has probability 0 or 1


def test_unknown_words_count_for_nothing_and_repetition_counts_again() -> None:
    model = spam.train(["lunch today"], ["prize today"])
    assert model.weights(["zebra", "xylophone"]) == {}
    assert model.log_odds(["zebra"]) == model.log_prior_odds == 0.0
    assert model.log_odds(["prize", "prize"]) == pytest.approx(2 * model.log_odds(["prize"]))
    assert model.log_odds(["prize"]) > 0 > model.log_odds(["lunch"])
    assert model.log_odds(["today"]) == 0.0  # equally common in both classes


def test_train_refuses_an_empty_class() -> None:
    with pytest.raises(ValueError, match="at least one example"):
        spam.train([], ["prize"])


def test_tokens_are_lower_case_words_without_stop_words() -> None:
    assert spam.tokens("The WINNER of the Lottery: $$$, don't wait!") == ["winner", "lottery", "$$$", "don't", "wait"]


@given(st.floats(allow_nan=False, allow_infinity=True))
def test_bayes_points_are_bounded(log_odds: float) -> None:
    points = spam.bayes_points(log_odds)
    assert spam.BAYES_MIN_POINTS <= points <= spam.BAYES_MAX_POINTS
    assert points == round(points, 1)


@given(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6))
def test_bayes_points_grow_with_the_log_odds(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert spam.bayes_points(low) <= spam.bayes_points(high)


def test_the_model_part_of_a_score_is_bounded_even_for_extreme_text() -> None:
    shouting = " ".join(["winner lottery prize claim click verify account guaranteed"] * 200)
    verdict = spam.assess(build(body=shouting), GOOD_AUTH)
    assert 3.0 < verdict.bayes_score <= spam.BAYES_MAX_POINTS
    assert verdict.bayes_rule == "BAYES_99"
    calm = " ".join(["meeting minutes library lecture garden rehearsal"] * 200)
    verdict = spam.assess(build(body=calm), GOOD_AUTH)
    assert spam.BAYES_MIN_POINTS <= verdict.bayes_score < -1.5
    assert verdict.bayes_rule == "BAYES_00"


def test_the_verdict_names_the_words_that_pushed_the_model() -> None:
    verdict = spam.assess(build(subject="You are the lucky winner", body="Claim your prize in the lottery now.\r\n"))
    words = dict(verdict.bayes_words)
    assert {"winner", "prize", "lottery"} <= set(words)
    assert all(words[w] > 0 for w in ("winner", "prize", "lottery"))
    strengths = [abs(weight) for _, weight in verdict.bayes_words]
    assert strengths == sorted(strengths, reverse=True)
    assert len(verdict.bayes_words) <= spam.BAYES_TOP_WORDS
    assert "'winner'" in verdict.explain


@pytest.mark.parametrize(
    ("probability", "name"),
    [
        (0.0, "BAYES_00"),
        (0.009, "BAYES_00"),
        (0.01, "BAYES_05"),
        (0.5, "BAYES_50"),
        (0.94, "BAYES_80"),
        (1.0, "BAYES_99"),
    ],
)
def test_bayes_buckets_are_named_as_spamassassin_names_them(probability: float, name: str) -> None:
    assert spam.bayes_rule_name(probability) == name


# --- the verdict ---------------------------------------------------------------------------

PHISH = build(
    sender='"secure-bank.example" <alerts@mailer.example.net>',
    subject="URGENT: VERIFY YOUR ACCOUNT, FREE $$$ BONUS",
    date=False,
    message_id=False,
    to=", ".join(f"user{i}@example.org" for i in range(12)),
    extra=("Reply-To: collect@elsewhere.example",),
    content_type="text/html; charset=utf-8",
    body="<p>Dear customer! Click here to verify your account now! Act now! Limited time! "
    "Claim your prize: https://bit.ly/x1 !!!</p>\r\n",
)
PHISH_AUTH: spam.AuthResults = (
    SPFResult("fail", "mailer.example.net", "203.0.113.66", mechanism="-all"),
    DKIMResult("fail", "mailer.example.net", "s1", "signature did not verify"),
    dmarc_fail("reject"),
)


def test_score_is_the_sum_of_the_hits_and_the_model_part() -> None:
    for message, auth in [*TRIGGERS.values(), (PHISH, PHISH_AUTH), (CLEAN, GOOD_AUTH)]:
        verdict = spam.assess(message, auth)
        assert verdict.score == pytest.approx(sum(h.score for h in verdict.hits) + verdict.bayes_score, abs=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=300), st.text(max_size=60))
def test_score_is_the_sum_for_any_text(body: str, subject: str) -> None:
    subject = " ".join(subject.split())
    verdict = spam.assess(build(subject=subject, body=body))
    assert verdict.score == pytest.approx(sum(h.score for h in verdict.hits) + verdict.bayes_score, abs=1e-9)


def test_same_input_same_verdict() -> None:
    first = spam.assess(PHISH, PHISH_AUTH)
    assert spam.assess(PHISH, PHISH_AUTH) == first
    ham, spam_examples = spam.corpus()
    retrained = spam.train((e.text for e in ham), (e.text for e in spam_examples))
    assert spam.assess(PHISH, PHISH_AUTH, model=retrained) == first
    assert spam.x_spam_headers(spam.assess(PHISH, PHISH_AUTH)) == spam.x_spam_headers(first)


def test_phishing_message_is_rejected_with_550_5_7_1() -> None:
    verdict = spam.assess(PHISH, PHISH_AUTH)
    assert verdict.decision == "reject"
    assert verdict.score >= spam.REJECT_THRESHOLD
    assert names(verdict) >= {"SPF_FAIL", "DKIM_INVALID", "DMARC_REJECT", "FROMNAME_SPOOFED_DOMAIN", "SPAM_PHRASES"}
    assert spam.reject_text(verdict) == f"550 5.7.1 Message rejected as spam (score {verdict.score:.1f})"
    reply = spam.reject_reply(verdict)
    assert (reply.code, reply.enhanced, reply.permanent) == (550, "5.7.1", True)
    assert reply.explain and "RFC 3463" in reply.rfc


def test_summary_explain_and_report_account_for_every_point() -> None:
    verdict = spam.assess(PHISH, PHISH_AUTH)
    for hit in verdict.hits:
        assert hit.name in verdict.summary
        assert hit.explain in verdict.explain
        assert f"{hit.score:4.1f} {hit.name}" in verdict.report()
    assert verdict.bayes_rule in verdict.report()
    assert "550 5.7.1" in verdict.explain
    assert verdict.summary.startswith(f"spam score {verdict.score:.1f} (required 5.0): reject")


# --- thresholds ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "decision"),
    [(-2.0, "accept"), (4.9, "accept"), (5.0, "junk"), (14.9, "junk"), (15.0, "reject"), (40.0, "reject")],
)
def test_default_thresholds_are_spamassassins(score: float, decision: str) -> None:
    assert spam.DEFAULT_THRESHOLDS.decide(score) == decision


def test_thresholds_are_configurable() -> None:
    strict = spam.Thresholds(junk=2.0, reject=4.0)
    lenient = spam.Thresholds(junk=10.0, reject=math.inf)
    message, auth = TRIGGERS["SPF_FAIL"]
    mid = build(body="Click here! Verify your account! Act now! https://bit.ly/x !!\r\n", date=False)
    verdict = spam.assess(mid, auth)
    assert 4.0 <= verdict.score < 10.0, verdict.summary
    assert spam.assess(mid, auth, strict).decision == "reject"
    assert spam.assess(mid, auth, lenient).decision == "accept"
    assert spam.assess(PHISH, PHISH_AUTH, lenient).decision == "junk"  # no reject at all
    assert spam.assess(mid, auth, strict).thresholds == strict
    assert spam.assess(message, auth).required == spam.JUNK_THRESHOLD


@pytest.mark.parametrize(("junk", "reject"), [(5.0, 4.0), (math.nan, 15.0), (5.0, math.nan)])
def test_inconsistent_thresholds_are_refused(junk: float, reject: float) -> None:
    with pytest.raises(ValueError, match="threshold"):
        spam.Thresholds(junk=junk, reject=reject)


# --- X-Spam headers ------------------------------------------------------------------------


def parse_fields(headers: bytes) -> email.message.Message:
    return email.message_from_bytes(headers + b"\r\n")


def assert_well_folded(headers: bytes) -> None:
    assert headers.endswith(b"\r\n")
    for line in headers[:-2].split(b"\r\n"):
        assert 0 < len(line) <= 78, line
        assert b"\n" not in line and b"\r" not in line


def test_x_spam_headers_of_a_junked_message() -> None:
    verdict = spam.assess(PHISH, PHISH_AUTH, spam.Thresholds(junk=5.0, reject=math.inf))
    headers = spam.x_spam_headers(verdict)
    assert_well_folded(headers)
    assert headers.startswith(b"X-Spam-Flag: YES\r\n")
    fields = parse_fields(headers)
    assert fields["X-Spam-Score"] == f"{verdict.score:.1f}"
    assert fields["X-Spam-Level"] == "*" * int(verdict.score)
    status = " ".join(fields["X-Spam-Status"].split())
    assert status.startswith(f"Yes, score={verdict.score:.1f} required=5.0 tests=")
    tests = re.split(r"[,\s]+", status.partition("tests=")[2])
    assert tuple(tests) == verdict.tests
    assert len(verdict.tests) > 8  # enough to need folding
    raw_status = headers[headers.index(b"X-Spam-Status:") :]
    assert raw_status.count(b"\r\n\t") >= 1  # continuation lines start with a tab


def test_x_spam_headers_of_an_accepted_message() -> None:
    verdict = spam.assess(CLEAN, GOOD_AUTH)
    headers = spam.x_spam_headers(verdict)
    assert_well_folded(headers)
    assert b"X-Spam-Flag" not in headers
    assert (
        f"X-Spam-Status: No, score={verdict.score:.1f} required=5.0 tests={verdict.bayes_rule}\r\n".encode() in headers
    )
    assert b"X-Spam-Level: \r\n" not in headers


def test_x_spam_headers_can_be_prepended_to_the_message() -> None:
    from simulator.mail.headers import header_values, prepend

    verdict = spam.assess(PHISH, PHISH_AUTH)
    delivered = prepend(spam.x_spam_headers(verdict), PHISH)
    assert header_values(delivered, "X-Spam-Flag") == ["YES"]
    assert header_values(delivered, "Subject") == ["URGENT: VERIFY YOUR ACCOUNT, FREE $$$ BONUS"]


# --- the false positive: a newsletter whose domain's SPF record omits a new server ---------------

NEWSLETTER = (
    b"From: Greenleaf Garden Centre <news@greenleaf.example>\r\n"
    b"To: bob@example.org\r\n"
    b"Subject: Greenleaf news: the autumn sale\r\n"
    b"Date: Fri, 06 Nov 2026 09:00:00 +0000\r\n"
    b"Message-ID: <20261106090000.77@mail2.greenleaf.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<h1>Greenleaf news, November</h1>"
    b"<p>Our autumn sale starts on Saturday: 20% off bulbs, tools and winter plants. "
    b"Delivery is free on orders over 40.</p>"
    b"<p>See the offers: <a href='https://bit.ly/gl-autumn'>bit.ly/gl-autumn</a></p>"
    b"<p>You receive this newsletter because you joined our mailing list. Unsubscribe at any time.</p>\r\n"
)
NEW_SERVER = "198.51.100.77"  # mail2.greenleaf.example, not yet in the SPF record


def test_false_positive_newsletter_is_junked_when_spf_omits_the_new_server() -> None:
    auth: spam.AuthResults = (
        SPFResult("fail", "greenleaf.example", NEW_SERVER, mechanism="-all"),
        DKIMResult("none"),
        DMARCResult("fail", "greenleaf.example", policy="none", disposition="none", policy_domain="greenleaf.example"),
    )
    verdict = spam.assess(NEWSLETTER, auth)
    assert verdict.decision == "junk"
    assert names(verdict) == {"SPF_FAIL", "DKIM_NONE", "DMARC_NONE", "URI_SHORTENER", "MIME_HTML_ONLY"}
    assert abs(verdict.bayes_score) < 1.0  # the words alone are not what junks it
    assert b"X-Spam-Flag: YES" in spam.x_spam_headers(verdict)
    spf_hit = next(h for h in verdict.hits if h.name == "SPF_FAIL")
    assert NEW_SERVER in spf_hit.explain and "forgot" in spf_hit.explain


def test_false_positive_newsletter_is_accepted_once_spf_lists_the_new_server() -> None:
    auth: spam.AuthResults = (
        SPFResult("pass", "greenleaf.example", NEW_SERVER, mechanism=f"ip4:{NEW_SERVER}"),
        DKIMResult("none"),
        DMARCResult("pass", "greenleaf.example", policy="none", spf_aligned=True, policy_domain="greenleaf.example"),
    )
    verdict = spam.assess(NEWSLETTER, auth)
    assert verdict.decision == "accept"
    assert names(verdict) == {"DKIM_NONE", "URI_SHORTENER", "MIME_HTML_ONLY"}
    assert b"X-Spam-Status: No," in spam.x_spam_headers(verdict)


# --- malformed messages never raise --------------------------------------------------------

MALFORMED = [
    b"",
    b"no header at all, just text without a separator",
    b"Subject: no separator\r\nFrom: a@b.example\r\nThe body starts here without an empty line",
    b"Subject: bare LF\nFrom: x@y.example\n\nbody\n",
    b"Content-Type: multipart/mixed\r\n\r\n--nothing\r\nno boundary parameter\r\n",
    b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>unclosed',
    b"Content-Type: text/plain; charset=no-such-charset\r\n\r\nhello\r\n",
    b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n!!not base64@@\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n=ZZ=\r\n=\r\n",
    b"Subject: =?no-such-charset?q?x?= =?utf-8?b?!!!?=\r\nFrom: =?utf-8?q?=FF?= <@>\r\n\r\n",
    b'From: <<<@@@>>>, ,,, "unterminated\r\nReply-To: @\r\nTo: ;;;\r\n\r\n',
    b"Subject: \xff\xfe\x80 8-bit garbage \xc3\x28\r\nFrom: \xe9t\xe9 <a@\xff.example>\r\n\r\n\x00\x01\xff\xfe",
    b"Content-Type: text/html; charset=utf-8\r\n\r\n<script>alert(1)</script><style>p{}</style>&#xFFFFFFFF; &bogus;",
    b"Content-Type: multipart/mixed; boundary=x\r\n\r\n"
    + b"--x\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n" * 200,
]


@pytest.mark.parametrize("message", MALFORMED)
def test_malformed_message_gets_a_verdict(message: bytes) -> None:
    verdict = spam.assess(message, GOOD_AUTH)
    assert verdict.decision in ("accept", "junk", "reject")
    assert verdict.score == pytest.approx(sum(h.score for h in verdict.hits) + verdict.bayes_score, abs=1e-9)
    assert_well_folded(spam.x_spam_headers(verdict))


FRAGMENTS = st.sampled_from(
    [
        b"Subject: ",
        b"From: ",
        b"To: ",
        b"Reply-To: ",
        b"Date: ",
        b"Content-Type: multipart/mixed; boundary=b\r\n",
        b"Content-Type: text/html; charset=",
        b"Content-Transfer-Encoding: base64\r\n",
        b"Content-Transfer-Encoding: quoted-printable\r\n",
        b"=?utf-8?b?",
        b"?=",
        b"--b\r\n",
        b"--b--\r\n",
        b"\r\n",
        b"\n",
        b"\r\n\r\n",
        b" ",
        b"\t",
        b"<a href='https://bit.ly/",
        b"!",
        b"@",
        b"\xff\xfe\x80",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(FRAGMENTS, st.binary(max_size=20)), max_size=40))
def test_assess_never_raises_on_fragments_of_mail(parts: list[bytes]) -> None:
    verdict = spam.assess(b"".join(parts), GOOD_AUTH)
    assert verdict.decision in ("accept", "junk", "reject")
    assert spam.BAYES_MIN_POINTS <= verdict.bayes_score <= spam.BAYES_MAX_POINTS
    assert_well_folded(spam.x_spam_headers(verdict))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_assess_never_raises_on_arbitrary_bytes(message: bytes) -> None:
    verdict = spam.assess(message)
    assert verdict.decision in ("accept", "junk", "reject")
    assert verdict == spam.assess(message)


def test_privacy_note_states_the_trade_off() -> None:
    note = spam.PRIVACY_NOTE.lower()
    assert "every word" in note and "private mail" in note


def test_scripts_and_styles_are_not_read_as_text() -> None:
    hidden = "<script>var s = 'click here to verify your account';</script><style>p { }</style><p>Hello Bob</p>"
    assert "SPAM_PHRASES" not in names(spam.assess(build(content_type="text/html", body=hidden), GOOD_AUTH))
    shown = "<p>Click here to <b>verify your account</b>.</p>"
    assert "SPAM_PHRASES" in names(spam.assess(build(content_type="text/html", body=shown), GOOD_AUTH))


@pytest.mark.parametrize(
    "body",
    [b"<" * 200_000, b"<script" * 50_000, b"<style>x</style>" * 20_000, b"!" * 300_000, b"a'" * 200_000],
)
def test_hostile_bodies_take_linear_time(body: bytes) -> None:
    """Patterns that backtracked would take minutes on these; an MX must answer DATA promptly."""
    import time

    message = b"From: a@b.example\r\nContent-Type: text/html\r\n\r\n" + body
    started = time.perf_counter()
    verdict = spam.assess(message, GOOD_AUTH)
    assert time.perf_counter() - started < 5.0
    assert verdict.decision in ("accept", "junk", "reject")
