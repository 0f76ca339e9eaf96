"""The scenario picker: the built-in scenarios with their descriptions, or a .toml file by its path."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, OptionList, Static
from textual.widgets.option_list import Option, OptionDoesNotExist

from simulator import scenarios


class PickerScreen(ModalScreen[str | None]):
    """Answers with a built-in scenario's name or a file path; None when the learner backs out."""

    CSS_PATH = "picker.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self._current = current
        self._descriptions = {s.name: s.description for s in scenarios.builtin_scenarios()}

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Label("Pick a scenario (Enter opens it)", id="picker-title")
            options = []
            for name, description in self._descriptions.items():
                prompt = Text(no_wrap=True, overflow="ellipsis")
                prompt.append(name, style="bold")
                prompt.append("  " + description.split(". ")[0])
                options.append(Option(prompt, id=name))
            yield OptionList(*options, id="picker-list")
            yield Static(id="picker-description")
            yield Label("…or open a scenario file by its path:")
            yield Input(placeholder="path/to/scenario.toml (Enter opens it)", id="picker-path")
        yield Footer()

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        try:
            options.highlighted = options.get_option_index(self._current)
        except OptionDoesNotExist:  # a scenario opened from a file is not in the list
            options.highlighted = 0
        options.focus()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        name = event.option.id or ""
        self.query_one("#picker-description", Static).update(self._descriptions.get(name, ""))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        path = event.value.strip()
        if path:
            self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)
