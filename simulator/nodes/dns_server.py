"""The world's DNS server and the stub resolver every mail server uses.

Queries and answers are real DNS messages (built by dnspython in
`simulator.mail.dns`) carried as datagrams on port 53, so they show in the
trace, and later in a pcap, as DNS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from simulator.mail import dns
from simulator.net.kernel import TIMER, Timer
from simulator.net.network import Network
from simulator.net.record import Note

DNS_PORT = 53
RESOLVER_PORT = 1053  # the resolver's own port for answers
# Postfix's resolver gives up on an unanswered query after a few seconds (res_retrans);
# it then counts as "try again" (RFC 5321 §5.1).
QUERY_TIMEOUT = 5.0


class DNSServer:
    """Answers queries from the world's zones."""

    def __init__(self, network: Network, name: str, db: dns.DNSDatabase) -> None:
        self.network, self.name, self.db = network, name, db
        network.listen_datagrams(name, DNS_PORT, self)

    def datagram_received(self, src: str, data: bytes) -> None:
        reply = dns.answer(self.db, data)
        if reply is None:
            return
        parsed = dns.parse_answer(reply)
        self.network.datagram(
            self.name, src, RESOLVER_PORT, Note(reply, parsed.summary, parsed.explain, parsed.rfc), "DNS"
        )


@dataclass
class _Pending:
    callbacks: list[Callable[[dns.Answer | None], None]]
    timer: Timer
    name: str
    rtype: str


class Resolver:
    """A caching stub resolver on one host: sends a query, calls back with the answer (or a timeout).

    Positive answers are kept for their TTL, as every real resolver does (RFC 1035
    §7.4), so a busy MTA asks once an hour, not once a message; failures are not
    kept, so an outage ends when the DNS comes back.
    """

    def __init__(self, network: Network, host: str, server: str) -> None:
        self.network, self.host, self.server = network, host, server
        self.pending: dict[int, _Pending] = {}
        self.asking: dict[tuple[str, str], int] = {}  # questions in flight -> their query id
        self.cache: dict[tuple[str, str], tuple[float, dns.Answer]] = {}
        network.listen_datagrams(host, RESOLVER_PORT, self)

    def query(self, name: str, rtype: str, callback: Callable[[dns.Answer | None], None]) -> None:
        """Ask; `callback` gets the answer, or None if none came in time."""
        cached = self.cache.get((name.lower(), rtype))
        if cached is not None and cached[0] > self.network.kernel.now:
            # Answered from the cache on the next turn of the kernel, not from inside this call.
            self.network.kernel.schedule(0.0, callback, cached[1])
            return
        in_flight = self.asking.get((name.lower(), rtype))
        if in_flight is not None:  # the same question is already on its way: wait for that answer
            self.pending[in_flight].callbacks.append(callback)
            return
        query_id = self.network.rng.randrange(1, 65536)
        while query_id in self.pending:
            query_id = self.network.rng.randrange(1, 65536)
        wire = dns.make_query(name, rtype, query_id)
        summary, explain, rfc = dns.describe_query(wire)
        timer = self.network.kernel.schedule(QUERY_TIMEOUT, self._timed_out, query_id, priority=TIMER)
        self.pending[query_id] = _Pending([callback], timer, name, rtype)
        self.asking[(name.lower(), rtype)] = query_id
        self.network.datagram(self.host, self.server, DNS_PORT, Note(wire, summary, explain, rfc), "DNS")

    def datagram_received(self, src: str, data: bytes) -> None:
        answer = dns.parse_answer(data)
        # RFC 1035 §4.1.1: the first two octets of every DNS message are its ID.
        pending = self.pending.pop(int.from_bytes(data[:2], "big"), None) if len(data) >= 2 else None
        if pending is None:
            return  # late, or never asked: ignore, as a resolver must (RFC 5452)
        pending.timer.cancel()
        self.asking.pop((pending.name.lower(), pending.rtype), None)
        if answer.rcode == "NOERROR":
            self.cache[(pending.name.lower(), pending.rtype)] = (self.network.kernel.now + dns.TTL, answer)
        for callback in pending.callbacks:
            callback(answer)

    def _timed_out(self, query_id: int) -> None:
        pending = self.pending.pop(query_id, None)
        if pending is None:
            return
        self.asking.pop((pending.name.lower(), pending.rtype), None)
        self.network.tracer.emit(
            "timeout", self.host, self.server, None, "DNS", b"",
            f"no answer for {pending.rtype} {pending.name}",
            "The DNS server did not answer in time; the mail server will try again later.", "RFC 5321 §5.1",
        )  # fmt: skip
        for callback in pending.callbacks:
            callback(None)
