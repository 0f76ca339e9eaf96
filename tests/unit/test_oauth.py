"""OAuth 2.0 in the world: the token endpoint, expired and wrong-scope tokens, the RFC 7628 error exchange."""

from __future__ import annotations

import base64
import json

import pytest

from simulator import Simulation
from simulator.net.network import Network
from simulator.nodes.oauth_server import HTTPS_PORT, OAuthServer, TokenListener
from simulator.protocol import http
from simulator.scenarios.loader import check, load, parse
from simulator.trace import TraceEvent
from tests.unit.test_sasl_world import lines, world


def run(text: str) -> Simulation:
    sim = Simulation("lesson", 1, parse(text))
    sim.run()
    return sim


def authorization_server(network: Network, name: str = "accounts.example.org") -> OAuthServer:
    listener = network.hosts[name].listeners[HTTPS_PORT]
    assert isinstance(listener, TokenListener)
    return listener.server


def late(text: str, at: float) -> str:
    """The same world with the message sent at `at` and the mail checked soon after, when the first token expired."""
    return text.replace("check_at = [60]", f"check_at = [{at + 100}]").replace(
        'body = "Buy milk."', f'body = "Buy milk."\nat = {at}'
    )


def challenges(sim: Simulation, server: str = "mx.example.org") -> list[dict[str, str]]:
    """The JSON error challenges the server sent (SMTP 334, POP3 and IMAP '+ ')."""
    found = []
    for line in lines(sim, server):
        for prefix in ("334 ", "+ "):
            if line.startswith(prefix) and len(line) > len(prefix) + 2:
                decoded = base64.b64decode(line[len(prefix) :].strip())
                if decoded.startswith(b"{"):
                    found.append(json.loads(decoded))
    return found


# --- the built-in scenario -----------------------------------------------------------------------


def test_the_expired_token_scenario_shows_the_error_exchange_then_a_refresh_then_success() -> None:
    sim = Simulation.from_scenario("oauth-token-expired")
    sim.run()
    assert check(sim) == []
    phone = [e for e in sim.trace if "phone.example.org" in (e.src, e.dst) and e.time >= 4000]
    refused = _index(phone, lambda e: e.kind == "auth" and "refuses the access token: expired" in e.summary)
    ack = _index(phone, lambda e: e.src == "phone.example.org" and _inside(e) == ["AQ==\r\n"])  # base64 of ^A
    no = _index(phone, lambda e: any("NO [AUTHENTICATIONFAILED]" in u for u in _inside(e)))
    post = _index(phone, lambda e: any(u.startswith("POST /token HTTP/1.1") for u in _inside(e)))
    issued = _index(phone, lambda e: any(u.startswith("HTTP/1.1 200 OK") for u in _inside(e)))
    accepted = _index(phone, lambda e: e.kind == "auth" and "accepts the access token" in e.summary)
    assert refused < ack < no < post < issued < accepted
    assert challenges(sim) == [{"status": "invalid_token", "scope": "imap"}]
    assert [m.subject for m in sim.world.devices["phone.example.org"].messages.values()] == ["Morning", "Later"]


def test_the_token_endpoint_request_and_answer_are_real_http_inside_tls() -> None:
    sim = Simulation.from_scenario("oauth-token-expired")
    sim.run()
    (request,) = [u for e in sim.trace for u in _inside(e) if u.startswith("POST /token")]
    head, _, body = request.partition("\r\n\r\n")
    assert "Content-Type: application/x-www-form-urlencoded" in head
    assert f"Content-Length: {len(body)}" in head
    assert "grant_type=refresh_token" in body and "scope=imap" in body
    (answer,) = [u for e in sim.trace for u in _inside(e) if u.startswith("HTTP/1.1 200")]
    head, _, body = answer.partition("\r\n\r\n")
    assert "Cache-Control: no-store" in head
    fields = json.loads(body)
    assert (fields["token_type"], fields["expires_in"], fields["scope"]) == ("Bearer", 3600, "imap")
    # An observer on the link sees TLS records only: the refresh token is never on the wire in clear.
    holder = sim.world.devices["phone.example.org"].tokens
    assert holder is not None
    assert all(holder.refresh_token.encode() not in e.data for e in sim.trace)


def test_the_same_seed_issues_the_same_tokens() -> None:
    one, two = Simulation.from_scenario("oauth-token-expired"), Simulation.from_scenario("oauth-token-expired")
    one.run()
    two.run()
    tokens = [s.world.devices["phone.example.org"].tokens for s in (one, two)]
    assert tokens[0] is not None and tokens[1] is not None
    assert tokens[0].access_token == tokens[1].access_token
    assert [e.summary for e in one.trace] == [e.summary for e in two.trace]


def test_stepping_back_over_the_refresh_replays_the_same_story() -> None:
    sim = Simulation.from_scenario("oauth-token-expired")
    sim.run(until=lambda e: e.kind == "oauth")
    at = len(sim.trace)
    for _ in range(5):
        sim.back()
    assert len(sim.trace) == at - 5
    sim.run()
    fresh = Simulation.from_scenario("oauth-token-expired")
    fresh.run()
    assert [e.summary for e in sim.trace] == [e.summary for e in fresh.trace]
    assert check(sim) == []


# --- expiry and scope on each protocol -------------------------------------------------------------


@pytest.mark.parametrize(
    ("mechanism", "retrieval", "refusal"),
    [
        ("xoauth2", "imap", {"status": "401", "schemes": "Bearer", "scope": "smtp"}),
        ("oauthbearer", "pop3-leave-on-server", {"status": "invalid_token", "scope": "smtp"}),
    ],
)
def test_an_expired_token_is_refused_then_renewed_on_every_protocol(
    mechanism: str, retrieval: str, refusal: dict[str, str]
) -> None:
    sim = run(late(world(mechanism, retrieval), 4000))
    assert [o.status for o in sim.outcome()] == ["delivered"]
    assert [m.subject for m in sim.world.devices["phone.example.org"].messages.values()] == ["Note to self"]
    assert challenges(sim)[0] == refusal  # SMTP went first; the reading protocol was refused the same way
    assert len(challenges(sim)) == 2
    server = "".join(lines(sim, "mx.example.org"))
    assert "535 5.7.8" in server
    assert ("-ERR [AUTH]" if retrieval.startswith("pop3") else "NO [AUTHENTICATIONFAILED]") in server
    # Laptop and phone each hold their own tokens: each renews once, after its refusal.
    holders = [sim.world.devices["phone.example.org"].tokens, sim.world.clients["bob@example.org"].tokens]
    assert [h.refreshes if h is not None else None for h in holders] == [1, 1]


def test_a_good_token_is_used_as_is_without_asking_the_authorization_server() -> None:
    sim = run(world("oauthbearer", "imap"))
    holder = sim.world.devices["phone.example.org"].tokens
    assert holder is not None and holder.refreshes == 0
    assert not any(e.protocol == "HTTPS" for e in sim.trace)


def test_a_token_without_the_needed_scope_is_refused_and_a_refresh_cannot_widen_it() -> None:
    sim = Simulation("lesson", 1, parse(world("xoauth2", "imap")))
    issuer = authorization_server(sim.world.network)
    laptop = sim.world.clients["bob@example.org"]
    assert laptop.tokens is not None
    # The user consented to reading mail only: neither this token nor its refresh token covers sending.
    refresh_token, access_token = issuer.enroll("bob@example.org", laptop.tokens.client_id, ("imap",))
    laptop.tokens.refresh_token, laptop.tokens.access_token = refresh_token, access_token
    sim.run()
    (outcome,) = sim.outcome()
    assert (outcome.status, outcome.detail) == ("rejected", "no access token from the authorization server")
    assert challenges(sim)[0] == {"status": "403", "schemes": "Bearer", "scope": "smtp"}
    refusals = [e.summary for e in sim.trace if e.kind == "auth" and "refuses" in e.summary]
    assert refusals == ["mx.example.org refuses the access token: its scope is 'imap'; this service needs 'smtp'"]
    answers = [u for e in sim.trace for u in _inside(e) if u.startswith("HTTP/1.1 400")]
    assert len(answers) == 1 and answers[0].endswith('{"error":"invalid_scope"}')


def test_oauthbearer_names_insufficient_scope() -> None:
    sim = Simulation("lesson", 1, parse(world("oauthbearer", "imap")))
    phone = sim.world.devices["phone.example.org"]
    assert phone.tokens is not None
    issuer = authorization_server(sim.world.network)
    phone.tokens.access_token = issuer.issue("bob@example.org", phone.tokens.client_id, ("smtp",))
    sim.run()
    assert {"status": "insufficient_scope", "scope": "imap"} in challenges(sim)
    assert [m.subject for m in phone.messages.values()] == ["Note to self"]  # the refresh asked for imap again


def test_when_the_authorization_server_is_down_the_device_reports_it_and_does_not_loop() -> None:
    text = late(world("oauthbearer", "imap"), 4000)
    text += '\n[[fault]]\nspec = "down:accounts.example.org,at=0,for=100000"\n'
    sim = run(text)
    phone = sim.world.devices["phone.example.org"]
    assert phone.messages == {}
    assert phone.reports[-1].failure == "no access token from the authorization server"
    assert phone.tokens is not None and phone.tokens.refreshes == 1
    (outcome,) = sim.outcome()
    assert outcome.status == "rejected"


# --- the token endpoint on bad input -----------------------------------------------------------------


@pytest.fixture
def issuer() -> OAuthServer:
    sim = Simulation("lesson", 1, parse(world("oauthbearer", "imap")))
    return authorization_server(sim.world.network)


def _post(fields: dict[str, str], target: str = "/token", method: str = "POST") -> http.Request:
    raw = http.form_request("accounts.example.org", target, fields).replace(b"POST", method.encode(), 1)
    reader = http.MessageReader(request=True)
    request = reader.feed(raw)
    assert isinstance(request, http.Request)
    return request


@pytest.mark.parametrize(
    ("request_", "status", "error"),
    [
        (_post({"grant_type": "password", "username": "bob", "password": "builder"}), 400, "unsupported_grant_type"),
        (_post({"grant_type": "refresh_token", "refresh_token": "made-up", "client_id": "x"}), 400, "invalid_grant"),
        (_post({}, target="/authorize"), 404, "not_found"),
        (_post({}, method="GET"), 405, "invalid_request"),
        (http.BadMessage("garbage"), 400, "invalid_request"),
    ],
)
def test_the_token_endpoint_refuses_what_it_cannot_grant(
    issuer: OAuthServer, request_: http.Request | http.BadMessage, status: int, error: str
) -> None:
    got, body, summary = issuer.answer(request_)
    assert (got, body) == (status, {"error": error})
    assert summary.startswith(str(status))


def test_a_refresh_token_works_only_for_the_program_it_was_issued_to(issuer: OAuthServer) -> None:
    refresh_token, _ = issuer.enroll("bob@example.org", "mail-program@phone", ("imap",))
    fields = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": "mail-program@phone"}
    assert issuer.answer(_post(fields))[0] == 200
    assert issuer.answer(_post({**fields, "client_id": "someone-else"}))[1] == {"error": "invalid_grant"}


@pytest.mark.parametrize(
    "data",
    [
        b"\x16\x03\x01\x02\x00garbage\r\n\r\n",
        b"POST /token HTTP/1.1\r\nContent-Length: lots\r\n\r\n",
        b"POST /token HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST /token HTTP/1.1\r\nBad Header: x\r\n\r\n",
        b"POST /token HTTP/1.0\r\n\r\n",
        b"X" * (http.MAX_HEAD + 1),
        "POST /tøken HTTP/1.1\r\n\r\n".encode(),
        b"POST /token HTTP/1.1\r\nHost: a\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n",
        b"POST /token HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc",
        b"POST /token HTTP/1.1\r\nContent-Length: 0\r\n\r\n",  # no Host (RFC 9112 §3.2)
        b"POST /token HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    ],
)
def test_the_http_reader_turns_bad_input_into_bad_message(data: bytes) -> None:
    reader = http.MessageReader(request=True)
    results = [reader.feed(data[i : i + 7]) for i in range(0, len(data), 7)]
    assert any(isinstance(r, http.BadMessage) for r in results)


def test_the_http_reader_waits_for_the_whole_body_however_it_is_split() -> None:
    raw = http.form_request("a.example", "/token", {"grant_type": "refresh_token", "refresh_token": "abc"})
    for size in (1, 3, 50, len(raw)):
        reader = http.MessageReader(request=True)
        results = [reader.feed(raw[i : i + size]) for i in range(0, len(raw), size)]
        assert all(r is None for r in results[:-1])
        last = results[-1]
        assert isinstance(last, http.Request)
        assert last.form() == {"grant_type": "refresh_token", "refresh_token": "abc"}


def test_the_built_in_scenario_has_an_authorization_server() -> None:
    assert [o.name for o in load("oauth-token-expired").oauth_servers()] == ["accounts.example.org"]


def _inside(event: TraceEvent) -> list[str]:
    """The plaintext units of a write: what the two ends read, TLS or not."""
    if event.kind != "send":
        return []
    units = event.units or ()
    texts = [i.data.decode(errors="replace") for u in units for i in u.inner]
    if texts:
        return texts
    return [u.data.decode(errors="replace") for u in units] or [event.data.decode(errors="replace")]


def _index(events: list[TraceEvent], matches: object) -> int:
    assert callable(matches)
    return next(i for i, e in enumerate(events) if matches(e))
