"""A small dialog that asks for one whole number (an event to jump to, a seed)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class NumberDialog(ModalScreen[int | None]):
    """Asks a question; Enter answers with the number, Escape with None."""

    DEFAULT_CSS = """
    NumberDialog { align: center middle; }
    NumberDialog > Vertical {
        width: 60; max-width: 90%; height: auto;
        border: thick $primary; background: $surface; padding: 1 2;
    }
    NumberDialog Label { width: 1fr; margin: 0 0 1 0; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, question: str, value: int | None = None) -> None:
        super().__init__()
        self._title, self._question, self._value = title, question, value

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self._title
            yield Label(self._question)
            yield Input(value="" if self._value is None else str(self._value), type="integer", id="number")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if text.lstrip("-").isdigit():
            self.dismiss(int(text))
        else:
            self.notify("Type a whole number, or press Escape.", severity="warning")

    def action_cancel(self) -> None:
        self.dismiss(None)
