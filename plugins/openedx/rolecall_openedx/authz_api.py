"""openedx-authz's API (``openedx_authz.api``: its user and subject functions and its data
classes) answered by rolecall, under the same names, parameters and result shapes, so platform
code switches by changing its import::

    from rolecall_openedx import authz_api as api      # was: from openedx_authz import api

Users are usernames (openedx-authz's ``user_external_key``), roles are role ids, scopes are scope
keys, actions are permission ids: rolecall registers openedx-authz's catalogue under the same
ids. openedx-authz's globs name what rolecall grants on an org or the platform:
``course-v1:ORG+*`` and ``lib:ORG:*`` are ``org:ORG`` for the course and library roles,
``course-v1:*`` and ``lib:*`` are ``platform``; a grant there is listed under the glob of its
role's kind. Expired grants are not listed. What differs from openedx-authz, and why, is in
docs/openedx.md ("The openedx-authz API under the same names").

Roles are given only to the platform's users (Django's ``get_user_model()``, not one being
retired): an assignment naming a username the platform does not have raises
:class:`UnknownUserError` and writes nothing, so a typo cannot leave a grant that a later
account of that name would inherit. A platform user rolecall has not met is added with the
first role they are given.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Any, ClassVar

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey
from opaque_keys.edx.locator import LibraryLocator, LibraryLocatorV2

from rolecall.core import BadInputError, GrantInfo, Role, Rolecall
from rolecall.core.governance.bulk import glob_of

from .service import get_rolecall

log = logging.getLogger(__name__)

ACTOR = "openedx-authz-api"
SEPARATOR = "^"
"""Between a namespace and a key in openedx-authz's namespaced keys (``lib^lib:Org1:math``)."""
WILDCARD = "*"
UNKNOWN_ACTIONS_LOGGED = 1_000
"""At most this many different unknown actions are remembered (and logged) per process."""


class UnknownUserError(BadInputError):
    """An assignment named usernames the platform has no user for (or whose user is being
    retired); nothing was assigned. ``usernames`` are those names."""

    def __init__(self, usernames: Sequence[str]) -> None:
        self.usernames = tuple(usernames)
        names = ", ".join(repr(n) for n in self.usernames)
        super().__init__(
            f"the platform has no user {names}: roles are given only to the platform's users "
            "(nothing was assigned)"
        )


# ------------------------------------------------------------------ data classes


class GroupingPolicyIndex(Enum):
    """Positions in openedx-authz's assignment rows ([subject, role, scope]), as
    :func:`get_all_roles_in_scope` answers them."""

    SUBJECT = 0
    ROLE = 1
    SCOPE = 2


class PolicyIndex(Enum):
    """Positions in openedx-authz's policy rows ([role, action, scope, effect])."""

    ROLE = 0
    ACT = 1
    SCOPE = 2
    EFFECT = 3


class AuthzBaseClass:
    SEPARATOR: ClassVar[str] = SEPARATOR
    NAMESPACE: ClassVar[str | None] = None


@dataclass
class AuthZData(AuthzBaseClass):
    """A key with and without its namespace (``lib:Org1:math``, ``lib^lib:Org1:math``): give
    either, the other is derived."""

    external_key: str = ""
    namespaced_key: str = ""

    def __post_init__(self) -> None:
        if not self.NAMESPACE:
            return
        if not self.external_key and not self.namespaced_key:
            raise ValueError("Either external_key or namespaced_key must be provided.")
        if not self.namespaced_key:
            self.namespaced_key = f"{self.NAMESPACE}{self.SEPARATOR}{self.external_key}"
        if not self.external_key:
            _, separator, key = self.namespaced_key.partition(self.SEPARATOR)
            if not separator:
                raise ValueError(f"Invalid namespaced_key format: {self.namespaced_key}")
            self.external_key = key


@dataclass
class ActionData(AuthZData):
    """An action: a permission id (``content_libraries.delete_library``)."""

    NAMESPACE: ClassVar[str | None] = "act"

    @property
    def name(self) -> str:
        """``Content Libraries > Delete Library``."""
        return " > ".join(part.replace("_", " ").title() for part in self.external_key.split("."))

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return self.namespaced_key


@dataclass(eq=False)
class PermissionData:
    """An action and its effect (rolecall's permissions only ever allow)."""

    action: ActionData | None = None
    effect: str = "allow"

    @property
    def identifier(self) -> str:
        """The permission id (``content_libraries.delete_library``)."""
        return self.action.external_key if self.action is not None else ""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PermissionData) or self.action is None or other.action is None:
            return False
        return (self.action.external_key, self.effect) == (other.action.external_key, other.effect)

    def __str__(self) -> str:
        return f"{self.action} - {self.effect}"

    def __repr__(self) -> str:
        return f"{self.action!r} => {self.effect}"


@dataclass
class SubjectData(AuthZData):
    """Who roles are given to; ``SubjectData(namespaced_key="user^alice")`` is a
    :class:`UserData`."""

    NAMESPACE: ClassVar[str | None] = "sub"

    def __new__(cls, *args: Any, **kwargs: Any) -> SubjectData:
        if cls is SubjectData and isinstance(kwargs.get("namespaced_key"), str):
            namespace = kwargs["namespaced_key"].partition(SEPARATOR)[0]
            cls = UserData if namespace == UserData.NAMESPACE else SubjectData
        return super().__new__(cls)


@dataclass
class UserData(SubjectData):
    """A user, by username."""

    NAMESPACE: ClassVar[str | None] = "user"

    @property
    def username(self) -> str:
        return self.external_key

    def __str__(self) -> str:
        return self.username

    def __repr__(self) -> str:
        return self.namespaced_key


@dataclass(eq=False)
class RoleData(AuthZData):
    """A role, by id, with its permissions (as rolecall closes them: implied ones included);
    roles are equal when their ids are."""

    NAMESPACE: ClassVar[str | None] = "role"
    permissions: list[PermissionData] = field(default_factory=list)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RoleData) and self.namespaced_key == other.namespaced_key

    @property
    def name(self) -> str:
        """``Library Admin`` for ``library_admin``."""
        return self.external_key.replace("_", " ").title()

    def get_permission_identifiers(self) -> list[str]:
        return [p.identifier for p in self.permissions]

    def __str__(self) -> str:
        return f"{self.name}: {', '.join(str(p) for p in self.permissions)}"

    def __repr__(self) -> str:
        return self.namespaced_key


def _permission(action: str) -> PermissionData:
    return PermissionData(action=ActionData(external_key=action))


@dataclass
class ScopeData(AuthZData):
    """Where a role is given. ``ScopeData(external_key=...)`` (or ``namespaced_key=``) is the
    class of the key: :class:`CourseOverviewData` (``course-v1:`` and old-style ``ORG/COURSE/RUN``
    keys), :class:`ContentLibraryData` (``lib:`` and ``library-v1:``), the org and platform
    globs; any other key (rolecall's ``org:MITx``, ``platform``) is a plain ScopeData. A
    malformed course or library key, or a glob of no known form, raises ValueError."""

    NAMESPACE: ClassVar[str | None] = "global"
    IS_ORG_GLOB: ClassVar[bool] = False
    IS_PLATFORM_GLOB: ClassVar[bool] = False

    def __new__(cls, *args: Any, **kwargs: Any) -> ScopeData:
        if cls is ScopeData:
            if isinstance(kwargs.get("namespaced_key"), str) and not kwargs.get("external_key"):
                cls = _class_of_namespaced(kwargs["namespaced_key"])
            elif isinstance(kwargs.get("external_key"), str):
                cls = _class_of(kwargs["external_key"])
            elif args and isinstance(args[0], str):
                cls = _class_of(args[0])
        return super().__new__(cls)

    @property
    def IS_GLOB(self) -> bool:
        return self.IS_ORG_GLOB or self.IS_PLATFORM_GLOB

    @classmethod
    def validate_external_key(cls, _: str) -> bool:
        return True

    @classmethod
    def get_admin_view_permission(cls) -> PermissionData:
        """The permission that shows this kind of scope's team."""
        raise NotImplementedError(f"{cls.__name__} has no team permission")

    @classmethod
    def get_admin_manage_permission(cls) -> PermissionData:
        """The permission that changes this kind of scope's team."""
        raise NotImplementedError(f"{cls.__name__} has no team permission")

    def get_object(self) -> Any | None:
        """The platform's record of the scope (a CourseOverview, a ContentLibrary, an
        Organization), where the platform has it; None otherwise."""
        return None

    def exists(self) -> bool:
        """Whether the scope exists as rolecall decides it for a grant: rolecall knows it, or
        the platform's scope catalogue has it (its course list)."""
        rc = get_rolecall()
        try:
            return rc.unknown_scope(_place(rc, self.external_key).key) is None
        except BadInputError:
            return False

    def __str__(self) -> str:
        return self.external_key

    def __repr__(self) -> str:
        return self.namespaced_key


def _platform_model(label: str) -> Any | None:
    try:
        return apps.get_model(label)
    except (LookupError, ValueError):
        return None


@dataclass
class ContentLibraryData(ScopeData):
    """A content library: ``lib:ORG:SLUG`` (and rolecall's ``library-v1:ORG+SLUG``)."""

    NAMESPACE: ClassVar[str | None] = "lib"
    ID_SEPARATOR: ClassVar[str] = ":"

    @property
    def org(self) -> str:
        return str(self.library_key.org)

    @property
    def library_id(self) -> str:
        return self.external_key

    @cached_property
    def library_key(self) -> LibraryLocatorV2 | LibraryLocator:
        if self.external_key.startswith("library-v1:"):
            return LibraryLocator.from_string(self.external_key)
        return LibraryLocatorV2.from_string(self.external_key)

    @classmethod
    def validate_external_key(cls, external_key: str) -> bool:
        parser = LibraryLocator if external_key.startswith("library-v1:") else LibraryLocatorV2
        try:
            parser.from_string(external_key)
        except InvalidKeyError:
            return False
        return True

    @classmethod
    def get_admin_view_permission(cls) -> PermissionData:
        return _permission("content_libraries.view_library_team")

    @classmethod
    def get_admin_manage_permission(cls) -> PermissionData:
        return _permission("content_libraries.manage_library_team")

    def get_object(self) -> Any | None:
        model = _platform_model("content_libraries.ContentLibrary")
        if model is None:
            return None
        try:
            found = model.objects.get_by_key(self.library_key)
        except (InvalidKeyError, model.DoesNotExist):
            return None
        return found if str(found.library_key) == self.library_id else None


@dataclass
class CourseOverviewData(ScopeData):
    """A course run: ``course-v1:ORG+COURSE+RUN`` (and old-style ``ORG/COURSE/RUN``)."""

    NAMESPACE: ClassVar[str | None] = "course-v1"
    ID_SEPARATOR: ClassVar[str] = "+"

    @property
    def org(self) -> str:
        return str(self.course_key.org)

    @property
    def course_id(self) -> str:
        return self.external_key

    @cached_property
    def course_key(self) -> CourseKey:
        return CourseKey.from_string(self.course_id)

    @classmethod
    def validate_external_key(cls, external_key: str) -> bool:
        try:
            CourseKey.from_string(external_key)
        except InvalidKeyError:
            return False
        return True

    @classmethod
    def get_admin_view_permission(cls) -> PermissionData:
        return _permission("courses.view_course_team")

    @classmethod
    def get_admin_manage_permission(cls) -> PermissionData:
        return _permission("courses.manage_course_team")

    def get_object(self) -> Any | None:
        """The platform's CourseOverview (``settings.ROLECALL_COURSE_OVERVIEW_MODEL``, as the
        scope catalogue reads it), spelled exactly as the key."""
        if not getattr(settings, "ROLECALL_SCOPE_CATALOGUE", True):
            return None
        model = _platform_model(
            getattr(settings, "ROLECALL_COURSE_OVERVIEW_MODEL", "course_overviews.CourseOverview")
        )
        if model is None:
            return None
        try:
            found = model.objects.filter(id=self.course_key).first()
        except InvalidKeyError:
            return None
        return found if found is not None and str(found.id) == self.course_id else None


@dataclass
class OrgGlobData(ScopeData):
    """Every scope of one kind in an org: ``course-v1:ORG+*``, ``lib:ORG:*`` (rolecall's
    ``org:ORG`` for the roles of that kind)."""

    NAMESPACE: ClassVar[str | None] = "org"
    IS_ORG_GLOB: ClassVar[bool] = True
    ID_SEPARATOR: ClassVar[str]
    ORG_NAME_VALID_PATTERN: ClassVar[str] = r"^[a-zA-Z0-9._-]*$"

    @property
    def org(self) -> str | None:
        return self.get_org(self.external_key)

    @classmethod
    def validate_external_key(cls, external_key: str) -> bool:
        if not external_key.startswith(f"{cls.NAMESPACE}:"):
            return False
        org = cls.get_org(external_key)
        return org is not None and re.match(cls.ORG_NAME_VALID_PATTERN, org) is not None

    @classmethod
    def build_external_key(cls, org: str) -> str:
        return f"{cls.NAMESPACE}:{org}{cls.ID_SEPARATOR}{WILDCARD}"

    @classmethod
    def get_org(cls, external_key: str) -> str | None:
        if not hasattr(cls, "ID_SEPARATOR"):
            raise NotImplementedError(f"{cls.__name__} has no ID_SEPARATOR")
        suffix = cls.ID_SEPARATOR + WILDCARD
        if not external_key.endswith(suffix) or ":" not in external_key:
            return None
        org = external_key[: -len(suffix)].split(":", 1)[1]
        return org or None

    def get_object(self) -> Any | None:
        """The platform's Organization (edx-organizations), where that app is installed."""
        model = _platform_model("organizations.Organization")
        if model is None or self.org is None:
            return None
        found = model.objects.filter(short_name=self.org).first()
        return found if found is not None and found.short_name == self.org else None


@dataclass
class OrgContentLibraryGlobData(OrgGlobData):
    NAMESPACE: ClassVar[str | None] = "lib"
    ID_SEPARATOR: ClassVar[str] = ":"

    @classmethod
    def get_admin_view_permission(cls) -> PermissionData:
        return ContentLibraryData.get_admin_view_permission()

    @classmethod
    def get_admin_manage_permission(cls) -> PermissionData:
        return ContentLibraryData.get_admin_manage_permission()


@dataclass
class OrgCourseOverviewGlobData(OrgGlobData):
    NAMESPACE: ClassVar[str | None] = "course-v1"
    ID_SEPARATOR: ClassVar[str] = "+"

    @classmethod
    def get_admin_view_permission(cls) -> PermissionData:
        return CourseOverviewData.get_admin_view_permission()

    @classmethod
    def get_admin_manage_permission(cls) -> PermissionData:
        return CourseOverviewData.get_admin_manage_permission()


@dataclass
class PlatformGlobData(ScopeData):
    """Every scope of one kind: ``course-v1:*``, ``lib:*`` (rolecall's ``platform`` for the
    roles of that kind)."""

    NAMESPACE: ClassVar[str | None] = "platform"
    IS_PLATFORM_GLOB: ClassVar[bool] = True

    @classmethod
    def validate_external_key(cls, external_key: str) -> bool:
        return cls.build_external_key() == external_key

    @classmethod
    def build_external_key(cls) -> str:
        return f"{cls.NAMESPACE}:{WILDCARD}"

    def get_object(self) -> None:
        return None

    def exists(self) -> bool:
        return True


@dataclass
class PlatformCourseOverviewGlobData(PlatformGlobData):
    NAMESPACE: ClassVar[str | None] = "course-v1"

    @classmethod
    def get_admin_view_permission(cls) -> PermissionData:
        return CourseOverviewData.get_admin_view_permission()

    @classmethod
    def get_admin_manage_permission(cls) -> PermissionData:
        return CourseOverviewData.get_admin_manage_permission()


@dataclass
class PlatformContentLibraryGlobData(PlatformGlobData):
    NAMESPACE: ClassVar[str | None] = "lib"

    @classmethod
    def get_admin_view_permission(cls) -> PermissionData:
        return ContentLibraryData.get_admin_view_permission()

    @classmethod
    def get_admin_manage_permission(cls) -> PermissionData:
        return ContentLibraryData.get_admin_manage_permission()


_GLOBS: tuple[type[ScopeData], ...] = (
    PlatformCourseOverviewGlobData,
    PlatformContentLibraryGlobData,
    OrgCourseOverviewGlobData,
    OrgContentLibraryGlobData,
)
_OF_TYPE: dict[str, type[ScopeData]] = {"course": CourseOverviewData, "library": ContentLibraryData}
"""The class of a key of each of rolecall's scope types (others: plain ScopeData)."""
_ORG_GLOBS: dict[str, type[ScopeData]] = {
    "course": OrgCourseOverviewGlobData,
    "library": OrgContentLibraryGlobData,
}
_PLATFORM_GLOBS: dict[str, type[ScopeData]] = {
    "course": PlatformCourseOverviewGlobData,
    "library": PlatformContentLibraryGlobData,
}
_CONCRETE: dict[str, type[ScopeData]] = {
    "course-v1": CourseOverviewData,
    "lib": ContentLibraryData,
    "library-v1": ContentLibraryData,
}


def _class_of(external_key: str) -> type[ScopeData]:
    """The class of a scope key, as openedx-authz's ScopeData picks it (rolecall's own keys of
    other types are plain ScopeData)."""
    if external_key == WILDCARD:
        raise ValueError(
            "Global scope wildcard '*' is not a valid scope. Use a specific scope key or a "
            "namespaced wildcard."
        )
    namespace, colon, _ = external_key.partition(":")
    if WILDCARD in external_key:
        for glob in _GLOBS:
            if namespace == glob.NAMESPACE and glob.validate_external_key(external_key):
                return glob
        raise ValueError(
            f"Invalid glob pattern: '{external_key}' is not a valid platform or org-level glob"
        )
    cls = _CONCRETE.get(namespace) if colon else None
    if cls is None and not colon and "/" in external_key:
        cls = CourseOverviewData  # an old-style course key
    if cls is None:
        return ScopeData
    if not cls.validate_external_key(external_key):
        raise ValueError(f"Invalid external_key format: {external_key}")
    return cls


def _class_of_namespaced(namespaced_key: str) -> type[ScopeData]:
    namespace, separator, key = namespaced_key.partition(SEPARATOR)
    if not namespace or not separator or not key:
        raise ValueError(f"Invalid namespaced_key format: {namespaced_key}")
    if key == WILDCARD:  # a namespace wildcard (lib^*): where role definitions apply
        if namespace == ScopeData.NAMESPACE:
            raise ValueError(f"Global scope wildcard '{namespaced_key}' is not a valid scope.")
        return ScopeData
    return _class_of(key)


def _made(cls: type[ScopeData], key: str) -> ScopeData:
    """An instance of exactly ``cls`` for a key rolecall has read already (no second parse)."""
    scope = object.__new__(cls)
    cls.__init__(scope, external_key=key)
    return scope


@dataclass
class RoleAssignmentData:
    """Roles a subject holds on a scope: one role per record, except in
    :func:`get_all_user_role_assignments_in_scope` (one record per user, with all their
    roles there)."""

    subject: SubjectData | None = None
    roles: list[RoleData] = field(default_factory=list)
    scope: ScopeData | None = None

    def __str__(self) -> str:
        return f"{self.subject} => {', '.join(r.name for r in self.roles)} @ {self.scope}"

    def __repr__(self) -> str:
        roles = ", ".join(r.namespaced_key for r in self.roles)
        subject = self.subject.namespaced_key if self.subject else None
        scope = self.scope.namespaced_key if self.scope else None
        return f"{subject} => [{roles}] @ {scope}"

    @staticmethod
    def filter_platform_glob_assignments(
        assignments: list[RoleAssignmentData],
    ) -> list[RoleAssignmentData]:
        """The assignments on a platform glob (``course-v1:*``, ``lib:*``)."""
        return [a for a in assignments if isinstance(a.scope, PlatformGlobData)]


@dataclass
class SuperAdminAssignmentData:
    """A platform administrator: ``user`` is the platform's user; ``is_staff`` and
    ``is_superuser`` are its Django flags, as they are (they grant nothing in rolecall)."""

    user: Any = None
    is_staff: bool = False
    is_superuser: bool = False


@dataclass
class UserAssignmentData(RoleAssignmentData):
    user: Any = None


@dataclass
class UserAssignments:
    """A platform user and their assignments."""

    user: Any
    assignments: list[RoleAssignmentData]


# ------------------------------------------------------------------ rolecall's answers


@dataclass(frozen=True)
class _Place:
    key: str
    """rolecall's scope key."""
    kind: str | None = None
    """For a glob, the scope type it names: only roles of that kind are there."""


def _glob(rc: Rolecall, key: str) -> _Place | None:
    """The place an openedx-authz glob names: ``course-v1:ORG+*`` is ``org:ORG`` for course
    roles (each scope type's ``org_wildcard``), ``course-v1:*`` the platform."""
    if not isinstance(key, str) or not key.endswith(WILDCARD):
        return None
    found = glob_of(key, rc.registry)
    if found is not None:
        return _Place(*found)
    for scope_type in rc.registry.scope_types.values():
        if scope_type.org_wildcard and key == f"{scope_type.namespace}:{WILDCARD}":
            return _Place("platform", scope_type.id)
    return None


def _place(rc: Rolecall, scope: str) -> _Place:
    """Where a scope key (or glob) is in rolecall; a malformed key raises rolecall's
    ScopeKeyError (a ValueError, as openedx-authz raises)."""
    return _glob(rc, scope) or _Place(rc.registry.scopes.resolve(scope).key)


def _role_of(rc: Rolecall, role: str) -> Role | None:
    try:
        return rc.role(role)
    except BadInputError:
        return None


def _role_id(rc: Rolecall, role: str) -> str:
    """The role's id (an alias read as its role); an unknown name as it is (it matches no
    grant, except one of a role whose plugin is gone)."""
    found = _role_of(rc, role)
    return found.id if found is not None else role


def _kind(rc: Rolecall, role: str) -> str | None:
    """The one scope type with org globs a role is given on (``course`` for course_admin,
    ``library`` for library_admin); None for a role of no such kind or of several."""
    found = _role_of(rc, role)
    if found is None:
        return None
    types = rc.registry.scope_types
    kinds = [t for t in found.scope_types if t in types and types[t].org_wildcard]
    return kinds[0] if len(kinds) == 1 else None


def _holds(rc: Rolecall, grant: GrantInfo, place: _Place) -> bool:
    return grant.scope == place.key and (place.kind is None or _kind(rc, grant.role) == place.kind)


def _live(rc: Rolecall, user: str) -> list[GrantInfo]:
    with rc.reading() as index:
        if not isinstance(user, str) or user not in index.users:
            return []
        return [g for g in index.grants_of(user) if not g.expired]


def _every_live(rc: Rolecall) -> list[GrantInfo]:
    with rc.reading() as index:
        return [g for user in index.users for g in index.grants_of(user) if not g.expired]


def _at(rc: Rolecall, place: _Place) -> list[GrantInfo]:
    """The live grants on the place itself (not those reaching it from above)."""
    return [
        g
        for m in rc.who(place.key).members
        for g in m.grants
        if not g.expired and _holds(rc, g, place)
    ]


def _permissions_of(rc: Rolecall, role: str) -> list[str]:
    with rc.reading() as index:
        try:
            return sorted(index.role_permissions(role))
        except (BadInputError, KeyError):
            return []


def _role(rc: Rolecall, role: str) -> RoleData:
    return RoleData(
        external_key=role, permissions=[_permission(p) for p in _permissions_of(rc, role)]
    )


def _scope(rc: Rolecall, key: str, role: str | None = None) -> ScopeData:
    """The scope of a grant (``role`` given) or of a stored key, in openedx-authz's classes: a
    grant on an org or the platform is shown under the glob of its role's kind."""
    try:
        scope = rc.registry.scopes.resolve(key)
    except BadInputError:  # a scope type whose plugin is gone
        return _made(ScopeData, key)
    kind = _kind(rc, role) if role is not None and scope.type in ("org", "platform") else None
    if kind is not None:
        scope_type = rc.registry.scope_types[kind]
        if scope.type == "org":
            glob = str(scope_type.org_wildcard).replace("{org}", scope.fields["org"])
            return _made(_ORG_GLOBS.get(kind, ScopeData), glob)
        glob = f"{scope_type.namespace}:{WILDCARD}"
        return _made(_PLATFORM_GLOBS.get(kind, ScopeData), glob)
    return _made(_OF_TYPE.get(scope.type, ScopeData), key)


def _asked(rc: Rolecall, scope: str) -> ScopeData:
    """The ScopeData of a key a caller gave (a glob as its glob class)."""
    place = _place(rc, scope)
    if place.kind is None:
        return _scope(rc, place.key)
    globs = _PLATFORM_GLOBS if place.key == "platform" else _ORG_GLOBS
    return _made(globs.get(place.kind, ScopeData), scope)


def _record(rc: Rolecall, grant: GrantInfo) -> RoleAssignmentData:
    return RoleAssignmentData(
        subject=UserData(external_key=grant.user),
        roles=[_role(rc, grant.role)],
        scope=_scope(rc, grant.scope, grant.role),
    )


def _all_roles(rc: Rolecall) -> list[Role]:
    """Every role that may be given: the plugins' and the custom ones, none retired."""
    with rc.reading() as index:
        retired = set(index.retired_roles)
        custom = list(index.custom_roles.values())
    return [r for r in (*rc.registry.roles.values(), *custom) if r.id not in retired]


def _type_of(rc: Rolecall, scope: ScopeData) -> str | None:
    """The scope type a ScopeData stands for: a namespace wildcard (``lib^*``) its namespace's
    type, a glob the kind it names, a key its type."""
    namespace, _, key = scope.namespaced_key.partition(SEPARATOR)
    if key == WILDCARD:
        types = rc.registry.scope_types.values()
        return next((t.id for t in types if namespace in t.namespaces), None)
    place = _place(rc, scope.external_key)
    return place.kind or rc.registry.scopes.resolve(place.key).type


# ------------------------------------------------------------------ users of the platform


def _retirement(user_model: Any) -> str | None:
    """The platform's retirement request relation (edx-platform's UserRetirementRequest), if
    the user model has one."""
    names = {f.name for f in user_model._meta.get_fields()}
    return "userretirementrequest" if "userretirementrequest" in names else None


def _platform_users(usernames: Iterable[str]) -> dict[str, Any]:
    """The platform's users with these usernames, not being retired, by username."""
    user_model = get_user_model()
    wanted = [u for u in usernames if isinstance(u, str)]
    found = user_model.objects.filter(username__in=wanted)
    relation = _retirement(user_model)
    if relation is None:
        return {u.get_username(): u for u in found}
    found = found.select_related(relation)
    return {u.get_username(): u for u in found if not hasattr(u, relation)}


def _display_name(user: Any) -> str | None:
    profile = getattr(user, "profile", None)
    if profile is not None:
        return str(getattr(profile, "name", "") or "") or None
    return str(user.get_full_name() or "") or None


def _active(usernames: Iterable[str]) -> dict[str, Any]:
    users = get_user_model().objects.filter(username__in=set(usernames), is_active=True)
    return {u.get_username(): u for u in users}


# ------------------------------------------------------------------ changes


def _assign(rc: Rolecall, users: Iterable[str], role: str, scope: str) -> bool:
    """Give ``role`` on ``scope`` to every user (all or none); False when all held it."""
    role_id = rc.role(role).id
    place = _place(rc, scope)
    if place.kind is not None and _kind(rc, role_id) != place.kind:
        # It would reach what the glob does not name (a library role on the org: its libraries).
        where = _scope(rc, place.key, role_id).external_key
        raise BadInputError(
            f"role {role_id} is not a {place.kind} role: {scope} names the {place.kind} scopes "
            f"of {place.key} only; give it on {where}"
        )
    names = list(dict.fromkeys(users))
    platform = _platform_users(names)
    unknown = [n for n in names if n not in platform]
    if unknown:
        raise UnknownUserError(unknown)
    new = [
        n
        for n in names
        if not any(_holds(rc, g, place) and g.role == role_id for g in _live(rc, n))
    ]
    if not new:
        return False
    with rc.reading() as index:
        met = [n for n in new if n not in index.users]
    if met:
        rows = [(n, platform[n].email or None, _display_name(platform[n])) for n in met]
        rc.add_users(rows, actor=ACTOR)
    rc.assign_many([(n, role_id, place.key) for n in new], actor=ACTOR)
    return True


def _unassign(rc: Rolecall, users: Iterable[str], role: str, scope: str) -> bool:
    """Remove ``role`` on ``scope`` from every user holding it; False when none did."""
    place = _place(rc, scope)
    role_id = _role_id(rc, role)
    rows = [
        (g.user, g.role, g.scope)
        for user in dict.fromkeys(users)
        for g in _live(rc, user)
        if g.role == role_id and _holds(rc, g, place)
    ]
    for user, held, key in rows:
        rc.revoke(user, held, key, actor=ACTOR)
    return bool(rows)


def assign_role_to_subject_in_scope(subject: SubjectData, role: RoleData, scope: ScopeData) -> bool:
    """Give the role; False when the subject held it there already. A username the platform
    has no user for raises :class:`UnknownUserError`."""
    return _assign(get_rolecall(), [subject.external_key], role.external_key, scope.external_key)


def batch_assign_role_to_subjects_in_scope(
    subjects: list[SubjectData], role: RoleData, scope: ScopeData
) -> None:
    """Give the role to every subject, in one change: if any names no platform user,
    :class:`UnknownUserError` names them all and nothing is written."""
    keys = [s.external_key for s in subjects]
    _assign(get_rolecall(), keys, role.external_key, scope.external_key)


def unassign_role_from_subject_in_scope(
    subject: SubjectData, role: RoleData, scope: ScopeData
) -> bool:
    """Remove the role; False when the subject did not hold it there. A malformed scope key
    raises ValueError (rolecall's ScopeKeyError)."""
    return _unassign(get_rolecall(), [subject.external_key], role.external_key, scope.external_key)


def batch_unassign_role_from_subjects_in_scope(
    subjects: list[SubjectData], role: RoleData, scope: ScopeData
) -> None:
    keys = [s.external_key for s in subjects]
    _unassign(get_rolecall(), keys, role.external_key, scope.external_key)


def unassign_subject_from_all_roles(subject: SubjectData) -> bool:
    """Remove every role the subject holds; False when there was none."""
    rc = get_rolecall()
    grants = _live(rc, subject.external_key)
    for grant in grants:
        rc.revoke(grant.user, grant.role, grant.scope, actor=ACTOR)
    return bool(grants)


def assign_role_to_user_in_scope(
    user_external_key: str, role_external_key: str, scope_external_key: str
) -> bool:
    """Give the role; False when the user held it there already. A username the platform has
    no user for raises :class:`UnknownUserError`."""
    return _assign(get_rolecall(), [user_external_key], role_external_key, scope_external_key)


def batch_assign_role_to_users_in_scope(
    users: list[str], role_external_key: str, scope_external_key: str
) -> None:
    """Give the role to every user, in one change: if any names no platform user,
    :class:`UnknownUserError` names them all and nothing is written."""
    _assign(get_rolecall(), users, role_external_key, scope_external_key)


def unassign_role_from_user(
    user_external_key: str, role_external_key: str, scope_external_key: str
) -> bool:
    """Remove the role; False when the user did not hold it there. A malformed scope key
    raises ValueError (rolecall's ScopeKeyError), as assigning does."""
    return _unassign(get_rolecall(), [user_external_key], role_external_key, scope_external_key)


def batch_unassign_role_from_users(
    users: list[str], role_external_key: str, scope_external_key: str
) -> None:
    _unassign(get_rolecall(), users, role_external_key, scope_external_key)


def unassign_all_roles_from_user(user_external_key: str) -> bool:
    """Remove every role the user holds; False when there was none."""
    return unassign_subject_from_all_roles(UserData(external_key=user_external_key))


# ------------------------------------------------------------------ permission checks

_unknown_actions: set[str] = set()
_unknown_lock = threading.Lock()


def _known_action(rc: Rolecall, action: object) -> bool:
    """Whether rolecall has the permission; an unknown one is logged the first time this
    process is asked about it."""
    if isinstance(action, str) and action in rc.registry.permissions:
        return True
    name = action if isinstance(action, str) else repr(action)
    with _unknown_lock:
        first = name not in _unknown_actions and len(_unknown_actions) < UNKNOWN_ACTIONS_LOGGED
        if first:
            _unknown_actions.add(name)
    if first:
        log.warning(
            "openedx-authz API: asked about the unknown action %r, answered False (logged once)",
            name,
        )
    return False


def _allowed(rc: Rolecall, user: str, action: str, scope: str) -> bool:
    """rolecall's check; on a glob, whether the user may act on every scope of its kind there
    (grants and restrictions on the org or the platform, not those on single scopes below)."""
    place = _place(rc, scope)  # a malformed key raises, as openedx-authz does
    if not _known_action(rc, action):
        return False
    if place.kind is None:
        return rc.check(user, action, place.key)
    return rc.check_throughout(user, action, place.key, place.kind)


def is_subject_allowed(subject: SubjectData, action: ActionData, scope: ScopeData) -> bool:
    return _allowed(get_rolecall(), subject.external_key, action.external_key, scope.external_key)


def is_user_allowed(
    user_external_key: str, action_external_key: str, scope_external_key: str
) -> bool:
    """rolecall's check. An action rolecall does not know answers False (and is logged once
    per process); a malformed scope key raises ValueError."""
    return _allowed(get_rolecall(), user_external_key, action_external_key, scope_external_key)


def _scopes_with(rc: Rolecall, user: str, action: str) -> list[ScopeData]:
    scopes: list[ScopeData] = []
    for grant in _live(rc, user):
        scope = _scope(rc, grant.scope, grant.role)
        if action in _permissions_of(rc, grant.role) and scope not in scopes:
            scopes.append(scope)
    return scopes


def get_scopes_for_subject_and_permission(
    subject: SubjectData, permission: PermissionData
) -> list[ScopeData]:
    """The scopes of the subject's assignments whose role gives the permission."""
    if permission.effect != "allow":
        return []
    return _scopes_with(get_rolecall(), subject.external_key, permission.identifier)


def get_scopes_for_user_and_permission(
    user_external_key: str, action_external_key: str
) -> list[ScopeData]:
    """The scopes of the user's assignments whose role gives the permission (openedx-authz's
    answer: where the user is assigned it, not every scope below)."""
    return _scopes_with(get_rolecall(), user_external_key, action_external_key)


def is_user_allowed_in_any_scope(user_external_key: str, action_external_key: str) -> bool:
    """Whether one of the user's assignments gives the permission. Django's ``is_staff`` and
    ``is_superuser`` grant nothing: rolecall's platform administrator holds every permission."""
    rc = get_rolecall()
    if not _known_action(rc, action_external_key):
        return False
    return bool(_scopes_with(rc, user_external_key, action_external_key))


# ------------------------------------------------------------------ roles and permissions


def get_permissions_for_single_role(role: RoleData) -> list[PermissionData]:
    """The role's permissions (none for a role rolecall does not know)."""
    rc = get_rolecall()
    return [_permission(p) for p in _permissions_of(rc, _role_id(rc, role.external_key))]


def get_permissions_for_roles(
    roles: list[RoleData],
) -> dict[str, dict[str, list[PermissionData | str]]]:
    """``{role: {"permissions": [PermissionData, ...]}}``."""
    return {r.external_key: {"permissions": [*get_permissions_for_single_role(r)]} for r in roles}


def get_permissions_for_active_roles_in_scope(
    scope: ScopeData, role: RoleData | None = None
) -> dict[str, dict[str, list[PermissionData | str]]]:
    """The permissions of the roles held on the scope itself (only ``role``, if given)."""
    rc = get_rolecall()
    wanted = _role_id(rc, role.external_key) if role is not None else None
    held = dict.fromkeys(
        g.role for g in _at(rc, _place(rc, scope.external_key)) if wanted in (None, g.role)
    )
    return get_permissions_for_roles([RoleData(external_key=r) for r in held])


def get_role_definitions_in_scope(scope: ScopeData) -> list[RoleData]:
    """The roles that may be given on that kind of scope, with their permissions:
    ``ScopeData(namespaced_key="lib^*")`` (as openedx-authz defines its roles), a glob, or any
    key of the type."""
    rc = get_rolecall()
    kind = _type_of(rc, scope)
    return [_role(rc, r.id) for r in _all_roles(rc) if kind in r.scope_types]


def get_all_permissions_in_scope(scope: ScopeData) -> list[PermissionData]:
    """One permission per role and permission of the roles defined on that kind of scope (as
    openedx-authz lists its policy rows)."""
    return [p for role in get_role_definitions_in_scope(scope) for p in role.permissions]


def get_all_roles_names() -> list[str]:
    """Every role that may be given, namespaced (``role^library_admin``)."""
    return [f"{RoleData.NAMESPACE}{SEPARATOR}{r.id}" for r in _all_roles(get_rolecall())]


def get_all_roles_in_scope(scope: ScopeData) -> list[list[str]]:
    """The assignments on the scope itself as openedx-authz's rows: ``[subject, role,
    scope]``, namespaced (``["user^alice", "role^library_admin", "lib^lib:Org1:math"]``)."""
    rc = get_rolecall()
    return [
        [
            f"{UserData.NAMESPACE}{SEPARATOR}{g.user}",
            f"{RoleData.NAMESPACE}{SEPARATOR}{g.role}",
            scope.namespaced_key,
        ]
        for g in _at(rc, _place(rc, scope.external_key))
    ]


# ------------------------------------------------------------------ listings


def get_subject_role_assignments(subject: SubjectData) -> list[RoleAssignmentData]:
    rc = get_rolecall()
    return [_record(rc, g) for g in _live(rc, subject.external_key)]


def get_subject_role_assignments_in_scope(
    subject: SubjectData, scope: ScopeData
) -> list[RoleAssignmentData]:
    rc = get_rolecall()
    place = _place(rc, scope.external_key)
    return [_record(rc, g) for g in _live(rc, subject.external_key) if _holds(rc, g, place)]


def get_subject_role_assignments_for_role_in_scope(
    role: RoleData, scope: ScopeData
) -> list[RoleAssignmentData]:
    rc = get_rolecall()
    role_id = _role_id(rc, role.external_key)
    return [_record(rc, g) for g in _at(rc, _place(rc, scope.external_key)) if g.role == role_id]


def _by_user(rc: Rolecall, scope: str, shown: ScopeData | None = None) -> list[RoleAssignmentData]:
    """One record per user holding roles on the scope itself, with all those roles."""
    records: dict[str, RoleAssignmentData] = {}
    shown = shown if shown is not None else _asked(rc, scope)
    for grant in _at(rc, _place(rc, scope)):
        role = _role(rc, grant.role)
        if grant.user in records:
            records[grant.user].roles.append(role)
        else:
            subject = UserData(external_key=grant.user)
            records[grant.user] = RoleAssignmentData(subject=subject, roles=[role], scope=shown)
    return list(records.values())


def get_all_subject_role_assignments_in_scope(scope: ScopeData) -> list[RoleAssignmentData]:
    """One record per subject holding roles on the scope, with all of them (the scope is the
    one asked about)."""
    return _by_user(get_rolecall(), scope.external_key, scope)


def get_all_subject_role_assignments() -> list[RoleAssignmentData]:
    rc = get_rolecall()
    return [_record(rc, g) for g in _every_live(rc)]


def get_role_assignments(
    *,
    subject: SubjectData | None = None,
    role: RoleData | None = None,
    scope: ScopeData | None = None,
) -> list[RoleAssignmentData]:
    """Every assignment, one role per record, of the subject, the role and on the scope
    (each only if given)."""
    rc = get_rolecall()
    grants = _live(rc, subject.external_key) if subject is not None else _every_live(rc)
    if role is not None:
        role_id = _role_id(rc, role.external_key)
        grants = [g for g in grants if g.role == role_id]
    if scope is not None:
        place = _place(rc, scope.external_key)
        grants = [g for g in grants if _holds(rc, g, place)]
    return [_record(rc, g) for g in grants]


def get_all_role_assignments_per_scope_type(
    scope_types: tuple[type[ScopeData], ...],
) -> list[RoleAssignmentData]:
    return [a for a in get_role_assignments() if isinstance(a.scope, scope_types)]


def filter_role_assignments_visible_to_subject(
    subject: SubjectData, candidate_assignments: list[RoleAssignmentData]
) -> list[RoleAssignmentData]:
    """The assignments the subject may see: those on a scope whose team the subject may view
    (rolecall's checks, as the admin console's endpoints decide)."""
    from .rest_api.views import visible_scopes

    rc = get_rolecall()
    keys: list[str | None] = []
    for assignment in candidate_assignments:
        try:
            keys.append(_place(rc, assignment.scope.external_key).key)  # type: ignore[union-attr]
        except (AttributeError, BadInputError):
            keys.append(None)  # no scope rolecall reads: shown to nobody
    seen = visible_scopes(rc, subject.external_key, {k for k in keys if k is not None})
    return [a for a, key in zip(candidate_assignments, keys, strict=True) if key in seen]


def get_user_role_assignments(user_external_key: str) -> list[RoleAssignmentData]:
    return get_subject_role_assignments(UserData(external_key=user_external_key))


def get_user_role_assignments_per_scope_type(
    user_external_key: str, scope_types: tuple[type[ScopeData], ...]
) -> list[RoleAssignmentData]:
    """The user's assignments whose scope is of one of these classes (a grant on an org or the
    platform is of its glob class)."""
    return [
        a for a in get_user_role_assignments(user_external_key) if isinstance(a.scope, scope_types)
    ]


def get_user_role_assignments_in_scope(
    user_external_key: str, scope_external_key: str
) -> list[RoleAssignmentData]:
    rc = get_rolecall()
    place = _place(rc, scope_external_key)
    return [_record(rc, g) for g in _live(rc, user_external_key) if _holds(rc, g, place)]


def get_user_role_assignments_for_role_in_scope(
    role_external_key: str, scope_external_key: str
) -> list[RoleAssignmentData]:
    rc = get_rolecall()
    role_id = _role_id(rc, role_external_key)
    return [_record(rc, g) for g in _at(rc, _place(rc, scope_external_key)) if g.role == role_id]


def get_user_role_assignments_filtered(
    *,
    user_external_key: str | None = None,
    role_external_key: str | None = None,
    scope_external_key: str | None = None,
) -> list[RoleAssignmentData]:
    return get_role_assignments(
        subject=UserData(external_key=user_external_key) if user_external_key else None,
        role=RoleData(external_key=role_external_key) if role_external_key else None,
        scope=_made(ScopeData, scope_external_key) if scope_external_key else None,
    )


def get_all_user_role_assignments_in_scope(scope_external_key: str) -> list[RoleAssignmentData]:
    """One record per user holding roles on the scope, with all of them, as openedx-authz
    answers."""
    return _by_user(get_rolecall(), scope_external_key)


def get_users_for_role_in_scope(role_external_key: str, scope_external_key: str) -> list[UserData]:
    return [
        UserData(external_key=a.subject.external_key)
        for a in get_user_role_assignments_for_role_in_scope(role_external_key, scope_external_key)
        if a.subject is not None
    ]


def _org(scope: ScopeData | None) -> str | None:
    try:
        org = getattr(scope, "org", None)
    except InvalidKeyError:
        return None
    return org if isinstance(org, str) else None


def _visible_to(viewer: str | None, records: list[RoleAssignmentData]) -> list[RoleAssignmentData]:
    if not viewer:
        return records
    return filter_role_assignments_visible_to_subject(UserData(external_key=viewer), records)


def get_visible_user_role_assignments_filtered_by_current_user(
    user_external_key: str,
    orgs: list[str] | None = None,
    roles: list[str] | None = None,
    allowed_for_user_external_key: str | None = None,
) -> list[RoleAssignmentData]:
    """The user's assignments (if the user is an active platform user) that
    ``allowed_for_user_external_key`` may see, of these orgs and roles (each only if given)."""
    records = _visible_to(
        allowed_for_user_external_key, get_user_role_assignments(user_external_key)
    )
    active = _active(a.subject.external_key for a in records if a.subject is not None)
    records = [a for a in records if a.subject is not None and a.subject.external_key in active]
    if orgs:
        records = [a for a in records if _org(a.scope) in orgs]
    if roles:
        records = [a for a in records if any(r.external_key in roles for r in a.roles)]
    return records


def get_visible_role_assignments_for_user(
    orgs: list[str] | None = None,
    scopes: list[str] | None = None,
    roles: list[str] | None = None,
    allowed_for_user_external_key: str | None = None,
) -> list[UserAssignments]:
    """Every assignment ``allowed_for_user_external_key`` may see, of these orgs, scopes and
    roles (each only if given), grouped by active platform user (by username)."""
    records = get_role_assignments()
    if scopes:
        records = [a for a in records if a.scope is not None and a.scope.external_key in scopes]
    if orgs:
        records = [a for a in records if _org(a.scope) in orgs]
    if roles:
        records = [a for a in records if a.roles and a.roles[0].external_key in roles]
    records = _visible_to(allowed_for_user_external_key, records)
    holders: dict[str, list[RoleAssignmentData]] = {}
    for record in records:
        if record.subject is not None:
            holders.setdefault(record.subject.external_key, []).append(record)
    users = _active(holders)
    return [UserAssignments(user=users[n], assignments=holders[n]) for n in sorted(users)]


# ------------------------------------------------------------------ the platform's users


def validate_users(user_identifiers: list[str]) -> tuple[list[str], list[str]]:
    """(valid, invalid): an identifier is valid when it is the username or e-mail of one active
    platform user who is not being retired (the admin console's ``users/validate/`` rule)."""
    from .rest_api.views import _platform_user

    valid: list[str] = []
    invalid: list[str] = []
    for identifier in user_identifiers:
        user = _platform_user(identifier) if isinstance(identifier, str) else None
        (valid if user is not None and user.is_active else invalid).append(identifier)
    return valid, invalid


def get_superadmin_assignments(
    user_external_keys: list[str] | None = None,
) -> list[SuperAdminAssignmentData]:
    """rolecall's platform administrators: the active platform users holding a role that holds
    every permission (``platform_admin``) on ``platform`` (only these usernames, if given), by
    username."""
    rc = get_rolecall()
    admin_roles = {r.id for r in rc.registry.roles.values() if r.grants_all}
    holders = {g.user for g in _at(rc, _Place("platform")) if g.role in admin_roles}
    if user_external_keys is not None:
        holders &= set(user_external_keys)
    users = _active(holders)
    return [
        SuperAdminAssignmentData(
            user=users[n],
            is_staff=bool(users[n].is_staff),
            is_superuser=bool(users[n].is_superuser),
        )
        for n in sorted(users)
    ]


__all__ = [
    "ActionData",
    "AuthZData",
    "AuthzBaseClass",
    "ContentLibraryData",
    "CourseOverviewData",
    "GroupingPolicyIndex",
    "OrgContentLibraryGlobData",
    "OrgCourseOverviewGlobData",
    "OrgGlobData",
    "PermissionData",
    "PlatformContentLibraryGlobData",
    "PlatformCourseOverviewGlobData",
    "PlatformGlobData",
    "PolicyIndex",
    "RoleAssignmentData",
    "RoleData",
    "ScopeData",
    "SubjectData",
    "SuperAdminAssignmentData",
    "UnknownUserError",
    "UserAssignmentData",
    "UserAssignments",
    "UserData",
    "assign_role_to_subject_in_scope",
    "assign_role_to_user_in_scope",
    "batch_assign_role_to_subjects_in_scope",
    "batch_assign_role_to_users_in_scope",
    "batch_unassign_role_from_subjects_in_scope",
    "batch_unassign_role_from_users",
    "filter_role_assignments_visible_to_subject",
    "get_all_permissions_in_scope",
    "get_all_role_assignments_per_scope_type",
    "get_all_roles_in_scope",
    "get_all_roles_names",
    "get_all_subject_role_assignments",
    "get_all_subject_role_assignments_in_scope",
    "get_all_user_role_assignments_in_scope",
    "get_permissions_for_active_roles_in_scope",
    "get_permissions_for_roles",
    "get_permissions_for_single_role",
    "get_role_assignments",
    "get_role_definitions_in_scope",
    "get_scopes_for_subject_and_permission",
    "get_scopes_for_user_and_permission",
    "get_subject_role_assignments",
    "get_subject_role_assignments_for_role_in_scope",
    "get_subject_role_assignments_in_scope",
    "get_superadmin_assignments",
    "get_user_role_assignments",
    "get_user_role_assignments_filtered",
    "get_user_role_assignments_for_role_in_scope",
    "get_user_role_assignments_in_scope",
    "get_user_role_assignments_per_scope_type",
    "get_users_for_role_in_scope",
    "get_visible_role_assignments_for_user",
    "get_visible_user_role_assignments_filtered_by_current_user",
    "is_subject_allowed",
    "is_user_allowed",
    "is_user_allowed_in_any_scope",
    "unassign_all_roles_from_user",
    "unassign_role_from_subject_in_scope",
    "unassign_role_from_user",
    "unassign_subject_from_all_roles",
    "validate_users",
]
