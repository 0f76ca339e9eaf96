"""How the simulated world scales: messages through the relay world, and the cost of back().

Prints, for each volume, the wall time, the trace length and the peak memory of
a run that keeps the whole trace, each size in a fresh process so that peak RSS
is its own. Messages arrive 20 per simulated second from alice's laptop, go
through smtp.example.com (DNS, queue) to mx.example.org and into bob's mailbox.
Then the time of one back() on a run of 5,000 events.

    python bench/bench_world.py            # 10,000 and 100,000 messages
    python bench/bench_world.py 1000 10000 # chosen volumes
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time

from simulator.sim import Simulation

RATE = 20.0  # messages per simulated second


def volume(n: int) -> None:
    sim = Simulation.from_scenario("basic", seed=1)
    for i in range(n):
        sim.submit("alice@example.com", ["bob@example.org"], b"Subject: %d\r\n\r\nhello\r\n" % i, at=i / RATE)
    start = time.perf_counter()
    steps = sim.run()
    elapsed = time.perf_counter() - start
    delivered = len(sim.mailbox("bob@example.org"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{n:>8} messages  {elapsed:8.1f} s  {steps:>9} events  {peak:8.0f} MB peak  {delivered} delivered")


def back_cost(trials: int = 5) -> None:
    """One back() after 5,000 steps of a 400-message run, in fresh runs: where checkpoints fall
    depends on how long steps took on the wall clock, so the cost varies from run to run."""
    costs = []
    for _ in range(trials):
        sim = Simulation.from_scenario("basic", seed=1)
        for i in range(400):
            sim.submit("alice@example.com", ["bob@example.org"], b"Subject: %d\r\n\r\nhello\r\n" % i, at=i / RATE)
        for _ in range(5000):
            sim.step()
        start = time.perf_counter()
        sim.back()
        costs.append((time.perf_counter() - start) * 1000)
    costs.sort()
    print(f"back() after 5,000 events: median {costs[len(costs) // 2]:.1f} ms, worst {costs[-1]:.1f} ms of {trials}")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        volume(int(sys.argv[2]))
        return
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000]
    for n in sizes:
        subprocess.run([sys.executable, __file__, "--one", str(n)], check=True)
    back_cost()


if __name__ == "__main__":
    main()
