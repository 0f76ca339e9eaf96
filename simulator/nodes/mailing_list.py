"""A mailing list, as a mail server hosts one: mail to the list address goes on to every member.

The list works the way simple list software does (and Mailman did by default for years): it
keeps the author's From, sends the copies from its own bounce address (so that delivery
failures come back to the list, not to the author), adds List-Id and List-Post (RFC 2369,
RFC 2919), and appends a footer to the body. It leaves the author's DKIM-Signature in place.

That footer is the lesson: the signature's body hash (bh=) covers the body as the author's
server sent it, so every member's MX computes another hash and DKIM fails (RFC 6376 §3.7).
Lists that care either leave the body alone, or rewrite From to their own domain and sign
again (RFC 7960 §4.1.3 describes the trade-offs); ARC (RFC 8617) lets them vouch for what
they received.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.mail.headers import split_header_section

CRLF = b"\r\n"

DEFAULT_FOOTER = "You receive this because you are subscribed to {address}."
"""The footer a list adds when its scenario names none; {address} is the list address."""


@dataclass(frozen=True)
class MailingList:
    """One list: its address, who receives its mail, and the footer it adds.

    Attributes:
        address: the list address, such as "lunch@lists.example.net".
        members: the subscribers' addresses, each of which gets a copy.
        footer: the text appended to the body, below the signature separator "-- ".
    """

    address: str
    members: tuple[str, ...]
    footer: str = DEFAULT_FOOTER

    @property
    def local_part(self) -> str:
        return self.address.rpartition("@")[0]

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2].lower()

    @property
    def bounce_address(self) -> str:
        """The envelope sender of the copies, such as "lunch-bounces@lists.example.net": failures come back here."""
        return f"{self.local_part}-bounces@{self.domain}"

    @property
    def list_id(self) -> str:
        """The List-Id value (RFC 2919 §2): the list's name and domain as one dotted identifier, in angle brackets."""
        return f"<{self.local_part.lower()}.{self.domain}>"

    def distribute(self, message: bytes) -> bytes:
        """The copy every member receives: List-Id and List-Post added at the top, the footer at the end of the body.

        A message without a header/body separator gets one, so the footer always lands in the body.
        """
        head, body = split_header_section(message)
        if body.startswith(CRLF):
            body = body[2:]
        elif body.startswith(b"\n"):
            body = body[1:]
        if body and not body.endswith(b"\n"):
            body += CRLF
        footer_text = self.footer.format(address=self.address).replace("\r\n", "\n")
        footer = b"-- " + CRLF + b"".join(line.encode("utf-8") + CRLF for line in footer_text.split("\n"))
        if head and not head.endswith(b"\n"):
            head += CRLF
        added = f"List-Id: {self.list_id}\r\nList-Post: <mailto:{self.address}>\r\n".encode("ascii", "replace")
        return added + head + CRLF + body + footer
