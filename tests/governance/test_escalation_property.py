"""A stateful property test of the delegation rules: random actors make random delegated changes
(single grants and removals, role changes, bulk and org-wide operations, custom-role edits and
retirements) with restrictions in force, and after every change that goes through

- nobody can exercise a permission at a scope that they could not before, unless the actor
  could exercise it there before (the actor included: nobody gives themselves more);
- no org or course that had an admin is left without one;

and a refused change changes nothing. The scopes examined include a course nobody has named yet
(every future course of the org) and a library.
"""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from test_escalation import C1, C2, HARVARD, MITX, SurveyPlugin

from rolecall.core import BadInputError, PluginSettings, Rolecall, load_plugins
from rolecall.core.engine import lookups
from rolecall.core.governance import NotAllowedError

FUTURE = "course-v1:MITx+not_yet+2027"
LIBRARY = "lib:MITx:physics"
HARVARD_ORG = "org:HarvardX"
PROBES = (C1, C2, HARVARD, FUTURE, LIBRARY, MITX, HARVARD_ORG, "platform")
ADMIN_SCOPES = (C1, C2, HARVARD, MITX, HARVARD_ORG)
USERS = ("root", "olivia", "lena", "ada", "harriet", "grace", "eddie")
ROLES = (
    "course_auditor",
    "course_staff",
    "course_admin",
    "org_admin",
    "library_admin",
    "survey_org_lead",
    "survey_org_viewer",
    "survey_warden",
    "survey_editor",
    "survey_viewer",
    "tutor",
)
SCOPES = (C1, C2, HARVARD, MITX, HARVARD_ORG, LIBRARY)
TUTOR_PERMISSIONS = (
    "courses.view_course",
    "courses.edit_course_content",
    "survey.view",
    "survey.edit",
    "courses.view_course_team",
)

PLUGINS = load_plugins(PluginSettings(), entry_points=[], extra={"survey": SurveyPlugin()})
MARKERS = frozenset(p for r in PLUGINS.registry.roles.values() for p in r.not_inherited)

users = st.sampled_from(USERS)
roles = st.sampled_from(ROLES)
scopes = st.sampled_from(SCOPES)


class DelegatedChanges(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = TemporaryDirectory()
        self.rc = Rolecall.open(
            f"sqlite:///{Path(self.folder.name) / 'rc.db'}",
            plugins=PLUGINS,
            background_sync=False,
            staleness=0,
        )

    @initialize()
    def setup(self) -> None:
        rc = self.rc
        rc.add_users(USERS)
        rc.add_scopes([C1, C2, HARVARD, LIBRARY])
        rc.create_role(
            "tutor",
            title="Tutor",
            description="Reads courses.",
            scope_types=["course", "org"],
            permissions=["courses.view_course"],
        )
        for user, role, scope in [
            ("root", "platform_admin", "platform"),
            ("olivia", "org_admin", MITX),
            ("lena", "survey_org_lead", MITX),
            ("ada", "course_admin", C1),
            ("harriet", "org_admin", HARVARD_ORG),
            ("grace", "survey_warden", C2),
            ("eddie", "tutor", HARVARD),
        ]:
            rc.assign(user, role, scope)
        rc.restrict(
            C1,
            ["courses.edit_course_content", "survey.edit"],
            exempt_roles=["survey_warden", "course_admin"],
            reason="exam",
        )
        rc.restrict(MITX, ["survey.edit"], exempt_roles=["survey_warden"], reason="review")
        self.before = self.snapshot()

    def teardown(self) -> None:
        self.rc.close()
        self.folder.cleanup()

    # -------------------------------------------------------------- what everyone may do

    def snapshot(self) -> dict[tuple[str, str], frozenset[str]]:
        index = self.rc.index
        return {
            (user, scope): frozenset(
                p for p in index.applicable(scope) if index.check(user, p, scope)
            )
            for user in USERS
            for scope in PROBES
        }

    def admins(self) -> set[str]:
        return {s for s in ADMIN_SCOPES if lookups.other_admins(self.rc.index, s, exclude="")}

    def attempt(self, actor: str, change: object) -> None:
        """Make ``change`` (a callable); then check what it gave against ``actor``'s rights
        before it, and that a refusal changed nothing."""
        before, revision, admins = self.before, self.rc.revision, self.admins()
        try:
            change()  # type: ignore[operator]
        except (NotAllowedError, BadInputError):
            assert self.rc.revision == revision
            assert self.snapshot() == before
            return
        after = self.snapshot()
        for (user, scope), perms in after.items():
            # A role's own marker permissions (not_inherited: openedx-authz's legacy role ids)
            # say which role is held: whoever may give the role's real permissions gives them.
            gained = perms - before[(user, scope)] - MARKERS
            beyond = gained - before[(actor, scope)]
            assert not beyond, f"{actor}'s change gave {user} {sorted(beyond)} on {scope}"
        lost = admins - self.admins()
        assert not lost, f"{actor}'s change left {sorted(lost)} with no admin"
        self.before = after

    # -------------------------------------------------------------- the changes

    @rule(actor=users, user=users, role=roles, scope=scopes)
    def assign(self, actor: str, user: str, role: str, scope: str) -> None:
        self.attempt(actor, lambda: self.rc.assign(user, role, scope, as_user=actor))

    @rule(actor=users, user=users, role=roles, scope=scopes)
    def revoke(self, actor: str, user: str, role: str, scope: str) -> None:
        self.attempt(actor, lambda: self.rc.revoke(user, role, scope, as_user=actor))

    @rule(actor=users, user=users, old=roles, new=roles, scope=scopes)
    def change_role(self, actor: str, user: str, old: str, new: str, scope: str) -> None:
        self.attempt(actor, lambda: self.rc.change_role(user, old, new, scope, as_user=actor))

    @rule(
        actor=users,
        action=st.sampled_from(("assign", "revoke")),
        role=roles,
        who=st.lists(users, min_size=1, max_size=3, unique=True),
        where=st.lists(
            st.sampled_from((*SCOPES, "course-v1:MITx+*")), min_size=1, max_size=3, unique=True
        ),
        partial=st.booleans(),
    )
    def bulk(
        self,
        actor: str,
        action: str,
        role: str,
        who: list[str],
        where: list[str],
        partial: bool,
    ) -> None:
        self.attempt(
            actor,
            lambda: self.rc.bulk(
                action,  # type: ignore[arg-type]
                role,
                who,
                where,
                as_user=actor,
                partial=partial,
            ),
        )

    @rule(actor=users, add=st.sampled_from(TUTOR_PERMISSIONS), remove=st.booleans())
    def edit_tutor(self, actor: str, add: str, remove: bool) -> None:
        current = set(self.rc.role("tutor").permissions)
        if remove and add in current and len(current) > 1:
            change = lambda: self.rc.edit_role("tutor", remove=[add], as_user=actor)  # noqa: E731
        else:
            change = lambda: self.rc.edit_role("tutor", add=[add], as_user=actor)  # noqa: E731
        self.attempt(actor, change)

    @rule(actor=users)
    def retire_tutor(self, actor: str) -> None:
        self.attempt(actor, lambda: self.rc.retire_role("tutor", as_user=actor))

    @invariant()
    def index_agrees_with_the_database(self) -> None:
        # What this process's index says is what a fresh one built from the rows says.
        if not hasattr(self, "before"):
            return
        with Rolecall.open(
            str(self.rc.engine.url), plugins=PLUGINS, background_sync=False
        ) as fresh:
            for user in USERS:
                assert sorted((g.role, g.scope) for g in fresh.grants(user)) == sorted(
                    (g.role, g.scope) for g in self.rc.grants(user)
                )


DelegatedChanges.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_no_delegated_change_gives_more_than_its_actor_could = DelegatedChanges.TestCase
