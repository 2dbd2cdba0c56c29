"""Read real lockdep reports ("splats") as they are found in the wild.

A lockdep splat is rarely seen as the kernel printed it: it arrives through
``dmesg`` (timestamps, log levels, printk caller ids), syslog or the journal
(``Jan  1 00:00:00 host kernel:``), a mailing list (``>`` quoting, lines
wrapped by the mail client, CRLF, non-breaking spaces from web archives) and
is surrounded by prose. :func:`parse` finds the first report in such text and
returns a :class:`Splat` with the facts a learner needs: what kind of bug,
which task, which locks, the dependency chain, the unsafe scenario table and
the locks held.

Five kinds are recognised, one per lockdep print routine:

=================  ==============================================================
kind               title line
=================  ==============================================================
circular           WARNING: possible circular locking dependency detected
recursive          WARNING: possible recursive locking detected
inconsistent       WARNING: inconsistent lock state
irq_inversion      WARNING: possible irq lock inversion dependency detected
irq_safe_unsafe    WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected
                   (or the SOFTIRQ variant)
=================  ==============================================================

Old kernels wrote ``[ INFO: <title> ]`` instead of ``WARNING: <title>``; both
are accepted. Any text gives either a :class:`Splat` or a :class:`SplatError`,
in time linear in the size of the text.

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
from dataclasses import dataclass

from .errors import LabError

__all__ = ["SplatError", "Splat", "KINDS", "parse", "parse_all", "parse_file"]

KINDS = ("circular", "recursive", "inconsistent", "irq_inversion", "irq_safe_unsafe")


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
        Lock class the task was acquiring (``is trying to acquire``), or for
        *inconsistent* the lock it ``takes``, for *irq_inversion* the lock that
        ``just changed the state``.
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
        }


# --- line normalisation ---------------------------------------------------
#
# Every pattern below is anchored and made of bounded or non-overlapping
# pieces, so matching one line costs time linear in its length: a parser fed
# arbitrary text must never be the thing that hangs.

_QUOTE = re.compile(r"(?:[ \t]{0,8}>)+ ?")
_SYSLOG = re.compile(
    r"(?:[A-Z][a-z]{2} {1,2}\d{1,2} \d{2}:\d{2}:\d{2}"
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

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LEAD = re.compile(r"[ \t\xa0]{0,8}")
_HEX = re.compile(r"(?:0x)?[0-9a-f]{8,16}")
_HELD_INDEX = re.compile(r"#(\d{1,9}):\s?")
_CHAIN_ENTRY = re.compile(r"->\s?#(\d{1,9})\s")
_HELD_COUNT = re.compile(r"(\d{1,9}) locks? held by ")
_VERSION = re.compile(r"\d{1,3}\.\d{1,3}\S{0,200}\s#\S{0,64}")
_FUNC = re.compile(r"[A-Za-z_][\w.$]{0,500}")
_ADDR_FRAME = re.compile(r"\[<[0-9a-fA-F]{1,16}>\]\s?")
_IRQ_STATE = re.compile(r"\[HC\d{1,3}\[\d{1,6}\]:SC\d{1,3}\[\d{1,6}\]:HE\d:SE\d\]")

_TITLES = {
    "possible circular locking dependency detected": "circular",
    "possible recursive locking detected": "recursive",
    "inconsistent lock state": "inconsistent",
    "possible irq lock inversion dependency detected": "irq_inversion",
}
_TASK_SUFFIXES = (" is trying to acquire lock:", " is trying to acquire:", " takes:",
                  " just changed the state of lock:")
_MARKERS = (
    "but task is already holding lock:", "and this task is already holding:",
    "which lock already depends on the new lock.", "the existing dependency chain (in reverse order) is:",
    "other info that might help us debug this:", "Possible unsafe locking scenario:",
    "Possible interrupt unsafe locking scenario:", "stack backtrace:",
    "which would create a new lock dependency:", "May be due to missing lock nesting notation",
)


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
    if title.startswith("[ INFO:"):
        title = title[len("[ INFO:"):].strip()
    if title.endswith("]"):
        title = title[:-1].rstrip()
    kind = _TITLES.get(title)
    if kind:
        return kind, title
    if title.endswith("-unsafe lock order detected") and "-safe -> " in title and " " not in title.split(" -> ")[0]:
        return "irq_safe_unsafe", title
    return None


def _find_title(content: str, nxt: str | None) -> tuple[str, str, str, bool] | None:
    """Spot a report's title line.

    Returns ``(kind, title, prefix, uses_next_line)``: *prefix* is whatever
    unknown decoration precedes the tag (stripped from the following lines
    when they carry it too), *uses_next_line* says the title was wrapped.
    """
    for tag in ("WARNING:", "[ INFO:"):
        i = content.find(tag)
        if i < 0:
            continue
        rest = content[i + len(tag):] if tag == "WARNING:" else content[i:]
        got = _title_of(rest)
        if got:
            return got[0], got[1], content[:i], False
        if nxt is not None and nxt.strip() and len(nxt) < 80:
            got = _title_of(rest + " " + nxt)
            if got:
                return got[0], got[1], content[:i], True
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


def _frame_function(s: str) -> str | None:
    """Function name of one stack-trace line, or None if it is not a frame."""
    s = s.strip()
    m = _ADDR_FRAME.match(s)
    if m:
        s = s[m.end():].lstrip()
    if not s or s.startswith("?"):
        return None
    token = s.split(None, 1)[0]
    plus = token.find("+0x")
    if plus >= 0:
        token = token[:plus]
    return token if _FUNC.fullmatch(token) else None


def _task_of(s: str) -> str | None:
    """``comm/pid`` of a task line, or None."""
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
    joined = p + " " + q
    if (p.startswith("WARNING:") or p.startswith("[ INFO:")) and _title_of(p.split(":", 1)[1]) is None \
            and _title_of(joined.split(":", 1)[1]) is not None:
        return True
    if (_task_of(p) is None and _task_of(q) is None and _task_of(joined) is not None
            and (len(q) <= 40 or q.startswith("[HC"))):
        return True
    if _HELD_COUNT.match(p) and not p.endswith(":") and q.endswith(":") and len(q) <= 80:
        return True
    if joined in _MARKERS and p not in _MARKERS:
        return True
    if "(" in p and "){" not in p and "){" in q and (_lock_class(joined) is not None or joined.startswith("->")):
        return True
    if _is_version(p) and (q.startswith("tainted") or q.startswith("Tainted") or q.startswith("Not tainted")):
        return True
    return False


# A wrapped line rarely needs more than a few pieces; the cap keeps joining
# linear even when a prefixed line is followed by pages of unprefixed prose.
_MAX_PIECES = 16


def _logical_lines(lines: list[tuple[str, bool, int]]) -> list[tuple[str, int]]:
    """Undo line breaks that are not the kernel's.

    In a log where lines carry prefixes (dmesg, syslog), a non-blank line
    without one can only be the rest of the line before it: either a record
    the kernel printed with embedded newlines, or a mail-client wrap. Without
    prefixes, :func:`_continues` recognises wraps by what the lines say.
    """
    out: list[list] = []  # [pieces, prefixed, lineno]
    for text, prefixed, lineno in lines:
        if out and text.strip() and not prefixed:
            pieces, last_prefixed, _ = out[-1]
            if len(pieces) < _MAX_PIECES and (
                    last_prefixed or (pieces[-1].strip() and _continues(pieces[-1], text))):
                if len(pieces) == 1 and not pieces[0]:
                    # "[  585.043919]" then "   but task is ...": the record
                    # starts on the continuation line, indentation and all.
                    pieces[0] = text
                elif len(pieces) == 1 and not pieces[0].strip():
                    # A wrap inside the indentation (a scenario row of a
                    # syslog line): the blanks before the break are the
                    # indentation, the break itself was one more blank.
                    pieces[0] = pieces[0] + " " + text.lstrip()
                else:
                    pieces.append(text)
                continue
        out.append([[text], prefixed, lineno])
    result = []
    for pieces, _, lineno in out:
        if len(pieces) == 1:
            result.append((pieces[0], lineno))
        else:
            result.append((" ".join([pieces[0].rstrip()] + [p.strip() for p in pieces[1:]]), lineno))
    return result


def _indent(s: str) -> int:
    s = s.expandtabs(8)
    return len(s) - len(s.lstrip())


def _assign_cpus(rows: list[tuple[int, str]], ncpu: int) -> tuple[tuple[str, str], ...]:
    """Give each scenario row its column.

    Absolute indentation cannot be trusted (web archives and dmesg eat
    leading blanks), so rows are placed by indentation relative to the first
    row, which is always CPU0. When that is ambiguous, the fixed layouts of
    lockdep's scenario printers decide.
    """
    if not rows:
        return ()
    if ncpu < 2:
        return tuple(("CPU0", op) for _, op in rows)
    base = rows[0][0]
    cpus: list[str] = []
    for ind, _ in rows:
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
        cpus = ["CPU0" if ind == base else "CPU1" for ind, _ in rows]
    return tuple(zip(cpus, ops))


# --- one report ---------------------------------------------------------------

class _Unusable(Exception):
    """A title was found but the report carries too little to identify it."""


def _parse_report(kind: str, title: str, lines: list[tuple[str, int]]) -> Splat:
    """Parse the logical lines of one report; ``lines[0]`` is the title."""
    n = len(lines)
    strip = [t.strip() for t, _ in lines]

    # Header: version line, then the task line a few lines down.
    kernel = None
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
    held = None
    chain: list[str] = []
    stacks: list[list[str]] = []
    exists: tuple[str, ...] = ()
    scenario: tuple[tuple[str, str], ...] = ()
    count = None
    held_list: list[str] = []
    last_index = None
    section = None  # "chain" while reading a chain entry's stack, "held" for #k lines

    j = task_at + 1
    while j < n:
        s = strip[j]
        if s.startswith("stack backtrace:"):
            break
        if not s:
            # Lockdep ends the stack of a chain entry and the list of held
            # locks with an empty line.
            section = None
            j += 1
            continue
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
            continue
        elif count is None and _HELD_COUNT.match(s) and s.endswith(":"):
            count = int(_HELD_COUNT.match(s).group(1))
            section = "held"
        elif count is None and s.startswith("no locks held by "):
            count = 0
            section = None
        elif section == "chain":
            fn = _frame_function(s)
            if fn is not None:
                stacks[-1].append(fn)
        elif section == "held":
            # Lines that are not "#k:" are the tails of wrapped "#k:" lines.
            m = _HELD_INDEX.match(s)
            if m:
                cls = _lock_class(s)
                idx = m.group(1)
                if cls is not None and idx != last_index:
                    held_list.append(cls)
                    last_index = idx
        j += 1

    return Splat(
        kind=kind, title=title, task_comm=task, acquiring_lock=acquiring,
        held_lock=held, chain=tuple(chain), chain_stacks=tuple(tuple(s) for s in stacks),
        chain_exists_of=exists, scenario=scenario, locks_held_count=count,
        locks_held=tuple(held_list), kernel=kernel)


def _read_scenario(lines: list[tuple[str, int]], strip: list[str], j: int) -> tuple[int, tuple]:
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
            rows.append((_indent(lines[j][0]), s[:-1].rstrip() if s.endswith(";") else s))
        else:
            break
        j += 1
    if ncpu == 0:
        ncpu = 2 if any(ind - rows[0][0] >= 10 for ind, _ in rows) else 1
    return j, _assign_cpus(rows, ncpu)


# --- public API ------------------------------------------------------------

def _physical_lines(text: str) -> list[tuple[str, bool, int]]:
    out = []
    for lineno, raw in enumerate(_LINE_BREAK.split(text), start=1):
        content, had = _normalise(raw)
        out.append((content, had, lineno))
    return out


def _reports(text: str, source: str | None, first_only: bool) -> list[Splat]:
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        raise TypeError(f"expected str, got {type(text).__name__}")
    where = source if source is not None else "<string>"
    phys = _physical_lines(text)
    starts: list[tuple[int, str, str, str, bool]] = []
    for k, (content, _, _) in enumerate(phys):
        nxt = phys[k + 1][0] if k + 1 < len(phys) else None
        got = _find_title(content, nxt)
        if got:
            starts.append((k, *got))
    found: list[Splat] = []
    first_error: SplatError | None = None
    for idx, (k, kind, title, prefix, wrapped) in enumerate(starts):
        end = starts[idx + 1][0] if idx + 1 < len(starts) else len(phys)
        region = phys[k:end]
        if wrapped and len(region) > 1:
            region = [region[0]] + [("", region[1][1], region[1][2])] + region[2:]
        if prefix.strip():
            # An unknown but constant decoration ("| ", "kern  :warn  : ")
            # in front of the title is dropped wherever the report repeats it.
            fixed = []
            for content, had, lineno in region:
                if content.startswith(prefix):
                    content, had2 = _strip_log_prefixes(content[len(prefix):])
                    had = had or had2
                fixed.append((content, had, lineno))
            region = fixed
        logical = _logical_lines(region)
        logical[0] = ("WARNING: " + title, logical[0][1])
        try:
            found.append(_parse_report(kind, title, logical))
        except _Unusable as e:
            if first_error is None:
                first_error = SplatError(f"{where}:{phys[k][2]}: {e}")
            continue
        if first_only:
            break
    if not found:
        if first_error is not None:
            raise first_error
        raise SplatError(f"no lockdep report found in {where}")
    return found


def parse(text: str, source: str | None = None) -> Splat:
    """The first lockdep report in *text*.

    Parameters
    ----------
    text : str
        Any text: a dmesg dump, a syslog excerpt, a mail with quoted reports.
        ``bytes`` are decoded as UTF-8 (undecodable bytes replaced).
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
    ... > rmmod/1227 [HC0[0]:SC0[0]:HE1:SE1] takes:
    ... > ffff888156a83530 (&dev->lock#2){+.?.}-{2:2}, at: mt76_dma_cleanup+0x125/0x150''')
    >>> s.kind, s.task_comm, s.acquiring_lock
    ('inconsistent', 'rmmod/1227', '&dev->lock#2')
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


def parse_file(path: str | os.PathLike) -> Splat:
    """The first lockdep report in the file at *path*.

    The file is read as UTF-8 with undecodable bytes replaced; errors name
    the path.

    Raises
    ------
    SplatError
        If the file holds no usable report.
    OSError
        If the file cannot be read.
    """
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        text = f.read()
    return parse(text, source=os.fspath(path))
