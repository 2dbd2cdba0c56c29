"""One look for every view: static figures, graphs and the browser stepper.

Colours are the Okabe–Ito palette (distinguishable with the common forms of
colour blindness), and every lock class also gets a hatch pattern and a
marker, so colour is never the only cue. Colours are mid-tones that read on
both a white and a dark (JupyterLab dark theme) background.

>>> lock_style(0)["color"], lock_style(0)["hatch"]
('#E69F00', '//')
"""

from __future__ import annotations

__all__ = ["PALETTE", "HATCHES", "MARKERS", "EVENT_STYLE", "THEMES", "lock_style", "style_table"]

# Okabe & Ito (2008), without black (it vanishes on a dark theme).
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999")
HATCHES = ("//", "..", "xx", "\\\\", "oo", "--", "++", "**")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
# The same patterns as SVG pattern ids / CSS names, for the browser stepper.
SVG_PATTERNS = ("diag", "dots", "cross", "rdiag", "rings", "horiz", "plus", "stars")

# Events on a timeline: a shape and a word, never a colour alone.
EVENT_STYLE = {
    "block": {"marker": "|", "label": "waits"},
    "free": {"marker": "x", "label": "kfree"},
    "use_after_free": {"marker": "*", "label": "use after free"},
    "double_free": {"marker": "*", "label": "double free"},
    "refcount": {"marker": "*", "label": "refcount bug"},
    "warn": {"marker": "^", "label": "WARN"},
    "deadlock": {"marker": "X", "label": "deadlock"},
}
# Foreground and background per theme: figures and graphs keep a transparent
# background, so only text and line colours follow the notebook's theme.
THEMES = {
    "light": {"fg": "#222222", "bg": "#FFFFFF", "muted": "#6B6B6B", "grid": "#D0D0D0"},
    "dark": {"fg": "#E8E8E8", "bg": "#1A1A1A", "muted": "#A0A0A0", "grid": "#3A3A3A"},
}
FINDING_COLOR = "#D55E00"   # vermillion: findings, cycles (also drawn bold and dashed)


def lock_style(i: int) -> dict:
    """Colour, hatch, marker and svg pattern for the ``i``-th lock class."""
    n = len(PALETTE)
    return {"color": PALETTE[i % n], "hatch": HATCHES[i % n], "marker": MARKERS[i % n],
            "pattern": SVG_PATTERNS[i % n]}


def style_table(lock_names) -> dict[str, dict]:
    """A style per lock, in declaration order (the same lock gets the same look everywhere)."""
    return {name: lock_style(i) for i, name in enumerate(lock_names)}
