"""The ipywidgets front end: widgets for classroom notebooks (and Voila), thin over `Simulation` and the views.

    from simulator.notebook import Stepper, Compare, Console, Quiz
    Stepper("basic", seed=1)          # step, back, run, reset, play, inject a fault; live diagram

Only this package imports ipywidgets: `import simulator` stays free of it.
"""

from __future__ import annotations

from simulator.notebook.compare import Compare
from simulator.notebook.console import Console
from simulator.notebook.quiz import Quiz
from simulator.notebook.stepper import Stepper

__all__ = ["Compare", "Console", "Quiz", "Stepper"]
