"""The stepper's front-end as one ES module, without a build step.

``core.js`` (the pure state and data functions, an ES module of its own so
``node --test`` can import it) and ``stepper.js`` (the view, which imports the
core) become one module for the notebook widget and the standalone page: the
core's ``export`` keywords are dropped and its text replaces the view's
``import ... from "./core.js"``. Nothing is fetched, nothing is minified.

>>> js = front_end_js()
>>> "from \\"./core.js\\"" in js, re.findall(r"^export .*", js, re.M)
(False, ['export default { render };'])
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

__all__ = ["front_end_js", "front_end_css"]

_HERE = Path(__file__).parent
_IMPORT = re.compile(r'^import \{[^}]*\} from "\./core\.js";\n', re.M)
_EXPORT = re.compile(r"^export (?=(?:const|function|let|class) )", re.M)


@lru_cache(maxsize=1)
def _parts(core_mtime: float, view_mtime: float) -> str:
    core = (_HERE / "core.js").read_text(encoding="utf-8")
    view = (_HERE / "stepper.js").read_text(encoding="utf-8")
    if len(_IMPORT.findall(view)) != 1:
        raise RuntimeError("stepper.js must import core.js exactly once, as `import { ... } from \"./core.js\";`")
    inline = "// ---- core.js (inlined) ----\n" + _EXPORT.sub("", core) + "\n// ---- stepper.js ----\n"
    return _IMPORT.sub(lambda _m: inline, view, count=1)


def front_end_js() -> str:
    """core.js + stepper.js as one module (the widget's ``_esm``, the page's script)."""
    return _parts((_HERE / "core.js").stat().st_mtime, (_HERE / "stepper.js").stat().st_mtime)


def front_end_css() -> str:
    return (_HERE / "stepper.css").read_text(encoding="utf-8")
