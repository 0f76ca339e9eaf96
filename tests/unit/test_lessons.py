"""The lessons: their format, their questions and the notebooks written from them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from simulator import Simulation
from simulator.lessons import (
    Ask,
    BrokenLineQuestion,
    ChoiceQuestion,
    Code,
    Explore,
    LessonError,
    NextReplyQuestion,
    Text,
    lesson,
    lessons,
    parse,
)
from simulator.lessons.notebooks import notebook_text, write_all

ROOT = Path(__file__).resolve().parents[2]

SMALL = """\
+++
id = "42"
title = "A small lesson"
minutes = 5
goals = ["read a lesson file"]
summary = ["it was read"]
+++

Some words first.

## A page

```try
scenario = "basic"
faults = ["greylist:mx.example.org"]
steps = 3
```

```quiz
id = "pick"
kind = "choice"
prompt = "Which?"
choices = ["this", "that"]
answer = 1
why = "Because."
wrong = ["Not this one.", ""]
```

## Another page

```python
print("hello")
```
"""


def test_a_lesson_file_becomes_its_parts_in_order() -> None:
    item = parse(SMALL, "small.md")
    assert item.id == "42" and item.slug == "small"
    assert [type(p) for p in item.parts] == [Text, Explore, Ask, Text, Code]
    explore = item.parts[1]
    assert isinstance(explore, Explore)
    assert explore.spec.faults == ["greylist:mx.example.org"] and explore.spec.steps == 3
    assert explore.spec.code() == (
        "stepper = Stepper('basic', seed=1, faults=['greylist:mx.example.org'], steps=3)\nstepper"
    )


def test_pages_are_cut_at_each_second_level_heading() -> None:
    pages = parse(SMALL, "small.md").pages()
    assert [p.title for p in pages] == ["Introduction", "A page", "Another page"]
    assert [type(p) for p in pages[1].parts] == [Explore, Ask]
    assert isinstance(pages[2].parts[0], Code)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda t: t.replace("+++\nid", "id", 1), "small.md: expected TOML front matter"),
        (lambda t: t.replace("minutes = 5", 'minutes = "five"'), "small.md: front matter: minutes"),
        (lambda t: t.replace("answer = 1", "answer = 7"), "small.md:19: answer 7 is not the index"),
        (lambda t: t.replace('kind = "choice"', 'kind = "essay"'), "small.md:19: Input tag 'essay'"),
        (
            lambda t: t.replace('scenario = "basic"', "scenario = basic"),
            "small.md:13: the ```try block is not valid TOML",
        ),
        (lambda t: t.rstrip().removesuffix("```"), "small.md:31: the ```python block is never closed"),
        (lambda t: t.replace('wrong = ["Not this one.", ""]', 'wrong = ["one"]'), "expected one per choice"),
    ],
)
def test_a_broken_lesson_file_is_one_line_naming_the_place(change: object, expected: str) -> None:
    assert callable(change)
    with pytest.raises(LessonError) as caught:
        parse(change(SMALL), "small.md")
    message = str(caught.value)
    assert expected in message and "\n" not in message


def test_two_questions_with_one_id_are_refused() -> None:
    block = SMALL[SMALL.index("```quiz") : SMALL.index("## Another page")]
    with pytest.raises(LessonError, match="two questions share an id"):
        parse(SMALL + "\n" + block, "small.md")


def test_a_choice_question_answers_right_and_wrong() -> None:
    question = parse(SMALL, "small.md").question("pick")
    assert isinstance(question, ChoiceQuestion)
    right, wrong, neither = question.check(1), question.check(0), question.check(5)
    assert right.correct and right.text == "Right. Because."
    assert not wrong.correct and wrong.text == "Not quite. Not this one."
    assert not neither.correct and neither.text == "Pick one of the answers."
    assert question.check("that").correct


def test_a_next_reply_answer_is_read_off_the_trace_so_a_fault_changes_it() -> None:
    plain = NextReplyQuestion(
        id="q", prompt="?", scenario="basic", after="RCPT TO:<bob@example.org>", server="mx.example.org"
    )
    greylisted = plain.model_copy(update={"faults": ["greylist:mx.example.org"]})
    assert plain.reply[0].startswith("250 2.1.5")
    assert greylisted.reply[0].startswith("451 4.7.1")
    assert greylisted.check("451").correct
    close = greylisted.check("421")
    assert not close.correct and "first digit, 4, is right" in close.text
    other = greylisted.check("250")
    assert not other.correct and "2xx reply means success" in other.text
    assert greylisted.check("45").text == "Type a three-digit reply code, such as 250."


def test_a_next_reply_inside_tls_pairs_pipelined_commands_with_their_replies() -> None:
    question = NextReplyQuestion(id="q", prompt="?", scenario="starttls-submission", after="RCPT TO")
    assert question.reply[0] == "250 2.1.5 Ok"
    data = question.model_copy(update={"after": "DATA"})
    assert data.reply[0].startswith("354 ")


def test_a_client_line_that_is_never_said_is_a_lookup_error() -> None:
    question = NextReplyQuestion(id="q", prompt="?", scenario="basic", after="VRFY")
    with pytest.raises(LookupError, match="no client line starting 'VRFY'"):
        _ = question.reply


def test_the_lines_that_broke_the_dkim_signature_are_the_lists_footer() -> None:
    question = BrokenLineQuestion(
        id="q", prompt="?", scenario="dkim-tampered", mailbox="bob@example.org", subject="everyone"
    )
    options = question.options()
    assert options is not None
    broken = [options[i] for i in question.breaking]
    assert broken[0] == "-- " and any("lunch-leave@lists.example.net" in line for line in broken)
    assert question.check(question.breaking[-1]).correct
    list_id = next(i for i, line in enumerate(options) if line.startswith("List-Id:"))
    assert "not named in the h= tag" in question.check(list_id).text
    subject = next(i for i, line in enumerate(options) if line.startswith("Subject:"))
    assert question.check(subject).text.startswith("That line is exactly as the signer sent it")


def test_every_lesson_is_numbered_in_order_and_every_question_resolves() -> None:
    found = lessons()
    assert [item.id for item in found] == [f"{n:02d}" for n in range(1, len(found) + 1)]
    assert lesson("01").title == "The first SMTP dialogue"
    for item in found:
        assert item.slug.startswith(item.id + "-")
        assert item.questions, f"lesson {item.id} asks nothing"
        for question in item.questions:
            if isinstance(question, NextReplyQuestion):
                assert question.check(question.code).correct
            elif isinstance(question, BrokenLineQuestion):
                assert question.breaking
            options = question.options()
            assert options is None or len(options) >= 2


def test_the_notebooks_folder_holds_exactly_the_lessons_as_written_and_no_outputs(tmp_path: Path) -> None:
    """A notebook edited by hand, or a lesson changed without writing the notebooks again, fails here:
    run `python -m simulator.lessons.notebooks notebooks` to bring them back in step."""
    committed = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert committed == sorted(f"{item.slug}.ipynb" for item in lessons())
    for item in lessons():
        text = (ROOT / "notebooks" / f"{item.slug}.ipynb").read_text(encoding="utf-8")
        assert text == notebook_text(item), f"notebooks/{item.slug}.ipynb is out of step with its lesson"
        cells = json.loads(text)["cells"]
        assert all(not c.get("outputs") and c.get("execution_count") is None for c in cells if c["cell_type"] == "code")
    assert [p.name for p in write_all(tmp_path)] == [f"{item.slug}.ipynb" for item in lessons()]


def test_the_notebook_of_a_lesson_has_a_title_the_set_up_every_part_and_the_summary() -> None:
    item = parse(SMALL, "small.md")
    cells = json.loads(notebook_text(item))["cells"]
    sources = ["".join(c["source"]) for c in cells]
    assert sources[0].startswith("# 42 · A small lesson\n\n*About 5 minutes.*")
    assert "LESSON = lesson('42')" in sources[1]
    assert sources[2] == "Some words first.\n\n## A page"
    assert sources[3].startswith("stepper = Stepper('basic'")
    assert sources[4] == "Quiz(LESSON.question('pick'))"
    assert sources[6] == 'print("hello")'
    assert sources[-1] == "## Summary\n\n- it was read"
    assert len({c["id"] for c in cells}) == len(cells)


def test_import_simulator_loads_neither_ipywidgets_nor_textual() -> None:
    code = (
        "import sys, simulator, simulator.cli, simulator.lessons;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ipywidgets', 'textual', 'IPython', 'traitlets')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    control = "import sys, simulator.notebook; print('ipywidgets' in sys.modules)"
    shown = subprocess.run([sys.executable, "-c", control], capture_output=True, text=True, check=False).stdout
    assert shown.strip() == "True", "the control: importing the notebook front end does load ipywidgets"


def test_the_course_table_lists_every_lesson_in_order_with_its_minutes() -> None:
    readme = (ROOT / "notebooks" / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| ") and ".ipynb)" in line]
    expected = [f"| {item.id} | [{item.title}]({item.slug}.ipynb) | {item.meta.minutes} |" for item in lessons()]
    assert [row[: len(want)] for row, want in zip(rows, expected, strict=False)] == expected
    assert len(rows) == len(expected)
    notes = [line for line in readme.splitlines() if line.startswith("- **") and " min).**" in line]
    assert [n[4:6] for n in notes] == [item.id for item in lessons()]
    for note, item in zip(notes, lessons(), strict=True):
        assert note.startswith(f"- **{item.id} ({item.meta.minutes} min).**")


def test_a_pop3_question_is_answered_with_ok_or_err_in_order() -> None:
    question = NextReplyQuestion(id="q", prompt="?", scenario="pop3-download-delete", after="RETR 1")
    assert question.code == "+OK" and question.reply[0].startswith("+OK ") and "octets" in question.reply[0]
    assert question.check("+ok").correct
    wrong = question.check("-ERR")
    assert not wrong.correct and wrong.text == "Not -ERR, which would mean a refusal or an error. Try again."
    assert question.check("250").text == "Type one of +OK, -ERR, +."


def test_an_imap_question_is_answered_by_the_tagged_reply_or_a_continuation() -> None:
    select = NextReplyQuestion(id="q", prompt="?", scenario="imap-two-devices", after="A0002 SELECT")
    assert select.code == "OK" and select.reply[0] == "A0002 OK [READ-WRITE] Select completed."
    idle = select.model_copy(update={"scenario": "imap-idle-push", "after": "A0003 IDLE"})
    assert idle.code == "+" and idle.reply[0] == "+ idling"
    done = idle.model_copy(update={"after": "DONE"})
    assert done.code == "OK" and done.reply[0] == "A0003 OK Idle completed."
    assert "not understood" in select.check("BAD").text


def test_a_dot_asks_for_the_reply_to_the_end_of_the_message() -> None:
    question = NextReplyQuestion(id="q", prompt="?", scenario="dmarc-reject", after=".", server="mx.example.org")
    assert question.reply[0] == "550 5.7.1 rejected by DMARC policy for example.com"


def test_only_a_clients_line_is_asked_about_never_a_servers() -> None:
    question = NextReplyQuestion(id="q", prompt="?", scenario="basic", after="220")
    with pytest.raises(LookupError, match="no client line starting '220'"):
        _ = question.reply


def test_a_try_block_takes_only_the_fields_of_its_widget() -> None:
    bad = SMALL.replace('scenario = "basic"\nfaults', 'scenario = "basic"\nwidget = "compare"\nfaults')
    with pytest.raises(LessonError, match=re.escape("small.md:13: faults, steps does not apply to widget = 'compare'")):
        parse(bad, "small.md")
    console = SMALL.replace('faults = ["greylist:mx.example.org"]\nsteps = 3', 'host = "smtp.example.com"')
    with pytest.raises(LessonError, match="host does not apply to widget = 'stepper'"):
        parse(console, "small.md")


def test_every_scenario_a_lesson_offers_opens_as_its_widget_will_open_it() -> None:
    from simulator.console import services

    for item in lessons():
        for spec in (part.spec for part in item.parts if isinstance(part, Explore)):
            sim = Simulation.from_scenario(spec.scenario, seed=spec.seed, faults=spec.faults)
            if spec.widget == "console":
                assert (spec.host, spec.port) in {(s.host, s.port) for s in services(sim)}, (item.id, spec)
            if spec.widget == "compare":
                assert sim.devices, f"lesson {item.id}: {spec.scenario} has no device to compare"


def test_each_kind_of_question_reveals_its_answer_and_why() -> None:
    choice = parse(SMALL, "small.md").question("pick")
    assert choice.reveal() == "The answer: that. Because."
    reply = NextReplyQuestion(id="q", prompt="?", scenario="multi-recipient", after="RCPT TO:<nobody", why="Gone.")
    reply = reply.model_copy(update={"server": "mx.example.org"})
    assert reply.reveal().startswith("The answer: 550. The server answers 550 5.1.1 <nobody@example.org>")
    assert reply.reveal().endswith("Gone.")
    imap = NextReplyQuestion(id="q", prompt="?", scenario="imap-idle-push", after="A0003 IDLE")
    assert imap.reveal().startswith("The answer: +. The server answers + idling")
    dkim = BrokenLineQuestion(id="q", prompt="?", scenario="dkim-tampered", mailbox="bob@example.org", subject="every")
    assert dkim.reveal().startswith("The lines the signer never hashed: '-- '; 'You receive this because")


def test_an_indented_code_block_right_after_a_fence_keeps_its_indent() -> None:
    text = SMALL.replace(
        "## Another page\n", "    MX example.org? -> 10 mx.example.org\n    A mx.example.org?\n\n## Another page\n"
    )
    item = parse(text, "small.md")
    after_quiz = item.parts[3]
    assert isinstance(after_quiz, Text)
    assert after_quiz.markdown.startswith("    MX example.org? -> 10 mx.example.org\n    A mx.example.org?")
