"""One look for every view: static figures, graphs and the browser stepper.

Colours are the Okabe–Ito palette (distinguishable with the common forms of
colour blindness), and every lock class also gets a hatch pattern and a
marker, so colour is never the only cue. Colours are mid-tones that read on
both a white and a dark (JupyterLab dark theme) background.

>>> lock_style(0)["color"], lock_style(0)["hatch"]
('#E69F00', '//')
"""

from __future__ import annotations

__all__ = ["PALETTE", "HATCHES", "MARKERS", "EVENT_STYLE", "THEMES", "STATE_STYLE", "FINDING_COLOR", "lock_style",
           "style_table", "text_on"]

# Okabe & Ito (2008), without black (it vanishes on a dark theme).
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999")
HATCHES = ("//", "..", "xx", "\\\\", "oo", "--", "++", "**")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
# The same patterns as SVG pattern ids / CSS names, for the browser stepper.
SVG_PATTERNS = ("diag", "dots", "cross", "rdiag", "rings", "horiz", "plus", "stars")

# Events on a timeline: a shape and a word, never a colour alone. The first
# group are findings (drawn in FINDING_COLOR); the second what carries a bug
# besides locks (labkit.render.events), drawn in the text colour: hollow
# shapes for what only reads or counts up, filled for what changes or ends.
EVENT_STYLE = {
    "block": {"marker": "|", "label": "waits"},
    "free": {"marker": "x", "label": "kfree"},
    "get": {"marker": "^", "label": "get (count after)", "hollow": True},
    "put": {"marker": "v", "label": "put (count after)", "hollow": True},
    "last_put": {"marker": "v", "label": "last put: runs the release"},
    "alloc": {"marker": "P", "label": "alloc"},
    "use": {"marker": "o", "label": "use"},
    "read": {"marker": "o", "label": "reads a shared variable", "hollow": True},
    "write": {"marker": "D", "label": "writes a shared variable"},
    "noop": {"marker": "o", "label": "no-op: the line is only a comment", "hollow": True},
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
FINDING_KINDS = ("deadlock", "use_after_free", "double_free", "refcount", "warn")

# The lanes of shared state under the cpus' lanes: a refcount's count, an
# object's life, a variable's value (a fill and a pattern each, as the locks).
STATE_STYLE = {
    "ref": {"color": "#CC79A7", "pattern": "horiz", "label": "refcount"},
    "object": {"color": "#009E73", "pattern": "dots", "label": "object"},
    "var": {"color": "#56B4E9", "pattern": None, "label": "variable"},
}


def text_on(color: str) -> str:
    """Black or white text, whichever contrasts more with a fill colour (WCAG).

    >>> text_on("#F0E442"), text_on("#0072B2")
    ('#111111', '#FFFFFF')
    """
    r, g, b = (int(color[i:i + 2], 16) / 255 for i in (1, 3, 5))
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    lum = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return "#111111" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#FFFFFF"


def lock_style(i: int) -> dict:
    """Colour, hatch, marker and svg pattern for the ``i``-th lock class."""
    n = len(PALETTE)
    return {"color": PALETTE[i % n], "hatch": HATCHES[i % n], "marker": MARKERS[i % n],
            "pattern": SVG_PATTERNS[i % n]}


def style_table(lock_names) -> dict[str, dict]:
    """A style per lock, in declaration order (the same lock gets the same look everywhere)."""
    return {name: lock_style(i) for i, name in enumerate(lock_names)}
