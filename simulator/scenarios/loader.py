"""Scenario files: find one, read its TOML, validate it, build its world, and check its expectations.

    spec = load("basic")                 # a built-in name, or a path to a .toml file
    world = build(spec, seed=1)          # hosts, DNS, users, links, queue schedule, messages, faults
    check(sim)                           # the [[expect]] outcomes a finished run did not meet

Every mistake in a file becomes a ScenarioError whose text is one line a teacher can act
on: the file, the field path (counting tables from 1) and what was expected.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from simulator import faults
from simulator.mail import authentication, mta_sts, spam
from simulator.net.certificates import WorldPKI
from simulator.net.observers import Tap
from simulator.nodes.accounts import NO_LOGIN, SCOPES
from simulator.nodes.device import MailDevice
from simulator.nodes.dns_server import DNSServer
from simulator.nodes.mail_auth import DKIMSigner, InboundChecks
from simulator.nodes.mail_client import SMTP_PORT, MailClient
from simulator.nodes.mail_server import MailServer
from simulator.nodes.mailing_list import MailingList
from simulator.nodes.oauth_server import OAuthServer, TokenHolder, client_for
from simulator.nodes.tls_channel import ClientTLS, ServerTLS
from simulator.protocol.sasl import SASL_SERVERS
from simulator.scenarios.schema import ROLES, ClientHost, MailServerHost, ScenarioSpec, SpecProblem, User, domain_of
from simulator.world import World, new_world

if TYPE_CHECKING:
    from simulator.sim import Simulation

PACKAGE = "simulator.scenarios"
_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
_TOML_POSITION = re.compile(r"^(?P<what>.*?)\s*\(at (?P<where>line \d+, column \d+|end of document)\)$", re.DOTALL)
# What each pydantic type error means in TOML's words.
_EXPECTED_TYPE = {
    "string_type": "a string (in quotes)",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "an array",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "dict_type": "a table",
}


class ScenarioError(Exception):
    """A scenario that cannot be loaded or built; str() is one line: file, field path, what was expected."""

    def __init__(self, source: str, message: str, path: str = "") -> None:
        super().__init__(source, message, path)
        self.source, self.message, self.path = source, message, path

    def __str__(self) -> str:
        return ": ".join(part for part in (self.source, self.path, self.message) if part).replace("\n", " ")


class UnknownScenario(ScenarioError, KeyError):
    """No built-in scenario has that name; also a KeyError, as a failed look-up by name."""


# --- finding and reading ------------------------------------------------------------------------


def builtin_names() -> list[str]:
    """The built-in scenarios: the .toml files shipped in this package, by name."""
    files = resources.files(PACKAGE).iterdir()
    return sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml") and f.is_file())


def is_path(source: str) -> bool:
    """Whether `source` names a file rather than a built-in scenario."""
    return source.endswith(".toml") or "/" in source or "\\" in source


def load(source: str) -> ScenarioSpec:
    """Read and validate a scenario: a built-in name (see `smtpsim list`) or a path to a .toml file."""
    if is_path(source):
        try:
            data = Path(source).read_bytes()
        except FileNotFoundError:
            raise ScenarioError(
                source, "no such file; expected a built-in scenario name or the path of a .toml file"
            ) from None
        except OSError as exc:
            raise ScenarioError(source, f"cannot read it: {exc.strerror or exc}") from None
        return parse(data, source)
    resource = resources.files(PACKAGE) / f"{source}.toml"
    if not _NAME.fullmatch(source) or not resource.is_file():
        raise UnknownScenario(
            "scenario",
            f"unknown scenario {source!r}; built-in: {', '.join(builtin_names())}; or give the path of a .toml file",
        )
    return parse(resource.read_bytes(), f"{source}.toml")


def parse(data: bytes | str, source: str = "<scenario>") -> ScenarioSpec:
    """Validate the TOML text of a scenario; `source` names it in error messages."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ScenarioError(
                source, f"expected UTF-8 text, got byte 0x{data[exc.start]:02x}", f"byte {exc.start + 1}"
            ) from None
    try:
        document = tomllib.loads(data)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_POSITION.match(str(exc))
        what, where = (match["what"], match["where"]) if match else (str(exc), "")
        raise ScenarioError(source, f"not valid TOML: {what}", where) from None
    try:
        return ScenarioSpec.model_validate(document)
    except ValidationError as exc:
        # A misspelt field is also a missing one; its "unknown field" line is the one that helps.
        errors = sorted(exc.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
        path, message = _describe(errors[0])
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        raise ScenarioError(source, message, path) from None


# --- turning a validation error into one line ------------------------------------------------------


def _describe(error: ErrorDetails) -> tuple[str, str]:
    """The field path and what was expected, for the first error pydantic found."""
    loc, kind = error["loc"], error["type"]
    ctx = error.get("ctx", {})
    value = error["input"]
    path = _path(loc)
    if kind == "value_error":
        problem = ctx.get("error")
        if isinstance(problem, SpecProblem):
            return _join(path, problem.path), problem.message
        return path, str(problem) if problem is not None else error["msg"]
    if kind == "extra_forbidden":
        allowed = _fields_at(loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return path, f"unknown field{hint}; expected one of {', '.join(allowed)}"
    if kind == "missing":
        return path, "missing; this field is required"
    if kind == "union_tag_invalid":
        return _join(path, "role"), f"expected {_either(ROLES)}, got {ctx.get('tag')!r}"
    if kind == "union_tag_not_found":
        return _join(path, "role"), f"missing; expected {_either(ROLES)}"
    if kind == "literal_error":
        return path, f"expected {ctx.get('expected')}, got {_shown(value)}"
    if kind == "list_type" and isinstance(value, dict) and loc and isinstance(loc[-1], str):
        return path, f"expected an array of tables, written [[{loc[-1]}]], got a single table"
    if kind in ("model_type", "model_attributes_type", "dict_type") and isinstance(value, list) and loc:
        return path, f"expected one table, written [{loc[-1]}], got an array"
    if kind in _EXPECTED_TYPE:
        return path, f"expected {_EXPECTED_TYPE[kind]}, got {_shown(value)}"
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("more than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return path, f"expected a number {words} {_shown(ctx.get(key))}, got {_shown(value)}"
    if kind == "too_short":
        return path, f"expected at least {ctx.get('min_length')} item(s), got {_shown(value)}"
    if kind == "string_too_short":
        return path, f"expected text of at least {ctx.get('min_length')} character(s), got {_shown(value)}"
    message = str(error["msg"]).replace("Input should be ", "expected ")
    return path, f"{message}, got {_shown(value)}"


def _path(loc: tuple[int | str, ...]) -> str:
    """('host', 1, 'client', 'msa') -> 'host[2].msa': tables count from 1, the role tag is left out."""
    text = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            text += f"[{part + 1}]"
        elif not (i == 2 and loc[0] == "host" and part in ROLES):  # pydantic's tag of the host union
            text = _join(text, part)
    return text


def _join(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field


def _either(options: tuple[str, ...]) -> str:
    quoted = [repr(o) for o in options]
    return ", ".join(quoted[:-1]) + f" or {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def _shown(value: object) -> str:
    """A value as the teacher wrote it in TOML, short."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = repr(value) if isinstance(value, str | list) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fields_at(loc: tuple[int | str, ...]) -> list[str]:
    """The field names the table at `loc` takes, found by walking the schema's types."""
    current: object = ScenarioSpec
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            args = get_args(current)
            current = args[0] if args else None
        elif isinstance(current, type) and issubclass(current, BaseModel):
            current = next((f.annotation for n, f in current.model_fields.items() if (f.alias or n) == part), None)
        else:  # a union of tables told apart by a tag (the host roles)
            current = next((m for m in get_args(current) if part in _tags(m)), None)
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def _unwrap(annotation: object) -> object:
    """Annotated[X, ...] -> X; X | None -> X."""
    while True:
        args = [a for a in get_args(annotation) if a is not type(None)]
        annotated = hasattr(annotation, "__metadata__") and args
        if annotated or (get_origin(annotation) is not list and len(args) == 1):
            annotation = args[0]
        else:
            return annotation


def _tags(model: object) -> tuple[object, ...]:
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return ()
    role = model.model_fields.get("role")
    return get_args(role.annotation) if role is not None and get_origin(role.annotation) is Literal else ()


# --- building the world -----------------------------------------------------------------------------


def build(spec: ScenarioSpec, seed: int) -> World:
    """The world a scenario describes, with its messages submitted and its faults installed."""
    world = new_world(seed, show_tcp=spec.show_tcp)
    net, db = world.network, world.dns_db
    for host in spec.host:
        net.add_host(host.name, host.ip)
        db.add_a(host.name, host.ip)
    for a in spec.dns.a:
        db.add_a(a.name, a.ip)
    for mx in spec.dns.mx:
        db.add_mx(mx.domain, mx.preference, mx.exchange)
    for txt in spec.dns.txt:
        db.add_txt(txt.name, txt.text)
    resolver = spec.dns_server()
    if resolver is not None:
        DNSServer(net, resolver.name, db)
    schedule = spec.queue.schedule()
    tls_hosts = [s.name for s in spec.mail_servers() if s.starttls or s.implicit_tls]
    tls_hosts += [o.name for o in spec.oauth_servers()]  # token endpoints speak HTTPS only
    pki = world.pki = WorldPKI(tls_hosts) if tls_hosts else None
    issuers = {
        o.name: OAuthServer(net, o.name, tls=ServerTLS(pki, o.name), lifetime=o.token_lifetime)
        for o in spec.oauth_servers()
        if pki is not None
    }
    for server in spec.mail_servers():
        outbound = server.starttls_outbound
        world.servers[server.name] = MailServer(
            net,
            server.name,
            dns_server=resolver.name if resolver is not None else "",
            ledger=world.ledger,
            local_domains=frozenset(server.domains),
            users={u.address: _password(u) for u in spec.user if _logs_in_at(u, server)},
            mx=server.mx,
            submission=server.submission,
            relay_domains=frozenset(server.relay_domains),
            schedule=schedule,
            pop3=server.pop3,
            imap=server.imap,
            tls=ServerTLS(pki, server.name, server.certificate) if pki and server.name in tls_hosts else None,
            starttls=server.starttls,
            implicit_tls=server.implicit_tls,
            submission_requires_tls=server.submission_requires_tls,
            starttls_outbound=outbound,
            outbound_tls=ClientTLS(pki, verify=outbound == "required") if pki is not None else None,
            vulnerable=frozenset(server.vulnerable),
            sasl_mechanisms=_mechanisms_at(spec, server),
            trusted_issuers=tuple(issuer.trusted for issuer in issuers.values()),
        )
        world.servers[server.name].honours_mta_sts = server.mta_sts_outbound
    _publish_mta_sts(spec, world)
    _set_up_mail_auth(spec, world)
    for observer in spec.observer:
        net.taps.append(Tap(observer.name, frozenset(observer.between)))
    passwords = {u.address.lower(): _password(u) for u in spec.user}
    for client in spec.clients():
        if client.direct_to is not None:  # spam software: straight to port 25, no login
            world.clients[client.user.lower()] = MailClient(
                net, client.name, msa=client.direct_to, username=None, password="", ledger=world.ledger,
                port=SMTP_PORT,
            )  # fmt: skip
            continue
        password = client.password if client.password is not None else passwords[client.user.lower()]
        tokens = _enrol(client, issuers, pki)
        if client.msa is not None:
            world.clients[client.user.lower()] = MailClient(
                net, client.name, msa=client.msa, username=client.user, password=password, ledger=world.ledger,
                starttls=client.starttls, implicit_tls=client.implicit_tls,
                tls=ClientTLS(pki, verify=_verifies(client)) if pki is not None else None,
                auth=client.auth, tokens=tokens,
            )  # fmt: skip
        home = client.reads_at(spec)
        if client.retrieval is not None and home is not None:
            device = MailDevice(
                net, client.name, user=client.user, password=password, server=home.name, profile=client.retrieval,
                reads=client.reads, idle_for=client.idle_for, starttls=client.starttls,
                implicit_tls=client.implicit_tls,
                tls=ClientTLS(pki, verify=_verifies(client)) if pki is not None else None,
                auth=client.auth, tokens=tokens,
            )  # fmt: skip
            world.devices[client.name] = device
            for at in client.check_at:
                world.kernel.schedule(at, device.check_mail)
    for link in spec.link:
        path = net.link(link.between[0], link.between[1])
        path.latency, path.loss, path.bandwidth = link.latency, link.loss, link.bandwidth
    # Faults first: one switched on at time 0 is in place before a message submitted at 0 moves.
    for i, entry in enumerate(spec.fault, 1):
        try:
            entry.fault().install(world)
        except faults.FaultSpecError as exc:
            raise ScenarioError("scenario", str(exc), f"fault[{i}].spec") from None
    for message in spec.message:
        world.submit(message.sender, list(message.to), message.content(), message.at)
    return world


def _publish_mta_sts(spec: ScenarioSpec, world: World) -> None:
    """Each policy's TXT record and policy host in DNS, and the policy file on the world's web (RFC 8461 §3)."""
    hosts = spec.hosts_named()
    for policy in spec.mta_sts:
        served_by = policy.served_by or next(s.name for s in spec.mail_servers() if policy.domain in s.domains)
        world.dns_db.add_txt(mta_sts.record_name(policy.domain), mta_sts.record_text(policy.id))
        world.dns_db.add_a(f"mta-sts.{policy.domain}", hosts[served_by].ip)
        world.network.web[mta_sts.policy_url(policy.domain)] = (served_by, policy.policy_text())


def _mechanisms_at(spec: ScenarioSpec, server: MailServerHost) -> tuple[str, ...]:
    """What a server's AUTH offers: PLAIN and LOGIN, as Postfix and Dovecot do out of the box, and each
    mechanism one of its clients is set up to use (RFC 4954 §3, RFC 5034 §4, RFC 3501 §6.2.2)."""
    used = {c.auth.upper() for c in spec.clients() if c.auth and server.name in (c.msa, _home(spec, c))}
    return tuple(m for m in SASL_SERVERS if m in {"PLAIN", "LOGIN"} | used)


def _home(spec: ScenarioSpec, client: ClientHost) -> str | None:
    home = client.reads_at(spec) if client.retrieval is not None else None
    return home.name if home is not None else None


def _enrol(client: ClientHost, issuers: dict[str, OAuthServer], pki: WorldPKI | None) -> TokenHolder | None:
    """A device set up for OAuth 2.0: the user signed in on it once, so it holds a refresh token and an
    access token issued at the start (RFC 6749 §1.5), for the scopes its programs need."""
    issuer = issuers.get(client.oauth_server or "")
    if issuer is None or pki is None or client.auth not in ("xoauth2", "oauthbearer"):
        return None
    scope: tuple[str, ...] = ()
    if client.msa is not None:
        scope += (SCOPES["SMTP"],)
    if client.retrieval is not None:
        scope += (SCOPES["IMAP"] if client.retrieval.startswith("imap") else SCOPES["POP3"],)
    client_id = client_for(client.name)
    refresh_token, access_token = issuer.enroll(client.user, client_id, scope)
    return TokenHolder(
        issuer.network, client.name, server=issuer.name, tls=ClientTLS(pki, verify=True), client_id=client_id,
        user=client.user, scope=scope, refresh_token=refresh_token, access_token=access_token,
    )  # fmt: skip


def _verifies(client: ClientHost) -> bool:
    """A client that insists on TLS checks the certificate too (RFC 8314 §3.3); an opportunistic one does not."""
    return client.implicit_tls or client.starttls == "required"


def _logs_in_at(user: User, server: MailServerHost) -> bool:
    """Whether a server knows this user: its own domains' users, and those it lets submit."""
    address = user.address.lower()
    return domain_of(address) in server.domains or address in (a.lower() for a in server.submission_users)


def _set_up_mail_auth(spec: ScenarioSpec, world: World) -> None:
    """DKIM signing and its keys in DNS, the checks on port 25, and the mailing lists, as the scenario asks."""
    for server in spec.mail_servers():
        node = world.servers[server.name]
        if server.dkim is not None:
            # It signs for its own domains and for those of the users of other domains it lets submit.
            domains = frozenset(server.domains) | {domain_of(a.lower()) for a in server.submission_users}
            node.mail_auth.signer = DKIMSigner(server.dkim.selector, server.dkim.key, domains)
            if server.dkim.publish:
                record = authentication.shipped_key(server.dkim.key).txt_record
                for domain in sorted(domains):
                    world.dns_db.add_txt(authentication.key_name(domain, server.dkim.selector), record)
        if server.sender_auth or server.spam_filter:
            thresholds = spam.Thresholds(server.spam_junk, server.spam_reject) if server.spam_filter else None
            node.mail_auth.inbound = InboundChecks(server.name, world.dns_db, server.sender_auth, thresholds)
    for entry in spec.mailing_list:
        world.servers[entry.server].host_list(MailingList(entry.address, tuple(entry.members), entry.footer))


def _password(user: User) -> str:
    # A user without a password has no client, so nobody logs in as them, with any mechanism.
    return user.password if user.password is not None else NO_LOGIN


# --- checking a run against the file's [[expect]] ---------------------------------------------------------


def check(sim: Simulation) -> list[str]:
    """The [[expect]] outcomes the simulation does not show (empty when all are met), one line each."""
    spec = sim.spec
    # build() submits the file's messages first and in order, so they open the ledger.
    ids = list(sim.world.ledger.messages)[: len(spec.message)]
    outcomes = {(o.message_id, o.recipient.lower()): o for o in sim.outcome()}
    unmet: list[str] = []
    for i, expect in enumerate(spec.expect, 1):
        label = f"expect[{i}]: message {expect.message} to {expect.recipient}"
        outcome = outcomes.get((ids[expect.message - 1], expect.recipient.lower()))
        if outcome is None:
            unmet.append(f"{label}: expected {expect.status}, but the message was never submitted")
            continue
        got = outcome.status + (f" at {outcome.where}" if outcome.where else "")
        if outcome.detail:
            got += f" ({outcome.detail})"
        if outcome.status != expect.status:
            unmet.append(f"{label}: expected {expect.status}, got {got}")
        elif expect.where is not None and outcome.where != expect.where:
            unmet.append(f"{label}: expected {expect.status} at {expect.where}, got {got}")
        elif expect.copies is not None and outcome.copies != expect.copies:
            unmet.append(f"{label}: expected {expect.copies} copies, got {outcome.copies}")
    for i, shown in enumerate(spec.expect_device, 1):
        device = sim.devices[shown.device]
        subjects = [m.subject for m in device.messages.values()]
        unread = device.unread
        if len(subjects) != shown.shows or (shown.subjects is not None and subjects != shown.subjects):
            unmet.append(
                f"expect_device[{i}]: {shown.device} should show {shown.shows} message(s)"
                + (f" {shown.subjects}" if shown.subjects is not None else "")
                + f", it shows {len(subjects)} {subjects}"
            )
        elif shown.unread is not None and unread != shown.unread:
            unmet.append(f"expect_device[{i}]: {shown.device} should show {shown.unread} unread, it shows {unread}")
    for i, box in enumerate(spec.expect_mailbox, 1):
        held = len(sim.mailbox(box.address))
        if held != box.holds:
            unmet.append(f"expect_mailbox[{i}]: {box.address} should hold {box.holds} message(s), it holds {held}")
    unmet += _unmet_auth(sim, ids)
    return unmet


def _unmet_auth(sim: Simulation, ids: list[str]) -> list[str]:
    """The [[expect_auth]] entries the recipients' MX hosts did not conclude, one line each."""
    unmet: list[str] = []
    for i, expect in enumerate(sim.spec.expect_auth, 1):
        label = f"expect_auth[{i}]: message {expect.message} to {expect.recipient}"
        message_id = ids[expect.message - 1] if expect.message <= len(ids) else ""
        recipient = expect.recipient.lower()
        # The last check of that message for that recipient: a resend after a lost reply is checked again.
        found = [
            s
            for server in sim.world.servers.values()
            for s in server.mail_auth.screenings
            if s.message_id == message_id and recipient in (r.lower() for r in s.recipients)
        ]
        if not found:
            unmet.append(f"{label}: expected it to be checked on arrival, but it never reached its MX")
            continue
        got = found[-1]
        wanted = {"spf": expect.spf, "dkim": expect.dkim, "dmarc": expect.dmarc, "spam": expect.spam}
        for name, value in wanted.items():
            seen = getattr(got, name)
            if value is not None and seen != value:
                unmet.append(f"{label}: expected {name}={value}, got {name}={seen or '(not checked)'}")
        if expect.folder is not None and got.folder != expect.folder:
            where = f"the {got.folder} folder" if got.folder else f"no folder: it was refused ({got.action})"
            unmet.append(f"{label}: expected it in the {expect.folder} folder, got {where}")
    return unmet
