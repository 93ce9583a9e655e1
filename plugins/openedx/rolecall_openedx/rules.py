"""A bridgekeeper rule that asks rolecall, and filters querysets without a per-row check.

::

    from bridgekeeper import perms
    from rolecall_openedx.rules import RolecallRule

    perms["courses.view_course"] = RolecallRule("courses.view_course")
    CourseOverview.objects.filter(perms["courses.view_course"].query(user))  # or .filter(...)

``check(user, instance)`` is rolecall's check on the instance's scope (no instance: the
platform). ``query(user)`` is a ``Q`` over the model's key field (``key_field``, default ``id``)
and org field (``org_field``, default ``org``): the scopes where the user holds the permission
(``scopes_where``), every row of an org where a grant on the org gives it throughout the org
(``check_throughout``: a lock on the org applies, its exempt roles too), every row when a
platform grant does (less the orgs whose lock denies it), less the rows of scopes a
restriction denies to the user. The
courses where a derived role gives the permission (enrollment's ``discussion_student``) are
added, as ``check`` allows them: ``check`` and ``filter`` agree for every user and row.
"""

from __future__ import annotations

import time
from typing import Any

from bridgekeeper.rules import EMPTY, UNIVERSAL, Rule
from django.db.models import Q

from rolecall.core import BadInputError

from .backends import resolve_scope, username_of
from .service import get_rolecall


class RolecallRule(Rule):  # type: ignore[misc]
    def __init__(self, permission: str, key_field: str = "id", org_field: str | None = "org"):
        self.permission = permission
        self.key_field = key_field
        self.org_field = org_field

    def __repr__(self) -> str:
        return f"RolecallRule({self.permission!r})"

    def check(self, user: Any, instance: Any = None) -> bool:
        username = username_of(user)
        if username is None:
            return False
        scope = resolve_scope(instance)
        if scope is None:
            return False
        try:
            return get_rolecall().check(username, self.permission, scope)
        except BadInputError:
            return False

    def query(self, user: Any) -> Any:
        username = username_of(user)
        if username is None:
            return EMPTY
        rc = get_rolecall()
        known = rc.registry.permissions.get(self.permission)
        if known is None:
            return EMPTY
        kinds = [k for k in known.scope_types if k not in ("org", "platform")]
        keys = rc.scopes_where(username, self.permission)

        def throughout(scope: str) -> bool:
            """Allowed on every row below ``scope`` by what holds there and above, its
            restrictions applied (an exempt holder included)."""
            return any(rc.check_throughout(username, self.permission, scope, k) for k in kinds)

        wide: set[str] = set()
        now = time.time()
        with rc.reading() as index:
            for grant in index.grants_of(username) if username in index.users else ():
                if grant.expires_at is not None and grant.expires_at.timestamp() <= now:
                    continue
                if self.permission not in index.role_permissions(grant.role):
                    continue
                if grant.scope == "platform" or grant.scope.startswith("org:"):
                    wide.add(grant.scope)
            restricted = [r.scope for r in index.restrictions()]
        locked = {scope.removeprefix("org:") for scope in restricted if scope.startswith("org:")}
        # A lock on one scope below an org: its rows go unless rolecall allows them there.
        denied = [
            scope
            for scope in restricted
            if scope != "platform"
            and not scope.startswith("org:")
            and not rc.check(username, self.permission, scope)
        ]
        broad: Q | None = None
        if "platform" in wide and throughout("platform"):
            # Every row, but those of an org whose lock denies it to this user.
            out = sorted(org for org in locked if not throughout(f"org:{org}"))
            if not out:
                broad = Q()
            elif self.org_field is not None:
                broad = ~Q(**{f"{self.org_field}__in": out})
        elif self.org_field is not None:
            orgs = sorted(
                w.removeprefix("org:") for w in wide if w.startswith("org:") and throughout(w)
            )
            if orgs:
                broad = Q(**{f"{self.org_field}__in": orgs})
        derived = self._derived(rc, username)
        if broad is not None and not broad and not denied:
            return UNIVERSAL
        if broad is None and not keys and not derived:
            return EMPTY
        query = Q(**{f"{self.key_field}__in": keys})
        if broad is not None:
            query |= broad if broad else ~Q(**{f"{self.key_field}__in": []})
        if denied:
            query &= ~Q(**{f"{self.key_field}__in": denied})
        if derived:
            query |= Q(**{f"{self.key_field}__in": derived})
        return query

    def _derived(self, rc: Any, username: str) -> list[str]:
        """The courses where a derived role gives the permission to ``username`` (enrollment:
        ``discussion_student``), as ``check`` allows them: ``scopes_where`` lists stored
        grants only. One query for the enrollments, then one check per enrolled course."""
        sources = [
            d
            for d in rc.registry.derived_roles.values()
            if d.source == "enrollment"
            and self.permission in rc.registry.role_permissions.get(d.role, frozenset())
        ]
        if not sources:
            return []
        from .plugin import enrolled_courses

        try:
            return [c for c in enrolled_courses(username) if rc.check(username, self.permission, c)]
        except BadInputError:
            return []
