"""What FETCH reports about a message: ENVELOPE, BODY, BODYSTRUCTURE, sections and sizes (RFC 3501 §6.4.5, §7.4.2).

`ParsedMessage.parse(raw)` splits a message into its MIME tree once; the FETCH
items are then read off the tree. Header values stay as they are on the wire
(encoded-words included), because IMAP hands clients raw header strings. The
MIME structure is split on the raw octets, so that every section is exactly the
bytes that were stored; Python's `email` package parses the Content-* fields.
Malformed input never raises: a part that cannot be understood is text/plain.
"""

from __future__ import annotations

import email
import email.message
import email.utils
import re
from dataclasses import dataclass
from email.policy import compat32

from simulator.protocol.imap.events import Section, SectionText
from simulator.protocol.imap.writers import ImapValue, Raw, encode
from simulator.protocol.values import Value

CRLF = b"\r\n"
# Deeper MIME nesting than this is shown as an opaque part: real mail never comes near it.
MAX_DEPTH = 32
_BARE_LF = re.compile(rb"(?<!\r)\n")
_LINES = re.compile(rb"[^\n]*\n|[^\n]+\Z")

Params = tuple[tuple[str, str], ...]


def to_crlf(raw: bytes) -> bytes:
    """The message with every bare LF made CRLF, the form IMAP sizes and sections count in (RFC 3501 §2.3.4)."""
    return _BARE_LF.sub(b"\r\n", raw)


def rfc822_size(raw: bytes) -> int:
    """RFC822.SIZE: the octets of the message with CRLF line endings (RFC 3501 §2.3.4)."""
    return len(raw) + len(_BARE_LF.findall(raw))


def partial(data: bytes, start: int, length: int) -> bytes:
    """The `<start.length>` slice of a section; empty past the end (RFC 3501 §6.4.5)."""
    return data[start : start + length]


def split_header(data: bytes) -> tuple[bytes, bytes]:
    """Split an entity at its blank line: (header with the blank line, body).

    With no blank line the whole entity is header and the body is empty.
    """
    if data.startswith(CRLF):
        return CRLF, data[2:]
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return data, b""
    return data[: end + 4], data[end + 4 :]


def header_fields(header: bytes) -> list[tuple[str, bytes]]:
    """The header's fields in order: (name upper-cased, the raw field with its folded lines and CRLF)."""
    fields: list[tuple[str, bytes]] = []
    for line in _LINES.findall(header):  # LF ends a line; a stray CR inside one does not
        if line in (CRLF, b"\n"):
            break
        if line[:1] in (b" ", b"\t") and fields:
            previous, raw = fields[-1]
            fields[-1] = (previous, raw + line)
            continue
        field_name, colon, _ = line.partition(b":")
        if colon:
            fields.append((field_name.strip().decode("ascii", errors="replace").upper(), line))
    return fields


def _unfold(raw_field: bytes) -> str:
    """A field's value: after the colon, folding CRLFs removed, trimmed (RFC 5322 §2.2.3)."""
    value = raw_field.partition(b":")[2].replace(b"\r\n", b"").replace(b"\n", b"")
    return value.strip(b" \t\r").decode("utf-8", errors="surrogateescape")


def header_values(header: bytes, name: str) -> list[str]:
    """Every value of a header field, unfolded, in order."""
    wanted = name.upper()
    return [_unfold(raw) for field_name, raw in header_fields(header) if field_name == wanted]


def _first(header: bytes, name: str) -> str | None:
    values = header_values(header, name)
    return values[0] if values else None


def filter_header(header: bytes, names: tuple[str, ...], *, keep: bool) -> bytes:
    """HEADER.FIELDS (keep=True) or HEADER.FIELDS.NOT: the chosen fields, then the blank line (RFC 3501 §6.4.5)."""
    wanted = {name.upper() for name in names}
    return b"".join(raw for name, raw in header_fields(header) if (name in wanted) == keep) + CRLF


# --- addresses (RFC 5322 §3.4, RFC 3501 §7.4.2) ----------------------------------------

_SPECIALS = "<>,:;@."
_Token = tuple[str, str]  # (kind, text): "a" atom, "q" quoted string, "s" special


def _tokens(text: str) -> list[_Token]:
    """Words, quoted strings and specials of an address header; comments and spaces dropped."""
    out: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in " \t\r\n":
            i += 1
        elif char == '"':
            i += 1
            chars: list[str] = []
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(text[i])
                i += 1
            out.append(("q", "".join(chars)))
            i += 1
        elif char == "(":
            depth = 0
            while i < n:
                if text[i] == "\\":
                    i += 1
                elif text[i] == "(":
                    depth += 1
                elif text[i] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                i += 1
            i += 1
        elif char == "[":
            end = text.find("]", i)
            end = n - 1 if end < 0 else end
            out.append(("a", text[i : end + 1]))
            i = end + 1
        elif char in _SPECIALS:
            out.append(("s", char))
            i += 1
        else:
            start = i
            while i < n and text[i] not in _SPECIALS and text[i] not in ' \t\r\n"(':
                i += 1
            out.append(("a", text[start:i]))
    return out


def _phrase(tokens: list[_Token]) -> str | None:
    """A display name: words joined by spaces, with dots kept against the word before ("John Q. Public")."""
    words: list[str] = []
    for kind, text in tokens:
        if kind == "s" and text == "." and words:
            words[-1] += "."
        elif kind != "s" or text == ".":
            words.append(text)
    return " ".join(words) if words else None


def _address(tokens: list[_Token]) -> tuple[str | None, str | None, str, str] | None:
    """One mailbox as (name, route, mailbox, host), or None when there is nothing in it."""
    phrase: list[_Token] = []
    route: str | None = None
    spec = tokens
    if ("s", "<") in tokens:
        at = tokens.index(("s", "<"))
        phrase = tokens[:at]
        inner = tokens[at + 1 :]
        spec = inner[: inner.index(("s", ">"))] if ("s", ">") in inner else inner
        if spec[:1] == [("s", "@")] and ("s", ":") in spec:  # obsolete source route, "<@relay:user@host>"
            colon = spec.index(("s", ":"))
            route = "".join(text for _, text in spec[:colon])
            spec = spec[colon + 1 :]
    ats = [i for i, token in enumerate(spec) if token == ("s", "@")]
    if ats:
        local = "".join(text for _, text in spec[: ats[-1]])
        domain = "".join(text for _, text in spec[ats[-1] + 1 :])
    else:
        local, domain = "".join(text for _, text in spec), ""
    name = _phrase(phrase)
    if not local and not domain and name is None:
        return None
    # A NIL host marks group syntax (RFC 3501 §7.4.2), so a missing part is named, as Dovecot names it.
    return name, route, local or "MISSING_MAILBOX", domain or "MISSING_DOMAIN"


def parse_address_list(value: str) -> list[ImapValue]:
    """An address header as ENVELOPE address structures, groups as start and end markers (RFC 3501 §7.4.2).

    `Friends: a@x, b@y;` becomes (NIL NIL "Friends" NIL) (.. "a" "x") (.. "b" "y") (NIL NIL NIL NIL).
    """
    out: list[ImapValue] = []
    current: list[_Token] = []
    in_group = angle = False

    def flush() -> None:
        address = _address(current)
        if address is not None:
            out.append(address)
        current.clear()

    for token in _tokens(value):
        if token == ("s", "<"):
            angle = True
        elif token == ("s", ">"):
            angle = False
        if not angle:
            if token == ("s", ":") and not in_group:
                out.append((None, None, _phrase(current) or "", None))
                current.clear()
                in_group = True
                continue
            if token == ("s", ";") and in_group:
                flush()
                out.append((None, None, None, None))
                in_group = False
                continue
            if token == ("s", ","):
                flush()
                continue
        current.append(token)
    flush()
    if in_group:
        out.append((None, None, None, None))
    return out


def _addresses(header: bytes, name: str) -> Raw | None:
    """An address list of ENVELOPE, NIL when empty; addresses abut with no space (RFC 3501 §9 `env-from`)."""
    found: list[ImapValue] = []
    for value in header_values(header, name):
        found.extend(parse_address_list(value))
    return Raw(b"(" + b"".join(encode(address) for address in found) + b")") if found else None


def envelope(header: bytes) -> tuple[ImapValue, ...]:
    """The ENVELOPE of a message from its header (RFC 3501 §7.4.2).

    Sender and Reply-To default to From when absent or empty, as the RFC requires.
    """
    sender_from = _addresses(header, "From")
    return (
        _first(header, "Date"),
        _first(header, "Subject"),
        sender_from,
        _addresses(header, "Sender") or sender_from,
        _addresses(header, "Reply-To") or sender_from,
        _addresses(header, "To"),
        _addresses(header, "Cc"),
        _addresses(header, "Bcc"),
        _first(header, "In-Reply-To"),
        _first(header, "Message-ID"),
    )


# --- the MIME tree -------------------------------------------------------------------------


@dataclass(frozen=True)
class ContentInfo(Value):
    """The Content-* fields of one entity, as BODYSTRUCTURE reports them."""

    maintype: str = "text"
    subtype: str = "plain"
    params: Params = (("charset", "us-ascii"),)
    content_id: str | None = None
    description: str | None = None
    encoding: str = "7bit"
    md5: str | None = None
    disposition: tuple[str, Params] | None = None
    language: tuple[str, ...] = ()
    location: str | None = None


_TEXT_PLAIN = ContentInfo()


def _params(message: email.message.Message, header: str) -> Params:
    """A field's parameters, names lower-cased, RFC 2231 values joined, the leading value skipped."""
    found = message.get_params(header=header, unquote=True) or []
    out: list[tuple[str, str]] = []
    for name, value in found[1:]:
        text = email.utils.collapse_rfc2231_value(value) if isinstance(value, tuple) else value
        out.append((str(name).lower(), str(text)))
    return tuple(out)


def content_info(header: bytes, default_type: str = "text/plain") -> ContentInfo:
    """Read the Content-* fields of an entity's header (RFC 2045 §5, RFC 2183, RFC 3066)."""
    try:
        message = email.message_from_bytes(header, policy=compat32)
        message.set_default_type(default_type)
        has_type = message.get("Content-Type") is not None
        maintype, subtype = message.get_content_maintype(), message.get_content_subtype()
        params = _params(message, "content-type") if has_type else ()
        if maintype == "text" and not any(name == "charset" for name, _ in params):
            params = (("charset", "us-ascii"), *params)  # RFC 2045 §5.2, RFC 2046 §4.1.2: the default charset
        disposition: tuple[str, Params] | None = None
        raw_disposition = _first(header, "Content-Disposition")
        if raw_disposition:
            kind = raw_disposition.split(";", 1)[0].strip()
            disposition = (kind, _params(message, "content-disposition"))
        language = _first(header, "Content-Language")
        return ContentInfo(
            maintype=maintype,
            subtype=subtype,
            params=params,
            content_id=_first(header, "Content-ID"),
            description=_first(header, "Content-Description"),
            encoding=(_first(header, "Content-Transfer-Encoding") or "7bit").strip() or "7bit",
            md5=_first(header, "Content-MD5"),
            disposition=disposition,
            language=tuple(t.strip() for t in language.split(",") if t.strip()) if language else (),
            location=_first(header, "Content-Location"),
        )
    except Exception:  # the email package is not proven against every malformed header
        return _TEXT_PLAIN


@dataclass(frozen=True)
class MimePart(Value):
    """One entity of the MIME tree, with its raw header and body octets.

    Attributes:
        header: the header, blank line included (the MIME section of a part).
        body: the body octets (the part's own section).
        info: its Content-* fields.
        children: the parts of a multipart, in order.
        message: the encapsulated message of a message/rfc822 part.
    """

    header: bytes
    body: bytes
    info: ContentInfo
    children: tuple[MimePart, ...] = ()
    message: MimePart | None = None

    @property
    def is_multipart(self) -> bool:
        return bool(self.children)


def _split_multipart(body: bytes, boundary: bytes) -> list[bytes]:
    """The parts between `--boundary` lines; the CRLF before a delimiter belongs to it (RFC 2046 §5.1.1)."""
    delimiter = b"--" + boundary
    marks: list[tuple[int, int, bool]] = []  # (line start, line end after CRLF, closing)
    position = 0
    while (found := body.find(delimiter, position)) >= 0:
        position = found + len(delimiter)
        if found and body[found - 1 : found] != b"\n":
            continue
        line_end = body.find(b"\n", position)
        rest = body[position : len(body) if line_end < 0 else line_end].rstrip(b"\r")
        closing = rest.startswith(b"--")
        if not closing and rest.strip(b" \t"):
            continue  # "--boundaryX" is another boundary, not this one
        marks.append((found, len(body) if line_end < 0 else line_end + 1, closing))
        if closing:
            break
    parts: list[bytes] = []
    if not marks:
        return parts
    for (_, start, closing), following in zip(marks, [*marks[1:], None], strict=True):
        if closing:
            break
        if following is None:
            parts.append(body[start:])
        else:
            end = following[0] - 2 if body[following[0] - 2 : following[0]] == CRLF else following[0] - 1
            parts.append(body[start : max(end, start)])
    return parts


def parse_entity(data: bytes, default_type: str = "text/plain", depth: int = 0) -> MimePart:
    """Parse one entity (a whole message or a body part) into its MIME tree."""
    header, body = split_header(data)
    info = content_info(header, default_type)
    if depth >= MAX_DEPTH:
        return MimePart(header, body, ContentInfo("application", "octet-stream", ()))
    if info.maintype == "multipart":
        boundary = dict(info.params).get("boundary")
        parts = _split_multipart(body, boundary.encode("utf-8", errors="surrogateescape")) if boundary else []
        if not parts:  # a multipart without parts cannot be described (RFC 3501 §9 needs one): show it as text
            return MimePart(header, body, _TEXT_PLAIN)
        child_default = "message/rfc822" if info.subtype == "digest" else "text/plain"  # RFC 2046 §5.1.5
        children = tuple(parse_entity(part, child_default, depth + 1) for part in parts)
        return MimePart(header, body, info, children=children)
    if (info.maintype, info.subtype) == ("message", "rfc822"):
        return MimePart(header, body, info, message=parse_entity(body, "text/plain", depth + 1))
    return MimePart(header, body, info)


def _lines(body: bytes) -> int:
    """body-fld-lines: the number of lines, a last line without CRLF counting too."""
    return body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)


def _param_list(params: Params) -> list[ImapValue] | None:
    return [value for pair in params for value in pair] or None


def body_structure(part: MimePart, *, extensible: bool = True) -> tuple[ImapValue, ...]:
    """BODYSTRUCTURE (extensible=True) or BODY of an entity (RFC 3501 §7.4.2, §9 `body`)."""
    info = part.info
    if part.is_multipart:
        # The parts abut with no space between them (RFC 3501 §9 `body-type-mpart`).
        parts = b"".join(encode(body_structure(child, extensible=extensible)) for child in part.children)
        out: list[ImapValue] = [Raw(parts), info.subtype]
        if extensible:  # body-ext-mpart: parameters, disposition, language, location
            out.extend([_param_list(info.params), *_extension_tail(info)])
        return tuple(out)
    fields: list[ImapValue] = [
        info.maintype,
        info.subtype,
        _param_list(info.params),
        info.content_id,
        info.description,
        info.encoding,
        len(part.body),
    ]
    if part.message is not None:  # body-type-msg: envelope, body, lines
        inner = part.message
        fields += [envelope(inner.header), body_structure(inner, extensible=extensible), _lines(part.body)]
    elif info.maintype == "text":
        fields.append(_lines(part.body))
    if extensible:  # body-ext-1part: MD5, disposition, language, location
        fields += [info.md5, *_extension_tail(info)]
    return tuple(fields)


def _extension_tail(info: ContentInfo) -> list[ImapValue]:
    disposition: ImapValue = None
    if info.disposition is not None:
        disposition = (info.disposition[0], _param_list(info.disposition[1]))
    language: ImapValue = None
    if len(info.language) == 1:
        language = info.language[0]
    elif info.language:
        language = list(info.language)
    return [disposition, language, info.location]


# --- sections ---------------------------------------------------------------------------------


def find_part(root: MimePart, path: tuple[int, ...]) -> MimePart | None:
    """The entity a part path names (RFC 3501 §6.4.5): numbers index a multipart's parts, and go
    inside a message/rfc822 part; part 1 of a non-multipart entity is the entity itself."""
    part = root
    for depth, number in enumerate(path):
        container = part.message if depth > 0 and part.message is not None else part
        if container.is_multipart:
            if not 1 <= number <= len(container.children):
                return None
            part = container.children[number - 1]
        elif number == 1:
            part = container
        else:
            return None
    return part


def section_bytes(root: MimePart, raw: bytes, section: Section) -> bytes | None:
    """The octets of `BODY[section]`, or None for a section the message does not have (sent as NIL).

    Args:
        root: the parsed message.
        raw: the whole message, with CRLF line endings.
        section: the section asked for.
    """
    text = section.text
    if not section.part:
        if text is None:
            return raw
        target: MimePart | None = root
    else:
        part = find_part(root, section.part)
        if part is None:
            return None
        if text is None:
            return part.body
        if text is SectionText.MIME:
            return part.header
        target = part.message  # HEADER and TEXT of a part exist only for message/rfc822 (RFC 3501 §6.4.5)
    if target is None:
        return None
    if text is SectionText.HEADER:
        return target.header
    if text is SectionText.TEXT:
        return target.body
    if text is SectionText.HEADER_FIELDS:
        return filter_header(target.header, section.fields, keep=True)
    if text is SectionText.HEADER_FIELDS_NOT:
        return filter_header(target.header, section.fields, keep=False)
    return None


@dataclass(frozen=True)
class ParsedMessage(Value):
    """A stored message ready for FETCH: CRLF form, size and MIME tree computed once.

    Attributes:
        raw: the message with CRLF line endings (what BODY[] returns).
        root: its MIME tree; `root.header` and `root.body` are BODY[HEADER] and BODY[TEXT].
    """

    raw: bytes
    root: MimePart

    @classmethod
    def parse(cls, raw: bytes) -> ParsedMessage:
        crlf = to_crlf(raw)
        return cls(crlf, parse_entity(crlf))

    @property
    def size(self) -> int:
        """RFC822.SIZE."""
        return len(self.raw)

    @property
    def header(self) -> bytes:
        return self.root.header

    @property
    def body(self) -> bytes:
        return self.root.body

    def envelope(self) -> tuple[ImapValue, ...]:
        return envelope(self.root.header)

    def body_structure(self, *, extensible: bool = True) -> tuple[ImapValue, ...]:
        return body_structure(self.root, extensible=extensible)

    def section(self, section: Section, partial_range: tuple[int, int] | None = None) -> bytes | None:
        """BODY[section]<start.length>; None when the section does not exist."""
        data = section_bytes(self.root, self.raw, section)
        if data is None or partial_range is None:
            return data
        return partial(data, *partial_range)
