"""The course: lessons written once, as Markdown with quiz and scenario blocks, for notebooks and the terminal app.

    from simulator.lessons import lesson, lessons
    first = lesson("01")
    first.pages()                     # what the TUI's Lessons screen shows, page by page
    first.question("greeting").check(1)   # Feedback(correct=..., text=...)

Pure Python: neither Jupyter nor Textual is imported here.
"""

from __future__ import annotations

from simulator.lessons.model import (
    Ask,
    Code,
    Explore,
    Lesson,
    LessonError,
    Meta,
    Page,
    Part,
    Text,
    Try,
    lesson,
    lessons,
    parse,
)
from simulator.lessons.quiz import (
    REVEAL_AFTER,
    BrokenLineQuestion,
    ChoiceQuestion,
    Feedback,
    NextReplyQuestion,
    Question,
)

__all__ = [
    "REVEAL_AFTER",
    "Ask",
    "BrokenLineQuestion",
    "ChoiceQuestion",
    "Code",
    "Explore",
    "Feedback",
    "Lesson",
    "LessonError",
    "Meta",
    "NextReplyQuestion",
    "Page",
    "Part",
    "Question",
    "Text",
    "Try",
    "lesson",
    "lessons",
    "parse",
]
