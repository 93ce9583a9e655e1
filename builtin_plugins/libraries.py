"""The ``libraries`` plugin: content libraries (v2), with openedx-authz's permissions and roles.

Permission ids, role permission sets and implications are exactly openedx-authz's (all ids are
``content_libraries.*``); library permissions apply to library scopes, and a library role
assigned on an org or the platform covers every library there. One permission is added:
``content_libraries.create_library``, which applies to an org or the platform (where a library
is created); no library role grants it (``course_creator`` and ``org_admin`` do).

Legacy library access levels are ``admin``, ``author`` and ``read``; they are not registered as
aliases because such bare words would clash with other plugins' names. They map to
``library_admin``, ``library_author`` and ``library_user``.
"""

from __future__ import annotations

from rolecall.core import Permission, PermissionFactory, Risk, Role, hookimpl

CONTENT = "Library content"
COLLECTIONS = "Library collections"
TEAM = "Team management"
TAGS = "Tags & taxonomies"
CREATION = "Course & library creation"
LIBRARY = ("library",)
LIBRARY_ROLE_SCOPES = ("library", "org", "platform")


_permission = PermissionFactory(scope_types=LIBRARY, namespace="content_libraries")


@hookimpl
def register_permissions() -> list[Permission]:
    return [
        _permission(
            "view_library",
            "View the library",
            "Open the library and see its components and collections, drafts included.",
            CONTENT,
        ),
        _permission(
            "edit_library_content",
            "Edit library content",
            "Create, change and delete components in the library (as drafts).",
            CONTENT,
            implies=("view_library",),
        ),
        _permission(
            "publish_library_content",
            "Publish library content",
            "Publish draft changes so that courses using the library can take them.",
            CONTENT,
            implies=("edit_library_content", "view_library"),
            risks={Risk.PUBLISHING},
        ),
        _permission(
            "reuse_library_content",
            "Reuse library content in courses",
            "Add the library's components to a course.",
            CONTENT,
            implies=("view_library",),
        ),
        _permission(
            "delete_library",
            "Delete the library",
            "Delete the whole library and everything in it.",
            CONTENT,
            implies=("edit_library_content",),
        ),
        _permission(
            "manage_library_tags",
            "Tag library content",
            "Add and remove tags on the library's components.",
            TAGS,
            implies=("edit_library_content",),
        ),
        _permission(
            "edit_library_collection",
            "Edit library collections",
            "Rename collections and add or remove components in them.",
            COLLECTIONS,
            implies=("view_library",),
        ),
        _permission(
            "create_library_collection",
            "Create library collections",
            "Create new collections to group the library's components.",
            COLLECTIONS,
            implies=("edit_library_collection",),
        ),
        _permission(
            "delete_library_collection",
            "Delete library collections",
            "Delete collections (the components in them stay in the library).",
            COLLECTIONS,
            implies=("edit_library_collection",),
        ),
        _permission(
            "view_library_team",
            "View the library team",
            "See who has which role on the library.",
            TEAM,
        ),
        _permission(
            "manage_library_team",
            "Manage the library team",
            "Add people to the library team, change their roles and remove them.",
            TEAM,
            implies=("view_library_team",),
            risks={Risk.TEAM_MANAGEMENT},
        ),
        _permission(
            "create_library",
            "Create libraries",
            "Create new content libraries in the organization (or in any organization, when "
            "held on the platform).",
            CREATION,
            scope_types=("org", "platform"),
        ),
    ]


def _ids(*names: str) -> tuple[str, ...]:
    return tuple(f"content_libraries.{n}" for n in names)


LIBRARY_ADMIN = _ids(
    "view_library",
    "manage_library_tags",
    "delete_library",
    "edit_library_content",
    "publish_library_content",
    "reuse_library_content",
    "view_library_team",
    "manage_library_team",
    "create_library_collection",
    "edit_library_collection",
    "delete_library_collection",
)
LIBRARY_AUTHOR = tuple(
    p for p in LIBRARY_ADMIN if p not in _ids("delete_library", "manage_library_team")
)
LIBRARY_CONTRIBUTOR = tuple(p for p in LIBRARY_AUTHOR if p not in _ids("publish_library_content"))
LIBRARY_USER = _ids("view_library", "reuse_library_content", "view_library_team")


@hookimpl
def register_roles() -> list[Role]:
    return [
        Role(
            id="library_admin",
            title="Library admin",
            description="Runs the library: edits and publishes its content, manages its "
            "collections and tags, manages the library team and can delete the library.",
            scope_types=LIBRARY_ROLE_SCOPES,
            permissions=LIBRARY_ADMIN,
            admin=True,
        ),
        Role(
            id="library_author",
            title="Library author",
            description="Edits and publishes the library's content and manages its collections "
            "and tags. Cannot manage the library team or delete the library.",
            scope_types=LIBRARY_ROLE_SCOPES,
            permissions=LIBRARY_AUTHOR,
        ),
        Role(
            id="library_contributor",
            title="Library contributor",
            description="Edits the library's content as drafts and manages its collections and "
            "tags. Cannot publish, manage the team or delete the library.",
            scope_types=LIBRARY_ROLE_SCOPES,
            permissions=LIBRARY_CONTRIBUTOR,
        ),
        Role(
            id="library_user",
            title="Library user",
            description="Sees the library and its team and reuses its content in courses. "
            "Cannot change the library.",
            scope_types=LIBRARY_ROLE_SCOPES,
            permissions=LIBRARY_USER,
        ),
    ]
