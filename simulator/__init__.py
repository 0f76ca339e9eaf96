"""smtpsim: an interactive simulator of how email moves, speaking real SMTP."""

from __future__ import annotations

from simulator import faults
from simulator.sim import Simulation

__all__ = ["Simulation", "faults"]
__version__ = "0.1.0"
