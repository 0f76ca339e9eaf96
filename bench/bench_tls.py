"""What TLS costs in the simulated world: a STARTTLS handshake, and a world build with its certificates.

Prints, measured in the same run:
  * the build of the `starttls-submission` world with fresh certificates (CA and one
    certificate per host), then with the certificates already made, beside `basic`;
  * the wall time of one STARTTLS handshake in the world: the same message submitted
    in `starttls-submission` and in `basic`, N times each, the difference per message
    divided by the handshakes it took (submission, then relay to the MX).
"""

from __future__ import annotations

import statistics
import time

from simulator.net.certificates import clear_memory_cache
from simulator.sim import Simulation

MESSAGES = 100
RATE = 20.0  # messages per simulated second


def _build(name: str, fresh: bool) -> float:
    if fresh:
        clear_memory_cache()
    start = time.perf_counter()
    Simulation.from_scenario(name, seed=1)
    return time.perf_counter() - start


def _per_message(name: str) -> tuple[float, int]:
    """Seconds per message through the world, and the TLS handshakes seen per message."""
    sim = Simulation.from_scenario(name, seed=1)
    for i in range(MESSAGES):
        sim.submit("alice@example.com", ["bob@example.org"], b"Subject: %d\r\n\r\nhello\r\n" % i, at=i / RATE)
    start = time.perf_counter()
    sim.run()
    elapsed = time.perf_counter() - start
    handshakes = sum(1 for e in sim.trace if e.kind == "tls")
    return elapsed / (MESSAGES + 1), handshakes // (MESSAGES + 1)


def main() -> None:
    fresh = statistics.median(_build("starttls-submission", fresh=True) for _ in range(5))
    cached = statistics.median(_build("starttls-submission", fresh=False) for _ in range(5))
    plain = statistics.median(_build("basic", fresh=False) for _ in range(5))
    print(f"world build, new certificates:     {fresh * 1000:7.1f} ms")
    print(f"world build, certificates cached:  {cached * 1000:7.1f} ms")
    print(f"world build without TLS (basic):   {plain * 1000:7.1f} ms")
    with_tls, handshakes = min(_per_message("starttls-submission") for _ in range(3))
    without, _ = min(_per_message("basic") for _ in range(3))
    per_handshake = (with_tls - without) / max(handshakes, 1)
    print(f"per message with STARTTLS:         {with_tls * 1000:7.2f} ms ({handshakes} handshakes)")
    print(f"per message without:               {without * 1000:7.2f} ms")
    print(f"one STARTTLS handshake in the world: {per_handshake * 1000:5.2f} ms (with the encrypted dialogue after it)")


if __name__ == "__main__":
    main()
