"""Checks and explanations.

Asking about yourself needs nothing more than a token. Asking about someone else needs the
view-team permission on the scope asked about: whoever may see a scope's team may see what its
members may do there. An explanation's closest misses about grants the user holds elsewhere
name only scopes whose team the caller may view.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from pydantic import TypeAdapter

from rolecall.core import Decision, Rolecall

from .. import authz
from ..context import service
from .errors import forbidden
from .routes import route
from .schemas import CheckIn, CheckOut, ExplainQuery

_JSON: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])
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
def post_check(caller: str, body: CheckIn) -> Response:
    # direct_passthrough: the WSGI answer is the body's one-item list, not an iterator over it,
    # so a server can send it in one write (granian streams an iterator chunk by chunk).
    return Response(
        answer_checks(service(), caller, body),
        mimetype="application/json",
        direct_passthrough=True,
    )


def answer_checks(rc: Rolecall, caller: str, body: CheckIn) -> bytes:
    """The answer's JSON (``CheckOut``) to ``caller``'s checks; :class:`ApiError` (403) when
    one of them is about another user on a scope whose team the caller may not view. The view
    and the fast path (:mod:`.fastpath`) both answer with it."""
    checks = body.checks
    others = {c["scope"] for c in checks if c["user"] != caller}
    if others:
        visible = authz.can_view_teams(rc, caller, others)
        refused = [
            i for i, c in enumerate(checks) if c["user"] != caller and not visible[c["scope"]]
        ]
        if refused:
            first = checks[refused[0]]
            raise forbidden(
                f"{caller} may not ask about {first['user']} on {first['scope']}: that takes "
                "the view-team permission there",
                {"refused": refused},
            )
    answers = rc.check_many(
        [(c["user"], c["permission"], c["scope"]) for c in checks], at_least=body.at_least
    )
    # The shape of CheckOut: each validated check (a plain dict of user, permission and scope)
    # gets its answer, and is serialized as it is.
    for c, allowed in zip(checks, answers, strict=True):
        c["allowed"] = allowed  # type: ignore[typeddict-unknown-key]
    out = {"results": checks, "revision": rc.revision}
    return _JSON.dump_json(out)


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
    decision = rc.explain(query.user, query.permission, query.scope, at_least=query.at_least)
    return authz.decision_seen_by(rc, caller, decision)
