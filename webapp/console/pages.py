"""Pages plugins add through the ``register_console_pages`` hook, shown inside the layout."""

from __future__ import annotations

from flask import abort, render_template

from . import blueprint
from .common import allow, log, may_open, page_content, plugin_pages, rc, viewer


@blueprint.get("/plugins/<page>")
def plugin_page(page: str) -> tuple[str, int]:
    found = plugin_pages().get(page)
    if found is None:
        abort(404, description=f"No plugin adds a console page {page!r}.")
    plugin, definition = found
    service, user = rc(), viewer()
    allow(may_open(service, user, definition))
    try:
        content = page_content(definition.render(user, service))
    except Exception:
        log.exception("plugin %r: console page %r failed", plugin, page)
        body = render_template(
            "console/error.html",
            code=500,
            title="This page failed",
            text=f"The {plugin} plugin could not show this page; the error is in the server log.",
        )
        return body, 500
    return render_template(
        "console/plugin_page.html", page=definition, plugin=plugin, content=content
    ), 200
