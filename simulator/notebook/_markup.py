"""Small HTML helpers shared by the notebook widgets: escaping, wire bytes as text, headings, notices."""

from __future__ import annotations

import html

WIRE_LIMIT = 2048  # octets of a write shown as text; a message body can be far longer

OK_STYLE = "color:#1b5e20;background:#e8f5e9;border-left:4px solid #2e7d32"
BAD_STYLE = "color:#b71c1c;background:#ffebee;border-left:4px solid #c62828"
INFO_STYLE = "color:#0d47a1;background:#e3f2fd;border-left:4px solid #1565c0"
STYLES = {"good": OK_STYLE, "bad": BAD_STYLE, "info": INFO_STYLE}


def esc(text: object) -> str:
    """`html.escape` of the text form of anything, quotes included."""
    return html.escape(str(text))


def wire_text(data: bytes) -> str:
    """Bytes as text, line ends shown as an RFC writes them (<CR><LF>); not escaped."""
    text = data[:WIRE_LIMIT].decode("utf-8", errors="replace")
    shown = text.replace("\r\n", "<CR><LF>\n").replace("\r", "<CR>")
    more = f"\n... {len(data) - WIRE_LIMIT} more octets" if len(data) > WIRE_LIMIT else ""
    return shown.rstrip("\n") + more


def heading(text: str) -> str:
    return f"<b><u>{esc(text)}</u></b>"


def notice_box(text: str, tone: str = "info") -> str:
    """A coloured box holding escaped text: "good" is green, "bad" red, "info" blue."""
    return f'<div style="{STYLES[tone]};padding:4px 8px;margin:2px 0">{esc(text)}</div>'


def following(inner: str, height: str = "32em", style: str = "") -> str:
    """A scrolling box that keeps its newest (bottom) content in view, as a terminal does.

    The browser anchors a `column-reverse` box at its end, so a log or a diagram that grows at the
    bottom stays scrolled to what just happened without any script; scrolling up still shows the rest.
    """
    box = f"display:flex;flex-direction:column-reverse;overflow:auto;max-height:{height};{style}"
    return f'<div style="{box}"><div>{inner}</div></div>'


def inline_code(text: str) -> str:
    """Escaped text whose `backticked` parts are shown as code, as Markdown would."""
    parts = esc(text).split("`")
    if len(parts) % 2 == 0:  # an odd number of backticks: show them as they are
        return esc(text)
    return "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))
