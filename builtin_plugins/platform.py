"""The ``platform`` plugin: the scope types every other plugin hangs from, and the platform
administrator.

Scope types:

- ``platform``: the single key ``platform``; the root.
- ``org``: ``org:MITx``; parent ``platform``.
- ``course``: ``course-v1:MITx+6.002x+2026_T1``, and Open edX's old-style course keys
  ``MITx/6.002x/2012_Fall``; parent its org.
- ``library``: ``lib:MITx:physics``, and Open edX's v1 library keys
  ``library-v1:MITx+physics``; parent its org.

Every form is kept byte for byte: an old-style course key is a course of its own (as it is in
Open edX), never rewritten into a ``course-v1`` key, so a grant on it is found under the key
the platform uses.

Roles: ``platform_admin`` only. It holds every registered permission (``grants_all``) and is an
ordinary, visible assignment on ``platform``: there is no hidden superuser flag.

Why the other platform- and org-wide roles are not here: ``platform`` is loaded first and is the
one plugin whose failure is fatal, and the registry skips a plugin whose role names a permission
or role no loaded plugin registered. A role here that used another plugin's permissions would
make every installation with that plugin disabled (or broken) fail to start. So this plugin
refers to nothing but itself, and each other role lives in the plugin that owns what it uses,
loaded after the plugins it depends on (see ``BUILTIN_PLUGINS``):

- ``course_creator`` and ``org_admin`` live in ``authoring``: it owns ``courses.create_course``
  and ``course_admin``, and it is loaded last, after ``libraries`` (``library_admin``) and the
  instructor-dashboard plugins ``org_admin`` also reaches;
- ``platform_support`` (legacy ``support``) lives in ``certificates``: it owns the certificate
  support tools, and it is loaded after ``enrollment``, whose learner look-up permissions the
  role also uses.

The organization team permissions below are this plugin's own, so ``org_admin`` can manage the
team of its org (who holds roles on ``org:X`` itself) without this plugin depending on anyone.
"""

from __future__ import annotations

from rolecall.core import ParsedKey, Permission, Risk, Role, ScopeType, hookimpl, split_key


def parse_platform(key: str) -> ParsedKey:
    if key != "platform":
        raise ValueError("the platform scope has the single key 'platform'")
    return ParsedKey(fields={}, parent=None)


def parse_org(key: str) -> ParsedKey:
    fields = split_key(key, "org:", "", ("org",))
    return ParsedKey(fields=fields, parent="platform")


def parse_course(key: str) -> ParsedKey:
    if key.startswith("course-v1:"):
        fields = split_key(key, "course-v1:", "+", ("org", "course", "run"))
    else:
        # Old-style (Open edX's "deprecated") course keys: ORG/COURSE/RUN, no namespace.
        try:
            fields = split_key(key, "", "/", ("org", "course", "run"))
        except ValueError as exc:
            raise ValueError(f"{exc} (an old-style course key is ORG/COURSE/RUN)") from None
    return ParsedKey(fields=fields, parent=f"org:{fields['org']}")


def parse_library(key: str) -> ParsedKey:
    if key.startswith("library-v1:"):
        try:
            fields = split_key(key, "library-v1:", "+", ("org", "library"))
        except ValueError as exc:
            raise ValueError(f"{exc} (a v1 library key is library-v1:ORG+LIBRARY)") from None
    else:
        fields = split_key(key, "lib:", ":", ("org", "library"))
    return ParsedKey(fields=fields, parent=f"org:{fields['org']}")


@hookimpl
def register_scope_types() -> list[ScopeType]:
    return [
        ScopeType(
            id="platform",
            title="Platform",
            description="The whole installation: every org, course and library.",
            namespace="platform",
            pattern="platform",
            example="platform",
            parse=parse_platform,
        ),
        ScopeType(
            id="org",
            title="Organization",
            description="An organization and all its current and future courses and libraries.",
            namespace="org",
            pattern="org:ORG",
            example="org:MITx",
            parse=parse_org,
            team_permission="platform.view_org_team",
        ),
        ScopeType(
            id="course",
            title="Course",
            description="One course run.",
            namespace="course-v1",
            pattern="course-v1:ORG+COURSE+RUN",
            example="course-v1:MITx+6.002x+2026_T1",
            parse=parse_course,
            team_permission="courses.view_course_team",
            org_wildcard="course-v1:{org}+*",
            slash_keys=True,
        ),
        ScopeType(
            id="library",
            title="Library",
            description="One content library.",
            namespace="lib",
            pattern="lib:ORG:LIBRARY",
            example="lib:MITx:physics",
            parse=parse_library,
            team_permission="content_libraries.view_library_team",
            org_wildcard="lib:{org}:*",
            other_namespaces=("library-v1",),
        ),
    ]


TEAM = "Team management"


@hookimpl
def register_permissions() -> list[Permission]:
    return [
        Permission(
            id="platform.view_org_team",
            title="View the organization team",
            description="See who holds roles on the organization itself (and so on all of its "
            "courses and libraries).",
            area=TEAM,
            scope_types=("org",),
        ),
        Permission(
            id="platform.manage_org_team",
            title="Manage the organization team",
            description="Give and remove roles on the organization itself: such a role reaches "
            "every current and future course and library of the organization.",
            area=TEAM,
            scope_types=("org",),
            implies=("platform.view_org_team",),
            risks={Risk.TEAM_MANAGEMENT},
        ),
        Permission(
            id="platform.manage_custom_roles",
            title="Manage custom roles",
            description="Create custom roles from registered permissions, and change, retire "
            "or delete them where every current holder's grant is one this user could make.",
            area="Administration",
            scope_types=("platform", "org"),
            risks={Risk.TEAM_MANAGEMENT},
        ),
        Permission(
            id="platform.manage_delegation_rules",
            title="Manage delegation rules",
            description="Add, replace and switch off the rules that say who may assign and "
            "revoke which roles where.",
            area="Administration",
            scope_types=("platform",),
            risks={Risk.TEAM_MANAGEMENT},
        ),
        Permission(
            id="platform.manage_restrictions",
            title="Lock and unlock scopes",
            description="Restrict any scope (deny permissions there and below, whatever roles "
            "grant them, except to the exempt roles) and lift the restriction. Held on the "
            "platform: lifting a restriction gives back what it denied, so it is as strong as "
            "the roles it holds back.",
            area="Administration",
            scope_types=("platform",),
            risks={Risk.TEAM_MANAGEMENT},
        ),
        Permission(
            id="platform.add_scopes",
            title="Create scopes",
            description="Record a new course, library or organization key in rolecall so that "
            "roles can be given on it (a key rolecall and the platform do not know is refused "
            "until it is created).",
            area="Administration",
            scope_types=("org", "course", "library"),
        ),
        Permission(
            id="platform.remove_scopes",
            title="Remove scopes",
            description="Remove a course, library or organization from rolecall with every "
            "role held on it and below (the rights to remove each of them are needed too).",
            area="Administration",
            scope_types=("org", "course", "library"),
            risks={Risk.TEAM_MANAGEMENT},
        ),
        Permission(
            id="platform.retire_users",
            title="Retire users",
            description="Remove every role a user holds and mark the user inactive (the rights "
            "to remove each of those roles are needed too).",
            area="Administration",
            scope_types=("platform",),
            risks={Risk.TEAM_MANAGEMENT},
        ),
    ]


@hookimpl
def register_roles() -> list[Role]:
    return [
        Role(
            id="platform_admin",
            title="Platform administrator",
            description="Can do everything, everywhere: every permission of every plugin, on "
            "the platform and on every org, course and library (the legacy global staff). "
            "This is an ordinary assignment, listed like any other.",
            scope_types=("platform",),
            grants_all=True,
            admin=True,
            revocable_by=("platform_admin",),
        )
    ]
