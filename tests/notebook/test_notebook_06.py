"""Notebook 06, SPF, DKIM, DMARC and spam: executed top to bottom, then used as a learner would."""

from __future__ import annotations

from pathlib import Path

from tests.notebook.kernel import WIDGET, assert_every_quiz_answered, outputs_of, run_notebook, text_of

CHECK = """


# spf-fail: five clicks on Step, then Run; the checks as the trace records them.
grown = _click_step(spf, 5)
spf_position = spf.position
spf.run_button.click()
spf_checks = [e.summary for e in spf.sim.trace if e.kind in ("spf", "dkim", "dmarc", "deliver")]

# dkim-tampered and spam-false-positive, run to the end.
dkim.run_button.click()
dkim_checks = [e.summary for e in dkim.sim.trace if e.kind == "dkim"]
spam.run_button.click()
spam_verdicts = [e.summary for e in spam.sim.trace if e.kind in ("spam", "deliver")]

# dmarc-reject: step until the forged message's data has been sent, then once more.
def _last(stepper):
    return stepper.sim.trace[-1] if stepper.sim.trace else None

while not (_last(dmarc) and _last(dmarc).dst == "mx.example.org" and _last(dmarc).summary.endswith("lone dot)")):
    dmarc.step_button.click()
at_dot = dmarc.position
while not any(e.summary.startswith("550") for e in dmarc.sim.trace):
    dmarc.step_button.click()
dmarc_refused = [e.summary for e in dmarc.sim.trace if e.summary.startswith("550")]
steps_to_550 = dmarc.position - at_dot

quizzes = _answer_every_quiz()
print(_json.dumps({
    "grown": grown, "spf_position": spf_position, "spf_checks": spf_checks, "dkim_checks": dkim_checks,
    "spam_verdicts": spam_verdicts, "dmarc_refused": dmarc_refused, "steps_to_550": steps_to_550,
    "quizzes": quizzes,
}))
"""


def test_notebook_06_runs_and_its_widgets_work(tmp_path: Path) -> None:
    notebook, seen = run_notebook("06-spf-dkim-dmarc-and-spam", CHECK, tmp_path)

    # Four Steppers and five quizzes shown.
    assert len(outputs_of(notebook, WIDGET)) == 9

    printed = text_of(notebook)
    # spf-fail's checks; the body hashes recomputed (equal for the direct message, not for the list's
    # copy until its footer is cut off); the DMARC refusal and its bounce; the SPF fix; the privacy note.
    assert "mx.example.org: SPF fail for example.com (client 192.0.2.25)" in printed
    assert "mx.example.org: DMARC pass for example.com (p=reject, action none)" in printed
    hashes = [line.split(":", 1)[1].strip() for line in printed.splitlines() if ":" in line and "   " in line[:4]]
    direct_signed, direct_now, list_signed, list_now, list_cut = hashes[:5]
    assert direct_signed == direct_now and list_signed != list_now and list_cut == list_signed
    assert "550 5.7.1 rejected by DMARC policy for example.com" in printed
    assert "mallory@example.net -> bob@example.org : bounced" in printed
    assert "alice@example.com -> bob@example.org : delivered" in printed
    assert "spam score 6.4 (required 5.0): junk" in printed and "spam score 2.4 (required 5.0): accept" in printed
    assert "into bob@example.org's Junk folder" in printed
    assert "A content filter reads every word" in printed
    assert not (tmp_path / "spam-fixed.toml").exists()  # written to a scratch folder, not the notebook's own

    # Stepping moves and grows the diagram; the checks come out as the lesson says.
    assert seen["spf_position"] == 5
    assert seen["grown"] == sorted(seen["grown"]) and seen["grown"][-1] > seen["grown"][0]
    assert seen["spf_checks"][:3] == [
        "mx.example.org: SPF fail for example.com (client 192.0.2.25)",
        "mx.example.org: DKIM pass for example.com (selector mail)",
        "mx.example.org: DMARC pass for example.com (p=reject, action none)",
    ]
    assert "bob@example.org's mailbox" in seen["spf_checks"][3]
    assert seen["dkim_checks"] == [
        "mx.example.org: DKIM pass for example.com (selector mail)",
        "mx.example.org: DKIM fail for example.com (selector mail): body hash did not verify",
    ]
    assert "junk" in seen["spam_verdicts"][0] and "Junk folder" in seen["spam_verdicts"][1]
    # The exercise: after the data, the three checks, the decision, then the 550.
    assert seen["dmarc_refused"][0] == "550 5.7.1 rejected by DMARC policy for example.com"
    assert seen["steps_to_550"] == 5

    quizzes = seen["quizzes"]
    assert set(quizzes) == {"spf-what", "dkim-line", "dmarc-reply", "false-positive-fix", "ml-privacy"}
    assert_every_quiz_answered(quizzes)
    assert quizzes["dkim-line"]["right_option"] == "-- "
    assert quizzes["dkim-line"]["wrong"][1] == "That line is exactly as the signer sent it. Try again."
    assert quizzes["dmarc-reply"]["right"][1].startswith("Right: the server answers 550 5.7.1 rejected by DMARC")
    assert quizzes["spf-what"]["right_option"].startswith("The domain of the envelope sender (MAIL FROM)")
    assert quizzes["false-positive-fix"]["wrong"][1].startswith("Not quite. A stricter policy")
