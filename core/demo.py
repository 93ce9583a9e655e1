"""A realistic demo data set: three orgs, their courses and libraries, a user for every
built-in role, org-wide and platform-wide grants, an expired grant and a locked course.

It is written through the service like any other data (``import_grants``, so grants keep
believable past dates), and loading it twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .service import Rolecall
from .writes import GrantRow

DEMO_ADMIN = "admin"

SCOPES: tuple[tuple[str, str], ...] = (
    ("course-v1:MITx+6.002x+2026_T1", "Circuits and Electronics"),
    ("course-v1:MITx+18.01x+2026_T1", "Single Variable Calculus"),
    ("course-v1:HarvardX+CS50+2026", "Introduction to Computer Science"),
    ("course-v1:HarvardX+PH125.1x+2026_T2", "Data Science: R Basics"),
    ("course-v1:BerkeleyX+CS169.1x+2026_T1", "Agile Development Using Ruby on Rails"),
    ("lib:MITx:physics", "Physics problem bank"),
    ("lib:HarvardX:cs-problems", "Computer science problem sets"),
)

USERS: tuple[tuple[str, str], ...] = (
    ("admin", "Platform Administrator"),
    ("sam_support", "Sam Support"),
    ("olivia", "Olivia Org-Admin"),
    ("carlos", "Carlos Creator"),
    ("ada", "Ada Lovelace"),
    ("grace", "Grace Hopper"),
    ("eddie", "Eddie Editor"),
    ("audrey", "Audrey Auditor"),
    ("lin", "Lin Limited"),
    ("dara", "Dara Researcher"),
    ("bea", "Bea Beta"),
    ("hank", "Hank Staff"),
    ("priya", "Priya Patel"),
    ("tom", "Tom Temporary"),
    ("lia", "Lia Librarian"),
    ("leo", "Leo Author"),
    ("cora", "Cora Contributor"),
    ("uma", "Uma User"),
    ("mo", "Mo Moderator"),
    ("gina", "Gina Group-Moderator"),
    ("theo", "Theo Community-TA"),
    ("stu", "Stu Student"),
    ("dan", "Dan Discussion-Admin"),
)

MIT_CIRCUITS = "course-v1:MITx+6.002x+2026_T1"
MIT_CALCULUS = "course-v1:MITx+18.01x+2026_T1"
CS50 = "course-v1:HarvardX+CS50+2026"
R_BASICS = "course-v1:HarvardX+PH125.1x+2026_T2"
AGILE = "course-v1:BerkeleyX+CS169.1x+2026_T1"

# (user, role, scope, granted days ago, expires days from now or None)
GRANTS: tuple[tuple[str, str, str, int, int | None], ...] = (
    ("admin", "platform_admin", "platform", 400, None),
    ("sam_support", "platform_support", "platform", 300, None),
    ("olivia", "org_admin", "org:MITx", 200, None),
    ("carlos", "course_creator", "org:HarvardX", 150, None),
    ("ada", "course_admin", MIT_CIRCUITS, 120, None),
    ("grace", "course_staff", MIT_CIRCUITS, 100, None),
    ("eddie", "course_editor", MIT_CIRCUITS, 90, None),
    ("eddie", "course_editor", MIT_CALCULUS, 90, 60),
    ("audrey", "course_auditor", "org:MITx", 80, None),
    ("lin", "course_limited_staff", CS50, 70, None),
    ("dara", "course_data_researcher", CS50, 70, None),
    ("bea", "course_beta_tester", CS50, 20, 30),
    ("hank", "course_staff", "org:HarvardX", 60, None),
    ("priya", "course_admin", AGILE, 50, None),
    ("tom", "course_staff", R_BASICS, 60, -30),
    ("lia", "library_admin", "lib:MITx:physics", 45, None),
    ("leo", "library_author", "lib:MITx:physics", 40, None),
    ("cora", "library_contributor", "lib:HarvardX:cs-problems", 35, None),
    ("uma", "library_user", "lib:HarvardX:cs-problems", 30, None),
    ("mo", "discussion_moderator", MIT_CIRCUITS, 25, None),
    ("gina", "discussion_group_moderator", MIT_CIRCUITS, 25, None),
    ("theo", "discussion_community_ta", CS50, 20, None),
    ("stu", "discussion_student", CS50, 10, None),
    ("dan", "discussion_administrator", MIT_CALCULUS, 15, None),
)

LOCKED = (
    AGILE,
    ("courses.edit_course_content", "courses.publish_course_content"),
    ("course_admin",),
    "Course locked for accreditation review",
)


@dataclass
class DemoReport:
    users: int = 0
    grants: int = 0
    skipped: list[str] = field(default_factory=list)
    revision: int = 0


def load_demo(rc: Rolecall, *, now: datetime | None = None) -> DemoReport:
    """Load the demo data set; roles or permissions whose plugin is not loaded are skipped and
    reported, and every registered role no demo user holds gets a user of its own."""
    now = now or datetime.now(UTC)
    report = DemoReport()
    registry = rc.registry
    rc.add_scopes(SCOPES, actor=DEMO_ADMIN)
    users = [(u, f"{u}@example.org", name) for u, name in USERS]
    grants = list(GRANTS)
    covered = {role for _, role, _, _, _ in GRANTS}
    for role in sorted(set(registry.roles) - covered):
        # Roles added by other plugins: one user each, at the first scope the role accepts.
        scope = next(
            (
                key
                for key, _ in SCOPES
                if registry.scopes.resolve(key).type in registry.roles[role].scope_types
            ),
            "platform" if "platform" in registry.roles[role].scope_types else None,
        )
        if scope is None:
            report.skipped.append(f"role {role}: no demo scope of a type it accepts")
            continue
        username = f"demo_{role}"
        users.append((username, f"{username}@example.org", registry.roles[role].title))
        grants.append((username, role, scope, 30, None))
    rc.add_users(users, actor=DEMO_ADMIN)
    report.users = len(users)
    rows = []
    for user, role, scope, days_ago, expires_in in grants:
        if role not in registry.roles:
            line = f"role {role}: its plugin is not loaded"
            if line not in report.skipped:
                report.skipped.append(line)
            continue
        rows.append(
            GrantRow(
                user=user,
                role=role,
                scope=scope,
                granted_by=None if user == DEMO_ADMIN else DEMO_ADMIN,
                granted_at=now - timedelta(days=days_ago),
                expires_at=None if expires_in is None else now + timedelta(days=expires_in),
                reason="demo data",
            )
        )
    rc.import_grants(rows, actor=DEMO_ADMIN)
    report.grants = len(rows)
    scope, permissions, exempt, reason = LOCKED
    known = [p for p in permissions if p in registry.permissions]
    exempt_known = [r for r in exempt if r in registry.roles]
    if known and rc.index.restriction(scope) is None:
        rc.restrict(scope, known, exempt_roles=exempt_known, reason=reason, actor=DEMO_ADMIN)
    elif not known:
        report.skipped.append(f"restriction on {scope}: its permissions are not registered")
    report.revision = rc.revision
    return report
