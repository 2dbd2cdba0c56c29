"""Graphs: lockdep's lock-order graph and the wait-for graph at a step.

Two graphs explain a deadlock, and they are different on purpose:

* the **lock-order graph** (lockdep's dependency graph) has one node per lock
  *class*; an edge ``a -> b`` means "``b`` was acquired while holding ``a``".
  A cycle here is a deadlock that *could* happen, even in a run that did not
  deadlock — which is what lockdep reports;
* the **wait-for graph** of one state has one node per cpu; an edge
  ``CPU0 -> CPU1`` labelled with a lock means "CPU0 waits for that lock, and
  CPU1 is why". A cycle here is a deadlock that *has* happened.

Both are ``networkx.DiGraph`` values (networkx is pure Python; none of its
numpy layouts is used). One description of each drawing (labels, colours,
styles: :func:`graph_spec`) is written as DOT for graphviz
(:func:`lock_order_dot`, :func:`wait_for_dot`) and laid out in pure Python
when ``dot`` is missing, as in JupyterLite (:func:`graph_scene`: nodes on a
circle, the cycle's nodes in order, edge labels placed clear of nodes and of
each other). :func:`graph_svg` gives the notebook's SVG either way;
:func:`draw_graph` a matplotlib axes. Cycle edges are vermillion
(``FINDING_COLOR``) *and* bold dashed *and* labelled ``(cycle)``, so colour
is never the only cue.

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

import math
from typing import NamedTuple

import networkx as nx

from ..semantics import DONE, WAIT, deadlock_cycles, interrupter, wait_for_edges
from .fonts import text_width
from .scene import Curve, Rect, Scene, Text
from .style import FINDING_COLOR, THEMES, lock_style, text_on
from .text import caller_frame, cycle_edges

__all__ = ["GraphvizMissingWarning", "lock_order_graph", "wait_for_graph", "lock_order_dot",
           "wait_for_dot", "graph_dot", "graph_spec", "graph_scene", "graph_svg", "themed_svg", "draw_graph",
           "render_svg", "have_dot"]

_FONT = "DejaVu Sans"
_PNG_DPI = 150


class GraphvizMissingWarning(UserWarning):
    """graphviz's ``dot`` is missing or failed: a graph was drawn by networkx instead."""


# In the "auto" theme the DOT text colour is this stand-in, which the SVG then
# turns into currentColor (so graphviz's picture follows the page's theme too).
_AUTO_FG = "#0A0B0C"


def _theme(theme: str) -> dict:
    if theme == "auto":
        return dict(THEMES["light"], fg=_AUTO_FG)
    try:
        return THEMES[theme]
    except KeyError:
        raise ValueError(f"theme must be one of {', '.join(THEMES)}, not {theme!r}") from None


_text_on = text_on


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
    ahead, as an rwsem makes readers wait), ``interrupted`` (True when the
    waiter is a cpu its interrupt handler holds up) and ``cycle``.

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
        # A cpu interrupted by its handler waits for the handler to return, not for a lock.
        irq = bool(prog.irq_var) and interrupter(prog, state, w) == h
        g.add_edge(names[w], names[h], lock=prog.locks[l].name, index=l, queued=not holds and not irq,
                   cycle=(w, h) in on_cycle, interrupted=irq)
    return g


# ---------------------------------------------------------------------------
# One description of a drawing: nodes and edges with words and styles

class NodeSpec(NamedTuple):
    id: str
    lines: tuple            # label lines; the first is the name
    fill: str | None        # a lock's colour, or None (outlined in the text colour)
    text: str               # text colour: "fg" or a fixed colour on the fill


class EdgeSpec(NamedTuple):
    a: str
    b: str
    lines: tuple
    color: str              # "fg" or a fixed colour
    width: float
    dashed: bool
    cycle: bool
    attempted: bool = False


def _lock_index(prog, node, k: int, d: dict) -> int:
    """Which palette entry a lock-class node gets: its declaration index, as on the timelines."""
    if "index" in d:
        return d["index"]
    if prog is not None:
        for i, decl in enumerate(prog.locks):
            if node in (decl.cls, decl.name):
                return i
    return k


def graph_spec(graph: nx.DiGraph, cycle=None, prog=None) -> tuple[list[NodeSpec], list[EdgeSpec]]:
    """The words and styles of a lock-order or wait-for graph, for DOT and for the pure-Python layout.

    >>> g = nx.DiGraph([("A", "B"), ("B", "A")])
    >>> nodes, edges = graph_spec(g, cycle=["A", "B"])
    >>> [n.id for n in nodes], [(e.a, e.b, e.lines, e.cycle) for e in edges]
    (['A', 'B'], [('A', 'B', ('(cycle)',), True), ('B', 'A', ('(cycle)',), True)])
    """
    wait_for = graph.graph.get("kind") == "wait_for" or any("lock" in d for _, _, d in graph.edges(data=True))
    marked = None if cycle is None else cycle_edges(cycle)
    nodes, edges = [], []
    for k, (n, d) in enumerate(graph.nodes(data=True)):
        if wait_for:
            lines = (str(n), d["status"]) if "status" in d else (str(n),)
            nodes.append(NodeSpec(str(n), lines, None, "fg"))
        else:
            color = lock_style(_lock_index(prog, n, k, d))["color"]
            locks = d.get("locks", ())
            lines = (str(n),) if not locks or tuple(locks) == (n,) else (str(n), f"({', '.join(locks)})")
            nodes.append(NodeSpec(str(n), lines, color, text_on(color)))
    for a, b, d in graph.edges(data=True):
        on_cycle = (a, b) in marked if marked is not None else bool(d.get("cycle"))
        if wait_for:
            lines = ["interrupted by"] if d.get("interrupted") else [f"waits for {d.get('lock', '?')}"]
            if d.get("queued"):
                lines.append("(queued ahead)")
            color = lock_style(d["index"])["color"] if "index" in d else "fg"
            width = 2.0
        else:
            lines = [str(d["cpu"])] if d.get("cpu") else []
            fn = caller_frame(d.get("stack") or ())
            if fn:
                lines.append(fn + "()")
            color, width = "fg", 1.4
        if on_cycle:
            lines.append("(cycle)")
            color, width = FINDING_COLOR, 3.0
        edges.append(EdgeSpec(str(a), str(b), tuple(lines), color, width, on_cycle, on_cycle))
    # A cycle edge lockdep never added: the acquisition that would close the cycle.
    known = {n.id for n in nodes}
    for a, b in sorted((marked or set()) - set(graph.edges), key=str):
        for n in (a, b):
            if str(n) not in known:
                nodes.append(NodeSpec(str(n), (str(n),), None, "fg"))
                known.add(str(n))
        edges.append(EdgeSpec(str(a), str(b), ("attempted", "(closes the cycle)"), FINDING_COLOR, 3.0, True, True,
                              attempted=True))
    return nodes, edges


# ---------------------------------------------------------------------------
# DOT

def graph_dot(graph: nx.DiGraph, cycle=None, theme: str = "light", prog=None) -> str:
    """DOT source for either graph; see :func:`lock_order_dot` and :func:`wait_for_dot`."""
    import graphviz

    th = _theme(theme)
    wait_for = graph.graph.get("kind") == "wait_for" or any("lock" in d for _, _, d in graph.edges(data=True))
    nodes, edges = graph_spec(graph, cycle=cycle, prog=prog)
    dot = graphviz.Digraph(
        "wait_for" if wait_for else "lock_order",
        graph_attr={"bgcolor": "transparent", "rankdir": "LR", "fontname": _FONT, "fontcolor": th["fg"],
                    "nodesep": "0.9", "ranksep": "1.3", "pad": "0.2"},
        node_attr={"fontname": _FONT, "fontsize": "12", "color": th["fg"], "fontcolor": th["fg"],
                   "penwidth": "1.4"},
        edge_attr={"fontname": _FONT, "fontsize": "10", "color": th["fg"], "fontcolor": th["fg"],
                   "penwidth": "1.4", "arrowsize": "0.9"})
    for nd in nodes:
        label = "\\n".join(nd.lines)
        if nd.fill is None:
            if wait_for:
                dot.node(nd.id, label=label, shape="ellipse")
            else:
                dot.node(nd.id, shape="box")
        else:
            dot.node(nd.id, label=label, shape="box", style="filled,rounded", fillcolor=nd.fill,
                     fontcolor=nd.text, color=nd.fill)
    cycle_style = {"color": FINDING_COLOR, "penwidth": "3", "style": "bold,dashed"}
    for e in edges:
        label = "\\n".join(e.lines)
        if e.attempted:
            dot.edge(e.a, e.b, label=label + "\\n ", **cycle_style)
            continue
        attrs: dict = {}
        if wait_for:
            attrs["color"] = th["fg"] if e.color == "fg" else e.color
            attrs["penwidth"] = "2"
        if e.cycle:
            attrs.update(cycle_style)
        # dot centres a label on its edge's midpoint, where its last line touches
        # the line; a blank last line lifts the words clear of it.
        dot.edge(e.a, e.b, label=label + "\\n " if label else "", **attrs)
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
    theme : ``"light"``, ``"dark"`` or ``"auto"``
        Text and line colour; the background is transparent either way.
    prog : Program, optional
        Colours each lock class as the timelines do (declaration order) when
        the graph's nodes carry no ``index``.

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
# Rendering with graphviz

def have_dot() -> bool:
    """Is graphviz's ``dot`` program on the PATH? (Asked each time, never cached.)"""
    return shutil.which("dot") is not None


_noticed = False


def _notice(why: str) -> None:
    """Say once per session that a matplotlib graph is laid out without graphviz."""
    global _noticed
    if not _noticed:
        _noticed = True
        warnings.warn(f"{why}: laying graphs out in pure Python instead of with graphviz "
                      f"(install graphviz, e.g. 'apt-get install graphviz', for the usual layout)",
                      GraphvizMissingWarning, stacklevel=3)


def render_svg(dot_source: str) -> str | None:
    """SVG text of a DOT source, as graphviz writes it; ``None`` without ``dot``.

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


def themed_svg(svg: str, theme: str = "auto", title: str = "", desc: str = "") -> str:
    """graphviz's SVG made fit to show inline: no XML prolog, a ``<title>`` and
    ``<desc>`` (the text rendering) for screen readers, scaled to the page's
    width; in the ``auto`` theme its text and lines in ``currentColor`` (the
    page's text colour), in the ``dark`` theme on a dark background."""
    from html import escape
    i = svg.find("<svg")
    svg = svg[i:] if i >= 0 else svg
    if theme == "auto":
        svg = re.sub(re.escape(_AUTO_FG), "currentColor", svg, flags=re.I)
    m = re.match(r"<svg\b[^>]*>", svg)
    if not m:
        return svg
    tag = m.group(0)
    new = tag[:-1].replace("<svg", '<svg role="img" class="labkit-figure" style="max-width:100%;height:auto"', 1)
    extra = f"<title>{escape(title, False)}</title><desc>{escape(desc, False)}</desc>" if title or desc else ""
    if theme == "dark":
        extra += f'<rect width="100%" height="100%" fill="{THEMES["dark"]["bg"]}" rx="4"/>'
    return new + ">" + extra + svg[m.end():]


_WIDE = 980     # px: wider than a notebook's output column at 1280 px


def _svg_px(svg: str) -> tuple[float, float]:
    """graphviz's SVG size in CSS px (it writes points)."""
    m = re.search(r'<svg[^>]*\bwidth="([\d.]+)(pt|px)?"[^>]*\bheight="([\d.]+)(pt|px)?"', svg)
    if not m:
        return 0.0, 0.0
    k = 4 / 3 if (m.group(2) or "pt") == "pt" else 1.0
    return float(m.group(1)) * k, float(m.group(3)) * k


def _png(dot_source: str) -> bytes:
    import graphviz
    # The dpi belongs to this rendering, not to the source (SVG must stay unscaled).
    src = dot_source.replace("{", f"{{\n\tgraph [dpi={_PNG_DPI}]", 1)
    return graphviz.Source(src).pipe(format="png")


def graph_svg(graph, theme: str = "auto", cycle=None, prog=None, title: str = "", desc: str = "",
              use_dot: bool | None = None) -> str:
    """The SVG a notebook shows for a graph: graphviz's when ``dot`` is there
    (and ``use_dot`` is not False), else :func:`graph_scene` painted by
    :func:`labkit.render.svg.to_svg` — the same words, colours and styles."""
    from .svg import to_svg
    if use_dot is None:
        use_dot = have_dot()
    if use_dot:
        src = graph_dot(graph, cycle=cycle, theme=theme, prog=prog)
        svg = render_svg(src)
        if svg is not None and _svg_px(svg)[0] > _WIDE:
            # A long chain laid out left to right is too wide for a notebook (the page
            # would shrink its words): top to bottom, if that is narrower.
            tall = render_svg(src.replace('rankdir=LR', 'rankdir=TB', 1))
            if tall is not None and _svg_px(tall)[0] < _svg_px(svg)[0]:
                svg = tall
        if svg is not None:
            return themed_svg(svg, theme, title, desc)
    return to_svg(graph_scene(graph, cycle=cycle, prog=prog, title=title, desc=desc), theme=theme)


# ---------------------------------------------------------------------------
# The pure-Python layout (no dot, no numpy): for JupyterLite and as a fallback

_NODE_FONT = 12.5
_EDGE_FONT = 11
_GAP = 4.0


def _node_box(nd: NodeSpec) -> tuple[float, float]:
    w = max(text_width(t, _NODE_FONT, i == 0) for i, t in enumerate(nd.lines)) + 22
    h = len(nd.lines) * _NODE_FONT * 1.25 + 12
    return max(w, 56), h


def _order(nodes, edges) -> list[str]:
    """Nodes in drawing order round the circle: a cycle's nodes in cycle order first."""
    ids = [n.id for n in nodes]
    cyc = nx.DiGraph([(e.a, e.b) for e in edges if e.cycle and e.a != e.b])
    out: list[str] = []
    for c in sorted(nx.simple_cycles(cyc), key=len, reverse=True) if len(cyc) else []:
        start = min(range(len(c)), key=lambda i: ids.index(c[i]))
        for n in c[start:] + c[:start]:
            if n not in out:
                out.append(n)
    return out + [n for n in ids if n not in out]


def _positions(order, boxes) -> dict:
    n = len(order)
    if n == 1:
        return {order[0]: (0.0, 0.0)}
    if n == 2:
        a, b = order
        d = (boxes[a][0] + boxes[b][0]) / 2 + 190
        return {a: (0.0, 0.0), b: (d, 0.0)}
    # An ellipse, wider than tall (labels are wide), big enough that no two
    # boxes come closer than the room an edge label needs.
    rx = 120.0
    while True:
        ry = rx * 0.62
        pos = {}
        for i, nid in enumerate(order):
            a = math.pi + 2 * math.pi * i / n        # first node on the left, then clockwise over the top
            pos[nid] = (rx * math.cos(a), -ry * math.sin(a))
        ok = True
        for i in range(n):
            for j in range(i + 1, n):
                (xa, ya), (xb, yb) = pos[order[i]], pos[order[j]]
                wa, ha = boxes[order[i]]
                wb, hb = boxes[order[j]]
                if abs(xa - xb) < (wa + wb) / 2 + 70 and abs(ya - yb) < (ha + hb) / 2 + 46:
                    ok = False
        if ok or rx > 2000:
            return pos
        rx *= 1.15


def _clip(center, box, toward) -> tuple[float, float]:
    """Where the ray from a box's centre towards a point leaves the box (plus a gap)."""
    (cx, cy), (w, h) = center, box
    dx, dy = toward[0] - cx, toward[1] - cy
    if abs(dx) < 1e-9 and abs(dy) < 1e-9:
        return cx, cy
    hw, hh = w / 2 + _GAP, h / 2 + _GAP
    t = min(hw / abs(dx) if dx else math.inf, hh / abs(dy) if dy else math.inf)
    return cx + dx * t, cy + dy * t


def _overlaps(r, rects, gap=3.0) -> float:
    x0, y0, x1, y1 = r
    total = 0.0
    for a0, b0, a1, b1 in rects:
        w = min(x1, a1) - max(x0, a0) + gap
        h = min(y1, b1) - max(y0, b0) + gap
        if w > 0 and h > 0:
            total += w * h
    return total


def graph_scene(graph, cycle=None, prog=None, title: str = "", desc: str = "") -> Scene:
    """A lock-order or wait-for graph laid out in pure Python, as a scene.

    ``graph`` is a networkx graph from this module, or DOT source this module
    wrote. Nodes sit on an ellipse, a cycle's nodes in cycle order (so the
    cycle reads round it); an edge that has a partner the other way bows to
    its right, so the two never overlap; a self-loop (an AA deadlock) stands
    on its node. Each edge label takes the first of a few places beside its
    edge's middle that hits no node and no other label.

    >>> g = nx.DiGraph([("A", "B"), ("B", "A")])
    >>> s = graph_scene(g, cycle=["A", "B"])
    >>> sorted(i.gid for i in s.find("edge:")), "(cycle)" in s.texts()
    (['edge:A->B', 'edge:B->A'], True)
    """
    if isinstance(graph, str):
        nodes, edges = _spec_from_dot(parse_dot(graph))
    else:
        nodes, edges = graph_spec(graph, cycle=cycle, prog=prog)
    sc = Scene(0, 0, title, desc)
    if not nodes:
        sc.width, sc.height = 220, 60
        sc.add(Text(110, 34, "(empty graph)", size=_NODE_FONT, anchor="middle", color="muted"))
        return sc
    by_id = {n.id: n for n in nodes}
    boxes = {n.id: _node_box(n) for n in nodes}
    pos = _positions(_order(nodes, edges), boxes)
    node_rects = [(pos[i][0] - boxes[i][0] / 2, pos[i][1] - boxes[i][1] / 2,
                   pos[i][0] + boxes[i][0] / 2, pos[i][1] + boxes[i][1] / 2) for i in pos]
    pairs = {(e.a, e.b) for e in edges}
    curves, labels = [], []
    geo = []
    for e in edges:
        (xa, ya), (xb, yb) = pos[e.a], pos[e.b]
        if e.a == e.b:
            w, h = boxes[e.a]
            top = ya - h / 2 - _GAP
            p0, p2 = (xa - 16, top), (xa + 16, top)
            ctrl = (xa, top - 70)
            normal = (0.0, -1.0)
        else:
            dx, dy = xb - xa, yb - ya
            d = math.hypot(dx, dy)
            nx_, ny_ = -dy / d, dx / d          # the right of the direction of travel (y down)
            bend = 0.18 * d if (e.b, e.a) in pairs else 0.0
            mid = ((xa + xb) / 2, (ya + yb) / 2)
            ctrl = (mid[0] + nx_ * bend * 2, mid[1] + ny_ * bend * 2)
            p0 = _clip((xa, ya), boxes[e.a], ctrl if bend else (xb, yb))
            p2 = _clip((xb, yb), boxes[e.b], ctrl if bend else (xa, ya))
            if not bend:
                ctrl = ((p0[0] + p2[0]) / 2, (p0[1] + p2[1]) / 2)
            normal = (nx_, ny_) if bend else ((nx_, ny_) if ny_ < 0 or (ny_ == 0 and nx_ > 0) else (-nx_, -ny_))
        curves.append(Curve(p0, ctrl, p2, stroke=e.color, width=e.width, dash="dash" if e.dashed else None,
                            head_size=11 if e.width >= 2.5 else 9, gid=f"edge:{e.a}->{e.b}"))
        geo.append((e, p0, ctrl, p2, normal))
    # Obstacles for the labels: the nodes, and every edge as a string of small boxes.
    taken = list(node_rects)
    for _, p0, ctrl, p2, _ in geo:
        for i in range(1, 24):
            t = i / 24
            bx = (1 - t) ** 2 * p0[0] + 2 * t * (1 - t) * ctrl[0] + t ** 2 * p2[0]
            by = (1 - t) ** 2 * p0[1] + 2 * t * (1 - t) * ctrl[1] + t ** 2 * p2[1]
            taken.append((bx - 2, by - 2, bx + 2, by + 2))
    for e, p0, ctrl, p2, normal in geo:
        if not e.lines:
            continue
        lw = max(text_width(t, _EDGE_FONT, t == "(cycle)") for t in e.lines)
        lh = len(e.lines) * _EDGE_FONT * 1.25
        best = None
        for t_along in (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8):
            bx = (1 - t_along) ** 2 * p0[0] + 2 * t_along * (1 - t_along) * ctrl[0] + t_along ** 2 * p2[0]
            by = (1 - t_along) ** 2 * p0[1] + 2 * t_along * (1 - t_along) * ctrl[1] + t_along ** 2 * p2[1]
            for side in (1, -1):
                for off in (7, 16, 28, 44):
                    nxs, nys = normal[0] * side, normal[1] * side
                    # The label's box clears the edge by ``off`` px, on that side.
                    reach = off + abs(nxs) * lw / 2 + abs(nys) * lh / 2
                    cx, cy = bx + nxs * reach, by + nys * reach
                    r = (cx - lw / 2, cy - lh / 2, cx + lw / 2, cy + lh / 2)
                    cost = 10 * _overlaps(r, taken) + (0 if side == 1 else 0.5) + off / 40 + 2 * abs(t_along - 0.5)
                    if best is None or cost < best[0]:
                        best = (cost, r)
            if best and best[0] < 1.2:
                break
        r = best[1]
        taken.append(r)
        labels.append((r, e))
    items: list = []
    for nid, (x, y) in pos.items():
        nd = by_id[nid]
        w, h = boxes[nid]
        gid = f"node:{nid}"
        if nd.fill:
            items.append(Rect(x - w / 2, y - h / 2, w, h, fill=nd.fill, stroke=nd.fill, width=1.4, rx=7, gid=gid))
        else:
            items.append(Rect(x - w / 2, y - h / 2, w, h, fill=None, stroke="fg", width=1.4, rx=h / 2 if len(nd.lines) < 2 else 12,
                              gid=gid))
        top = y - len(nd.lines) * _NODE_FONT * 1.25 / 2
        for i, line in enumerate(nd.lines):
            items.append(Text(x, top + (i + 0.8) * _NODE_FONT * 1.25, line, size=_NODE_FONT if i == 0 else _NODE_FONT - 1.5,
                              anchor="middle", weight="bold" if i == 0 else "normal", color=nd.text,
                              gid=f"nodelabel:{nid}" if i == 0 else ""))
    items = curves + items
    for (x0, y0, x1, y1), e in labels:
        for i, line in enumerate(e.lines):
            cyc = line == "(cycle)" or e.attempted
            items.append(Text((x0 + x1) / 2, y0 + (i + 0.82) * _EDGE_FONT * 1.25, line, size=_EDGE_FONT,
                              anchor="middle", weight="bold" if line == "(cycle)" else "normal",
                              color=FINDING_COLOR if cyc and line == "(cycle)" else "fg", gid=f"edgelabel:{e.a}->{e.b}"))
    # Fit the picture round everything drawn.
    xs, ys = [], []
    for r in node_rects + [r for r, _ in labels]:
        xs += [r[0], r[2]]
        ys += [r[1], r[3]]
    for c in curves:
        xs += [c.p0[0], c.p1[0], c.p2[0]]
        ys += [c.p0[1], c.p1[1], c.p2[1]]
    # (a Bézier stays within its control polygon)
    pad = 14
    x0, y0 = min(xs) - pad, min(ys) - pad
    out = Scene(max(xs) - x0 + pad, max(ys) - y0 + pad, title, desc)
    tmp = Scene(0, 0, items=items)
    out.place(tmp, -x0, -y0)
    return out


def _spec_from_dot(g: nx.DiGraph) -> tuple[list[NodeSpec], list[EdgeSpec]]:
    """Node and edge specs from DOT this module wrote (read back by :func:`parse_dot`)."""
    fgs = {t["fg"].upper() for t in THEMES.values()} | {_AUTO_FG}

    def role(c):
        return "fg" if c is None or c.upper() in fgs else c
    nodes = []
    for n, d in g.nodes(data=True):
        lines = tuple(d.get("label", n).split("\n"))
        fill = d.get("fillcolor") if "filled" in d.get("style", "") else None
        nodes.append(NodeSpec(str(n), lines, fill, role(d.get("fontcolor")) if fill else "fg"))
    edges = []
    for a, b, d in g.edges(data=True):
        lines = tuple(t for t in d.get("label", "").split("\n") if t.strip())
        dashed = "dashed" in d.get("style", "")
        cyc = "(cycle)" in lines or "attempted" in lines
        edges.append(EdgeSpec(str(a), str(b), lines, role(d.get("color")), float(d.get("penwidth", 1.4)), dashed, cyc,
                              attempted="attempted" in lines))
    return nodes, edges


# ---------------------------------------------------------------------------
# matplotlib

def draw_graph(graph, ax=None, theme: str = "light", cycle=None, prog=None):
    """Draw a graph (DOT source, or a networkx graph from this module) on a matplotlib axes.

    With graphviz's ``dot`` the graph is laid out and rendered by graphviz
    and shown as an image; without it (or if it fails) :func:`graph_scene`
    lays it out in pure Python and :func:`labkit.render.mpl.to_axes` paints
    it, with the same colours, styles and labels, and a
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
    png = None
    if have_dot():
        import graphviz
        src = graph if isinstance(graph, str) else graph_dot(graph, cycle=cycle, theme=theme, prog=prog)
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
        ax.set_facecolor("none")
        if th is THEMES["dark"]:
            ax.figure.set_facecolor(th["bg"])
        return ax
    from .mpl import to_axes
    return to_axes(graph_scene(graph, cycle=cycle, prog=prog), ax=ax, theme=theme)


# --- a tiny reader for the DOT this module writes ---------------------------

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

    Enough for the pure-Python layout: node and edge statements with their
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
