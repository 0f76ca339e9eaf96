"""Sender authentication at the receiving MX: SPF, DKIM and DMARC against the simulated DNS.

Everything here is the real mechanism, run by maintained libraries, with every DNS question
answered by the simulated world instead of the internet:

- DKIM (RFC 6376) signs and verifies with dkimpy (the signing RSA operation done by `cryptography`,
  which is much faster than dkimpy's own); its `dnsfunc` hook asks our TXT lookup for the
  selector's key record. The keys the simulated worlds sign with ship with the package.
- SPF (RFC 7208) is evaluated by pyspf; a subclass of its query object sends the A, MX and TXT
  lookups that `check_host()` makes to our lookups, keeping the library's processing limits.
- DMARC (RFC 7489) policy records are parsed, and alignment and disposition evaluated, by the
  `dmarc` package; policy discovery (the `_dmarc` TXT lookups) and the `pct` sampling are done
  here, since that package leaves them to its caller.
- `authentication_results` writes the RFC 8601 Authentication-Results field the MX prepends.

The module is pure: no sockets, no clock (a DKIM `t=` tag only when the caller passes the
simulated time), no randomness (DMARC sampling takes its draw from the caller).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import getaddresses
from functools import lru_cache
from importlib import resources
from typing import ClassVar, Literal, TypeAlias

import dkim  # type: ignore[import-untyped]
import dkim.canonicalization  # type: ignore[import-untyped]
import dkim.crypto  # type: ignore[import-untyped]
import dmarc  # type: ignore[import-untyped]
import spf  # type: ignore[import-untyped]
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric import utils as asym_utils

from simulator.mail import dns as simdns
from simulator.mail.headers import fold, header_values

# --- DNS lookups into the simulated world -------------------------------------------------

TxtLookup: TypeAlias = Callable[[str], list[str]]
"""The TXT records of a name, each one text (its character-strings joined, RFC 7208 §3.3).

Returns [] when the name does not exist (NXDOMAIN) or has no TXT records (NODATA); raises
`DNSTemporaryError` when the lookup failed for now (SERVFAIL), which the checks report as
temperror (RFC 7208 §2.6.6, RFC 6376 §6.1.2, RFC 7489 §11.2).
"""

AddressLookup: TypeAlias = Callable[[str], list[str]]
"""The IPv4 addresses of a host name (A records); [] and `DNSTemporaryError` as for `TxtLookup`."""

MXLookup: TypeAlias = Callable[[str], list[tuple[int, str]]]
"""The (preference, exchange) MX records of a domain; [] and `DNSTemporaryError` as for `TxtLookup`."""


class DNSTemporaryError(Exception):
    """A lookup that failed for now (SERVFAIL, no answer): asking again later may succeed."""


def _no_records(name: str) -> list[str]:
    return []


def _no_mx(name: str) -> list[tuple[int, str]]:
    return []


@dataclass(frozen=True)
class DNSLookups:
    """The lookups an SPF evaluation makes (RFC 7208 §5): TXT for policies, A and MX for `a` and `mx`.

    DKIM and DMARC need only `txt`. The simulated world has no AAAA or PTR records, so the `ptr`
    mechanism and IPv6 clients find nothing, as they would in a zone without those records.
    """

    txt: TxtLookup
    a: AddressLookup = _no_records
    mx: MXLookup = _no_mx


def _ask(db: simdns.DNSDatabase, name: str, rtype: str) -> tuple[simdns.Record, ...]:
    """One question put to the simulated DNS, answered as its DNS server would (faults included)."""
    if not simdns.askable(name):
        return ()  # a name DNS cannot carry (an SPF macro can expand to one) has no records
    reply = simdns.resolve(db, name, rtype)
    if reply.rcode == "NXDOMAIN":
        return ()
    if reply.rcode != "NOERROR":
        raise DNSTemporaryError(f"{rtype} {simdns.normalize(name)}: {reply.rcode}")
    return reply.records


def txt_lookup(db: simdns.DNSDatabase) -> TxtLookup:
    """A TXT lookup answered by the simulated world's DNS database, faults included."""

    def lookup(name: str) -> list[str]:
        return [r.text for r in _ask(db, name, "TXT") if isinstance(r, simdns.TXTRecord)]

    return lookup


def dns_lookups(db: simdns.DNSDatabase) -> DNSLookups:
    """TXT, A and MX lookups answered by the simulated world's DNS database, faults included.

    Each lookup goes through the same wire-format query and answer as the world's DNS server,
    so an injected SERVFAIL or NXDOMAIN reaches SPF, DKIM and DMARC exactly as it reaches routing.
    """

    def a(name: str) -> list[str]:
        return [r.address for r in _ask(db, name, "A") if isinstance(r, simdns.ARecord)]

    def mx(name: str) -> list[tuple[int, str]]:
        return [(r.preference, r.exchange) for r in _ask(db, name, "MX") if isinstance(r, simdns.MXRecord)]

    return DNSLookups(txt=txt_lookup(db), a=a, mx=mx)


# --- DKIM (RFC 6376) ---------------------------------------------------------------------

DKIMStatus: TypeAlias = Literal["pass", "fail", "neutral", "none", "temperror", "permerror"]

#: The signing algorithm: rsa-sha256 is the one every verifier implements (RFC 8301 §3.1);
#: dkimpy's ed25519-sha256 (RFC 8463) would need PyNaCl as well.
ALGORITHM = b"rsa-sha256"

#: Relaxed header and body canonicalization (RFC 6376 §3.4.2, §3.4.4): survives the re-folding
#: and whitespace changes relays make; a footer added to the body still breaks it.
CANONICALIZATION = b"relaxed/relaxed"

#: RSA key size: signers SHOULD use 2048 bits (RFC 8301 §3.2); dkimpy refuses keys under 1024.
KEY_BITS = 2048

_MIN_KEY_BITS = 1024
_BODY_HASH_MISMATCH = "body hash mismatch"
_BYTES_REPR = re.compile(r"b'([^']*)'")


@dataclass(frozen=True)
class DKIMKey:
    """A DKIM key pair: the PEM private key the signer keeps, the public half the domain publishes.

    The record goes in DNS as TXT at `<selector>._domainkey.<domain>` (RFC 6376 §3.6.2.1).
    """

    private_key_pem: bytes
    public_key_b64: str
    bits: int

    @property
    def txt_record(self) -> str:
        """The key record's text, such as "v=DKIM1; k=rsa; p=MIIBIjAN..." (RFC 6376 §3.6.1)."""
        return f"v=DKIM1; k=rsa; p={self.public_key_b64}"


def key_name(domain: str, selector: str) -> str:
    """Where a domain publishes the key for a selector: `<selector>._domainkey.<domain>` (RFC 6376 §3.6.2.1)."""
    return f"{selector}._domainkey.{simdns.normalize(domain)}"


@lru_cache(maxsize=64)
def dkim_key(label: str = "", bits: int = KEY_BITS) -> DKIMKey:
    """An RSA key pair for DKIM, made once per process for each (label, bits).

    RSA key generation takes tens of milliseconds, so a world build reuses keys: pass a label
    such as "example.com/sel1" to get one key per domain and selector. The key is random, so
    signatures differ between processes; within one process the same label gives the same key.
    """
    if bits < _MIN_KEY_BITS:
        raise ValueError(f"DKIM verifiers refuse RSA keys under {_MIN_KEY_BITS} bits (RFC 8301 §3.2), not {bits}")
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    # dkimpy reads a PKCS #1 "RSA PRIVATE KEY"; the record carries a SubjectPublicKeyInfo (RFC 6376 §3.6.1).
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return DKIMKey(private_key_pem=pem, public_key_b64=base64.b64encode(public).decode("ascii"), bits=bits)


_KEYS = "keys"


def shipped_key_names() -> list[str]:
    """The DKIM keys shipped with the package (`simulator/mail/keys/<name>.pem`), by name."""
    folder = resources.files(__package__ or "simulator.mail").joinpath(_KEYS)
    return sorted(f.name.removesuffix(".pem") for f in folder.iterdir() if f.name.endswith(".pem"))


@lru_cache(maxsize=16)
def shipped_key(name: str) -> DKIMKey:
    """A DKIM key pair shipped with the package, so that a scenario signs the same way in every run.

    A key made at run time (`dkim_key`) differs between processes, and so would every signature and
    every trace that shows one; these keys were generated once and are public test material: they
    sign for the simulated world's domains and nothing else.

    Raises:
        KeyError: no key of that name is shipped; the message lists those that are.
    """
    if name not in shipped_key_names():
        raise KeyError(f"no DKIM key named {name!r}; shipped keys: {', '.join(shipped_key_names())}")
    pem = resources.files(__package__ or "simulator.mail").joinpath(_KEYS, f"{name}.pem").read_bytes()
    private = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(private, rsa.RSAPrivateKey):
        raise KeyError(f"the DKIM key {name!r} is not an RSA key")
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return DKIMKey(private_key_pem=pem, public_key_b64=base64.b64encode(public).decode("ascii"), bits=private.key_size)


def sign(
    message: bytes,
    domain: str,
    selector: str,
    private_key_pem: bytes,
    *,
    timestamp: int | None = None,
    include_headers: Sequence[str] | None = None,
) -> bytes:
    """The DKIM-Signature header field for a message, folded and CRLF-terminated, to prepend to it.

    rsa-sha256, relaxed/relaxed. By default the fields RFC 6376 §5.4.1 recommends are signed
    where present (From, To, Cc, Subject, Date, Message-ID, MIME fields, ...), with From
    signed once more than it occurs so that no second From can be added (§8.15).

    dkimpy's own `sign` stamps `t=` from the host's clock; the tag is optional (§3.5), so this
    builds the tag list itself, adding `t=` only from the caller's (simulated) time. dkimpy
    canonicalizes, selects and hashes the header fields and folds the result (RFC 6376 §3.7);
    the RSA operation itself is done by `cryptography` (OpenSSL), since dkimpy's pure-Python
    RSA takes about 5 ms per 2048-bit signature and a busy world signs every message. RSA
    PKCS #1 v1.5 is deterministic: the signature is the one dkimpy would make, bit for bit. A
    verifier compares `t=` with its own clock and refuses one more than ten hours ahead.

    Args:
        message: the message as it will be sent, header and body, CRLF line endings.
        domain: the signing domain (d=), whose DNS publishes the key.
        selector: which of the domain's keys (s=).
        private_key_pem: the PKCS #1 PEM private key, as in `DKIMKey.private_key_pem`.
        timestamp: the signing time in seconds since 1970 (t=), or None for no t= tag.
        include_headers: the header field names to sign instead of the recommended set.

    Raises:
        ValueError: the message or the key is unreadable, or From is not among the signed fields (§5.4).
    """
    try:
        signer = dkim.DKIM(message, signature_algorithm=ALGORITHM, linesep=b"\r\n")
    except dkim.MessageFormatError as exc:
        raise ValueError(f"not a message dkimpy can read: {_clean(exc)}") from exc
    private_key = _rsa_private_key(private_key_pem)
    if include_headers is None:
        names = [bytes(name) for name in signer.default_sign_headers()]
    else:
        names = [name.encode("ascii") for name in include_headers]
    signed = tuple(name.lower() for name in names)
    if b"from" not in signed:
        raise ValueError("the From header field MUST be signed (RFC 6376 §5.4)")
    policy = dkim.canonicalization.CanonicalizationPolicy.from_c_value(CANONICALIZATION)
    body_hash = hashlib.sha256(bytes(policy.canonicalize_body(signer.body))).digest()
    d = simdns.normalize(domain).encode("ascii")
    tags: list[tuple[bytes, bytes]] = [
        (b"v", b"1"),
        (b"a", ALGORITHM),
        (b"c", CANONICALIZATION),
        (b"d", d),
        (b"s", selector.encode("ascii")),
    ]
    if timestamp is not None:
        tags.append((b"t", str(int(timestamp)).encode("ascii")))
    # b= goes last, with a placeholder as long as dkimpy's, so that it folds onto lines of its own.
    tags += [(b"h", b":".join(signed)), (b"bh", base64.b64encode(body_hash)), (b"b", b"0" * 60)]
    name = b"DKIM-Signature"
    # The header hash covers the signed fields, then this field itself with b= empty (RFC 6376 §3.7).
    unsigned = dkim.RE_BTAG.sub(rb"\1", dkim.fold(b"; ".join(b"=".join(tag) for tag in tags), namelen=len(name)))
    hasher = hashlib.sha256()
    headers = policy.canonicalize_headers(signer.headers)
    dkim.hash_headers(hasher, policy, headers, signed, (name, b" " + unsigned), dict(tags))
    signature = private_key.sign(hasher.digest(), padding.PKCS1v15(), asym_utils.Prehashed(hashes.SHA256()))
    tags[-1] = (b"b", base64.b64encode(signature))
    value = dkim.fold(b"; ".join(b"=".join(tag) for tag in tags) + b"\r\n", namelen=len(name), linesep=b"\r\n")
    return name + b": " + bytes(value)


@lru_cache(maxsize=16)
def _rsa_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    """A PEM private key read once: loading checks the key, which costs more than signing with it."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not a PEM RSA private key: {exc}") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not a PEM RSA private key: DKIM signs here with rsa-sha256 only")
    if key.key_size < _MIN_KEY_BITS:
        raise ValueError(f"DKIM verifiers refuse RSA keys under {_MIN_KEY_BITS} bits (RFC 8301 §3.2)")
    return key


@dataclass(frozen=True)
class DKIMResult:
    """The outcome of verifying one DKIM signature (RFC 6376 §6; result names of RFC 8601 §2.7.1).

    Attributes:
        result: pass, fail (the signature or body hash did not verify), neutral (unprocessable),
            none (no signature), temperror (the key lookup failed for now), permerror (no key,
            a bad key, a malformed signature).
        domain: the signing domain (d=), "" when there was no readable signature.
        selector: the selector (s=), "" likewise.
        reason: what went wrong, in the words verifiers write into Authentication-Results.
    """

    result: DKIMStatus
    domain: str = ""
    selector: str = ""
    reason: str = ""
    rfc: ClassVar[str] = "RFC 6376 §6.1; RFC 8601 §2.7.1"

    @property
    def explain(self) -> str:
        """What the result means, for a learner."""
        who = f"{self.domain} (selector {self.selector})" if self.domain else "the signer"
        texts: dict[str, str] = {
            "pass": f"The DKIM signature of {who} verifies with the key in DNS: header fields and body "
            "are as the signer sent them.",
            "fail": f"The DKIM signature of {who} does not verify ({self.reason}): the message changed after "
            "it was signed, or the signature was forged.",
            "neutral": f"The DKIM signature of {who} could not be processed ({self.reason}).",
            "none": "The message carries no DKIM signature.",
            "temperror": f"The key of {who} could not be fetched from DNS for now ({self.reason}); try again later.",
            "permerror": f"The DKIM signature of {who} cannot be verified ({self.reason}), and never will be.",
        }
        return texts[self.result]


class _LogCapture(logging.Handler):
    """Keeps what dkimpy logs as errors: it reports key problems only to its logger."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@dataclass
class _KeyFetch:
    """The `dnsfunc` dkimpy calls, answered by a TXT lookup, remembering what happened."""

    lookup: TxtLookup
    asked: bool = False
    found: bool = False
    temporary: str = ""

    def __call__(self, name: bytes, timeout: float = 5) -> bytes | None:
        self.asked = True
        try:
            records = self.lookup(name.decode("ascii", "replace").rstrip("."))
        except DNSTemporaryError as exc:
            self.temporary = str(exc)
            raise dkim.DnsTimeoutError(str(exc)) from exc
        if not records:
            return None
        self.found = True
        # Several records at one selector: take the first (RFC 6376 §3.6.2.2 lets the verifier choose).
        return records[0].encode("utf-8")


def _text(value: object) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else ""


def _clean(message: object) -> str:
    """A dkimpy message without Python's b'...' around the bytes it quotes."""
    return _BYTES_REPR.sub(r"\1", str(message))


def _signer_of(message: bytes, index: int) -> tuple[str, str]:
    """The d= and s= of a signature read as plain tags, for one dkimpy refused before reading them."""
    values = header_values(message, "DKIM-Signature")
    tags: dict[str, str] = {}
    for part in values[index].split(";"):
        name, _, value = part.partition("=")
        tags.setdefault(name.strip(), "".join(value.split()))
    return tags.get("d", "").lower(), tags.get("s", "")


def signature_count(message: bytes) -> int:
    """How many DKIM-Signature fields the message has."""
    return len(header_values(message, "DKIM-Signature"))


def verify(message: bytes, lookup_txt: TxtLookup, index: int = 0) -> DKIMResult:
    """Verify one DKIM signature of a message, the topmost by default, fetching its key through `lookup_txt`.

    Args:
        message: the message as received, header and body.
        lookup_txt: the TXT lookup the key is fetched with, `<s>._domainkey.<d>` (RFC 6376 §3.6.2.2).
        index: which DKIM-Signature field, 0 for the topmost (the one added last).
    """
    if signature_count(message) <= index:
        return DKIMResult("none")
    capture = _LogCapture()
    # A logger of our own, outside logging's registry, so nothing is printed or kept globally.
    logger = logging.Logger("smtpsim.dkim", logging.DEBUG)
    logger.propagate = False
    logger.addHandler(capture)
    fetch = _KeyFetch(lookup_txt)
    verifier: object = None
    try:
        checker = dkim.DKIM(message, logger=logger, minkey=_MIN_KEY_BITS)
        verifier = checker  # kept for the d= and s= it has read when verify raises
        verified = bool(checker.verify(idx=index, dnsfunc=fetch))
    except dkim.DKIMException as exc:
        domain, selector = _text(getattr(verifier, "domain", None)), _text(getattr(verifier, "selector", None))
        if not domain:
            domain, selector = _signer_of(message, index)
        reason = _clean(exc)
        if isinstance(exc, dkim.ValidationError) and reason.startswith(_BODY_HASH_MISMATCH):
            return DKIMResult("fail", domain, selector, "body hash did not verify")
        if isinstance(exc, dkim.ValidationError):
            # A malformed or expired signature is a PERMFAIL (RFC 6376 §6.1.1).
            return DKIMResult("permerror", domain, selector, f"signature syntax error: {reason}")
        if isinstance(exc, dkim.MessageFormatError | dkim.KeyFormatError):
            return DKIMResult("permerror", domain, selector, reason)
        return DKIMResult("neutral", domain, selector, reason)
    except ValueError as exc:
        # dkimpy lets a bh= that is not base64 through its checks, and base64 then raises (binascii.Error).
        domain, selector = _signer_of(message, index)
        return DKIMResult("permerror", domain, selector, f"signature syntax error: {exc}")
    domain, selector = _text(getattr(verifier, "domain", None)), _text(getattr(verifier, "selector", None))
    if verified:
        return DKIMResult("pass", domain, selector)
    if fetch.temporary:
        return DKIMResult("temperror", domain, selector, f"key query failed: {fetch.temporary}")
    if fetch.asked and not fetch.found:
        # RFC 6376 §6.1.2: no key record is PERMFAIL (no key for signature).
        return DKIMResult("permerror", domain, selector, "no key for signature")
    if capture.messages:
        return DKIMResult("permerror", domain, selector, f"bad key: {_clean(capture.messages[-1])}")
    return DKIMResult("fail", domain, selector, "signature did not verify")


def verify_all(message: bytes, lookup_txt: TxtLookup) -> list[DKIMResult]:
    """Every DKIM signature of a message verified, topmost first; one "none" result when there is none."""
    count = signature_count(message)
    if count == 0:
        return [DKIMResult("none")]
    return [verify(message, lookup_txt, i) for i in range(count)]


# --- SPF (RFC 7208) ----------------------------------------------------------------------

SPFStatus: TypeAlias = Literal["pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"]


@dataclass(frozen=True)
class SPFResult:
    """The outcome of check_host() for one identity (RFC 7208 §2.6, §4).

    Attributes:
        result: pass, fail, softfail, neutral, none, temperror or permerror (§2.6).
        domain: the domain whose policy was checked: the MAIL FROM domain, or the HELO name
            when the reverse-path is null (§2.4).
        ip: the SMTP client's address.
        identity: "mailfrom" or "helo", which identity `domain` came from.
        explanation: pyspf's explanation, the text of an exp= modifier when the policy has one (§6.2).
        mechanism: the mechanism that matched at the top level, such as "ip4:192.0.2.1" or
            "include:_spf.example.com", "" when none did (the default result).
    """

    result: SPFStatus
    domain: str
    ip: str
    identity: Literal["mailfrom", "helo"] = "mailfrom"
    explanation: str = ""
    mechanism: str = ""
    rfc: ClassVar[str] = "RFC 7208 §2.6, §4"

    @property
    def explain(self) -> str:
        """What the result means, for a learner."""
        by = f" (matched {self.mechanism})" if self.mechanism else ""
        texts: dict[str, str] = {
            "pass": f"{self.domain}'s SPF policy lists {self.ip} as a permitted sender{by}.",
            "fail": f"{self.domain}'s SPF policy says {self.ip} may not send its mail{by}.",
            "softfail": f"{self.domain}'s SPF policy says {self.ip} is probably not a permitted sender{by}: "
            "accept, but with suspicion.",
            "neutral": f"{self.domain}'s SPF policy makes no statement about {self.ip}{by}.",
            "none": f"{self.domain} publishes no SPF policy, so nothing can be said about {self.ip}.",
            "temperror": f"The SPF check of {self.domain} hit a temporary DNS failure ({self.explanation}).",
            "permerror": f"{self.domain}'s SPF policy cannot be evaluated ({self.explanation}): "
            "an error in the record, or it needs too many DNS lookups.",
        }
        return texts[self.result]


class _SimulatedQuery(spf.query):  # type: ignore[misc]
    """pyspf's query with its DNS lookups answered by the simulated world.

    pyspf has no per-query resolver hook: its `dns` method calls a module-wide resolver. This
    subclass overrides that one method and keeps what RFC 7208 requires of it: answers are
    cached per evaluation, and more than two lookups that find nothing is a permerror (§4.6.4).
    The ten-lookup limit (§4.6.4) is counted by pyspf itself, per mechanism.
    """

    def __init__(self, lookups: DNSLookups, ip: str, sender: str, helo: str) -> None:
        super().__init__(i=ip, s=sender, h=helo, strict=True)
        self.lookups_into = lookups

    def dns(
        self, name: str, qtype: str, cnames: dict[str, str] | None = None, ignore_void: bool = False
    ) -> list[object]:
        key = simdns.normalize(str(name))
        if not key or key == simdns.NULL_EXCHANGE:
            return []
        cached: list[object] | None = self.cache.get((key, qtype))
        if cached:
            return list(cached)
        result: list[object]
        try:
            if qtype == "TXT":
                # pyspf takes a TXT record as its list of character-strings, in bytes.
                result = [[text.encode("utf-8")] for text in self.lookups_into.txt(key)]
            elif qtype == "A":
                result = list(self.lookups_into.a(key))
            elif qtype == "MX":
                result = list(self.lookups_into.mx(key))
            else:
                result = []  # AAAA, PTR, SPF (type 99): none in the simulated world
        except DNSTemporaryError as exc:
            raise spf.TempError(f"DNS {exc}") from exc
        self.cache[(key, qtype)] = result
        if not result and not ignore_void:
            self.void_lookups += 1
            if self.void_lookups > spf.MAX_VOID_LOOKUPS:
                raise spf.PermError(f"Void lookup limit of {spf.MAX_VOID_LOOKUPS} exceeded")
        return list(result)


_SPF_STATUSES: dict[str, SPFStatus] = {
    "pass": "pass",
    "fail": "fail",
    "softfail": "softfail",
    "neutral": "neutral",
    "none": "none",
    "temperror": "temperror",
    "permerror": "permerror",
}


def check_spf(ip: str, mail_from: str, helo: str, lookups: DNSLookups) -> SPFResult:
    """check_host() for a client address and its MAIL FROM (RFC 7208 §4), by pyspf over `lookups`.

    Args:
        ip: the SMTP client's address.
        mail_from: the reverse-path, with or without angle brackets; "" for the null sender,
            whose HELO name is then checked instead (§2.4).
        helo: the name the client gave in EHLO/HELO.
        lookups: TXT, A and MX lookups into the simulated DNS.
    """
    sender = mail_from.strip()
    if sender.startswith("<") and sender.endswith(">"):
        sender = sender[1:-1]
    try:
        query = _SimulatedQuery(lookups, ip, sender, helo)
    except spf.PermError as exc:
        # pyspf refuses a client address it cannot read before evaluating anything.
        return SPFResult("permerror", sender.rpartition("@")[2].lower() or helo.lower(), ip, explanation=str(exc))
    status, _code, explanation = query.check()
    identity: Literal["mailfrom", "helo"] = "helo" if query.ident == "helo" else "mailfrom"
    mechanism = query.mechanism
    return SPFResult(
        result=_SPF_STATUSES.get(str(status).lower(), "permerror"),
        domain=str(query.o).lower(),
        ip=ip,
        identity=identity,
        explanation=str(explanation),
        mechanism=str(mechanism) if mechanism else "",
    )


# --- DMARC (RFC 7489) --------------------------------------------------------------------

DMARCStatus: TypeAlias = Literal["pass", "fail", "none", "temperror", "permerror"]
Disposition: TypeAlias = Literal["none", "quarantine", "reject"]

# Public suffixes for the organizational domain (RFC 7489 §3.2). The simulated world names its
# domains under the reserved example.* names (RFC 2606), for which the Public Suffix List's
# default rule, "the last label is a public suffix", already gives the answer; a full list
# (and a library to load it) would only be consulted for names the world does not have. The
# few two-label suffixes here let a scenario show why a bare "last two labels" rule is wrong.
_MULTI_LABEL_SUFFIXES = frozenset(("co.uk", "org.uk", "ac.uk", "com.au", "co.jp"))


def organizational_domain(domain: str) -> str:
    """The registered domain a name belongs to: its public suffix plus one label (RFC 7489 §3.2)."""
    labels = simdns.normalize(domain).split(".")
    suffix_labels = 2 if ".".join(labels[-2:]) in _MULTI_LABEL_SUFFIXES and len(labels) > 2 else 1
    return ".".join(labels[-(suffix_labels + 1) :])


def _is_public_suffix(domain: str) -> bool:
    key = simdns.normalize(domain)
    return "." not in key or key in _MULTI_LABEL_SUFFIXES


class _OrganizationalDomains:
    """What the `dmarc` package asks its public-suffix object: a name's organizational domain.

    The package calls the method `get_public_suffix`, but uses the answer as the registered domain.
    """

    def get_public_suffix(self, domain: str) -> str:
        return organizational_domain(domain)


def from_domain(message: bytes) -> str | None:
    """The domain of the message's single From address (RFC 5322.From), which DMARC protects.

    None when there is no From, several From fields or addresses, or an address without a domain:
    DMARC cannot pick the domain to evaluate (RFC 7489 §6.6.1).
    """
    values = header_values(message, "From")
    if len(values) != 1:
        return None
    addresses = [address for _, address in getaddresses(values) if address]
    if len(addresses) != 1 or "@" not in addresses[0]:
        return None
    domain = addresses[0].rpartition("@")[2].strip().rstrip(">")
    return simdns.normalize(domain) or None


@dataclass(frozen=True)
class DMARCResult:
    """The DMARC verdict for a message (RFC 7489 §6.6; result names of §11.2).

    Attributes:
        result: pass (SPF or DKIM passed for an aligned domain), fail, none (no policy
            published), temperror (the policy lookup failed for now), permerror (an unreadable
            policy, or no single From domain).
        header_from: the RFC5322.From domain, "" when there is none.
        policy: the policy the domain asks for on failure: p=, or sp= for a subdomain whose
            policy came from its organizational domain (§6.3); "none" without a policy.
        disposition: what the receiver applies: "none" on pass; on fail the policy, one step
            milder when the message fell outside the pct= sample (§6.6.4).
        spf_aligned: SPF passed for a domain aligned with the From domain (§3.1.2).
        dkim_aligned: a DKIM signature passed for a domain aligned with it (§3.1.1).
        policy_domain: where the policy record was found, "" when none was.
        reason: what went wrong, for errors.
    """

    result: DMARCStatus
    header_from: str = ""
    policy: Disposition = "none"
    disposition: Disposition = "none"
    spf_aligned: bool = False
    dkim_aligned: bool = False
    policy_domain: str = ""
    reason: str = ""
    rfc: ClassVar[str] = "RFC 7489 §3.1, §6.6"

    @property
    def explain(self) -> str:
        """What the result means, for a learner."""
        if self.result == "pass":
            via = " and ".join(
                name for name, aligned in (("SPF", self.spf_aligned), ("DKIM", self.dkim_aligned)) if aligned
            )
            return f"DMARC passes for {self.header_from}: {via} authenticated a domain aligned with the From address."
        if self.result == "fail":
            return (
                f"DMARC fails for {self.header_from}: neither SPF nor DKIM authenticated a domain aligned with the "
                f"From address. The domain's policy is p={self.policy}; the receiver applies {self.disposition}."
            )
        if self.result == "none":
            return f"{self.header_from or 'The sender'} publishes no DMARC policy, so DMARC says nothing."
        if self.result == "temperror":
            return f"The DMARC policy of {self.header_from} could not be fetched for now ({self.reason})."
        return f"DMARC cannot be evaluated ({self.reason})."


_MILDER: dict[Disposition, Disposition] = {"reject": "quarantine", "quarantine": "none", "none": "none"}


def _disposition(value: object) -> Disposition:
    text = getattr(value, "value", None)
    if text == "reject":
        return "reject"
    if text == "quarantine":
        return "quarantine"
    return "none"


def _dmarc_records(name: str, lookup_txt: TxtLookup) -> list[str]:
    """The DMARC policy records at `_dmarc.<name>`: TXT records starting with v=DMARC1 (RFC 7489 §6.6.3)."""
    return [text for text in lookup_txt(f"_dmarc.{name}") if text.replace(" ", "").startswith("v=DMARC1")]


def check_dmarc(
    message: bytes,
    spf_result: SPFResult | None,
    dkim_results: DKIMResult | Sequence[DKIMResult],
    lookup_txt: TxtLookup,
    *,
    sample: int = 0,
) -> DMARCResult:
    """Evaluate the From domain's DMARC policy against the SPF and DKIM results (RFC 7489 §6.6).

    Policy discovery (§6.6.3): the TXT records at `_dmarc.<From domain>`, else at
    `_dmarc.<organizational domain>`; several policy records count as none. The `dmarc` package
    then parses the record and decides alignment (§3.1, relaxed or strict per adkim=/aspf=) and
    the policy (p=, or sp= for a subdomain). An SPF or DKIM pass for a public suffix never
    aligns: relaxed alignment compares organizational domains, and a suffix has none.

    Args:
        message: the message; only its From field is read.
        spf_result: the SPF result for MAIL FROM (or HELO), None when SPF was not checked.
        dkim_results: the DKIM result, or one per signature.
        lookup_txt: the TXT lookup the policy is fetched with.
        sample: the receiver's draw in 0..99 for pct= sampling (§6.6.4): the policy applies when
            sample < pct. The default 0 applies it whenever pct > 0; draw it from the
            simulation's seeded RNG to sample.
    """
    if not 0 <= sample <= 99:
        raise ValueError(f"the pct= sample is a number from 0 to 99, not {sample}")
    domain = from_domain(message)
    if domain is None:
        return DMARCResult("permerror", reason="no single RFC5322.From domain")
    org = organizational_domain(domain)
    try:
        records = _dmarc_records(domain, lookup_txt)
        policy_domain = domain
        if not records and org != domain:
            records = _dmarc_records(org, lookup_txt)
            policy_domain = org
    except DNSTemporaryError as exc:
        return DMARCResult("temperror", domain, reason=f"policy lookup failed: {exc}")
    if len(records) != 1:
        return DMARCResult("none", domain)
    try:
        evaluation = dmarc.DMARCPolicy(
            record=records[0],
            domain=domain,
            org_domain=policy_domain if policy_domain != domain else None,
            publicsuffix=_OrganizationalDomains(),
        )
    except dmarc.RecordSyntaxError as exc:
        return DMARCResult("permerror", domain, policy_domain=policy_domain, reason=f"invalid DMARC record: {exc}")
    results = [dkim_results] if isinstance(dkim_results, DKIMResult) else list(dkim_results)
    authenticated: list[object] = [
        dmarc.DKIM(r.domain, dmarc.DKIMResult(r.result), r.selector)
        for r in results
        if r.domain and not _is_public_suffix(r.domain)
    ]
    if spf_result is not None and spf_result.domain and not _is_public_suffix(spf_result.domain):
        authenticated.append(dmarc.SPF(spf_result.domain, dmarc.SPFResult(spf_result.result)))
    # A failed evaluation is reported by raising as well; the verdict is in evaluation.result either way.
    with contextlib.suppress(dmarc.PolicyError):
        evaluation.verify(auth_results=authenticated)
    verdict = evaluation.result
    record = evaluation.policy
    # sp= governs a subdomain whose policy came from its organizational domain; p= otherwise (§6.3).
    subdomain_policy = policy_domain != domain and getattr(record.sp, "value", None) is not None
    published = _disposition(record.sp if subdomain_policy else record.p)
    passed = getattr(verdict.result, "value", "fail") == "pass"
    disposition: Disposition = "none"
    if not passed:
        disposition = _disposition(verdict.disposition)
        pct = int(record.pct)
        if not 0 <= sample < pct:
            disposition = _MILDER[disposition]
    return DMARCResult(
        result="pass" if passed else "fail",
        header_from=domain,
        policy=published,
        disposition=disposition,
        spf_aligned=getattr(verdict.spf, "value", "") == "pass",
        dkim_aligned=getattr(verdict.dkim, "value", "") == "pass",
        policy_domain=policy_domain,
    )


# --- Authentication-Results (RFC 8601) ---------------------------------------------------


def _quoted(text: str) -> str:
    """A value as an RFC 5322 quoted-string, for reason= (RFC 8601 §2.2)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", " ").replace("\n", " ") + '"'


def _reason(reason: str) -> str:
    return f" reason={_quoted(reason)}" if reason else ""


def _spf_resinfo(result: SPFResult) -> str:
    prop = "smtp.helo" if result.identity == "helo" else "smtp.mailfrom"
    # The reason for a pass is the obvious one; for the others the explanation says what went wrong.
    reason = "" if result.result == "pass" else _reason(result.explanation)
    return f"spf={result.result}{reason} {prop}={result.domain}"


def _dkim_resinfo(result: DKIMResult) -> str:
    text = f"dkim={result.result}{_reason(result.reason)}"
    if result.domain:
        text += f" header.d={result.domain}"
    if result.selector:
        text += f" header.s={result.selector}"
    return text


def _dmarc_resinfo(result: DMARCResult) -> str:
    text = f"dmarc={result.result}"
    if result.result in ("pass", "fail"):
        # The policy and what was done, as a comment, the way large receivers write it.
        text += f" (p={result.policy} dis={result.disposition})"
    text += _reason(result.reason)
    if result.header_from:
        text += f" header.from={result.header_from}"
    return text


def authentication_results(
    authserv_id: str,
    spf_result: SPFResult | None,
    dkim_results: DKIMResult | Sequence[DKIMResult] | None,
    dmarc_result: DMARCResult | None,
) -> bytes:
    """The Authentication-Results header field the receiving MX prepends, folded and CRLF-terminated.

    One result per line after the authserv-id (RFC 8601 §2.2), so that unfolding gives the one-line
    form, such as `Authentication-Results: mx.example.org; spf=pass smtp.mailfrom=example.com;
    dkim=pass header.d=example.com header.s=sel1; dmarc=pass (p=reject dis=none) header.from=example.com`.
    Methods not checked are left out; with none at all the field says `none` (§2.2).

    Args:
        authserv_id: the name of the host that did the checks, such as "mx.example.org".
        spf_result: the SPF result (smtp.mailfrom or smtp.helo, RFC 8601 §2.7.2).
        dkim_results: one DKIM result or one per signature (header.d, header.s, RFC 8601 §2.7.1).
        dmarc_result: the DMARC result (header.from, RFC 7489 §11.2).
    """
    resinfos: list[str] = []
    if spf_result is not None:
        resinfos.append(_spf_resinfo(spf_result))
    if dkim_results is not None:
        results = [dkim_results] if isinstance(dkim_results, DKIMResult) else list(dkim_results)
        resinfos += [_dkim_resinfo(r) for r in results]
    if dmarc_result is not None:
        resinfos.append(_dmarc_resinfo(dmarc_result))
    if not resinfos:
        resinfos = ["none"]
    lines = [f"Authentication-Results: {authserv_id};"]
    for i, resinfo in enumerate(resinfos):
        separator = ";" if i < len(resinfos) - 1 else ""
        lines += fold(f" {resinfo}{separator}")
    return "".join(f"{line}\r\n" for line in lines).encode("utf-8")


@dataclass(frozen=True)
class Verdict:
    """SPF, DKIM and DMARC for one message, as the receiving MX checks them, with the header field to add."""

    spf: SPFResult
    dkim: tuple[DKIMResult, ...]
    dmarc: DMARCResult
    header: bytes = field(repr=False)


def authenticate(
    message: bytes,
    *,
    ip: str,
    mail_from: str,
    helo: str,
    lookups: DNSLookups,
    authserv_id: str,
    sample: int = 0,
) -> Verdict:
    """All three checks in the order a receiver runs them (SPF, then DKIM, then DMARC on both) and the header."""
    spf_result = check_spf(ip, mail_from, helo, lookups)
    dkim_results = tuple(verify_all(message, lookups.txt))
    dmarc_result = check_dmarc(message, spf_result, dkim_results, lookups.txt, sample=sample)
    header = authentication_results(authserv_id, spf_result, dkim_results, dmarc_result)
    return Verdict(spf_result, dkim_results, dmarc_result, header)
