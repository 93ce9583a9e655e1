"""The audit log, newest first, filtered by user, scope, action and actor."""

from __future__ import annotations

from flask import render_template, request

from rolecall.core.reads import audit_actions, recent_audit

from .. import authz
from . import blueprint
from .common import allow, rc, viewer

PAGE = 50


@blueprint.get("/audit")
def audit() -> str:
    service = rc()
    allow(authz.can_view_audit(service, viewer()))
    filters = {
        name: request.args.get(name, "").strip()[:300]
        for name in ("user", "scope", "action", "actor")
    }
    before_text = request.args.get("before", "")
    before = int(before_text) if before_text.isdigit() else None
    page = recent_audit(
        service, before=before, limit=PAGE, **{k: v or None for k, v in filters.items()}
    )
    return render_template(
        "console/audit.html",
        filters=filters,
        page=page,
        actions=audit_actions(service),
        filtered=any(filters.values()),
        paged=before is not None,
    )
