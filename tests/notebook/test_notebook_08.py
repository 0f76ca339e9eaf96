"""Notebook 08, attacks and defences: executed top to bottom, then used as a learner would."""

from __future__ import annotations

from pathlib import Path

from tests.notebook.kernel import WIDGET, assert_every_quiz_answered, outputs_of, run_notebook, text_of

CHECK = """


def _senders(stepper):
    return [
        next(line for line in m.content.decode().split("\\r\\n") if line.startswith("From: "))
        for m in stepper.sim.mailbox("bob@example.org")
    ]

# The eavesdropper world: five clicks on Step, then Run; both observers kept something.
grown = _click_step(tap, 5)
tap_position = tap.position
tap.run_button.click()
observers = {name: len(o.seen) for name, o in tap.sim.observers.items()}

# STARTTLS stripping as the scenario has it.
strip.run_button.click()
strip_faults = [e.summary for e in strip.sim.trace if e.kind == "fault"]
strip_outcome = [(o.recipient, o.status) for o in strip.sim.outcome()]

# The exercises on the starttls-submission Stepper: strip the relay's STARTTLS from the fault menu ...
offered = list(mitm.fault_menu.options)
mitm.fault_menu.value = "strip-starttls:smtp.example.com/mx.example.org"
mitm.inject_button.click()
mitm.run_button.click()
relay_hellos = [e.summary for e in mitm.sim.trace if "ClientHello" in e.summary]
relay_clear = [e.summary for e in mitm.sim.trace if e.dst == "mx.example.org" and e.summary.startswith("MAIL FROM")]
relay_outcome = [(o.recipient, o.status) for o in mitm.sim.outcome()]
# ... then, after Reset, strip it on the laptop's link (typed: it is not in the menu) ...
mitm.reset_button.click()
mitm.fault_menu.value = "strip-starttls:laptop.example.com/smtp.example.com"
mitm.inject_button.click()
mitm.run_button.click()
laptop_auth = [e.summary for e in mitm.sim.trace if "AUTH" in e.summary and e.src == "laptop.example.com"]
laptop_outbox = [e.summary for e in mitm.sim.trace if "keeps the message in its outbox" in e.summary]
laptop_outcome = [(o.recipient, o.status) for o in mitm.sim.outcome()]
# ... and after another Reset, inject commands after STARTTLS into a world whose MX is not vulnerable.
mitm.reset_button.click()
mitm.fault_menu.value = "inject-starttls:smtp.example.com/mx.example.org=bob@example.org"
mitm.inject_button.click()
mitm.run_button.click()
injected_faults = [e.summary for e in mitm.sim.trace if e.kind == "fault"]
careful_mx_holds = _senders(mitm)

# The vulnerable scenarios, run to the end.
smuggling.run_button.click()
injection.run_button.click()
relay.run_button.click()
smuggled = _senders(smuggling)
injected = _senders(injection)
relayed = _senders(relay)

# The Console exercise against the careful MX of the default world.
for line in ("EHLO me.example", "MAIL FROM:<prizes@spam.example>", "RCPT TO:<carol@example.com>"):
    console.send(line)
after_carol = _html.unescape(console.output.value)
console.send("RCPT TO:<bob@example.org>")
after_bob = _html.unescape(console.output.value)[len(after_carol):]

quizzes = _answer_every_quiz()
print(_json.dumps({
    "grown": grown, "tap_position": tap_position, "observers": observers, "strip_faults": strip_faults,
    "strip_outcome": strip_outcome, "offered": offered, "relay_hellos": relay_hellos, "relay_clear": relay_clear,
    "relay_outcome": relay_outcome, "laptop_auth": laptop_auth, "laptop_outbox": laptop_outbox,
    "laptop_outcome": laptop_outcome, "injected_faults": injected_faults, "careful_mx_holds": careful_mx_holds,
    "smuggled": smuggled, "injected": injected, "relayed": relayed, "after_carol": after_carol,
    "after_bob": after_bob, "quizzes": quizzes,
}))
"""


def test_notebook_08_runs_and_its_widgets_work(tmp_path: Path) -> None:
    notebook, seen = run_notebook("08-attacks-and-defences", CHECK, tmp_path)

    # Six Steppers, one Console and four quizzes shown.
    assert len(outputs_of(notebook, WIDGET)) == 11

    printed = text_of(notebook)
    # The café observer read Alice's password and message; the office observer only TLS records.
    cafe, office = printed.split("What office-lan saw", 1)
    assert 'base64 of "\\0alice@example.com\\0wonderland": user alice@example.com, password wonderland' in cafe
    assert "Bob, the door code is 4711." in cafe
    assert "ClientHello in clear, server name smtp.example.com" in office and "application_data" in office
    assert "password" not in office.split("STARTTLS", 1)[1]
    # The stripped offer and the message read in transit; MTA-STS deferring, then delivering after the hour.
    assert "| 250-XXXXXXXX" in printed and "Please keep them to yourself." in printed
    assert "mode enforce: not delivered" in printed
    delivered = [line for line in printed.splitlines() if "delivers A395717E4F into bob@example.org" in line]
    assert delivered and float(delivered[0].split("s", 1)[0]) > 3600
    # The smuggled bytes, and each weakness switched off.
    assert "b'Just saying hello.\\n.\\r\\nMAIL FROM:<ceo@example.com>" in printed
    assert "smtp-smuggling                  Bob holds 2: Mallory <mallory@example.com>, The CEO" in printed
    assert "smtp-smuggling-default.toml     Bob holds 0" in printed
    assert "550 5.5.2 Error: bare <LF> received" in printed
    assert "554 5.7.1 <bob@example.org>: Relay access denied" in printed
    assert "command-injection-default.toml  Bob holds 1: Alice <alice@example.com>" in printed
    assert not list(tmp_path.glob("*-default.toml"))  # the copies go to a scratch folder, not the notebook's own

    # Stepping moves and grows the diagram; both observers saw traffic.
    assert seen["tap_position"] == 5
    assert seen["grown"] == sorted(seen["grown"]) and seen["grown"][-1] > seen["grown"][0]
    assert set(seen["observers"]) == {"cafe-wifi", "office-lan"} and min(seen["observers"].values()) > 0

    # starttls-stripping: the fault fires and the message is delivered all the same.
    assert any("overwrites STARTTLS" in s for s in seen["strip_faults"])
    assert seen["strip_outcome"] == [["bob@example.org", "delivered"]]

    # The fault menu offers both man-in-the-middle faults.
    assert "strip-starttls:smtp.example.com/mx.example.org" in seen["offered"]
    assert "inject-starttls:smtp.example.com/mx.example.org=bob@example.org" in seen["offered"]
    # Stripping the relay: only the laptop's handshake is left, the relay sends MAIL FROM in clear.
    assert seen["relay_hellos"] == ["[TLS] ClientHello (server name smtp.example.com)"]
    assert seen["relay_clear"] and seen["relay_outcome"] == [["bob@example.org", "delivered"]]
    # Stripping the laptop's link: no AUTH ever sent, the message kept in the outbox, then given up.
    assert seen["laptop_auth"] == [] and len(seen["laptop_outbox"]) >= 2
    assert seen["laptop_outcome"][0][1] != "delivered"
    # Injection against a careful MX: the fault fires, Bob has only Alice's message.
    assert any("appends 286 octets of commands" in s for s in seen["injected_faults"])
    assert seen["careful_mx_holds"] == ["From: Alice <alice@example.com>"]

    # The vulnerable scenarios.
    assert seen["smuggled"] == ["From: Mallory <mallory@example.com>", "From: The CEO <ceo@example.com>"]
    assert seen["injected"] == ["From: The CEO <ceo@example.com>", "From: Alice <alice@example.com>"]
    assert seen["relayed"] == ["From: Prize Desk <prizes@spam.example>"]

    # The Console: relaying refused, mail for the MX's own domain taken.
    assert "554 5.7.1 <carol@example.com>: Relay access denied" in seen["after_carol"]
    assert "250 2.1.5 Ok" in seen["after_bob"]

    quizzes = seen["quizzes"]
    assert set(quizzes) == {"observer-learns", "mta-sts", "smuggling-why", "relay-reply"}
    assert_every_quiz_answered(quizzes)
    assert quizzes["relay-reply"]["right"][1].startswith("Right: the server answers 250 2.1.5 Ok")
    assert quizzes["observer-learns"]["wrong"][1].startswith("Not quite. The clear-text EHLO only names")
    assert quizzes["smuggling-why"]["wrong"][1].startswith("Not quite. TLS would hide the bytes")
