"""Who may relay, and the submission port's order of things: TLS, then AUTH, then MAIL."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator import Simulation, scenarios
from simulator.nodes.smtp_service import SMTPService
from simulator.protocol.sasl import plain_response
from simulator.protocol.sasl.base import encode
from simulator.protocol.smtp.server import ServerConfig, SMTPServer
from simulator.scenarios.loader import check, parse

USERS = {"bob@example.org": "builder", "alice@example.com": "wonderland"}


def mx(*, open_relay: bool = False, relay_domains: frozenset[str] = frozenset()) -> SMTPService:
    """Port 25 of mx.example.org: mail for example.org, no AUTH."""
    return SMTPService(
        ServerConfig(hostname="mx.example.org", auth_mechanisms=()),
        local_domains=frozenset({"example.org"}),
        users=dict(USERS),
        relay_domains=relay_domains,
        open_relay=open_relay,
    )


def submission(*, starttls: bool = False) -> SMTPService:
    """Port 587 of smtp.example.com: AUTH first; with `starttls`, TLS before AUTH (smtpd_tls_auth_only)."""
    return SMTPService(
        ServerConfig(hostname="smtp.example.com", starttls=starttls, auth_requires_tls=starttls),
        local_domains=frozenset({"example.com"}),
        users=dict(USERS),
        submission=True,
    )


def say(service: SMTPService, engine: SMTPServer, *commands: str) -> list[str]:
    """Send each command in turn; the first line of each reply that comes back."""
    replies: list[str] = []
    for command in commands:
        engine.receive_data(command.encode() + b"\r\n")
        for event in engine.events():
            service.handle(engine, event, ("client.example.net", "203.0.113.9"))
        replies += [o.reply.first_line() for o in engine.outgoing()]
    return replies


def rcpt(service: SMTPService, recipient: str) -> str:
    engine = service.connect()
    engine.outgoing()  # the greeting
    *_, last = say(service, engine, "EHLO client.example.net", "MAIL FROM:<x@elsewhere.test>", f"RCPT TO:{recipient}")
    return last


# --- relaying on port 25 -----------------------------------------------------------------------------


def test_mail_for_a_local_user_is_taken() -> None:
    assert rcpt(mx(), "<bob@example.org>") == "250 2.1.5 Ok"


def test_a_stranger_cannot_relay_to_a_foreign_domain() -> None:
    assert rcpt(mx(), "<carol@elsewhere.test>") == "554 5.7.1 <carol@elsewhere.test>: Relay access denied"


def test_a_backup_mx_takes_mail_for_the_domains_it_backs_up() -> None:
    assert rcpt(mx(relay_domains=frozenset({"elsewhere.test"})), "<carol@elsewhere.test>") == "250 2.1.5 Ok"


@pytest.mark.parametrize(
    ("recipient", "refused"),
    [
        ("<carol%elsewhere.test@example.org>", "<carol%elsewhere.test@example.org>"),  # the percent hack
        ("<elsewhere.test!carol@example.org>", "<elsewhere.test!carol@example.org>"),  # a UUCP bang path
        ("<@example.org:carol@elsewhere.test>", "<@example.org:carol@elsewhere.test>"),  # a source route
        ("<@a.example,@b.example:carol@elsewhere.test>", "<@a.example,@b.example:carol@elsewhere.test>"),
        ("<@relay.example:bob@example.org>", "<@relay.example:bob@example.org>"),  # routed even if local in the end
        ('<"carol@elsewhere.test"@example.org>', '<"carol@elsewhere.test"@example.org>'),  # an @ in the local part
    ],
)
def test_sender_routed_addresses_are_never_relayed_for_a_stranger(recipient: str, refused: str) -> None:
    assert rcpt(mx(), recipient) == f"554 5.7.1 {refused}: Relay access denied"


def test_an_open_relay_takes_mail_for_anywhere_and_says_why_in_the_trace() -> None:
    service = mx(open_relay=True)
    engine = service.connect()
    engine.outgoing()
    say(service, engine, "EHLO bot.spam.example", "MAIL FROM:<prizes@spam.example>")
    engine.receive_data(b"RCPT TO:<carol@elsewhere.test>\r\n")
    for event in engine.events():
        service.handle(engine, event)
    (reply,) = [o.reply for o in engine.outgoing()]
    assert reply.first_line() == "250 2.1.5 Ok"  # on the wire exactly what a careful server says to a local RCPT
    assert "open relay" in reply.explain


def test_an_unknown_local_user_is_still_unknown_on_an_open_relay() -> None:
    assert rcpt(mx(open_relay=True), "<nobody@example.org>").startswith("550 5.1.1")


# --- the submission port --------------------------------------------------------------------------------


def test_submission_refuses_mail_before_auth() -> None:
    service = submission()
    engine = service.connect()
    engine.outgoing()
    replies = say(service, engine, "EHLO laptop", "MAIL FROM:<alice@example.com>")
    assert replies[-1] == "530 5.7.0 Authentication required"


def test_submission_that_requires_tls_refuses_auth_and_mail_in_clear() -> None:
    service = submission(starttls=True)
    engine = service.connect()
    engine.outgoing()
    initial = encode(plain_response("alice@example.com", "wonderland"))
    replies = say(service, engine, "EHLO laptop", f"AUTH PLAIN {initial}", "MAIL FROM:<alice@example.com>")
    assert not any(line.startswith("250-AUTH") for line in replies)  # AUTH is not even offered in clear
    assert replies[-2:] == ["530 5.7.0 Must issue a STARTTLS command first"] * 2


def test_wrong_credentials_get_535_and_mail_is_still_refused() -> None:
    service = submission()
    engine = service.connect()
    engine.outgoing()
    wrong = encode(plain_response("alice@example.com", "looking-glass"))
    replies = say(service, engine, "EHLO laptop", f"AUTH PLAIN {wrong}", "MAIL FROM:<alice@example.com>")
    assert replies[-2:] == [
        "535 5.7.8 Error: authentication failed: authentication failure",
        "530 5.7.0 Authentication required",
    ]


@pytest.mark.parametrize(
    ("authzid", "reply"),
    [
        ("", "235 2.7.0 Authentication successful"),
        ("alice@example.com", "235 2.7.0 Authentication successful"),  # herself: allowed
        ("bob@example.org", "535 5.7.8 Error: authentication failed: authentication failure"),  # no proxy rights
    ],
)
def test_plain_may_not_act_as_another_user(authzid: str, reply: str) -> None:
    # RFC 4616 §2: the server checks that the authentication identity may act as the authorization one.
    service = submission()
    engine = service.connect()
    engine.outgoing()
    response = encode(plain_response("alice@example.com", "wonderland", authzid))
    assert say(service, engine, "EHLO laptop", f"AUTH PLAIN {response}")[-1] == reply


def test_an_authenticated_user_may_send_anywhere_even_to_a_routed_address() -> None:
    service = submission()
    engine = service.connect()
    engine.outgoing()
    good = encode(plain_response("alice", "wonderland"))  # the local part of a local domain's user will do
    replies = say(
        service, engine, "EHLO laptop", f"AUTH PLAIN {good}", "MAIL FROM:<alice@example.com>",
        "RCPT TO:<bob@example.org>", "RCPT TO:<@hop.example:carol@elsewhere.test>",
    )  # fmt: skip
    assert replies[-4:] == ["235 2.7.0 Authentication successful", "250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.1.5 Ok"]


# --- the open-relay scenario, with and without the switch ---------------------------------------------------


def test_the_open_relay_scenario_delivers_the_spam() -> None:
    sim = Simulation.from_scenario("open-relay")
    sim.run()
    assert check(sim) == []
    (message,) = sim.mailbox("bob@example.org")
    assert b"Subject: You have won!" in message.content
    assert b"by relay.example.net" in message.content  # it came through the relay: that is whose name is on it


def test_the_same_world_without_the_switch_refuses_to_relay() -> None:
    text = (Path(scenarios.__file__).parent / "open-relay.toml").read_text()
    assert 'vulnerable = ["open-relay"]' in text
    sim = Simulation("open-relay-fixed", 1, parse(text.replace('vulnerable = ["open-relay"]', "")))
    sim.run()
    (outcome,) = sim.outcome()
    assert (outcome.status, outcome.detail) == ("rejected", "554 5.7.1 <bob@example.org>: Relay access denied")
    assert sim.mailbox("bob@example.org") == []
    assert check(sim) != []  # the lesson's own expectation (delivered) is no longer met
