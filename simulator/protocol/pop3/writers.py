"""Meaning to bytes: responses (with their dot-stuffed bodies) and command lines."""

from __future__ import annotations

from simulator.protocol.pop3.replies import Response

CRLF = b"\r\n"
TERMINATOR = b".\r\n"


def dot_stuff(content: bytes) -> bytes:
    """Frame a multi-line body: double a leading dot on every line, end with a lone dot (RFC 1939 §3).

    A body that does not end in CRLF gets one, so the terminator is always on a line of its own.
    """
    if content and not content.endswith(CRLF):
        content += CRLF
    stuffed = content.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed + TERMINATOR


def format_response(response: Response) -> bytes:
    """Render a response: the status line, then for a multi-line response the stuffed body."""
    first = response.first_line().encode("utf-8", errors="surrogateescape") + CRLF
    if response.body is None:
        return first
    return first + dot_stuff(response.body)


def format_command(verb: str, *arguments: str) -> bytes:
    return " ".join((verb, *arguments)).encode("utf-8") + CRLF
