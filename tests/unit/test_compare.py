"""compare_retrieval: one mailbox history, several retrieval profiles, figures read off each run's trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.cli import main
from simulator.compare import device_traffic
from simulator.sim import Simulation

SCENARIOS = Path(__file__).resolve().parents[2] / "simulator" / "scenarios"


def _by_device(sim: Simulation) -> dict[tuple[str, str], tuple[int, int, int, int, int, int]]:
    comparison = sim.compare_retrieval(("pop3-download-delete", "pop3-leave-on-server"))
    return {
        (r.profile, d.device): (
            len(d.shows),
            r.left_on_server,
            d.bytes_sent,
            d.bytes_received,
            d.round_trips,
            d.commands,
        )
        for r in comparison.results
        for d in r.devices
    }


def test_download_and_delete_against_leave_on_server() -> None:
    rows = _by_device(Simulation.from_scenario("pop3-leave-on-server", seed=1))
    # Download-and-delete: each device shows only what it took first, and the server ends empty.
    assert rows[("pop3-download-delete", "laptop.example.org")][:2] == (1, 0)
    assert rows[("pop3-download-delete", "phone.example.org")][:2] == (1, 0)
    # Leave-on-server: both devices show both messages, and the server keeps them.
    assert rows[("pop3-leave-on-server", "laptop.example.org")][:2] == (2, 2)
    assert rows[("pop3-leave-on-server", "phone.example.org")][:2] == (2, 2)
    # The phone downloads two messages instead of one, so it receives more.
    assert (
        rows[("pop3-leave-on-server", "phone.example.org")][3] > rows[("pop3-download-delete", "phone.example.org")][3]
    )


def test_the_figures_are_the_trace_of_each_run() -> None:
    sim = Simulation.from_scenario("pop3-leave-on-server", seed=1)
    comparison = sim.compare_retrieval(("pop3-leave-on-server",))
    own = Simulation.from_scenario("pop3-leave-on-server", seed=1)
    own.run()
    for device in comparison.results[0].devices:
        figures = (device.bytes_sent, device.bytes_received, device.round_trips, device.commands)
        assert figures == device_traffic(own.trace, device.device)
    assert sim.trace == []  # the simulation asked is not run


def test_a_bigger_message_costs_its_octets_each_time_a_device_downloads_it(tmp_path: Path) -> None:
    text = (SCENARIOS / "pop3-leave-on-server.toml").read_text()
    body = 'body = "Hi Bob, are you free for lunch on Friday?"'
    assert body in text
    bigger = tmp_path / "bigger.toml"
    lines = "\\n".join("x" * 99 for _ in range(10))  # ten lines of 99 octets: 1,010 with their CRLFs
    bigger.write_text(text.replace(body, body[:-1] + "\\n" + lines + '"'))
    small = _by_device(Simulation.from_scenario("pop3-leave-on-server", seed=1))
    large = _by_device(Simulation.from_scenario(str(bigger), seed=1))
    for device in ("laptop.example.org", "phone.example.org"):
        grown = large[("pop3-leave-on-server", device)][3] - small[("pop3-leave-on-server", device)][3]
        assert 1010 <= grown <= 1020  # the message once, plus a longer "+OK n octets"
    # Download-and-delete: only the device that took the first message pays for it.
    taken = [
        large[("pop3-download-delete", d)][3] - small[("pop3-download-delete", d)][3]
        for d in ("laptop.example.org", "phone.example.org")
    ]
    assert sorted(t >= 1010 for t in taken) == [False, True]


def test_pop3_download_and_delete_leaves_the_phone_empty_while_imap_keeps_both_devices_in_step() -> None:
    comparison = Simulation.from_scenario("pop3-vs-imap", seed=1).compare_retrieval()
    pop3, imap = comparison.results
    assert (pop3.profile, imap.profile) == ("pop3-download-delete", "imap")
    laptop, phone = pop3.devices
    assert (laptop.device, len(laptop.shows), phone.device, len(phone.shows)) == (
        "laptop.example.org",
        2,
        "phone.example.org",
        0,
    )
    assert pop3.left_on_server == 0
    assert [(len(d.shows), d.unread) for d in imap.devices] == [(2, 0), (2, 0)]  # read on the laptop, read on both
    assert imap.left_on_server == 2


def test_a_profile_the_servers_do_not_offer_is_refused() -> None:
    sim = Simulation.from_scenario("pop3-download-delete", seed=1)
    with pytest.raises(ValueError, match="imap = true"):
        sim.compare_retrieval(("imap",))


def test_table_has_a_row_per_profile_and_device() -> None:
    table = Simulation.from_scenario("pop3-vs-imap", seed=1).compare_retrieval().table()
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["profile", "device", "shows"]
    assert len(lines) == 2 + 4
    assert any(line.startswith("imap") and "phone.example.org" in line for line in lines)


def test_an_unknown_profile_is_refused_with_the_known_ones() -> None:
    sim = Simulation.from_scenario("pop3-download-delete", seed=1)
    with pytest.raises(ValueError, match="pop3-leave-on-server"):
        sim.compare_retrieval(("carrier-pigeon",))


def test_the_compare_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "pop3-vs-imap"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("pop3-download-delete", "laptop.example.org", "2"),
        ("pop3-download-delete", "phone.example.org", "0"),
        ("imap", "laptop.example.org", "2"),
        ("imap", "phone.example.org", "2"),
    ]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["compare", "pop3-vs-imap", "--profiles", "imap,carrier-pigeon"], "--profiles"),
        (["compare", "pop3-download-delete", "--profiles", "imap"], "imap = true on mx.example.org"),
        (["compare", "no-such-scenario"], "no-such-scenario"),
    ],
)
def test_the_compare_command_refuses_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's refusal of an argument
        code = int(str(exc.code))
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0]
