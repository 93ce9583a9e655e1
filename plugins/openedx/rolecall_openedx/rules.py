"""A bridgekeeper rule that asks rolecall, and filters querysets without a per-row check.

::

    from bridgekeeper import perms
    from rolecall_openedx.rules import RolecallRule

    perms["courses.view_course"] = RolecallRule("courses.view_course")
    CourseOverview.objects.filter(perms["courses.view_course"].query(user))  # or .filter(...)

``check(user, instance)`` is rolecall's check on the instance's scope (no instance: the
platform). ``query(user)`` is a ``Q`` over the model's key field (``key_field``, default ``id``)
and org field (``org_field``, default ``org``): the scopes where the user holds the permission
(``scopes_where``), every row of an org where a grant on the org holds it, every row when a
platform grant does, less the rows of scopes a restriction denies to the user. Under a
restriction on an org or the platform, only the scopes rolecall lists as allowed count.
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
        try:
            keys = rc.scopes_where(username, self.permission)
        except BadInputError:
            return EMPTY
        wide: list[str] = []
        denied: list[str] = []
        now = time.time()
        with rc.reading() as index:
            for grant in index.grants_of(username) if username in index.users else ():
                if grant.expires_at is not None and grant.expires_at.timestamp() <= now:
                    continue
                if self.permission not in index.role_permissions(grant.role):
                    continue
                if grant.scope == "platform" or grant.scope.startswith("org:"):
                    wide.append(grant.scope)
            restricted = [r.scope for r in index.restrictions()]
        locked: set[str] = set()  # orgs under a restriction; "" for the platform
        for scope in restricted:
            if scope == "platform" or scope.startswith("org:"):
                # A lock on an org (or everywhere): its rows are not all allowed any more, so
                # only the scopes rolecall lists as allowed there count (deny by default).
                locked.add(scope.removeprefix("org:") if scope != "platform" else "")
                continue
            try:
                if not rc.check(username, self.permission, scope):
                    denied.append(scope)
            except BadInputError:
                continue
        if "" in locked:
            wide = []
        if self.org_field is None and locked:
            wide = []
        listed = Q(**{f"{self.key_field}__in": keys})
        broad: Q | None = None
        if "platform" in wide:
            broad = ~Q(**{f"{self.org_field}__in": sorted(locked)}) if locked else Q()
        else:
            orgs = [w.removeprefix("org:") for w in wide if w.startswith("org:")]
            orgs = [o for o in orgs if o not in locked]
            if orgs and self.org_field is not None:
                broad = Q(**{f"{self.org_field}__in": orgs})
        if broad is None:
            if not keys:
                return EMPTY
            query = listed
        elif not broad and not denied:
            return UNIVERSAL
        else:
            query = listed | broad if broad else listed | ~Q(**{f"{self.key_field}__in": []})
        if denied:
            query &= ~Q(**{f"{self.key_field}__in": denied})
        return query
