"""``user.has_perm`` through RolecallBackend beside django-rules and django-guardian.

The same users and courses for all: ``--users`` users, each on the staff of one of
``--courses`` courses (CourseOverview rows of the test project's stub model). Timed, each
through ``user.has_perm(permission, course)`` (Django's own loop over the backends, one backend
installed at a time), over every user, half the calls on their own course (allowed) and half
on another (denied):

- rolecall: ``RolecallBackend`` (``course_staff`` assignments in rolecall, SQLite file);
- django-rules: ``rules.permissions.ObjectPermissionBackend`` with the equivalent role
  predicate, ``is_course_staff(user, course)``, reading the same memberships from an in-memory
  dict (its best case: a predicate that queries the database costs a query per call);
- django-guardian, uncached: ``ObjectPermissionBackend`` with one object permission per user
  (``stubs.change_courseoverview``), a database query per call (fresh user objects, so
  guardian's per-user cache is empty);
- django-guardian, prefetched: ``ObjectPermissionChecker(user).prefetch_perms(courses)`` once,
  then ``checker.has_perm``;
- and, for scale, rolecall's own ``check`` without Django around it.

Then as LMS asks: the platform passes ``CourseKey`` objects (each request parses its key once and
asks many times with that object), through the LMS's own backend list (django-rules,
``AllowAllUsersModelBackend``, bridgekeeper, rolecall): rolecall's permission, against a
django-rules predicate doing the same look-up (the user's staff courses, keyed by course key)
under the same list. Goals: ``RolecallBackend.has_perm`` with a ``CourseKey`` within 2x
``check``, mapping of the key included; through the LMS's list, no slower than django-rules.

Run from plugins/openedx: ``python benchmarks/has_perm.py [--users N] [--courses N]``. Prints
the median and p99 of per-call times, in microseconds, and each median as a multiple of
rolecall's own ``check``; a wrong answer stops the run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))  # the Floor backend below, found by Django as has_perm.Floor
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "openedx_test_project.settings")

PERMISSION = "courses.edit_course_content"
GUARDIAN_PERMISSION = "stubs.change_courseoverview"
RULES_PERMISSION = "stubs.edit_course_content"
RULES_KEY_PERMISSION = "stubs.edit_course_content_by_key"
LMS_BACKENDS = [
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.AllowAllUsersModelBackend",
    "bridgekeeper.backends.RulePermissionBackend",
    "rolecall_openedx.backends.RolecallBackend",
]
"""The object-permission part of the LMS's ``AUTHENTICATION_BACKENDS`` (lms/envs/common.py),
with rolecall's backend added after the platform's own as the plugin adds it."""


def _times(
    call: Callable[[Any, Any], bool], cases: list[tuple[Any, Any, bool]], *, answers: bool = True
) -> list[float]:
    out = []
    clock = time.perf_counter
    for user, course, expected in cases:
        start = clock()
        answer = call(user, course)
        out.append((clock() - start) * 1e6)
        if answers and answer != expected:
            raise AssertionError(f"wrong answer for {user} on {course}")
    return out


class Floor:
    """A backend that answers without looking at anything: what Django's own ``has_perm``
    loop costs around any backend."""

    def has_perm(self, user: Any, perm: str, obj: Any = None) -> bool:
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--courses", type=int, default=200)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="rolecall-has-perm-"))
    os.environ["ROLECALL_DATABASE_URL"] = f"sqlite:///{folder / 'rolecall.db'}"

    import django
    from django.conf import settings

    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "guardian"]
    settings.ROLECALL_DATABASE_URL = os.environ["ROLECALL_DATABASE_URL"]
    settings.DATABASES["default"]["NAME"] = str(folder / "platform.db")
    settings.ANONYMOUS_USER_NAME = None
    # As in production (the test project catches up on every read instead).
    settings.ROLECALL_STALENESS = 1.0
    settings.ROLECALL_BACKGROUND_SYNC = True
    django.setup()

    import rules
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import override_settings
    from guardian.core import ObjectPermissionChecker
    from guardian.shortcuts import assign_perm
    from opaque_keys.edx.keys import CourseKey

    from openedx_test_project.stubs.models import CourseOverview
    from rolecall_openedx.backends import RolecallBackend
    from rolecall_openedx.service import get_rolecall

    call_command("migrate", run_syncdb=True, verbosity=0)
    courses = [
        CourseOverview.objects.create(id=f"course-v1:Org{i % 10}+C{i}+2026", org=f"Org{i % 10}")
        for i in range(args.courses)
    ]
    users = User.objects.bulk_create(User(username=f"user{n}") for n in range(args.users))
    users = list(User.objects.order_by("id"))
    own = {u.username: courses[n % len(courses)] for n, u in enumerate(users)}

    rc = get_rolecall()
    rc.add_users([u.username for u in users])
    rc.assign_many([(u.username, "course_staff", own[u.username].id) for u in users])
    staff_of = {name: {course.id} for name, course in own.items()}

    @rules.predicate
    def is_course_staff(user: Any, course: Any) -> bool:
        return course is not None and course.id in staff_of.get(user.username, ())

    rules.add_perm(RULES_PERMISSION, is_course_staff)
    for user in users:
        assign_perm(GUARDIAN_PERMISSION, user, own[user.username])

    cases = []
    for n, user in enumerate(users):
        cases.append((user, own[user.username], True))
        cases.append((user, courses[(n + 1) % len(courses)], False))

    def fresh(user: Any) -> Any:
        return User.objects.get(pk=user.pk)

    figures: dict[str, list[float]] = {}
    with override_settings(AUTHENTICATION_BACKENDS=["rolecall_openedx.backends.RolecallBackend"]):
        for _ in range(2):  # the first round warms the scope caches, as a running server has
            figures["rolecall has_perm"] = _times(lambda u, c: u.has_perm(PERMISSION, c), cases)
        backend = RolecallBackend()
        figures["RolecallBackend.has_perm, direct"] = _times(
            lambda u, c: backend.has_perm(u, PERMISSION, c), cases
        )
    with override_settings(AUTHENTICATION_BACKENDS=["has_perm.Floor"]):
        figures["Django's has_perm loop alone"] = _times(
            lambda u, c: u.has_perm(PERMISSION, c), cases, answers=False
        )
    rc = get_rolecall()
    figures["rolecall check (no Django)"] = _times(
        lambda u, c: rc.check(u.username, PERMISSION, c.id), cases
    )
    with override_settings(AUTHENTICATION_BACKENDS=["rules.permissions.ObjectPermissionBackend"]):
        figures["django-rules has_perm"] = _times(
            lambda u, c: u.has_perm(RULES_PERMISSION, c), cases
        )
    with override_settings(AUTHENTICATION_BACKENDS=["guardian.backends.ObjectPermissionBackend"]):
        fresh_cases = [(fresh(u), c, e) for u, c, e in cases]
        figures["guardian has_perm, uncached"] = _times(
            lambda u, c: u.has_perm(GUARDIAN_PERMISSION, c), fresh_cases
        )
        checkers = {}
        for user in users:
            checker = ObjectPermissionChecker(user)
            checker.prefetch_perms(courses)
            checkers[user.pk] = checker
        figures["guardian checker, prefetched"] = _times(
            lambda u, c: checkers[u.pk].has_perm("change_courseoverview", c), cases
        )
    # As LMS asks: CourseKey objects, the LMS's backend list.
    keys = {c.id: CourseKey.from_string(c.id) for c in courses}
    key_cases = [(u, keys[c.id], e) for u, c, e in cases]
    staff_keys = {name: {keys[c] for c in held} for name, held in staff_of.items()}

    @rules.predicate
    def is_course_staff_by_key(user: Any, course: Any) -> bool:
        return course is not None and course in staff_keys.get(user.username, ())

    rules.add_perm(RULES_KEY_PERMISSION, is_course_staff_by_key)
    backend = RolecallBackend()
    for _ in range(2):  # the first round meets each key object once, as a request does
        figures["RolecallBackend.has_perm, CourseKey"] = _times(
            lambda u, c: backend.has_perm(u, PERMISSION, c), key_cases
        )
    with override_settings(AUTHENTICATION_BACKENDS=LMS_BACKENDS):
        for _ in range(2):
            figures["LMS backends: rolecall"] = _times(
                lambda u, c: u.has_perm(PERMISSION, c), key_cases
            )
        figures["LMS backends: django-rules"] = _times(
            lambda u, c: u.has_perm(RULES_KEY_PERMISSION, c), key_cases
        )
    print(f"{args.users:,} users, {args.courses:,} courses, {len(cases):,} calls each")
    # The last column: each median over rolecall's own check's (the goal: has_perm within 3x).
    base = statistics.median(figures["rolecall check (no Django)"])
    print(f"{'engine':<32}{'median us':>10}{'p99 us':>10}{'x check':>9}")
    for name, values in figures.items():
        values.sort()
        p99 = values[int(len(values) * 0.99)]
        median = statistics.median(values)
        print(f"{name:<32}{median:>10.2f}{p99:>10.2f}{median / base:>9.1f}")


if __name__ == "__main__":
    main()
