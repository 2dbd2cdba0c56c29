"""The SVG painter: a :class:`~labkit.render.scene.Scene` as SVG text, in pure Python.

Themes:

* ``"auto"`` (the default in notebooks): text and lines are
  ``currentColor``, muted and grid lines ``currentColor`` at a lower opacity,
  and a read hold's paler fill is its colour at half opacity over the page.
  Shown inline (``text/html``), the picture takes the colour of the text
  around it, so it follows JupyterLab's light or dark theme — or VS Code's,
  or any page's — with nothing to set. (JupyterLab shows ``image/svg+xml``
  through an ``<img>``, where the page's colours cannot reach; that is why
  the notebook views send the SVG inline.)
* ``"light"`` / ``"dark"``: fixed colours (``style.THEMES``); the dark theme
  paints its own background so it reads on any page.

The picture's title is its ``<title>`` and its text rendering its ``<desc>``
(``role="img"``, ``aria-labelledby`` both), so a screen reader gets the same
words as ``print(view)``. Ids are prefixed per picture, so several pictures
on one page never share a hatch pattern by accident.

>>> from labkit.render.scene import Scene, Rect, Text
>>> s = Scene(120, 40, "one bar", "CPU0 holds A")
>>> s.add(Rect(10, 10, 60, 16, fill="#E69F00", hatch="diag", hatch_color="#7F5800"), Text(80, 24, "A"))
>>> svg = to_svg(s)
>>> svg.startswith("<svg") and "<title" in svg and 'fill="currentColor"' in svg and "<pattern" in svg
True
"""

from __future__ import annotations

import hashlib
from html import escape

from .fonts import FONT_FAMILY, MONO_FAMILY
from .scene import Circle, Curve, Line, Poly, Rect, Text, arrow_geometry, text_extent
from .style import THEMES

__all__ = ["to_svg", "resolve", "mix"]

# Opacity of the roles in the "auto" theme (all drawn in currentColor).
_AUTO = {"fg": 1.0, "muted": 0.66, "grid": 0.2}
_DASH = {"dash": "6 4", "dot": "1.5 3", "dashdot": "6 3 1.5 3"}


def mix(color: str, other: str, t: float) -> str:
    """``color`` moved a fraction ``t`` towards ``other`` (both ``#RRGGBB``).

    >>> mix("#000000", "#FFFFFF", 0.5)
    '#808080'
    """
    a = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    b = [int(other[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02X}" for x, y in zip(a, b))


def resolve(color: str | None, theme: str) -> tuple[str, float]:
    """A scene colour (hex or role) as ``(css colour, opacity)`` for ``theme``.

    >>> resolve("muted", "auto"), resolve("muted", "dark"), resolve("pale:#000000", "light")
    (('currentColor', 0.66), ('#A0A0A0', 1.0), ('#808080', 1.0))
    """
    if color is None:
        return "none", 1.0
    if color.startswith("pale:"):
        base = color[5:]
        if theme == "auto":
            return base, 0.45
        return mix(base, THEMES[theme]["bg"], 0.5), 1.0
    if color in ("fg", "muted", "grid", "bg"):
        if theme == "auto":
            if color == "bg":
                return "var(--jp-layout-color0, #FFFFFF)", 1.0
            return "currentColor", _AUTO[color]
        return THEMES[theme][color], 1.0
    return color, 1.0


def _n(v: float) -> str:
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _paint(kind: str, color: str | None, theme: str, opacity: float = 1.0) -> str:
    """``fill="..."`` (or stroke) and its opacity; CSS variables go in ``style``."""
    c, a = resolve(color, theme)
    a *= opacity
    out = f'style="{kind}:{c}"' if c.startswith("var(") else f'{kind}="{c}"'
    if a < 0.999:
        out += f' {kind}-opacity="{_n(a)}"'
    return out


def _stroke(color, width, dash, theme, opacity=1.0) -> str:
    if color is None:
        return 'stroke="none"'
    out = _paint("stroke", color, theme, opacity) + f' stroke-width="{_n(width)}"'
    if dash:
        out += f' stroke-dasharray="{_DASH[dash]}"'
    return out


def _gid(item) -> str:
    return f' data-gid="{escape(item.gid)}"' if getattr(item, "gid", "") else ""


def _pattern(pid: str, name: str, color: str, dense: bool, theme: str) -> str:
    """An SVG hatch: the same eight patterns as the matplotlib hatches."""
    s = 7 if dense else 11
    c, a = resolve(color, theme)
    st = f'stroke="{c}" stroke-width="1.1" fill="none"' + (f' stroke-opacity="{_n(a)}"' if a < 1 else "")
    fl = f'fill="{c}"' + (f' fill-opacity="{_n(a)}"' if a < 1 else "")
    h = s / 2
    body = {
        "diag": f'<path d="M0,{s} L{s},0 M{-h},{h} L{h},{-h} M{h},{s + h} L{s + h},{h}" {st}/>',
        "rdiag": f'<path d="M0,0 L{s},{s} M{-h},{h} L{h},{s + h} M{h},{-h} L{s + h},{h}" {st}/>',
        "cross": f'<path d="M0,{s} L{s},0 M0,0 L{s},{s}" {st}/>',
        "dots": f'<circle cx="{h}" cy="{h}" r="1.1" {fl}/>',
        "rings": f'<circle cx="{h}" cy="{h}" r="{_n(s / 3.2)}" {st}/>',
        "horiz": f'<path d="M0,{h} L{s},{h}" {st}/>',
        "plus": f'<path d="M0,{h} L{s},{h} M{h},0 L{h},{s}" {st}/>',
        "stars": f'<path d="M{h},{h - 2} L{h},{h + 2} M{h - 1.8},{h - 1} L{h + 1.8},{h + 1} '
                 f'M{h - 1.8},{h + 1} L{h + 1.8},{h - 1}" {st}/>',
    }[name]
    return (f'<pattern id="{pid}" width="{s}" height="{s}" patternUnits="userSpaceOnUse">{body}</pattern>')


def to_svg(scene, theme: str = "auto") -> str:
    """The scene as one ``<svg>`` element (no XML prolog: it goes inline in HTML as it is)."""
    if theme not in ("auto", "light", "dark"):
        raise ValueError(f"theme must be 'auto', 'light' or 'dark', not {theme!r}")
    w, h = scene.width, scene.height
    key = f"{scene.title}|{scene.desc}|{_n(w)}x{_n(h)}|{theme}|{len(scene.items)}"
    p = "lk" + hashlib.sha1(key.encode()).hexdigest()[:8]
    defs: dict[tuple, str] = {}
    body: list[str] = []
    if theme == "dark":
        body.append(f'<rect width="{_n(w)}" height="{_n(h)}" fill="{THEMES["dark"]["bg"]}" rx="4"/>')

    def pattern_id(name, color, dense):
        k = (name, color, dense)
        if k not in defs:
            pid = f"{p}-h{len(defs)}"
            defs[k] = (pid, _pattern(pid, name, color, dense, theme))
        return defs[k][0]

    for it in scene.items:
        if isinstance(it, Rect):
            attrs = f'x="{_n(it.x)}" y="{_n(it.y)}" width="{_n(max(it.w, 0))}" height="{_n(max(it.h, 0))}"'
            if it.rx:
                attrs += f' rx="{_n(it.rx)}"'
            fill = _paint("fill", it.fill, theme, it.opacity) if it.fill else 'fill="none"'
            body.append(f'<rect {attrs} {fill} {_stroke(it.stroke, it.width, it.dash, theme)}{_gid(it)}/>')
            if it.hatch:
                pid = pattern_id(it.hatch, it.hatch_color or "fg", it.hatch_dense)
                body.append(f'<rect {attrs} fill="url(#{pid})" stroke="none"/>')
        elif isinstance(it, Line):
            body.append(f'<line x1="{_n(it.x1)}" y1="{_n(it.y1)}" x2="{_n(it.x2)}" y2="{_n(it.y2)}" '
                        f'{_stroke(it.stroke, it.width, it.dash, theme, it.opacity)}{_gid(it)}/>')
        elif isinstance(it, Poly):
            pts = " ".join(f"{_n(x)},{_n(y)}" for x, y in it.points)
            tag = "polygon" if it.closed else "polyline"
            fill = _paint("fill", it.fill, theme) if it.fill else 'fill="none"'
            body.append(f'<{tag} points="{pts}" {fill} {_stroke(it.stroke, it.width, None, theme)}'
                        f' stroke-linejoin="round"{_gid(it)}/>')
        elif isinstance(it, Circle):
            fill = _paint("fill", it.fill, theme) if it.fill else 'fill="none"'
            body.append(f'<circle cx="{_n(it.x)}" cy="{_n(it.y)}" r="{_n(it.r)}" {fill} '
                        f'{_stroke(it.stroke, it.width, None, theme)}{_gid(it)}/>')
        elif isinstance(it, Curve):
            (a, b, c), head = arrow_geometry(it)
            d = f"M{_n(a[0])},{_n(a[1])} Q{_n(b[0])},{_n(b[1])} {_n(c[0])},{_n(c[1])}"
            body.append(f'<path d="{d}" fill="none" {_stroke(it.stroke, it.width, it.dash, theme)}'
                        f' stroke-linecap="round"{_gid(it)}/>')
            if head:
                pts = " ".join(f"{_n(x)},{_n(y)}" for x, y in head)
                body.append(f'<polygon points="{pts}" {_paint("fill", it.stroke, theme)} stroke="none"/>')
        elif isinstance(it, Text):
            if it.box:
                x0, y0, x1, y1 = text_extent(it, pad=2)
                body.append(f'<rect x="{_n(x0)}" y="{_n(y0)}" width="{_n(x1 - x0)}" height="{_n(y1 - y0)}" '
                            f'{_paint("fill", it.box, theme)} stroke="none"/>')
            attrs = f'x="{_n(it.x)}" y="{_n(it.y)}" font-size="{_n(it.size)}"'
            if it.anchor != "start":
                attrs += f' text-anchor="{it.anchor}"'
            if it.weight != "normal":
                attrs += f' font-weight="{it.weight}"'
            if it.italic:
                attrs += ' font-style="italic"'
            if it.mono:
                attrs += f' font-family="{MONO_FAMILY}"'
            body.append(f'<text {attrs} {_paint("fill", it.color, theme)}{_gid(it)}>{escape(it.text, False)}</text>')
        else:
            raise TypeError(f"not a scene item: {it!r}")
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_n(w)}" height="{_n(h)}" '
            f'viewBox="0 0 {_n(w)} {_n(h)}" role="img" aria-labelledby="{p}-t {p}-d" class="labkit-figure" '
            f'font-family="{FONT_FAMILY}" font-size="12" style="max-width:100%;height:auto">')
    meta = f'<title id="{p}-t">{escape(scene.title, False)}</title><desc id="{p}-d">{escape(scene.desc, False)}</desc>'
    defs_s = "<defs>" + "".join(v for _, v in defs.values()) + "</defs>" if defs else ""
    return head + meta + defs_s + "\n" + "\n".join(body) + "\n</svg>"
