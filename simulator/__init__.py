"""smtpsim: an interactive simulator of how email moves, speaking real SMTP."""

from __future__ import annotations

__version__ = "0.1.0"
