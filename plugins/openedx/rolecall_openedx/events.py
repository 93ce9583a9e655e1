"""Keeping rolecall in step with the platform through openedx-events, and announcing rolecall's
own changes.

- ``COURSE_ACCESS_ROLE_ADDED`` / ``COURSE_ACCESS_ROLE_REMOVED``: while the legacy tables stay the
  source of truth, each change to ``student_courseaccessrole`` is made in rolecall too, mapped
  as ``rolecall legacy import`` maps the rows (course, org and platform levels; v1 library
  keys), audited with the event as the actor (``openedx-events``, the reason naming the event
  type and id). Receiving an event twice changes nothing the second time; a platform user
  rolecall has not met is added first. A role with no rolecall equivalent is logged and left.
- Enrollment events need no rolecall write: the derived role ``discussion_student`` reads the
  enrollment rows when a check asks (:mod:`rolecall_openedx.plugin`); they only empty the
  request's memo of those answers.
- :data:`assignment_changed`: a Django signal sent after each rolecall assignment change made in
  this process, once the platform's transaction commits (``transaction.on_commit``), with the
  :class:`rolecall.core.AssignmentEvent` as ``event``.
"""

from __future__ import annotations

import logging
from typing import Any

from opaque_keys.edx.keys import CourseKey
from openedx_events.learning.signals import COURSE_ACCESS_ROLE_ADDED, COURSE_ACCESS_ROLE_REMOVED

from rolecall.builtin_plugins.legacy.mapping import RoleMapping
from rolecall.core import BadInputError

from .service import get_rolecall
from .signals import assignment_changed  # noqa: F401 - offered here, where it always was

log = logging.getLogger(__name__)

ACTOR = "openedx-events"

_MAPPING = RoleMapping()


def target(role: str, org: str, course_key: CourseKey | None) -> tuple[str, str] | None:
    """The rolecall (role, scope) a legacy course access role row means, or None."""
    if course_key is not None:
        key = str(course_key)
        if key.startswith("library-v1:"):
            found = _MAPPING.library_roles.get(role)
            return None if found is None else (found, key)
        level, scope = "course", key
    elif org:
        level, scope = "org", f"org:{org}"
    else:
        level, scope = "platform", "platform"
    mapped, levels = _MAPPING.course_roles.get(role, (None, ()))
    if mapped is None or level not in levels:
        return None
    return mapped, scope


def _row(data: Any) -> tuple[str, tuple[str, str] | None]:
    course_key = data.course_key if data.course_key else None
    return data.user.pii.username, target(data.role, data.org_key or "", course_key)


def _reason(kwargs: dict[str, Any]) -> str:
    metadata = kwargs.get("metadata")
    if metadata is None:
        return "openedx-events"
    return f"{metadata.event_type} {metadata.id}"


def on_role_added(course_access_role_data: Any, **kwargs: Any) -> None:
    username, mapped = _row(course_access_role_data)
    if mapped is None:
        log.info("rolecall: no rolecall role for %s", course_access_role_data.role)
        return
    rc = get_rolecall()
    pii = course_access_role_data.user.pii
    rc.add_user(username, email=pii.email or None, display_name=pii.name or None, actor=ACTOR)
    role, scope = mapped
    if any(g.role == role and g.scope == scope and not g.expired for g in rc.grants(username)):
        return  # already in step: an event received twice changes nothing
    rc.assign(username, role, scope, actor=ACTOR, reason=_reason(kwargs))


def on_role_removed(course_access_role_data: Any, **kwargs: Any) -> None:
    username, mapped = _row(course_access_role_data)
    if mapped is None:
        return
    rc = get_rolecall()
    role, scope = mapped
    try:
        rc.revoke(username, role, scope, actor=ACTOR, reason=_reason(kwargs))
    except BadInputError:
        return  # not held (or a user rolecall never met): already in step


def connect() -> None:
    """Listen to the platform's signals: openedx-events' role changes, and the retirement
    signals of edx-platform where they exist (:func:`rolecall_openedx.retirement.connect`)."""
    from . import retirement

    COURSE_ACCESS_ROLE_ADDED.connect(on_role_added, dispatch_uid="rolecall_openedx.role_added")
    COURSE_ACCESS_ROLE_REMOVED.connect(
        on_role_removed, dispatch_uid="rolecall_openedx.role_removed"
    )
    retirement.connect()
