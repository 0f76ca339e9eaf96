"""Scenario files: the built-ins meet their own [[expect]], bad files are one line and exit 2, custom files run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simulator import scenarios
from simulator.cli import main
from simulator.mail.headers import header_values
from simulator.scenarios import ScenarioError, check, load
from simulator.scenarios.worlds import default_world
from simulator.sim import Simulation

BUILTINS = scenarios.builtin_names()
BASIC = (Path(scenarios.__file__).parent / "basic.toml").read_text()

# A teacher's own world: one school domain, one other domain, a slow link and a short queue.
CUSTOM = """
description = "A school sends a reminder to a parent."
seed = 5

[[host]]
name = "pc.school.test"
ip = "10.0.0.10"
role = "client"
user = "teacher@school.test"
msa = "mail.school.test"

[[host]]
name = "mail.school.test"
ip = "10.0.0.25"
role = "mail-server"
domains = ["school.test"]
submission = true

[[host]]
name = "mx.home.test"
ip = "10.0.1.25"
role = "mail-server"
domains = ["home.test"]

[[host]]
name = "dns.test"
ip = "10.0.0.53"
role = "dns"

[[user]]
address = "teacher@school.test"
password = "chalk"

[[user]]
address = "parent@home.test"

[dns]
mx = [{ domain = "home.test", host = "mx.home.test" }]

[[link]]
between = ["mail.school.test", "mx.home.test"]
latency = 0.5

[queue]
first_retry = 60

[[message]]
from = "teacher@school.test"
to = ["parent@home.test"]
at = 10
subject = "Trip on Monday"
body = '''
Dear parent,
.please bring a packed lunch.
'''

[[expect]]
message = 1
recipient = "parent@home.test"
status = "delivered"
where = "mx.home.test"
"""


def _cli(argv: list[str]) -> int:
    """main()'s exit code, whether it returns it or raises SystemExit with it."""
    try:
        return main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


# --- the built-ins ------------------------------------------------------------------------------


def test_the_built_ins_are_the_shipped_toml_files() -> None:
    assert {
        "basic", "multi-recipient", "mx-down-retry", "mx-fallback", "greylisting", "bounce", "queue-expiry",
        "dns-failure", "lost-after-dot", "rate-limited",
    } <= set(BUILTINS)  # fmt: skip


@pytest.mark.parametrize("name", BUILTINS)
def test_each_built_in_runs_headless_and_meets_its_own_expectations(name: str) -> None:
    spec = load(name)
    assert spec.description.strip() and spec.expect  # a lesson says what it shows and what should happen
    sim = Simulation.from_scenario(name)
    sim.run()
    assert check(sim) == []
    assert all(e.explain and e.rfc for e in sim.trace)


def test_basic_is_the_default_world_of_the_architecture() -> None:
    sim = Simulation.from_scenario("basic", seed=1)
    world = sim.world
    assert {n: h.ip for n, h in world.network.hosts.items()} == {
        "laptop.example.com": "192.0.2.10",
        "smtp.example.com": "192.0.2.25",
        "ns.example.net": "192.0.2.53",
        "mx.example.org": "198.51.100.25",
        "laptop.example.org": "198.51.100.10",  # bob's laptop and phone read his mail with IMAP
        "phone.example.org": "198.51.100.11",
    }
    assert world.dns_db.mx == {"example.com": [(10, "smtp.example.com")], "example.org": [(10, "mx.example.org")]}
    assert world.servers["mx.example.org"].users == {"bob@example.org": "builder"}
    assert world.clients["alice@example.com"].password == "wonderland"
    assert 587 in world.servers["smtp.example.com"].listeners and 587 not in world.servers["mx.example.org"].listeners
    sim.run()
    (outcome,) = sim.outcome()
    assert (outcome.message_id, outcome.status, outcome.where) == (
        "<lunch@laptop.example.com>",
        "delivered",
        "mx.example.org",
    )
    assert {n: d.profile for n, d in sim.devices.items()} == {"laptop.example.org": "imap", "phone.example.org": "imap"}
    sim.check_mail("phone.example.org")
    sim.run()
    assert [m.subject for m in sim.devices["phone.example.org"].messages.values()] == ["Lunch on Friday?"]


def test_the_serving_world_is_basic_without_its_message() -> None:
    world = default_world(1)
    assert set(world.network.hosts) == set(Simulation.from_scenario("basic").world.network.hosts)
    assert world.ledger.messages == {}
    assert world.kernel.peek() is None  # nothing scheduled: the world waits for real clients


def test_the_faults_of_a_file_are_fresh_objects_in_each_world() -> None:
    first, second = Simulation.from_scenario("greylisting"), Simulation.from_scenario("greylisting")
    first.run()
    second.run()
    assert first.world.faults[0] is not second.world.faults[0]
    assert [e.summary for e in first.trace] == [e.summary for e in second.trace]


def test_list_shows_every_built_in_with_its_description(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    listed = re.findall(r"^(\S+)\s", out, re.MULTILINE)
    assert listed == BUILTINS
    assert "asks the DNS server ns.example.net for the MX record" in " ".join(out.split())


# --- a teacher's own file ------------------------------------------------------------------------


def test_a_custom_file_runs_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "trip.toml"
    path.write_text(CUSTOM)
    assert main(["run", str(path), "--format", "summary", "--check"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert line.split()[1:4] == ["parent@home.test", "delivered", "mx.home.test"]


def test_a_custom_file_builds_what_it_says(tmp_path: Path) -> None:
    path = tmp_path / "trip.toml"
    path.write_text(CUSTOM)
    sim = Simulation.from_scenario(str(path))
    assert sim.seed == 5  # the file's seed, since none was given
    assert Simulation.from_scenario(str(path), seed=2).seed == 2
    assert sim.world.servers["mail.school.test"].queue.schedule.first_retry == 60
    sim.run()
    assert check(sim) == []
    relay = [e for e in sim.trace if e.kind == "connect" and e.dst == "mx.home.test"]
    assert relay and relay[0].time > 10 + 3 * 0.5  # submitted at 10 s; SYN, SYN-ACK, ACK over a 0.5 s link
    (message,) = sim.mailbox("parent@home.test")
    assert header_values(message.content, "Subject") == ["Trip on Monday"]
    assert b"\r\n\r\nDear parent,\r\n.please bring a packed lunch.\r\n" in message.content  # CRLF, dot unstuffed


def test_unmet_expectations_are_reported_one_line_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "wrong.toml"
    path.write_text(CUSTOM.replace('status = "delivered"', 'status = "bounced"'))
    sim = Simulation.from_scenario(str(path))
    sim.run()
    assert check(sim) == ["expect[1]: message 1 to parent@home.test: expected bounced, got delivered at mx.home.test"]
    assert main(["run", str(path), "--format", "summary", "--check"]) == 1
    assert capsys.readouterr().err == (
        "smtpsim: expect[1]: message 1 to parent@home.test: expected bounced, got delivered at mx.home.test\n"
    )


def test_a_duplicate_delivery_is_told_from_one_copy(tmp_path: Path) -> None:
    sim = Simulation.from_scenario("lost-after-dot")
    sim.run()
    assert check(sim) == []
    path = tmp_path / "once.toml"
    path.write_text(load_text("lost-after-dot").replace("copies = 2", "copies = 1"))
    sim = Simulation.from_scenario(str(path))
    sim.run()
    assert check(sim) == ["expect[1]: message 1 to bob@example.org: expected 1 copies, got 2"]


def load_text(name: str) -> str:
    return (Path(scenarios.__file__).parent / f"{name}.toml").read_text()


# --- bad files: exit code 2 and one line naming the file, the field and what was expected -------------------------


def _with(old: str, new: str) -> str:
    assert old in BASIC
    return BASIC.replace(old, new, 1)


BAD_FILES = [
    ("malformed TOML", 'description = "x"\n[[host]\nname = "a"\n', "line 2, column 7", "not valid TOML"),
    (
        "unknown field",
        _with('domains = ["example.com"]', 'domian = ["example.com"]'),
        "host[2].domian",
        "unknown field (did you mean 'domains'?); expected one of name, ip, role, domains,",
    ),
    ("wrong type", _with('ip = "192.0.2.53"', "ip = 53"), "host[3].ip", "expected a string (in quotes), got 53"),
    ("wrong type of number", _with("seed = 1", 'seed = "one"'), "seed", "expected a whole number, got 'one'"),
    (
        "unknown role",
        _with('role = "dns"', 'role = "mta"'),
        "host[3].role",
        "expected 'client', 'mail-server', 'dns' or 'oauth', got 'mta'",
    ),
    (
        "link to unknown node",
        BASIC + '\n[[link]]\nbetween = ["smtp.example.com", "mx.example.net"]\n',
        "link[1].between",
        "expected names of [[host]] tables, got 'mx.example.net'",
    ),
    (
        "two hosts with one name",
        _with('name = "mx.example.org"', 'name = "smtp.example.com"'),
        "host[4].name",
        "expected a name no other host has, got 'smtp.example.com' (host[2])",
    ),
    (
        "bad fault spec",
        BASIC + '\n[[fault]]\nspec = "explode:mx.example.org"\n',
        "fault[1].spec",
        "unknown kind 'explode'; expected one of down,",
    ),
    (
        "fault on an unknown host",
        BASIC + '\n[[fault]]\nspec = "down:mx.example.net,at=0,for=60"\n',
        "fault[1].spec",
        "expected a [[host]] name as the target, got 'mx.example.net'",
    ),
    (
        "msa that is not a submission server",
        _with('msa = "smtp.example.com"', 'msa = "mx.example.org"'),
        "host[1].msa",
        "expected a mail-server with submission = true (smtp.example.com), got 'mx.example.org'",
    ),
    (
        "client whose user has no password",
        _with('password = "wonderland"', ""),
        "host[1].user",
        "alice@example.com has no password",
    ),
    (
        "MX to an unknown host",
        _with('host = "mx.example.org" }', 'host = "mx.example.net" }'),
        "dns.mx[2].host",
        "expected a [[host]] name or a [dns] A record name, got 'mx.example.net'",
    ),
    (
        "sender without a client",
        _with('from = "alice@example.com"', 'from = "bob@example.org"'),
        "message[1].from",
        "expected the user of a client host with an msa (alice@example.com), got 'bob@example.org'",
    ),
    (
        "expect.message out of range",
        _with("message = 1", "message = 2"),
        "expect[1].message",
        "expected the number of a [[message]], 1 to 1, got 2",
    ),
    (
        "user of a domain no server holds",
        _with('address = "bob@example.org"', 'address = "bob@example.net"'),
        "user[2].address",
        "expected an address in a domain some mail-server holds (example.com, example.org), got 'bob@example.net'",
    ),
    ("negative time", _with("at = 0 ", "at = -5 "), "message[1].at", "expected a number at least 0, got -5"),
    (
        "empty password",
        _with('password = "wonderland"', 'password = ""'),
        "user[1].password",
        "expected text of at least 1 character(s), got ''",
    ),
]


@pytest.mark.parametrize(("text", "field", "expected"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_a_bad_file_is_exit_2_with_one_line(
    text: str, field: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "lesson.toml"
    path.write_text(text)
    assert _cli(["run", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.err.startswith(f"smtpsim: {path}: {field}: ")
    assert expected in captured.err
    with pytest.raises(ScenarioError) as exc:
        load(str(path))
    assert (exc.value.source, exc.value.path) == (str(path), field)


def test_a_missing_file_is_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nowhere.toml"
    assert _cli(["run", str(path)]) == 2
    assert capsys.readouterr().err == (
        f"smtpsim: {path}: no such file; expected a built-in scenario name or the path of a .toml file\n"
    )


def test_an_unknown_built_in_is_a_key_error_and_a_scenario_error() -> None:
    with pytest.raises(KeyError) as exc:
        load("nosuch")
    assert isinstance(exc.value, ScenarioError)
    assert str(exc.value) == (
        f"scenario: unknown scenario 'nosuch'; built-in: {', '.join(BUILTINS)}; or give the path of a .toml file"
    )
