"""The `smtpsim` command: output formats and one-line usage errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

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


def test_run_mermaid_prints_a_sequence_diagram(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "basic", "--format", "mermaid"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "sequenceDiagram"
    participants = [line.split(" as ", 1)[1] for line in out if line.lstrip().startswith("participant ")]
    assert participants[:2] == ["laptop.example.com", "smtp.example.com"]
    assert any("MAIL FROM:" in line and "->>" in line for line in out)


@pytest.mark.parametrize(
    ("option", "shows"),
    [
        ("--svg", ['<svg xmlns="http://www.w3.org/2000/svg"', "mx.example.org", "MAIL FROM:"]),
        ("--mermaid", ["sequenceDiagram\n", "participant ", "MAIL FROM:"]),
        ("--html", ["<!DOCTYPE html>", "<h1>Scenario <code>basic</code></h1>", "-&gt; MAIL FROM:&lt;alice@"]),
    ],
)
def test_export_writes_the_file_asked_for(
    option: str, shows: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "out"
    assert main(["export", "basic", option, str(target)]) == 0
    assert capsys.readouterr() == ("", "")
    text = target.read_text(encoding="utf-8")
    for piece in shows:
        assert piece in text


def test_export_html_names_the_faults_of_the_scenario_and_the_command_line(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    assert main(["export", "mx-down-retry", "--fault", "greylist:mx.example.org", "--html", str(target)]) == 0
    html = target.read_text(encoding="utf-8")
    assert "<code>down:mx.example.org,at=0,for=3600</code>" in html
    assert "<code>greylist:mx.example.org=300</code>" in html
    assert "fault: mx.example.org greylists alice@example.com -&gt; bob@example.org" in html


def test_export_pcap_with_its_key_log(tmp_path: Path) -> None:
    pcap, keylog = tmp_path / "run.pcap", tmp_path / "run.keys"
    assert main(["export", "starttls-submission", "--seed", "1", "--pcap", str(pcap), "--keylog", str(keylog)]) == 0
    assert pcap.read_bytes()[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4")  # classic pcap, either byte order
    labels = [line.split()[0] for line in keylog.read_text().splitlines() if line and not line.startswith("#")]
    # NSS key log lines of TLS 1.3, one set per handshake: submission and relay both use STARTTLS.
    assert sorted(set(labels)) == [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "EXPORTER_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_TRAFFIC_SECRET_0",
    ]
    assert labels.count("CLIENT_TRAFFIC_SECRET_0") == 2


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["export", "basic"], "one of the arguments --pcap --svg --mermaid --html is required"),
        (["export", "basic", "--svg", "a.svg", "--html", "a.html"], "argument --html: not allowed with argument --svg"),
        (["export", "basic", "--pcap"], "argument --pcap: expected one argument"),
        (["export", "basic", "--svg", "a.svg", "--fault", "nonsense"], "unknown kind 'nonsense'"),
        (["run", "basic", "--format", "svg"], "invalid choice: 'svg'"),
    ],
)
def test_bad_export_arguments_exit_2_with_one_line(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert expected in err


def test_export_keylog_without_pcap_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "basic", "--html", str(tmp_path / "r.html"), "--keylog", str(tmp_path / "k")]) == 2
    assert capsys.readouterr().err == (
        "smtpsim export: --keylog goes with --pcap (the key log decrypts the capture's TLS)\n"
    )
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("option", ["--svg", "--mermaid", "--html", "--pcap"])
def test_export_to_an_unwritable_path_names_the_file(
    option: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no-such-directory" / "out"
    assert main(["export", "basic", option, str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"smtpsim export: {option} {target}: cannot write it: ")


def test_export_keylog_to_an_unwritable_path_names_the_key_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keylog = tmp_path / "no-such-directory" / "keys"
    argv = ["export", "starttls-submission", "--pcap", str(tmp_path / "run.pcap"), "--keylog", str(keylog)]
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith(f"smtpsim export: --keylog {keylog}: cannot write it: ")
