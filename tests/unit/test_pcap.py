"""The pcap view: frames, checksums, TCP sequence arithmetic and DNS datagrams, read back with a reader of our own.

The reader here shares no code with simulator.views.pcap, so that a mistake in the
writer's checksum or header layout cannot hide behind the same mistake in the test.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import pytest

from simulator.mail.headers import EPOCH
from simulator.nodes import dns_server
from simulator.protocol.tls import parse_client_hello
from simulator.scenarios import load
from simulator.sim import Simulation
from simulator.trace import TraceEvent
from simulator.views import pcap
from simulator.views.pcap import export_pcap, host_addresses, keylog_text, pcap_bytes, write_keylog
from tests.unit.test_tls_world import with_mx

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
ADDRESSES = {"client.example": "192.0.2.1", "server.example": "192.0.2.2"}


@dataclass(frozen=True)
class Packet:
    time: float  # seconds since the epoch of the file
    src: str
    dst: str
    protocol: int
    sport: int
    dport: int
    seq: int
    ack: int
    flags: int
    options: bytes
    payload: bytes
    frame: bytes


def ones_complement_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
        total = (total & 0xFFFF) + (total >> 16)
    return total


def read(data: bytes) -> list[Packet]:
    """Parse a pcap file, checking every header and checksum on the way."""
    magic, major, minor, _zone, _sigfigs, snaplen, linktype = struct.unpack_from("<IHHiIII", data)
    assert (magic, major, minor, linktype) == (0xA1B2C3D4, 2, 4, 1)
    assert snaplen >= 65535
    packets, pos = [], 24
    while pos < len(data):
        seconds, micros, captured, length = struct.unpack_from("<IIII", data, pos)
        assert captured == length and micros < 1_000_000
        frame = data[pos + 16 : pos + 16 + captured]
        pos += 16 + captured
        assert frame[12:14] == b"\x08\x00"  # IPv4
        ip = frame[14:]
        assert ip[0] == 0x45 and struct.unpack_from("!H", ip, 2)[0] == len(ip)
        assert ones_complement_sum(ip[:20]) == 0xFFFF, "IPv4 header checksum"
        src, dst = ".".join(map(str, ip[12:16])), ".".join(map(str, ip[16:20]))
        assert frame[0:6] == b"\x02\x00" + ip[16:20] and frame[6:12] == b"\x02\x00" + ip[12:16]
        protocol, body = ip[9], ip[20:]
        pseudo = ip[12:20] + struct.pack("!BBH", 0, protocol, len(body))
        assert ones_complement_sum(pseudo + body) == 0xFFFF, f"{protocol} checksum"
        if protocol == 6:
            sport, dport, seq, ack, offset, flags = struct.unpack_from("!HHIIBB", body)
            header = (offset >> 4) * 4
            packets.append(
                Packet(
                    seconds + micros / 1e6,
                    src,
                    dst,
                    6,
                    sport,
                    dport,
                    seq,
                    ack,
                    flags,
                    body[20:header],
                    body[header:],
                    frame,
                )
            )
        else:
            assert protocol == 17
            sport, dport, length, _ = struct.unpack_from("!HHHH", body)
            assert length == len(body)
            packets.append(Packet(seconds + micros / 1e6, src, dst, 17, sport, dport, 0, 0, 0, b"", body[8:], frame))
    return packets


def finished(scenario: str, seed: int = 1, *, keylog: bool = False) -> Simulation:
    sim = Simulation.from_scenario(scenario, seed, keylog=keylog)
    sim.run()
    return sim


def capture(sim: Simulation) -> list[Packet]:
    return read(pcap_bytes(sim.trace, host_addresses(sim.spec.host)))


def event(
    seq: int, time: float, kind: str, src: str, dst: str, data: bytes = b"", port: int | None = None
) -> TraceEvent:
    return TraceEvent(seq, time, kind, src, dst, 1, "SMTP", data, kind, "", "", port=port)


def conversation(*writes: tuple[float, str, bytes], closes_at: float) -> list[TraceEvent]:
    """One connection from client.example to server.example port 25: the writes, then the close."""
    events = [event(0, 0.0, "connect", "client.example", "server.example", port=25)]
    for t, who, data in writes:
        src, dst = ("client.example", "server.example") if who == "client" else ("server.example", "client.example")
        events.append(event(len(events), t, "send", src, dst, data))
    events.append(event(len(events), closes_at, "close", "client.example", "server.example"))
    return events


def streams(packets: list[Packet]) -> dict[tuple[str, int, str, int], bytes]:
    """What each direction of each TCP connection carried, in order."""
    out: dict[tuple[str, int, str, int], bytes] = {}
    for p in packets:
        if p.protocol == 6 and p.payload:
            key = (p.src, p.sport, p.dst, p.dport)
            out[key] = out.get(key, b"") + p.payload
    return out


def test_every_frame_of_basic_is_well_formed_and_stamped_from_the_world_epoch() -> None:
    sim = finished("basic")
    packets = capture(sim)  # read() checks the headers and every checksum
    assert len(packets) > len([e for e in sim.trace if e.kind == "send"])
    first_write = next(e for e in sim.trace if e.kind == "connect")
    assert packets[0].time == pytest.approx(EPOCH.timestamp() + first_write.time, abs=1e-6)
    assert [p.time for p in packets] == sorted(p.time for p in packets)


def test_each_connection_opens_with_the_handshake_on_its_real_port_and_ends_with_fins() -> None:
    sim = finished("basic")
    packets = [p for p in capture(sim) if p.protocol == 6]
    hosts = host_addresses(sim.spec.host)
    for connect in (e for e in sim.trace if e.kind == "connect"):
        client, server = hosts[connect.src], hosts[connect.dst]
        conn = [p for p in packets if {p.src, p.dst} == {client, server} and connect.port in (p.sport, p.dport)]
        syn, syn_ack, ack = conn[:3]
        assert (syn.src, syn.dport, syn.flags) == (client, connect.port, SYN)
        assert 49152 <= syn.sport < 65536
        assert syn.options == struct.pack("!BBH", 2, 4, 1460) == syn_ack.options  # MSS
        assert (syn_ack.src, syn_ack.flags, syn_ack.ack) == (server, SYN | ACK, syn.seq + 1)
        assert (ack.flags, ack.seq, ack.ack) == (ACK, syn.seq + 1, syn_ack.seq + 1)
        fin1, fin2, last = conn[-3:]
        assert fin1.src == server  # it spoke last (221 Bye) and closes first
        assert (fin1.flags, fin2.flags, last.flags) == (FIN | ACK, FIN | ACK, ACK)
        assert fin2.ack == fin1.seq + 1 and (last.seq, last.ack) == (fin1.seq + 1, fin2.seq + 1)
        assert connect.port in (587, 25)


def test_the_reassembled_streams_are_the_bytes_of_the_trace() -> None:
    sim = finished("pop3-vs-imap")
    carried = streams(capture(sim))
    hosts = host_addresses(sim.spec.host)
    expected: dict[tuple[str, str, int | None], bytes] = {}
    for e in sim.trace:
        if e.kind == "send" and e.conn is not None:
            key = (hosts[e.src], hosts[e.dst], e.conn)
            expected[key] = expected.get(key, b"") + e.data
    assert sorted(carried.values()) == sorted(expected.values())
    assert len(carried) == len(expected) == 2 * len([e for e in sim.trace if e.kind == "connect"])


def test_a_long_write_is_split_at_the_mss_with_sequence_numbers_and_acks_that_add_up() -> None:
    body = bytes(range(256)) * 20  # 5120 octets: 1460 + 1460 + 1460 + 740
    events = conversation(
        (0.01, "server", b"220 hi\r\n"), (0.02, "client", body), (0.03, "server", b"250 ok\r\n"), closes_at=0.04
    )
    packets = read(pcap_bytes(events, ADDRESSES))
    client_isn, server_isn = packets[0].seq, packets[1].seq
    data = [p for p in packets if p.src == "192.0.2.1" and p.payload]
    assert [len(p.payload) for p in data] == [1460, 1460, 1460, 740]
    assert b"".join(p.payload for p in data) == body
    assert [p.seq - client_isn for p in data] == [1, 1461, 2921, 4381]
    assert all(p.ack == server_isn + 1 + 8 for p in data)  # everything the server said, its greeting
    assert [bool(p.flags & PSH) for p in data] == [False, False, False, True]
    # The server acknowledges every second full segment; its reply carries the last ACK.
    server_after = [p for p in packets if p.src == "192.0.2.2" and p.seq - server_isn > 1]
    assert [(p.ack - client_isn, len(p.payload)) for p in server_after[:2]] == [(2921, 0), (5121, 8)]
    assert packets.index(server_after[0]) == packets.index(data[1]) + 1


def test_a_write_answered_late_is_acknowledged_at_once_and_one_answered_soon_is_not() -> None:
    events = conversation(
        (0.0, "server", b"220 hi\r\n"), (0.01, "client", b"NOOP\r\n"), (5.0, "server", b"250 ok\r\n"), closes_at=5.01
    )
    packets = read(pcap_bytes(events, ADDRESSES))
    after_greeting = packets[4]  # SYN, SYN-ACK, ACK, greeting: the client's NOOP carries the ACK for it
    assert after_greeting.payload == b"NOOP\r\n"
    pure_ack = packets[5]
    assert (pure_ack.src, pure_ack.flags, pure_ack.payload) == ("192.0.2.2", ACK, b"")
    assert pure_ack.ack == after_greeting.seq + 6


def test_dns_goes_in_udp_between_the_resolver_port_and_53_holding_the_trace_bytes() -> None:
    assert pcap.RESOLVER_PORT == dns_server.RESOLVER_PORT
    sim = finished("basic")
    udp = [p for p in capture(sim) if p.protocol == 17]
    dns = [e for e in sim.trace if e.protocol == "DNS" and e.kind == "send"]
    assert [p.payload for p in udp] == [e.data for e in dns] and len(dns) == 4
    assert [(p.sport, p.dport) for p in udp] == [(1053, 53), (53, 1053)] * 2


def test_a_refused_connection_is_syn_then_rst_and_a_reset_one_ends_in_rst() -> None:
    refused = finished("mx-fallback")
    event = next(e for e in refused.trace if e.kind == "refused")
    mx1 = host_addresses(refused.spec.host)[event.src]
    syn, rst = [p for p in capture(refused) if mx1 in (p.src, p.dst)]
    assert (syn.flags, syn.dport) == (SYN, event.port) and event.port == 25
    assert (rst.src, rst.flags, rst.seq, rst.ack) == (mx1, RST | ACK, 0, syn.seq + 1)
    broken = finished("lost-after-dot")
    reset = next(e for e in broken.trace if e.kind == "reset")
    rst_packets = [p for p in capture(broken) if p.flags & RST]
    assert [p.src for p in rst_packets] == [host_addresses(broken.spec.host)[reset.src]]


def test_the_same_trace_gives_the_same_bytes_and_another_seed_other_bytes() -> None:
    addresses = host_addresses(load("basic").host)
    one, two = pcap_bytes(finished("basic").trace, addresses), pcap_bytes(finished("basic").trace, addresses)
    assert one == two
    assert pcap_bytes(finished("basic", seed=2).trace, addresses) != one  # DNS query ids come from the seed


def test_a_slice_of_a_trace_opens_the_connections_it_meets_first_in_a_write() -> None:
    sim = finished("basic")
    tail = sim.trace[20:]  # from the second connection's greeting on, after its connect
    packets = read(pcap_bytes(tail, host_addresses(sim.spec.host)))
    syn = packets[0]
    assert syn.flags == SYN and syn.dport == 25 and syn.src == "192.0.2.25"


def test_a_host_without_an_address_is_a_clear_error() -> None:
    events = conversation((0.0, "server", b"220 hi\r\n"), closes_at=1.0)
    with pytest.raises(ValueError, match=r"no IPv4 address for host 'server\.example'"):
        pcap_bytes(events, {"client.example": "192.0.2.1"})
    with pytest.raises(ValueError, match="not an IPv4 address"):
        pcap_bytes(events, {**ADDRESSES, "server.example": "2001:db8::1"})


def test_the_world_keeps_tls_keys_only_when_asked_and_they_match_the_client_hellos(tmp_path: Path) -> None:
    assert finished("starttls-submission").tls_keylog is None
    sim = finished("starttls-submission", keylog=True)
    lines = sim.tls_keylog
    assert lines is not None
    hellos = [e for e in sim.trace if e.summary.startswith("[TLS] ClientHello")]
    randoms = []
    for e in hellos:
        hello = parse_client_hello(e.data)
        assert hello is not None
        randoms.append(hello.random.hex())
    assert len(randoms) == 2
    labels = {
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET",
    }  # fmt: skip
    for random in randoms:  # TLS 1.3: five secrets per connection (RFC 8446 §7.1), named by client random
        assert {line.split()[0] for line in lines if line.split()[1] == random} == labels
    assert {line.split()[1] for line in lines} == set(randoms)
    export_pcap(sim, tmp_path / "s.pcap", tmp_path / "s.keys")
    assert (tmp_path / "s.keys").read_text().splitlines() == lines
    assert (tmp_path / "s.pcap").read_bytes() == pcap_bytes(sim.trace, host_addresses(sim.spec.host))


def test_stepping_back_over_tls_keeps_the_keys_of_the_connections_in_the_trace() -> None:
    sim = finished("starttls-submission", keylog=True)
    for _ in range(30):
        sim.back()
    sim.run()
    lines = sim.tls_keylog
    assert lines is not None
    randoms = set()
    for e in sim.trace:
        hello = parse_client_hello(e.data) if e.summary.startswith("[TLS] ClientHello") else None
        if hello is not None:
            randoms.add(hello.random.hex())
    # Replay made new handshakes with new keys: the key log follows the trace it belongs to.
    assert randoms <= {line.split()[1] for line in lines}


def test_a_failed_handshake_leaves_its_handshake_secrets() -> None:
    sim = Simulation("starttls-submission", 1, with_mx("expired", "required"), keylog=True)
    sim.run(until=60)
    failed = next(e for e in sim.trace if e.kind == "tls" and "failed" in e.summary)
    hello = next(e for e in sim.trace if e.conn == failed.conn and e.summary.startswith("[TLS] ClientHello"))
    parsed = parse_client_hello(hello.data)
    assert parsed is not None and sim.tls_keylog is not None
    mine = {line.split()[0] for line in sim.tls_keylog if line.split()[1] == parsed.random.hex()}
    # The server's handshake secret decrypts its flight, the refused certificate among it; the
    # client's own was never used: it refused before writing anything encrypted (a clear-text alert).
    assert mine == {"SERVER_HANDSHAKE_TRAFFIC_SECRET"}


def test_a_key_log_is_each_line_once_and_needs_a_simulation_that_kept_keys(tmp_path: Path) -> None:
    assert keylog_text(["A 01 02", "B 01 03", "A 01 02", ""]) == "A 01 02\nB 01 03\n"
    write_keylog(["A 01 02"], tmp_path / "k")
    assert (tmp_path / "k").read_text() == "A 01 02\n"
    with pytest.raises(ValueError, match="keylog=True"):
        export_pcap(finished("basic"), tmp_path / "b.pcap", tmp_path / "b.keys")
    assert not (tmp_path / "b.pcap").exists()
    export_pcap(finished("basic"), tmp_path / "b.pcap")
    assert read((tmp_path / "b.pcap").read_bytes())


def test_a_connect_event_without_a_port_takes_the_protocols_standard_one() -> None:
    events = conversation((0.0, "server", b"220 hi\r\n"), closes_at=1.0)
    events[0] = event(0, 0.0, "connect", "client.example", "server.example", port=None)
    syn = read(pcap_bytes(events, ADDRESSES))[0]
    assert (syn.flags, syn.dport) == (SYN, 25)
