"""One layout, two painters: a picture as a list of drawing primitives.

Every picture the lab draws (a timeline, a before/after, a graph laid out
without graphviz) is computed once, in pure Python, as a :class:`Scene`: a
size in CSS pixels, a short title, the picture's text rendering, and a list
of primitives — :class:`Rect` (with a hatch pattern), :class:`Line`,
:class:`Poly`, :class:`Circle`, :class:`Curve` (an arrow), :class:`Text` (one
line, its width known from :mod:`labkit.render.fonts`). Two painters turn it
into pixels:

* :func:`labkit.render.svg.to_svg` — SVG text, the default in notebooks: no
  matplotlib, numpy or ``dot`` needed, so it also works in JupyterLite, and
  it scales crisply on a projector;
* :func:`labkit.render.mpl.to_axes` — a matplotlib figure, for PNG export.

Colours are either ``#RRGGBB`` or a *role* the painter resolves for the
theme: ``fg`` (text and lines), ``muted``, ``grid``, ``bg``, and
``pale:#RRGGBB`` (a colour half-way to the page, so a read hold looks
lighter than a write hold on any background). Coordinates are pixels, y
down; a :class:`Text`'s ``y`` is its baseline.

>>> s = Scene(100, 40, "a box")
>>> s.add(Rect(10, 10, 30, 20, fill="#E69F00", hatch="diag", gid="hold:CPU0:A:1"),
...       Text(50, 25, "A", gid="label"))
>>> [type(i).__name__ for i in s.items], s.find("hold:")[0].w
(['Rect', 'Text'], 30)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from .fonts import text_width

__all__ = ["Scene", "Rect", "Line", "Poly", "Circle", "Curve", "Text", "marker", "arrow_geometry",
           "text_extent", "MARKER_SHAPES"]


@dataclass
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str | None = None
    stroke: str | None = None
    width: float = 1.0
    dash: str | None = None          # None, "dash" or "dot"
    hatch: str | None = None         # an SVG pattern name from style.SVG_PATTERNS
    hatch_color: str | None = None
    hatch_dense: bool = True         # False: half the density (a read hold)
    opacity: float = 1.0
    rx: float = 0.0
    gid: str = ""


@dataclass
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    stroke: str = "fg"
    width: float = 1.0
    dash: str | None = None
    opacity: float = 1.0
    gid: str = ""


@dataclass
class Poly:
    points: tuple
    fill: str | None = None
    stroke: str | None = None
    width: float = 1.0
    closed: bool = True
    gid: str = ""


@dataclass
class Circle:
    x: float
    y: float
    r: float
    fill: str | None = None
    stroke: str | None = None
    width: float = 1.0
    gid: str = ""


@dataclass
class Curve:
    """A quadratic Bézier from ``p0`` through control ``p1`` to ``p2``; with
    ``head``, an arrowhead at ``p2`` (see :func:`arrow_geometry`)."""

    p0: tuple
    p1: tuple
    p2: tuple
    stroke: str = "fg"
    width: float = 1.5
    dash: str | None = None
    head: bool = True
    head_size: float = 9.0
    gid: str = ""


@dataclass
class Text:
    x: float
    y: float                          # the baseline
    text: str
    size: float = 12.0
    anchor: str = "start"             # "start", "middle" or "end"
    weight: str = "normal"            # "normal" or "bold"
    color: str = "fg"
    mono: bool = False
    italic: bool = False
    box: str | None = None            # a fill behind the text (e.g. the bar's colour)
    gid: str = ""

    @property
    def width(self) -> float:
        return text_width(self.text, self.size, self.weight == "bold", self.mono)


def text_extent(t: Text, pad: float = 0.0) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)`` of a text's box (ascent 0.78 em, descent 0.24 em)."""
    w = t.width
    x0 = t.x - (w / 2 if t.anchor == "middle" else w if t.anchor == "end" else 0)
    return x0 - pad, t.y - 0.78 * t.size - pad, x0 + w + pad, t.y + 0.24 * t.size + pad


@dataclass
class Scene:
    """A picture: ``width`` x ``height`` px, its ``title`` and ``desc`` (the
    text rendering, for screen readers and as SVG ``<desc>``), its items."""

    width: float
    height: float
    title: str = ""
    desc: str = ""
    items: list = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def add(self, *items) -> None:
        self.items.extend(items)

    def find(self, prefix: str) -> list:
        """Items whose ``gid`` starts with ``prefix``."""
        return [i for i in self.items if getattr(i, "gid", "").startswith(prefix)]

    def texts(self) -> list[str]:
        return [i.text for i in self.items if isinstance(i, Text)]

    def place(self, other: "Scene", dx: float, dy: float) -> None:
        """Copy ``other``'s items into this scene, moved by ``(dx, dy)``."""
        self.items.extend(_moved(i, dx, dy) for i in other.items)


def _moved(item, dx: float, dy: float):
    if isinstance(item, (Rect, Circle, Text)):
        return replace(item, x=item.x + dx, y=item.y + dy)
    if isinstance(item, Line):
        return replace(item, x1=item.x1 + dx, y1=item.y1 + dy, x2=item.x2 + dx, y2=item.y2 + dy)
    if isinstance(item, Poly):
        return replace(item, points=tuple((x + dx, y + dy) for x, y in item.points))
    if isinstance(item, Curve):
        return replace(item, p0=(item.p0[0] + dx, item.p0[1] + dy), p1=(item.p1[0] + dx, item.p1[1] + dy),
                       p2=(item.p2[0] + dx, item.p2[1] + dy))
    raise TypeError(f"not a scene item: {item!r}")


# ---------------------------------------------------------------------------
# Markers: a shape, never a colour alone

# matplotlib's marker codes (style.EVENT_STYLE, style.MARKERS) -> shape names
MARKER_SHAPES = {"o": "circle", "s": "square", "^": "triangle_up", "v": "triangle_down", "D": "diamond",
                 "x": "x", "X": "x", "*": "star", "P": "plus", "+": "plus", "|": "bar", "d": "diamond"}


def _star(x, y, r, n=5, inner=0.45):
    pts = []
    for i in range(2 * n):
        a = -math.pi / 2 + i * math.pi / n
        rr = r if i % 2 == 0 else r * inner
        pts.append((x + rr * math.cos(a), y + rr * math.sin(a)))
    return tuple(pts)


def _cross(x, y, r, t, angle):
    """A plus (angle 0) or an x (angle 45°) of arm half-width ``t``, as one polygon."""
    base = [(-t, -r), (t, -r), (t, -t), (r, -t), (r, t), (t, t), (t, r), (-t, r), (-t, t), (-r, t), (-r, -t),
            (-t, -t)]
    c, s = math.cos(angle), math.sin(angle)
    return tuple((x + px * c - py * s, y + px * s + py * c) for px, py in base)


def marker(shape: str, x: float, y: float, r: float = 5.0, fill: str | None = "fg", stroke: str | None = None,
           width: float = 1.2, gid: str = "") -> list:
    """The items of a marker of ``shape`` (a name or a matplotlib code) centred at ``(x, y)``.

    Hollow markers: ``fill=None`` and a ``stroke``.

    >>> [type(i).__name__ for i in marker("v", 10, 10)], len(marker("star", 0, 0)[0].points)
    (['Poly'], 10)
    """
    shape = MARKER_SHAPES.get(shape, shape)
    if shape == "circle":
        return [Circle(x, y, r * 0.85, fill, stroke, width, gid)]
    if shape == "square":
        q = r * 0.8
        return [Poly(((x - q, y - q), (x + q, y - q), (x + q, y + q), (x - q, y + q)), fill, stroke, width, gid=gid)]
    if shape == "triangle_up":
        return [Poly(((x, y - r), (x + r, y + r * 0.75), (x - r, y + r * 0.75)), fill, stroke, width, gid=gid)]
    if shape == "triangle_down":
        return [Poly(((x, y + r), (x + r, y - r * 0.75), (x - r, y - r * 0.75)), fill, stroke, width, gid=gid)]
    if shape == "diamond":
        return [Poly(((x, y - r), (x + r * 0.8, y), (x, y + r), (x - r * 0.8, y)), fill, stroke, width, gid=gid)]
    if shape == "star":
        return [Poly(_star(x, y, r * 1.2), fill, stroke, width, gid=gid)]
    if shape == "x":
        return [Poly(_cross(x, y, r, r * 0.28, math.pi / 4), fill, stroke, width, gid=gid)]
    if shape == "plus":
        return [Poly(_cross(x, y, r, r * 0.28, 0.0), fill, stroke, width, gid=gid)]
    if shape == "bar":
        return [Line(x, y - r, x, y + r, stroke=fill or stroke or "fg", width=max(width, 1.6), gid=gid)]
    raise ValueError(f"unknown marker shape {shape!r}")


def arrow_geometry(c: Curve):
    """The shaft (three points of a quadratic Bézier, ending at the head's
    base) and the head (a triangle) of an arrow; both painters use this."""
    (x0, y0), (x1, y1), (x2, y2) = c.p0, c.p1, c.p2
    if not c.head:
        return (c.p0, c.p1, c.p2), None
    dx, dy = x2 - x1, y2 - y1
    if abs(dx) + abs(dy) < 1e-9:
        dx, dy = x2 - x0, y2 - y0
    d = math.hypot(dx, dy) or 1.0
    ux, uy = dx / d, dy / d
    h = c.head_size
    bx, by = x2 - ux * h, y2 - uy * h
    head = ((x2, y2), (bx - uy * h * 0.45, by + ux * h * 0.45), (bx + uy * h * 0.45, by - ux * h * 0.45))
    # The shaft stops inside the head, so a thick dashed line does not poke through its tip.
    sx, sy = x2 - ux * h * 0.7, y2 - uy * h * 0.7
    return ((x0, y0), (x1, y1), (sx, sy)), head
