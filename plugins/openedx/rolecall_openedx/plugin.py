"""The rolecall plugin this app registers in its own service: enrollment as the source of the
derived role ``discussion_student`` (every learner enrolled in a course takes part in its
forums), read from the platform's ``CourseEnrollment`` rows instead of stored per learner; and
rolecall's assignment changes announced as a Django signal after the platform's transaction
commits (:data:`rolecall_openedx.events.assignment_changed`).

The model is ``settings.ROLECALL_ENROLLMENT_MODEL`` (default ``student.CourseEnrollment``);
``ROLECALL_DERIVED_ENROLLMENT = False`` turns the source off.

An enrollment answer costs a query, so within one request each (learner, course) is asked of
the database once: Django's ``request_started`` opens a memo of the answers for the request (a
forum page checks voting, posting and reading on the same course many times), and
``request_finished`` drops it. Outside a request (a task, a command) each check asks the
database, unless the code runs in :func:`enrollment_cache`. Any change to an enrollment the
process sees (the model's ``post_save`` / ``post_delete``, openedx-events'
``COURSE_ENROLLMENT_CREATED`` / ``CHANGED`` and ``COURSE_UNENROLLMENT_COMPLETED``) empties the
memo, so an unenrollment is seen by the very next check.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey
from openedx_events.learning.signals import (
    COURSE_ENROLLMENT_CHANGED,
    COURSE_ENROLLMENT_CREATED,
    COURSE_UNENROLLMENT_COMPLETED,
)

from rolecall.core import AssignmentEvent, DerivedRole, hookimpl

from .signals import assignment_changed as changed_signal

DEFAULT_MODEL = "student.CourseEnrollment"


MEMO_LIMIT = 10_000
"""At most this many answers are kept for one request (a request asking about more learners
than that asks the database for the others)."""

_memo: ContextVar[dict[tuple[str, str], bool] | None] = ContextVar(
    "rolecall_openedx_enrollments", default=None
)


def _enrolled(username: str, course: str) -> bool:
    try:
        key = CourseKey.from_string(course)
    except InvalidKeyError:
        return False
    model = apps.get_model(getattr(settings, "ROLECALL_ENROLLMENT_MODEL", DEFAULT_MODEL))
    return bool(
        model.objects.filter(user__username=username, course_id=key, is_active=True).exists()
    )


def enrolled_courses(username: str) -> list[str]:
    """The course keys of ``username``'s active enrollments (one query): where the derived role
    holds, for a listing that cannot ask :func:`is_enrolled` course by course."""
    model = apps.get_model(getattr(settings, "ROLECALL_ENROLLMENT_MODEL", DEFAULT_MODEL))
    found = model.objects.filter(user__username=username, is_active=True)
    return sorted({str(key) for key in found.values_list("course_id", flat=True)})


def is_enrolled(username: str, course: str) -> bool:
    """Whether ``username`` has an active enrollment in ``course`` (asked of the database once
    per request)."""
    memo = _memo.get()
    if memo is None:
        return _enrolled(username, course)
    found = memo.get((username, course))
    if found is None:
        found = _enrolled(username, course)
        if len(memo) < MEMO_LIMIT:
            memo[(username, course)] = found
    return found


@contextmanager
def enrollment_cache() -> Iterator[None]:
    """Remember enrollment answers within the block, as a request does (for a task or a
    command that checks many times); changes to enrollments seen meanwhile empty it."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def forget_enrollments(**_: Any) -> None:
    """Empty the memo of the current request (an enrollment changed)."""
    memo = _memo.get()
    if memo:
        memo.clear()


def _request_started(**_: Any) -> None:
    _memo.set({})


def _request_finished(**_: Any) -> None:
    _memo.set(None)


def connect() -> None:
    """Open and drop the memo with each request; empty it on every enrollment change."""
    request_started.connect(_request_started, dispatch_uid="rolecall_openedx.enrollments.start")
    request_finished.connect(_request_finished, dispatch_uid="rolecall_openedx.enrollments.end")
    for signal in (
        COURSE_ENROLLMENT_CREATED,
        COURSE_ENROLLMENT_CHANGED,
        COURSE_UNENROLLMENT_COMPLETED,
    ):
        signal.connect(forget_enrollments, dispatch_uid=f"rolecall_openedx.{signal.event_type}")
    try:
        model = apps.get_model(getattr(settings, "ROLECALL_ENROLLMENT_MODEL", DEFAULT_MODEL))
    except (LookupError, ValueError):
        return  # no enrollment model installed (Studio): nothing to follow
    post_save.connect(forget_enrollments, sender=model, dispatch_uid="rolecall_openedx.enr.save")
    post_delete.connect(
        forget_enrollments, sender=model, dispatch_uid="rolecall_openedx.enr.delete"
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
    transaction.on_commit(lambda: changed_signal.send(sender=AssignmentEvent, event=event))


# The platform's course list is the scope catalogue (rolecall_openedx.catalogue).
from .catalogue import find_scopes, lookup_scopes  # noqa: E402, F401
