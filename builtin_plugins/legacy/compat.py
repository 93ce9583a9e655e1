"""The legacy instructor access functions (``lms.djangoapps.instructor.access``), on rolecall.

Each function keeps its legacy name, arguments and behaviour, and goes through the service like
any other change: audited, and under the delegation rules when acting as a user::

    from rolecall.builtin_plugins.legacy import LegacyAPI

    api = LegacyAPI(rc, as_user="ada")        # or actor="lms" for operator changes
    api.allow_access("course-v1:MITx+6.002x+2026_T1", "grace", "staff")
    api.list_with_level("course-v1:MITx+6.002x+2026_T1", "staff")   # ['grace']

Code written against the module-level functions configures a default once, at start-up::

    from rolecall.builtin_plugins import legacy

    legacy.configure(rc, actor="lms")
    legacy.allow_access(course, user, "beta")

``course`` may be a key or an object with an ``id`` (a course descriptor); ``user`` a username
or an object with a ``username`` (and optionally ``email``). openedx-authz's glob scopes
(``course-v1:ORG+*``, ``lib:ORG:*``) mean the whole org. A user rolecall does not know yet is
added on first use, once the change it is added for is allowed (a refused change adds nobody).
``send_email`` is accepted for compatibility: e-mails about role changes
are the ``communications`` plugin's, sent on every change.
"""

from __future__ import annotations

from typing import Any

from rolecall.core import BadInputError, NotAllowedError, Rolecall, org_wide

from .mapping import RoleMapping

LEVELS = {"instructor": "instructor", "staff": "staff", "beta": "beta_testers"}
"""The levels of ``allow_access`` and ``revoke_access``, and the legacy role each one is."""
FORUM_ROLES = ("Administrator", "Moderator", "Group Moderator", "Community TA")
"""The forum roles ``update_forum_role`` manages (``Student`` too, which enrolment gives)."""


class RoleDoesNotExist(LookupError):
    """The forum role asked for does not exist (the legacy ``Role.DoesNotExist``)."""


def scope_of(course: object) -> str:
    """A scope key from a course key, a course object (its ``id``) or an openedx-authz glob."""
    key: str = org_wide(str(getattr(course, "id", course)))
    return key


def _username(user: object) -> str:
    name = getattr(user, "username", user)
    if not isinstance(name, str):
        raise BadInputError(f"a user is a username or has a username, not {type(user).__name__}")
    return name


class LegacyAPI:
    """The legacy access functions bound to one service and one way of acting: ``as_user``
    (a user, under the delegation rules) or ``actor`` (the operator's name for the audit
    log); neither means an anonymous operator change."""

    def __init__(
        self,
        rc: Rolecall,
        *,
        actor: str | None = None,
        as_user: str | None = None,
        mapping: RoleMapping | None = None,
    ) -> None:
        if actor is not None and as_user is not None:
            raise BadInputError("give either actor or as_user, not both")
        self.rc = rc
        self.actor = actor
        self.as_user = as_user
        self.mapping = mapping or RoleMapping()

    def acting_as(self, user: object) -> LegacyAPI:
        """The same API, making changes as ``user`` (under the delegation rules)."""
        return LegacyAPI(self.rc, as_user=_username(user), mapping=self.mapping)

    # ---------------------------------------------------------------- helpers

    def _course_role(self, level: str) -> str:
        legacy = LEVELS.get(level)
        if legacy is None:
            raise ValueError(f"unrecognized level '{level}'")
        target = self.mapping.course_roles[legacy][0]
        assert target is not None
        return target

    def _forum_role(self, rolename: str) -> str | None:
        return self.mapping.forum_roles.get(rolename)

    def _ensure_user(self, user: object, role: str, scope: str) -> str:
        """The username of ``user``, added if rolecall does not know it yet, but only once
        the assignment it is added for is allowed: a refused change adds nobody."""
        name = _username(user)
        try:
            self.rc.grants(name)
        except BadInputError:
            self._decide_assign(name, role, scope)
            email = getattr(user, "email", None)
            self.rc.add_user(
                name,
                email=email if isinstance(email, str) else None,
                actor=self.as_user or self.actor,
            )
        return name

    def _decide_assign(self, name: str, role: str, scope: str) -> None:
        """Raise what :meth:`Rolecall.assign` would for giving ``role`` at ``scope`` to the
        new user ``name`` (a role that cannot be assigned there, a refusal by the delegation
        rules), before the user is added."""
        definition = self.rc.role(role)
        kind = self.rc.registry.scopes.resolve(scope).type
        if kind not in definition.scope_types:
            raise BadInputError(
                f"role {definition.id} cannot be assigned at a {kind} scope; it can be "
                f"assigned at: {', '.join(definition.scope_types)}"
            )
        if self.as_user is not None:
            self.rc.sync()  # decide on the freshest grants, as the assignment itself does
            refusal = self.rc.delegation().may_assign(self.as_user, definition.id, scope, name)
            if refusal is not None:
                raise NotAllowedError(refusal)

    def _holds(self, user: str, role: str, scope: str) -> bool:
        try:
            grants = self.rc.grants(user)
        except BadInputError:
            return False
        return any(g.role == role and g.scope == scope for g in grants)

    def _change(self, action: str, course: object, user: object, role: str) -> None:
        scope = self.rc.registry.scopes.resolve(scope_of(course)).key
        if action == "allow":
            name = self._ensure_user(user, role, scope)
            self.rc.assign(name, role, scope, actor=self.actor, as_user=self.as_user)
            return
        name = _username(user)
        if self._holds(name, role, scope):  # removing a role not held is a no-op, as before
            self.rc.revoke(name, role, scope, actor=self.actor, as_user=self.as_user)

    def _members(self, scope: object, role: str) -> list[str]:
        key = self.rc.registry.scopes.resolve(scope_of(scope)).key
        team = self.rc.who(key)
        return sorted(
            m.user for m in team.members if any(g.role == role and not g.expired for g in m.grants)
        )

    # ---------------------------------------------------------------- the legacy functions

    def allow_access(
        self, course: object, user: object, level: str, send_email: bool = True
    ) -> None:
        """Give ``user`` ``level`` access (instructor, staff or beta) to ``course``; a level
        already held changes nothing. Any other level raises ``ValueError``."""
        self._change("allow", course, user, self._course_role(level))

    def revoke_access(
        self, course: object, user: object, level: str, send_email: bool = True
    ) -> None:
        """Remove ``level`` access from ``user`` on ``course``; nothing happens if not held."""
        self._change("revoke", course, user, self._course_role(level))

    def list_with_level(self, course_id: object, level: str) -> list[str]:
        """The usernames holding ``level`` on the course itself (not through its org), sorted.
        ``level`` is instructor, staff, beta or another legacy course role name
        (``data_researcher``...); an unknown one gives an empty list."""
        legacy = LEVELS.get(level, level)
        target = self.mapping.course_roles.get(legacy, (None, ()))[0]
        return [] if target is None else self._members(course_id, target)

    def is_beta_tester(self, user: object, course_id: object) -> bool:
        """Whether ``user`` is a beta tester of the course: on the course or its whole org."""
        role = self._course_role("beta")
        try:
            chain = set(self.rc.registry.scopes.chain(scope_of(course_id)))
            grants = self.rc.grants(_username(user))
        except BadInputError:
            return False
        return any(g.role == role and g.scope in chain and not g.expired for g in grants)

    def is_forum_role(self, rolename: str) -> bool:
        return rolename in FORUM_ROLES

    def update_forum_role(
        self, course_id: object, user: object, rolename: str, action: str
    ) -> None:
        """``allow`` or ``revoke`` a forum role (Administrator, Moderator, Group Moderator,
        Community TA, Student). An unknown role raises :class:`RoleDoesNotExist`; an action
        other than allow or revoke raises ``ValueError``."""
        role = self._forum_role(rolename)
        if role is None:
            raise RoleDoesNotExist(f"no forum role {rolename!r} for {scope_of(course_id)}")
        if action not in ("allow", "revoke"):
            raise ValueError(f"unrecognized action '{action}'")
        self._change(action, course_id, user, role)

    def list_forum_members(self, course_id: object, rolename: str) -> list[str]:
        """The usernames holding forum role ``rolename`` on the course, sorted; an empty list
        when the role does not exist."""
        role = self._forum_role(rolename)
        return [] if role is None else self._members(course_id, role)


_default: LegacyAPI | None = None


def configure(rc: Rolecall, **options: Any) -> LegacyAPI:
    """Bind the module-level functions to ``rc`` (options as for :class:`LegacyAPI`)."""
    global _default
    _default = LegacyAPI(rc, **options)
    return _default


def default_api() -> LegacyAPI:
    if _default is None:
        raise RuntimeError(
            "the legacy functions are not configured: call "
            "rolecall.builtin_plugins.legacy.configure(rc) at start-up"
        )
    return _default


def allow_access(course: object, user: object, level: str, send_email: bool = True) -> None:
    default_api().allow_access(course, user, level, send_email)


def revoke_access(course: object, user: object, level: str, send_email: bool = True) -> None:
    default_api().revoke_access(course, user, level, send_email)


def list_with_level(course_id: object, level: str) -> list[str]:
    return default_api().list_with_level(course_id, level)


def is_beta_tester(user: object, course_id: object) -> bool:
    return default_api().is_beta_tester(user, course_id)


def is_forum_role(rolename: str) -> bool:
    return rolename in FORUM_ROLES


def update_forum_role(course_id: object, user: object, rolename: str, action: str) -> None:
    default_api().update_forum_role(course_id, user, rolename, action)


def list_forum_members(course_id: object, rolename: str) -> list[str]:
    return default_api().list_forum_members(course_id, rolename)
