"""Errors a learner or lecturer can act on.

Every error labkit raises on bad input derives from :class:`LabError` and says
*what* is wrong and *where* (file and line of the model, cpu, step). The CLI
prints ``str(error)`` on one line and exits with status 2, so nothing deep
inside ever reaches the user as a traceback.
"""

__all__ = ["LabError", "ModelError", "ScheduleError", "UnknownName"]


class LabError(Exception):
    """Base class: bad input to labkit (a model, a schedule, a name, a file)."""


class ModelError(LabError):
    """A model is malformed, or does something no kernel code may do.

    Raised while building a model (unknown lock, label, function) or while
    running it (allocating an object twice, using one before it is allocated).
    The message names the model source line, and when running, the cpu, the
    step number and the schedule that got there.
    """


class ScheduleError(LabError):
    """A schedule names an unknown cpu, or a cpu that cannot take a step."""


class UnknownName(LabError):
    """An unknown case or variant id."""
