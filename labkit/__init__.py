"""labkit: a small model checker, lockdep emulator and stepper for kernel locking bugs.

Layers import only downward: model → semantics → trace (replay) → explore →
lockdep → render → widgets. Notebooks use the one-call helpers re-exported here.
"""

from .errors import LabError, ModelError, ScheduleError, UnknownName
from .cases import case_ids, get_case, program
from .trace import Trace, replay
from .explore import Exploration, explore

__all__ = ["LabError", "ModelError", "ScheduleError", "UnknownName", "case_ids", "get_case", "program",
           "Trace", "replay", "Exploration", "explore"]
