"""Notebook 05, TLS, logging in and OAuth: executed top to bottom, then used as a learner would."""

from __future__ import annotations

from pathlib import Path

from tests.notebook.kernel import WIDGET, assert_every_quiz_answered, outputs_of, run_notebook, text_of

CHECK = """


# The STARTTLS Stepper: six clicks on Step, then Run to the end.
grown = _click_step(tls, 6)
tls_position = tls.position
tls.run_button.click()
tls_summaries = [e.summary for e in tls.sim.trace]
tls_outcome = [(o.recipient, o.status) for o in tls.sim.outcome()]

# Implicit TLS: after four steps the connection, the ClientHello, the server's flight and Finished; no 220 yet.
for _ in range(4):
    implicit.step_button.click()
implicit_first = [e.summary for e in implicit.sim.trace]

# The wrong password and the expired token, run to the end.
wrong_password.run_button.click()
wrong_outcome = [(o.recipient, o.status) for o in wrong_password.sim.outcome()]
wrong_replies = [e.summary for e in wrong_password.sim.trace if "535" in e.summary]
oauth.run_button.click()
oauth_summaries = [e.summary for e in oauth.sim.trace]

# The Console exercise: EHLO, then AUTH before STARTTLS.
console.send("EHLO me.example")
after_ehlo = _html.unescape(console.output.value)
console.send("AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29tAHdvbmRlcmxhbmQ=")
after_auth = _html.unescape(console.output.value)

quizzes = _answer_every_quiz()
print(_json.dumps({
    "grown": grown, "tls_position": tls_position, "tls_summaries": tls_summaries, "tls_outcome": tls_outcome,
    "implicit_first": implicit_first, "wrong_outcome": wrong_outcome, "wrong_replies": wrong_replies,
    "oauth_summaries": oauth_summaries, "after_ehlo": after_ehlo, "after_auth": after_auth, "quizzes": quizzes,
}))
"""


def test_notebook_05_runs_and_its_widgets_work(tmp_path: Path) -> None:
    notebook, seen = run_notebook("05-tls-auth-and-oauth", CHECK, tmp_path)

    # Four Steppers, one Console and five quizzes shown.
    assert len(outputs_of(notebook, WIDGET)) == 10

    # What the python cells printed: the decoded PLAIN login, ciphertext after STARTTLS, the greeting
    # inside TLS on 465, the SCRAM exchange decoded, the OAuth error and the new token's claims.
    printed = text_of(notebook)
    assert "b'\\x00alice@example.com\\x00wonderland'" in printed
    assert "STARTTLS                             on the wire: 53 54 41 52" in printed
    assert "ClientHello (server name smtp.exam   on the wire: 16 03 01" in printed
    assert "AUTH PLAIN AGFsaWNlQGV4YW1wbGUuY29   on the wire: 17 03 03" in printed
    implicit_part = printed[printed.index("implicit-tls\n") :]
    assert implicit_part.index("[TLS] ClientHello") < implicit_part.index("[TLS] 220 smtp.example.com ESMTP")
    assert "laptop.example.com sends: n,,n=alice@example.com,r=" in printed
    assert ",i=4096" in printed and "laptop.example.com sends: c=biws,r=" in printed
    assert 'the server\'s error: {"status":"invalid_token","scope":"imap"}' in printed
    assert '"exp":7600,"iat":4000' in printed and '"sub":"bob@example.org"' in printed

    # STARTTLS: clicking Step moves and grows the diagram; the whole run upgrades twice and delivers.
    assert seen["tls_position"] == 6
    assert seen["grown"] == sorted(seen["grown"]) and seen["grown"][-1] > seen["grown"][0]
    summaries = seen["tls_summaries"]
    assert summaries.index("220 2.0.0 Ready to start TLS") < summaries.index("[TLS] EHLO laptop.example.com")
    assert sum(s.startswith("[TLS] ClientHello") for s in summaries) == 2
    assert seen["tls_outcome"] == [["bob@example.org", "delivered"]]

    # Implicit TLS: the first write on the connection is the ClientHello, and no greeting yet.
    first = seen["implicit_first"]
    assert first[0].endswith("port 465") and first[1].startswith("[TLS] ClientHello")
    assert not any("220" in s for s in first)

    # SCRAM with the old password: 535 5.7.8, and the message never accepted.
    assert seen["wrong_replies"] == ["[TLS] 535 5.7.8 Error: authentication failed: authentication failure"]
    assert seen["wrong_outcome"] and all(status != "delivered" for _, status in seen["wrong_outcome"])

    # OAuth: the error continuation, the refresh over HTTPS, and a second login that works.
    oauth = seen["oauth_summaries"]
    refused = next(i for i, s in enumerate(oauth) if "refuses the access token" in s)
    posted = next(i for i, s in enumerate(oauth) if "POST /token" in s)
    accepted = [i for i, s in enumerate(oauth) if "accepts the access token" in s]
    assert len(accepted) == 2 and accepted[0] < refused < posted < accepted[1]
    assert any("NO [AUTHENTICATIONFAILED]" in s for s in oauth)

    # The Console: no AUTH offered before STARTTLS, and AUTH refused with Postfix's 530.
    assert "STARTTLS" in seen["after_ehlo"] and "AUTH PLAIN" not in seen["after_ehlo"].split("AUTH PLAIN AG")[0]
    assert "530 5.7.0 Must issue a STARTTLS command first" in seen["after_auth"]

    # Each quiz: wrong first (with its reason), then right.
    quizzes = seen["quizzes"]
    assert set(quizzes) == {"base64", "starttls-reply", "implicit", "scram-reply", "oauth-why"}
    assert_every_quiz_answered(quizzes)
    assert quizzes["starttls-reply"]["right"][1].startswith("Right: the server answers 220 2.0.0 Ready to start TLS")
    assert quizzes["scram-reply"]["right"][1].startswith("Right: the server answers 535 5.7.8")
    assert quizzes["base64"]["wrong"][1].startswith("Not quite. Many servers do refuse")
    assert quizzes["oauth-why"]["wrong"][1].startswith("Not quite. An expired token is refreshed")
