"""The two error types every engine uses, as h11 does.

A `RemoteProtocolError` is the peer's fault: a server engine turns it into the
reply a careful server sends and never lets it escape. A `LocalProtocolError` is
our own code misusing an engine (answering twice, sending after close) and is a
bug, so it does raise.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base class; `reply_hint` is the reply code the error implies, if any."""

    def __init__(self, message: str, *, reply_hint: int | None = None) -> None:
        super().__init__(message)
        self.reply_hint = reply_hint


class LocalProtocolError(ProtocolError):
    """Our side broke the protocol contract: a programming error."""


class RemoteProtocolError(ProtocolError):
    """The peer sent something the protocol does not allow."""
