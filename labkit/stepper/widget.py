"""The stepper as a notebook widget (anywidget): ``stepper("mm_iommu")``.

The whole case is sent to the browser once (``data``); stepping happens
there, with no round trip to the kernel, so it stays fast and keeps working
in Voila or after the kernel is gone. ``variant``, ``schedule`` and
``position`` are synced both ways: a notebook can read what the learner did
(self-check exercises) and move the view by setting them.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import anywidget
import traitlets

from ..cases import get_case
from ..trace import Trace, replay
from .export import DEFAULT_MAX_STATES, case_json

__all__ = ["Stepper", "stepper"]

_HERE = Path(__file__).parent
ESM = (_HERE / "stepper.js").read_text(encoding="utf-8")
CSS = (_HERE / "stepper.css").read_text(encoding="utf-8")


@lru_cache(maxsize=16)
def _cached_json(case_id: str, max_states: int) -> dict:
    return case_json(case_id, max_states=max_states)


class Stepper(anywidget.AnyWidget):
    """A browser stepper for one case; the learner is the scheduler.

    ``schedule`` is the learner's schedule (``"CPU0 CPU1 ..."``, including
    steps undone with Back), ``position`` how many of its steps are shown.
    """

    _esm = ESM
    _css = CSS
    data = traitlets.Dict().tag(sync=True)
    variant = traitlets.Unicode("").tag(sync=True)
    schedule = traitlets.Unicode("").tag(sync=True)
    position = traitlets.Int(0).tag(sync=True)

    @property
    def case_id(self) -> str:
        return self.data["case"]["id"]

    @property
    def shown(self) -> str:
        """The schedule of the steps on screen (``schedule`` up to ``position``)."""
        return " ".join(self.schedule.split()[: self.position])

    def trace(self) -> Trace:
        """The engine's replay of what the learner sees, for self-check cells."""
        return replay(get_case(self.case_id).program(self.variant), self.shown)

    def goto(self, schedule: str, position: int | None = None, variant: str | None = None) -> None:
        """Move the view: replay ``schedule`` (checked here first) and show ``position`` steps."""
        vid = variant or self.variant
        steps = replay(get_case(self.case_id).program(vid), schedule).schedule
        n = len(steps.split())
        with self.hold_sync():
            self.variant = vid
            self.schedule = steps
            self.position = n if position is None else max(0, min(n, position))


def stepper(case_id: str, variant: str = "before", schedule: str = "",
            max_states: int = DEFAULT_MAX_STATES) -> Stepper:
    """A stepper for a case, starting on ``variant`` after ``schedule``.

    A case without a ``before`` variant starts on its first one. The schedule
    is checked with :func:`labkit.trace.replay` (``CPU0*`` runs a cpu as far
    as it goes), so a bad one fails here with a message naming the step.
    """
    case = get_case(case_id)
    if variant == "before" and "before" not in case.variant_ids:
        variant = case.variant_ids[0]
    case.variant(variant)      # unknown variant: an error listing the known ones
    steps = replay(case.program(variant), schedule).schedule if schedule else ""
    return Stepper(data=_cached_json(case_id, max_states), variant=variant, schedule=steps,
                   position=len(steps.split()))
