"""RFC 5321 §4.1.2 paths and mailboxes, with the RFC 6531 (SMTPUTF8) extension.

Hand-written because the standard `email.utils` parses RFC 5322 header
addresses, which allow comments, display names and folding that the SMTP
envelope does not.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

# RFC 5321 §4.5.3.1.1-3
MAX_LOCAL_PART = 64
MAX_DOMAIN = 255
MAX_PATH = 256

_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]"
# RFC 6531 §3.3: UTF8-non-ascii joins atext, qtext and U-labels (surrogates excluded:
# they only appear here when undecodable bytes were escaped).
_UTF8 = r"\u0080-\ud7ff\ue000-\U0010ffff"
_ATEXT_UTF8 = rf"[A-Za-z0-9!#$%&'*+\-/=?^_`{{|}}~{_UTF8}]"
_QUOTED = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"'
_QUOTED_UTF8 = rf'"(?:[\x20\x21\x23-\x5b\x5d-\x7e{_UTF8}]|\\[\x20-\x7e])*"'
_SUBDOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_SUBDOMAIN_UTF8 = rf"[A-Za-z0-9{_UTF8}](?:[A-Za-z0-9{_UTF8}-]*[A-Za-z0-9{_UTF8}])?"


def _compile(atext: str, quoted: str, sub: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    local = rf"(?:{atext}+(?:\.{atext}+)*|{quoted})"
    domain = rf"(?:{sub}(?:\.{sub})*|\[[^\[\]\\\s]+\])"
    return re.compile(rf"(?P<local>{local})@(?P<domain>{domain})"), re.compile(domain)


_MAILBOX, _DOMAIN = _compile(_ATEXT, _QUOTED, _SUBDOMAIN)
_MAILBOX_UTF8, _DOMAIN_UTF8 = _compile(_ATEXT_UTF8, _QUOTED_UTF8, _SUBDOMAIN_UTF8)


class AddressError(ValueError):
    """The text is not a valid path; `reason` says why, for the learner."""

    def __init__(self, reason: str, *, needs_utf8: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.needs_utf8 = needs_utf8


@dataclass(frozen=True)
class Path:
    """A reverse-path or forward-path.

    Attributes:
        mailbox: "local@domain", or "" for the null reverse-path `<>` (bounces).
        route: the obsolete source route (`<@hop1,@hop2:user@domain>`), which
            servers must accept but should ignore (RFC 5321 §4.1.1.3, Appendix C).
    """

    mailbox: str
    route: tuple[str, ...] = ()

    @property
    def local_part(self) -> str:
        return self.mailbox.rpartition("@")[0] if "@" in self.mailbox else self.mailbox

    @property
    def domain(self) -> str:
        return self.mailbox.rpartition("@")[2] if "@" in self.mailbox else ""

    @property
    def is_null(self) -> bool:
        return self.mailbox == ""

    def __str__(self) -> str:
        return f"<{self.mailbox}>"


def _check_literal(domain: str) -> None:
    if not domain.startswith("["):
        return
    body = domain[1:-1]
    try:
        if body.lower().startswith("ipv6:"):
            ipaddress.IPv6Address(body[5:])
        elif ":" not in body:
            ipaddress.IPv4Address(body)
    except ValueError as exc:
        raise AddressError(f"{domain} is not a valid address literal") from exc


def parse_mailbox(text: str, *, utf8: bool = False) -> str:
    """Validate `local@domain` and return it unchanged.

    Raises:
        AddressError: with a reason; `needs_utf8` is set when the address would be
            valid with SMTPUTF8 (RFC 6531 §3.3).
    """
    pattern = _MAILBOX_UTF8 if utf8 else _MAILBOX
    if pattern.fullmatch(text) is None:
        if not utf8 and not text.isascii() and _MAILBOX_UTF8.fullmatch(text) is not None:
            raise AddressError("non-ASCII address without SMTPUTF8", needs_utf8=True)
        raise AddressError(f"{text!r} is not local-part@domain")
    local, _, domain = text.rpartition("@")
    if len(local.encode()) > MAX_LOCAL_PART:
        raise AddressError(f"local part longer than {MAX_LOCAL_PART} octets")
    if len(domain.encode()) > MAX_DOMAIN:
        raise AddressError(f"domain longer than {MAX_DOMAIN} octets")
    _check_literal(domain)
    return text


def parse_path(text: str, *, allow_null: bool = False, utf8: bool = False) -> Path:
    """Parse the argument of MAIL FROM: or RCPT TO:, angle brackets included.

    Like Postfix, a bare address without angle brackets is tolerated, since
    some old clients send one (RFC 5321 §4.1.2 requires the brackets).
    """
    if text.startswith("<") and text.endswith(">"):
        inner = text[1:-1]
    elif "<" in text or ">" in text or " " in text or not text:
        raise AddressError("a path is written <local-part@domain>")
    else:
        inner = text
    if len(inner.encode()) > MAX_PATH:
        raise AddressError(f"path longer than {MAX_PATH} octets")
    if inner == "":
        if allow_null:
            return Path("")
        raise AddressError("the null path <> is only allowed as a sender")
    route: tuple[str, ...] = ()
    if inner.startswith("@"):
        hops, colon, inner = inner.partition(":")
        if not colon:
            raise AddressError("a source route ends with ':'")
        domain_pattern = _DOMAIN_UTF8 if utf8 else _DOMAIN
        route = tuple(hop[1:] for hop in hops.split(","))
        for hop in hops.split(","):
            if not hop.startswith("@") or domain_pattern.fullmatch(hop[1:]) is None:
                raise AddressError(f"{hop!r} is not a valid source-route hop")
    return Path(parse_mailbox(inner, utf8=utf8), route)
