"""The frozen records plugins contribute: scope types, permissions and roles.

Records validate their own shape when they are built (ids, references written correctly); the
registry then validates how records of all plugins fit together (duplicates, unknown references,
implication cycles). A plugin builds records and returns them from its hooks::

    from rolecall.core import Permission, Risk

    Permission(
        id="courses.publish_course_content",
        title="Publish course content",
        description="Make draft changes visible to learners.",
        area="Course content",
        scope_types=("course",),
        implies=("courses.edit_course_content",),
        risks={Risk.PUBLISHING},
    )
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

PERMISSION_ID_RE = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
NAME_RE = r"^[a-z][a-z0-9_]*$"
NAMESPACE_RE = r"^[a-z][a-z0-9-]*$"

PermissionId = Annotated[str, StringConstraints(pattern=PERMISSION_ID_RE, max_length=120)]
"""A lowercase dotted name with a namespace: ``courses.view_course``."""
Name = Annotated[str, StringConstraints(pattern=NAME_RE, max_length=80)]
"""A lowercase identifier: role ids, scope type ids (``course_admin``, ``course``)."""
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)]


class Risk(enum.StrEnum):
    """What can go wrong when a permission is misused; shown next to it in the console."""

    LEARNER_DATA = "learner_data"
    GRADES = "grades"
    PUBLISHING = "publishing"
    TEAM_MANAGEMENT = "team_management"
    PLATFORM_CONFIGURATION = "platform_configuration"


class _Record(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, defer_build=True
    )


def _unique(values: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{info.field_name} lists {value!r} twice")
        seen.add(value)
    return values


@dataclass(frozen=True, slots=True)
class ParsedKey:
    """What a scope type's parser returns for a valid key.

    ``fields`` are the key's named parts (``org``, ``course``, ``run`` ...); ``parent`` is the key
    of the enclosing scope, derived from the key alone, or ``None`` for the root (``platform``).
    """

    fields: Mapping[str, str]
    parent: str | None


KeyParser = Callable[[str], ParsedKey]
"""Parses one key of its type; raises ``ValueError`` with a short reason when it is malformed."""


class ScopeType(_Record):
    """A kind of place where access is granted.

    ``namespace`` is what a key of this type starts with: the text before the first ``:``
    (``course-v1`` for ``course-v1:MITx+6.002x+2026_T1``), or the whole key for a type with a
    single key (``platform``). ``pattern`` and ``example`` are shown in error messages.

    A type whose keys come in more than one form says so: ``other_namespaces`` are further
    namespaces of its keys (``library-v1`` for Open edX's v1 library keys
    ``library-v1:MITx+physics``), and ``slash_keys`` claims the keys written without any
    namespace as parts joined by ``/`` (Open edX's old-style course keys
    ``MITx/6.002x/2012_Fall``): the resolver hands every key with no ``:`` and at least one
    ``/`` to this type's parser. At most one scope type may claim them. ``parse`` is given
    each form and keeps the key as it is: a key is never rewritten into another form.
    """

    id: Name
    title: Text
    description: Text
    namespace: Annotated[str, StringConstraints(pattern=NAMESPACE_RE, max_length=40)]
    pattern: Text
    example: Text
    parse: KeyParser
    team_permission: PermissionId | None = None
    """The permission that shows a scope's team (who holds which role there), checked on the
    scope itself. ``None``, or a permission no loaded plugin registers: those who may view the
    platform's team see it."""
    org_wildcard: Annotated[str, StringConstraints(max_length=120)] | None = None
    """For a type whose keys carry an org: a key pattern with ``{org}`` and a trailing ``*``
    (``course-v1:{org}+*``) that bulk operations read as "every scope of this type in the org",
    that is the org itself (one org-wide grant covering current and future scopes)."""
    other_namespaces: tuple[
        Annotated[str, StringConstraints(pattern=NAMESPACE_RE, max_length=40)], ...
    ] = ()
    slash_keys: bool = False

    @field_validator("other_namespaces")
    @classmethod
    def _no_repeats(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        return _unique(value, info)

    @property
    def namespaces(self) -> tuple[str, ...]:
        """Every namespace of this type's keys, its own first."""
        return (self.namespace, *self.other_namespaces)


class Permission(_Record):
    """A namespaced action, such as ``courses.edit_course_content``.

    ``implies`` lists the permissions that holding this one also grants (publish implies edit
    implies view); the registry closes them transitively and rejects cycles. ``scope_types`` are
    the scope types where the permission means something; a check elsewhere is denied.
    """

    id: PermissionId
    title: Text
    description: Text
    area: Text
    scope_types: tuple[Name, ...] = Field(min_length=1)
    implies: tuple[PermissionId, ...] = ()
    risks: frozenset[Risk] = frozenset()

    @field_validator("scope_types", "implies")
    @classmethod
    def _no_repeats(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        return _unique(value, info)


@dataclass(frozen=True)
class PermissionFactory:
    """Builds a plugin's permissions with the defaults they share::

        from rolecall.core import PermissionFactory

        permission = PermissionFactory(scope_types=("course",), namespace="notes", area="Notes")
        permission("view_notes", "View notes", "Read the notes.")
        permission("edit_notes", "Edit notes", "Change the notes.", implies=("view_notes",))

    A name without a dot, as the id or in ``implies``, is put in ``namespace``
    (``notes.view_notes``); one with a dot is taken as it is. ``area``, ``scope_types`` and
    ``risks`` are defaults a call may replace. The result is an ordinary :class:`Permission`.
    """

    scope_types: tuple[str, ...]
    namespace: str | None = None
    area: str | None = None
    risks: frozenset[Risk] = frozenset()

    def _id(self, name: str) -> str:
        return name if self.namespace is None or "." in name else f"{self.namespace}.{name}"

    def __call__(
        self,
        name: str,
        title: str,
        description: str,
        area: str | None = None,
        *,
        scope_types: tuple[str, ...] | None = None,
        implies: Iterable[str] = (),
        risks: Iterable[Risk] | None = None,
    ) -> Permission:
        area = self.area if area is None else area
        if area is None:
            raise TypeError(f"permission {name!r} needs an area (this factory has none)")
        return Permission(
            id=self._id(name),
            title=title,
            description=description,
            area=area,
            scope_types=self.scope_types if scope_types is None else scope_types,
            implies=tuple(self._id(i) for i in implies),
            risks=self.risks if risks is None else frozenset(risks),
        )


class Role(_Record):
    """A named, described bundle of permissions.

    ``permissions`` and the permissions of the roles in ``includes`` make up the role; the
    registry adds everything they imply. ``scope_types`` are where the role may be assigned: a
    role assigned on an org or the platform covers the descendant scopes where its permissions
    apply. ``aliases`` are other names the role is known by (legacy ``instructor``, ``staff``).
    ``grants_all`` makes a role hold every registered permission (the platform administrator):
    still an ordinary, visible assignment, never a hidden flag. ``admin`` marks a team
    administrator role: a scope keeps at least one holder, and a holder cannot remove it from
    themself. ``revocable_by`` makes a role sensitive: only holders of one of these roles, on
    the same scope or above, may revoke it. ``not_inherited`` are permissions the role holds
    itself but does not pass to the roles that include it (openedx-authz's legacy permission
    ids: ``course_admin`` includes ``course_staff`` but does not hold
    ``courses.legacy_staff_role_permissions``).
    """

    id: Name
    title: Text
    description: Text
    scope_types: tuple[Name, ...] = Field(min_length=1)
    permissions: tuple[PermissionId, ...] = ()
    includes: tuple[Name, ...] = ()
    aliases: tuple[Annotated[str, StringConstraints(min_length=1, max_length=80)], ...] = ()
    grants_all: bool = False
    admin: bool = False
    revocable_by: tuple[Name, ...] = ()
    not_inherited: tuple[PermissionId, ...] = ()

    @field_validator(
        "scope_types", "permissions", "includes", "aliases", "revocable_by", "not_inherited"
    )
    @classmethod
    def _no_repeats(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        return _unique(value, info)


class DelegationRule(_Record):
    """Who may assign and revoke which roles where.

    Holders of any of ``holders`` (on a scope or above it) may assign the roles in ``assign``
    and revoke those in ``revoke`` (``"*"``: every role) on scopes of ``scope_types`` (``"*"``:
    every scope type, those of plugins loaded later included) at or below where they hold it.
    Rules only widen what is allowed; the guards (no escalation, last admin, own admin role,
    sensitive roles) apply on top of every rule.
    """

    id: Name
    description: Text
    holders: tuple[Name, ...] = Field(min_length=1)
    assign: tuple[str, ...] = ()
    revoke: tuple[str, ...] = ()
    scope_types: tuple[Name | Literal["*"], ...] = Field(min_length=1)

    @field_validator("holders", "assign", "revoke", "scope_types")
    @classmethod
    def _no_repeats(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        return _unique(value, info)

    def covers(self, role: str, action: str) -> bool:
        listed = self.assign if action == "assign" else self.revoke
        return "*" in listed or role in listed

    def applies_at(self, scope_type: str) -> bool:
        """Whether the rule works on scopes of ``scope_type``."""
        return "*" in self.scope_types or scope_type in self.scope_types


MembershipSource = Callable[[str, str], bool]
"""``(username, scope key) -> bool``: whether the outside source names the user at that scope."""


@dataclass(frozen=True)
class DerivedRole:
    """A role held by exactly the users an outside source names, never stored per user.

    Every learner enrolled in a course holds the forum role ``discussion_student`` there; stored
    as assignments they would swamp the index, so the platform's integration declares::

        DerivedRole(role="discussion_student", source="enrollment",
                    description="enrolled in the course", scope_types=("course",),
                    holds=lambda user, course: is_enrolled(user, course))

    ``role`` is a registered role; ``holds(user, key)`` is asked at the scopes of
    ``scope_types`` on a checked scope's chain, only when the stored grants deny and the
    permission is one the role gives. Restrictions apply to it as to a stored grant (the role
    may be exempt). ``source`` and ``description`` name the source in explanations
    (``holds discussion_student on X through enrollment: enrolled in the course``). A
    ``holds`` that raises counts as "not a member" (and is logged): a failing source never
    allows, and never breaks a check.
    """

    role: str
    source: str
    description: str
    scope_types: tuple[str, ...]
    holds: MembershipSource

    def __post_init__(self) -> None:
        for name, value in (("role", self.role), ("source", self.source)):
            if re.fullmatch(NAME_RE, value) is None:
                raise ValueError(f"derived role {name} {value!r} is not a lowercase name")
        if not self.scope_types or any(re.fullmatch(NAME_RE, t) is None for t in self.scope_types):
            raise ValueError(f"derived role {self.role}: scope_types must name scope types")
        if not self.description.strip():
            raise ValueError(f"derived role {self.role}: the description is empty")
        if not callable(self.holds):
            raise ValueError(f"derived role {self.role}: holds must be callable")


@dataclass(frozen=True, slots=True)
class Scope:
    """A parsed scope key. ``chain`` is the key itself followed by its ancestors, nearest first:
    ``("course-v1:MITx+6.002x+2026_T1", "org:MITx", "platform")``."""

    key: str
    type: str
    fields: Mapping[str, str]
    chain: tuple[str, ...]

    @property
    def parent(self) -> str | None:
        return self.chain[1] if len(self.chain) > 1 else None


class AssignmentEvent(_Record):
    """One change to an assignment, passed to the ``assignment_changed`` hook after it is
    committed."""

    action: Literal["assign", "revoke", "expire"]
    user: str
    role: str
    scope: str
    actor: str | None = None
    reason: str | None = None
    at: datetime
    revision: int


ConsoleContent = str | Mapping[str, object]
"""What a console page's ``render`` returns: plain text (shown escaped, one paragraph per blank
line), or a mapping with any of ``"text"`` (plain text) and ``"tables"``: a list of mappings
with ``"caption"``, ``"headers"`` (a list of strings), ``"rows"`` (lists of cell values, shown as
text) and ``"empty"`` (what to say when there is no row). Plugins never write HTML: the console
escapes everything it shows."""


@dataclass(frozen=True)
class ConsolePage:
    """A page a plugin adds to the console, listed in its navigation and shown inside its
    layout at ``/console/plugins/<id>``.

    ``render(viewer, rolecall)`` is called with the signed-in username and the service object on
    each visit. The page is shown to users who hold ``permission``: at ``scope`` when one is
    given, else on at least one known scope. Everyone else gets the console's 403 page.
    """

    id: str
    title: str
    description: str
    permission: str
    render: Callable[..., ConsoleContent]
    scope: str | None = None

    def __post_init__(self) -> None:
        if re.fullmatch(NAME_RE, self.id) is None:
            raise ValueError(f"console page id {self.id!r} is not a lowercase name")
        if re.fullmatch(PERMISSION_ID_RE, self.permission) is None:
            raise ValueError(f"console page {self.id}: {self.permission!r} is not a permission id")
