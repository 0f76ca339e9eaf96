"""A mail server node: MSA, outbound MTA with its queue, MX, and the mailbox store.

One class plays every server role of the default world, switched on per
host: `submission` (port 587, AUTH required, RFC 6409), `mx` (port 25 for its
own domains) and the relay that looks up MX records and delivers onward with a
retry queue. Delivery into a local mailbox adds Return-Path and Received
headers, as real MTAs do (RFC 5321 §4.4).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Literal

from simulator.mail import dns, dsn, headers, mta_sts
from simulator.mail.ledger import Ledger
from simulator.mail.queue import OutboundQueue, QueueEntry, RecipientState, RetrySchedule
from simulator.mail.store import INBOX, JUNK, MailStore, StoredMessage
from simulator.mail.tokens import TrustedIssuer
from simulator.net.kernel import TIMER, Timer
from simulator.net.network import Network
from simulator.nodes.accounts import NO_LOGIN, Accounts
from simulator.nodes.dns_server import Resolver
from simulator.nodes.imap_service import IMAP_PORT, IMAPS_PORT, IMAPListener, IMAPService
from simulator.nodes.mail_auth import Finding, MailAuth
from simulator.nodes.mailing_list import MailingList
from simulator.nodes.pop3_service import POP3_PORT, POP3S_PORT, POP3Listener, POP3Service
from simulator.nodes.smtp_service import AcceptedMessage, SMTPService, make_queue_id
from simulator.nodes.smtp_session import ClientSession, ServerSession, SessionOutcome
from simulator.nodes.tls_channel import ClientTLS, ServerTLS
from simulator.protocol.imap.server import ServerConfig as IMAPServerConfig
from simulator.protocol.pop3.server import ServerConfig as POP3ServerConfig
from simulator.protocol.smtp.client import LOST_AFTER_DOT, ClientConfig, OutgoingMessage, SMTPClient, status_of
from simulator.protocol.smtp.events import MailParams, RecipientResult
from simulator.protocol.smtp.replies import Reply
from simulator.protocol.smtp.server import ServerConfig

LOOP_EXPLAIN = (
    "This server is itself the best MX for the domain yet does not hold its mailboxes: sending on "
    "would loop, so the message waits until a preferred MX is back."
)
# The weaknesses an attack demonstration may switch on, one host at a time (all off by default):
# "open-relay" relays for anyone (RFC 5321 §3.6.2 warns against it), "smtp-smuggling" takes a
# bare LF line with a dot as the end of DATA (RFC 5321 §4.1.1.4 says CRLF.CRLF only), and
# "command-injection" keeps plaintext pipelined after STARTTLS (CVE-2011-0411; RFC 3207 §4.2).
VULNERABILITIES = frozenset({"open-relay", "smtp-smuggling", "command-injection"})
SMTP_PORT = 25
SUBMISSION_PORT = 587
SUBMISSIONS_PORT = 465


@dataclass
class _Listener:
    """Makes a server session for each connection to one port."""

    network: Network
    service: SMTPService
    host: str
    sessions: list[ServerSession] = field(default_factory=list)
    _prune_at: int = 64

    def accept(self) -> ServerSession:
        session = ServerSession(self.network, self.service, self.host)
        if len(self.sessions) >= self._prune_at:  # prune finished sessions now and then, not on every accept
            self.sessions = [s for s in self.sessions if not s.done]
            self._prune_at = max(64, 2 * len(self.sessions))
        self.sessions.append(session)
        return session


@dataclass
class _Attempt:
    """One delivery attempt of one queue entry: the domains still in progress."""

    entry: QueueEntry
    waiting: set[str] = field(default_factory=set)
    policies: dict[str, mta_sts.Policy] = field(default_factory=dict)  # MTA-STS policies in force, by domain


class MailServer:
    """A mail host: accepts, queues, relays and stores mail."""

    def __init__(
        self,
        network: Network,
        name: str,
        *,
        dns_server: str,
        ledger: Ledger,
        local_domains: frozenset[str] = frozenset(),
        users: dict[str, str] | None = None,
        mx: bool = True,
        submission: bool = False,
        relay_domains: frozenset[str] = frozenset(),
        schedule: RetrySchedule | None = None,
        pop3: bool = False,
        imap: bool = False,
        tls: ServerTLS | None = None,
        submission_requires_tls: bool = False,
        starttls_outbound: str = "never",
        outbound_tls: ClientTLS | None = None,
        vulnerable: frozenset[str] = frozenset(),
        starttls: bool = True,
        implicit_tls: bool = False,
        sasl_mechanisms: tuple[str, ...] = ("PLAIN", "LOGIN"),
        trusted_issuers: tuple[TrustedIssuer, ...] = (),
    ) -> None:
        """A mail host.

        Args:
            tls: the certificate it presents; None runs no TLS at all.
            starttls: with `tls`, offer STARTTLS on its SMTP ports (RFC 3207), STLS on POP3 (RFC 2595 §4)
                and STARTTLS on IMAP (RFC 3501 §6.2.1).
            implicit_tls: with `tls`, also listen on the implicit-TLS ports, where TLS starts with the
                first byte (RFC 8314 §3): 465 for submission, 993 for IMAP, 995 for POP3.
            submission_requires_tls: offer AUTH on port 587 only after STARTTLS (RFC 8314 §3.3,
                Postfix smtpd_tls_auth_only); needs `tls`.
            starttls_outbound: how its relay client uses STARTTLS: "never", "opportunistic" or
                "required" (Postfix smtp_tls_security_level none / may / secure).
            outbound_tls: the world's PKI for its relay client, and whether it checks certificates.
            vulnerable: the weaknesses switched on for an attack demonstration (`VULNERABILITIES`);
                empty, as by default, the host refuses every one of them.
            sasl_mechanisms: what SMTP AUTH on the submission ports, POP3 AUTH and IMAP AUTHENTICATE
                offer, in this order (RFC 4954, RFC 5034, RFC 3501 §6.2.2).
            trusted_issuers: the OAuth 2.0 authorization servers whose access tokens its users may
                log in with (XOAUTH2, OAUTHBEARER; RFC 7628).
        """
        self.network, self.name, self.ledger = network, name, ledger
        self.tls = tls
        unknown = vulnerable - VULNERABILITIES
        if unknown:
            raise ValueError(f"unknown vulnerabilities {sorted(unknown)}; expected some of {sorted(VULNERABILITIES)}")
        self.vulnerable = vulnerable
        self.starttls_outbound = starttls_outbound
        self.outbound_tls = outbound_tls
        # Its relay fetches and honours the MTA-STS policies of the domains it sends to (RFC 8461 §5;
        # Postfix with an MTA-STS policy resolver). The loader switches it on.
        self.honours_mta_sts = False
        self.sts_cache: dict[str, mta_sts.Cached] = {}
        self.local_domains = frozenset(d.lower() for d in local_domains)
        self.users = dict(users or {})
        # One login policy for every port: passwords, SASL secrets and bearer tokens alike.
        self.accounts = Accounts(self.users, self.local_domains, trusted_issuers, network, name)
        self.store = MailStore()
        for address, _ in self.users.items():
            if address.rpartition("@")[2].lower() in self.local_domains:
                self.store.create(address)
        self.queue = OutboundQueue(schedule or RetrySchedule())
        self.resolver = Resolver(network, name, dns_server)
        self.listeners: dict[int, _Listener] = {}
        self._wakeup: Timer | None = None
        self._counter = 0
        self._ids = 0
        # Told of every delivery into a local mailbox (serve announces them); set it to a
        # bound method, or leave it None in worlds that are checkpointed.
        self.on_deliver: Callable[[str, StoredMessage], None] | None = None
        # DKIM signing, the checks on port 25 and hosted mailing lists: off until the scenario sets them up.
        self.mail_auth = MailAuth()
        if implicit_tls and tls is None:
            raise ValueError("implicit TLS needs a certificate (tls)")
        starttls = starttls and tls is not None
        if mx:  # port 25: mail for its own domains (and a backup MX's), no AUTH, no relaying
            self._listen(
                SMTP_PORT,
                ServerConfig(hostname=name, auth_mechanisms=(), starttls=starttls),
                relay_domains=relay_domains,
            )
        if submission:  # port 587: AUTH first, then any recipient (RFC 6409)
            requires_tls = starttls and submission_requires_tls
            config = ServerConfig(
                hostname=name, starttls=starttls, auth_requires_tls=requires_tls, auth_mechanisms=sasl_mechanisms
            )
            self._listen(SUBMISSION_PORT, config, submission=True)
            if implicit_tls:  # port 465, "submissions": the same service, TLS from the first byte (RFC 8314 §3.3)
                config = ServerConfig(hostname=name, tls_active=True, auth_mechanisms=sasl_mechanisms)
                self._listen(SUBMISSIONS_PORT, config, submission=True)
        # STLS on POP3 and STARTTLS on IMAP, with the same certificate (RFC 2595 §4, RFC 3501 §6.2.1).
        retrieval, retrieval_tls = tls, starttls
        injectable = "command-injection" in vulnerable  # CVE-2011-0411, for an attack demonstration
        self.imap: IMAPListener | None = None
        if imap:  # port 143: the users of its own domains read and organise their mail (RFC 3501)
            imap_config = IMAPServerConfig(
                hostname=name, starttls=retrieval_tls, keep_plaintext_after_starttls=injectable,
                sasl_mechanisms=sasl_mechanisms,
            )  # fmt: skip
            imap_service = IMAPService(imap_config, self.store, tls=retrieval, accounts=self.accounts)
            self.imap = IMAPListener(network, imap_service, name)
            network.listen(name, IMAP_PORT, self.imap)
            if implicit_tls:  # port 993: the same mailboxes and IDLE sessions, TLS from the first byte
                network.listen(name, IMAPS_PORT, IMAPListener(network, imap_service, name, implicit_tls=True))
        self.pop3: POP3Listener | None = None
        if pop3:  # port 110: the users of its own domains read their INBOX (RFC 1939)
            service = POP3Service(
                POP3ServerConfig(
                    hostname=name, apop=True, stls=retrieval_tls, keep_plaintext_after_stls=injectable,
                    sasl_mechanisms=sasl_mechanisms,
                ),
                self.store, tls=retrieval, accounts=self.accounts,
            )  # fmt: skip
            service.on_change = self._mailbox_changed
            self.pop3 = POP3Listener(network, service, name)
            network.listen(name, POP3_PORT, self.pop3)
            if implicit_tls:  # port 995: the same maildrops and locks, TLS from the first byte
                network.listen(name, POP3S_PORT, POP3Listener(network, service, name, implicit_tls=True))

    def _listen(
        self, port: int, config: ServerConfig, *, relay_domains: frozenset[str] = frozenset(), submission: bool = False
    ) -> None:
        service = SMTPService(
            self._with_weaknesses(port, config),
            local_domains=self.local_domains,
            users=self.users,
            submission=submission,
            relay_domains=relay_domains,
            keep=False,
            tls=self.tls,
            accounts=self.accounts,
            # Port 25 relays for anyone only with the "open-relay" weakness switched on (RFC 5321 §3.6.2).
            open_relay=port == SMTP_PORT and "open-relay" in self.vulnerable,
        )
        service.on_stored = self._accepted
        service.queue_ids = self._queue_id  # one source for both ports: queue ids never collide
        listener = _Listener(self.network, service, self.name)
        self.listeners[port] = listener
        self.network.listen(self.name, port, listener)

    def _with_weaknesses(self, port: int, config: ServerConfig) -> ServerConfig:
        """The SMTP engine's settings with this host's attack-demonstration switches applied.

        "smtp-smuggling" makes the host one half of the 2023 smuggling pair on each port: on port
        25 it takes `<LF>.<CR><LF>` as the end of DATA, as Postfix before 3.9 did; on the submission
        port it keeps bare LFs as message octets, which its relay then sends on byte for byte, as
        Exchange Online did (CVE-2023-51764, SEC Consult). Off, bare LFs get 550 5.5.2.
        """
        weak = self.vulnerable
        bare: Literal["reject", "line-end", "keep"] = "reject"
        if "smtp-smuggling" in weak:
            bare = "line-end" if port == SMTP_PORT else "keep"
        return replace(config, bare_newline=bare, keep_plaintext_after_starttls="command-injection" in weak)

    def _mailbox_changed(self, address: str) -> None:
        """A delivery or a POP3 deletion changed a mailbox: IMAP clients in IDLE hear of it now."""
        if self.imap is not None:
            self.imap.service.changed(address)

    def _queue_id(self) -> str:
        self._ids += 1
        return make_queue_id(self.name, self._ids)

    @property
    def now(self) -> float:
        return self.network.kernel.now

    def _emit(self, kind: str, summary: str, explain: str, rfc: str) -> None:
        self.network.tracer.emit(kind, self.name, self.name, None, "SMTP", b"", summary, explain, rfc)

    # --- accepting -------------------------------------------------------------------

    def _accepted(self, message: AcceptedMessage) -> Reply | None:
        """A message is in: deliver it here or queue it for relay, before the 250 goes out.

        Submitted mail is completed and DKIM-signed; mail from other servers for local mailboxes
        is checked first (SPF, DKIM, DMARC, spam: `mail_auth.inbound`), which may refuse it.
        A refusal refuses the whole message, for every recipient, as a milter's does.

        Returns None when it is kept, or the reply that refuses it (then nothing is kept).
        """
        env = message.envelope
        content = message.content
        if env.auth_user is not None:  # RFC 6409 §8: the MSA completes what the MUA left out
            self._counter += 1
            content = headers.add_missing(
                content, sender=env.sender, sim_seconds=self.now, host=self.name, counter=self._counter
            )
            content = self._signed(content)
        received = headers.received(
            from_helo=env.helo,
            from_host=message.client_host,
            from_ip=message.client_ip,
            by_host=self.name,
            protocol=env.protocol,
            queue_id=message.queue_id,
            recipient=env.recipients[0].address if len(env.recipients) == 1 else None,
            sim_seconds=self.now,
        )
        content = headers.prepend(received, content)
        message_id = headers.message_id_of(content)
        local = [r for r in env.recipients if self._is_local(r.address)]
        remote = [r for r in env.recipients if not self._is_local(r.address)]
        delivered, folder = content, INBOX
        inbound = self.mail_auth.inbound
        if local and env.auth_user is None and inbound is not None:  # port 25: mail from another server
            decision = inbound.screen(
                content,
                ip=message.client_ip,
                mail_from=env.sender,
                helo=env.helo,
                message_id=message_id,
                recipients=tuple(r.address for r in local),
            )
            for finding in decision.findings:
                self._report(finding)
            self.mail_auth.screenings.append(decision.screening)
            if decision.refusal is not None:
                return decision.refusal
            delivered, folder = decision.message, decision.folder
        if env.auth_user is not None and message_id in self.ledger.messages:
            self.ledger.messages[message_id].accepted = True
        for rcpt in local:
            mailing_list = self.mail_auth.lists.get(rcpt.address.lower())
            if mailing_list is not None:
                self._distribute(mailing_list, delivered, message_id)
            else:
                self._deliver_locally(rcpt.address, env.sender, delivered, message.queue_id, message_id, folder=folder)
        if remote:
            entry = QueueEntry(
                queue_id=message.queue_id,
                sender=env.sender,
                content=content,
                params=env.params,
                recipients=[RecipientState(r.address, r.params) for r in remote],
                arrived=self.now,
                next_attempt=self.now,
            )
            self.queue.add(entry)
            for rcpt in remote:
                self.ledger.update(message_id, rcpt.address, "queued", self.name)
            self._emit(
                "queue",
                f"{self.name} queues {message.queue_id} for " + ", ".join(r.address for r in remote),
                "Accepted for relay: the message waits in the outbound queue until it reaches the next hop.",
                "RFC 5321 §6.1",
            )
            self._schedule_run(0.0)
        return None

    def _report(self, finding: Finding) -> None:
        self._emit(finding.kind, finding.summary, finding.explain, finding.rfc)

    def _signed(self, content: bytes) -> bytes:
        """Submitted mail with the DKIM-Signature of its From domain, when this host signs for it (RFC 6376 §5)."""
        signer = self.mail_auth.signer
        if signer is None:
            return content
        signed, finding = signer.sign(self.name, content)
        if finding is not None:
            self._report(finding)
        return signed

    # --- mailing lists -----------------------------------------------------------------

    def host_list(self, mailing_list: MailingList) -> None:
        """Take mail for a list address here and send a copy on to each member.

        Raises:
            ValueError: the list's domain is not one of this host's domains.
        """
        if mailing_list.domain not in self.local_domains:
            raise ValueError(f"{self.name} does not hold {mailing_list.domain}, the domain of {mailing_list.address}")
        self.mail_auth.lists[mailing_list.address.lower()] = mailing_list
        # The list address is a recipient here, known as a mailbox nobody may log in to.
        self.users.setdefault(mailing_list.address, NO_LOGIN)

    def _distribute(self, mailing_list: MailingList, content: bytes, message_id: str) -> None:
        """The list's copy, footer and all, to each member: delivered here or queued for relay."""
        copy = mailing_list.distribute(content)
        queue_id = self._queue_id()
        members = list(mailing_list.members)
        self.ledger.update(
            message_id, mailing_list.address, "delivered", self.name, f"sent on to {len(members)} member(s)"
        )
        self._emit(
            "list",
            f"{self.name} sends the message to the {len(members)} member(s) of {mailing_list.address} as {queue_id}",
            f"A mailing list: each member gets a copy sent from the list's bounce address "
            f"{mailing_list.bounce_address}, with List-Id and List-Post added and a footer at the end of the body. "
            "The author's DKIM-Signature stays, but it covers the body as the author's server sent it: the "
            "footer changes the body hash, so the members' servers will find that DKIM fails.",
            "RFC 2369; RFC 2919; RFC 6376 §3.7; RFC 7960 §3.2.3",
        )
        remote = []
        for member in members:
            if self._is_local(member):
                self._deliver_locally(member, mailing_list.bounce_address, copy, queue_id, message_id)
            else:
                remote.append(member)
                self.ledger.update(message_id, member, "queued", self.name)
        if remote:
            self.queue.add(
                QueueEntry(
                    queue_id=queue_id,
                    sender=mailing_list.bounce_address,
                    content=copy,
                    params=MailParams(),
                    recipients=[RecipientState(member) for member in remote],
                    arrived=self.now,
                    next_attempt=self.now,
                )
            )
            self._schedule_run(0.0)

    def _is_local(self, address: str) -> bool:
        return address.lower() == "postmaster" or address.rpartition("@")[2].lower() in self.local_domains

    def _deliver_locally(
        self, address: str, sender: str, content: bytes, queue_id: str, message_id: str, *, folder: str = INBOX
    ) -> None:
        """File a message in a local mailbox: INBOX, or Junk when the checks on port 25 said so."""
        mailbox = self.store.get(address) or self.store.create(address)
        earlier = mailbox.first_copy(message_id)
        stored = mailbox.append(
            headers.return_path(sender) + content,
            self.now,
            queue_id,
            message_id,
            duplicate_of=earlier.queue_id if earlier else None,
            folder=folder,
        )
        self.ledger.update(message_id, address, "delivered", self.name, "Junk folder" if folder == JUNK else "")
        if self.on_deliver is not None:
            self.on_deliver(address, stored)
        if earlier is not None:
            self._emit(
                "duplicate",
                f"{self.name} delivers a second copy of {message_id} to {address}",
                "The same message arrived twice: its first 250 was lost with the connection after the final "
                "dot, so the sender sent it again. SMTP cannot rule this out.",
                "RFC 1047; RFC 5321 §4.1.1.4",
            )
            self._mailbox_changed(address)
            return
        if folder == JUNK:
            self._emit(
                "deliver",
                f"{self.name} delivers {queue_id} into {address}'s Junk folder (UID {stored.uid})",
                "Final delivery, into the Junk folder: the checks on arrival judged the message suspect (the spam "
                "filter's score, or the sender's DMARC policy p=quarantine). It is kept, not refused, so the user "
                "can still find it there; mail programs do not show it in the inbox.",
                "RFC 5321 §4.4; RFC 6154 §2; RFC 7489 §6.3",
            )
            return
        self._emit(
            "deliver",
            f"{self.name} delivers {queue_id} into {address}'s mailbox (UID {stored.uid})",
            "Final delivery: the server adds Return-Path (the envelope sender) and files the message.",
            "RFC 5321 §4.4",
        )
        self._mailbox_changed(address)

    # --- the queue -------------------------------------------------------------------

    def _schedule_run(self, delay: float) -> None:
        when = self.now + delay
        if self._wakeup is not None and self._wakeup.active and self._wakeup.time <= when:
            return
        if self._wakeup is not None:
            self._wakeup.cancel()
        self._wakeup = self.network.kernel.schedule(delay, self._run_queue, priority=TIMER)

    def _run_queue(self) -> None:
        self._wakeup = None
        if not self.network.hosts[self.name].up:
            # The host is down: its queue manager is not running. Look again later.
            self._schedule_run(self.queue.schedule.first_retry)
            return
        for entry in self.queue.due(self.now):
            self._attempt(entry)
        nxt = self.queue.next_wakeup()
        if nxt is not None:
            self._schedule_run(max(nxt - self.now, 0.0))

    def _attempt(self, entry: QueueEntry) -> None:
        entry.in_flight = True
        attempt = _Attempt(entry)
        by_domain: dict[str, list[RecipientState]] = {}
        for rcpt in entry.pending:
            by_domain.setdefault(rcpt.address.rpartition("@")[2].lower(), []).append(rcpt)
        attempt.waiting = set(by_domain)
        if entry.resend_after_lost_reply:
            self._emit(
                "resend",
                f"{self.name} sends {entry.queue_id} again",
                "The last attempt lost its connection after the final dot, before the reply: the server may "
                "already have the message, so this resend can make a duplicate.",
                "RFC 1047",
            )
            entry.resend_after_lost_reply = False
        for domain, rcpts in by_domain.items():
            self.resolver.query(domain, "MX", partial(self._mx_answer, attempt, domain, rcpts))

    def _mx_answer(
        self, attempt: _Attempt, domain: str, rcpts: list[RecipientState], answer: dns.Answer | None
    ) -> None:
        route = dns.route_from_mx(domain, answer)
        if isinstance(route, dns.Targets | dns.ImplicitMX):
            hosts = list(route.hosts if isinstance(route, dns.Targets) else (route.host,))
            if self.name in hosts:
                # RFC 5321 §5.1: a listed MX only tries the hosts it prefers to itself.
                hosts = hosts[: hosts.index(self.name)]
                if not hosts:
                    reply = Reply(
                        451, "4.4.6", (f"mail for {domain} loops back to myself",), LOOP_EXPLAIN, "RFC 5321 §5.1"
                    )
                    self._settle(attempt, domain, [RecipientResult(r.address, "deferred", reply) for r in rcpts], None)
                    return
            if self.honours_mta_sts:
                self.resolver.query(
                    mta_sts.record_name(domain), "TXT", partial(self._sts_record, attempt, domain, rcpts, hosts)
                )
                return
            self._try_hosts(attempt, domain, rcpts, hosts, "")
            return
        reply = _dns_failure_reply(route)
        self._settle(attempt, domain, [RecipientResult(r.address, status_of(reply), reply) for r in rcpts], None)

    # --- MTA-STS (RFC 8461) -------------------------------------------------------------

    def _sts_record(
        self, attempt: _Attempt, domain: str, rcpts: list[RecipientState], hosts: list[str], answer: dns.Answer | None
    ) -> None:
        """The `_mta-sts` TXT answer: use the cached policy, fetch a new one, or go on without one (RFC 8461 §5.1)."""
        cached = self.sts_cache.get(domain)
        fresh = cached if cached is not None and cached.expires > self.now else None
        texts = [r.text for r in answer.records if isinstance(r, dns.TXTRecord)] if answer is not None else []
        try:
            record = mta_sts.parse_record(texts)
        except mta_sts.PolicyError:
            record = None
        if record is None or (fresh is not None and fresh.id == record.id):
            # No record (or the id we hold): a policy still cached stays in force, so an attacker who
            # hides the TXT record gains nothing (RFC 8461 §5.1).
            self._route_under_policy(attempt, domain, rcpts, hosts, fresh.policy if fresh is not None else None)
            return
        url = mta_sts.policy_url(domain)
        served = self.network.web.get(url)
        if served is not None and not self._reachable(served[0]):
            served = None  # the policy's web server is down, or the path to it is cut: no answer
        server = served[0] if served is not None else f"mta-sts.{domain}"
        self.network.tracer.emit(
            "https", self.name, server, None, "HTTPS", f"GET {mta_sts.POLICY_PATH}".encode(),
            f"{self.name} fetches the MTA-STS policy of {domain}: GET {url}",
            f"DNS says {domain} publishes an MTA-STS policy (id {record.id}). The policy itself comes over HTTPS, "
            f"from a server whose certificate must be valid for mta-sts.{domain}: a man in the middle on the mail "
            "path can strip STARTTLS, but cannot forge this answer. (The simulation shows this exchange as one "
            "request and one answer, about three round trips apart; it does not play out its TLS.)",
            "RFC 8461 §3.3",
        )  # fmt: skip
        round_trips = 3 * 2 * self.network.link(self.name, server).latency if served is not None else 0.0
        self.network.kernel.schedule(
            round_trips, self._sts_fetched, attempt, domain, rcpts, hosts, record, served, fresh
        )  # fmt: skip

    def _reachable(self, host: str) -> bool:
        """Whether a host answers this one at all: it is up and the link between them is not cut."""
        known = self.network.hosts.get(host)
        return known is not None and known.up and self.network.link(self.name, host).up

    def _sts_fetched(
        self,
        attempt: _Attempt,
        domain: str,
        rcpts: list[RecipientState],
        hosts: list[str],
        record: mta_sts.Record,
        served: tuple[str, str] | None,
        fresh: mta_sts.Cached | None,
    ) -> None:
        """The HTTPS answer (TCP, TLS and HTTP: about three round trips): parse, cache, go on."""
        server = served[0] if served is not None else f"mta-sts.{domain}"
        policy: mta_sts.Policy | None = None
        problem = "no answer from the policy's web server"
        if served is not None:
            try:
                policy = mta_sts.parse_policy(served[1])
                problem = ""
            except mta_sts.PolicyError as exc:
                problem = str(exc)
        if policy is None:
            self.network.tracer.emit(
                "https", server, self.name, None, "HTTPS", b"",
                f"no usable MTA-STS policy for {domain}: {problem}",
                "A policy that cannot be fetched or read counts as none, unless an earlier one is still cached "
                "(RFC 8461 §3.3, §5.1). Mail goes on with opportunistic TLS.",
                "RFC 8461 §3.3",
            )  # fmt: skip
            self._route_under_policy(attempt, domain, rcpts, hosts, fresh.policy if fresh is not None else None)
            return
        self.sts_cache[domain] = mta_sts.Cached(policy, record.id, self.now + policy.max_age)
        self.network.tracer.emit(
            "https", server, self.name, None, "HTTPS", served[1].encode() if served is not None else b"",
            f"200 OK: mode {policy.mode.value}, mx {', '.join(policy.mx) or '(none)'}, max_age {policy.max_age}",
            f"{domain}'s policy: its mail goes only to the MX hosts listed, over TLS with a certificate valid for "
            f"the host name. With mode {policy.mode.value} a sender "
            + (
                "refuses to deliver otherwise: it defers rather than send in clear text. "
                if policy.mode is mta_sts.Mode.ENFORCE
                else "delivers anyway, and only reports what went wrong (RFC 8460). "
            )
            + f"{self.name} caches it for max_age seconds.",
            "RFC 8461 §3.2, §5",
        )  # fmt: skip
        self._route_under_policy(attempt, domain, rcpts, hosts, policy)

    def _route_under_policy(
        self,
        attempt: _Attempt,
        domain: str,
        rcpts: list[RecipientState],
        hosts: list[str],
        policy: mta_sts.Policy | None,
    ) -> None:
        """Keep the MX hosts the policy names (mode enforce), then try them in order (RFC 8461 §4.1, §5)."""
        if policy is None or policy.mode is mta_sts.Mode.NONE:
            self._try_hosts(attempt, domain, rcpts, hosts, "")
            return
        attempt.policies[domain] = policy
        usable = []
        for host in hosts:
            decision = mta_sts.decide(policy, host, "verified")
            if decision.deliver:
                usable.append(host)
            if not policy.allows(host):
                self._emit_sts(f"MTA-STS: {decision.reason}", decision.rfc)
        if not usable:
            reply = Reply(
                451, "4.7.5", (f"MTA-STS policy of {domain}: no MX host it names",),
                "The domain's MTA-STS policy names none of the MX hosts DNS gave: the mail waits rather than go "
                "somewhere the domain never vouched for.",
                "RFC 8461 §4.1, §5",
            )  # fmt: skip
            self._settle(attempt, domain, [RecipientResult(r.address, "deferred", reply) for r in rcpts], None)
            return
        self._try_hosts(attempt, domain, rcpts, usable, "")

    def _emit_sts(self, summary: str, rfc: str, explain: str = "") -> None:
        self._emit(
            "mta-sts", summary,
            explain or "The sender checks the receiving domain's MTA-STS policy: under mode enforce it delivers "
            "only to an MX host the policy names, over TLS with a certificate that verifies for that host.",
            rfc,
        )  # fmt: skip

    def _try_hosts(
        self, attempt: _Attempt, domain: str, rcpts: list[RecipientState], hosts: list[str], last_error: str
    ) -> None:
        """Try the MX hosts in preference order (RFC 5321 §5.1) until one answers."""
        if not hosts:
            reply = Reply(451, "4.4.1", (f"connect to {domain}: {last_error or 'no usable MX host'}",))
            self._settle(attempt, domain, [RecipientResult(r.address, "deferred", reply) for r in rcpts], None)
            return
        host, rest = hosts[0], hosts[1:]
        self.resolver.query(host, "A", partial(self._a_answer, attempt, domain, rcpts, host, rest))

    def _a_answer(
        self,
        attempt: _Attempt,
        domain: str,
        rcpts: list[RecipientState],
        host: str,
        rest: list[str],
        answer: dns.Answer | None,
    ) -> None:
        addresses = dns.addresses(answer) if answer is not None else ()
        target = next((h.name for h in self.network.hosts.values() if h.ip in addresses), None)
        if target is None:
            self._try_hosts(attempt, domain, rcpts, rest, f"{host}: no address")
            return
        content = attempt.entry.content
        if "smtp-smuggling" not in self.vulnerable:
            # Lines end in CRLF and nothing else on the way out (RFC 5321 §2.3.8), as Postfix's queue
            # files guarantee: a bare LF that got in (a BDAT chunk may carry one) never leaves here.
            content = headers.crlf_line_ends(content)
        message = OutgoingMessage(
            attempt.entry.sender,
            tuple(r.address for r in rcpts),
            content,
            notify=rcpts[0].params.notify,
            ret=attempt.entry.params.ret,
            envid=attempt.entry.params.envid,
        )
        starttls, tls = self.starttls_outbound, self.outbound_tls
        policy = attempt.policies.get(domain)
        if policy is not None and policy.mode is mta_sts.Mode.ENFORCE:
            # RFC 8461 §4.2: STARTTLS is a must, and the certificate must verify for the MX host's name.
            starttls = "required"
            tls = replace(tls, verify=True) if tls is not None else None
            self._emit_sts(f"MTA-STS: {host} is listed; TLS with a verified certificate is required", "RFC 8461 §4.2")
        engine = SMTPClient(ClientConfig(local_hostname=self.name, starttls=starttls))
        engine.send_message(message)
        engine.quit()
        session = ClientSession(
            self.network,
            engine,
            self.name,
            partial(self._session_done, attempt, domain, rcpts, host, rest),
            tls=tls,
        )
        session.start(target, SMTP_PORT)

    def _session_done(
        self,
        attempt: _Attempt,
        domain: str,
        rcpts: list[RecipientState],
        host: str,
        rest: list[str],
        outcome: SessionOutcome,
    ) -> None:
        policy = attempt.policies.get(domain)
        if policy is not None and policy.mode is mta_sts.Mode.ENFORCE and outcome.results:
            refused = [r for r in outcome.results[0].recipients if r.reply.enhanced in ("4.7.4", "4.7.5")]
            if refused:
                tls = "absent" if refused[0].reply.enhanced == "4.7.4" else "failed"
                self._emit_sts(
                    f"MTA-STS: {mta_sts.decide(policy, host, tls).reason}", "RFC 8461 §5",
                    f"The policy promised TLS with a valid certificate on {host}, and it did not happen: either "
                    "the host is misconfigured or someone on the path interferes. Under mode enforce the sender "
                    f"does not send in clear text: the message stays queued ({refused[0].reply.first_line()}) "
                    "and is tried again later, as Postfix with an MTA-STS policy resolver does.",
                )  # fmt: skip
        if not 200 <= outcome.greeting < 300 or not outcome.results or not outcome.results[0].recipients:
            # Refused, timed out, or turned away in the greeting (421, 554): like Postfix,
            # try the next MX host (RFC 5321 §5.1, §3.1) before deferring.
            why = outcome.failure or (f"greeting {outcome.greeting}" if outcome.greeting else "no greeting")
            if not rest and outcome.greeting >= 500 and outcome.results:
                self._settle(attempt, domain, list(outcome.results[0].recipients), host)
                return
            self._try_hosts(attempt, domain, rcpts, rest, f"{host}: {why}")
            return
        self._settle(attempt, domain, list(outcome.results[0].recipients), host)

    def _settle(self, attempt: _Attempt, domain: str, results: list[RecipientResult], remote: str | None) -> None:
        entry = attempt.entry
        message_id = headers.message_id_of(entry.content)
        by_address = {r.address.lower(): r for r in entry.recipients}
        for result in results:
            state = by_address[result.recipient.lower()]
            state.attempts += 1
            state.last_reply, state.remote_mta = result.reply, remote
            if result.status == "sent":
                state.status = "delivered"  # the next hop has it now and keeps the ledger itself
            elif result.status == "failed":
                state.status = "bounced"
                self.ledger.update(message_id, state.address, "bounced", self.name, result.reply.first_line())
            else:
                self.ledger.update(message_id, state.address, "queued", self.name, result.reply.first_line())
            if result.reply == LOST_AFTER_DOT:
                entry.resend_after_lost_reply = True
        attempt.waiting.discard(domain)
        if not attempt.waiting:
            self._attempt_finished(entry)

    def _attempt_finished(self, entry: QueueEntry) -> None:
        entry.in_flight = False
        entry.attempts += 1
        if entry.pending and self.now - entry.arrived >= self.queue.schedule.lifetime:
            for rcpt in entry.pending:
                rcpt.status = "bounced"
                rcpt.last_reply = Reply(
                    rcpt.last_reply.code if rcpt.last_reply else 451,
                    "4.4.7",
                    (f"message delivery time exceeded, last error: {_last_words(rcpt)}",),
                )
                self.ledger.update(headers.message_id_of(entry.content), rcpt.address, "bounced", self.name, "expired")
            self._emit(
                "expire",
                f"{self.name} gives up on {entry.queue_id} after {self.queue.schedule.lifetime / 86400:g} days",
                "The queue lifetime is over: the message is returned to its sender.",
                "RFC 5321 §4.5.4.1",
            )
        self._notify_failures(entry)
        if entry.pending:
            if not entry.delay_warned and self.now - entry.arrived >= self.queue.schedule.delay_warning:
                entry.delay_warned = True
                self._send_dsn(entry, entry.pending, "delayed")
            self.queue.reschedule(entry, self.now + self.queue.schedule.backoff(entry.attempts))
            self._emit(
                "defer",
                f"{self.name} defers {entry.queue_id}; next try in {entry.next_attempt - self.now:g} s",
                "A temporary failure: the message stays queued and is retried on the backoff schedule.",
                "RFC 5321 §4.5.4.1",
            )
            self._schedule_run(entry.next_attempt - self.now)
        else:
            self.queue.remove(entry)

    def _notify_failures(self, entry: QueueEntry) -> None:
        fresh = [r for r in entry.recipients if r.status == "bounced" and not r.notified]
        if not fresh:
            return
        for rcpt in fresh:
            rcpt.notified = True
        self._send_dsn(entry, fresh, "failed")

    def _send_dsn(self, entry: QueueEntry, rcpts: list[RecipientState], action: str) -> None:
        """Tell the sender (never the null sender: RFC 3464 §2.3 no DSN about a DSN)."""
        if not dsn.should_bounce(entry.sender):
            return
        rcpts = [r for r in rcpts if dsn.should_notify(r.params.notify, action)]  # RFC 3461 §4.1 NOTIFY
        if not rcpts:
            return
        self._counter += 1
        statuses = [
            dsn.RecipientStatus(
                recipient=r.address,
                action=action,
                status=(r.last_reply.enhanced if r.last_reply and r.last_reply.enhanced else "5.0.0"),
                remote_mta=r.remote_mta,
                diagnostic=f"smtp; {r.last_reply.first_line()}" if r.last_reply else None,
                original_recipient=r.params.orcpt,
                will_retry_until=entry.arrived + self.queue.schedule.lifetime if action == "delayed" else None,
            )
            for r in rcpts
        ]
        report = dsn.build_dsn(
            reporting_mta=self.name,
            original=entry.content,
            envelope_sender=entry.sender,
            recipients=statuses,
            arrival_seconds=entry.arrived,
            now_seconds=self.now,
            envid=entry.params.envid,
            ret=entry.params.ret,
            postmaster=f"postmaster@{self.name}",
            queue_id=entry.queue_id,
            counter=self._counter,
        )
        queue_id = f"{entry.queue_id}D{self._counter}"
        self._emit(
            "bounce" if action == "failed" else "notify",
            f"{self.name} sends a {'bounce' if action == 'failed' else 'delay notice'} to {entry.sender}",
            "A delivery status notification (multipart/report), sent from the null sender <> so that it can "
            "never cause another bounce.",
            "RFC 3464; RFC 5321 §4.5.5",
        )
        if self._is_local(entry.sender):
            self._deliver_locally(entry.sender, "", report, queue_id, headers.message_id_of(report))
            return
        self.queue.add(
            QueueEntry(
                queue_id=queue_id,
                sender="",
                content=report,
                params=MailParams(),
                recipients=[RecipientState(entry.sender)],
                arrived=self.now,
                next_attempt=self.now,
            )
        )
        self._schedule_run(0.0)


def _last_words(rcpt: RecipientState) -> str:
    return rcpt.last_reply.first_line() if rcpt.last_reply else "no reply"


def _dns_failure_reply(route: dns.Failure) -> Reply:
    return Reply(route.code, route.status, (route.text,), route.explain, route.rfc)
