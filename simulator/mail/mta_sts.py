"""MTA-STS (RFC 8461): a receiving domain's promise that its MX hosts speak TLS with valid certificates.

A domain publishes two things: a TXT record at `_mta-sts.<domain>` saying a policy
exists (and its id, which changes when the policy does), and the policy itself,
served over HTTPS at `https://mta-sts.<domain>/.well-known/mta-sts.txt`. A sending
MTA that has the policy delivers only to MX hosts the policy names, and only over
TLS with a certificate that verifies; with `mode: enforce` it would rather defer
than send in clear text. That is what defeats a man in the middle who strips
STARTTLS from the EHLO reply (RFC 8461 §1, §5).

Pure functions and small values: the world decides where the TXT record and the
policy come from. Written here because the protocol is a few lines of key/value
text and no maintained library evaluates it against a simulated DNS and web.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from simulator.protocol.values import Value

MAX_POLICY_OCTETS = 64 * 1024  # RFC 8461 §3.3: senders may refuse policies larger than 64 KiB
MAX_AGE_LIMIT = 31_557_600  # RFC 8461 §3.2: at most one year
_ID = re.compile(r"[A-Za-z0-9]{1,32}")  # RFC 8461 §3.1: sts-id
_MX_PATTERN = re.compile(
    r"(\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)


class PolicyError(ValueError):
    """A TXT record or a policy file that is not valid MTA-STS: the sender acts as if there were none."""


class Mode(Enum):
    """What the policy asks of senders (RFC 8461 §3.2, §5)."""

    ENFORCE = "enforce"  # deliver only to a listed MX over verified TLS, else do not deliver
    TESTING = "testing"  # deliver anyway, but report the failure (TLSRPT, RFC 8460)
    NONE = "none"  # the domain withdraws its policy


@dataclass(frozen=True)
class Record(Value):
    """The `_mta-sts` TXT record (RFC 8461 §3.1)."""

    id: str


@dataclass(frozen=True)
class Policy(Value):
    """A policy file (RFC 8461 §3.2)."""

    mode: Mode
    mx: tuple[str, ...]
    max_age: int

    def allows(self, mx_host: str) -> bool:
        """Whether `mx_host` matches one of the policy's `mx` patterns (RFC 8461 §4.1).

        A pattern is a host name, or `*.` and a domain, which matches exactly one more
        label on the left: `*.example.org` matches `mx1.example.org`, not `example.org`
        and not `a.b.example.org`.
        """
        host = mx_host.rstrip(".").lower()
        for pattern in self.mx:
            if pattern.startswith("*."):
                label, _, rest = host.partition(".")
                if label and rest == pattern[2:]:
                    return True
            elif host == pattern:
                return True
        return False


@dataclass(frozen=True)
class Decision(Value):
    """What a sending MTA does with one MX host under a policy, and why."""

    deliver: bool
    report: bool  # a failure worth a TLS report (RFC 8460), even when delivering in testing mode
    reason: str
    rfc: str = "RFC 8461 §5"


def parse_record(texts: list[str]) -> Record | None:
    """The MTA-STS record among the TXT strings at `_mta-sts.<domain>`, or None if there is none.

    Records not starting with `v=STSv1` are ignored; two valid ones mean none (RFC 8461 §3.1).

    Raises:
        PolicyError: a record that starts like MTA-STS but is malformed.
    """
    found: list[Record] = []
    for text in texts:
        fields = [f.strip() for f in text.split(";") if f.strip()]
        if not fields or fields[0] != "v=STSv1":
            continue
        values = {key.strip(): value.strip() for key, _, value in (f.partition("=") for f in fields[1:])}
        sts_id = values.get("id", "")
        if not _ID.fullmatch(sts_id):
            raise PolicyError(f"expected id= of 1 to 32 letters and digits in {text!r}")
        found.append(Record(sts_id))
    return found[0] if len(found) == 1 else None


def parse_policy(text: str) -> Policy:
    """A policy file's `key: value` lines (RFC 8461 §3.2), checked.

    Raises:
        PolicyError: a missing or wrong version, mode, max_age, or no mx line outside mode none.
    """
    if len(text.encode("utf-8", "replace")) > MAX_POLICY_OCTETS:
        raise PolicyError("the policy is larger than 64 KiB")
    fields: dict[str, list[str]] = {}
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        key, colon, value = line.partition(":")
        if not colon:
            raise PolicyError(f"expected 'key: value', got {line!r}")
        fields.setdefault(key.strip().lower(), []).append(value.strip())
    if fields.get("version") != ["STSv1"]:
        raise PolicyError("expected 'version: STSv1' first and once")
    try:
        mode = Mode(fields.get("mode", [""])[0])
    except ValueError:
        raise PolicyError("expected mode: enforce, testing or none") from None
    age = fields.get("max_age", [""])[0]
    if not age.isdigit() or not 0 <= int(age) <= MAX_AGE_LIMIT:
        raise PolicyError(f"expected max_age in seconds, at most {MAX_AGE_LIMIT}, got {age!r}")
    patterns = tuple(p.lower().rstrip(".") for p in fields.get("mx", []))
    for pattern in patterns:
        if not _MX_PATTERN.fullmatch(pattern):
            raise PolicyError(f"expected an mx host name or *.domain, got {pattern!r}")
    if mode is not Mode.NONE and not patterns:
        raise PolicyError("expected at least one mx line")
    return Policy(mode, patterns, int(age))


def decide(policy: Policy | None, mx_host: str, tls: str) -> Decision:
    """Whether to deliver to `mx_host`, given how TLS went with it (RFC 8461 §4, §5).

    Args:
        tls: "verified" (STARTTLS and a certificate valid for the host), "failed" (the handshake
            or the certificate check failed) or "absent" (no STARTTLS offered, or stripped).
    """
    if policy is None or policy.mode is Mode.NONE:
        return Decision(True, False, "no MTA-STS policy: TLS is opportunistic", "RFC 8461 §5")
    problem = ""
    if not policy.allows(mx_host):
        problem = f"{mx_host} is not an mx the policy names ({', '.join(policy.mx)})"
    elif tls == "absent":
        problem = f"{mx_host} offered no STARTTLS (or it was stripped on the way)"
    elif tls == "failed":
        problem = f"TLS with {mx_host} failed or its certificate did not verify"
    if not problem:
        return Decision(True, False, f"{mx_host} is listed and its certificate verified", "RFC 8461 §4")
    if policy.mode is Mode.TESTING:
        return Decision(True, True, f"{problem}; mode testing: delivered anyway and reported", "RFC 8461 §5")
    return Decision(False, True, f"{problem}; mode enforce: not delivered", "RFC 8461 §5")


# --- where the policy lives, and a sender's cache -------------------------------------------

POLICY_PATH = "/.well-known/mta-sts.txt"  # RFC 8461 §3.3


def record_name(domain: str) -> str:
    """Where a domain's MTA-STS TXT record lives (RFC 8461 §3.1)."""
    return f"_mta-sts.{domain}"


def policy_url(domain: str) -> str:
    """Where a domain serves its policy file, over HTTPS only (RFC 8461 §3.3)."""
    return f"https://mta-sts.{domain}{POLICY_PATH}"


def record_text(sts_id: str) -> str:
    """The TXT record that announces a policy and its id (RFC 8461 §3.1)."""
    return f"v=STSv1; id={sts_id}"


@dataclass(frozen=True)
class Cached(Value):
    """A policy a sender holds, with the record id it came with and when it stops using it (RFC 8461 §5.1)."""

    policy: Policy
    id: str
    expires: float
