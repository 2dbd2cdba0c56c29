"""Text widths and line breaks without a font renderer.

The pictures are laid out in pure Python (so they draw in Pyodide, without
matplotlib), which needs to know how wide a label is. The tables below are
the advance widths of DejaVu Sans and DejaVu Sans Bold (printable ASCII, in
thousandths of an em), the font the SVG asks for first and matplotlib's own
default, so both painters agree with the layout. Where the browser falls
back to Verdana (about as wide) or a narrower sans-serif, text only gets
roomier.

Line breaks happen between words, and inside a long identifier only at a
sensible point — after ``->``, ``.``, ``_``, ``/``, ``,`` or ``(`` — never in
the middle of a word like ``CPU0`` and never between ``-`` and ``>``.

>>> round(text_width("CPU0", 12))
32
>>> wrap("zdev->s390_domain", 90, 12)
['zdev->', 's390_domain']
>>> wrap("waits for mirrors_sem held by CPU0", 120, 12)
['waits for', 'mirrors_sem held', 'by CPU0']
"""

from __future__ import annotations

__all__ = ["FONT_FAMILY", "MONO_FAMILY", "text_width", "wrap", "fit", "break_points"]

FONT_FAMILY = "DejaVu Sans, Verdana, Geneva, sans-serif"
MONO_FAMILY = "DejaVu Sans Mono, Menlo, Consolas, monospace"

# chr(32) .. chr(126)
_REGULAR = (
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337, 636, 636, 636, 636, 636, 636,
    636, 636, 636, 636, 337, 337, 838, 838, 838, 531, 1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656,
    557, 863, 748, 787, 603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500, 500, 613,
    635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612, 635, 635, 411, 521, 392, 634, 592, 818,
    592, 592, 525, 636, 337, 636, 838)
_BOLD = (
    348, 456, 521, 838, 696, 1002, 872, 306, 457, 457, 523, 838, 380, 415, 380, 365, 696, 696, 696, 696, 696, 696,
    696, 696, 696, 696, 400, 400, 838, 838, 838, 580, 1000, 774, 762, 734, 830, 683, 683, 821, 837, 372, 372, 775,
    637, 995, 837, 850, 733, 850, 770, 720, 682, 812, 774, 1103, 771, 724, 725, 457, 365, 457, 838, 500, 500, 675,
    716, 593, 716, 678, 435, 716, 712, 343, 343, 665, 343, 1042, 712, 687, 716, 716, 493, 595, 478, 712, 652, 924,
    645, 652, 582, 712, 365, 712, 838)
_MONO = 602
_OTHER = 800    # anything outside printable ASCII (arrows, dashes, ellipsis): a generous guess


def text_width(text: str, size: float, bold: bool = False, mono: bool = False) -> float:
    """Width in px of one line of ``text`` at ``size`` px."""
    if mono:
        return len(text) * _MONO * size / 1000
    table = _BOLD if bold else _REGULAR
    total = 0
    for ch in text:
        o = ord(ch)
        total += table[o - 32] if 32 <= o <= 126 else _OTHER
    return total * size / 1000


def break_points(word: str, weak: bool = True) -> list[int]:
    """Where a long identifier may break: indices just after ``->``, ``.``,
    ``/``, ``,``, ``(`` or ``:`` (and, if ``weak``, ``_``); never inside
    ``->``, never at the ends.

    >>> w = "zdev->s390_domain"
    >>> [w[:i] for i in break_points(w)], [w[:i] for i in break_points(w, weak=False)]
    (['zdev->', 'zdev->s390_'], ['zdev->'])
    """
    out = []
    for i, ch in enumerate(word[:-1]):
        if ch == ">" and i > 0 and word[i - 1] == "-":
            out.append(i + 1)
        elif i > 0 and (ch in "./,(:" or (weak and ch == "_")):
            out.append(i + 1)
    return out


def _split_word(word: str, width: float, size: float, bold: bool, mono: bool) -> list[str]:
    """A word wider than ``width``, cut at its break points (as few pieces as fit)."""
    pieces = []
    rest = word
    while text_width(rest, size, bold, mono) > width:
        # A member access (``->``, ``.``) is a better place than an underscore.
        cuts = [i for i in break_points(rest, weak=False) if text_width(rest[:i], size, bold, mono) <= width]
        if not cuts:
            cuts = [i for i in break_points(rest) if text_width(rest[:i], size, bold, mono) <= width]
        if not cuts:
            # No sensible point fits: take the first one anyway (the line runs
            # long), so a name is never cut in the middle of a word.
            bp = break_points(rest)
            if not bp:
                break
            cuts = [bp[0]]
        pieces.append(rest[:cuts[-1]])
        rest = rest[cuts[-1]:]
    pieces.append(rest)
    return pieces


def wrap(text: str, width: float, size: float, bold: bool = False, mono: bool = False) -> list[str]:
    """``text`` broken into lines no wider than ``width`` px where it can be.

    Breaks between words; a word too long for a line alone is cut at its
    :func:`break_points`. Explicit newlines are kept.
    """
    lines: list[str] = []
    for para in str(text).split("\n"):
        words = para.split()
        if not words:
            lines.append("")
            continue
        cur = ""
        for word in words:
            trial = f"{cur} {word}" if cur else word
            if text_width(trial, size, bold, mono) <= width:
                cur = trial
                continue
            if cur:
                lines.append(cur)
                cur = ""
            if text_width(word, size, bold, mono) <= width:
                cur = word
                continue
            pieces = _split_word(word, width, size, bold, mono)
            lines.extend(pieces[:-1])
            cur = pieces[-1]
        lines.append(cur)
    return lines


def fit(text: str, width: float, size: float, bold: bool = False, mono: bool = False) -> str:
    """``text`` on one line, cut at a word or break point with ``…`` when too wide.

    >>> fit("waits for matrix_dev->guests_lock", 110, 12)
    'waits for…'
    """
    if text_width(text, size, bold, mono) <= width:
        return text
    cuts = sorted({i for i, ch in enumerate(text) if ch == " "} | set(break_points(text)))
    for i in reversed(cuts):
        head = text[:i].rstrip()
        if head and text_width(head + "…", size, bold, mono) <= width:
            return head + "…"
    return ""
