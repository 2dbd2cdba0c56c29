"""One self-contained HTML file: the stepper with its data, no network.

The page inlines ``stepper.js``, ``stepper.css`` and the case's JSON, and
opens from ``file://`` in any modern browser, offline. Command line::

    python -m labkit export mm_iommu --variant before -o mm_iommu.html
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from ..errors import LabError
from .export import DEFAULT_MAX_STATES, case_json

__all__ = ["export_html", "html_text", "script_json"]

_HERE = Path(__file__).parent
_BOOT = """
// Standalone bootstrap: a stand-in for the widget model (no kernel here).
const __labkitData = JSON.parse(document.getElementById("labkit-data").textContent);
const __labkitModel = (() => {
  const values = { data: __labkitData, variant: %(variant)s, schedule: %(schedule)s, position: %(position)s };
  const handlers = {};
  return {
    get: (k) => values[k],
    set: (k, v) => { values[k] = v; for (const fn of handlers["change:" + k] || []) fn(); },
    on: (ev, fn) => { (handlers[ev] = handlers[ev] || []).push(fn); },
    off: (ev, fn) => { handlers[ev] = (handlers[ev] || []).filter((f) => f !== fn); },
    save_changes: () => {},
  };
})();
render({ model: __labkitModel, el: document.getElementById("labkit-stepper") });
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="labkit">
<title>%(title)s</title>
<style>
:root { color-scheme: light dark; }
body { margin: 0; padding: 16px; background: var(--jp-layout-color0, #fff); font-family: system-ui, sans-serif; }
@media (prefers-color-scheme: dark) {
  :root { --jp-layout-color0: #111; --jp-layout-color1: #1b1b1b; --jp-layout-color2: #2a2a2a;
          --jp-layout-color3: #3a3a3a; --jp-ui-font-color1: #e6e6e6; --jp-ui-font-color2: #b0b0b0;
          --jp-border-color1: #5a5a5a; --jp-border-color2: #3f3f3f; --jp-brand-color1: #5fa8e8; }
}
footer { color: #777; font-size: 12px; margin-top: 12px; }
%(css)s
</style>
</head>
<body>
<main id="labkit-stepper"></main>
<footer>labkit stepper: %(case)s. Works offline; nothing is loaded from the network.</footer>
<script type="application/json" id="labkit-data">%(data)s</script>
<script type="module">
%(js)s
%(boot)s
</script>
</body>
</html>
"""


# JSON inside a <script> element: the HTML parser ends the element at "</script"
# and treats "<!--" and "<script" specially, whatever the JSON means. With no
# "<", ">" or "&" left (JSON string escapes decode them back) the parser sees
# plain text; U+2028/2029 are escaped too, for older JavaScript parsers.
_SCRIPT_JSON = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                              "\u2028": "\\u2028", "\u2029": "\\u2029"})


def script_json(value, **kw) -> str:
    """``json.dumps(value)`` safe to place inside any ``<script>`` element:
    parsing it back (``JSON.parse`` or ``json.loads``) gives ``value``.

    >>> script_json({"t": "</script><!--"})
    '{"t": "\\\\u003c/script\\\\u003e\\\\u003c!--"}'
    """
    return json.dumps(value, **kw).translate(_SCRIPT_JSON)


def _script_code(text: str, name: str) -> str:
    # Our own code is inlined as it is; it must not contain what would end the element.
    low = text.lower()
    for bad in ("</script", "<!--", "<script"):
        if bad in low:
            raise LabError(f"{name} contains {bad!r}, which cannot be inlined in a <script> element")
    return text


def html_text(case_id: str, variant: str | None = None, schedule: str = "",
              max_states: int = DEFAULT_MAX_STATES) -> str:
    """The standalone page as a string (see :func:`export_html`)."""
    from ..cases import get_case
    from ..trace import replay
    case = get_case(case_id)
    vid = case.variant_ids[0] if variant is None else variant
    case.variant(vid)          # an unknown variant: an error naming the known ones
    steps = replay(case.program(vid), schedule).schedule if schedule else ""
    data = case_json(case_id, max_states=max_states, lazy=vid)
    # A page has no kernel to build a variant later: it ships the one asked for and those small enough to ship whole.
    data["variants"] = [v for v in data["variants"] if not v.get("pending")]
    from .bundle import front_end_js
    js = front_end_js()        # core.js + stepper.js as one module (no build step)
    css = (_HERE / "stepper.css").read_text(encoding="utf-8")
    boot = _BOOT % {"variant": script_json(vid), "schedule": script_json(steps),
                    "position": len(steps.split())}
    return _PAGE % {
        "title": html.escape(f"{data['case']['title']} — {vid}"),
        "case": html.escape(data["case"]["title"]),
        "css": css.replace("</", "<\\/"),
        "data": script_json(data, sort_keys=True, separators=(",", ":")),
        "js": _script_code(js, "stepper.js"),
        "boot": boot,
    }


def export_html(case_id: str, variant: str | None = None, path: str | Path = "stepper.html",
                schedule: str = "", max_states: int = DEFAULT_MAX_STATES) -> Path:
    """Write one self-contained HTML stepper for a case, opening on ``variant``.

    ``variant`` and every variant small enough to ship whole are inside (the
    page can toggle between them); ``schedule`` is where it opens. Returns
    the path written.
    """
    path = Path(path)
    text = html_text(case_id, variant, schedule, max_states)
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise LabError(f"cannot write the page to {str(path)!r}: {e.strerror or e}") from None
    return path
