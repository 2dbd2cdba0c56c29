"""The case registry: every model the lab ships, by case id and variant id.

>>> sorted(case_ids())[:3]
['abba', 'hmm_release', 'iommufd_access']
>>> program("abba", "after").cpu_names
('CPU0', 'CPU1')
"""

from __future__ import annotations

import importlib

from ..errors import UnknownName
from ..model import Program
from .base import Case, Fix, Variant

__all__ = ["Case", "Fix", "Variant", "get_case", "case_ids", "program", "all_cases", "KERNEL_CASES"]

# Modules that define CASE or CASES; kernel cases first, in the order of the lessons.
KERNEL_CASES = ("mm_iommu", "iommufd_access", "kvm_vfio", "s390_release", "hmm_release")
_MODULES = KERNEL_CASES + ("classic",)
_REGISTRY: dict[str, Case] | None = None


def _load() -> dict[str, Case]:
    global _REGISTRY
    if _REGISTRY is None:
        reg: dict[str, Case] = {}
        for mod in _MODULES:
            try:
                m = importlib.import_module(f"{__name__}.{mod}")
            except ModuleNotFoundError as e:
                if e.name == f"{__name__}.{mod}":
                    continue   # a case not written yet
                raise
            for c in getattr(m, "CASES", ()) or (m.CASE,):
                reg[c.id] = c
        _REGISTRY = reg
    return _REGISTRY


def all_cases() -> list[Case]:
    return list(_load().values())


def case_ids() -> list[str]:
    return list(_load())


def get_case(cid: str | Case) -> Case:
    if isinstance(cid, Case):
        return cid      # a case built elsewhere (labkit.fromsplat): the stepper export takes it as it is
    reg = _load()
    if cid not in reg:
        raise UnknownName(f"no case {cid!r} (cases: {', '.join(reg)})")
    return reg[cid]


def program(cid: str, vid: str) -> Program:
    """The checked program of one variant of one case (built once, cached)."""
    return get_case(cid).program(vid)
