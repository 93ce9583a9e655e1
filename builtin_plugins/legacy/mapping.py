"""Which rolecall role each legacy role name becomes, and at which levels it is honoured.

A legacy row is at one of three levels: ``course`` (its ``course_id`` is set), ``org`` (an org
and an empty ``course_id``) or ``platform`` (both empty). The legacy system only reads some
names at some levels (an ``instructor`` row with no org and no course grants nothing there), so
each name lists the levels it is imported from; a row at another level is reported, never
widened into a platform-wide grant.

The default tables can be overridden by a JSON settings file::

    {
      "course_roles": {"finance_admin": "course_data_researcher", "sales_admin": null},
      "forum_roles": {"Student": null},
      "levels": {"library_user": ["org"]}
    }

A name mapped to ``null`` is skipped on purpose (listed as ignored, not as a problem). A name
the default table does not have is read at course level only, unless ``levels`` names more.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rolecall.core import BadInputError

Level = Literal["course", "org", "platform"]
LEVELS: tuple[Level, ...] = ("course", "org", "platform")

ACCESS_TABLE = "student_courseaccessrole"
FORUM_TABLE = "django_comment_client_role_users"
USER_TABLE = "auth_user"

# legacy name -> (rolecall role or None, levels the legacy system reads it at)
DEFAULT_COURSE_ROLES: dict[str, tuple[str | None, tuple[Level, ...]]] = {
    "instructor": ("course_admin", ("course", "org")),
    "staff": ("course_staff", ("course", "org")),
    "limited_staff": ("course_limited_staff", ("course", "org")),
    "data_researcher": ("course_data_researcher", ("course", "org")),
    "beta_testers": ("course_beta_tester", ("course", "org")),
    "ccx_coach": ("ccx_coach", ("course",)),
    "library_user": ("library_user", ("org",)),
    "org_course_creator_group": ("course_creator", ("org",)),
    "course_creator_group": ("course_creator", ("platform",)),
    "support": ("platform_support", ("platform",)),
    "finance_admin": (None, ("course",)),
    "sales_admin": (None, ("course",)),
}
"""The course access roles (``student_courseaccessrole.role``). ``finance_admin`` and
``sales_admin`` belong to the retired e-commerce pages and have no rolecall equivalent: they
are reported as ignored unless a settings file maps them."""

DEFAULT_LIBRARY_ROLES: dict[str, str | None] = {
    "instructor": "library_admin",
    "staff": "library_author",
    "library_user": "library_user",
}
"""The course access roles a v1 library's row holds (its ``course_id`` is a
``library-v1:ORG+LIBRARY`` key): the legacy library admin, author and read-only user."""

CCX_PREFIX = "ccx-v1:"
"""The namespace of a custom course's key, which edx-platform keeps in ``course_id`` columns."""

DEFAULT_CCX_ROLES: dict[str, str] = {
    "instructor": "ccx_admin",
    "staff": "ccx_staff",
    "limited_staff": "ccx_staff",
    "data_researcher": "ccx_data_researcher",
    "beta_testers": "ccx_beta_tester",
}
"""The course access roles on a custom course (a ``ccx-v1:`` key in ``course_id``), whose
course role cannot be held on one: the ``ccx`` plugin's roles for a custom course's own team.
edx-platform writes ``staff`` rows there for the coach and the course's staff, and
``instructor`` rows for the course's instructors. ``limited_staff`` is staff in the LMS and a
custom course has no Studio, so it is ``ccx_staff`` too. ``ccx_coach`` maps to itself (the
coach role can be held on a custom course)."""

DEFAULT_CCX_FORUM_ROLES: dict[str, str] = {
    "Administrator": "ccx_discussion_administrator",
    "Moderator": "ccx_discussion_moderator",
    "Group Moderator": "ccx_discussion_group_moderator",
    "Community TA": "ccx_community_ta",
    "Student": "ccx_discussion_student",
}
"""The forum roles edx-platform seeds on a custom course (its coach is made ``Administrator``),
as the ``ccx`` plugin's discussion roles of a custom course."""

DEFAULT_FORUM_ROLES: dict[str, str | None] = {
    "Administrator": "discussion_administrator",
    "Moderator": "discussion_moderator",
    "Group Moderator": "discussion_group_moderator",
    "Community TA": "discussion_community_ta",
    "Student": "discussion_student",
}
"""The forum roles (``django_comment_client_role.name``), always per course."""

STAFF_ROLE = "platform_admin"
"""What an ``auth_user.is_staff`` account becomes when the import is asked to (global staff)."""


@dataclass(frozen=True)
class RoleMapping:
    """The tables in force: the defaults, with a settings file's overrides applied."""

    course_roles: Mapping[str, tuple[str | None, tuple[Level, ...]]] = field(
        default_factory=lambda: dict(DEFAULT_COURSE_ROLES)
    )
    forum_roles: Mapping[str, str | None] = field(default_factory=lambda: dict(DEFAULT_FORUM_ROLES))
    library_roles: Mapping[str, str | None] = field(
        default_factory=lambda: dict(DEFAULT_LIBRARY_ROLES)
    )
    ccx_roles: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CCX_ROLES))
    ccx_forum_roles: Mapping[str, str] = field(
        default_factory=lambda: dict(DEFAULT_CCX_FORUM_ROLES)
    )

    def course_legacy_name(self, role: str, level: Level) -> str | None:
        """The legacy course access role that ``role`` at ``level`` is written back as (the
        first in table order when several map to it)."""
        for name, (target, levels) in self.course_roles.items():
            if target == role and level in levels:
                return name
        return None

    def library_legacy_name(self, role: str) -> str | None:
        """The course access role a v1 library's row for ``role`` is written back as."""
        return next((name for name, target in self.library_roles.items() if target == role), None)

    def forum_legacy_name(self, role: str) -> str | None:
        return next((name for name, target in self.forum_roles.items() if target == role), None)

    def ccx_legacy_name(self, role: str) -> str | None:
        """The course access role a custom course's row for ``role`` is written back as."""
        return next((name for name, target in self.ccx_roles.items() if target == role), None)

    def ccx_forum_legacy_name(self, role: str) -> str | None:
        """The forum role a custom course's membership for ``role`` is written back as."""
        return next((name for name, target in self.ccx_forum_roles.items() if target == role), None)


def _role_value(value: object, where: str) -> str | None:
    if value is None or (isinstance(value, str) and value.strip()):
        return value.strip() if isinstance(value, str) else None
    raise BadInputError(f"{where}: a role id or null, not {json.dumps(value)}")


def load_mapping(path: Path | None) -> RoleMapping:
    """The default tables, overridden by the JSON settings file at ``path`` if given."""
    if path is None:
        return RoleMapping()
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"cannot read the settings file {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise BadInputError(f"the settings file {path} is not JSON: {exc}") from None
    if not isinstance(settings, dict):
        raise BadInputError(f"the settings file {path} must hold a JSON object")
    unknown = set(settings) - {"course_roles", "forum_roles", "levels"}
    if unknown:
        raise BadInputError(
            f"the settings file {path} has unknown key(s) {', '.join(sorted(unknown))}; it takes "
            "course_roles, forum_roles and levels"
        )
    sections = {}
    for key in ("course_roles", "forum_roles", "levels"):
        section = settings.get(key, {})
        if not isinstance(section, dict):
            raise BadInputError(f"{path}: {key} must be an object of legacy name -> value")
        sections[key] = section
    course = dict(DEFAULT_COURSE_ROLES)
    for name, value in sections["course_roles"].items():
        # A name new to the table is read at course level only unless ``levels`` says more:
        # a platform-level row is never widened into a platform-wide grant by default.
        _, levels = course.get(name, (None, ("course",)))
        course[name] = (_role_value(value, f"{path}: course_roles.{name}"), levels)
    for name, value in sections["levels"].items():
        if name not in course:
            raise BadInputError(f"{path}: levels.{name} names no course access role")
        if not isinstance(value, list) or not value or not set(value) <= set(LEVELS):
            raise BadInputError(
                f"{path}: levels.{name} must be a non-empty list of {', '.join(LEVELS)}"
            )
        course[name] = (course[name][0], tuple(level for level in LEVELS if level in value))
    forum = dict(DEFAULT_FORUM_ROLES)
    for name, value in sections["forum_roles"].items():
        forum[name] = _role_value(value, f"{path}: forum_roles.{name}")
    return RoleMapping(course_roles=course, forum_roles=forum)
