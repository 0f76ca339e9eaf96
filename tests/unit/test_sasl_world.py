"""Every SASL mechanism logs in through the SMTP, POP3 and IMAP services of a world, and wrong secrets are refused."""

from __future__ import annotations

import base64

import pytest

from simulator import Simulation
from simulator.scenarios.loader import ScenarioError, check, parse

PASSWORD_MECHANISMS = ("plain", "login", "cram-md5", "scram-sha-256")
TOKEN_MECHANISMS = ("xoauth2", "oauthbearer")


def world(mechanism: str, retrieval: str, *, password: str | None = None, lifetime: float = 3600.0) -> str:
    """Bob sends himself a message from his laptop, then reads it on his phone; both log in with `mechanism`."""
    oauth = mechanism in TOKEN_MECHANISMS
    login = f'auth = "{mechanism}"\n' + ('oauth_server = "accounts.example.org"\n' if oauth else "")
    login += f'password = "{password}"\n' if password is not None else ""
    return f'''
description = "Bob logs in with {mechanism}."
[[host]]
name = "laptop.example.org"
ip = "198.51.100.10"
role = "client"
user = "bob@example.org"
msa = "mx.example.org"
{login}
[[host]]
name = "phone.example.org"
ip = "198.51.100.11"
role = "client"
user = "bob@example.org"
retrieval = "{retrieval}"
check_at = [60]
{login}
[[host]]
name = "mx.example.org"
ip = "198.51.100.25"
role = "mail-server"
domains = ["example.org"]
submission = true
pop3 = true
imap = true

[[host]]
name = "ns.example.net"
ip = "192.0.2.53"
role = "dns"

[[host]]
name = "accounts.example.org"
ip = "198.51.100.80"
role = "oauth"
token_lifetime = {lifetime}

[[user]]
address = "bob@example.org"
password = "builder"

[dns]
mx = [{{ domain = "example.org", host = "mx.example.org" }}]

[[message]]
from = "bob@example.org"
to = ["bob@example.org"]
subject = "Note to self"
body = "Buy milk."
'''


def run(text: str) -> Simulation:
    sim = Simulation("lesson", 1, parse(text))
    sim.run()
    return sim


def lines(sim: Simulation, src: str) -> list[str]:
    """Every protocol unit `src` wrote, as the two ends read it (inside TLS too)."""
    found: list[str] = []
    for event in sim.trace:
        if event.kind != "send" or event.src != src:
            continue
        for unit in event.units or ():
            found += [inner.data.decode(errors="replace") for inner in unit.inner] or [
                unit.data.decode(errors="replace")
            ]
        if not event.units:
            found.append(event.data.decode(errors="replace"))
    return found


@pytest.mark.parametrize("retrieval", ["pop3-leave-on-server", "imap"])
@pytest.mark.parametrize("mechanism", PASSWORD_MECHANISMS + TOKEN_MECHANISMS)
def test_every_mechanism_logs_in_to_submit_and_to_read(mechanism: str, retrieval: str) -> None:
    sim = run(world(mechanism, retrieval))
    assert check(sim) == []
    assert [o.status for o in sim.outcome()] == ["delivered"]
    phone = sim.world.devices["phone.example.org"]
    assert [m.subject for m in phone.messages.values()] == ["Note to self"]
    name = mechanism.upper()
    assert any(line.startswith(f"AUTH {name}") for line in lines(sim, "laptop.example.org"))
    verb = "AUTH" if retrieval.startswith("pop3") else "A0001 AUTHENTICATE"
    assert any(line.startswith(f"{verb} {name}") for line in lines(sim, "phone.example.org"))
    assert any(line.startswith("235 2.7.0") for line in lines(sim, "mx.example.org"))
    # A token is checked and the check is shown; a password mechanism needs no authorization server.
    checks = [e.summary for e in sim.trace if e.kind == "auth"]
    assert len(checks) == (2 if mechanism in TOKEN_MECHANISMS else 0)
    assert all("accepts the access token" in summary for summary in checks)


@pytest.mark.parametrize("mechanism", PASSWORD_MECHANISMS)
def test_a_wrong_password_gets_each_protocols_refusal_and_nothing_is_accepted(mechanism: str) -> None:
    sent = run(world(mechanism, "imap", password="looking-glass"))
    (outcome,) = sent.outcome()
    assert (outcome.status, outcome.detail) == (
        "rejected",
        "535 5.7.8 Error: authentication failed: authentication failure",
    )
    assert sent.mailbox("bob@example.org") == []
    assert "A0001 NO [AUTHENTICATIONFAILED] Authentication failed." in "".join(lines(sent, "mx.example.org"))
    assert sent.world.devices["phone.example.org"].reports[0].failure
    popped = run(world(mechanism, "pop3-leave-on-server", password="looking-glass"))
    assert "-ERR [AUTH] Authentication failed." in "".join(lines(popped, "mx.example.org"))


def test_mail_client_and_device_never_send_the_refresh_token_to_a_mail_server() -> None:
    sim = run(world("oauthbearer", "imap"))
    holder = sim.world.devices["phone.example.org"].tokens
    assert holder is not None and holder.refresh_token
    to_mail_server = "".join(lines(sim, "laptop.example.org") + lines(sim, "phone.example.org"))
    decoded = " ".join(
        base64.b64decode(word + "==", validate=False).decode(errors="replace")
        for word in to_mail_server.split()
        if len(word) > 40
    )
    assert holder.access_token in decoded
    assert holder.refresh_token not in decoded + to_mail_server


@pytest.mark.parametrize(
    ("change", "path", "expected"),
    [
        (('oauth_server = "accounts.example.org"\n', ""), "host[1].oauth_server", "needs the name of a role = 'oauth'"),
        (('oauth_server = "accounts.example.org"\n', 'oauth_server = "mx.example.org"\n'), "host[1].oauth_server",
         "got 'mx.example.org'"),
        (('auth = "xoauth2"\n', 'auth = "plain"\n'), "host[1].oauth_server", "only with auth = 'xoauth2'"),
        (('auth = "xoauth2"\n', 'auth = "kerberos"\n'), "host[1].auth", "expected"),
    ],
)  # fmt: skip
def test_a_login_set_up_that_cannot_work_is_one_clear_line(change: tuple[str, str], path: str, expected: str) -> None:
    text = world("xoauth2", "imap").replace(*change)
    with pytest.raises(ScenarioError) as exc:
        parse(text)
    assert exc.value.path == path
    assert expected in exc.value.message


@pytest.mark.parametrize(
    ("direct", "path", "expected"),
    [
        ('direct_to = "ns.example.net"\n', "host[3].direct_to", "a mail-server with mx = true"),
        ('direct_to = "mx.example.org"\nauth = "plain"\n', "host[3].direct_to", "without logging in"),
        ('direct_to = "mx.example.org"\nmsa = "mx.example.org"\n', "host[3].direct_to", "no msa and no retrieval"),
    ],
)
def test_spam_software_needs_a_port_25_to_talk_to_and_nothing_else(direct: str, path: str, expected: str) -> None:
    bot = '[[host]]\nname = "bot.spam.example"\nip = "203.0.113.66"\nrole = "client"\nuser = "x@spam.example"\n'
    bot += direct
    text = world("plain", "imap").replace(
        '[[host]]\nname = "mx.example.org"', bot + '[[host]]\nname = "mx.example.org"'
    )
    with pytest.raises(ScenarioError) as exc:
        parse(text)
    assert exc.value.path == path
    assert expected in exc.value.message
