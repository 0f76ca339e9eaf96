"""Meaning to bytes: replies, command lines and the dot-stuffed DATA body."""

from __future__ import annotations

from functools import lru_cache

from simulator.protocol.smtp.replies import Reply

CRLF = b"\r\n"


@lru_cache(maxsize=4096)
def format_reply(reply: Reply) -> bytes:
    """Render a reply, multi-line with '-' after the code on all but the last line (RFC 5321 §4.2.1).

    The enhanced status code (RFC 2034 §4) goes on every line, as Postfix does.
    """
    prefix = f"{reply.enhanced} " if reply.enhanced else ""
    out = []
    last = len(reply.lines) - 1
    for i, line in enumerate(reply.lines):
        # The space stays even before empty text: RFC 4954 §4 requires "334 " for an
        # empty challenge, and RFC 5321 §4.2 allows it everywhere.
        out.append(f"{reply.code}{'-' if i < last else ' '}{prefix}{line}")
    return ("\r\n".join(out) + "\r\n").encode("utf-8", errors="surrogateescape")


def format_command(verb: str, argument: str = "") -> bytes:
    return (f"{verb} {argument}" if argument else verb).encode("utf-8") + CRLF


def dot_stuff(content: bytes) -> bytes:
    """Frame a message for DATA: double leading dots, end with CRLF . CRLF (RFC 5321 §4.5.2).

    A message that does not end in CRLF gets one, as every real client adds it.
    """
    if not content.endswith(CRLF):
        content += CRLF
    stuffed = content.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed + b".\r\n"
