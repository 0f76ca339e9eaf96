"""Trace events as JSON lines, one object per event, for tools and tests."""

from __future__ import annotations

import json
from collections.abc import Iterable

from simulator.trace import TraceEvent


def render_jsonl(events: Iterable[TraceEvent]) -> str:
    return "".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in events)
