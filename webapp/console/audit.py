"""The audit log, newest first, filtered by user, scope, org (with its courses and libraries),
action, actor and a date range; a role change shows as one change, from one role to the other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import g, render_template, request, url_for
from markupsafe import Markup

from rolecall.core import AuditRecord, BadInputError
from rolecall.core.reads import audit_actions, recent_audit
from rolecall.core.writes import CHANGE_ROLE

from .. import authz
from . import blueprint
from .common import allow, rc, viewer

PAGE = 50
TEXT_FILTERS = ("user", "scope", "action", "actor", "org", "from", "to")


def exact_time(value: datetime | None) -> Markup:
    """``2026-03-12 14:03:21 UTC`` in a ``<time>`` element carrying the ISO time."""
    if value is None:
        return Markup("")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return Markup('<time datetime="{}">{}</time>').format(
        value.isoformat().replace("+00:00", "Z"), value.strftime("%Y-%m-%d %H:%M:%S UTC")
    )


blueprint.add_app_template_filter(exact_time, "utc")


@blueprint.app_context_processor
def _audit_links() -> dict[str, Any]:
    """``audit_link(scope=...)`` / ``audit_link(user=...)``: the address of the audit log
    filtered to a scope (an org with its courses and libraries) or a user, for the pages that
    link to it; None for a viewer who may not open the log."""

    def audit_link(*, scope: str | None = None, user: str | None = None) -> str | None:
        name = g.get("viewer")
        if not name or not authz.can_view_audit(rc(), name):
            return None
        if user is not None:
            return url_for("console.audit", user=user)
        if scope is not None and scope.startswith("org:"):
            return url_for("console.audit", org=scope)
        return url_for("console.audit", scope=scope)

    return {"audit_link": audit_link}


@dataclass(frozen=True)
class Entry:
    """One line of the log: an event, or both events of a role change (``old`` -> ``new``)."""

    event: AuditRecord
    old: str | None = None
    new: str | None = None

    @property
    def change(self) -> bool:
        return self.old is not None


def entries(records: tuple[AuditRecord, ...]) -> list[Entry]:
    """The events as lines: the two halves of a role change (one batch) make one line, at the
    place of the first of them on the page; either half alone (its other half on another
    page, or a change to a role already held, which only removes) is one line too."""
    out: list[Entry] = []
    shown: set[str] = set()
    for event in records:
        if event.action != CHANGE_ROLE:
            out.append(Entry(event))
            continue
        if event.batch_id is not None and event.batch_id in shown:
            continue
        if event.batch_id is not None:
            shown.add(event.batch_id)
        if event.details.get("op") == "revoke":
            old, new = event.role, event.details.get("to_role")
        else:
            old, new = event.details.get("from_role"), event.role
        out.append(Entry(event, old=str(old), new=str(new)))
    return out


def _day(text: str, name: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadInputError(f"{name} {text!r} is not a date (YYYY-MM-DD)") from None


@blueprint.get("/audit")
def audit() -> tuple[str, int]:
    service = rc()
    allow(
        authz.can_view_audit(service, viewer()),
        f"Reading the audit log takes {authz.VIEW_AUDIT_LOG} on the platform, and you do not "
        "hold it.",
        "platform",
        authz.VIEW_AUDIT_LOG,
    )
    filters = {name: request.args.get(name, "").strip()[:300] for name in TEXT_FILTERS}
    before_text = request.args.get("before", "")
    before = int(before_text) if before_text.isdigit() else None
    errors: list[str] = []
    records: tuple[AuditRecord, ...] = ()
    older = None
    try:
        start, end = _day(filters["from"], "From"), _day(filters["to"], "To")
        if start and end and end < start:
            raise BadInputError("the date range ends before it begins")
        page = recent_audit(
            service,
            user=filters["user"] or None,
            scope=filters["scope"] or None,
            action=filters["action"] or None,
            actor=filters["actor"] or None,
            org=filters["org"] or None,
            # Whole days in UTC, "to" included.
            since=datetime.combine(start, time(), tzinfo=UTC) if start else None,
            until=datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC) if end else None,
            before=before,
            limit=PAGE,
        )
        records, older = page.records, page.older
    except BadInputError as exc:
        errors.append(str(exc)[:1].upper() + str(exc)[1:] + ".")
    with service.reading() as index:
        orgs = sorted(k for k in index.known_scopes() if k.startswith("org:"))
    body = render_template(
        "console/audit.html",
        filters=filters,
        entries=entries(records),
        older=older,
        errors=errors,
        actions=audit_actions(service),
        orgs=orgs,
        filtered=any(filters.values()),
        paged=before is not None,
    )
    return body, 400 if errors else 200
