"""The `smtpsim` command: output formats and one-line usage errors with exit code 2."""

from __future__ import annotations

import json

import pytest

from simulator.cli import main


def test_run_basic_transcript_shows_dialogue_with_explanations(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "basic"]) == 0
    out = capsys.readouterr().out
    flat = " ".join(out.split())  # notes are wrapped; compare with white space folded
    assert "<- 220 mx.example.org ESMTP" in out
    assert "-> MAIL FROM:<alice@example.com>" in out
    assert "<- 354 End data with <CR><LF>.<CR><LF>" in out
    assert "# Go ahead: send the message, end it with a line holding only a dot. [RFC 5321 §4.2.2, §4.1.1.4]" in flat


def test_run_json_is_one_object_per_event(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "basic", "--format", "json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert events[0]["kind"] == "connect"
    sends = [e for e in events if e["kind"] == "send"]
    assert sends[0]["data"] == "220 smtp.example.com ESMTP\r\n"
    assert all(e["explain"] and e["rfc"] for e in events)


def test_run_observed_shows_what_each_eavesdropper_saw(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "eavesdropper", "--format", "observed"]) == 0
    out = capsys.readouterr().out
    cafe, office = out.split("What office-lan saw", 1)
    assert cafe.startswith("What cafe-wifi saw on the link laptop.example.com <-> smtp.example.com")
    assert "user alice@example.com, password wonderland" in cafe  # AUTH PLAIN in clear, decoded
    assert "looking-glass" not in out  # carol's password went inside TLS
    assert "STARTTLS" in office and "application_data" in office


def test_run_observed_without_an_observer_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "basic", "--format", "observed"]) == 2
    err = capsys.readouterr().err
    assert err == "smtpsim: basic: --format observed needs an [[observer]] on a link; it has none\n"


def test_run_summary_reports_each_recipient(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "basic", "--format", "summary"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "<lunch@laptop.example.com>       bob@example.org          delivered  mx.example.org",
        "laptop.example.org (imap) shows 0",  # bob's devices check only when asked in this world
        "phone.example.org (imap) shows 0",
    ]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "nosuch"], "scenario: unknown scenario 'nosuch'; built-in: auth-failure, basic"),
        (["run", "basic", "--format", "xml"], "invalid choice: 'xml'"),
        (["serve", "--smtp", "99999"], "expected a port number from 0 to 65535, got '99999'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert expected in err
