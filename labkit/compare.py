"""The emulator's report for a case next to a real one from the wild.

They *agree* when they name the same lock classes in the same roles: the lock
being acquired, the lock already held, and the dependency chain (``-> #N``
entries, in order). Stacks, addresses and task names are shown but not
compared: a model has simpler stacks, and the task is whoever tripped it.
``python -m labkit compare mm_iommu --variant before data/splats/mm_iommu.txt``
prints both side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .lockdep import lockdep_run
from .splat import Splat, parse_file

__all__ = ["Comparison", "compare", "compare_reports"]

_FIELDS = (("kind", "kind"), ("acquiring_lock", "acquiring"), ("held_lock", "held"), ("chain", "chain"))


@dataclass
class Comparison:
    case: str
    variant: str
    file: str
    real: Splat
    model: object | None            # labkit.lockdep.Report, or None when lockdep stayed quiet
    rows: list = field(default_factory=list)   # (field, real value, model value, same?)

    @property
    def agree(self) -> bool:
        return self.model is not None and all(same for *_, same in self.rows)

    def text(self) -> str:
        lines = [f"real report: {self.file} ({self.real.task_comm})",
                 f"emulator:    {self.case}/{self.variant}"
                 + (f" ({self.model.task})" if self.model is not None else " (no report)"), ""]
        w = max(len(f) for f, *_ in self.rows) if self.rows else 10
        for name, real, model, same in self.rows:
            mark = "same" if same else "DIFFERENT"
            lines.append(f"{name:<{w}}  {mark}")
            lines.append(f"{'':<{w}}    real:  {_fmt(real)}")
            lines.append(f"{'':<{w}}    model: {_fmt(model)}")
        lines.append("")
        lines.append("AGREE: the model and the kernel name the same classes in the same chain"
                     if self.agree else "DISAGREE: see the fields marked DIFFERENT")
        return "\n".join(lines)


def _fmt(v) -> str:
    if isinstance(v, (tuple, list)):
        return " -> ".join(v) if v else "(none)"
    return str(v)


def compare(case_id: str, variant: str, path) -> Comparison:
    """Parse ``path`` (a real report) and compare it with the emulator's first report."""
    real = parse_file(path)
    ld = lockdep_run(case_id, variant)
    return compare_reports(real, ld.reports[0] if ld.reports else None, case_id, variant, path)


def compare_reports(real: Splat, model, case_id: str, variant: str, path) -> Comparison:
    """Compare a parsed real report with an emulator report (``None``: lockdep stayed quiet).

    For a model that is not a registered case (:mod:`labkit.fromsplat`)."""
    rows = []
    for real_key, model_key in _FIELDS:
        rv = getattr(real, real_key)
        mv = getattr(model, model_key) if model is not None else None
        if isinstance(rv, (list, tuple)):
            rv = tuple(rv)
            mv = tuple(mv) if mv is not None else ()
            # A truncated real report may lack the chain; then it cannot disagree.
            same = (not rv) or rv == mv
        else:
            same = rv == mv
        rows.append((real_key, rv, mv, same))
    return Comparison(case_id, variant, str(path), real, model, rows)
