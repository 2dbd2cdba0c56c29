"""Views of traces and graphs: text, per-cpu timelines, lock-order and wait-for graphs.

The render layer sits above the engine and imports only downward. Importing
it is cheap: matplotlib and graphviz are imported inside the functions that
draw, so the text views (what the command line prints) never load them.

* :mod:`~labkit.render.text` — plain text for terminals, screen readers, diffs;
* :mod:`~labkit.render.timeline` — matplotlib timelines (``ax=None`` in, axes out);
* :mod:`~labkit.render.graphs` — lockdep's lock-order graph and the wait-for
  graph, as networkx graphs, DOT, images and SVG;
* :mod:`~labkit.render.style` — the one palette every view shares.

>>> from labkit.cases import program
>>> from labkit.trace import replay
>>> t = replay(program("abba", "before"), "CPU0 CPU1 CPU0 CPU1")
>>> print(trace_text(t).splitlines()[-1])
  findings: deadlock
"""

from .graphs import (GraphvizMissingWarning, draw_graph, lock_order_dot, lock_order_graph, render_svg,
                     wait_for_dot, wait_for_graph)
from .style import EVENT_STYLE, FINDING_COLOR, lock_style, style_table
from .text import graph_text, lock_table_text, timeline_text, trace_text
from .timeline import draw_before_after, draw_timeline, figure_png, lock_intervals, replay_prefix

__all__ = [
    # text
    "trace_text", "timeline_text", "lock_table_text", "graph_text",
    # timelines
    "draw_timeline", "draw_before_after", "lock_intervals", "replay_prefix", "figure_png",
    # graphs
    "lock_order_graph", "wait_for_graph", "lock_order_dot", "wait_for_dot", "draw_graph", "render_svg",
    "GraphvizMissingWarning",
    # style
    "lock_style", "style_table", "EVENT_STYLE", "FINDING_COLOR",
]
