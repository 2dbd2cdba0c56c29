"""The matplotlib painter: a :class:`~labkit.render.scene.Scene` on an axes, for PNG export.

The same scene as the SVG, painted with matplotlib artists in the scene's
own pixel coordinates (y down): one artist per item, in order, each keeping
the item's ``gid`` — a :class:`~labkit.render.scene.Rect` is a
``Rectangle`` with its hatch, a marker a ``Polygon``/``Circle``, an arrow a
``PathPatch`` and its head. Only this module (and the two ``draw_*`` helpers
built on it) imports matplotlib; nothing in a notebook needs it.

``theme="auto"`` paints the light theme (a PNG cannot follow the page).
"""

from __future__ import annotations

from .fonts import MONO_FAMILY
from .scene import Circle, Curve, Line, Poly, Rect, Text, arrow_geometry, text_extent
from .style import HATCHES, SVG_PATTERNS, THEMES
from .svg import resolve

__all__ = ["to_axes", "figure_png", "PX_PER_INCH"]

PX_PER_INCH = 100          # one scene pixel = 1/100 inch (so 0.72 pt)
_PT = 72 / PX_PER_INCH
_LS = {None: "-", "dash": (0, (5, 3.5)), "dot": (0, (1.2, 2.5)), "dashdot": (0, (5, 2.5, 1.2, 2.5))}


def _rgba(color, theme, opacity=1.0):
    if color is None:
        return "none"
    from matplotlib.colors import to_rgba
    c, a = resolve(color, theme)
    if c == "currentColor" or c.startswith("var("):      # only in "auto", mapped to light above
        c = THEMES["light"]["fg"]
    return to_rgba(c, a * opacity)


def _hatch(name: str, dense: bool) -> str:
    h = HATCHES[SVG_PATTERNS.index(name)]
    return h if dense else h[0]


def to_axes(scene, ax=None, theme: str = "light"):
    """Paint ``scene`` on ``ax`` (a new figure of the scene's size when omitted); return the axes."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle as MCircle
    from matplotlib.patches import PathPatch, Polygon, Rectangle
    from matplotlib.path import Path

    if theme == "auto":
        theme = "light"
    if theme not in THEMES:
        raise ValueError(f"theme must be one of {', '.join(THEMES)}, not {theme!r}")
    th = THEMES[theme]
    if ax is None:
        fig = plt.figure(figsize=(scene.width / PX_PER_INCH, scene.height / PX_PER_INCH), dpi=PX_PER_INCH)
        ax = fig.add_axes((0, 0, 1, 1))
        fig.set_facecolor(th["bg"])
    elif theme == "dark":
        # A caller's light figure is theirs; a dark theme cannot be read on one.
        ax.figure.set_facecolor(th["bg"])
    ax.set_facecolor(th["bg"] if theme == "dark" else "none")
    ax.set_xlim(0, scene.width)
    ax.set_ylim(scene.height, 0)
    ax.set_axis_off()
    n = max(1, len(scene.items))
    for i, it in enumerate(scene.items):
        z = 1 + i / n          # the scene's order is the painting order
        gid = getattr(it, "gid", "") or None
        if isinstance(it, Rect):
            face = _rgba(it.fill, theme, it.opacity) if it.fill else "none"
            kw = {}
            if it.hatch:
                kw["hatch"] = _hatch(it.hatch, it.hatch_dense)
                kw["hatchcolor"] = _rgba(it.hatch_color or "fg", theme)
            ax.add_patch(Rectangle((it.x, it.y), it.w, it.h, facecolor=face,
                                   edgecolor=_rgba(it.stroke, theme) if it.stroke else "none",
                                   lw=it.width * _PT if it.stroke else 0, ls=_LS[it.dash], zorder=z, gid=gid, **kw))
        elif isinstance(it, Line):
            ax.add_line(Line2D([it.x1, it.x2], [it.y1, it.y2], color=_rgba(it.stroke, theme, it.opacity),
                               lw=it.width * _PT, ls=_LS[it.dash], zorder=z, gid=gid, solid_capstyle="butt"))
        elif isinstance(it, Poly):
            ax.add_patch(Polygon(list(it.points), closed=it.closed,
                                 facecolor=_rgba(it.fill, theme) if it.fill else "none",
                                 edgecolor=_rgba(it.stroke, theme) if it.stroke else "none",
                                 lw=it.width * _PT if it.stroke else 0, joinstyle="round", zorder=z, gid=gid))
        elif isinstance(it, Circle):
            ax.add_patch(MCircle((it.x, it.y), it.r, facecolor=_rgba(it.fill, theme) if it.fill else "none",
                                 edgecolor=_rgba(it.stroke, theme) if it.stroke else "none",
                                 lw=it.width * _PT if it.stroke else 0, zorder=z, gid=gid))
        elif isinstance(it, Curve):
            (a, b, c), head = arrow_geometry(it)
            color = _rgba(it.stroke, theme)
            ax.add_patch(PathPatch(Path([a, b, c], [Path.MOVETO, Path.CURVE3, Path.CURVE3]), facecolor="none",
                                   edgecolor=color, lw=it.width * _PT, ls=_LS[it.dash], capstyle="round",
                                   zorder=z, gid=gid))
            if head:
                ax.add_patch(Polygon(list(head), closed=True, facecolor=color, edgecolor="none", zorder=z,
                                     gid=(gid + ":head") if gid else None))
        elif isinstance(it, Text):
            if it.box:
                x0, y0, x1, y1 = text_extent(it, pad=2)
                ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, facecolor=_rgba(it.box, theme),
                                       edgecolor="none", zorder=z))
            ax.text(it.x, it.y, it.text, fontsize=it.size * _PT, color=_rgba(it.color, theme),
                    ha={"start": "left", "middle": "center", "end": "right"}[it.anchor], va="baseline",
                    fontweight=it.weight, fontstyle="italic" if it.italic else "normal",
                    family=MONO_FAMILY.split(",")[0] if it.mono else "DejaVu Sans", zorder=z + 0.5 / n, gid=gid)
        else:
            raise TypeError(f"not a scene item: {it!r}")
    return ax


def figure_png(fig, dpi: int = 150) -> bytes:
    """The figure as PNG bytes; the figure is closed (so a notebook shows it once)."""
    import io

    import matplotlib.pyplot as plt
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor=fig.get_facecolor())
    plt.close(fig)
    return buf.getvalue()
