"""The ``discussion`` plugin: the course discussion forum's permissions and roles.

Every legacy forum permission (``django_comment_client_permission.name``) is registered as
``discussion.<legacy name>``, and the five legacy forum roles keep exactly their legacy
permission sets, with their legacy names as aliases (``Student``, ``Moderator``,
``Group Moderator``, ``Community TA``, ``Administrator``). The forum permissions are flat, as
in the legacy tables: none implies another, so each role holds exactly the listed set.

The two instructor-dashboard permissions about forum roles keep their legacy ids:
``instructor.view_forum_members`` and ``instructor.edit_forum_roles`` (both staff-level).

Legacy rules that are delegation or event behaviour, not permission sets, are left to those
layers: enrolling gives ``Student``; the course instructor holds ``Administrator`` (here:
``course_admin`` includes ``discussion_administrator``); granting ``Administrator`` needs
instructor access; during a blackout a Student-only user loses the ``edit*``, ``update*`` and
``create*`` permissions.
"""

from __future__ import annotations

from rolecall.core import Permission, Risk, Role, hookimpl

AREA = "Discussions"
COURSE = ("course",)
COURSE_ROLE_SCOPES = ("course", "org", "platform")

# (legacy name, title, description)
_FORUM: tuple[tuple[str, str, str], ...] = (
    ("create_thread", "Start discussion posts", "Start new posts in the course discussions."),
    ("create_comment", "Reply to posts", "Reply to discussion posts."),
    ("create_sub_comment", "Reply to responses", "Comment on the responses to a post."),
    ("update_thread", "Edit own posts", "Edit the posts one started."),
    ("update_comment", "Edit own responses", "Edit one's own responses and comments."),
    ("vote", "Vote", "Up-vote posts and responses."),
    ("unvote", "Remove a vote", "Take back one's up-vote."),
    ("follow_thread", "Follow posts", "Follow a post to be notified of new responses."),
    ("unfollow_thread", "Unfollow posts", "Stop following a post."),
    (
        "follow_commentable",
        "Follow discussion topics",
        "Follow a whole discussion topic.",
    ),
    ("unfollow_commentable", "Unfollow discussion topics", "Stop following a topic."),
    (
        "edit_content",
        "Edit anyone's posts",
        "Edit any post, response or comment, whoever wrote it.",
    ),
    ("delete_thread", "Delete posts", "Delete any post with its responses."),
    ("delete_comment", "Delete responses", "Delete any response or comment."),
    ("openclose_thread", "Close and reopen posts", "Close a post to new responses, or reopen it."),
    ("endorse_comment", "Endorse responses", "Mark a response as endorsed or as the answer."),
    (
        "see_all_cohorts",
        "See all cohorts' discussions",
        "Read and answer the discussions of every cohort, not only one's own.",
    ),
    (
        "group_edit_content",
        "Edit posts in own cohort",
        "Edit any post, response or comment written in one's own cohort.",
    ),
    (
        "group_delete_thread",
        "Delete posts in own cohort",
        "Delete posts written in one's own cohort.",
    ),
    (
        "group_delete_comment",
        "Delete responses in own cohort",
        "Delete responses and comments written in one's own cohort.",
    ),
    (
        "group_openclose_thread",
        "Close and reopen posts in own cohort",
        "Close or reopen posts written in one's own cohort.",
    ),
    (
        "group_endorse_comment",
        "Endorse responses in own cohort",
        "Endorse responses to posts of one's own cohort.",
    ),
    (
        "manage_moderator",
        "Manage discussion moderators",
        "Give and remove the discussion moderator and community TA roles.",
    ),
)


def _ids(*names: str) -> tuple[str, ...]:
    return tuple(f"discussion.{n}" for n in names)


STUDENT = _ids(
    "vote",
    "update_thread",
    "follow_thread",
    "unfollow_thread",
    "update_comment",
    "create_sub_comment",
    "unvote",
    "create_thread",
    "follow_commentable",
    "unfollow_commentable",
    "create_comment",
)
MODERATOR = _ids(
    "edit_content",
    "delete_thread",
    "openclose_thread",
    "endorse_comment",
    "delete_comment",
    "see_all_cohorts",
)
GROUP_MODERATOR = _ids(
    "group_edit_content",
    "group_delete_thread",
    "group_openclose_thread",
    "group_endorse_comment",
    "group_delete_comment",
)
ADMINISTRATOR = _ids("manage_moderator")


@hookimpl
def register_permissions() -> list[Permission]:
    forum = [
        Permission(
            id=f"discussion.{name}",
            title=title,
            description=description,
            area=AREA,
            scope_types=COURSE,
            risks={Risk.TEAM_MANAGEMENT} if name == "manage_moderator" else frozenset(),
        )
        for name, title, description in _FORUM
    ]
    return [
        *forum,
        Permission(
            id="instructor.view_forum_members",
            title="View discussion roles",
            description="See who holds each discussion role (admins, moderators, community "
            "TAs) in the instructor dashboard.",
            area=AREA,
            scope_types=COURSE,
        ),
        Permission(
            id="instructor.edit_forum_roles",
            title="Change discussion roles",
            description="Give and remove discussion roles in the instructor dashboard "
            "(making someone discussion admin also needs instructor access).",
            area=AREA,
            scope_types=COURSE,
            implies=("instructor.view_forum_members",),
            risks={Risk.TEAM_MANAGEMENT},
        ),
    ]


@hookimpl
def register_roles() -> list[Role]:
    return [
        Role(
            id="discussion_student",
            title="Discussion participant",
            description="Takes part in the course discussions: posts, replies, votes and "
            "follows, and edits their own posts. Every enrolled learner holds it. Cannot "
            "moderate.",
            scope_types=COURSE_ROLE_SCOPES,
            permissions=STUDENT,
            aliases=("Student",),
        ),
        Role(
            id="discussion_moderator",
            title="Discussion moderator",
            description="Moderates the course discussions: edits, deletes, closes and "
            "endorses anyone's posts and sees every cohort. Cannot give discussion roles.",
            scope_types=COURSE_ROLE_SCOPES,
            permissions=MODERATOR,
            includes=("discussion_student",),
            aliases=("Moderator",),
        ),
        Role(
            id="discussion_group_moderator",
            title="Group community TA",
            description="Moderates the discussions of their own cohort only: edits, deletes, "
            "closes and endorses posts written there (instructor dashboard: Group Community "
            "TA). Cannot moderate other cohorts.",
            scope_types=COURSE_ROLE_SCOPES,
            permissions=GROUP_MODERATOR,
            includes=("discussion_student",),
            aliases=("Group Moderator",),
        ),
        Role(
            id="discussion_community_ta",
            title="Community TA",
            description="A learner or teaching assistant trusted to moderate: the same rights "
            "as a discussion moderator, shown with a Community TA badge.",
            scope_types=COURSE_ROLE_SCOPES,
            permissions=MODERATOR,
            includes=("discussion_student",),
            aliases=("Community TA",),
        ),
        Role(
            id="discussion_administrator",
            title="Discussion admin",
            description="Runs the course discussions: everything a moderator does, and gives "
            "and removes the moderator and community TA roles. Course admins hold it.",
            scope_types=COURSE_ROLE_SCOPES,
            permissions=ADMINISTRATOR,
            includes=("discussion_moderator",),
            aliases=("Administrator",),
        ),
    ]
