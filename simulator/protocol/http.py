"""Just enough HTTP/1.1 for an OAuth 2.0 token endpoint: one request, one response, then close.

Sans-IO like the mail engines: bytes in, a parsed message out, bytes to send. A
message is a start line, header fields and a body whose length `Content-Length`
gives (RFC 9112 §6.3); both sides send `Connection: close`, so each connection
carries one exchange (RFC 9112 §9.6). Chunked bodies, keep-alive and pipelining are
not needed by a token endpoint and are refused, as is anything over the limits.
Nothing the peer sends raises out of a reader: a broken message becomes `BadMessage`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

MAX_HEAD = 8192  # octets of start line and header fields
MAX_BODY = 65536
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 §5.6.2
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed"}


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = field(default=b"", repr=False)

    def header(self, name: str) -> str:
        return _header(self.headers, name)

    def form(self) -> dict[str, str]:
        """An application/x-www-form-urlencoded body as a dict (the last value of a repeated name)."""
        try:
            return dict(parse_qsl(self.body.decode("ascii"), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError):
            return {}


@dataclass(frozen=True)
class Response:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = field(default=b"", repr=False)

    def header(self, name: str) -> str:
        return _header(self.headers, name)

    def json(self) -> dict[str, object]:
        """The body as a JSON object; {} when it is not one."""
        try:
            value: object = json.loads(self.body)
        except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested too deep
            return {}
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class BadMessage:
    """What arrived is not a message this reader can take; `reason` says why."""

    reason: str


def form_request(host: str, target: str, fields: dict[str, str], *, authorization: str = "") -> bytes:
    """A POST with a form body (RFC 6749 §4.1.3, §6 send their parameters this way)."""
    body = urlencode(fields).encode("ascii")
    head = [f"POST {target} HTTP/1.1", f"Host: {host}", "Content-Type: application/x-www-form-urlencoded"]
    if authorization:
        head.append(f"Authorization: {authorization}")
    head += [f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body


def json_response(status: int, value: dict[str, object]) -> bytes:
    """A JSON answer that no cache may keep, as a token response must be (RFC 6749 §5.1)."""
    body = json.dumps(value, separators=(",", ":")).encode()
    head = [
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}",
        "Content-Type: application/json",
        "Cache-Control: no-store",
        f"Content-Length: {len(body)}",
        "Connection: close",
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body


class MessageReader:
    """Collects one HTTP message from the bytes of a connection.

    `feed` returns None while more is needed, then the message (a `Request` on the server
    side, a `Response` on the client side) or a `BadMessage`; b"" means the peer closed.
    """

    def __init__(self, *, request: bool) -> None:
        self._request = request
        self._buffer = bytearray()
        self._result: Request | Response | BadMessage | None = None

    def feed(self, data: bytes) -> Request | Response | BadMessage | None:
        if self._result is not None:
            return None  # one message per connection: anything after it is ignored
        if not data:
            self._result = BadMessage("the connection closed before the message was complete")
            return self._result
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEAD:
                self._result = BadMessage("the header section is too long")
            return self._result
        if end > MAX_HEAD:
            self._result = BadMessage("the header section is too long")
            return self._result
        parsed = self._head(bytes(self._buffer[:end]))
        if isinstance(parsed, BadMessage):
            self._result = parsed
            return parsed
        start, headers = parsed
        lengths = {v for n, v in headers if n.lower() == "content-length"}
        if len(lengths) > 1:  # RFC 9112 §6.3: which one frames the body cannot be known
            self._result = BadMessage("two different Content-Length values")
            return self._result
        length_text = lengths.pop() if lengths else "0"
        too_long = not (length_text.isdigit() and len(length_text) <= len(str(MAX_BODY))) or int(length_text) > MAX_BODY
        if _header(headers, "Transfer-Encoding") or too_long:
            self._result = BadMessage("expected a Content-Length of at most 65536 and no Transfer-Encoding")
            return self._result
        body = bytes(self._buffer[end + 4 :])
        if len(body) < int(length_text):
            return None
        body = body[: int(length_text)]
        self._result = self._message(start, headers, body)
        return self._result

    def _head(self, head: bytes) -> tuple[list[str], tuple[tuple[str, str], ...]] | BadMessage:
        try:
            lines = head.decode("ascii").split("\r\n")
        except UnicodeDecodeError:
            return BadMessage("the header section is not ASCII")
        start = lines[0].split(" ", 2)
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            name, colon, value = line.partition(":")
            if not colon or not _TOKEN.fullmatch(name):  # RFC 9112 §5.1: no space before the colon
                return BadMessage(f"not a header field: {line[:40]!r}")
            headers.append((name, value.strip(" \t")))
        return start, tuple(headers)

    def _message(
        self, start: list[str], headers: tuple[tuple[str, str], ...], body: bytes
    ) -> Request | Response | BadMessage:
        if self._request:
            if len(start) != 3 or not _TOKEN.fullmatch(start[0]) or start[2] != "HTTP/1.1":
                return BadMessage("expected a request line such as 'POST /token HTTP/1.1'")
            if sum(1 for n, _ in headers if n.lower() == "host") != 1:  # RFC 9112 §3.2: exactly one Host
                return BadMessage("expected exactly one Host header field")
            return Request(start[0], start[1], headers, body)
        if len(start) < 2 or start[0] != "HTTP/1.1" or not (start[1].isdigit() and len(start[1]) == 3):
            return BadMessage("expected a status line such as 'HTTP/1.1 200 OK'")
        return Response(int(start[1]), headers, body)


def _header(headers: tuple[tuple[str, str], ...], name: str) -> str:
    return next((v for n, v in headers if n.lower() == name.lower()), "")
