"""A derived-role check beside a stored one, on the same index.

Every built-in plugin is loaded, plus a plugin declaring ``discussion_student`` as a derived
role whose source is an in-memory set of (user, course) enrollments: what the source itself
costs in a platform (a database query, a cache look-up) is the platform's, so this measures
what rolecall adds around it. The index holds ``--users`` users, each with one stored grant
(``course_staff``) on one of ``--courses`` courses, and every user is enrolled in one other
course. Four checks are timed, each over every user, repeated, median and p99 per check:

- stored, allowed: a course staff permission on the user's own course (the source is never
  asked);
- stored, denied: the same permission on another course (no derived role gives it, so the
  source is never asked either);
- derived, allowed: a forum permission on the course the user is enrolled in (the stored grants
  deny, then the source says yes);
- derived, denied: the same forum permission on a course the user is not enrolled in.

Run from this folder: ``python derived.py [--users N] [--courses N] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from rolecall.core import DerivedRole, PluginSettings, hookimpl, load_plugins
from rolecall.core.engine import Index, changes

STAFF_PERMISSION = "courses.edit_course_content"
FORUM_PERMISSION = "discussion.vote"


class Enrollments:
    def __init__(self) -> None:
        self.members: set[tuple[str, str]] = set()

    def holds(self, user: str, course: str) -> bool:
        return (user, course) in self.members

    @hookimpl
    def register_derived_roles(self) -> list[DerivedRole]:
        return [
            DerivedRole(
                role="discussion_student",
                source="enrollment",
                description="enrolled in the course",
                scope_types=("course",),
                holds=self.holds,
            )
        ]


def _time(check: Callable[[str, str, str], bool], calls: list[tuple[str, str, str]]) -> list[float]:
    """Nanoseconds per call, one figure per user (each call timed alone)."""
    out = []
    clock = time.perf_counter_ns
    for user, permission, scope in calls:
        start = clock()
        check(user, permission, scope)
        out.append(float(clock() - start))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--courses", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    source = Enrollments()
    plugins = load_plugins(PluginSettings(), entry_points=[], extra={"enrollments": source})
    index = Index(plugins.registry)
    courses = [f"course-v1:Org{i % 10}+C{i}+2026" for i in range(args.courses)]
    rows = []
    for n in range(args.users):
        user = f"user{n}"
        index.add_user(user)
        own, enrolled = courses[n % len(courses)], courses[(n + 1) % len(courses)]
        rows.append((n + 1, user, "course_staff", own, None, "2026-01-01T00:00:00", None))
        source.members.add((user, enrolled))
    changes.load_grants(index, rows)
    cases: dict[str, list[tuple[str, str, str]]] = {}
    for n in range(args.users):
        user = f"user{n}"
        own = courses[n % len(courses)]
        enrolled = courses[(n + 1) % len(courses)]
        other = courses[(n + 2) % len(courses)]
        cases.setdefault("stored, allowed", []).append((user, STAFF_PERMISSION, own))
        cases.setdefault("stored, denied", []).append((user, STAFF_PERMISSION, other))
        cases.setdefault("derived, allowed", []).append((user, FORUM_PERMISSION, enrolled))
        cases.setdefault("derived, denied", []).append((user, FORUM_PERMISSION, other))
    expected = {"stored, allowed": True, "stored, denied": False}
    expected |= {"derived, allowed": True, "derived, denied": False}
    check = index.check
    for name, calls in cases.items():
        wrong = sum(check(*c) != expected[name] for c in calls)
        assert wrong == 0, f"{name}: {wrong} wrong answers"
    print(f"{args.users:,} users, {args.courses:,} courses, {args.rounds} rounds")
    print(f"{'check':<20}{'median ns':>12}{'p99 ns':>10}")
    for name, calls in cases.items():
        figures: list[float] = []
        for _ in range(args.rounds):
            figures.extend(_time(check, calls))
        figures.sort()
        p99 = figures[int(len(figures) * 0.99)]
        print(f"{name:<20}{statistics.median(figures):>12,.0f}{p99:>10,.0f}")


if __name__ == "__main__":
    main()
