"""Read real lockdep reports ("splats") as they are found in the wild.

A lockdep splat is rarely seen as the kernel printed it: it arrives through
``dmesg`` (timestamps, log levels, printk caller ids), syslog or the journal
(``Jan  1 00:00:00 host kernel:``), a mailing list (``>`` quoting, lines
wrapped by the mail client, CRLF, non-breaking spaces from web archives) and
is surrounded by prose. :func:`parse` finds the first report in such text and
returns a :class:`Splat` with the facts a learner needs: what kind of bug,
which task, which locks, the dependency chain, the unsafe scenario table and
the locks held.

Seven kinds are recognised, one per lockdep print routine:

====================  ==============================================================
kind                  title line
====================  ==============================================================
circular              WARNING: possible circular locking dependency detected
recursive             WARNING: possible recursive locking detected
inconsistent          WARNING: inconsistent lock state
irq_inversion         WARNING: possible irq lock inversion dependency detected
irq_safe_unsafe       WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected
                      (or the SOFTIRQ variant, or the -READ forms)
bad_unlock_balance    WARNING: bad unlock balance detected!
invalid_wait_context  [ BUG: Invalid wait context ]
====================  ==============================================================

Old kernels wrote ``[ INFO: <title> ]`` (a bad unlock: ``[ BUG: <title> ]``)
where new ones write ``WARNING: <title>``, and the wait-context report still
writes ``[ BUG: <title> ]``; all are accepted. Logs that escape control
characters are read back: rsyslog writes the newline inside a kernel record
as ``#012`` (a tab as ``#011``), ``/dev/kmsg`` writes ``\\x0a``; colour codes,
NULs and undecodable bytes are dropped. A lock-class name the kernel printed
in pieces on two lines is joined without a blank.

Any text gives either a :class:`Splat` or a :class:`SplatError`, in time and
memory linear in the size of the text: the text is searched for report titles
with ``str``/``re`` primitives, and only the lines of a report (at most
``_MAX_REPORT_LINES``) are ever split and examined. A report ends where
lockdep's own output ends: after the held-locks list, at ``stack backtrace:``,
at the next report's title, or at the first line lockdep would not print
there. :func:`read_report` reads a file (regular files and ``-`` for stdin
only, at most :data:`MAX_BYTES`).

>>> report = '''
... [  12.000001] ============================================
... [  12.000002] WARNING: possible recursive locking detected
... [  12.000003] 6.6.0-rc5 #775 Not tainted
... [  12.000004] --------------------------------------------
... [  12.000005] kworker/1:1/32 is trying to acquire lock:
... [  12.000006] ffff888005ac83f8 (sb_writers#5){.+.+}-{0:0}, at:
... ksmbd_vfs_mkdir+0xe1/0x410
... '''
>>> s = parse(report)
>>> s.kind, s.task_comm, s.acquiring_lock, s.kernel
('recursive', 'kworker/1:1/32', 'sb_writers#5', '6.6.0-rc5 #775 Not tainted')
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections import deque
from dataclasses import dataclass

from .errors import LabError

__all__ = ["SplatError", "Splat", "KINDS", "MAX_BYTES", "parse", "parse_all", "parse_file", "read_report"]

KINDS = ("circular", "recursive", "inconsistent", "irq_inversion", "irq_safe_unsafe",
         "bad_unlock_balance", "invalid_wait_context")

#: The most a file (or stdin) may hold: 64 MiB, twice the largest kernel log
#: buffer (``CONFIG_LOG_BUF_SHIFT`` tops out at 32 MiB).
MAX_BYTES = 64 << 20


class SplatError(LabError, ValueError):
    """No lockdep report could be read from the text.

    The message names the source (a file path, or ``<string>``) and, when a
    report was found but is unusable, the line where it starts.

    >>> parse("hello", source="notes.txt")
    Traceback (most recent call last):
    ...
    labkit.splat.SplatError: no lockdep report found in notes.txt
    """


@dataclass(frozen=True)
class Splat:
    """One lockdep report, reduced to the facts that identify the bug.

    Attributes
    ----------
    kind : str
        One of :data:`KINDS`.
    title : str
        The title as printed after ``WARNING:``, e.g.
        ``"possible circular locking dependency detected"``.
    task_comm : str
        The task as printed, ``comm/pid`` (e.g. ``"CPU 0/KVM/1173"``), without
        the ``[HC0[0]:SC0[0]:HE1:SE1]`` irq-state block some kinds add.
    acquiring_lock : str or None
        Lock class the task was acquiring (``is trying to acquire``, *invalid_wait_context*:
        ``is trying to lock``), or for *inconsistent* the lock it ``takes``, for
        *irq_inversion* the lock that ``just changed the state``, for
        *bad_unlock_balance* the lock it ``is trying to release``.
    held_lock : str or None
        Lock class the task already holds (``but task is already holding
        lock:`` / ``and this task is already holding:``); ``None`` for kinds
        that print no such line (*inconsistent*, *irq_inversion*).
    chain : tuple of str
        Classes of the ``-> #N (class){...}:`` entries, in printed order.
    chain_stacks : tuple of tuple of str
        For each chain entry, the function names of its stack, with offsets,
        source locations and module names stripped.
    chain_exists_of : tuple of str
        Classes of the ``Chain exists of:`` line, ``()`` if absent.
    scenario : tuple of (str, str)
        Rows of the unsafe-scenario table as ``(cpu, op)``, op without the
        trailing ``;``, e.g. ``("CPU1", "lock(&kvm->lock)")`` or
        ``("CPU0", "<Interrupt>")``.
    locks_held_count : int or None
        ``N`` of ``N locks held by ...`` (0 for ``no locks held``), ``None``
        when the report was cut before that line.
    locks_held : tuple of str
        Classes of the `` #k: ...`` lines, one per ``k``.
    kernel : str or None
        The version line with runs of blanks collapsed, e.g.
        ``"6.2.0-rc6-00057-g41c03ba9beea-dirty #18 Not tainted"``.
    usage_transition : str or None
        *inconsistent* only: the usage change lockdep caught, as printed,
        e.g. ``"{IN-SOFTIRQ-W} -> {SOFTIRQ-ON-W}"`` (the lock was taken in a
        softirq before, and now with softirqs enabled).
    irq_class : str or None
        ``"HARDIRQ"`` or ``"SOFTIRQ"`` (``"RECLAIM_FS"`` on old kernels) for
        the three irq kinds: which interrupt the report is about (also when
        the report names its read form, ``HARDIRQ-READ-unsafe``).
    other_lock : str or None
        *irq_inversion* only: the other lock it names (``but this lock took
        another, …-unsafe lock in the past:`` / ``but this lock was taken by
        another, …-safe lock in the past:``; ``…`` may be ``SOFTIRQ-READ``).
    safe_lock, unsafe_lock : str or None
        *irq_inversion* and *irq_safe_unsafe*: the irq-safe lock (taken in
        interrupt context) and the irq-unsafe one (taken with that interrupt
        enabled) whose order is inverted. For *irq_safe_unsafe* these are the
        locks of ``but this new dependency connects a …-irq-safe lock:`` and
        ``to a …-irq-unsafe lock:``; for *irq_inversion* one of them is
        ``acquiring_lock`` and the other ``other_lock``.
    wait_type : str or None
        *invalid_wait_context* only: the wait type of the lock being taken, as
        printed after its usage, ``"{3:3}"`` (``{outer:inner}``; a sleeping lock
        prints the highest numbers, a raw spinlock ``{2:2}``).
    context_wait_type : str or None
        *invalid_wait_context* only: what the task's context allows, from
        ``context-{5:5}`` (the highest number in a task, lower in an
        interrupt). The first kernels with the check did not print it.
    held_wait_types : tuple of (str or None)
        *invalid_wait_context* only: the wait type of each held lock, one per
        ``locks_held`` entry (``None`` where the line shows none). The
        strictest of them and the context is what the lock broke.
    """

    kind: str
    title: str
    task_comm: str
    acquiring_lock: str | None = None
    held_lock: str | None = None
    chain: tuple[str, ...] = ()
    chain_stacks: tuple[tuple[str, ...], ...] = ()
    chain_exists_of: tuple[str, ...] = ()
    scenario: tuple[tuple[str, str], ...] = ()
    locks_held_count: int | None = None
    locks_held: tuple[str, ...] = ()
    kernel: str | None = None
    usage_transition: str | None = None
    irq_class: str | None = None
    other_lock: str | None = None
    safe_lock: str | None = None
    unsafe_lock: str | None = None
    wait_type: str | None = None
    context_wait_type: str | None = None
    held_wait_types: tuple[str | None, ...] = ()

    def to_json(self) -> dict:
        """Plain JSON-able dict (lists, not tuples); chain stacks are left out.

        >>> Splat("recursive", "possible recursive locking detected", "sh/1",
        ...       scenario=(("CPU0", "lock(a)"),)).to_json()["scenario"]
        [['CPU0', 'lock(a)']]
        """
        return {
            "kind": self.kind,
            "title": self.title,
            "task_comm": self.task_comm,
            "acquiring_lock": self.acquiring_lock,
            "held_lock": self.held_lock,
            "chain": list(self.chain),
            "chain_exists_of": list(self.chain_exists_of),
            "scenario": [[cpu, op] for cpu, op in self.scenario],
            "locks_held_count": self.locks_held_count,
            "locks_held": list(self.locks_held),
            "kernel": self.kernel,
            "usage_transition": self.usage_transition,
            "irq_class": self.irq_class,
            "other_lock": self.other_lock,
            "safe_lock": self.safe_lock,
            "unsafe_lock": self.unsafe_lock,
            "wait_type": self.wait_type,
            "context_wait_type": self.context_wait_type,
            "held_wait_types": list(self.held_wait_types),
        }


# --- line normalisation ---------------------------------------------------
#
# Every pattern below is anchored and made of bounded or non-overlapping
# pieces, so matching one line costs time linear in its length: a parser fed
# arbitrary text must never be the thing that hangs.

_QUOTE = re.compile(r"(?:[ \t]{0,8}>)+ ?")
_SYSLOG = re.compile(
    r"(?:[A-Z][a-z]{2} {1,2}\d{1,2} \d{2}:\d{2}:\d{2}(?:\.\d{1,9})?"
    r"|\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)"
    r" \S{1,255} kernel: ?")
_KERNEL_TAG = re.compile(r"kernel: ?")
_KMSG = re.compile(r"\d{1,3},\d{1,20},\d{1,20},[^;]{0,40};")
_LOGLEVEL = re.compile(r"<\d{1,2}>")
# dmesg timestamp "[  585.043898]", optionally followed by the printk caller
# "[  T123]"/"[ C3]"; or a dmesg -T wall-clock stamp. One separator after it
# is part of the prefix; anything more is the kernel's own indentation.
_STAMP = re.compile(
    r"(?:\[\s{0,20}\d{1,10}\.\d{1,9}\](?:\[\s{0,10}[TC]\d{1,10}\])?"
    r"|\[\s{0,10}[TC]\d{1,10}\]"
    r"|\[[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}\])\s?")
_LOG_PREFIXES = (_SYSLOG, _KMSG, _LOGLEVEL, _STAMP, _KERNEL_TAG)

# Control characters as logs escape them: rsyslog "#ooo" (octal, "#012" is a
# newline), /dev/kmsg "\xhh" (hex; "\x5c" is the backslash itself). Only the
# codes of control characters are decoded, so "sb_writers#5" and "#0:" stay.
_ESCAPE = re.compile(r"#(0[0-3][0-7]|177)|\\x([01][0-9a-fA-F]|7[fF]|5[cC])")
# Terminal colour codes (dmesg --color=always), then whatever is left of
# control characters, byte-order marks and undecodable bytes (U+FFFD).
_ANSI = re.compile(r"\x1b\[[0-9;?]{0,32}[ -/]{0,4}[@-~]")
_NOISE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\ufeff\ufffd\ufffe\uffff]+")

_BREAK = re.compile(r"\r\n?|\n")
_TAG = re.compile(r"WARNING:|\[ INFO:|\[ BUG:")
_TAGS = ("WARNING:", "[ INFO:", "[ BUG:")
_LEAD = re.compile(r"[ \t\xa0]{0,8}")
_HEX = re.compile(r"(?:0x)?[0-9a-f]{8,16}")
_HELD_INDEX = re.compile(r"#(\d{1,9}):\s?")
_CHAIN_ENTRY = re.compile(r"->\s?#(\d{1,9})\s")
_CHAIN_HEAD = re.compile(r"->\s?#\d{1,9}")
_HELD_COUNT = re.compile(r"(\d{1,9}) locks? held by ")
_VERSION = re.compile(r"\d{1,3}\.\d{1,3}\S{0,200}\s#\S{0,64}")
_FUNC = re.compile(r"[A-Za-z_][\w.$]{0,500}")
_ADDR_FRAME = re.compile(r"\[<[0-9a-fA-F]{1,16}>\]\s?")
_IRQ_STATE = re.compile(r"\[HC\d{1,3}\[\d{1,6}\]:SC\d{1,3}\[\d{1,6}\]:HE\d:SE\d\]")
_SRC_LINE = re.compile(r"[\w./+-]{1,300}\.\w{1,8}:\d{1,7}")
_TRANSITION = re.compile(r"inconsistent \{([^{}\s]{1,40})\} -> \{([^{}\s]{1,40})\} usage\.?")
_IRQ_NAME = re.compile(r"(HARDIRQ|SOFTIRQ|RECLAIM_FS)", re.IGNORECASE)
# The irq lines name a state, or its read form when the usage that conflicts
# was a read (lockdep's state_name(): "HARDIRQ-READ"); either way the class
# is the word before it.
_OTHER = re.compile(r"but this lock (took|was taken by) another, ([A-Za-z_]{1,20})(?:-READ)?-(?:un)?safe lock"
                    r" in the past:")
_SAFE = re.compile(r"but this new dependency connects a ([A-Za-z_]{1,20})(?:-READ)?-irq-safe lock:")
_UNSAFE = re.compile(r"to a ([A-Za-z_]{1,20})(?:-READ)?-irq-unsafe lock:")
_CONTEXT = re.compile(r"context-(\{\d{1,3}:\d{1,3}\})")
_WAIT_TYPE = re.compile(r"-(\{\d{1,3}:\d{1,3}\})")
_RELEASE = " is trying to release lock ("
# Marker lines with a variable word, for re-joining mail-client wraps.
_VAR_MARKERS = (_TRANSITION, _OTHER, _SAFE, _UNSAFE,
                re.compile(r"\.\.\. which became [A-Za-z_]{1,20}(?:-READ)?-irq-(?:un)?safe at:"))

_TITLES = {
    "possible circular locking dependency detected": "circular",
    "possible recursive locking detected": "recursive",
    "inconsistent lock state": "inconsistent",
    "possible irq lock inversion dependency detected": "irq_inversion",
    "bad unlock balance detected!": "bad_unlock_balance",
    "Invalid wait context": "invalid_wait_context",
}
_TASK_SUFFIXES = (" is trying to acquire lock:", " is trying to acquire:", " takes:",
                  " just changed the state of lock:", " is trying to lock:")
_MARKERS = (
    "but task is already holding lock:", "and this task is already holding:",
    "which lock already depends on the new lock.", "the existing dependency chain (in reverse order) is:",
    "other info that might help us debug this:", "Possible unsafe locking scenario:",
    "Possible interrupt unsafe locking scenario:", "stack backtrace:",
    "which would create a new lock dependency:", "May be due to missing lock nesting notation",
    "and interrupts could create inverse lock ordering between them.",
    "but there are no more locks to release!",
)

# Bounds that keep any input cheap: a physical line is looked at up to
# _MAX_LINE characters (rsyslog's default message limit is 8 KiB), a report up
# to _MAX_REPORT_LINES decoded lines (real ones have a few hundred).
_MAX_LINE = 64 << 10
_MAX_REPORT_LINES = 5000


def _unescape(m: re.Match) -> str:
    return chr(int(m.group(1), 8)) if m.group(1) else chr(int(m.group(2), 16))


def _pieces(raw: str) -> list[tuple[str, bool]]:
    """One physical line -> its lines as ``(content, had a log prefix)``.

    Usually one; more when the log escaped the newlines inside a kernel record
    (``kernel: #012but task is already holding lock:``). The pieces after the
    first are lines of the same record: they count as prefixed, so they are
    never glued to the line before as if a mail client had wrapped it.
    """
    if "\x1b" in raw:
        raw = _ANSI.sub("", raw)
    if "#" in raw or "\\x" in raw:
        raw = _ESCAPE.sub(_unescape, raw)
    raw = _NOISE.sub("", raw)
    if "\n" not in raw:
        return [_normalise(raw)]
    first, *rest = raw.split("\n")
    return [_normalise(first)] + [(r, True) for r in rest]


def _strip_log_prefixes(s: str) -> tuple[str, bool]:
    """Remove dmesg/syslog/printk decorations; say whether there were any.

    A log pasted as an indented block (markdown, mail) still counts as
    prefixed; the indentation goes with the prefix. Without a prefix the line
    is returned untouched, since its indentation may matter.
    """
    rest = s[_LEAD.match(s).end():]
    had = False
    for _ in range(6):
        for rx in _LOG_PREFIXES:
            m = rx.match(rest)
            if m and m.end():
                rest = rest[m.end():]
                had = True
                break
        else:
            break
    return (rest, True) if had else (s, False)


def _normalise(raw: str) -> tuple[str, bool]:
    """One physical line -> (content, had a log prefix). Quoting is dropped."""
    m = _QUOTE.match(raw)
    if m:
        raw = raw[m.end():]
    return _strip_log_prefixes(raw)


def _title_of(text: str) -> tuple[str, str] | None:
    """``(kind, title)`` if *text* (after the WARNING: tag) is a known title."""
    title = " ".join(text.split())
    for tag in ("[ INFO:", "[ BUG:"):
        if title.startswith(tag):
            title = title[len(tag):].strip()
    if title.endswith("]"):
        title = title[:-1].rstrip()
    kind = _TITLES.get(title)
    if kind:
        return kind, title
    if title.endswith("-unsafe lock order detected") and "-safe -> " in title and " " not in title.split(" -> ")[0]:
        return "irq_safe_unsafe", title
    return None


def _find_title(content: str, nxt: str | None, nxt2: str | None = None) -> tuple[str, str, str, int] | None:
    """Spot a report's title line.

    Returns ``(kind, title, prefix, wrapped)``: *prefix* is whatever unknown
    decoration precedes the tag (stripped from the following lines when they
    carry it too), *wrapped* says on how many following lines (0, 1 or 2: a
    narrow mail client) the title goes on.
    """
    for tag in _TAGS:
        i = content.find(tag)
        if i < 0:
            continue
        rest = content[i + len(tag):] if tag == "WARNING:" else content[i:]
        if len(rest) > 200:
            continue
        got = _title_of(rest)
        if got:
            return got[0], got[1], content[:i], 0
        if nxt is not None and nxt.strip() and len(nxt) < 80:
            got = _title_of(rest + " " + nxt)
            if got:
                return got[0], got[1], content[:i], 1
            if nxt2 is not None and nxt2.strip() and len(nxt2) < 80:
                got = _title_of(rest + " " + nxt + " " + nxt2)
                if got:
                    return got[0], got[1], content[:i], 2
    return None


# --- small grammar pieces ---------------------------------------------------

def _lock_class(s: str) -> str | None:
    """Class name of a lock line ``[addr ](class){usage}[-{n:n}], at: ...``."""
    s = s.strip()
    if s.startswith("#"):
        m = _HELD_INDEX.match(s)
        if not m:
            return None
        s = s[m.end():].lstrip()
    m = _HEX.match(s)
    if m and m.end() < len(s) and s[m.end()].isspace():
        s = s[m.end():].lstrip()
    if not s.startswith("("):
        return None
    end = s.find("){")
    if end <= 1 or s.find("}", end) < 0:
        return None
    return s[1:end]


def _frame_function(raw: str) -> str | None:
    """Function name of one line of a chain entry's stack, or None.

    A frame is ``[[<addr>] ]func+0x1/0x2 [module]`` (what ``%pS`` prints),
    ``func file.c:123 [inline]`` (syzbot's symbolised stacks), or a bare
    ``func`` on an indented line (stacks without offsets, as the lab's
    emulator prints them). A word of prose at the margin is none of these.
    """
    s = raw.strip()
    m = _ADDR_FRAME.match(s)
    if m:
        s = s[m.end():].lstrip()
    if not s or s.startswith("?"):
        return None
    parts = s.split(None, 2)
    token = parts[0]
    plus = token.find("+0x")
    if plus >= 0:
        token = token[:plus]
    elif not m and not (len(parts) > 1 and _SRC_LINE.match(parts[1])):
        # No offset, no source line: only a lone name, indented like a frame.
        if not raw[:1].isspace() or (len(parts) > 1 and not parts[1].startswith("[")):
            return None
    return token if _FUNC.fullmatch(token) else None


def _frame_tail(s: str) -> bool:
    """A line that belongs to a stack without naming a function.

    Unreliable frames (``? f+0x1/0x2``), bare addresses, ``<IRQ>`` markers,
    and the halves of a frame a mail client wrapped: ``[<addr>]`` alone,
    ``kernel/locking/lockdep.c:5753 [inline]``, ``[mt76]``.
    """
    s = s.strip()
    return (s[:1] in ("?", "[", "<") or s.startswith("0x") or bool(_SRC_LINE.match(s))
            or bool(_HEX.fullmatch(s)))


def _released(s: str) -> tuple[str, str | None] | None:
    """``(comm/pid, class)`` of a bad unlock's task line, or None.

    ``comm/pid is trying to release lock (class) at:`` (the class may hold
    parentheses; a mail client or an unprefixed paste may have put the
    ``[<addr>] function`` line after it).
    """
    i = s.find(_RELEASE)
    if i <= 0:
        return None
    rest = s[i + len(_RELEASE):]
    end = rest.find(") at:")
    if end < 0:
        end = len(rest) - 1 if rest.endswith(")") else -1
    return s[:i].rstrip(), (rest[:end] or None) if end >= 0 else None


def _wait_type(s: str) -> str | None:
    """``{n:n}`` printed after a lock line's usage, ``(class){....}-{3:3}``."""
    m = _HELD_INDEX.match(s)
    at = s.find("){", m.end() if m else 0)
    close = s.find("}", at + 2) if at >= 0 else -1
    m = _WAIT_TYPE.match(s, close + 1) if close >= 0 else None
    return m.group(1) if m else None


def _task_of(s: str) -> str | None:
    """``comm/pid`` of a task line, or None."""
    got = _released(s)
    if got is not None:
        return got[0] or None
    for suffix in _TASK_SUFFIXES:
        if s.endswith(suffix):
            comm = s[: -len(suffix)].rstrip()
            if comm.endswith("]"):
                i = comm.rfind("[HC")
                if i >= 0 and _IRQ_STATE.fullmatch(comm, i):
                    comm = comm[:i].rstrip()
            return comm or None
    return None


def _is_version(s: str) -> bool:
    return bool(_VERSION.match(s))


def _bare_address(p: str) -> bool:
    """``ffff888005ac83f8`` or ``#0:`` or ``#0: ffff...`` with nothing after."""
    m = _HELD_INDEX.match(p)
    if m:
        p = p[m.end():].strip()
        if not p:
            return True
    return bool(_HEX.fullmatch(p))


def _is_marker(s: str) -> bool:
    return s in _MARKERS or any(rx.fullmatch(s) for rx in _VAR_MARKERS)


def _glue(prev: str, cur: str) -> str | None:
    """How *cur* continues a lock expression the kernel printed in pieces.

    Lockdep prints a lock name with several ``printk(KERN_CONT …)`` calls
    (the name, ``#N``, ``/N``, ``){usage}``); when another message gets in
    between, the rest lands on a line of its own. Returns ``""`` when *cur*
    is the rest of a class name cut in *prev* (class names hold no blanks, so
    none is put back), ``" "`` when *prev* is a lock line's head (``-> #1``,
    ``#0:``, an address) and *cur* its class, and None otherwise.
    """
    p, q = prev.rstrip(), cur.strip()
    if not p or not q:
        return None
    last = p[p.rfind(" ") + 1:] if " " in p else p.lstrip()
    if "(" in last and "){" not in last and last.count("(") > last.count(")"):
        first = q.split(None, 1)[0]
        if first.count(")") > first.count("(") and ("){" in first or first.endswith(");")):
            return ""
    if q.startswith("(") and (_CHAIN_HEAD.fullmatch(p.strip()) or _bare_address(p.strip())):
        return " "
    return None


def _continues(prev: str, cur: str) -> bool:
    """Whether *cur* is the rest of *prev*, broken by a mail client.

    Only used where neither line carries a log prefix; the breaks handled are
    the ones that split a structured lockdep line in two. *prev* is the last
    physical piece of the logical line, so each call costs O(len(prev + cur)).
    """
    p, q = prev.strip(), cur.strip()
    if p.endswith("at:") or q.startswith("at: ") or q == "at:":
        return True
    if p.endswith("-->") or q.startswith("-->"):
        return True
    if _bare_address(p):
        return True
    if _CHAIN_HEAD.fullmatch(p) and q.startswith("("):
        return True
    joined = p + " " + q
    if (p.startswith("WARNING:") or p.startswith("[ INFO:")) and _title_of(p.split(":", 1)[1]) is None \
            and _title_of(joined.split(":", 1)[1]) is not None:
        return True
    if (_task_of(p) is None and _task_of(q) is None and _task_of(joined) is not None
            and (len(q) <= 40 or q.startswith("[HC"))):
        return True
    if _HELD_COUNT.match(p) and not p.endswith(":") and q.endswith(":") and len(q) <= 80:
        return True
    if len(joined) <= 120 and _is_marker(joined) and not _is_marker(p):
        return True
    if "(" in p and "){" not in p and "){" in q and (_lock_class(joined) is not None or joined.startswith("->")):
        return True
    if _is_version(p) and (q.startswith("tainted") or q.startswith("Tainted") or q.startswith("Not tainted")):
        return True
    return False


def _complete(s: str) -> bool:
    """A line lockdep ends where it ends: a scenario row, the DEADLOCK line."""
    s = s.strip()
    return s.endswith(";") or s == "<Interrupt>" or s == "*** DEADLOCK ***"


def _is_banner(s: str) -> bool:
    s = s.strip()
    return len(s) >= 8 and not s.strip("=")


# A wrapped line rarely needs more than a few pieces; the cap keeps joining
# linear even when a prefixed line is followed by pages of unprefixed prose.
_MAX_PIECES = 16


def _logical_lines(lines: list[tuple[str, bool, int]]) -> list[tuple[str, int, bool]]:
    """Undo line breaks that are not the kernel's.

    In a log where lines carry prefixes (dmesg, syslog), a non-blank line
    without one is the rest of the line before it: either a record the kernel
    printed with embedded newlines, or a mail-client wrap, unless the line
    before is complete as lockdep prints it (a scenario row) and the text
    after the log is something else. Without prefixes, :func:`_continues`
    recognises wraps by what the lines say. Either way a lock name the kernel
    printed in pieces (:func:`_glue`) is put back together.

    Each logical line is ``(text, lineno, indent_known)``: a line that
    starts on a continuation line has lost its place on the page (a mail
    client or an indented paste put it anywhere), so its indentation says
    nothing about a scenario column.
    """
    out: list[list] = []  # [pieces, separators, prefixed, lineno, indent_known]
    for text, prefixed, lineno in lines:
        if out and text.strip():
            pieces, seps, last_prefixed, _, _ = out[-1]
            if len(pieces) < _MAX_PIECES:
                glue = _glue(pieces[-1], text)
                if glue is not None:
                    pieces.append(text)
                    seps.append(glue)
                    continue
                if not prefixed and (
                        (last_prefixed and not _complete(pieces[-1]))
                        or (pieces[-1].strip() and _continues(pieces[-1], text))):
                    if len(pieces) == 1 and not pieces[0]:
                        # "[  585.043919]" then "   but task is ...": the record
                        # starts on the continuation line, indentation and all.
                        pieces[0] = text
                        out[-1][4] = False
                    elif len(pieces) == 1 and not pieces[0].strip():
                        # A wrap inside the indentation (a scenario row of a
                        # syslog line): the blanks before the break are the
                        # indentation, the break itself was one more blank.
                        pieces[0] = pieces[0] + " " + text.lstrip()
                    else:
                        pieces.append(text)
                        seps.append(" ")
                    continue
        out.append([[text], [], prefixed, lineno, True])
    result = []
    for pieces, seps, _, lineno, known in out:
        if len(pieces) == 1:
            result.append((pieces[0], lineno, known))
        else:
            parts = [pieces[0].rstrip()]
            for sep, piece in zip(seps, pieces[1:]):
                parts.append(sep + piece.strip())
            result.append(("".join(parts), lineno, known))
    return result


def _indent(s: str) -> int:
    s = s.expandtabs(8)
    return len(s) - len(s.lstrip())


def _assign_cpus(rows: list[tuple[int | None, str]], ncpu: int) -> tuple[tuple[str, str], ...]:
    """Give each scenario row its column.

    Absolute indentation cannot be trusted (web archives and dmesg eat
    leading blanks), so rows are placed by indentation relative to the first
    row, which is always CPU0. When that is ambiguous, or a row's indentation
    is unknown (None), the fixed layouts of lockdep's scenario printers decide.
    """
    if not rows:
        return ()
    if ncpu < 2:
        return tuple(("CPU0", op) for _, op in rows)
    base = rows[0][0]
    cpus: list[str] = []
    for ind, _ in rows:
        if ind is None or base is None:
            break
        d = ind - base
        if 0 <= d <= 4:
            cpus.append("CPU0")
        elif d >= 10:
            cpus.append("CPU1")
        else:
            break
    if len(cpus) == len(rows):
        return tuple(zip(cpus, (op for _, op in rows)))
    ops = [op for _, op in rows]
    if "<Interrupt>" in ops:
        # irq scenario: CPU0 takes the unsafe lock, CPU1 disables irqs and
        # takes the chain, then CPU0 is interrupted.
        k = ops.index("<Interrupt>")
        cpus = ["CPU0"] + ["CPU1"] * (k - 1) + ["CPU0"] * (len(ops) - k)
    elif len(ops) == 4:
        cpus = ["CPU0", "CPU1", "CPU1", "CPU0"]
    else:
        cpus = ["CPU0" if ind is None or ind == base else "CPU1" for ind, _ in rows]
    return tuple(zip(cpus, ops))


# --- one report ---------------------------------------------------------------

class _Unusable(Exception):
    """A title was found but the report carries too little to identify it."""


def _irq_word(s: str | None) -> str | None:
    m = _IRQ_NAME.search(s or "")
    return m.group(1).upper() if m else None


def _parse_report(kind: str, title: str, lines: list[tuple[str, int, bool]]) -> Splat:
    """Parse the logical lines of one report; ``lines[0]`` is the title.

    Lockdep prints a report in a fixed order: header, the kind's own part
    (dependency chain, irq-usage traces), ``other info that might help us
    debug this:``, the scenario table, ``*** DEADLOCK ***`` and the held
    locks. Reading stops where that order says the report is over, so text
    after a report cut short (a reply's prose, another message) is never
    taken for part of it.
    """
    n = len(lines)
    strip = [t.strip() for t, _, _ in lines]

    # Header: version line, then the task line a few lines down.
    kernel = None
    transition = None
    i = 1
    while i < n and (not strip[i] or set(strip[i]) <= {"-"}):
        i += 1
    if i < n and _is_version(strip[i]):
        # Runs of blanks (the taint flags "G           OE") are collapsed so
        # that a wrap inside them does not change the value.
        kernel = " ".join(strip[i].split())
    task = None
    task_at = -1
    seen = 0
    for j in range(1, n):
        if not strip[j]:
            continue
        seen += 1
        if seen > 8:
            break
        m = _TRANSITION.search(strip[j])
        if m:
            transition = f"{{{m.group(1)}}} -> {{{m.group(2)}}}"
        task = _task_of(strip[j])
        if task is not None:
            task_at = j
            break
    if task is None:
        raise _Unusable(f"lockdep report '{title}' has no task line")

    def lock_after(j: int) -> str | None:
        # The lock is printed on the line right after its label; a few
        # non-blank lines of slack absorbs blank and stray lines.
        looked = 0
        for k in range(j + 1, n):
            if not strip[k]:
                continue
            got = _lock_class(strip[k])
            if got is not None:
                return got
            looked += 1
            if looked >= 2:
                return None
        return None

    acquiring = lock_after(task_at)
    wait_type = context = None
    held_waits: list[str | None] = []
    if kind == "bad_unlock_balance":
        got = _released(strip[task_at])
        acquiring = got[1] if got else None
    elif kind == "invalid_wait_context" and acquiring is not None:
        for k in range(task_at + 1, n):
            if strip[k]:
                wait_type = _wait_type(strip[k])
                break
    held = None
    other = safe = unsafe = None
    irq_class = _irq_word(transition) if kind == "inconsistent" else None
    if kind == "irq_safe_unsafe":
        irq_class = _irq_word(title)
    chain: list[str] = []
    stacks: list[list[str]] = []
    exists: tuple[str, ...] = ()
    scenario: tuple[tuple[str, str], ...] = ()
    count = None
    held_list: list[str] = []
    last_index = None
    info = False        # "other info that might help us debug this:" seen
    after_table = False  # the scenario table (or DEADLOCK line) has been read
    section = None      # "chain" while reading a chain entry's stack, "held" for #k lines

    j = task_at + 1
    while j < n:
        s = strip[j]
        if s.startswith("stack backtrace:"):
            break
        if not s:
            if section == "held":
                break  # the held-locks list is the last thing lockdep prints
            # Lockdep ends the stack of a chain entry with an empty line.
            section = None
            j += 1
            continue
        if section == "held":
            # "#k:" lines, and the tails of "#k:" lines a mail client wrapped.
            m = _HELD_INDEX.match(s)
            if m:
                cls = _lock_class(s)
                idx = m.group(1)
                if cls is not None and idx != last_index:
                    held_list.append(cls)
                    held_waits.append(_wait_type(s))
                    last_index = idx
            elif not _frame_tail(s) and _FUNC.fullmatch(s.split("+0x", 1)[0]) is None:
                break
            j += 1
            continue
        if not info:
            m = _CHAIN_ENTRY.match(s)
            if m:
                cls = _lock_class(s[m.end():])
                if cls is not None:
                    chain.append(cls)
                    stacks.append([])
                    section = "chain"
                    j += 1
                    continue
        if "already holding" in s and held is None and kind in ("circular", "recursive", "irq_safe_unsafe"):
            held = lock_after(j)
            section = None
        elif s.startswith("other info that might help"):
            info = True
            section = None
        elif s.startswith("Chain exists of:"):
            parts = [s[len("Chain exists of:"):]]
            k = j + 1
            while k < n and strip[k] and "locking scenario" not in strip[k] and not strip[k].startswith("CPU0"):
                parts.append(strip[k])
                k += 1
            exists = tuple(p.strip() for p in " ".join(parts).split("-->") if p.strip())
            section = None
            j = k
            continue
        elif s.startswith("Possible") and s.endswith("locking scenario:"):
            j, scenario = _read_scenario(lines, strip, j + 1)
            section = None
            after_table = True
            continue
        elif info and kind == "invalid_wait_context" and context is None and _CONTEXT.fullmatch(s):
            context = _CONTEXT.fullmatch(s).group(1)
        elif count is None and info and _HELD_COUNT.match(s) and s.endswith(":"):
            count = int(_HELD_COUNT.match(s).group(1))
            section = "held"
        elif count is None and info and s.startswith("no locks held by "):
            count = 0
            break
        elif not info and kind == "irq_inversion" and _OTHER.match(s):
            m = _OTHER.match(s)
            other = lock_after(j)
            irq_class = m.group(2).upper()
            safe, unsafe = (acquiring, other) if m.group(1) == "took" else (other, acquiring)
            section = None
        elif not info and kind == "irq_safe_unsafe" and _SAFE.match(s):
            safe = lock_after(j)
            section = None
        elif not info and kind == "irq_safe_unsafe" and _UNSAFE.match(s):
            unsafe = lock_after(j)
            section = None
        elif section == "chain":
            fn = _frame_function(lines[j][0])
            if fn is not None:
                stacks[-1].append(fn)
            elif not _frame_tail(s):
                section = None  # not a frame: the stack is over
        elif after_table and s != "May be due to missing lock nesting notation" and "DEADLOCK" not in s:
            # After the scenario table lockdep prints the held locks and
            # nothing else: anything different means the report was cut.
            break
        j += 1

    return Splat(
        kind=kind, title=title, task_comm=task, acquiring_lock=acquiring,
        held_lock=held, chain=tuple(chain), chain_stacks=tuple(tuple(s) for s in stacks),
        chain_exists_of=exists, scenario=scenario, locks_held_count=count,
        locks_held=tuple(held_list), kernel=kernel, usage_transition=transition,
        irq_class=irq_class, other_lock=other, safe_lock=safe, unsafe_lock=unsafe,
        **({"wait_type": wait_type, "context_wait_type": context, "held_wait_types": tuple(held_waits)}
           if kind == "invalid_wait_context" else {}))


def _read_scenario(lines: list[tuple[str, int, bool]], strip: list[str], j: int) -> tuple[int, tuple]:
    """Read the CPU0/CPU1 table starting at *j*; return (next index, rows)."""
    n = len(lines)
    ncpu = 0
    rows: list[tuple[int, str]] = []
    while j < n:
        s = strip[j]
        if not s:
            if rows:
                break
        elif "DEADLOCK" in s:
            j += 1
            break
        elif s.startswith("CPU0"):
            ncpu = len([w for w in s.split() if w.startswith("CPU")])
        elif set(s) <= {"-", " ", "\xa0", "\t"}:
            pass
        elif s.endswith(";") or s == "<Interrupt>":
            ind = _indent(lines[j][0]) if lines[j][2] else None
            rows.append((ind, s[:-1].rstrip() if s.endswith(";") else s))
        else:
            break
        j += 1
    if ncpu == 0 and rows:
        base = rows[0][0]
        ncpu = 2 if base is not None and any(ind is not None and ind - base >= 10 for ind, _ in rows) else 1
    return j, _assign_cpus(rows, ncpu)


# --- finding reports in a text ------------------------------------------------

def _has_tag(line: str) -> bool:
    return "WARNING:" in line or "[ INFO:" in line or "[ BUG:" in line


def _count_breaks(text: str, a: int, b: int) -> int:
    """Line breaks in ``text[a:b]`` (``\\r\\n``, ``\\r`` and ``\\n`` each count once)."""
    return text.count("\n", a, b) + text.count("\r", a, b) - text.count("\r\n", a, b)


class _Lines:
    """The decoded lines of a text, produced on demand, with a fast skip.

    Nothing is split or decoded until a report title may be near:
    :meth:`skip_to_tag` finds the next ``WARNING:``/``[ INFO:`` with one
    ``re`` search and counts the line breaks it jumped over with
    ``str.count``, so megabytes of other log cost C-speed scans, not Python
    objects per line. Each physical line is decoded once (at most
    ``_MAX_LINE`` characters of it) into ``(content, prefixed, lineno)``.
    """

    def __init__(self, text: str):
        self.text = text
        self.pos = 0        # start of the next physical line not yet decoded
        self.lineno = 1     # its number
        self.buf: deque = deque()

    def _read(self) -> bool:
        text, pos = self.text, self.pos
        if pos > len(text) or (pos == len(text) and pos > 0):
            return False
        m = _BREAK.search(text, pos)
        end, nxt = (m.start(), m.end()) if m else (len(text), len(text) + 1)
        for content, had in _pieces(text[pos:min(end, pos + _MAX_LINE)]):
            self.buf.append((content, had, self.lineno))
        self.pos = nxt
        self.lineno += 1
        return True

    def peek(self, k: int = 0):
        while len(self.buf) <= k:
            if not self._read():
                return None
        return self.buf[k]

    def pop(self):
        return self.buf.popleft() if self.peek(0) is not None else None

    def skip_to_tag(self) -> bool:
        """Drop lines up to the next one holding a title tag; False at the end."""
        while True:
            while self.buf:
                if _has_tag(self.buf[0][0]):
                    return True
                self.buf.popleft()
            text, pos = self.text, self.pos
            if pos >= len(text):
                return False
            m = _TAG.search(text, pos)
            # Every title says "lock" or "wait context": a tag without either
            # close behind (a plain "WARNING: CPU: 0 PID: 1 at ...", a log of
            # nothing but tags) is passed over here, without decoding its line.
            while m is not None and text.find("lock", m.end(), m.end() + 200) < 0 \
                    and text.find("wait context", m.end(), m.end() + 40) < 0:
                m = _TAG.search(text, m.end())
            if m is None:
                self.pos = len(text) + 1
                return False
            at = m.start()
            start = max(text.rfind("\n", pos, at), text.rfind("\r", pos, at)) + 1
            if start <= 0 or start < pos:
                start = pos
            self.lineno += _count_breaks(text, pos, start)
            self.pos = start
            self._read()


def _collect(cur: _Lines, first: tuple, wrapped: int) -> list[tuple[str, bool, int]]:
    """The lines of the report whose title is *first* (already taken from *cur*).

    Ends before the next report's title, after ``stack backtrace:`` (what
    follows is the ordinary call trace) or after ``_MAX_REPORT_LINES`` lines;
    the next report's ``=====`` banner is left out.
    """
    region = [first]
    for _ in range(wrapped):
        _, had, lineno = cur.pop()
        region.append(("", had, lineno))
    while len(region) < _MAX_REPORT_LINES:
        p = cur.peek(0)
        if p is None:
            break
        c = p[0]
        if _has_tag(c):
            q = cur.peek(1)
            if _find_title(c, q[0] if q else None):
                break
        region.append(cur.pop())
        if c.rstrip().endswith("stack backtrace:"):
            break
    while len(region) > 1 and (_is_banner(region[-1][0]) or not region[-1][0].strip()):
        region.pop()
    return region


def _reports(text: str, source: str | None, first_only: bool) -> list[Splat]:
    if isinstance(text, (bytes, bytearray)):
        text = _decode(bytes(text))
    if not isinstance(text, str):
        raise TypeError(f"expected str, got {type(text).__name__}")
    where = source if source is not None else "<string>"
    cur = _Lines(text)
    found: list[Splat] = []
    first_error: SplatError | None = None
    while cur.skip_to_tag():
        content, _, lineno = cur.peek(0)
        nxt, nxt2 = cur.peek(1), cur.peek(2)
        got = _find_title(content, nxt[0] if nxt else None, nxt2[0] if nxt2 else None)
        if not got:
            cur.pop()
            continue
        kind, title, prefix, wrapped = got
        region = _collect(cur, cur.pop(), wrapped)
        if prefix.strip():
            # An unknown but constant decoration ("| ", "kern  :warn  : ")
            # in front of the title is dropped wherever the report repeats it.
            fixed = []
            for content, had, ln in region:
                if content.startswith(prefix):
                    content, had2 = _strip_log_prefixes(content[len(prefix):])
                    had = had or had2
                fixed.append((content, had, ln))
            region = fixed
        logical = _logical_lines(region)
        logical[0] = ("WARNING: " + title, logical[0][1], True)
        try:
            found.append(_parse_report(kind, title, logical))
        except _Unusable as e:
            if first_error is None:
                first_error = SplatError(f"{where}:{lineno}: {e}")
            continue
        if first_only:
            break
    if not found:
        if first_error is not None:
            raise first_error
        raise SplatError(f"no lockdep report found in {where}")
    return found


def _decode(data: bytes) -> str:
    """Bytes -> text: UTF-16 when it says so with a byte-order mark and looks
    like it (NUL high bytes), else UTF-8 with undecodable bytes replaced (and
    later dropped as noise)."""
    head = data[2:66]
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") and len(head) >= 8:
        odd = head[1::2] if data[:2] == b"\xff\xfe" else head[0::2]
        if odd.count(0) * 4 >= len(odd) * 3:
            return data.decode("utf-16", errors="replace")
    return data.decode("utf-8", errors="replace")


# --- public API ------------------------------------------------------------

def parse(text: str, source: str | None = None) -> Splat:
    """The first lockdep report in *text*.

    Parameters
    ----------
    text : str
        Any text: a dmesg dump, a syslog excerpt, a mail with quoted reports.
        ``bytes`` are decoded as UTF-8 (undecodable bytes dropped; UTF-16 with
        a byte-order mark is recognised).
    source : str, optional
        Name used in error messages (a file path, a URL).

    Returns
    -------
    Splat
        The first report that names its task; reports cut off before their
        task line are skipped.

    Raises
    ------
    SplatError
        If the text holds no usable report.

    Examples
    --------
    >>> s = parse('''> WARNING: inconsistent lock state
    ... > 5.9.0-rc6 #14 Not tainted
    ... > inconsistent {IN-SOFTIRQ-W} -> {SOFTIRQ-ON-W} usage.
    ... > rmmod/1227 [HC0[0]:SC0[0]:HE1:SE1] takes:
    ... > ffff888156a83530 (&dev->lock#2){+.?.}-{2:2}, at: mt76_dma_cleanup+0x125/0x150''')
    >>> s.kind, s.task_comm, s.acquiring_lock, s.usage_transition
    ('inconsistent', 'rmmod/1227', '&dev->lock#2', '{IN-SOFTIRQ-W} -> {SOFTIRQ-ON-W}')

    A syslog that escaped the newlines inside kernel records:

    >>> parse('''kernel: WARNING: possible circular locking dependency detected
    ... kernel: cat/1 is trying to acquire lock:
    ... kernel: ffff8880 (&b->lock){+.+.}-{3:3}, at: f+0x1/0x2
    ... kernel: #012-> #1 (&a->lock){+.+.}-{3:3}:''').chain
    ('&a->lock',)
    """
    return _reports(text, source, first_only=True)[0]


def parse_all(text: str, source: str | None = None) -> list[Splat]:
    """Every usable lockdep report in *text*, in order.

    A report quoted twice in a thread is returned twice.

    Raises
    ------
    SplatError
        If the text holds no usable report.

    Examples
    --------
    >>> one = "WARNING: possible recursive locking detected\\nsh/1 is trying to acquire lock:\\n"
    >>> [s.task_comm for s in parse_all(one + "\\n" + one.replace("sh/1", "sh/2"))]
    ['sh/1', 'sh/2']
    """
    return _reports(text, source, first_only=False)


def _mib(n: int) -> str:
    if n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n} bytes"


def read_report(path: str | os.PathLike) -> str:
    """The text of a report file, read with the checks a command line needs.

    *path* ``"-"`` is standard input. Anything else must be a regular file:
    a directory, a FIFO, a device (``/dev/zero``, ``/dev/urandom``) or a
    socket is refused before it is read, so nothing can block or stream for
    ever. At most :data:`MAX_BYTES` are read.

    Raises
    ------
    SplatError
        Not a regular file, or larger than :data:`MAX_BYTES` (the message
        names the path and the limit).
    OSError
        The file cannot be opened or read.

    Examples
    --------
    >>> read_report("/dev/null")
    Traceback (most recent call last):
    ...
    labkit.splat.SplatError: /dev/null: not a regular file (a character device); give a file, or - for standard input
    """
    name = os.fspath(path)
    limit = f"the limit is {_mib(MAX_BYTES)}: cut out the part with the report"
    if name == "-":
        stream = sys.stdin.buffer
        data = stream.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise SplatError(f"standard input: more than {_mib(MAX_BYTES)}; {limit}")
        return _decode(data)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    st = os.stat(name)
    if not stat.S_ISREG(st.st_mode):
        raise SplatError(f"{name}: not a regular file ({_file_kind(st.st_mode)}); "
                         f"give a file, or - for standard input")
    fd = os.open(name, flags)
    try:
        st = os.fstat(fd)  # what was opened, not what the name pointed at a moment ago
        if not stat.S_ISREG(st.st_mode):
            raise SplatError(f"{name}: not a regular file ({_file_kind(st.st_mode)}); "
                             f"give a file, or - for standard input")
        if st.st_size > MAX_BYTES:
            raise SplatError(f"{name}: {_mib(st.st_size)} is too big; {limit}")
        chunks, got = [], 0
        while got <= MAX_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_BYTES + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        if got > MAX_BYTES:
            raise SplatError(f"{name}: more than {_mib(MAX_BYTES)}; {limit}")
    finally:
        os.close(fd)
    data = b"".join(chunks)
    del chunks
    return _decode(data)


def _file_kind(mode: int) -> str:
    for test, what in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "not a file"


def parse_file(path: str | os.PathLike) -> Splat:
    """The first lockdep report in the file at *path* (``"-"``: standard input).

    The file is read with :func:`read_report` (regular files only, at most
    :data:`MAX_BYTES`) and decoded as UTF-8 with undecodable bytes dropped;
    errors name the path.

    Raises
    ------
    SplatError
        If the file holds no usable report, is not a regular file, or is too
        big.
    OSError
        If the file cannot be read.
    """
    name = os.fspath(path)
    return parse(read_report(name), source="<stdin>" if name == "-" else name)
