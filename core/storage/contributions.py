"""Which plugin registered which scope type, role and permission, remembered by the database.

Every time the service opens, what the loaded plugins register is compared with what the
database remembers, and anything new (or now registered by another plugin) is recorded, in a
transaction of its own: it is not access data, so it takes no write lock and no revision. When
a plugin is absent later, the rows naming its records are dormant and this memory names the
plugin they wait for.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..registry import Registry
from .models import Contribution
from .sessions import driver_errors


def contributions(registry: Registry) -> dict[tuple[str, str], str]:
    """(kind, id) -> plugin of everything ``registry`` holds; a scope type by its namespace."""
    found: dict[tuple[str, str], str] = {}
    for origin, plugin in registry.origin.items():
        kind, _, ident = origin.partition(":")
        if kind == "scope_type":
            scope_type = registry.scope_types.get(ident)
            if scope_type is None:
                continue
            ident = scope_type.namespace
        if kind in ("scope_type", "role", "permission"):
            found[(kind, ident)] = plugin
    return found


def remember(engine: Engine, registry: Registry) -> None:
    """Record what ``registry``'s plugins contribute that the database does not know yet."""
    wanted = contributions(registry)
    for _ in range(3):  # another process may record the same rows at the same moment
        try:
            with Session(engine) as session, session.begin():
                known = {(c.kind, c.id): c for c in session.scalars(select(Contribution))}
                now = datetime.now(UTC)
                for (kind, ident), plugin in wanted.items():
                    row = known.get((kind, ident))
                    if row is None:
                        session.add(Contribution(kind=kind, id=ident, plugin=plugin, seen_at=now))
                    elif row.plugin != plugin:
                        row.plugin, row.seen_at = plugin, now
            return
        except IntegrityError:
            continue


def remembered(engine: Engine) -> dict[tuple[str, str], str]:
    """(kind, id) -> the plugin that last registered it, as the database remembers."""
    with driver_errors(None), Session(engine) as session:
        return {(c.kind, c.id): c.plugin for c in session.scalars(select(Contribution))}
