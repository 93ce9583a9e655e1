"""Checks and explanations.

Asking about yourself needs nothing more than a token. Asking about someone else needs the
view-team permission on the scope asked about: whoever may see a scope's team may see what its
members may do there.
"""

from __future__ import annotations

from rolecall.core import Decision

from .. import authz
from ..context import service
from .errors import forbidden
from .routes import route
from .schemas import CheckIn, CheckOut, CheckResult, ExplainQuery

COURSE = "course-v1:MITx+6.002x+2026_T1"
RULE = (
    "About yourself: any caller. About another user: the view-team permission on the scope "
    "asked about."
)


@route(
    "POST",
    "/check",
    response=CheckOut,
    body=CheckIn,
    summary="Answer many (user, permission, scope) checks at once",
    authorization=RULE + " Every check of the request must pass this, or none is answered.",
    tag="decisions",
    example_body={
        "checks": [
            {"user": "ada", "permission": "courses.edit_course_content", "scope": COURSE},
            {"user": "ada", "permission": "courses.view_files", "scope": COURSE},
        ]
    },
)
def post_check(caller: str, body: CheckIn) -> CheckOut:
    rc = service()
    refused = [
        i
        for i, c in enumerate(body.checks)
        if c.user != caller and not authz.can_view_team(rc, caller, c.scope)
    ]
    if refused:
        first = body.checks[refused[0]]
        raise forbidden(
            f"{caller} may not ask about {first.user} on {first.scope}: that takes the "
            "view-team permission there",
            {"refused": refused},
        )
    answers = rc.check_many(
        [(c.user, c.permission, c.scope) for c in body.checks], at_least=body.at_least
    )
    return CheckOut(
        results=[
            CheckResult(user=c.user, permission=c.permission, scope=c.scope, allowed=a)
            for c, a in zip(body.checks, answers, strict=True)
        ],
        revision=rc.revision,
    )


@route(
    "GET",
    "/explain",
    response=Decision,
    query=ExplainQuery,
    summary="Why a user may or may not do something somewhere, and what came closest",
    authorization=RULE,
    tag="decisions",
    example_query={"user": "ada", "permission": "courses.edit_course_content", "scope": COURSE},
)
def get_explain(caller: str, query: ExplainQuery) -> Decision:
    rc = service()
    if query.user != caller and not authz.can_view_team(rc, caller, query.scope):
        raise forbidden(
            f"{caller} may not ask about {query.user} on {query.scope}: that takes the "
            "view-team permission there"
        )
    return rc.explain(query.user, query.permission, query.scope, at_least=query.at_least)
