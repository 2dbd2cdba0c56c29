"""The browser stepper: the learner schedules the cpus, one step per click.

Python precomputes every state of a case (:func:`case_json`); the browser
steps through that JSON with no kernel (``stepper.js``), in JupyterLab,
Notebook 7, Voila, or a standalone HTML file (:func:`export_html`).

>>> from labkit.stepper import stepper
>>> w = stepper("abba", "before", "CPU0 CPU1")
>>> w.schedule, w.position
('CPU0 CPU1', 2)
"""

from __future__ import annotations

from .export import case_json, case_json_text, walk

__all__ = ["stepper", "Stepper", "case_json", "case_json_text", "walk", "export_html"]


def __getattr__(name):
    # The widget needs anywidget/ipywidgets; the export and the standalone
    # HTML do not, so they import without them.
    if name in ("stepper", "Stepper"):
        from . import widget
        return getattr(widget, name)
    if name == "export_html":
        from .standalone import export_html
        return export_html
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
