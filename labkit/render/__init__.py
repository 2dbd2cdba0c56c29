"""Views of traces and graphs: text, per-cpu timelines, lock-order and wait-for graphs.

The render layer sits above the engine and imports only downward. Importing
it is cheap: matplotlib and graphviz are imported inside the functions that
draw, so the text views (what the command line prints) never load them.

* :mod:`~labkit.render.text` — plain text for terminals, screen readers, diffs;
* :mod:`~labkit.render.events` — what carries a bug besides locks: refcounts,
  object lifetimes, shared variables, comment-only steps;
* :mod:`~labkit.render.scene` — one layout, two painters: a picture as a
  list of primitives, computed in pure Python; :mod:`~labkit.render.svg`
  paints it as SVG (notebooks, JupyterLite: no matplotlib, numpy or ``dot``),
  :mod:`~labkit.render.mpl` with matplotlib (PNG export);
* :mod:`~labkit.render.timeline` — per-cpu timelines and before/after as scenes
  (``draw_*``: the matplotlib painter, ``ax=None`` in, axes out);
* :mod:`~labkit.render.graphs` — lockdep's lock-order graph and the wait-for
  graph, as networkx graphs, DOT, graphviz SVG, and a pure-Python layout
  when ``dot`` is missing;
* :mod:`~labkit.render.style` — the one palette every view shares;
  :mod:`~labkit.render.fonts` — text widths and line breaks.

>>> from labkit.cases import program
>>> from labkit.trace import replay
>>> t = replay(program("abba", "before"), "CPU0 CPU1 CPU0 CPU1")
>>> print(trace_text(t).splitlines()[-1])
  findings: deadlock
"""

from .events import release_spans, state_lanes, trace_events
from .graphs import (GraphvizMissingWarning, draw_graph, graph_scene, graph_svg, lock_order_dot, lock_order_graph,
                     render_svg, wait_for_dot, wait_for_graph)
from .scene import Scene
from .style import EVENT_STYLE, FINDING_COLOR, lock_style, style_table
from .svg import to_svg
from .text import graph_text, lock_table_text, timeline_text, trace_text
from .timeline import (before_after_runs, before_after_scene, draw_before_after, draw_timeline, figure_png,
                       lock_intervals, replay_prefix, timeline_scene)

__all__ = [
    # text
    "trace_text", "timeline_text", "lock_table_text", "graph_text",
    # events
    "trace_events", "state_lanes", "release_spans",
    # scenes and painters
    "Scene", "to_svg",
    # timelines
    "timeline_scene", "before_after_scene", "before_after_runs", "draw_timeline", "draw_before_after",
    "lock_intervals", "replay_prefix", "figure_png",
    # graphs
    "lock_order_graph", "wait_for_graph", "lock_order_dot", "wait_for_dot", "graph_scene", "graph_svg",
    "draw_graph", "render_svg", "GraphvizMissingWarning",
    # style
    "lock_style", "style_table", "EVENT_STYLE", "FINDING_COLOR",
]
