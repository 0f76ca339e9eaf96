"""Bytes to meaning: command lines, ESMTP parameters and reply lines.

Parsing returns values or raises `RemoteProtocolError` carrying the reply the
problem implies; the server engine turns that into the reply on the wire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from simulator.protocol.errors import RemoteProtocolError
from simulator.protocol.smtp import replies
from simulator.protocol.smtp.address import AddressError, Path, parse_path
from simulator.protocol.smtp.events import MailParams, RcptParams
from simulator.protocol.smtp.replies import Reply


class SyntaxProblem(RemoteProtocolError):
    """A malformed command; `reply` is what the server answers."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.text, reply_hint=reply.code)
        self.reply = reply


@dataclass(frozen=True)
class Command:
    """A command line split into its verb (upper-cased) and the rest."""

    verb: str
    argument: str


def parse_command(content: bytes) -> Command:
    """Split a command line. Non-ASCII is allowed only in the argument (RFC 6531 addresses)."""
    text = content.decode("utf-8", errors="surrogateescape")
    verb, _, argument = text.partition(" ")
    return Command(verb.upper() if verb.isascii() else verb, argument.strip(" "))


_XTEXT_HEX = re.compile(r"\+([0-9A-F]{2})")


def decode_xtext(value: str) -> str:
    """Decode RFC 3461 §4 xtext ("+2B" is "+"); raises ValueError if malformed."""
    if any(ord(c) < 33 or ord(c) > 126 or c == "=" for c in value):
        raise ValueError("xtext holds only printable ASCII other than '='")
    if re.search(r"\+(?![0-9A-F]{2})", value):
        raise ValueError("'+' in xtext must be followed by two upper-case hex digits")
    return _XTEXT_HEX.sub(lambda m: chr(int(m.group(1), 16)), value)


def encode_xtext(value: str) -> str:
    return "".join(c if 33 <= ord(c) <= 126 and c not in "+=" else f"+{ord(c):02X}" for c in value)


def _split_path(argument: str, keyword: str, usage: str) -> tuple[str, list[str]]:
    """Split 'FROM:<a@b> K=V K2' into the path and its parameters."""
    if argument[: len(keyword)].upper() != keyword:
        raise SyntaxProblem(replies.syntax(usage))
    rest = argument[len(keyword) :].lstrip(" ")  # Postfix tolerates "FROM: <a@b>"
    if not rest:
        raise SyntaxProblem(replies.syntax(usage))
    if rest.startswith("<"):
        end = rest.find(">")
        if end < 0:
            raise SyntaxProblem(replies.syntax(usage))
        path, params = rest[: end + 1], rest[end + 1 :]
        if params and not params.startswith(" "):
            raise SyntaxProblem(replies.syntax(usage))
    else:
        path, _, params = rest.partition(" ")
    return path, params.split()


def _params(words: list[str], allowed: set[str]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for word in words:
        key, eq, value = word.partition("=")
        key = key.upper()
        if key not in allowed:
            raise SyntaxProblem(replies.unsupported_option(word))  # Postfix quotes it whole
        if key in found:
            raise SyntaxProblem(replies.duplicate_parameter(key))
        found[key] = value if eq else None
    return found


MAIL_USAGE = "MAIL FROM:<address>"
# Which EHLO keyword makes each MAIL parameter legal.
_MAIL_PARAM_EXTENSION = {
    "SIZE": "SIZE",  # RFC 1870
    "BODY": "8BITMIME",  # RFC 6152
    "SMTPUTF8": "SMTPUTF8",  # RFC 6531
    "AUTH": "AUTH",  # RFC 4954 §5
    "RET": "DSN",  # RFC 3461 §4.3
    "ENVID": "DSN",  # RFC 3461 §4.4
}
RCPT_USAGE = "RCPT TO:<address>"


def parse_mail(argument: str, extensions: set[str]) -> tuple[Path, MailParams]:
    """Parse the argument of MAIL (RFC 5321 §4.1.1.2) given the advertised extensions."""
    path_text, words = _split_path(argument, "FROM:", MAIL_USAGE)
    found = _params(words, {p for p, ext in _MAIL_PARAM_EXTENSION.items() if ext in extensions})
    smtputf8 = "SMTPUTF8" in found
    if smtputf8 and found["SMTPUTF8"] is not None:
        raise SyntaxProblem(replies.bad_parameter("SMTPUTF8"))
    try:
        path = parse_path(path_text, allow_null=True, utf8=smtputf8)
    except AddressError as exc:
        if exc.needs_utf8:
            raise SyntaxProblem(replies.NEED_SMTPUTF8) from exc
        raise SyntaxProblem(replies.bad_sender(path_text)) from exc
    size: int | None = None
    if "SIZE" in found:
        value = found["SIZE"] or ""
        if not value.isdigit() or not value.isascii() or len(value) > 20:
            raise SyntaxProblem(replies.bad_parameter("message size"))
        size = int(value)
    body = found.get("BODY")
    if "BODY" in found and (body is None or body.upper() not in ("7BIT", "8BITMIME")):
        raise SyntaxProblem(replies.bad_parameter("BODY keyword value"))
    ret = found.get("RET")
    if "RET" in found and (ret is None or ret.upper() not in ("FULL", "HDRS")):
        raise SyntaxProblem(replies.bad_parameter("RET parameter"))
    envid = _xtext_param(found, "ENVID", limit=100)
    auth = _xtext_param(found, "AUTH", limit=500)
    return path, MailParams(
        size=size,
        body=body.upper() if body else None,
        smtputf8=smtputf8,
        ret=ret.upper() if ret else None,
        envid=envid,
        auth=auth,
    )


def _xtext_param(found: dict[str, str | None], key: str, *, limit: int) -> str | None:
    if key not in found:
        return None
    value = found[key]
    try:
        if not value or len(value) > limit:
            raise ValueError(key)
        return decode_xtext(value)
    except ValueError as exc:
        raise SyntaxProblem(replies.bad_parameter(f"{key} parameter")) from exc


_NOTIFY = {"NEVER", "SUCCESS", "FAILURE", "DELAY"}


def parse_rcpt(argument: str, extensions: set[str], *, utf8: bool) -> tuple[Path, RcptParams]:
    """Parse the argument of RCPT (RFC 5321 §4.1.1.3, RFC 3461 §4.1-4.2)."""
    path_text, words = _split_path(argument, "TO:", RCPT_USAGE)
    found = _params(words, {"NOTIFY", "ORCPT"} if "DSN" in extensions else set())
    if path_text.lower() == "<postmaster>":  # RFC 5321 §4.5.1: always accepted, no domain
        path = Path("postmaster")
    else:
        try:
            path = parse_path(path_text, utf8=utf8)
        except AddressError as exc:
            if exc.needs_utf8:
                raise SyntaxProblem(replies.NEED_SMTPUTF8) from exc
            raise SyntaxProblem(replies.bad_recipient(path_text)) from exc
    notify: tuple[str, ...] | None = None
    if "NOTIFY" in found:
        values = tuple((found["NOTIFY"] or "").upper().split(","))
        if not set(values) <= _NOTIFY or ("NEVER" in values and len(values) > 1) or len(set(values)) != len(values):
            raise SyntaxProblem(replies.bad_parameter("NOTIFY parameter"))
        notify = values
    orcpt = _xtext_param(found, "ORCPT", limit=500)
    if orcpt is not None:
        kind, semi, original = orcpt.partition(";")
        if not semi or not kind or not original or not kind.isascii():
            raise SyntaxProblem(replies.bad_parameter("ORCPT parameter"))
    return path, RcptParams(notify=notify, orcpt=orcpt)


def parse_vrfy(argument: str) -> str:
    """VRFY takes a user name or address; strip optional brackets (RFC 5321 §3.5.1)."""
    value = argument.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    return value


# --- replies, for the client ------------------------------------------------------

_REPLY_LINE = re.compile(rb"([2-5][0-9][0-9])([ -]?)(.*)", re.DOTALL)
_ENHANCED = re.compile(r"([245])\.(\d{1,3})\.(\d{1,3})(?: |$)")


@lru_cache(maxsize=1024)
def _reply_from(code: int, lines: tuple[str, ...]) -> Reply:
    """The Reply for a reply's lines; cached, since a client hears the same few replies again and again."""
    enhanced: str | None = None
    first = _ENHANCED.match(lines[0])
    if first and first.group(1) == str(code)[0]:
        enhanced = ".".join(first.groups())
        prefix = first.group(0)
        lines = tuple(line[len(prefix) :] if line.startswith(prefix) else line for line in lines)
    return Reply(code, enhanced, lines).annotated()


@lru_cache(maxsize=256)
def parse_replies(block: bytes, line_limit: int) -> tuple[Reply, ...] | None:
    """Whole replies from a run of complete lines, or None unless it is exactly that.

    A server's answers repeat (the same EHLO list, the same "250 2.1.5 Ok" for every
    message), so a client that sees a write it has parsed before takes the result from
    the cache instead of going line by line. Anything unusual (a reply cut off at the
    end, a line over the limit, a malformed line) gives None, and the caller reads the
    lines one at a time, which reports the problem precisely.
    """
    reader = ReplyReader()
    found: list[Reply] = []
    for raw in block.split(b"\n")[:-1]:
        if len(raw) + 1 > line_limit:
            return None
        try:
            reply = reader.feed_line(raw[:-1] if raw.endswith(b"\r") else raw)
        except RemoteProtocolError:
            return None
        if reply is not None:
            found.append(reply)
    return tuple(found) if found and not reader.partial else None


class ReplyReader:
    """Assembles reply lines into `Reply` objects (RFC 5321 §4.2.1 multi-line form).

    Lenient where real servers are sloppy (a bare code, an unknown extension
    code) and strict where it matters for framing: every line of a reply must
    carry the same code, and only the last one has a space (or nothing) after it.
    """

    def __init__(self) -> None:
        self._code: bytes | None = None
        self._lines: list[str] = []

    def feed_line(self, content: bytes) -> Reply | None:
        """Take one reply line (without CRLF); return the Reply when it is complete."""
        match = _REPLY_LINE.fullmatch(content)
        if match is None:
            raise RemoteProtocolError(f"not an SMTP reply line: {content[:60]!r}")
        code, sep, text_bytes = match.groups()
        if self._code is not None and code != self._code:
            raise RemoteProtocolError("a multi-line reply changed its code part-way")
        if sep == b"" and text_bytes:
            raise RemoteProtocolError(f"no space after the reply code: {content[:60]!r}")
        self._code = code
        self._lines.append(text_bytes.decode("utf-8", errors="replace"))
        if sep == b"-":
            return None
        return self._finish()

    def _finish(self) -> Reply:
        assert self._code is not None
        code, lines = int(self._code), tuple(self._lines)
        self._code, self._lines = None, []
        return _reply_from(code, lines)

    @property
    def partial(self) -> bool:
        return self._code is not None
