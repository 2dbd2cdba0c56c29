"""What a case is: one bug, its variants (versions of the code), its history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..model import Program

__all__ = ["Variant", "Case", "Fix", "Exercise", "leaves_out", "FIX_STATUSES"]


LEAVES_OUT = "What the model leaves out, and why: "


def leaves_out(doc: str) -> str:
    """The part of a case module's docstring after ``What the model leaves out, and why:``."""
    if LEAVES_OUT not in (doc or ""):
        raise ValueError(f"a case module's docstring must say {LEAVES_OUT.strip()!r}")
    return doc.split(LEAVES_OUT, 1)[1].strip()


FIX_STATUSES = ("merged", "proposed, not merged", "unverified")


@dataclass(frozen=True)
class Fix:
    """A commit or a posted patch: subject, id (12+ hex digits where known), link.

    ``status`` is ``"merged"`` (upstream, id and subject checked),
    ``"proposed, not merged"`` (posted to a list, never applied) or
    ``"unverified"`` (we could not check it; the text a student reads says so).
    ``note`` is one sentence a student should read beside it.
    """

    subject: str
    commit: str | None = None
    link: str | None = None
    status: str = "merged"
    note: str = ""

    def __post_init__(self):
        if self.status not in FIX_STATUSES:
            raise ValueError(f"Fix {self.subject!r}: status must be one of {FIX_STATUSES}, not {self.status!r}")
        if self.status == "merged" and not self.commit:
            raise ValueError(f"Fix {self.subject!r}: a merged fix needs its commit id")

    def to_json(self) -> dict:
        """The one JSON form of a fix (``cases --json``, the stepper's data)."""
        return {"subject": self.subject, "commit": self.commit, "link": self.link, "status": self.status,
                "note": self.note}


@dataclass(frozen=True)
class Exercise:
    """One self-check of a lesson, judged by the engine (:mod:`labkit.exercises`).

    ``kind`` is ``schedule`` (reach ``goal`` in ``variant``; ``about`` narrows
    it to a finding whose message contains those words; ``shortest`` asks for
    the fewest steps), ``verdict`` (predict what the explorer finds in
    ``variant``), ``fix`` (edit ``function`` of ``variant``: it must come out
    clean, run each ``must_hold`` step ``(text, lock)`` under its lock and
    keep each ``same_section`` pair ``(text_a, text_b, lock)`` in one critical
    section), or ``chain`` (the lock classes of the real ``report``'s chain).
    ``answer`` is one right answer (the solution shown on request),
    ``explain`` why; ``wrong`` lists plausible wrong answers, which the tests
    check are rejected.
    """

    number: int
    kind: str
    variant: str = "before"
    title: str = ""
    goal: str = "deadlock"
    about: str | None = None
    shortest: bool = False
    function: str = ""
    must_hold: tuple = ()
    same_section: tuple = ()
    report: str = ""
    answer: object = None
    explain: str = ""
    wrong: tuple = ()


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
    note: str = ""            # e.g. "hypothetical: Linux has no reader-preferring rw_semaphore"


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
    kernels: str = ""                    # which kernel versions the model describes
    exercises: tuple[Exercise, ...] = ()
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
            return None if f is None else f.to_json()
        return {"id": self.id, "title": self.title, "kind": self.kind, "summary": self.summary,
                "variants": [{"id": v.id, "title": v.title, "expect": v.expect, "note": v.note}
                             for v in self.variants],
                "kernels": self.kernels,
                "fix": fx(self.fix), "fixes": fx(self.fixes), "later": [fx(f) for f in self.later],
                "links": list(self.links), "date": self.date, "simplifications": self.simplifications}
