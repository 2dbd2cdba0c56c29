"""What every real-browser test shares: how Debian's chromium is started here,
a guard that refuses and counts requests, and a page that records its errors.

Chromium is started with the flags that keep it off the network it would
otherwise try on its own (updates, sync, QUIC); a test that must prove a page
makes no external request adds :func:`guard` and asserts its list is empty.
"""

from __future__ import annotations

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:")


def guard(context, allowed, served: list | None = None) -> list[str]:
    """Refuse and record every request of ``context`` whose URL fails ``allowed``;
    the URLs let through go to ``served`` when given."""
    refused: list[str] = []

    def handle(route):
        url = route.request.url
        if allowed(url):
            if served is not None:
                served.append(url)
            route.continue_()
        else:
            refused.append(url)
            route.abort()
    context.route("**/*", handle)
    return refused


def page_with_errors(context, timeout_ms: int | None = None):
    """A new page and the list its uncaught errors are collected in."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    if timeout_ms is not None:
        page.set_default_timeout(timeout_ms)
    return page, errors
