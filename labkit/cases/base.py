"""What a case is: one bug, its variants (versions of the code), its history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..model import Program

__all__ = ["Variant", "Case", "Fix", "leaves_out"]


LEAVES_OUT = "What the model leaves out, and why: "


def leaves_out(doc: str) -> str:
    """The part of a case module's docstring after ``What the model leaves out, and why:``."""
    if LEAVES_OUT not in (doc or ""):
        raise ValueError(f"a case module's docstring must say {LEAVES_OUT.strip()!r}")
    return doc.split(LEAVES_OUT, 1)[1].strip()


@dataclass(frozen=True)
class Fix:
    """An upstream commit: subject, id (12+ hex digits where known), links."""

    subject: str
    commit: str | None = None
    link: str | None = None


@dataclass(frozen=True)
class Variant:
    """One version of the code. ``build`` returns its checked :class:`Program`.

    ``lockdep`` lists the schedules that the lockdep emulator replays, in
    order, each from a fresh start but into one lockdep (which, like the
    kernel's, remembers lock *classes* across runs). Empty means one serial
    run, each cpu in turn running as far as it can.
    """

    id: str
    title: str
    build: Callable[[], Program]
    lockdep: tuple[str, ...] = ()
    expect: str = ""          # what the explorer finds, in words (shown to learners)


@dataclass(frozen=True)
class Case:
    id: str
    title: str
    summary: str
    variants: tuple[Variant, ...]
    kind: str = "kernel"                 # "kernel" or "classic"
    fix: Fix | None = None               # the upstream fix
    fixes: Fix | None = None             # the commit named by its Fixes: tag
    later: tuple[Fix, ...] = ()          # later developments (follow-up fixes)
    links: tuple[str, ...] = ()          # list archive links
    date: str = ""
    simplifications: str = ""            # what the model leaves out, and why
    _cache: dict = field(default_factory=dict, compare=False, repr=False, hash=False)

    def variant(self, vid: str) -> Variant:
        for v in self.variants:
            if v.id == vid:
                return v
        from ..errors import UnknownName
        raise UnknownName(f"case {self.id!r} has no variant {vid!r} (variants: "
                          f"{', '.join(v.id for v in self.variants)})")

    def program(self, vid: str) -> Program:
        if vid not in self._cache:
            self._cache[vid] = self.variant(vid).build()
        return self._cache[vid]

    @property
    def variant_ids(self) -> tuple[str, ...]:
        return tuple(v.id for v in self.variants)

    def to_json(self) -> dict:
        def fx(f):
            return None if f is None else {"subject": f.subject, "commit": f.commit, "link": f.link}
        return {"id": self.id, "title": self.title, "kind": self.kind, "summary": self.summary,
                "variants": [{"id": v.id, "title": v.title, "expect": v.expect} for v in self.variants],
                "fix": fx(self.fix), "fixes": fx(self.fixes), "later": [fx(f) for f in self.later],
                "links": list(self.links), "date": self.date}
