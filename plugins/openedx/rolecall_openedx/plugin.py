"""The rolecall plugin this app registers in its own service: enrollment as the source of the
derived role ``discussion_student`` (every learner enrolled in a course takes part in its
forums), read from the platform's ``CourseEnrollment`` rows instead of stored per learner; and
rolecall's assignment changes announced as a Django signal after the platform's transaction
commits (:data:`rolecall_openedx.events.assignment_changed`).

The model is ``settings.ROLECALL_ENROLLMENT_MODEL`` (default ``student.CourseEnrollment``);
``ROLECALL_DERIVED_ENROLLMENT = False`` turns the source off.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import transaction
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey

from rolecall.core import AssignmentEvent, DerivedRole, hookimpl

DEFAULT_MODEL = "student.CourseEnrollment"


def is_enrolled(username: str, course: str) -> bool:
    """Whether ``username`` has an active enrollment in ``course``."""
    try:
        key = CourseKey.from_string(course)
    except InvalidKeyError:
        return False
    model = apps.get_model(getattr(settings, "ROLECALL_ENROLLMENT_MODEL", DEFAULT_MODEL))
    return bool(
        model.objects.filter(user__username=username, course_id=key, is_active=True).exists()
    )


@hookimpl
def register_derived_roles() -> list[DerivedRole]:
    if not getattr(settings, "ROLECALL_DERIVED_ENROLLMENT", True):
        return []
    return [
        DerivedRole(
            role="discussion_student",
            source="enrollment",
            description="enrolled in the course",
            scope_types=("course",),
            holds=is_enrolled,
        )
    ]


@hookimpl
def assignment_changed(event: AssignmentEvent, rolecall: Any) -> None:
    from .events import assignment_changed as signal

    transaction.on_commit(lambda: signal.send(sender=AssignmentEvent, event=event))


# The platform's course list is the scope catalogue (rolecall_openedx.catalogue).
from .catalogue import find_scopes, lookup_scopes  # noqa: E402, F401
