"""Devices reading mail in a world: POP3 profiles, the maildrop lock, deletions only after QUIT."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator import faults
from simulator.cli import main
from simulator.mail.store import FlagMode, MailStore
from simulator.nodes.pop3_service import POP3Service
from simulator.protocol.pop3.server import ServerConfig
from simulator.scenarios import check
from simulator.sim import Simulation

SCENARIOS = Path(__file__).resolve().parents[2] / "simulator" / "scenarios"


def _subjects(sim: Simulation, device: str) -> list[str]:
    return [m.subject for m in sim.devices[device].messages.values()]


def _pop3_lines(sim: Simulation, src: str) -> list[str]:
    return [e.summary for e in sim.trace if e.protocol == "POP3" and e.kind == "send" and e.src == src]


def test_download_and_delete_leaves_each_message_on_one_device_and_the_server_empty() -> None:
    sim = Simulation.from_scenario("pop3-download-delete", seed=1)
    sim.run()
    assert _subjects(sim, "laptop.example.org") == ["Lunch on Friday?"]
    assert _subjects(sim, "phone.example.org") == ["Re: Lunch on Friday?"]
    assert sim.mailbox("bob@example.org") == []
    assert "DELE 1" in _pop3_lines(sim, "laptop.example.org")
    assert "+OK Logging out, messages deleted." in _pop3_lines(sim, "mx.example.org")
    assert check(sim) == []


def test_leave_on_server_copies_only_unseen_uids_and_deletes_nothing() -> None:
    sim = Simulation.from_scenario("pop3-leave-on-server", seed=1)
    sim.run()
    both = ["Lunch on Friday?", "Re: Lunch on Friday?"]
    assert _subjects(sim, "laptop.example.org") == both
    assert _subjects(sim, "phone.example.org") == both
    assert len(sim.mailbox("bob@example.org")) == 2
    laptop = _pop3_lines(sim, "laptop.example.org")
    assert "DELE 1" not in laptop
    # The second check asks for UIDL again and fetches only the message it has not seen.
    assert laptop.count("RETR 1") == 1 and laptop.count("RETR 2") == 1
    assert check(sim) == []


def test_a_second_session_finds_the_maildrop_locked_and_nothing_is_lost() -> None:
    sim = Simulation.from_scenario("pop3-download-delete", seed=1)
    sim.check_mail("phone.example.org", at=30.0)  # the same moment as the laptop
    sim.run()
    refusals = [e for e in sim.trace if e.protocol == "POP3" and e.summary.startswith("-ERR [IN-USE]")]
    assert len(refusals) == 1
    shown = _subjects(sim, "laptop.example.org") + _subjects(sim, "phone.example.org")
    assert sorted(shown) == ["Lunch on Friday?", "Re: Lunch on Friday?"]  # each on exactly one device
    assert sim.mailbox("bob@example.org") == []


def test_a_session_that_dies_before_quit_deletes_nothing_and_releases_the_lock() -> None:
    sim = Simulation.from_scenario("pop3-download-delete", seed=1)
    dele = sim.run(until=lambda e: e.summary == "+OK Marked to be deleted.")
    assert dele
    sim.inject(faults.Crash(at=sim.now + 0.001, duration=1.0, node="laptop.example.org"))
    sim.run()
    # The laptop kept what it had fetched, but the server never entered UPDATE ...
    assert _subjects(sim, "laptop.example.org")[0] == "Lunch on Friday?"
    assert not any(e.summary.startswith("+OK Logging out, messages") for e in sim.trace if e.time < 60)
    # ... so the phone, whose login is not refused, still finds the first message there.
    assert _subjects(sim, "phone.example.org") == ["Lunch on Friday?", "Re: Lunch on Friday?"]


def test_check_mail_from_the_facade_is_replayed_by_back() -> None:
    sim = Simulation.from_scenario("pop3-leave-on-server", seed=1)
    sim.run(until=200.0)
    sim.check_mail("phone.example.org")
    taken = sim.run()
    assert taken > 0
    length = len(sim.trace)
    sim.back()
    again = sim.step()
    assert again is not None and len(sim.trace) == length
    assert again == sim.trace[-1]


def test_check_mail_names_the_devices_when_asked_for_an_unknown_one() -> None:
    sim = Simulation.from_scenario("pop3-leave-on-server", seed=1)
    with pytest.raises(KeyError, match=r"laptop\.example\.org"):
        sim.check_mail("tablet.example.org")


def test_summary_shows_what_each_device_holds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "pop3-download-delete", "--format", "summary", "--check"]) == 0
    out = capsys.readouterr().out
    assert "phone.example.org (pop3-download-delete) shows 1: 'Re: Lunch on Friday?'" in out


@pytest.mark.parametrize(
    ("edit", "where"),
    [
        (("pop3 = true ", "pop3 = false"), "host[5].retrieval"),
        (
            ('retrieval = "pop3-download-delete"\ncheck_at = [90]', 'msa = "smtp.example.com"\ncheck_at = [90]'),
            "host[6].check_at",
        ),
        (('device = "phone.example.org"', 'device = "tablet.example.org"'), "expect_device[2].device"),
        (("check_at = [90]", 'check_at = [90]\nmailbox_server = "smtp.example.com"'), "host[6].mailbox_server"),
    ],
)
def test_bad_retrieval_settings_exit_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: tuple[str, str], where: str
) -> None:
    text = (SCENARIOS / "pop3-download-delete.toml").read_text()
    assert edit[0] in text
    text = text.replace(edit[0], edit[1], 1)
    path = tmp_path / "broken.toml"
    path.write_text(text)
    with pytest.raises(SystemExit) as exit_info:
        main(["run", str(path)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and where in err and "Traceback" not in err


def test_quit_says_err_when_an_imap_session_expunged_a_marked_message_first() -> None:
    store = MailStore()
    account = store.create("bob@example.org")
    for n in (1, 2):
        account.append(b"Subject: %d\r\n\r\nhello\r\n" % n, 0.0, f"Q{n}")
    service = POP3Service(ServerConfig(hostname="mx.example.org"), store, {"bob@example.org": "builder"})
    engine = service.engine(0.0)

    def say(line: bytes) -> list[str]:
        engine.receive_data(line)
        for event in engine.events():
            service.handle(engine, event, "pop3 session")
        return [o.response.first_line() for o in engine.outgoing()]

    say(b"USER bob@example.org\r\n")
    assert say(b"PASS builder\r\n") == ["+OK Logged in."]
    say(b"DELE 1\r\nDELE 2\r\n")
    imap = account.select("INBOX")  # meanwhile an IMAP client deletes the first message itself
    imap.store([1], FlagMode.ADD, ["\\Deleted"])
    imap.expunge()
    assert say(b"QUIT\r\n") == ["-ERR Some deleted messages not removed."]
    assert account.messages == [] and account.maildrop_holder is None  # the second went too; the lock is free


class _SilentClient:
    """A client that connects and then never says a word."""

    def __init__(self) -> None:
        self.received = b""
        self.closed = False

    def connection_made(self, conn: object, side: str) -> None:
        pass

    def data_received(self, data: bytes) -> None:
        self.received += data

    def eof_received(self) -> None:
        self.closed = True

    def connection_lost(self, reason: str) -> None:
        self.closed = True


@pytest.mark.parametrize(
    ("port", "protocol", "goodbye", "after"),
    [
        (110, "POP3", b"-ERR Disconnected for inactivity.\r\n", 600),
        (143, "IMAP", b"* BYE Disconnected for inactivity.\r\n", 1800),
    ],
)
def test_a_silent_client_is_logged_out_with_a_goodbye(port: int, protocol: str, goodbye: bytes, after: float) -> None:
    sim = Simulation.from_scenario("basic", seed=1)
    client = _SilentClient()
    sim.world.network.connect("laptop.example.org", "mx.example.org", port, client, protocol)
    sim.run()
    assert client.received.endswith(goodbye) and client.closed
    (timeout,) = [e for e in sim.trace if e.kind == "timeout"]
    assert after <= timeout.time < after + 1 and timeout.src == "mx.example.org"
    said = next(e for e in sim.trace if e.data == goodbye)
    assert said.time == timeout.time  # the goodbye, then the server closes its side (the client read EOF)
