"""The scenario file format: a world described in TOML, as pydantic models that check every field.

A scenario file names its hosts (`[[host]]`, each a client, a mail server or the DNS
server), its users, DNS records, links, retry schedule, the messages sent, the faults
injected and the outcomes a lesson expects. Unknown fields are errors, so a typo never
passes silently, and the cross-checks at the end catch a name that points nowhere.

Paths in error messages count from 1, as a teacher counts tables: `host[2]` is the
second `[[host]]` table, and `expect.message = 1` means the first `[[message]]`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from simulator import faults
from simulator.mail.authentication import shipped_key_names
from simulator.mail.headers import header_values
from simulator.mail.queue import RetrySchedule
from simulator.mail.spam import JUNK_THRESHOLD, REJECT_THRESHOLD
from simulator.net.network import Link
from simulator.nodes.mailing_list import DEFAULT_FOOTER

ROLES = ("client", "mail-server", "dns", "oauth")

# RFC 1123 §2.1 host names: letters, digits and inner hyphens, at most 63 per label, 253 in all.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")
# Deliberately loose (RFC 5321 §4.1.2 is not the lesson here): something@a-host-name, no spaces or brackets.
_LOCAL_PART = re.compile(r"[^\s<>@\"()\[\],;:]+")
_DEFAULT_SCHEDULE = RetrySchedule()
_DEFAULT_LINK = Link()


class SpecProblem(ValueError):
    """A mistake found by a cross-check, with the path of the field at fault.

    The path is relative to the table whose validator raised it (the whole file for the
    cross-checks at the end), so the loader can put the two together.
    """

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path, self.message = path, message


def _hostname(value: str) -> str:
    """A host or domain name in the lower case DNS keys it by; ValueError says what was expected."""
    name = value.strip().rstrip(".").lower()
    if not _HOSTNAME.fullmatch(name):
        raise ValueError(f"expected a host or domain name such as 'mx.example.org', got {value!r}")
    return name


# Owner names of records may also have labels that start with an underscore, such as _dmarc and
# _domainkey: they name a service, not a host (RFC 8552 §1.1).
_RECORD_NAME = re.compile(rf"(?=.{{1,253}}$)(?:_?{_LABEL}\.)*{_LABEL}")


def _record_name(value: str) -> str:
    """The owner name of a DNS record, in lower case: a host name, or one with underscore labels in front."""
    name = value.strip().rstrip(".").lower()
    if not _RECORD_NAME.fullmatch(name):
        raise ValueError(f"expected a domain name such as 'example.org' or '_dmarc.example.org', got {value!r}")
    return name


def _ipv4(value: str) -> str:
    """An IPv4 address in canonical form (the world's DNS holds A records only)."""
    try:
        return str(ipaddress.IPv4Address(value.strip()))
    except ValueError:
        raise ValueError(f"expected an IPv4 address such as '192.0.2.25', got {value!r}") from None


def _address(value: str) -> str:
    """A mail address with its domain in lower case, as the servers compare it."""
    local, at, domain = value.strip().rpartition("@")
    if not at or not _LOCAL_PART.fullmatch(local) or not _HOSTNAME.fullmatch(domain.lower()):
        raise ValueError(f"expected a mail address such as 'bob@example.org', got {value!r}")
    return f"{local}@{domain.lower()}"


def _two_different(names: list[str]) -> list[str]:
    """The two ends of a link: two names, not the same one twice."""
    if len(names) != 2 or names[0] == names[1]:
        raise ValueError(f"expected two different host names, got {names}")
    return names


HostName = Annotated[str, AfterValidator(_hostname)]
RecordName = Annotated[str, AfterValidator(_record_name)]
IPv4 = Annotated[str, AfterValidator(_ipv4)]
Address = Annotated[str, AfterValidator(_address)]
HostPair = Annotated[list[HostName], AfterValidator(_two_different)]


def domain_of(address: str) -> str:
    """The domain of a validated address: the part that decides which server holds its mailbox."""
    return address.rpartition("@")[2]


class _Table(BaseModel):
    """Every table: unknown keys are errors, and TOML's types are taken as written (no "1" for 1)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# --- hosts ------------------------------------------------------------------------------------


RETRIEVAL_PROFILES = ("pop3-download-delete", "pop3-leave-on-server", "imap", "imap-idle")


class ClientHost(_Table):
    """A user's computer or phone with a mail program: it submits mail to the MSA, reads it, or both."""

    name: HostName
    ip: IPv4
    role: Literal["client"]
    user: Address  # whose device: a [[user]] with a password
    msa: HostName | None = None  # the mail-server it submits to (port 587, AUTH); none for a device that only reads
    retrieval: Literal["pop3-download-delete", "pop3-leave-on-server", "imap", "imap-idle"] | None = None
    mailbox_server: HostName | None = None  # where it reads mail; the mail-server of the user's domain by default
    check_at: list[Annotated[float, Field(ge=0)]] = []  # simulated seconds at which it checks for mail
    reads: bool = False  # the user reads what it shows between checks (marks it \Seen)
    idle_for: float = Field(default=600.0, gt=0, le=1740)  # imap-idle: seconds it stays in IDLE (RFC 2177: < 29 min)
    # STARTTLS when submitting (RFC 3207) and STLS / STARTTLS when reading (RFC 2595 §4, RFC 3501 §6.2.1):
    # "opportunistic" encrypts if offered without checking the certificate (RFC 7435); "required"
    # insists on TLS and checks the certificate (RFC 8314 §3.3).
    starttls: Literal["never", "opportunistic", "required"] = "never"
    # Use the implicit-TLS ports instead: 465 to submit, 995 or 993 to read, where TLS starts with the
    # first byte and the certificate is checked (RFC 8314 §3).
    implicit_tls: bool = False
    # How its mail program logs in: a SASL mechanism (RFC 4954 AUTH, RFC 5034 POP3 AUTH, RFC 3501
    # AUTHENTICATE), or by default AUTH PLAIN to send and USER/PASS or LOGIN to read. "xoauth2" and
    # "oauthbearer" send an OAuth 2.0 access token from `oauth_server` instead of the password (RFC 7628).
    auth: Literal["plain", "login", "cram-md5", "scram-sha-256", "xoauth2", "oauthbearer"] | None = None
    oauth_server: HostName | None = None  # the role = "oauth" host that issues its tokens
    password: str | None = None  # the password its mail program has saved: the user's own unless given
    # Spam software: hand mail straight to this mail-server's port 25, without logging in. Its user
    # need not be a [[user]] of the world (the sender address is whatever the spammer writes).
    direct_to: HostName | None = None

    def reads_at(self, spec: ScenarioSpec) -> MailServerHost | None:
        """The mail-server this device reads from: the one named, or the one holding the user's domain."""
        if self.mailbox_server is not None:
            named = spec.hosts_named().get(self.mailbox_server)
            return named if isinstance(named, MailServerHost) else None
        domain = domain_of(self.user.lower())
        return next((s for s in spec.mail_servers() if domain in s.domains), None)


class DKIMSpec(_Table):
    """How a mail server DKIM-signs the mail its users submit (RFC 6376 §5): which key, under which selector."""

    key: str  # one of the keys shipped with the simulator (simulator/mail/keys/<key>.pem)
    selector: str = "mail"  # the s= tag; the public key goes at <selector>._domainkey.<domain>
    # Publish the public key in DNS by itself; false leaves it out: the "DKIM key missing" fault.
    publish: bool = True

    @model_validator(mode="after")
    def _known_key(self) -> DKIMSpec:
        names = shipped_key_names()
        if self.key not in names:
            raise SpecProblem("key", f"expected one of the shipped DKIM keys ({', '.join(names)}), got {self.key!r}")
        if not _HOSTNAME.fullmatch(self.selector.lower()):
            raise SpecProblem("selector", f"expected a DNS label such as 'mail', got {self.selector!r}")
        return self


class MailServerHost(_Table):
    """A mail server: MX for its domains, MSA when `submission`, relay with a queue, mailbox store."""

    name: HostName
    ip: IPv4
    role: Literal["mail-server"]
    domains: list[HostName] = []  # local domains: the mailboxes of their users live here
    mx: bool = True  # listen on port 25
    submission: bool = False  # listen on port 587 for its users' mail programs
    relay_domains: list[HostName] = []  # also accept on port 25 for these domains (a backup MX)
    submission_users: list[Address] = []  # users of other domains who may also log in on port 587 here
    pop3: bool = False  # listen on port 110: its users read their INBOX with POP3
    imap: bool = False  # listen on port 143: its users read and organise their mail with IMAP
    # Offer STARTTLS on its SMTP ports (RFC 3207), STLS on POP3 and STARTTLS on IMAP (RFC 2595 §4,
    # RFC 3501 §6.2.1), with a certificate from the world's own CA.
    starttls: bool = False
    submission_requires_tls: bool = False  # offer AUTH on port 587 only after STARTTLS (RFC 8314 §3.3)
    # How its relay uses STARTTLS towards other MX hosts: "opportunistic" encrypts when offered without
    # checking the certificate (RFC 7435, Postfix "may"); "required" insists and checks it (Postfix "secure").
    starttls_outbound: Literal["never", "opportunistic", "required"] = "never"
    # Its relay fetches the MTA-STS policy of each domain it sends to and honours it (RFC 8461 §5).
    mta_sts_outbound: bool = False
    # The certificate it presents: a good one, or one a checking client refuses.
    certificate: Literal["ok", "expired", "wrong-host", "untrusted"] = "ok"
    # Also listen on the implicit-TLS ports, where TLS starts with the first byte (RFC 8314 §3):
    # 465 for submission, 993 for IMAP, 995 for POP3.
    implicit_tls: bool = False
    # Weaknesses switched on for an attack demonstration; by default the host refuses each of them.
    vulnerable: list[Literal["open-relay", "smtp-smuggling", "command-injection"]] = []
    # DKIM-sign what its users submit, with d= the From domain when that is one of its domains or a
    # domain of its submission_users: dkim = { key = "example.com", selector = "mail" }.
    dkim: DKIMSpec | None = None
    # On port 25, check SPF, DKIM and DMARC (RFC 7208, 6376, 7489), prepend Authentication-Results
    # (RFC 8601) and apply the From domain's DMARC policy: quarantine files in Junk, reject refuses (550 5.7.1).
    sender_auth: bool = False
    # On port 25, score each message with the spam filter (X-Spam-* fields): from spam_junk points it
    # goes into the Junk folder, from spam_reject it is refused with 550 5.7.1 (SpamAssassin's 5 by default).
    spam_filter: bool = False
    spam_junk: float = Field(default=JUNK_THRESHOLD, gt=0)
    spam_reject: float = Field(default=REJECT_THRESHOLD, gt=0)


class OAuthHost(_Table):
    """An OAuth 2.0 authorization server: devices get access tokens from it over HTTPS (RFC 6749 §6)."""

    name: HostName
    ip: IPv4
    role: Literal["oauth"]
    token_lifetime: float = Field(default=3600.0, gt=0)  # seconds an access token is good for (expires_in)


class DNSHost(_Table):
    """The world's DNS server: every mail server asks it for MX and A records."""

    name: HostName
    ip: IPv4
    role: Literal["dns"]


Host = Annotated[ClientHost | MailServerHost | DNSHost | OAuthHost, Field(discriminator="role")]


class User(_Table):
    """A person with a mailbox on the mail server of their domain."""

    address: Address
    # Needed by a user whose computer submits mail; optional otherwise. Never empty: an empty password
    # would let anyone in (Dovecot refuses them too).
    password: str | None = Field(default=None, min_length=1)


# --- DNS, links, queue --------------------------------------------------------------------------


class MXRecord(_Table):
    """Which host takes mail for a domain; the lowest preference is tried first (RFC 5321 §5.1)."""

    domain: HostName
    preference: int = Field(default=10, ge=0, le=65535)
    host: str  # a host name, or "." for a null MX (RFC 7505: this domain takes no mail)

    @model_validator(mode="after")
    def _host_is_a_name(self) -> MXRecord:
        if self.host.strip() != ".":
            try:
                _hostname(self.host)
            except ValueError as exc:
                raise SpecProblem("host", f"{exc} (or '.' for a null MX)") from None
        return self

    @property
    def exchange(self) -> str:
        return "." if self.host.strip() == "." else _hostname(self.host)


class ARecord(_Table):
    """An extra address record, for a name that is not one of the [[host]] tables."""

    name: HostName
    ip: IPv4


class TXTRecord(_Table):
    """A text record, such as an SPF policy, a DMARC policy (at _dmarc.<domain>) or a DKIM key."""

    name: RecordName
    text: str


class DNSZones(_Table):
    """Records beyond the A record every host gets on its own."""

    mx: list[MXRecord] = []
    a: list[ARecord] = []
    txt: list[TXTRecord] = []


class LinkSpec(_Table):
    """The path between two hosts; a pair with no [[link]] gets the network's default (5 ms, no loss)."""

    between: HostPair
    latency: float = Field(default=_DEFAULT_LINK.latency, ge=0)  # seconds, one way
    loss: float = Field(default=0.0, ge=0, lt=1)  # probability a segment is lost (1 would never arrive)
    bandwidth: float | None = Field(default=None, gt=0)  # octets per second; none means unlimited


class QueueSpec(_Table):
    """The retry schedule of every mail server's outbound queue; Postfix's defaults unless given."""

    first_retry: float = Field(default=_DEFAULT_SCHEDULE.first_retry, gt=0)
    max_backoff: float = Field(default=_DEFAULT_SCHEDULE.max_backoff, gt=0)
    lifetime: float = Field(default=_DEFAULT_SCHEDULE.lifetime, gt=0)
    delay_warning: float = Field(default=_DEFAULT_SCHEDULE.delay_warning, gt=0)

    def schedule(self) -> RetrySchedule:
        return RetrySchedule(self.first_retry, self.max_backoff, self.lifetime, self.delay_warning)


# --- what happens ------------------------------------------------------------------------------


class MessageSpec(_Table):
    """A message a user's mail program submits at simulated time `at`."""

    sender: Address = Field(alias="from")
    to: list[Address] = Field(min_length=1)
    at: float = Field(default=0.0, ge=0)
    subject: str | None = None
    body: str | None = None
    raw: str | None = None  # the whole RFC 5322 message instead of subject and body
    # Send `raw` byte for byte, line ends as written (TOML escapes \r\n, and a bare \n): for attack
    # demonstrations such as SMTP smuggling. Otherwise every line end becomes CRLF (RFC 5322 §2.1).
    exact: bool = False

    @model_validator(mode="after")
    def _raw_or_parts(self) -> MessageSpec:
        if self.raw is not None and (self.subject is not None or self.body is not None):
            raise ValueError("expected either raw or subject and body, not both")
        if self.exact and self.raw is None:
            raise ValueError("expected raw with exact = true (it sends raw byte for byte)")
        return self

    def content(self) -> bytes:
        """The message as its mail program sends it: CRLF line ends, as on the wire (RFC 5322 §2.1)."""
        if self.raw is not None and self.exact:
            return self.raw.encode()
        if self.raw is not None:
            text = self.raw
        else:
            head = f"From: {self.sender}\nTo: {', '.join(self.to)}\n"
            if self.subject is not None:
                head += f"Subject: {self.subject}\n"
            text = f"{head}\n{self.body or ''}"
        lines = text.replace("\r\n", "\n").split("\n")
        if lines[-1] == "":
            lines.pop()
        return "".join(f"{line}\r\n" for line in lines).encode()


class ObserverSpec(_Table):
    """An eavesdropper on the link between two hosts: it keeps every byte that crosses it and changes nothing."""

    name: str = Field(default="eavesdropper", min_length=1)
    between: HostPair


class MTASTSSpec(_Table):
    """A domain's MTA-STS policy (RFC 8461): a TXT record at _mta-sts.DOMAIN and a policy file over HTTPS."""

    domain: HostName
    mode: Literal["enforce", "testing", "none"] = "enforce"
    mx: list[str] = []  # host names or *.domain patterns the domain's mail may go to (RFC 8461 §3.2)
    max_age: int = Field(default=604800, ge=0, le=31557600)  # seconds a sender may cache the policy
    id: str = Field(default="20260101", pattern=r"^[A-Za-z0-9]{1,32}$")  # changes when the policy does (§3.1)
    served_by: HostName | None = None  # the [[host]] that answers for mta-sts.DOMAIN; the domain's mail-server

    def policy_text(self) -> str:
        """The policy file as served at https://mta-sts.DOMAIN/.well-known/mta-sts.txt (RFC 8461 §3.2)."""
        lines = ["version: STSv1", f"mode: {self.mode}", *(f"mx: {mx}" for mx in self.mx), f"max_age: {self.max_age}"]
        return "".join(f"{line}\r\n" for line in lines)


class FaultSpec(_Table):
    """A fault, written as for `smtpsim run --fault`: KIND:TARGET[=VALUE][,at=S][,for=S][,p=P][,once]."""

    spec: str

    @model_validator(mode="after")
    def _parses(self) -> FaultSpec:
        self.fault()
        return self

    def fault(self) -> faults.Fault:
        """A fresh Fault object (each world gets its own, since a fault keeps state)."""
        try:
            return faults.parse(self.spec)
        except faults.FaultSpecError as exc:
            raise SpecProblem("spec", str(exc)) from None


class ExpectSpec(_Table):
    """An outcome the lesson expects for one recipient of one message."""

    message: int = Field(ge=1)  # 1 is the first [[message]]
    recipient: Address
    status: Literal["delivered", "bounced", "queued", "rejected"]
    copies: int | None = Field(default=None, ge=0)  # 2 shows an RFC 1047 duplicate
    where: HostName | None = None  # the host holding it at the end: the mailbox's server, or a queue


class DeviceExpectSpec(_Table):
    """What a device that reads mail shows at the end: how many messages, and their subjects in order."""

    device: HostName
    shows: int = Field(ge=0)
    subjects: list[str] | None = None
    unread: int | None = Field(default=None, ge=0)  # how many of them it shows without \Seen


AuthResultName = Literal["pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"]


class MailingListSpec(_Table):
    """A mailing list: mail to its address goes on to every member, with a footer added to the body."""

    address: Address  # the list address, such as "lunch@lists.example.net"
    server: HostName  # the mail-server that hosts it; the list's domain must be one of its domains
    members: list[Address] = Field(min_length=1)
    footer: str = DEFAULT_FOOTER  # "{address}" stands for the list address


class AuthExpectSpec(_Table):
    """What the recipient's MX found when it checked one message, and where it filed it.

    Results are named as in Authentication-Results (RFC 8601 §2.7); a field left out is not checked.
    """

    message: int = Field(ge=1)  # 1 is the first [[message]]
    recipient: Address  # one of the message's recipients, or a member of a list it was sent to
    spf: AuthResultName | None = None
    dkim: AuthResultName | None = None  # the topmost signature's result; "none" when unsigned
    dmarc: Literal["pass", "fail", "none", "temperror", "permerror"] | None = None
    spam: Literal["accept", "junk", "reject"] | None = None  # the spam filter's decision
    folder: Literal["INBOX", "Junk"] | None = None  # where it was filed; a refused message has none


class MailboxExpectSpec(_Table):
    """How many messages a user's INBOX on the server holds at the end."""

    address: Address
    holds: int = Field(ge=0)


# --- the file ------------------------------------------------------------------------------------


class ScenarioSpec(_Table):
    """One scenario file."""

    description: str
    seed: int | None = None  # the default seed; `--seed` wins
    show_tcp: bool = False  # show TCP handshakes, FINs and retransmissions in the trace
    host: list[Host] = Field(min_length=1)
    user: list[User] = []
    dns: DNSZones = DNSZones()
    link: list[LinkSpec] = []
    queue: QueueSpec = QueueSpec()
    message: list[MessageSpec] = []
    fault: list[FaultSpec] = []
    observer: list[ObserverSpec] = []
    mta_sts: list[MTASTSSpec] = []
    expect: list[ExpectSpec] = []
    expect_device: list[DeviceExpectSpec] = []
    expect_mailbox: list[MailboxExpectSpec] = []
    mailing_list: list[MailingListSpec] = []
    expect_auth: list[AuthExpectSpec] = []

    @model_validator(mode="after")
    def _cross_check(self) -> ScenarioSpec:
        _check_hosts(self)
        _check_tls(self)
        _check_users_and_clients(self)
        _check_submission_users(self)
        _check_dns_and_links(self)
        _check_messages(self)
        _check_faults(self)
        _check_observers_and_policies(self)
        _check_expectations(self)
        _check_retrieval_expectations(self)
        _check_mail_auth(self)
        return self

    def hosts_named(self) -> dict[str, ClientHost | MailServerHost | DNSHost | OAuthHost]:
        return {h.name: h for h in self.host}

    def mail_servers(self) -> list[MailServerHost]:
        return [h for h in self.host if isinstance(h, MailServerHost)]

    def clients(self) -> list[ClientHost]:
        return [h for h in self.host if isinstance(h, ClientHost)]

    def dns_server(self) -> DNSHost | None:
        return next((h for h in self.host if isinstance(h, DNSHost)), None)

    def oauth_servers(self) -> list[OAuthHost]:
        return [h for h in self.host if isinstance(h, OAuthHost)]


# --- cross-checks: each raises the first problem it finds ------------------------------------------


def _check_hosts(spec: ScenarioSpec) -> None:
    names: dict[str, int] = {}
    ips: dict[str, int] = {}
    for i, host in enumerate(spec.host, 1):
        if host.name in names:
            raise SpecProblem(
                f"host[{i}].name", f"expected a name no other host has, got {host.name!r} (host[{names[host.name]}])"
            )
        if host.ip in ips:
            raise SpecProblem(
                f"host[{i}].ip", f"expected an address no other host has, got {host.ip} (host[{ips[host.ip]}])"
            )
        names[host.name], ips[host.ip] = i, i
    dns_hosts = [h for h in spec.host if isinstance(h, DNSHost)]
    if spec.mail_servers() and len(dns_hosts) != 1:
        raise SpecProblem(
            "host",
            "expected exactly one host with role = 'dns' (the mail servers ask it for MX records), "
            f"got {len(dns_hosts)}",
        )


def _check_tls(spec: ScenarioSpec) -> None:
    named = spec.hosts_named()
    for i, host in enumerate(spec.host, 1):
        if isinstance(host, ClientHost) and host.implicit_tls:
            if host.starttls != "never":
                raise SpecProblem(
                    f"host[{i}].starttls", "expected 'never' with implicit_tls = true: TLS is on from the first byte"
                )
            for field, server_name in (("msa", host.msa), ("mailbox_server", _reads_from(spec, host))):
                server = named.get(server_name) if server_name is not None else None
                if isinstance(server, MailServerHost) and not server.implicit_tls:
                    raise SpecProblem(
                        f"host[{i}].implicit_tls",
                        f"expected implicit_tls = true on {server.name} as well (the {field} it connects to)",
                    )
        if not isinstance(host, MailServerHost) or host.starttls:
            continue
        if host.submission_requires_tls:
            raise SpecProblem(f"host[{i}].submission_requires_tls", "expected starttls = true on this host as well")
        if host.certificate != "ok" and not host.implicit_tls:
            raise SpecProblem(
                f"host[{i}].certificate", "expected starttls or implicit_tls = true: only a TLS server presents one"
            )


def _reads_from(spec: ScenarioSpec, client: ClientHost) -> str | None:
    """The mail-server a reading device connects to, if it reads and one is found."""
    if client.retrieval is None:
        return None
    server = client.reads_at(spec)
    return server.name if server is not None else None


def _check_users_and_clients(spec: ScenarioSpec) -> None:
    held = sorted({d for s in spec.mail_servers() for d in s.domains})
    seen: dict[str, int] = {}
    for i, user in enumerate(spec.user, 1):
        key = user.address.lower()
        if key in seen:
            raise SpecProblem(
                f"user[{i}].address", f"expected each user once, got {user.address!r} again (user[{seen[key]}])"
            )
        seen[key] = i
        if domain_of(key) not in held:
            raise SpecProblem(
                f"user[{i}].address",
                f"expected an address in a domain some mail-server holds ({', '.join(held) or 'none yet'}), "
                f"got {user.address!r}",
            )
    users = {u.address.lower(): u for u in spec.user}
    owners: dict[str, int] = {}
    for i, host in enumerate(spec.host, 1):
        if not isinstance(host, ClientHost):
            continue
        _check_login(spec, i, host)
        if host.direct_to is not None:
            if host.msa is not None or host.retrieval is not None:
                raise SpecProblem(f"host[{i}].direct_to", "expected no msa and no retrieval on a host that uses it")
            _check_direct(spec, i, host, owners)
            continue
        owner = users.get(host.user.lower())
        if owner is None:
            raise SpecProblem(f"host[{i}].user", f"expected one of the [[user]] addresses, got {host.user!r}")
        if owner.password is None and host.password is None:
            raise SpecProblem(f"host[{i}].user", f"{host.user} has no password, and the device needs one to log in")
        if host.msa is None and host.retrieval is None:
            raise SpecProblem(
                f"host[{i}]", "expected msa (the device sends mail), retrieval (it reads mail), both, or direct_to"
            )
        if host.msa is not None:
            _check_sender(spec, i, host, owners)
        if host.retrieval is not None:
            _check_reader(spec, i, host)
        elif host.check_at:
            raise SpecProblem(f"host[{i}].check_at", "expected only with retrieval (a device that reads mail)")


def _check_login(spec: ScenarioSpec, i: int, host: ClientHost) -> None:
    """OAuth mechanisms need an authorization server to get tokens from; the others must not name one."""
    wants_token = host.auth in ("xoauth2", "oauthbearer")
    if wants_token:
        servers = [s.name for s in spec.oauth_servers()]
        if host.oauth_server not in servers:
            raise SpecProblem(
                f"host[{i}].oauth_server",
                f"auth = {host.auth!r} needs the name of a role = 'oauth' host ({', '.join(servers) or 'none'}), "
                f"got {host.oauth_server!r}",
            )
    elif host.oauth_server is not None:
        raise SpecProblem(f"host[{i}].oauth_server", "expected only with auth = 'xoauth2' or 'oauthbearer'")
    if host.direct_to is not None and (host.auth is not None or host.password is not None):
        raise SpecProblem(f"host[{i}].direct_to", "expected no auth and no password: it sends without logging in")


def _check_direct(spec: ScenarioSpec, i: int, host: ClientHost, owners: dict[str, int]) -> None:
    """A host that hands mail straight to a mail-server's port 25, as spam software does."""
    target = spec.hosts_named().get(host.direct_to or "")
    if not isinstance(target, MailServerHost) or not target.mx:
        mx_hosts = [s.name for s in spec.mail_servers() if s.mx]
        raise SpecProblem(
            f"host[{i}].direct_to",
            f"expected a mail-server with mx = true ({', '.join(mx_hosts) or 'none'}), got {host.direct_to!r}",
        )
    if host.user.lower() in owners:
        raise SpecProblem(
            f"host[{i}].user",
            f"expected one sending device per user; {host.user} sends from host[{owners[host.user.lower()]}]",
        )
    owners[host.user.lower()] = i


def _check_sender(spec: ScenarioSpec, i: int, host: ClientHost, owners: dict[str, int]) -> None:
    if host.user.lower() in owners:
        raise SpecProblem(
            f"host[{i}].msa",
            f"expected one sending device per user; {host.user} sends from host[{owners[host.user.lower()]}]",
        )
    owners[host.user.lower()] = i
    msa = spec.hosts_named().get(host.msa or "")
    if not isinstance(msa, MailServerHost) or not msa.submission:
        raise SpecProblem(
            f"host[{i}].msa",
            f"expected a mail-server with submission = true ({', '.join(_submission_servers(spec)) or 'none'}), "
            f"got {host.msa!r}",
        )


def _check_reader(spec: ScenarioSpec, i: int, host: ClientHost) -> None:
    server = host.reads_at(spec)
    domain = domain_of(host.user.lower())
    if server is None or domain not in server.domains:
        field_name = "mailbox_server" if host.mailbox_server is not None else "user"
        raise SpecProblem(
            f"host[{i}].{field_name}",
            f"expected the mail-server holding {domain}'s mailboxes, got {host.mailbox_server or 'none'}",
        )
    imap = (host.retrieval or "").startswith("imap")
    if not (server.imap if imap else server.pop3):
        needed = "imap" if imap else "pop3"
        raise SpecProblem(f"host[{i}].retrieval", f"{host.retrieval} needs {needed} = true on {server.name}")


def _check_retrieval_expectations(spec: ScenarioSpec) -> None:
    readers = [h.name for h in spec.clients() if h.retrieval is not None]
    for i, expect in enumerate(spec.expect_device, 1):
        if expect.device not in readers:
            raise SpecProblem(
                f"expect_device[{i}].device",
                f"expected a client host with retrieval ({', '.join(readers) or 'none'}), got {expect.device!r}",
            )
        if expect.subjects is not None and len(expect.subjects) != expect.shows:
            raise SpecProblem(f"expect_device[{i}].subjects", f"expected {expect.shows} subjects, as shows says")
    users = [u.address.lower() for u in spec.user]
    for i, box in enumerate(spec.expect_mailbox, 1):
        if box.address.lower() not in users:
            raise SpecProblem(f"expect_mailbox[{i}].address", f"expected a [[user]] address, got {box.address!r}")


def _check_submission_users(spec: ScenarioSpec) -> None:
    users = {u.address.lower(): u for u in spec.user}
    for i, host in enumerate(spec.host, 1):
        if not isinstance(host, MailServerHost) or not host.submission_users:
            continue
        if not host.submission:
            raise SpecProblem(f"host[{i}].submission_users", "expected only with submission = true")
        for address in host.submission_users:
            user = users.get(address.lower())
            if user is None or user.password is None:
                raise SpecProblem(
                    f"host[{i}].submission_users", f"expected [[user]] addresses with a password, got {address!r}"
                )


def _submission_servers(spec: ScenarioSpec) -> list[str]:
    return [s.name for s in spec.mail_servers() if s.submission]


def _check_dns_and_links(spec: ScenarioSpec) -> None:
    known = set(spec.hosts_named()) | {a.name for a in spec.dns.a}
    for i, mx in enumerate(spec.dns.mx, 1):
        if mx.exchange != "." and mx.exchange not in known:
            raise SpecProblem(
                f"dns.mx[{i}].host", f"expected a [[host]] name or a [dns] A record name, got {mx.host!r}"
            )
    hosts = spec.hosts_named()
    pairs: dict[frozenset[str], int] = {}
    for i, link in enumerate(spec.link, 1):
        for name in link.between:
            if name not in hosts:
                raise SpecProblem(f"link[{i}].between", f"expected names of [[host]] tables, got {name!r}")
        pair = frozenset(link.between)
        if pair in pairs:
            raise SpecProblem(
                f"link[{i}].between", f"expected one link per pair of hosts; link[{pairs[pair]}] is the same"
            )
        pairs[pair] = i


def _check_messages(spec: ScenarioSpec) -> None:
    senders = [c.user.lower() for c in spec.clients() if c.msa is not None or c.direct_to is not None]
    message_ids: dict[str, int] = {}
    for i, message in enumerate(spec.message, 1):
        if message.sender.lower() not in senders:
            raise SpecProblem(
                f"message[{i}].from",
                f"expected the user of a client host with an msa ({', '.join(senders) or 'there is none'}), "
                f"got {message.sender!r}",
            )
        # Outcomes are told apart by Message-ID: two messages with one would be counted as one.
        for value in header_values(message.content(), "Message-ID")[:1]:
            key = value.strip()
            if key in message_ids:
                raise SpecProblem(
                    f"message[{i}].raw",
                    f"expected a Message-ID of its own, got {key} again (message[{message_ids[key]}])",
                )
            message_ids[key] = i


def _check_faults(spec: ScenarioSpec) -> None:
    hosts = set(spec.hosts_named())
    servers = {s.name for s in spec.mail_servers()}
    for i, entry in enumerate(spec.fault, 1):
        fault = entry.fault()
        needed: list[tuple[str, set[str], str]] = []
        if isinstance(fault, faults.NodeDown | faults.Crash):
            needed.append((fault.node, hosts, "a [[host]] name"))
        elif isinstance(fault, faults.LinkLatency | faults.LinkLoss | faults.Partition):
            needed += [(fault.a, hosts, "a [[host]] name"), (fault.b, hosts, "a [[host]] name")]
        elif isinstance(
            fault,
            faults.DropAfter
            | faults.Silent
            | faults.Overloaded
            | faults.MaxConnections
            | faults.Greylist
            | faults.DiskFull,
        ):
            needed.append((fault.node, servers, "the name of a mail-server"))
        for name, allowed, what in needed:
            if name.lower() not in allowed:
                raise SpecProblem(f"fault[{i}].spec", f"expected {what} as the target, got {name!r} in {entry.spec!r}")


def _check_observers_and_policies(spec: ScenarioSpec) -> None:
    hosts = spec.hosts_named()
    names: set[str] = set()
    for i, observer in enumerate(spec.observer, 1):
        for name in observer.between:
            if name not in hosts:
                raise SpecProblem(f"observer[{i}].between", f"expected names of [[host]] tables, got {name!r}")
        if observer.name in names:
            raise SpecProblem(f"observer[{i}].name", f"expected a name no other observer has, got {observer.name!r}")
        names.add(observer.name)
    for i, policy in enumerate(spec.mta_sts, 1):
        if policy.mode != "none" and not policy.mx:
            raise SpecProblem(f"mta_sts[{i}].mx", "expected at least one mx pattern (RFC 8461 §3.2)")
        for pattern in policy.mx:
            try:
                _hostname(pattern.removeprefix("*."))
            except ValueError:
                raise SpecProblem(f"mta_sts[{i}].mx", f"expected host names or *.domain, got {pattern!r}") from None
        server = policy.served_by or next((s.name for s in spec.mail_servers() if policy.domain in s.domains), None)
        if server is None or server not in hosts:
            raise SpecProblem(
                f"mta_sts[{i}].served_by",
                f"expected a [[host]] to serve the policy of {policy.domain} (by default the mail-server holding it)",
            )


def _numbered_message(spec: ScenarioSpec, path: str, number: int) -> MessageSpec:
    """The [[message]] an expectation points to by its number, counted from 1."""
    if number > len(spec.message):
        raise SpecProblem(path, f"expected the number of a [[message]], 1 to {len(spec.message)}, got {number}")
    return spec.message[number - 1]


def _check_expectations(spec: ScenarioSpec) -> None:
    hosts = spec.hosts_named()
    for i, expect in enumerate(spec.expect, 1):
        message = _numbered_message(spec, f"expect[{i}].message", expect.message)
        if expect.recipient.lower() not in (r.lower() for r in message.to):
            raise SpecProblem(
                f"expect[{i}].recipient",
                f"expected one of message {expect.message}'s recipients ({', '.join(message.to)}), "
                f"got {expect.recipient!r}",
            )
        if expect.where is not None and expect.where not in hosts:
            raise SpecProblem(f"expect[{i}].where", f"expected a [[host]] name, got {expect.where!r}")


def _check_mail_auth(spec: ScenarioSpec) -> None:
    servers = spec.mail_servers()
    for i, host in enumerate(spec.host, 1):
        if isinstance(host, MailServerHost) and host.spam_reject < host.spam_junk:
            raise SpecProblem(
                f"host[{i}].spam_reject", f"expected at least spam_junk ({host.spam_junk:g}), got {host.spam_reject:g}"
            )
    users = {u.address.lower() for u in spec.user}
    lists: dict[str, int] = {}
    for i, entry in enumerate(spec.mailing_list, 1):
        key = entry.address.lower()
        if key in lists:
            raise SpecProblem(
                f"mailing_list[{i}].address", f"expected each list once; mailing_list[{lists[key]}] has it"
            )
        if key in users:
            raise SpecProblem(f"mailing_list[{i}].address", f"expected a list address, not a [[user]]: {entry.address}")
        lists[key] = i
        server = spec.hosts_named().get(entry.server)
        if not isinstance(server, MailServerHost) or domain_of(key) not in server.domains:
            holders = [s.name for s in servers if domain_of(key) in s.domains]
            raise SpecProblem(
                f"mailing_list[{i}].server",
                f"expected the mail-server holding {domain_of(key)} ({', '.join(holders) or 'none does'}), "
                f"got {entry.server!r}",
            )
    for i, expect in enumerate(spec.expect_auth, 1):
        message = _numbered_message(spec, f"expect_auth[{i}].message", expect.message)
        reached = [r.lower() for r in message.to]
        reached += [m.lower() for entry in spec.mailing_list if entry.address.lower() in reached for m in entry.members]
        if expect.recipient.lower() not in reached:
            raise SpecProblem(
                f"expect_auth[{i}].recipient",
                f"expected one of message {expect.message}'s recipients or list members ({', '.join(reached)}), "
                f"got {expect.recipient!r}",
            )
        home = next((s for s in servers if domain_of(expect.recipient.lower()) in s.domains), None)
        checks_auth = home is not None and home.sender_auth
        if not checks_auth and any(v is not None for v in (expect.spf, expect.dkim, expect.dmarc)):
            raise SpecProblem(
                f"expect_auth[{i}]",
                f"expected sender_auth = true on the mail-server of {expect.recipient} (it checks SPF, DKIM, DMARC)",
            )
        if expect.spam is not None and not (home is not None and home.spam_filter):
            raise SpecProblem(
                f"expect_auth[{i}].spam", f"expected spam_filter = true on the mail-server of {expect.recipient}"
            )
