"""History: who had access where, at a past moment, answered from the audit log.

The audit log is the change feed, so the state at a moment is rebuilt by replaying it, in
order, into a fresh index (the service's own index is not touched): every event up to the first
one recorded after ``when``. That is a state the database really was in; a transaction still
open at ``when`` is not part of it. Grants whose expiry had passed at ``when`` are then dropped,
and the grants left were all live at ``when``: they are reported as not expired, and a check
at ``when`` counts them whatever the clock says now.

    from rolecall.core.governance.history import access_at, check_at, who_had_access

    who_had_access(rc, "course-v1:MITx+6.002x+2026_T1", datetime(2026, 3, 1, tzinfo=UTC))

Each call reads the audit log from its start: a question about the past, not the check path.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..engine import AccessEntry, GrantInfo, Index, Team, TeamMember, changes, reverse
from ..errors import BadInputError
from ..scopes import show
from ..storage import audit_log
from ..storage.feed import Event

if TYPE_CHECKING:
    from ..service import Rolecall


def _moment(when: datetime) -> datetime:
    if not isinstance(when, datetime):
        raise BadInputError(f"a moment must be a datetime, not {show(when)}")
    if when.tzinfo is None:
        raise BadInputError("the moment needs a time zone (for example 2026-03-01T12:00Z)")
    if when > datetime.now(UTC):
        raise BadInputError(f"{when.isoformat()} is in the future: history answers about the past")
    return when


def _events(rc: Rolecall, when: datetime) -> list[Event]:
    return audit_log.events_until(rc.engine, when)


def replay(rc: Rolecall, when: datetime) -> Index:
    """A fresh index holding the state at ``when``, without the grants expired by then."""
    when = _moment(when)
    index = Index(rc.registry)
    changes.apply_many(index, _events(rc, when))
    limit = when.timestamp()
    for user in list(index.users):
        for scope, cell in list(index.cells_of(user).items()):
            for grant in cell.grants:
                if grant.expires_at is not None and grant.expires_at <= limit:
                    index.drop_grant(user, grant.role, scope)
    return index


def _live(grant: GrantInfo) -> GrantInfo:
    # Every grant left after the replay was live at the moment asked about.
    return grant.model_copy(update={"expired": False}) if grant.expired else grant


def _members(members: tuple[TeamMember, ...]) -> tuple[TeamMember, ...]:
    return tuple(TeamMember(user=m.user, grants=tuple(_live(g) for g in m.grants)) for m in members)


def _require_user(index: Index, user: str, when: datetime) -> None:
    if user not in index.users:
        raise BadInputError(f"{show(user)} was not a known user at {when.isoformat()}")


def who_had_access(rc: Rolecall, scope: str, when: datetime) -> Team:
    """The team of ``scope`` at ``when`` and the users with access from above it then (the
    index's ``who``, at that moment)."""
    team = reverse.who(replay(rc, when), scope)
    return Team(
        scope=team.scope, members=_members(team.members), inherited=_members(team.inherited)
    )


def access_at(rc: Rolecall, username: str, when: datetime) -> list[AccessEntry]:
    """Every role ``username`` held at ``when``, local or inherited and from where (the index's
    ``access``, at that moment)."""
    index = replay(rc, when)
    _require_user(index, username, when)
    return [
        e.model_copy(update={"grant": _live(e.grant)}) if e.grant.expired else e
        for e in reverse.access(index, username)
    ]


def check_at(rc: Rolecall, user: str, permission: str, scope: str, when: datetime) -> bool:
    """Was ``user`` allowed ``permission`` at ``scope`` at ``when``? The decision rule with the
    grants and restrictions of that moment."""
    index = replay(rc, when)
    _require_user(index, user, when)
    # The index compares expiries with the clock; every grant left was live at ``when``, so
    # make each permanent in this private copy rather than let the present expire it.
    for scope_key, cell in list(index.cells_of(user).items()):
        for grant in cell.grants:
            if grant.expires_at is not None:
                changes.put_grant(
                    index,
                    user,
                    grant.role,
                    scope_key,
                    id=grant.id,
                    granted_by=grant.granted_by,
                    granted_at=datetime.fromtimestamp(grant.granted_at, UTC),
                    expires_at=None,
                )
    return index.check(user, permission, scope)
