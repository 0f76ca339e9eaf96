"""A world's own public-key infrastructure: one CA, and a certificate for every host.

TLS in the simulated world is real TLS (RFC 8446), so every server needs a real X.509
certificate (RFC 5280) that clients verify against a trusted issuer, exactly as on
the Internet. Each world makes its own certificate authority and signs one leaf
certificate per host. The leaf names the host (and, for `smtpsim serve`, `localhost`
and `127.0.0.1`) in its subjectAltName (RFC 5280 §4.2.1.6), which is where clients
check the host name (RFC 6125 §6.4, RFC 9525).

Three broken variants of each leaf let a scenario show the certificate faults a
client refuses: an expired certificate, one issued for another name, and one from a
CA the client does not trust.

Keys are ECDSA P-256 because generating them takes microseconds where RSA takes
tens of milliseconds. Everything made is cached in the process, keyed by the set of
host names, and optionally on disk. Certificates carry fresh random keys, so their
bytes differ from run to run; only TLS ciphertext and keys are outside the
simulation's determinism.
"""

from __future__ import annotations

import atexit
import datetime
import hashlib
import ipaddress
import json
import os
import shutil
import ssl
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "VARIANTS",
    "WRONG_HOST_NAME",
    "CertVariant",
    "WorldPKI",
    "clear_memory_cache",
    "default_cache_dir",
]

CertVariant = Literal["ok", "expired", "wrong-host", "untrusted"]

#: The certificate variants: the good one and one per fault a client must refuse.
VARIANTS: tuple[CertVariant, ...] = ("ok", "expired", "wrong-host", "untrusted")

#: The only name in a "wrong-host" certificate: a name no simulated host answers to.
WRONG_HOST_NAME = "unrelated.example.net"

_CACHE_FORMAT = 1
_CA_DAYS = 3650
_LEAF_DAYS = 397  # the longest lifetime browsers accept for a server certificate
_RENEW_BEFORE = datetime.timedelta(days=30)
_BACKDATE = datetime.timedelta(days=1)  # tolerate a clock a little behind the one that signed


@dataclass(frozen=True, slots=True)
class _Pair:
    """A certificate and its private key, both PEM."""

    cert: bytes
    key: bytes


@dataclass(frozen=True, slots=True)
class _Bundle:
    """Everything one world needs: its CA, a CA nobody trusts, and every host's leaf variants."""

    ca: _Pair
    untrusted_ca: _Pair
    leaves: dict[tuple[str, CertVariant], _Pair]


_memory_cache: dict[str, _Bundle] = {}
_pem_dir: Path | None = None
_pem_files: dict[str, Path] = {}  # by digest of certificate and key


def clear_memory_cache() -> None:
    """Forget the certificates made in this process (the next `WorldPKI` makes or loads them again)."""
    _memory_cache.clear()
    _pem_files.clear()


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/smtpsim`, or `~/.cache/smtpsim` (the XDG Base Directory default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "smtpsim"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "smtpsim world"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _make_ca(common_name: str, now: datetime.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A self-signed CA certificate (RFC 5280 §4.2.1.9: cA true, may sign only leaves)."""
    key = _new_key()
    name = _name(common_name)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _alt_names(names: Iterable[str]) -> list[x509.GeneralName]:
    """dNSName entries for host names, iPAddress entries for literal addresses (RFC 5280 §4.2.1.6)."""
    out: list[x509.GeneralName] = []
    for name in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def _make_leaf(
    names: list[str],
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate,
    issuer_key: ec.EllipticCurvePrivateKey,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
) -> bytes:
    """A server certificate for `names`, signed by `issuer`, as PEM."""
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_alt_names(names)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .sign(issuer_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def _build(hosts: tuple[str, ...], extra_names: tuple[str, ...]) -> _Bundle:
    now = _now()
    ca_cert, ca_key = _make_ca("smtpsim world CA", now)
    rogue_cert, rogue_key = _make_ca("smtpsim untrusted CA", now)
    valid_from, valid_to = now - _BACKDATE, now + datetime.timedelta(days=_LEAF_DAYS)
    # Expired a month ago after a normal lifetime: a certificate nobody renewed.
    expired_to = now - datetime.timedelta(days=30)
    expired_from = expired_to - datetime.timedelta(days=90)
    leaves: dict[tuple[str, CertVariant], _Pair] = {}
    for host in hosts:
        key = _new_key()
        key_pem = _key_pem(key)
        names = [host, *(n for n in extra_names if n != host)]
        leaves[host, "ok"] = _Pair(_make_leaf(names, key, ca_cert, ca_key, valid_from, valid_to), key_pem)
        leaves[host, "expired"] = _Pair(_make_leaf(names, key, ca_cert, ca_key, expired_from, expired_to), key_pem)
        leaves[host, "wrong-host"] = _Pair(
            _make_leaf([WRONG_HOST_NAME], key, ca_cert, ca_key, valid_from, valid_to), key_pem
        )
        leaves[host, "untrusted"] = _Pair(_make_leaf(names, key, rogue_cert, rogue_key, valid_from, valid_to), key_pem)
    return _Bundle(
        ca=_Pair(ca_cert.public_bytes(serialization.Encoding.PEM), _key_pem(ca_key)),
        untrusted_ca=_Pair(rogue_cert.public_bytes(serialization.Encoding.PEM), _key_pem(rogue_key)),
        leaves=leaves,
    )


def _cache_key(hosts: tuple[str, ...], extra_names: tuple[str, ...]) -> str:
    text = json.dumps([_CACHE_FORMAT, list(hosts), list(extra_names)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def _still_good(bundle: _Bundle, hosts: tuple[str, ...]) -> bool:
    """True if the CA and every good leaf stay valid for a while yet (a cache older than that is remade)."""
    limit = _now() + _RENEW_BEFORE
    pems = [bundle.ca.cert, *(bundle.leaves[host, "ok"].cert for host in hosts)]
    return all(x509.load_pem_x509_certificate(pem).not_valid_after_utc > limit for pem in pems)


def _to_json(bundle: _Bundle) -> str:
    def pair(p: _Pair) -> dict[str, str]:
        return {"cert": p.cert.decode("ascii"), "key": p.key.decode("ascii")}

    leaves = [{"host": h, "variant": v, **pair(p)} for (h, v), p in bundle.leaves.items()]
    return json.dumps(
        {"format": _CACHE_FORMAT, "ca": pair(bundle.ca), "untrusted_ca": pair(bundle.untrusted_ca), "leaves": leaves}
    )


def _from_json(text: str, hosts: tuple[str, ...]) -> _Bundle | None:
    """The bundle in a cache file, or None if the file is not one we wrote for these hosts."""
    try:
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("format") != _CACHE_FORMAT:
            return None

        def pair(d: dict[str, str]) -> _Pair:
            return _Pair(d["cert"].encode("ascii"), d["key"].encode("ascii"))

        leaves: dict[tuple[str, CertVariant], _Pair] = {}
        for item in doc["leaves"]:
            variant = item["variant"]
            if variant in VARIANTS:
                leaves[item["host"], variant] = pair(item)
        bundle = _Bundle(ca=pair(doc["ca"]), untrusted_ca=pair(doc["untrusted_ca"]), leaves=leaves)
        if any((h, v) not in leaves for h in hosts for v in VARIANTS):
            return None
        return bundle if _still_good(bundle, hosts) else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _load_from_disk(directory: Path, key: str, hosts: tuple[str, ...]) -> _Bundle | None:
    try:
        text = (directory / f"pki-{key}.json").read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        return None
    return _from_json(text, hosts)


def _save_to_disk(directory: Path, key: str, bundle: _Bundle) -> None:
    """Write the cache file atomically and readable only by its owner (it holds private keys)."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".pki-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="ascii") as f:
                f.write(_to_json(bundle))
            os.replace(tmp, directory / f"pki-{key}.json")
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        pass  # a read-only or full cache directory only costs the next run a rebuild


def _pem_file(pair: _Pair) -> Path:
    """A private file holding certificate and key: `SSLContext.load_cert_chain` reads only files."""
    global _pem_dir  # noqa: PLW0603 - one private directory per process
    digest = hashlib.sha256(pair.cert + pair.key).hexdigest()[:32]
    path = _pem_files.get(digest)
    if path is not None and path.exists():
        return path
    if _pem_dir is None or not _pem_dir.is_dir():
        _pem_dir = Path(tempfile.mkdtemp(prefix="smtpsim-pki-"))
        atexit.register(shutil.rmtree, _pem_dir, True)
    path = _pem_dir / f"{digest}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pair.cert + pair.key)
    _pem_files[digest] = path
    return path


class WorldPKI:
    """The CA and host certificates of one simulated world.

    Args:
        hosts: the host names that serve TLS (e.g. "smtp.example.com", "mx.example.org").
        extra_names: more names in every good leaf, so that a real client connecting
            to the loopback address through `smtpsim serve` verifies with host-name
            checking on. Literal addresses become iPAddress entries.
        cache_dir: a directory for an on-disk cache that outlives the process
            (`default_cache_dir()` is the usual choice); None keeps the cache in memory only.
    """

    def __init__(
        self,
        hosts: Iterable[str],
        extra_names: Iterable[str] = ("localhost", "127.0.0.1"),
        *,
        cache_dir: Path | None = None,
    ) -> None:
        self.hosts: tuple[str, ...] = tuple(sorted(set(hosts)))
        self.extra_names: tuple[str, ...] = tuple(extra_names)
        if not self.hosts:
            raise ValueError("a world PKI needs at least one host")
        self._key = _cache_key(self.hosts, self.extra_names)
        bundle = _memory_cache.get(self._key)
        if bundle is not None and not _still_good(bundle, self.hosts):
            bundle = None
        #: Where the material came from: "memory", "disk" or "built" (for reports and benchmarks).
        self.source = "memory"
        if bundle is None and cache_dir is not None:
            bundle = _load_from_disk(cache_dir, self._key, self.hosts)
            self.source = "disk"
        if bundle is None:
            bundle = _build(self.hosts, self.extra_names)
            self.source = "built"
            if cache_dir is not None:
                _save_to_disk(cache_dir, self._key, bundle)
        _memory_cache[self._key] = bundle
        self._bundle = bundle

    def ca_pem(self) -> bytes:
        """The world CA's certificate, PEM: what `smtpsim serve --ca-cert FILE` writes for real clients."""
        return self._bundle.ca.cert

    def untrusted_ca_pem(self) -> bytes:
        """The certificate of the CA that signs the "untrusted" variants (nobody trusts it by default)."""
        return self._bundle.untrusted_ca.cert

    def leaf_pem(self, host: str, variant: CertVariant = "ok") -> bytes:
        """A host's certificate, PEM, in one of the `VARIANTS`."""
        return self._pair(host, variant).cert

    def _pair(self, host: str, variant: CertVariant) -> _Pair:
        try:
            return self._bundle.leaves[host, variant]
        except KeyError:
            raise ValueError(f"no {variant!r} certificate for {host!r}; hosts: {', '.join(self.hosts)}") from None

    def server_context(self, host: str, variant: CertVariant = "ok") -> ssl.SSLContext:
        """A new server-side context presenting `host`'s certificate in the given variant.

        The server sends its leaf alone, as most do: a client that does not already
        trust the issuer cannot build a chain (RFC 8446 §4.4.2).
        """
        pair = self._pair(host, variant)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(_pem_file(pair))
        return context

    def client_context(self, verify: bool = True) -> ssl.SSLContext:
        """A new client-side context that trusts the world CA only.

        With `verify`, the client checks the chain and the host name (RFC 6125 §6),
        as a careful mail client does; without it, it accepts any certificate, which
        is what many MTAs still do for opportunistic STARTTLS (RFC 7435 §1).
        """
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cadata=self._bundle.ca.cert.decode("ascii"))
        if not verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context
