"""The simulated world's DNS: authoritative data, real wire-format queries and answers, MX routing.

Every message that crosses the simulated wire is a real DNS message built and parsed by
dnspython, so a pcap export decodes in tshark like any other capture. The module is sans-IO:
the DNS server node calls `answer`, the MTA calls `make_query`, `parse_answer` and
`route_from_mx`, and the simulator carries the bytes between them. No clock, no sockets and
no randomness live here: query ids come from the caller, records go out in insertion order.
"""

from __future__ import annotations

import functools
import ipaddress
import struct
from dataclasses import dataclass, field
from typing import ClassVar, TypeAlias

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.MX
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.A
import dns.rrset

#: TTL of every record we serve; the resolvers of the world cache positive answers this long.
TTL = 3600

#: The record types the world's zones hold and `make_query` asks for.
RTYPES = ("A", "MX", "TXT")

#: The exchange of a null MX (RFC 7505 §3): the root name, "no mail here".
NULL_EXCHANGE = "."

#: Faults `DNSDatabase.set_failure` can inject, by rcode name.
FAILURE_RCODES = ("SERVFAIL", "NXDOMAIN")

# One character-string inside a TXT record holds at most 255 octets (RFC 1035 §3.3).
_TXT_CHUNK = 255

# Errors dnspython raises on bytes that are not a DNS message; ValueError covers bad text
# inside rdata (UnicodeDecodeError) and struct.error covers short fixed-size fields.
_WIRE_ERRORS = (dns.exception.DNSException, ValueError, struct.error)


def normalize(name: str) -> str:
    """A domain name as the database keys it: lower case, no trailing dot ("." stays the root)."""
    name = name.strip()
    if name == NULL_EXCHANGE:
        return name
    return name.rstrip(".").lower()


def _checked_name(name: str) -> str:
    """Normalize a name and refuse one DNS cannot carry, so `answer` never fails to build a reply."""
    key = normalize(name)
    if not key or key == NULL_EXCHANGE:
        raise ValueError(f"not a host or domain name: {name!r}")
    try:
        parsed = dns.name.from_text(key)
    except dns.exception.DNSException as exc:
        raise ValueError(f"not a valid domain name: {name!r} ({exc})") from exc
    # A name that only survives with escapes (spaces, quotes) would not round-trip through records.
    if parsed.to_text(omit_final_dot=True) != key:
        raise ValueError(f"not a plain domain name: {name!r}")
    return key


@functools.lru_cache(maxsize=4096)
def askable(name: str) -> bool:
    """Whether a name can be put in a DNS question at all (a name SPF macros build may not)."""
    try:
        _checked_name(name)
    except ValueError:
        return False
    return True


def _is_at_or_under(name: str, ancestor: str) -> bool:
    return name == ancestor or name.endswith("." + ancestor)


# --- the world's authoritative data -----------------------------------------------


@dataclass
class DNSDatabase:
    """Every zone of the simulated world in plain dicts, so that `copy.deepcopy` snapshots it.

    Names are case-insensitive (RFC 4343) and stored in lower case without the trailing dot.
    Faults live beside the data: `failures` makes a name and everything under it answer
    SERVFAIL or NXDOMAIN; `mx_overrides` replaces a domain's MX set (a "wrong MX").
    """

    a: dict[str, list[str]] = field(default_factory=dict)
    mx: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    txt: dict[str, list[str]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    mx_overrides: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def add_a(self, name: str, address: str) -> None:
        """Publish an IPv4 address for a host name (RFC 1035 §3.4.1)."""
        key = _checked_name(name)
        address = str(ipaddress.IPv4Address(address))
        addresses = self.a.setdefault(key, [])
        if address not in addresses:
            addresses.append(address)

    def add_mx(self, domain: str, preference: int, exchange: str) -> None:
        """Publish a mail exchanger for a domain; exchange "." is a null MX (RFC 7505)."""
        key = _checked_name(domain)
        entry = (_checked_preference(preference), _checked_exchange(exchange))
        entries = self.mx.setdefault(key, [])
        if entry not in entries:
            entries.append(entry)

    def add_txt(self, name: str, text: str) -> None:
        """Publish a text record (SPF policies, DKIM keys, DMARC policies live in these)."""
        key = _checked_name(name)
        texts = self.txt.setdefault(key, [])
        if text not in texts:
            texts.append(text)

    def set_failure(self, name: str, rcode: str) -> None:
        """Make a name and every name under it answer with `rcode` ("SERVFAIL" or "NXDOMAIN")."""
        rcode = rcode.upper()
        if rcode not in FAILURE_RCODES:
            raise ValueError(f"a DNS fault is one of {', '.join(FAILURE_RCODES)}, not {rcode!r}")
        self.failures[_checked_name(name)] = rcode

    def clear_failure(self, name: str) -> None:
        """Undo `set_failure` for exactly this name; no error if there was none."""
        self.failures.pop(normalize(name), None)

    def override_mx(self, domain: str, mx: list[tuple[int, str]]) -> None:
        """Serve these MX records for a domain instead of its real ones (a "wrong MX" fault)."""
        entries = [(_checked_preference(p), _checked_exchange(x)) for p, x in mx]
        self.mx_overrides[_checked_name(domain)] = entries

    def clear_override(self, domain: str) -> None:
        """Serve the domain's real MX records again; no error if there was no override."""
        self.mx_overrides.pop(normalize(domain), None)

    def failure_for(self, name: str) -> str | None:
        """The injected rcode that applies to a name: its own, else the nearest failing ancestor's."""
        key = normalize(name)
        labels = key.split(".")
        for i in range(len(labels)):
            rcode = self.failures.get(".".join(labels[i:]))
            if rcode is not None:
                return rcode
        return None

    def mx_for(self, domain: str) -> list[tuple[int, str]]:
        """The MX records the server hands out for a domain, the override winning."""
        key = normalize(domain)
        if key in self.mx_overrides:
            return list(self.mx_overrides[key])
        return list(self.mx.get(key, []))

    def exists(self, name: str) -> bool:
        """Whether a name exists: it owns a record, or a name below it does.

        A name with nothing of its own but with names under it (an "empty non-terminal",
        such as example.org when only mx.example.org has a record) still exists: the answer
        is NODATA, not NXDOMAIN (RFC 8020 §2).
        """
        key = normalize(name)
        owners = [*self.a, *self.mx, *self.txt, *(d for d, mx in self.mx_overrides.items() if mx)]
        return any(_is_at_or_under(owner, key) for owner in owners)


def _checked_preference(preference: int) -> int:
    if not 0 <= preference <= 0xFFFF:
        raise ValueError(f"MX preference is a 16-bit number, not {preference}")
    return preference


def _checked_exchange(exchange: str) -> str:
    if normalize(exchange) == NULL_EXCHANGE:
        return NULL_EXCHANGE
    return _checked_name(exchange)


# --- the DNS server's side ----------------------------------------------------------


def answer(db: DNSDatabase, query_wire: bytes) -> bytes | None:
    """What the authoritative DNS server replies to one query, as wire bytes.

    Returns:
        the response: AA set, rcode NOERROR (with records, or none: NODATA), NXDOMAIN or
        SERVFAIL; FORMERR for bytes that are no DNS message but carry an id; None when
        there is nothing to answer (fewer than two bytes, or the message is itself a response).
    """
    try:
        query = dns.message.from_wire(query_wire)
    except _WIRE_ERRORS:
        return _format_error(query_wire)
    if query.flags & dns.flags.QR:
        # Answering a response could make two servers echo each other forever.
        return None
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    if query.opcode() != dns.opcode.QUERY:
        response.set_rcode(dns.rcode.NOTIMP)
    elif len(query.question) != 1:
        response.set_rcode(dns.rcode.FORMERR)
    elif query.question[0].rdclass != dns.rdataclass.IN:
        # The simulated world has only Internet-class data.
        response.set_rcode(dns.rcode.REFUSED)
    else:
        _fill(db, query.question[0], response)
    return response.to_wire(want_shuffle=False)


def _format_error(wire: bytes) -> bytes | None:
    """A FORMERR response echoing what can be read of a broken query's header (RFC 1035 §4.1.1)."""
    if len(wire) < 2:
        return None
    (query_id,) = struct.unpack("!H", wire[:2])
    response = dns.message.Message(id=query_id)
    response.flags = dns.flags.QR
    if len(wire) >= 4:
        (flags,) = struct.unpack("!H", wire[2:4])
        response.flags |= flags & dns.flags.RD
    response.set_rcode(dns.rcode.FORMERR)
    return response.to_wire()


def _fill(db: DNSDatabase, question: dns.rrset.RRset, response: dns.message.Message) -> None:
    """Put the rcode and the answer records for one question into the response."""
    qname = question.name
    found = resolve(db, qname.to_text(omit_final_dot=True), dns.rdatatype.to_text(question.rdtype))
    if found.rcode != "NOERROR":
        response.set_rcode(dns.rcode.from_text(found.rcode))
        return
    rdatas = [_rdata(record) for record in found.records]
    if rdatas:
        # The owner name is the question's own, so its case matches what was asked (RFC 4343 §4).
        response.answer.append(dns.rrset.from_rdata_list(qname, TTL, rdatas))
    # No records of this type for an existing name: NOERROR with an empty answer (NODATA).


def resolve(db: DNSDatabase, name: str, rtype: str) -> Answer:
    """What the authoritative server answers about one name and type, as records rather than wire bytes.

    The server's reply (`answer`) is built from this, so a lookup made here (the checks an MX makes
    while a message is in DATA) meets the same records and the same injected failures as a query
    sent over the network; it only skips encoding and decoding the message.
    """
    key = normalize(name)
    failure = db.failure_for(key)
    if failure is not None:
        return Answer(failure, (), key, rtype)
    if not db.exists(key):
        return Answer("NXDOMAIN", (), key, rtype)
    records: tuple[Record, ...] = ()
    if rtype == "A":
        records = tuple(ARecord(key, address) for address in db.a.get(key, []))
    elif rtype == "MX":
        records = tuple(MXRecord(preference, normalize(exchange)) for preference, exchange in db.mx_for(key))
    elif rtype == "TXT":
        records = tuple(TXTRecord(key, text) for text in db.txt.get(key, []))
    return Answer("NOERROR", records, key, rtype)


def _rdata(record: Record) -> dns.rdata.Rdata:
    IN = dns.rdataclass.IN
    if isinstance(record, ARecord):
        return dns.rdata.from_text(IN, dns.rdatatype.A, record.address)
    if isinstance(record, MXRecord):
        # The final dot makes the name absolute; a relative one cannot go on the wire.
        return dns.rdata.from_text(IN, dns.rdatatype.MX, f"{record.preference} {record.exchange.rstrip('.')}.")
    return dns.rdtypes.ANY.TXT.TXT(IN, dns.rdatatype.TXT, _txt_strings(record.text))


def _txt_strings(text: str) -> list[bytes]:
    """Split a text into the ≤255-octet character-strings of one TXT record (RFC 1035 §3.3.14)."""
    data = text.encode("utf-8")
    if not data:
        return [b""]
    return [data[i : i + _TXT_CHUNK] for i in range(0, len(data), _TXT_CHUNK)]


# --- the resolver's side: queries ------------------------------------------------------


def make_query(name: str, rtype: str, query_id: int) -> bytes:
    """A recursive query (RD set) for one name and type, with the caller's id, as wire bytes."""
    rtype = rtype.upper()
    if rtype not in RTYPES:
        raise ValueError(f"the simulated DNS serves {', '.join(RTYPES)}, not {rtype!r}")
    if not 0 <= query_id <= 0xFFFF:
        raise ValueError(f"a DNS id is a 16-bit number, not {query_id}")
    _checked_name(name)
    # The name goes out as the caller spelt it: servers echo the case back (RFC 4343 §4).
    query = dns.message.make_query(name.strip().rstrip(".") + ".", rtype, id=query_id)
    return query.to_wire()


_QUERY_EXPLAIN = {
    "A": ("Asks the name server for the IPv4 address of {name}.", "RFC 1035 §3.4.1, §4.1"),
    "MX": (
        "Asks the name server which hosts accept mail for {name} (its MX records): the first step of "
        "delivering to a domain.",
        "RFC 5321 §5.1; RFC 1035 §3.3.9",
    ),
    "TXT": (
        "Asks the name server for the text records of {name}, where SPF, DKIM and DMARC publish policies and keys.",
        "RFC 1035 §3.3.14; RFC 7208 §4.4",
    ),
}

_MALFORMED_QUERY = (
    "malformed DNS query",
    "These bytes are not a well-formed DNS query, so no name server can answer it properly.",
    "RFC 1035 §4.1",
)


def describe_query(wire: bytes) -> tuple[str, str, str]:
    """A query for the trace.

    Returns:
        (summary such as "MX example.org?", explanation for a learner, RFC reference)
    """
    try:
        query = dns.message.from_wire(wire)
    except _WIRE_ERRORS:
        return _MALFORMED_QUERY
    if len(query.question) != 1:
        return _MALFORMED_QUERY
    question = query.question[0]
    name = normalize(question.name.to_text(omit_final_dot=True))
    rtype = dns.rdatatype.to_text(question.rdtype)
    explain, rfc = _QUERY_EXPLAIN.get(
        rtype, ("Asks the name server for the {rtype} records of {name}.", "RFC 1035 §4.1")
    )
    return f"{rtype} {name}?", explain.format(name=name, rtype=rtype), rfc


# --- the resolver's side: answers ------------------------------------------------------


@dataclass(frozen=True)
class ARecord:
    """An address record: `name` has IPv4 address `address` (RFC 1035 §3.4.1)."""

    name: str
    address: str


@dataclass(frozen=True)
class MXRecord:
    """A mail exchanger: `exchange` accepts mail for the domain; lower preference is tried first."""

    preference: int
    exchange: str

    @property
    def is_null(self) -> bool:
        """Exchange "." means the domain accepts no mail at all (RFC 7505 §3)."""
        return self.exchange == NULL_EXCHANGE


@dataclass(frozen=True)
class TXTRecord:
    """A text record, its character-strings joined back into one text (RFC 7208 §3.3)."""

    name: str
    text: str


Record: TypeAlias = ARecord | MXRecord | TXTRecord

_SUMMARY_TEXT_LIMIT = 60

_RCODE_EXPLAIN: dict[str, tuple[str, str]] = {
    "NXDOMAIN": (
        "The name {name} does not exist (NXDOMAIN): the authoritative server says so, "
        "and asking again will not change it.",
        "RFC 1035 §4.1.1; RFC 2308 §2.1",
    ),
    "SERVFAIL": (
        "The name server could not answer for {name} (SERVFAIL): a temporary failure, so ask again later.",
        "RFC 1035 §4.1.1; RFC 2308 §7.1",
    ),
    "FORMERR": (
        "Format error: the server could not understand the query, or these bytes are not a DNS response.",
        "RFC 1035 §4.1.1",
    ),
    "NOTIMP": ("The name server does not implement this kind of request.", "RFC 1035 §4.1.1"),
    "REFUSED": ("The name server refuses to answer this request, by policy.", "RFC 1035 §4.1.1"),
}

_RECORDS_EXPLAIN: dict[str, tuple[str, str]] = {
    "A": ("The IPv4 address of {name}: where to open a connection.", "RFC 1035 §3.4.1"),
    "MX": (
        "The mail exchangers for {name}, each with a preference: the lowest number is tried first.",
        "RFC 5321 §5.1; RFC 1035 §3.3.9",
    ),
    "TXT": (
        "The text records of {name}; mail reads SPF policies, DKIM keys and DMARC policies from them.",
        "RFC 1035 §3.3.14",
    ),
}


@dataclass(frozen=True)
class Answer:
    """A DNS response as the MTA sees it: the rcode, the records, and what they mean.

    Attributes:
        rcode: "NOERROR", "NXDOMAIN", "SERVFAIL", ...; "FORMERR" also for bytes that are no response.
        records: the answer section's A, MX and TXT records, in the order they came.
        name: the name asked about (lower case, no trailing dot), "" if unknown.
        rtype: the type asked about, such as "MX", "" if unknown.
        query_id: the id that pairs this response with its query, None if unreadable.
    """

    rcode: str
    records: tuple[Record, ...] = ()
    name: str = ""
    rtype: str = ""
    query_id: int | None = None

    @property
    def nodata(self) -> bool:
        """NOERROR with no record of the type asked: the name exists but has none (RFC 2308 §2.2)."""
        return self.rcode == "NOERROR" and not self.records

    @property
    def summary(self) -> str:
        """One line for a trace, like "MX example.org? -> 10 mx.example.org"."""
        question = f"{self.rtype} {self.name}?" if self.name else "DNS response"
        if self.rcode != "NOERROR":
            return f"{question} -> {self.rcode}"
        if not self.records:
            return f"{question} -> NODATA"
        return f"{question} -> {', '.join(_show(r) for r in _sorted_for_display(self.records))}"

    @property
    def explain(self) -> str:
        """What this response means, for a learner."""
        return self._meaning()[0]

    @property
    def rfc(self) -> str:
        """Where the behaviour is specified."""
        return self._meaning()[1]

    def _meaning(self) -> tuple[str, str]:
        name = self.name or "the name"
        if self.rcode != "NOERROR":
            explain, rfc = _RCODE_EXPLAIN.get(
                self.rcode, (f"The name server answered with rcode {self.rcode}.", "RFC 1035 §4.1.1")
            )
            return explain.format(name=name), rfc
        if not self.records:
            kind = f"{self.rtype} " if self.rtype else ""
            return (
                f"The name {name} exists but has no {kind}records (NODATA: NOERROR with an empty answer).",
                "RFC 2308 §2.2",
            )
        if any(isinstance(r, MXRecord) and r.is_null for r in self.records):
            return f"A null MX (MX 0 .): {name} declares that it accepts no mail at all.", "RFC 7505 §3"
        explain, rfc = _RECORDS_EXPLAIN.get(self.rtype, ("The records found for {name}.", "RFC 1035 §3.2"))
        return explain.format(name=name), rfc


def _sorted_for_display(records: tuple[Record, ...]) -> list[Record]:
    # MX are shown in the order they will be tried, which is what a learner wants to read.
    return sorted(records, key=lambda r: (r.preference, r.exchange) if isinstance(r, MXRecord) else (0, ""))


def _show(record: Record) -> str:
    if isinstance(record, ARecord):
        return record.address
    if isinstance(record, MXRecord):
        return f"{record.preference} {record.exchange}" + (" (null MX)" if record.is_null else "")
    text = record.text
    if len(text) > _SUMMARY_TEXT_LIMIT:
        text = text[: _SUMMARY_TEXT_LIMIT - 3] + "..."
    return f'"{text}"'


def parse_answer(wire: bytes) -> Answer:
    """Read a DNS response off the wire; bytes that are no response give rcode "FORMERR"."""
    try:
        message = dns.message.from_wire(wire)
    except _WIRE_ERRORS:
        query_id = struct.unpack("!H", wire[:2])[0] if len(wire) >= 2 else None
        return Answer("FORMERR", query_id=query_id)
    if not message.flags & dns.flags.QR:
        # A query handed in as an answer: reading it as NODATA would mislead the MTA.
        return Answer("FORMERR", query_id=message.id)
    name = rtype = ""
    if message.question:
        name = normalize(message.question[0].name.to_text(omit_final_dot=True))
        rtype = dns.rdatatype.to_text(message.question[0].rdtype)
    records: list[Record] = []
    for rrset in message.answer:
        owner = normalize(rrset.name.to_text(omit_final_dot=True))
        for rdata in rrset:
            record = _record(owner, rdata)
            if record is not None:
                records.append(record)
    return Answer(dns.rcode.to_text(message.rcode()), tuple(records), name, rtype, message.id)


def _record(owner: str, rdata: dns.rdata.Rdata) -> Record | None:
    if isinstance(rdata, dns.rdtypes.IN.A.A):
        return ARecord(owner, rdata.address)
    if isinstance(rdata, dns.rdtypes.ANY.MX.MX):
        exchange = rdata.exchange
        text = NULL_EXCHANGE if exchange == dns.name.root else normalize(exchange.to_text(omit_final_dot=True))
        return MXRecord(rdata.preference, text)
    if isinstance(rdata, dns.rdtypes.ANY.TXT.TXT):
        # The strings of one record are one text cut at 255 octets: join without spaces (RFC 7208 §3.3).
        return TXTRecord(owner, b"".join(rdata.strings).decode("utf-8", errors="replace"))
    return None


def addresses(a: Answer) -> tuple[str, ...]:
    """The IPv4 addresses in an A answer, in the order received, without repeats; () on any failure."""
    if a.rcode != "NOERROR":
        return ()
    return tuple(dict.fromkeys(r.address for r in a.records if isinstance(r, ARecord)))


# --- MX routing (RFC 5321 §5.1, RFC 7505) ------------------------------------------------


@dataclass(frozen=True)
class Targets:
    """Mail exchangers to try in order; the A lookup of each comes next (RFC 5321 §5.1)."""

    hosts: tuple[str, ...]
    rfc: ClassVar[str] = "RFC 5321 §5.1"

    @property
    def explain(self) -> str:
        return (
            f"Try the mail exchangers in order of preference, lowest number first: {', '.join(self.hosts)}. "
            "Equal preferences are tried in name order here, where a real MTA would pick at random; "
            "each name still has to be looked up for its address."
        )


@dataclass(frozen=True)
class ImplicitMX:
    """No MX records, yet the domain exists: the domain itself is the mail host (RFC 5321 §5.1)."""

    host: str
    rfc: ClassVar[str] = "RFC 5321 §5.1"

    @property
    def explain(self) -> str:
        return (
            f"{self.host} has no MX records, so it is treated as its own mail exchanger (the implicit MX): "
            "look up the address of the domain itself."
        )


@dataclass(frozen=True)
class NullMX:
    """The domain publishes a null MX: it accepts no mail, so fail now, for good (RFC 7505)."""

    domain: str
    permanent: ClassVar[bool] = True
    code: ClassVar[int] = 556
    status: ClassVar[str] = "5.1.10"
    rfc: ClassVar[str] = "RFC 7505 §3, §4.1; RFC 7504"

    @property
    def text(self) -> str:
        return f"Domain {self.domain} does not accept mail (nullMX)"

    @property
    def explain(self) -> str:
        return (
            f"{self.domain} publishes a null MX (MX 0 .): it says it accepts no mail, so the message "
            "bounces at once, with no retries and no fallback to the domain's address."
        )


@dataclass(frozen=True)
class NoSuchDomain:
    """The name does not exist (NXDOMAIN): a permanent failure, the message bounces."""

    domain: str
    rtype: str = "MX"
    permanent: ClassVar[bool] = True
    code: ClassVar[int] = 550
    status: ClassVar[str] = "5.1.2"
    rfc: ClassVar[str] = "RFC 5321 §5.1; RFC 3463 §3.2 (X.1.2)"

    @property
    def text(self) -> str:
        return (
            f"Host or domain name not found. Name service error for name={self.domain} type={self.rtype}: "
            "Host not found"
        )

    @property
    def explain(self) -> str:
        return (
            f"DNS says {self.domain} does not exist (NXDOMAIN). That is a definite answer, not an outage, "
            "so the message bounces instead of waiting in the queue."
        )


@dataclass(frozen=True)
class TryAgain:
    """DNS failed for now (SERVFAIL, no answer): keep the message queued and retry later."""

    domain: str
    reason: str
    rtype: str = "MX"
    permanent: ClassVar[bool] = False
    code: ClassVar[int] = 451
    status: ClassVar[str] = "4.4.3"
    rfc: ClassVar[str] = "RFC 5321 §5.1, §4.5.4.1; RFC 3463 §3.5 (X.4.3)"

    @property
    def text(self) -> str:
        return (
            f"Host or domain name not found. Name service error for name={self.domain} type={self.rtype}: "
            "Host not found, try again"
        )

    @property
    def explain(self) -> str:
        return (
            f"The lookup of {self.domain} failed for now ({self.reason}). A DNS failure is temporary: "
            "the message stays in the queue and delivery is retried later."
        )


Route: TypeAlias = Targets | ImplicitMX | NullMX | NoSuchDomain | TryAgain
Failure: TypeAlias = NullMX | NoSuchDomain | TryAgain


def route_from_mx(domain: str, mx: Answer | None) -> Route:
    """Decide where mail for a domain goes from the answer to its MX query (RFC 5321 §5.1, RFC 7505).

    Args:
        domain: the recipient domain that was asked about.
        mx: the parsed answer to the MX query, or None when no answer came (a timeout).
    """
    domain = normalize(domain)
    if mx is None:
        return TryAgain(domain, "no answer from the name server (timeout)")
    if mx.name and (mx.name != domain or mx.rtype != "MX"):
        # An answer to another question (a bug, or a spoof off the wire) must not steer mail:
        # a resolver drops it (RFC 5452 §4.1), and the lookup ends as if nothing came.
        return TryAgain(domain, f"the answer is for {mx.rtype} {mx.name}, not MX {domain}")
    if mx.rcode == "NXDOMAIN":
        return NoSuchDomain(domain)
    if mx.rcode != "NOERROR":
        # SERVFAIL and every other failure might clear up: deferring loses no mail, bouncing would.
        return TryAgain(domain, mx.rcode)
    records = [r for r in mx.records if isinstance(r, MXRecord)]
    if not records:
        return ImplicitMX(domain)
    real = [r for r in records if not r.is_null]
    if not real:
        return NullMX(domain)
    # A "." beside real exchangers breaks RFC 7505 §3; "." is no host, so only the others are tried.
    ordered = sorted((r.preference, r.exchange) for r in real)
    return Targets(tuple(dict.fromkeys(exchange for _, exchange in ordered)))
