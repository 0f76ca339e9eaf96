"""A lesson, written once and presented twice: as a Jupyter notebook and on the terminal app's Lessons screen.

A lesson is a Markdown file in `simulator/lessons/text/`. It opens with TOML front matter
between `+++` lines (id, title, minutes, goals, summary), then the narrative, in which
fenced blocks of three kinds do the interactive parts:

    ```try                       a scenario to explore: a Stepper in the notebook, the main screen in the TUI
    scenario = "basic"
    ```

    ```quiz                      a question (see quiz.py): a Quiz widget in the notebook, a form in the TUI
    id = "greeting"
    kind = "choice"
    ...
    ```

    ```python                    code for the notebook (the TUI shows it, to read or to type into Python)
    stepper.sim.outcome()
    ```

Every `## ` heading starts a page: the TUI shows one page at a time, the notebook one
Markdown cell per stretch of prose. No Markdown library is needed for this: the only
structure read here is the front matter, the fences and the `## ` headings.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from simulator.lessons.quiz import Question


class LessonError(Exception):
    """A lesson file that cannot be read; str() names the file, where, and what was expected."""


class Meta(BaseModel):
    """The front matter."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[0-9]{2}$")
    title: str
    minutes: int = Field(gt=0)  # how long it takes in class, exercises included
    goals: list[str] = Field(min_length=1)
    summary: list[str] = Field(min_length=1)


class Try(BaseModel):
    """A scenario for the learner to explore, in a widget (notebook) or the main screen (TUI)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: str
    widget: Literal["stepper", "compare", "console"] = "stepper"
    name: str = Field(default="stepper", pattern=r"^[a-z_][a-z0-9_]*$")  # the notebook's variable
    seed: int = 1
    faults: list[str] = []
    host: str = "mx.example.org"  # console: the server to type to
    port: int = 25
    steps: int = Field(default=0, ge=0)  # how far to step before showing it

    @model_validator(mode="after")
    def _fits_the_widget(self) -> Try:
        given = self.model_fields_set
        misplaced = [f for f in ("faults", "steps") if f in given and self.widget != "stepper"] + [
            f for f in ("host", "port") if f in given and self.widget != "console"
        ]
        if misplaced:
            raise ValueError(f"{', '.join(misplaced)} does not apply to widget = {self.widget!r}")
        return self

    def code(self) -> str:
        """The notebook cell that builds and shows the widget."""
        if self.widget == "compare":
            call = f"Compare({self.scenario!r}, seed={self.seed})"
        elif self.widget == "console":
            call = f"Console({self.scenario!r}, host={self.host!r}, port={self.port}, seed={self.seed})"
        else:
            extra = f", faults={self.faults!r}" if self.faults else ""
            extra += f", steps={self.steps}" if self.steps else ""
            call = f"Stepper({self.scenario!r}, seed={self.seed}{extra})"
        return f"{self.name} = {call}\n{self.name}"


@dataclass(frozen=True)
class Text:
    markdown: str


@dataclass(frozen=True)
class Code:
    source: str


@dataclass(frozen=True)
class Ask:
    question: Question


@dataclass(frozen=True)
class Explore:
    spec: Try


Part = Text | Code | Ask | Explore


@dataclass(frozen=True)
class Page:
    """What the TUI shows at once: a `## ` heading's stretch of the lesson."""

    title: str
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class Lesson:
    """One lesson: its front matter and its parts, in order."""

    meta: Meta
    parts: tuple[Part, ...]
    slug: str  # the file name without .md, also the notebook's name

    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def title(self) -> str:
        return self.meta.title

    def goals_markdown(self) -> str:
        """What the lesson's first page (or cell) says under its title: the time it takes and its goals."""
        goals = "\n".join(f"- {goal}" for goal in self.meta.goals)
        return f"*About {self.meta.minutes} minutes.*\n\n**You will learn to**\n\n{goals}"

    def summary_markdown(self) -> str:
        """The lesson's closing section."""
        return "## Summary\n\n" + "\n".join(f"- {point}" for point in self.meta.summary)

    def question(self, qid: str) -> Question:
        """The quiz question with that id."""
        for part in self.parts:
            if isinstance(part, Ask) and part.question.id == qid:
                return part.question
        raise KeyError(f"lesson {self.id} has no question {qid!r}")

    @property
    def questions(self) -> list[Question]:
        return [part.question for part in self.parts if isinstance(part, Ask)]

    def pages(self) -> list[Page]:
        """The lesson cut at each `## ` heading; the text before the first one is the page 'Introduction'."""
        pages: list[Page] = []
        title, current = "Introduction", list[Part]()
        for part in self.parts:
            if isinstance(part, Text):
                for chunk in _at_headings(part.markdown):
                    heading, _, rest = chunk.partition("\n")
                    if heading.startswith("## "):
                        if current:
                            pages.append(Page(title, tuple(current)))
                        title, current, chunk_text = heading[3:].strip(), list[Part](), rest
                    else:
                        chunk_text = chunk
                    if chunk_text.strip():
                        current.append(Text(chunk_text.strip()))
            else:
                current.append(part)
        if current:
            pages.append(Page(title, tuple(current)))
        return pages


_QUESTION: TypeAdapter[Question] = TypeAdapter(Question)
_FENCE = re.compile(r"^```(\w*)\s*$")


def parse(text: str, source: str) -> Lesson:
    """Read a lesson file's text; LessonError says what is wrong and where."""
    match = re.match(r"\+\+\+\n(.*?)\n\+\+\+\n", text, re.DOTALL)
    if not match:
        raise LessonError(f"{source}: expected TOML front matter between +++ lines at the top")
    try:
        meta = Meta.model_validate(_toml(match.group(1), source, "front matter"))
    except ValidationError as error:
        raise LessonError(f"{source}: front matter: {_first(error)}") from None
    parts: list[Part] = []
    prose: list[str] = []
    fence: tuple[str, int, list[str]] | None = None
    for number, line in enumerate(text[match.end() :].split("\n"), start=text[: match.end()].count("\n") + 1):
        opened = _FENCE.match(line)
        if fence is None:
            if opened and opened.group(1) in ("try", "quiz", "python"):
                _flush(prose, parts)
                fence = (opened.group(1), number, [])
            else:
                prose.append(line)
        elif opened and not opened.group(1):
            kind, start, body = fence
            parts.append(_block(kind, "\n".join(body), f"{source}:{start}"))
            fence = None
        else:
            fence[2].append(line)
    if fence is not None:
        raise LessonError(f"{source}:{fence[1]}: the ```{fence[0]} block is never closed")
    _flush(prose, parts)
    ids = [q.id for q in (p.question for p in parts if isinstance(p, Ask))]
    if len(ids) != len(set(ids)):
        raise LessonError(f"{source}: two questions share an id; expected each id once")
    return Lesson(meta, tuple(parts), source.rsplit("/", 1)[-1].removesuffix(".md"))


def _flush(prose: list[str], parts: list[Part]) -> None:
    """The prose so far as a Text part, without blank lines around it; the first line keeps its indent,
    which may begin an indented code block."""
    while prose and not prose[0].strip():
        prose.pop(0)
    text = "\n".join(prose).rstrip()
    if text:
        parts.append(Text(text))
    prose.clear()


def _block(kind: str, body: str, where: str) -> Part:
    if kind == "python":
        return Code(body.strip())
    data = _toml(body, where, f"```{kind} block")
    try:
        if kind == "quiz":
            return Ask(_QUESTION.validate_python(data))
        return Explore(Try.model_validate(data))
    except ValidationError as error:
        raise LessonError(f"{where}: {_first(error, tagged=kind == 'quiz')}") from None


def _first(error: ValidationError, tagged: bool = False) -> str:
    """The first problem as `field: what is wrong`; a quiz's location starts with its kind, which is left out."""
    first = error.errors()[0]
    where = [str(p) for p in first["loc"]][1 if tagged else 0 :]
    message = first["msg"].removeprefix("Value error, ")
    return f"{'.'.join(where)}: {message}" if where else message


def _toml(text: str, where: str, what: str) -> dict[str, object]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise LessonError(f"{where}: the {what} is not valid TOML: {error}") from None


def _at_headings(markdown: str) -> list[str]:
    chunks: list[str] = []
    for line in markdown.split("\n"):
        if line.startswith("## ") or not chunks:
            chunks.append(line)
        else:
            chunks[-1] += "\n" + line
    return chunks


def lessons() -> list[Lesson]:
    """Every lesson, in course order."""
    folder = resources.files("simulator.lessons") / "text"
    names = sorted(entry.name for entry in folder.iterdir() if entry.name.endswith(".md"))
    return [parse((folder / name).read_text(encoding="utf-8"), f"simulator/lessons/text/{name}") for name in names]


def lesson(lesson_id: str) -> Lesson:
    """The lesson with that id ("01") or file name ("01-first-smtp-dialogue")."""
    for found in lessons():
        if lesson_id in (found.id, found.slug):
            return found
    raise KeyError(f"no lesson {lesson_id!r}")
