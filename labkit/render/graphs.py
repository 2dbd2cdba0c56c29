"""Graphs: lockdep's lock-order graph and the wait-for graph at a step.

Two graphs explain a deadlock, and they are different on purpose:

* the **lock-order graph** (lockdep's dependency graph) has one node per lock
  *class*; an edge ``a -> b`` means "``b`` was acquired while holding ``a``".
  A cycle here is a deadlock that *could* happen, even in a run that did not
  deadlock — which is what lockdep reports;
* the **wait-for graph** of one state has one node per cpu; an edge
  ``CPU0 -> CPU1`` labelled with a lock means "CPU0 waits for that lock, and
  CPU1 is why". A cycle here is a deadlock that *has* happened.

Both are ``networkx.DiGraph`` values, turned into DOT source for graphviz
(:func:`lock_order_dot`, :func:`wait_for_dot`), drawn on a matplotlib axes
(:func:`draw_graph`) or rendered to SVG for a notebook (:func:`render_svg`).
Cycle edges are vermillion (``FINDING_COLOR``) *and* bold dashed *and*
labelled ``(cycle)``, so colour is never the only cue.

Without graphviz's ``dot`` program, :func:`draw_graph` draws with networkx
and matplotlib instead and says so once; :func:`render_svg` returns ``None``.

>>> from labkit.cases import program
>>> from labkit.trace import replay
>>> t = replay(program("abba", "before"), "CPU0 CPU1 CPU0 CPU1")
>>> g = lock_order_graph(t)
>>> sorted(g.edges), g.edges["A", "B"]["stack"], g.edges["A", "B"]["cpu"]
([('A', 'B'), ('B', 'A')], ('path_one', 'sys_ioctl'), 'CPU0')
"""

from __future__ import annotations

import re
import shutil
import warnings

import networkx as nx

from ..semantics import DONE, WAIT, deadlock_cycles, wait_for_edges
from .style import FINDING_COLOR, THEMES, lock_style
from .text import caller_frame, cycle_edges

__all__ = ["GraphvizMissingWarning", "lock_order_graph", "wait_for_graph", "lock_order_dot",
           "wait_for_dot", "graph_dot", "draw_graph", "render_svg", "have_dot"]

_FONT = "DejaVu Sans"
_PNG_DPI = 150


class GraphvizMissingWarning(UserWarning):
    """graphviz's ``dot`` is missing or failed: a graph was drawn by networkx instead."""


def _theme(theme: str) -> dict:
    try:
        return THEMES[theme]
    except KeyError:
        raise ValueError(f"theme must be one of {', '.join(THEMES)}, not {theme!r}") from None


def _text_on(color: str) -> str:
    """Black or white text, whichever contrasts more with a fill colour (WCAG)."""
    r, g, b = (int(color[i:i + 2], 16) / 255 for i in (1, 3, 5))
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    lum = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    return "#111111" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#FFFFFF"


# ---------------------------------------------------------------------------
# Building the graphs

def _mark_cycles(g: nx.DiGraph) -> nx.DiGraph:
    on = {(c[i], c[(i + 1) % len(c)]) for c in nx.simple_cycles(g) for i in range(len(c))}
    for a, b, d in g.edges(data=True):
        d["cycle"] = (a, b) in on
    return g


def lock_order_graph(traces) -> nx.DiGraph:
    """Lockdep's dependency graph of one trace or several, ready to draw.

    This is :class:`labkit.lockdep.Lockdep`'s own graph (one source of truth
    for lockdep's rules), watched with ``keep_going`` so every cycle shows, and
    with ``cycle=True`` on each edge that lies on a cycle. Node attributes:
    ``locks``, ``index``; edge attributes: ``cpu``, ``stack`` (function names,
    innermost first), ``step``, ``text``, ``closes_cycle`` — see
    :mod:`labkit.lockdep`.

    Parameters
    ----------
    traces : Trace or iterable of Trace
        Runs whose lock classes are merged, as lockdep merges everything the
        kernel ran since boot.
    """
    from ..lockdep import Lockdep
    if hasattr(traces, "steps"):
        traces = [traces]
    ld = Lockdep(keep_going=True)
    for tr in traces:
        ld.observe(tr)
    g = ld.graph
    g.graph["kind"] = "lock_order"
    _mark_cycles(g)
    return g


def wait_for_graph(prog, state) -> nx.DiGraph:
    """The wait-for graph of one state, from :func:`labkit.semantics.wait_for_edges`.

    Nodes are cpu names (every cpu, so idle ones show too) with a ``status``
    (``running``, ``blocked``, ``finished``); an edge ``(waiter, holder)`` has
    ``lock`` (its name), ``index`` (the lock's declaration index),
    ``queued`` (True when the holder does not hold it but is a writer queued
    ahead, as an rwsem makes readers wait) and ``cycle``.

    >>> from labkit.cases import program
    >>> from labkit.trace import replay
    >>> p = program("abba", "before")
    >>> g = wait_for_graph(p, replay(p, "CPU0 CPU1 CPU0 CPU1").final)
    >>> g.edges["CPU0", "CPU1"]["lock"], g.edges["CPU0", "CPU1"]["cycle"]
    ('B', True)
    """
    names = prog.cpu_names
    g = nx.DiGraph(kind="wait_for")
    for i, n in enumerate(names):
        st = state.threads[i].status
        g.add_node(n, status="finished" if st == DONE else "blocked" if st == WAIT else "running")
    on_cycle = {(w, h) for cyc in deadlock_cycles(prog, state) for w, h, _ in cyc}
    for w, h, l in wait_for_edges(prog, state):
        holds = h == state.owner[l] or h in state.readers[l]
        g.add_edge(names[w], names[h], lock=prog.locks[l].name, index=l, queued=not holds,
                   cycle=(w, h) in on_cycle)
    return g


# ---------------------------------------------------------------------------
# DOT

def _lock_index(prog, node, k: int, d: dict) -> int:
    """Which palette entry a lock-class node gets: its declaration index, as on the timelines."""
    if "index" in d:
        return d["index"]
    if prog is not None:
        for i, decl in enumerate(prog.locks):
            if node in (decl.cls, decl.name):
                return i
    return k


def graph_dot(graph: nx.DiGraph, cycle=None, theme: str = "light", prog=None) -> str:
    """DOT source for either graph; see :func:`lock_order_dot` and :func:`wait_for_dot`."""
    import graphviz

    th = _theme(theme)
    wait_for = graph.graph.get("kind") == "wait_for" or any("lock" in d for _, _, d in graph.edges(data=True))
    marked = None if cycle is None else cycle_edges(cycle)
    dot = graphviz.Digraph(
        "wait_for" if wait_for else "lock_order",
        graph_attr={"bgcolor": "transparent", "rankdir": "LR", "fontname": _FONT, "fontcolor": th["fg"],
                    "nodesep": "0.9", "ranksep": "1.3", "pad": "0.2"},
        node_attr={"fontname": _FONT, "fontsize": "12", "color": th["fg"], "fontcolor": th["fg"],
                   "penwidth": "1.4"},
        edge_attr={"fontname": _FONT, "fontsize": "10", "color": th["fg"], "fontcolor": th["fg"],
                   "penwidth": "1.4", "arrowsize": "0.9"})
    for k, (n, d) in enumerate(graph.nodes(data=True)):
        if wait_for:
            label = f"{n}\\n{d['status']}" if "status" in d else str(n)
            dot.node(str(n), label=label, shape="ellipse")
        else:
            color = lock_style(_lock_index(prog, n, k, d))["color"]
            locks = d.get("locks", ())
            label = str(n) if not locks or tuple(locks) == (n,) else f"{n}\\n({', '.join(locks)})"
            dot.node(str(n), label=label, shape="box", style="filled,rounded", fillcolor=color,
                     fontcolor=_text_on(color), color=color)
    cycle_style = {"color": FINDING_COLOR, "penwidth": "3", "style": "bold,dashed"}
    for a, b, d in graph.edges(data=True):
        on_cycle = (a, b) in marked if marked is not None else bool(d.get("cycle"))
        attrs: dict = {}
        if wait_for:
            label = f"waits for {d.get('lock', '?')}"
            if d.get("queued"):
                label += "\\n(queued ahead)"
            attrs["color"] = lock_style(d["index"])["color"] if "index" in d else th["fg"]
            attrs["penwidth"] = "2"
        else:
            parts = [str(d["cpu"])] if d.get("cpu") else []
            fn = caller_frame(d.get("stack") or ())
            if fn:
                parts.append(fn + "()")
            label = "\\n".join(parts)
        if on_cycle:
            label = (label + "\\n" if label else "") + "(cycle)"
            attrs.update(cycle_style)
        # dot centres a label on its edge's midpoint, where its last line touches
        # the line; a blank last line lifts the words clear of it.
        dot.edge(str(a), str(b), label=label + "\\n " if label else "", **attrs)
    # A cycle edge lockdep never added: the acquisition that would close the cycle.
    for a, b in sorted((marked or set()) - set(graph.edges), key=str):
        for n in (a, b):
            if n not in graph:
                dot.node(str(n), shape="box")
        dot.edge(str(a), str(b), label="attempted\\n(closes the cycle)\\n ", **cycle_style)
    return dot.source


def lock_order_dot(graph: nx.DiGraph, cycle=None, theme: str = "light", prog=None) -> str:
    """DOT source of a lock-order graph; cycle edges bold, dashed, vermillion, ``(cycle)``.

    Parameters
    ----------
    graph : networkx.DiGraph
        As from :func:`lock_order_graph` or ``labkit.lockdep`` (``Lockdep.graph``).
    cycle : sequence of edges ``(a, b)`` or of nodes, optional
        The cycle to mark (e.g. a lockdep report's ``chain``); by default the
        edges whose ``cycle`` attribute is true. A cycle edge the graph lacks
        — lockdep does not add the dependency that closes a cycle, it reports
        it — is drawn too, labelled ``attempted``.
    theme : ``"light"`` or ``"dark"``
        Text and line colour; the background is transparent either way.
    prog : Program, optional
        Colours each lock class as the timelines do (declaration order) when
        the graph's nodes carry no ``index``.

    >>> import networkx as nx
    >>> g = nx.DiGraph([("A", "B"), ("B", "A")])
    >>> src = lock_order_dot(g, cycle=["A", "B"])
    >>> 'A -> B [label="(cycle)\\\\n " color="#D55E00" penwidth=3 style="bold,dashed"]' in src
    True
    """
    return graph_dot(graph, cycle=cycle, theme=theme, prog=prog)


def wait_for_dot(prog, state, theme: str = "light") -> str:
    """DOT source of the wait-for graph of ``state``: cpus, and who waits for whom."""
    return graph_dot(wait_for_graph(prog, state), theme=theme)


# ---------------------------------------------------------------------------
# Rendering

def have_dot() -> bool:
    """Is graphviz's ``dot`` program on the PATH? (Asked each time, never cached.)"""
    return shutil.which("dot") is not None


_noticed = False


def _notice(why: str) -> None:
    """Say once per session that graphs fall back to networkx drawings."""
    global _noticed
    if not _noticed:
        _noticed = True
        warnings.warn(f"{why}: drawing graphs with networkx instead of graphviz "
                      f"(install graphviz, e.g. 'apt-get install graphviz', for the usual layout)",
                      GraphvizMissingWarning, stacklevel=3)


def render_svg(dot_source: str) -> str | None:
    """SVG text of a DOT source, for a notebook; ``None`` without ``dot``.

    >>> svg = render_svg('digraph { A -> B }')
    >>> svg is None or svg.lstrip().startswith("<?xml")
    True
    """
    if not have_dot():
        return None
    import graphviz
    try:
        return graphviz.Source(dot_source).pipe(format="svg", encoding="utf-8")
    except (graphviz.ExecutableNotFound, graphviz.CalledProcessError):
        return None


def _png(dot_source: str) -> bytes:
    import graphviz
    # The dpi belongs to this rendering, not to the source (SVG must stay unscaled).
    src = dot_source.replace("{", f"{{\n\tgraph [dpi={_PNG_DPI}]", 1)
    return graphviz.Source(src).pipe(format="png")


def draw_graph(graph, ax=None, theme: str = "light", cycle=None, prog=None):
    """Draw a graph (DOT source, or a networkx graph from this module) on an axes.

    With graphviz's ``dot`` the graph is laid out and rendered by graphviz
    and shown as an image; without it (or if it fails) networkx and
    matplotlib draw it, with the same colours, styles and labels, and a
    :class:`GraphvizMissingWarning` says so once per session.

    Parameters
    ----------
    graph : str or networkx.DiGraph
        DOT source (from :func:`lock_order_dot`, :func:`wait_for_dot`) or a
        graph from :func:`lock_order_graph` / :func:`wait_for_graph`.
    ax : matplotlib Axes, optional
        Drawn on a new figure when omitted.
    theme : ``"light"`` or ``"dark"``
        Colour of text and lines (use the one matching the notebook).
    cycle : optional
        For a networkx graph: the cycle to mark (see :func:`lock_order_dot`).
    prog : Program, optional
        For a networkx lock-order graph: colours by declaration order.

    Returns
    -------
    matplotlib.axes.Axes
    """
    th = _theme(theme)
    src = graph if isinstance(graph, str) else graph_dot(graph, cycle=cycle, theme=theme, prog=prog)
    png = None
    if have_dot():
        import graphviz
        try:
            png = _png(src)
        except (graphviz.ExecutableNotFound, graphviz.CalledProcessError) as e:
            _notice(f"graphviz's dot failed ({str(e).splitlines()[0]})")
    else:
        _notice("graphviz's 'dot' program was not found")
    import matplotlib.pyplot as plt

    if png is not None:
        import io

        import matplotlib.image as mimage
        img = mimage.imread(io.BytesIO(png), format="png")
        if ax is None:
            h, w = img.shape[:2]
            _, ax = plt.subplots(figsize=(max(2.5, w / _PNG_DPI), max(1.5, h / _PNG_DPI)),
                                 layout="constrained")
        ax.imshow(img, interpolation="antialiased")
        ax.set_axis_off()
        _paint(ax, th)
        return ax
    if ax is None:
        # A fixed frame, not constrained layout: the self-loops are placed in
        # pixels from the node boxes, and must not move when the layout runs.
        fig = plt.figure(figsize=(6, 3.5))
        ax = fig.add_axes((0.02, 0.02, 0.96, 0.96))
    _draw_fallback(parse_dot(src), ax, th)
    _paint(ax, th)
    return ax


def _paint(ax, th) -> None:
    """Theme the axes; and the figure only for the dark theme, which needs it to be read."""
    ax.set_facecolor("none")
    if th is THEMES["dark"]:
        ax.figure.set_facecolor(th["bg"])


# --- the fallback: a tiny reader for the DOT this module writes -------------

_ID = r'"(?:[^"\\]|\\.)*"|[\w.]+'
_EDGE = re.compile(rf'^\s*({_ID})\s*->\s*({_ID})\s*(?:\[(.*)\])?\s*;?\s*$')
_NODE = re.compile(rf'^\s*({_ID})\s*(?:\[(.*)\])?\s*;?\s*$')
_ATTR = re.compile(rf'(\w+)\s*=\s*({_ID}|#[0-9A-Fa-f]+)')


def _unq(s: str) -> str:
    if s.startswith('"') and s.endswith('"'):
        s = s[1:-1].replace('\\"', '"')
    return s.replace("\\n", "\n")


def parse_dot(src: str) -> nx.DiGraph:
    """Read back the simple DOT this module writes (one statement a line).

    Enough for the fallback drawing: node and edge statements with their
    attributes; ``graph``/``node``/``edge`` defaults are ignored.

    >>> g = parse_dot('digraph { A [fillcolor="#E69F00"]\\n A -> B [label="x" style="bold,dashed"] }')
    >>> g.nodes["A"]["fillcolor"], g.edges["A", "B"]["style"]
    ('#E69F00', 'bold,dashed')
    """
    g = nx.DiGraph()
    body = src[src.index("{") + 1: src.rindex("}")] if "{" in src else src
    for line in body.splitlines():
        line = line.strip()
        if not line or line.startswith(("graph ", "node ", "edge ", "//", "#")):
            continue
        m = _EDGE.match(line)
        if m:
            attrs = {k: _unq(v) for k, v in _ATTR.findall(m.group(3) or "")}
            g.add_edge(_unq(m.group(1)), _unq(m.group(2)), **attrs)
            continue
        m = _NODE.match(line)
        if m and "=" not in m.group(1):
            g.add_node(_unq(m.group(1)), **{k: _unq(v) for k, v in _ATTR.findall(m.group(2) or "")})
    return g


def _draw_fallback(g: nx.DiGraph, ax, th) -> None:
    """Nodes as labelled boxes, edges as arrows (curved when both ways), self-loops as loops.

    Arrows are clipped at the node boxes (``patchA``/``patchB``), and edge
    labels sit just outside the arc's apex, so they never lie on a line.
    """
    import math

    if len(g) == 0:
        ax.text(0.5, 0.5, "(empty graph)", ha="center", va="center", color=th["fg"], transform=ax.transAxes)
        ax.set_axis_off()
        return
    nodes = list(g.nodes)
    if len(nodes) <= 2:
        pos = {n: (float(i), 0.0) for i, n in enumerate(nodes)}
    else:
        pos = {n: (float(p[0]), float(p[1])) for n, p in nx.circular_layout(g).items()}
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    boxes, texts = {}, {}
    renderer = ax.figure.canvas.get_renderer()
    for n, d in g.nodes(data=True):
        x, y = pos[n]
        fill = d.get("fillcolor")
        box = dict(boxstyle="round,pad=0.5", facecolor=fill or th["bg"], edgecolor=d.get("color", th["fg"]),
                   linewidth=1.4)
        t = ax.text(x, y, d.get("label", n), ha="center", va="center", fontsize=10, zorder=2, bbox=box,
                    color=d.get("fontcolor", th["fg"]) if fill else th["fg"], gid=f"node:{n}")
        boxes[n] = t.get_bbox_patch()
        texts[n] = t
    for a, b, d in g.edges(data=True):
        dashed = "dashed" in d.get("style", "")
        color = d.get("color", th["fg"])
        lw = float(d.get("penwidth", 1.4))
        label = d.get("label", "").strip()
        (xa, ya), (xb, yb) = pos[a], pos[b]
        loop = a == b
        if loop:
            # A loop standing on the node's top edge (found from the drawn text's extent:
            # clipping a path at the box it starts and ends in does not work).
            top = ax.transData.inverted().transform(
                (0, texts[a].get_window_extent(renderer).y1 + 10 * 0.5 * ax.figure.dpi / 72 + 2))[1]
            xa, xb, ya, yb, rad = xa - 0.06, xa + 0.06, top, top, -2.5
            nx_, ny_ = 0.0, 1.0
            apex = 2.5 * 0.12 / 2
        else:
            rad = 0.3 if g.has_edge(b, a) else 0.0
            dist = math.hypot(xb - xa, yb - ya)
            # arc3 bends to the right of the direction of travel for rad > 0.
            nx_, ny_ = (yb - ya) / dist, -(xb - xa) / dist
            if rad == 0 and ny_ < 0 or rad == 0 and ny_ == 0 and nx_ < 0:
                nx_, ny_ = -nx_, -ny_
            apex = rad * dist / 2
        mx, my = (xa + xb) / 2, (ya + yb) / 2
        ax.annotate("", xy=(xb, yb), xytext=(xa, ya), zorder=3,
                    arrowprops=dict(arrowstyle="-|>", color=color, lw=lw, linestyle="--" if dashed else "-",
                                    patchA=None if loop else boxes[a], patchB=None if loop else boxes[b],
                                    shrinkA=0 if loop else 2, shrinkB=0 if loop else 2, mutation_scale=16,
                                    connectionstyle=f"arc3,rad={rad}"))
        if label:
            off = apex + 0.06
            lx, ly = mx + nx_ * off, my + ny_ * off
            va = "bottom" if ny_ > 0.3 else "top" if ny_ < -0.3 else "center"
            ha = "left" if nx_ > 0.3 else "right" if nx_ < -0.3 else "center"
            ax.text(lx, ly, label, ha=ha, va=va, fontsize=8.5, color=th["fg"], zorder=4)
    ax.set_axis_off()
