"""The nbconvert templates of the site and the slides, and the index page.

They extend nbconvert's own ``lab`` and ``reveal`` templates and replace
every block that would load something from the network: require.js and the
widget manager come from ``_static/``, MathJax and mermaid are left out (the
lessons use neither), and the widget manager's CDN fallback points at a
local folder that does not exist, so a missing module fails on the spot
instead of reaching for the internet. Figures get their text rendering as
``alt`` text and, folded, as a "Text version" below them.
"""

from __future__ import annotations

# --- shared blocks ------------------------------------------------------------
# `resources.labkit.static` is the relative path to the assets ("_static/").

_OFFLINE_HEAD = r"""
{%- block html_head_js_requirejs -%}
<script src="{{ resources.labkit.static }}require.js" data-jupyter-widgets-cdn="{{ resources.labkit.static }}no-cdn/"></script>
{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""

_FIGURES = r"""
{%- macro text_version(output) -%}
{%- set text = output.data.get('text/plain', '') -%}
{%- if text and '\n' in text %}
<details class="lk-text-version"><summary>Text version of this figure</summary><pre>{{ text | escape_html }}</pre></details>
{%- endif -%}
{%- endmacro -%}

{% block data_png scoped %}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/png;base64,{{ output.data['image/png'] | escape_html }}" alt="{{ output.data.get('text/plain', '') | escape_html }}">
</div>
{{ text_version(output) }}
{%- endblock data_png %}

{% block data_jpg scoped %}
<div class="jp-RenderedImage jp-OutputArea-output {{ extra_class }}">
<img src="data:image/jpeg;base64,{{ output.data['image/jpeg'] | escape_html }}" alt="{{ output.data.get('text/plain', '') | escape_html }}">
</div>
{{ text_version(output) }}
{%- endblock data_jpg %}

{% block data_svg scoped %}
<div class="jp-RenderedSVG jp-OutputArea-output {{ extra_class }}" data-mime-type="image/svg+xml">
<img src="data:image/svg+xml;base64,{{ output.data['image/svg+xml'] | text_base64 | escape_html }}" alt="{{ output.data.get('text/plain', '') | escape_html }}">
</div>
{{ text_version(output) }}
{%- endblock data_svg %}
"""

# --- one page per notebook ------------------------------------------------------

PAGE = r"""{%- extends 'index.html.j2' -%}
""" + _OFFLINE_HEAD + _FIGURES + r"""
{% block extra_css %}
<link rel="stylesheet" href="{{ resources.labkit.static }}site.css">
{% endblock extra_css %}

{%- block body_header -%}
<body class="jp-Notebook lk-site-page" data-jp-theme-light="true" data-jp-theme-name="JupyterLab Light">
<a class="lk-skip" href="#lk-content">Skip to the lesson</a>
{{ resources.labkit.nav }}
<main id="lk-content">
{%- endblock body_header -%}

{% block body_footer %}
</main>
{{ resources.labkit.nav }}
</body>
{% endblock body_footer %}
"""

# --- a reveal.js deck per notebook ------------------------------------------------

SLIDES = r"""{%- extends 'index.html.j2' -%}
""" + _FIGURES + r"""
{%- block html_head_js -%}
<script src="{{ resources.labkit.static }}require.js" data-jupyter-widgets-cdn="{{ resources.labkit.static }}no-cdn/"></script>
{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_css -%}
<link rel="stylesheet" href="{{ resources.labkit.static }}site.css">
{%- endblock html_head_css -%}

{% block footer_js %}
<script>
require(["{{ resources.labkit.static }}reveal/dist/reveal.js"], function (Reveal) {
  Reveal.initialize({
    width: 1280, height: 720, margin: 0, minScale: 0.2, maxScale: 2.0,
    center: false, hash: true, controls: true, progress: true, slideNumber: "c/t",
    // No animation: it costs time on old projector laptops and some viewers feel it.
    transition: "none", backgroundTransition: "none"
  });
  // A stepper with the focus keeps its keys (digits, arrows; it stops them
  // there); elsewhere the arrows and space move between slides.
  window.labkitReveal = Reveal;
});
</script>
{% endblock footer_js %}
"""

# --- the index ---------------------------------------------------------------------

INDEX = r"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="labkit site">
<title>{{ title }}</title>
<link rel="stylesheet" href="_static/site.css">
</head>
<body class="lk-index">
<a class="lk-skip" href="#lk-content">Skip to the lessons</a>
<main id="lk-content">
<h1>{{ title }}</h1>
<p>Real Linux-kernel locking bugs, modelled as a few CPUs running short pseudo-C functions.
Each lesson lets you be the scheduler: the steppers on these pages are live, so click a CPU to run
its next line, go back, switch to the fixed code. Everything here works offline, from a USB stick or
any static web host; nothing is loaded from the network.</p>
<p class="lk-how">Keys in a stepper: click it once, then <kbd>0</kbd>, <kbd>1</kbd>, … run that CPU,
<kbd>←</kbd> / <kbd>→</kbd> step back and forward, <kbd>Home</kbd> / <kbd>End</kbd> jump.
To run the exercises and change the code, open the notebooks in JupyterLab (<code>bash scripts/lab.sh</code>).</p>
{% for nb in notebooks %}
<article class="lk-lesson" aria-labelledby="lk-{{ nb.stem }}">
<h2 id="lk-{{ nb.stem }}"><a href="{{ nb.page }}">{{ nb.title }}</a></h2>
{% if nb.case %}<p class="lk-case">Case <code>{{ nb.case }}</code></p>{% endif %}
{% if nb.objectives %}
<section class="lk-objectives" aria-label="Learning objectives of {{ nb.title }}">
<h3>Learning objectives</h3>
{{ nb.objectives }}
</section>
{% endif %}
<p class="lk-links"><a href="{{ nb.page }}">Read the lesson</a>{% if nb.slides %} · <a href="{{ nb.slides }}">Slides</a>{% endif %}</p>
</article>
{% endfor %}
</main>
<footer class="lk-footer">Built with <code>python -m labkit site</code> from {{ count }} notebooks.</footer>
</body>
</html>
"""

NAV = r"""<nav class="lk-site-nav" aria-label="Lessons">
<a href="index.html">All lessons</a>
{%- if prev %} <a href="{{ prev.page }}" rel="prev">← {{ prev.short }}</a>{% endif %}
{%- if next %} <a href="{{ next.page }}" rel="next">{{ next.short }} →</a>{% endif %}
{%- if slides %} <a href="{{ slides }}">Slides</a>{% endif %}
</nav>"""
