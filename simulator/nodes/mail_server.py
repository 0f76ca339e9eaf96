"""A mail server node: MSA, outbound MTA with its queue, MX, and the mailbox store.

One class plays every server role of the default world, switched on per
host: `submission` (port 587, AUTH required, RFC 6409), `mx` (port 25 for its
own domains) and the relay that looks up MX records and delivers onward with a
retry queue. Delivery into a local mailbox adds Return-Path and Received
headers, as real MTAs do (RFC 5321 §4.4).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from simulator.mail import dns, dsn, headers
from simulator.mail.ledger import Ledger
from simulator.mail.queue import OutboundQueue, QueueEntry, RecipientState, RetrySchedule
from simulator.mail.store import MailStore, StoredMessage
from simulator.net.kernel import TIMER, Timer
from simulator.net.network import Network
from simulator.nodes.dns_server import Resolver
from simulator.nodes.imap_service import IMAP_PORT, IMAPListener, IMAPService
from simulator.nodes.pop3_service import POP3_PORT, POP3Listener, POP3Service
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
            self.sessions = [s for s in self.sessions if s.engine is not None]
            self._prune_at = max(64, 2 * len(self.sessions))
        self.sessions.append(session)
        return session


@dataclass
class _Attempt:
    """One delivery attempt of one queue entry: the domains still in progress."""

    entry: QueueEntry
    waiting: set[str] = field(default_factory=set)


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
    ) -> None:
        """A mail host.

        Args:
            tls: offer STARTTLS on its SMTP ports (RFC 3207), STLS on POP3 (RFC 2595 §4) and STARTTLS
                on IMAP (RFC 3501 §6.2.1), presenting this certificate; None offers no TLS.
            submission_requires_tls: offer AUTH on port 587 only after STARTTLS (RFC 8314 §3.3,
                Postfix smtpd_tls_auth_only); needs `tls`.
            starttls_outbound: how its relay client uses STARTTLS: "never", "opportunistic" or
                "required" (Postfix smtp_tls_security_level none / may / secure).
            outbound_tls: the world's PKI for its relay client, and whether it checks certificates.
            vulnerable: the weaknesses switched on for an attack demonstration (`VULNERABILITIES`);
                empty, as by default, the host refuses every one of them.
        """
        self.network, self.name, self.ledger = network, name, ledger
        self.tls = tls
        unknown = vulnerable - VULNERABILITIES
        if unknown:
            raise ValueError(f"unknown vulnerabilities {sorted(unknown)}; expected some of {sorted(VULNERABILITIES)}")
        self.vulnerable = vulnerable
        self.starttls_outbound = starttls_outbound
        self.outbound_tls = outbound_tls
        self.local_domains = frozenset(d.lower() for d in local_domains)
        self.users = dict(users or {})
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
        starttls = tls is not None
        if mx:  # port 25: mail for its own domains (and a backup MX's), no AUTH, no relaying
            self._listen(
                SMTP_PORT,
                ServerConfig(hostname=name, auth_mechanisms=(), starttls=starttls),
                relay_domains=relay_domains,
            )
        if submission:  # port 587: AUTH first, then any recipient (RFC 6409)
            requires_tls = starttls and submission_requires_tls
            config = ServerConfig(hostname=name, starttls=starttls, auth_requires_tls=requires_tls)
            self._listen(SUBMISSION_PORT, config, submission=True)
        # STLS on POP3 and STARTTLS on IMAP, with the same certificate (RFC 2595 §4, RFC 3501 §6.2.1).
        retrieval, retrieval_tls = tls, tls is not None
        self.imap: IMAPListener | None = None
        if imap:  # port 143: the users of its own domains read and organise their mail (RFC 3501)
            imap_service = IMAPService(
                IMAPServerConfig(hostname=name, starttls=retrieval_tls), self.store, self._local_users(), tls=retrieval
            )
            self.imap = IMAPListener(network, imap_service, name)
            network.listen(name, IMAP_PORT, self.imap)
        self.pop3: POP3Listener | None = None
        if pop3:  # port 110: the users of its own domains read their INBOX (RFC 1939)
            service = POP3Service(
                POP3ServerConfig(hostname=name, apop=True, stls=retrieval_tls), self.store, self._local_users(),
                tls=retrieval,
            )  # fmt: skip
            service.on_change = self._mailbox_changed
            self.pop3 = POP3Listener(network, service, name)
            network.listen(name, POP3_PORT, self.pop3)

    def _listen(
        self, port: int, config: ServerConfig, *, relay_domains: frozenset[str] = frozenset(), submission: bool = False
    ) -> None:
        service = SMTPService(
            config,
            local_domains=self.local_domains,
            users=self.users,
            submission=submission,
            relay_domains=relay_domains,
            keep=False,
            tls=self.tls,
        )
        service.on_stored = self._accepted
        service.queue_ids = self._queue_id  # one source for both ports: queue ids never collide
        listener = _Listener(self.network, service, self.name)
        self.listeners[port] = listener
        self.network.listen(self.name, port, listener)

    def _mailbox_changed(self, address: str) -> None:
        """A delivery or a POP3 deletion changed a mailbox: IMAP clients in IDLE hear of it now."""
        if self.imap is not None:
            self.imap.service.changed(address)

    def _local_users(self) -> dict[str, str]:
        """The users of its own domains, by lower-cased address: who may read mail here."""
        return {a.lower(): p for a, p in self.users.items() if a.rpartition("@")[2].lower() in self.local_domains}

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

        Returns None when it is kept, or the reply that refuses it (then nothing is kept).
        """
        env = message.envelope
        content = message.content
        if env.auth_user is not None:  # RFC 6409 §8: the MSA completes what the MUA left out
            self._counter += 1
            content = headers.add_missing(
                content, sender=env.sender, sim_seconds=self.now, host=self.name, counter=self._counter
            )
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
        if env.auth_user is not None and message_id in self.ledger.messages:
            self.ledger.messages[message_id].accepted = True
        local = [r for r in env.recipients if self._is_local(r.address)]
        remote = [r for r in env.recipients if not self._is_local(r.address)]
        for rcpt in local:
            self._deliver_locally(rcpt.address, env.sender, content, message.queue_id, message_id)
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

    def _is_local(self, address: str) -> bool:
        return address.lower() == "postmaster" or address.rpartition("@")[2].lower() in self.local_domains

    def _deliver_locally(self, address: str, sender: str, content: bytes, queue_id: str, message_id: str) -> None:
        mailbox = self.store.get(address) or self.store.create(address)
        earlier = mailbox.first_copy(message_id)
        stored = mailbox.append(
            headers.return_path(sender) + content,
            self.now,
            queue_id,
            message_id,
            duplicate_of=earlier.queue_id if earlier else None,
        )
        self.ledger.update(message_id, address, "delivered", self.name)
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
            self._try_hosts(attempt, domain, rcpts, hosts, "")
            return
        reply = _dns_failure_reply(route)
        self._settle(attempt, domain, [RecipientResult(r.address, status_of(reply), reply) for r in rcpts], None)

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
        message = OutgoingMessage(
            attempt.entry.sender,
            tuple(r.address for r in rcpts),
            attempt.entry.content,
            notify=rcpts[0].params.notify,
            ret=attempt.entry.params.ret,
            envid=attempt.entry.params.envid,
        )
        engine = SMTPClient(ClientConfig(local_hostname=self.name, starttls=self.starttls_outbound))
        engine.send_message(message)
        engine.quit()
        session = ClientSession(
            self.network,
            engine,
            self.name,
            partial(self._session_done, attempt, domain, rcpts, host, rest),
            tls=self.outbound_tls,
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
