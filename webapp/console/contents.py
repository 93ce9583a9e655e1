"""What an org's page lists besides its team: its courses and libraries (and what lies below
them), searchable and a page at a time, each linking to its own page."""

from __future__ import annotations

from typing import Any

from flask import request, url_for

from rolecall.core import BadInputError
from rolecall.core.reads import MAX_QUERY, scopes_below

from .. import authz
from . import blueprint
from .common import rc, viewer

PAGE = 50


def scope_contents(key: str) -> dict[str, Any]:
    """The page of scopes below ``key`` the scope page shows, from its ``find`` (text in a
    key or title) and ``after`` (the last key of the previous page) parameters."""
    service, me = rc(), viewer()
    text = request.args.get("find", "").strip()[:MAX_QUERY]
    after = request.args.get("after") or None
    try:
        hits, next_after = scopes_below(service, key, text=text or None, after=after, limit=PAGE)
    except BadInputError:
        hits, next_after = [], None
    viewable = authz.can_view_teams(service, me, [h.key for h in hits])
    here = url_for("console.scope", key=key)

    def page_url(**args: Any) -> str:
        return url_for("console.scope", key=key, **args) + "#contents-heading"

    return {
        "hits": hits,
        "viewable": viewable,
        "find": text,
        "paged": after is not None,
        "next_url": page_url(find=text, after=next_after) if next_after else None,
        "first_url": page_url(find=text) if after else None,
        "action": here,
    }


@blueprint.app_context_processor
def _contents() -> dict[str, Any]:
    return {"scope_contents": scope_contents}


__all__ = ["scope_contents"]
