"""A base for immutable value objects, so that a snapshot of a world shares them.

The simulator steps back by deep-copying the whole world at checkpoints. Replies,
events, envelopes, stored messages and trace events never change once made, so
copying them would only cost time and memory: they copy as themselves.
"""

from __future__ import annotations

from typing import Self


class Value:
    __slots__ = ()

    def __deepcopy__(self, memo: dict[int, object]) -> Self:
        return self
