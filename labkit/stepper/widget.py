"""The stepper as a notebook widget (anywidget): ``stepper("mm_iommu")``.

The case is sent to the browser once (``data``); stepping happens there,
with no round trip to the kernel, so it stays fast and keeps working in
Voila or after the kernel is gone. ``variant``, ``schedule`` and
``position`` are synced both ways: a notebook can read what the learner did
(self-check exercises) and move the view by setting them.

A variant too large to ship whole (more than ``max_states`` states, e.g.
philosophers ``n6``) costs seconds to explore: it is built at once only when
it is the one shown first; the others of that size are built when the
learner opens them (the page asks the kernel, and says it is waiting).
"""

from __future__ import annotations

from functools import lru_cache

import anywidget
import traitlets

from ..cases import get_case
from ..trace import Trace, replay
from .bundle import front_end_css, front_end_js
from .export import DEFAULT_MAX_STATES, case_json, variant_json

__all__ = ["Stepper", "stepper"]

ESM = front_end_js()     # core.js + stepper.js as one module (labkit/stepper/bundle.py)
CSS = front_end_css()


@lru_cache(maxsize=16)
def _cached_json(case_id: str, first: str, max_states: int) -> dict:
    return case_json(case_id, max_states=max_states, lazy=first)


@lru_cache(maxsize=16)
def _cached_variant(case_id: str, vid: str, max_states: int) -> dict:
    return variant_json(case_id, vid, max_states=max_states)


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

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.on_msg(self._on_msg)

    def _on_msg(self, _widget, content, _buffers) -> None:
        """The page opened a variant it has no data for: build it and send it."""
        if not isinstance(content, dict) or content.get("type") != "want":
            return
        vid = str(content.get("variant", ""))
        try:
            out = _cached_variant(self.case_id, vid, int(self.data.get("max_states", DEFAULT_MAX_STATES)))
        except Exception as e:      # noqa: BLE001 - the page shows the message; nothing may kill the comm
            self.send({"type": "variant_error", "id": vid, "message": str(e).splitlines()[0] if str(e) else type(e).__name__})
            return
        self.send({"type": "variant", "id": vid, "texts": out["texts"], "variant": out["variant"]})

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
    return Stepper(data=_cached_json(case_id, variant, max_states), variant=variant, schedule=steps,
                   position=len(steps.split()))
