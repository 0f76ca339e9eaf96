"""Modified UTF-7, the encoding of IMAP mailbox names (RFC 3501 §5.1.3).

Printable ASCII stands for itself except "&", which is written "&-"; anything
else is UTF-16BE in base64 (with "," for "/" and no padding) between "&" and "-".
"Entwürfe" travels as "Entw&APw-rfe".
"""

from __future__ import annotations

import base64
import binascii


def decode_mailbox_name(name: str) -> str:
    """Decode a modified UTF-7 mailbox name; raises ValueError if it is not valid modified UTF-7."""
    out: list[str] = []
    i = 0
    while i < len(name):
        char = name[i]
        if not 0x20 <= ord(char) <= 0x7E:
            raise ValueError("a mailbox name holds printable ASCII only (RFC 3501 §5.1.3)")
        if char != "&":
            out.append(char)
            i += 1
            continue
        end = name.find("-", i + 1)
        if end < 0:
            raise ValueError("'&' starts a base64 run that must end with '-'")
        chunk = name[i + 1 : end]
        if not chunk:
            out.append("&")
        else:
            if "/" in chunk or "=" in chunk:
                raise ValueError("modified base64 uses ',' for '/' and no '=' padding")
            try:
                raw = base64.b64decode(chunk.replace(",", "/") + "=" * (-len(chunk) % 4), validate=True)
                text = raw.decode("utf-16-be")
            except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
                raise ValueError("bad base64 run in a modified UTF-7 name") from exc
            if any(0x20 <= ord(c) <= 0x7E for c in text):
                raise ValueError("printable ASCII must not be base64-encoded (RFC 3501 §5.1.3)")
            out.append(text)
        i = end + 1
    return "".join(out)


def encode_mailbox_name(name: str) -> str:
    """Encode a mailbox name into modified UTF-7, as LIST and STATUS responses send it."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            raw = "".join(run).encode("utf-16-be", errors="surrogatepass")
            out.append("&" + base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",") + "-")
            run.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            run.append(char)
    flush()
    return "".join(out)
