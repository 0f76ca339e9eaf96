"""The one login policy of a mail host: passwords, SASL secrets and bearer tokens (simulator.nodes.accounts)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.mail import tokens
from simulator.nodes.accounts import NO_LOGIN, Accounts, TokenCheck
from simulator.protocol import sasl
from simulator.world import new_world

USERS = {"bob@example.org": "builder", "alice@example.com": "wonderland"}
KEY = tokens.SigningKey("accounts.example.org", bytes(range(32)))
OTHER_KEY = tokens.SigningKey("accounts.example.org", bytes(range(1, 33)))
FORGED = tokens.sign(OTHER_KEY, tokens.Claims(KEY.issuer, "bob@example.org", ("imap",), 0, 9, "at-1"))


def accounts() -> Accounts:
    return Accounts(dict(USERS), frozenset({"example.org"}), (KEY.public,))


def token(*, subject: str = "bob@example.org", scope: tuple[str, ...] = ("imap",), expires: float = 3600.0) -> str:
    return tokens.sign(KEY, tokens.Claims(KEY.issuer, subject, scope, 0.0, expires, "at-1", "mail-program@phone"))


def test_users_are_found_by_address_and_by_local_part_only_in_a_local_domain() -> None:
    policy = accounts()
    assert policy.find("BOB@example.org") == "bob@example.org"
    assert policy.find("bob") == "bob@example.org"
    assert policy.find("alice") is None  # example.com is not local here
    assert policy.find("alice@example.com") == "alice@example.com"
    assert policy.find("carol@example.org") is None


@pytest.mark.parametrize(
    ("name", "password", "expected"),
    [
        ("bob@example.org", "builder", "bob@example.org"),
        ("bob", "builder", "bob@example.org"),
        ("bob@example.org", "Builder", None),
        ("bob@example.org", "", None),
        ("carol@example.org", "builder", None),
    ],
)
def test_a_password_is_checked_against_the_stored_one(name: str, password: str, expected: str | None) -> None:
    assert accounts().check_password(name, password) == expected


def test_cram_md5_gets_the_password_and_an_unknown_user_gets_none() -> None:
    policy = accounts()
    assert policy.secret("CRAM-MD5", "bob") == "builder"
    assert policy.secret("CRAM-MD5", "nobody@example.org") is None


def test_a_scram_secret_is_derived_once_and_kept() -> None:
    policy = accounts()
    first = policy.secret("SCRAM-SHA-256", "bob@example.org")
    assert isinstance(first, sasl.ScramSecret)
    assert policy.secret("SCRAM-SHA-256", "bob") is first
    salted = sasl.ScramSecret.from_password("builder", salt=first.salt, iterations=first.iterations)
    assert salted.stored_key == first.stored_key  # it is the password's, with its own salt


def test_a_password_saslprep_refuses_gives_no_scram_secret_and_no_traceback() -> None:
    policy = Accounts({"ghost@example.org": "\0"})  # how the loader marks a user without a password
    assert policy.secret("SCRAM-SHA-256", "ghost@example.org") is None


def test_scram_salts_come_from_the_seeded_generator() -> None:
    one = Accounts(dict(USERS), network=new_world(7).network)
    two = Accounts(dict(USERS), network=new_world(7).network)
    a, b = one.secret("SCRAM-SHA-256", "bob@example.org"), two.secret("SCRAM-SHA-256", "bob@example.org")
    assert isinstance(a, sasl.ScramSecret) and isinstance(b, sasl.ScramSecret)
    assert a.salt == b.salt


def test_a_good_token_is_accepted() -> None:
    assert accounts().check_token("bob@example.org", token(), "IMAP") == TokenCheck(True, "", "imap", "bob@example.org")


def test_a_token_may_name_the_user_itself() -> None:
    assert accounts().check_token("", token(), "IMAP").ok


@pytest.mark.parametrize(
    ("presented", "user", "protocol", "status"),
    [
        (token(expires=0.0), "bob@example.org", "IMAP", "invalid_token"),  # expired at t=0, checked at t=0
        (token(), "alice@example.com", "IMAP", "invalid_token"),  # issued to someone else
        (token(scope=("imap",)), "bob@example.org", "SMTP", "insufficient_scope"),
        (token(scope=("smtp",)), "bob@example.org", "POP3", "insufficient_scope"),
        (token(subject="carol@example.org"), "", "IMAP", "invalid_token"),  # good token, unknown user
        (FORGED, "", "IMAP", "invalid_token"),  # signed with a key that is not the issuer's
        ("not.a.token", "bob@example.org", "IMAP", "invalid_token"),
        ("", "bob@example.org", "IMAP", "invalid_token"),
    ],
)
def test_a_bad_token_is_refused_with_the_rfc_6750_error(presented: str, user: str, protocol: str, status: str) -> None:
    check = accounts().check_token(user, presented, protocol)
    assert not check.ok
    assert check.status == status
    assert check.scope == {"IMAP": "imap", "SMTP": "smtp", "POP3": "pop"}[protocol]


def test_a_tampered_token_is_refused() -> None:
    header, _, signature = token().split(".")
    claims = b'{"aud":"mail","client_id":"","exp":99999,"iat":0,"iss":"accounts.example.org","jti":"x",'
    claims += b'"scope":"imap smtp pop","sub":"bob@example.org"}'  # a wider scope and a longer life
    forged_body = base64.urlsafe_b64encode(claims).rstrip(b"=").decode()
    assert not accounts().check_token("bob@example.org", f"{header}.{forged_body}.{signature}", "SMTP").ok


@pytest.mark.parametrize(
    ("status", "mechanism", "stated"),
    [
        ("invalid_token", "OAUTHBEARER", "invalid_token"),
        ("insufficient_scope", "OAUTHBEARER", "insufficient_scope"),
        ("invalid_token", "XOAUTH2", "401"),
        ("insufficient_scope", "XOAUTH2", "403"),
    ],
)
def test_each_mechanism_states_the_error_its_own_way(status: str, mechanism: str, stated: str) -> None:
    assert TokenCheck(False, status, "smtp").status_for(mechanism) == stated


@given(st.text(alphabet=st.sampled_from('ab.-_=+/é{}":'), max_size=120))
def test_any_text_as_a_token_is_refused_without_raising(presented: str) -> None:
    check = accounts().check_token("bob@example.org", presented, "SMTP")
    assert (check.ok, check.status) == (False, "invalid_token")


@given(st.binary(max_size=96))
def test_a_badly_signed_token_of_any_signature_is_refused(signature: bytes) -> None:
    header, body, _ = token().split(".")
    forged = f"{header}.{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    assert not accounts().check_token("bob@example.org", forged, "IMAP").ok


@pytest.mark.parametrize("attempt", ["", "\0", NO_LOGIN, "\0\0"])
def test_a_mailbox_without_a_password_admits_nobody_by_any_mechanism(attempt: str) -> None:
    # A list address or a user who only receives: AUTH LOGIN can carry a NUL, PLAIN cannot; neither gets in.
    accounts = Accounts(users={"news@example.org": NO_LOGIN}, local_domains=frozenset({"example.org"}))
    assert accounts.find("news@example.org") == "news@example.org"  # the mailbox exists
    assert accounts.check_password("news@example.org", attempt) is None
    assert accounts.check_password("news", attempt) is None
    assert accounts.password("news@example.org") is None  # APOP and CRAM-MD5 find nothing to key a digest with
    assert accounts.secret("CRAM-MD5", "news@example.org") is None
    assert accounts.secret("SCRAM-SHA-256", "news@example.org") is None


def test_a_token_nested_too_deep_for_json_is_refused_without_a_traceback() -> None:
    # base64url of "[[[[...": json.loads would raise RecursionError, which is not a ValueError.
    bomb = tokens._b64(b"[" * 5000)
    for crafted in (f"{bomb}.{bomb}.{bomb}", f"{token().split('.')[0]}.{bomb}.AAAA"):
        check = accounts().check_token("bob@example.org", crafted, "IMAP")
        assert (check.ok, check.status) == (False, "invalid_token")


def test_a_token_names_its_user_as_a_password_login_does() -> None:
    policy = accounts()
    assert policy.check_token("bob", token(), "IMAP").ok  # the local part of a local domain is bob too
    assert policy.check_token("", token(), "IMAP") == TokenCheck(True, "", "imap", "bob@example.org")
    other = policy.check_token("alice@example.com", token(), "IMAP")
    assert (other.ok, other.status) == (False, "invalid_token")


def test_a_good_token_for_a_user_without_a_mailbox_here_is_refused_and_traced_as_refused() -> None:
    world = new_world(1)
    policy = Accounts(dict(USERS), frozenset({"example.org"}), (KEY.public,), world.network, "mx.example.org")
    check = policy.check_token("", token(subject="carol@example.org"), "IMAP")
    assert (check.ok, check.status) == (False, "invalid_token")
    (event,) = world.tracer.events
    assert event.summary == (
        "mx.example.org refuses the access token: issued to carol@example.org, who has no mailbox here"
    )


@pytest.mark.parametrize(
    ("user", "authzid", "expected"),
    [
        ("bob@example.org", "", "bob@example.org"),
        ("bob@example.org", "bob", "bob@example.org"),
        ("bob@example.org", "BOB@example.org", "bob@example.org"),
        ("bob@example.org", "alice@example.com", None),
        ("bob@example.org", "postmaster@example.org", None),
        (None, "", None),
    ],
)
def test_a_user_may_act_only_as_themselves(user: str | None, authzid: str, expected: str | None) -> None:
    assert accounts().acting_as(user, authzid) == expected
