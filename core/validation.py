"""What a write accepts: usernames, texts, expiries, and grant rows checked against the
catalogue and the index.

Every write validates its input here before it takes the write lock (nothing is written if any
of it is bad; the error is a :class:`~rolecall.core.errors.BadInputError` naming what is wrong).
:class:`GrantRows` turns (user, role, scope) rows into the keys a grant writes, (user, role id,
scope key), checking each distinct role, scope and user once: a bulk write names thousands of
rows but few distinct roles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from operator import itemgetter

from .engine import Index
from .errors import BadInputError
from .governance.custom_roles import role_of
from .records import Role, Scope
from .registry import Registry
from .scopes import show
from .usernames import check_username
from .writes import GrantRow, collector_paused

MAX_TEXT = 1000
"""The longest reason (or other free text) accepted."""
MAX_LENGTH = {"e-mail": 254, "display name": 255, "title": 255}
"""The longest of the texts stored in columns of a fixed width (``core/storage/models.py``):
refused here, on every backend alike, rather than stored whole on SQLite and refused by a
database server."""


def text(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    longest = MAX_LENGTH.get(what, MAX_TEXT)
    if len(value) > longest:
        raise BadInputError(f"the {what} is longer than {longest} characters")
    return value


def check_expiry(expires_at: datetime | None) -> None:
    if expires_at is None:
        return
    if expires_at.tzinfo is None:
        raise BadInputError("the expiry needs a time zone (for example 2027-01-31T00:00Z)")
    if expires_at <= datetime.now(UTC):
        raise BadInputError(f"the expiry {expires_at.isoformat()} is in the past")


def placed(definition: Role, resolved: Scope) -> tuple[str, str]:
    """(role id, scope key) of a grant of ``definition`` at ``resolved``; a role assigned at a
    scope type it does not apply to is bad input."""
    if resolved.type not in definition.scope_types:
        raise BadInputError(
            f"role {definition.id} cannot be assigned at a {resolved.type} scope; it can be "
            f"assigned at: {', '.join(definition.scope_types)}"
        )
    return definition.id, resolved.key


def username(name: object) -> str:
    return check_username(name)  # the rule, and look-alikes: rolecall.core.usernames


def check_shared(row: GrantRow) -> None:
    """What a grant row says besides user, role and scope: an expiry with a time zone, and a
    reason that is plain text."""
    if row.expires_at is not None and row.expires_at.tzinfo is None:
        raise BadInputError("an expiry needs a time zone (for example 2027-01-31T00:00Z)")
    text(row.reason, "reason")


_USER = itemgetter(0)
_ROLE = itemgetter(1)
_SCOPE = itemgetter(2)
_ROLE_SCOPE = itemgetter(1, 2)


class GrantRows:
    """Grant rows validated against ``registry`` and ``index`` (the roles assignable now, the
    users known)."""

    def __init__(self, index: Index, registry: Registry) -> None:
        self.index = index
        self.registry = registry

    def grant(self, role: str, scope: str) -> tuple[str, str]:
        return placed(self.assignable(role), self.registry.scopes.resolve(scope))

    def assignable(self, role: str) -> Role:
        """The role ``role`` names, if it can be assigned (it exists and is not retired)."""
        definition = role_of(self.index, self.registry, role)
        if definition.id in self.index.retired_roles:
            raise BadInputError(f"role {definition.id} is retired: it cannot be assigned")
        return definition

    def wanted(
        self, rows: Iterable[tuple[str, str, str, GrantRow]]
    ) -> dict[tuple[str, str, str], GrantRow]:
        """Validate (user, role, scope, what else to write) rows into (user, role id, scope
        key) -> row. A bulk write repeats the same roles, scopes and users: each distinct one
        is checked once.

        The cyclic garbage collector is paused meanwhile: a bulk write's keys are hundreds of
        thousands of new tuples, and the collections they would trigger walk the whole index
        (a full one now and then), which made validation slower the larger the index."""
        with collector_paused():
            return self._validated(rows)

    def wanted_shared(
        self, rows: Iterable[tuple[str, str, str]], shared: GrantRow
    ) -> dict[tuple[str, str, str], GrantRow]:
        """:meth:`wanted` of (user, role, scope) rows that all write ``shared``, checked in
        bulk: the distinct users, roles and scopes are gathered by C-level passes (``map``,
        ``dict.fromkeys``) and each checked once, then each distinct (role, scope) pair only
        for the scope's type. When every row already names its role by id and its scope by
        its key (as a load does), the rows themselves become the keys: no row is visited by a
        loop in Python. Any other shape of row takes the general path, which raises the
        documented errors."""
        listed = rows if type(rows) is list else list(rows)
        if set(map(type, listed)) - {tuple} or set(map(len, listed)) - {3}:
            for number, row in enumerate(listed, start=1):
                if not isinstance(row, tuple | list) or len(row) != 3:
                    raise BadInputError(f"row {number} is not (user, role, scope): {show(row)}")
            return self.wanted((u, r, s, shared) for u, r, s in listed)
        with collector_paused():
            # Each distinct value in the order of its first row, so the error reported for a
            # batch with several bad rows is the same on every run.
            named_roles = dict.fromkeys(map(_ROLE, listed))
            named_scopes = dict.fromkeys(map(_SCOPE, listed))
            if set(map(type, named_roles)) - {str} or set(map(type, named_scopes)) - {str}:
                # Not text (or a subclass of it): the general path checks each row as it is.
                return self.wanted((u, r, s, shared) for u, r, s in listed)
            check_shared(shared)
            roles = {r: self.assignable(r) for r in named_roles}
            resolve = self.registry.scopes.resolve
            places = {s: resolve(s) for s in named_scopes}
            for role, scope in dict.fromkeys(map(_ROLE_SCOPE, listed)):
                placed(roles[role], places[scope])
            known = self.index.users
            for user in dict.fromkeys(map(_USER, listed)):
                if user not in known:  # a user the index holds was checked when added
                    username(user)
            if all(r == d.id for r, d in roles.items()) and all(
                s == p.key for s, p in places.items()
            ):
                return dict.fromkeys(listed, shared)
            return {(u, roles[r].id, places[s].key): shared for u, r, s in listed}

    def _pair_checker(self) -> Callable[[str, str], tuple[str, str]]:
        """(role, scope) -> (role id, scope key), raising the documented error for a role or
        scope that cannot be assigned there. A batch names thousands of scopes but few roles:
        each of either is looked up once, then each pair only checks the scope's type."""
        valid: dict[tuple[str, str], tuple[str, str]] = {}
        roles: dict[str, Role] = {}
        places: dict[str, Scope] = {}
        resolve = self.registry.scopes.resolve

        def check(role: str, scope: str) -> tuple[str, str]:
            if type(role) is not str or type(scope) is not str:
                return self.grant(role, scope)  # raises the documented error
            pair = valid.get((role, scope))
            if pair is None:
                definition = roles.get(role)
                if definition is None:
                    definition = roles[role] = self.assignable(role)
                resolved = places.get(scope)
                if resolved is None:
                    resolved = places[scope] = resolve(scope)
                pair = valid[(role, scope)] = placed(definition, resolved)
            return pair

        return check

    def _validated(
        self, rows: Iterable[tuple[str, str, str, GrantRow]]
    ) -> dict[tuple[str, str, str], GrantRow]:
        canonical = self._pair_checker()
        names: set[str] = set()
        checked: GrantRow | None = None
        known = self.index.users
        wanted: dict[tuple[str, str, str], GrantRow] = {}
        for user, role, scope, row in rows:
            pair = canonical(role, scope)
            if row is not checked:
                check_shared(row)
                checked = row
            # A user the index holds was checked when added: only other names are checked.
            if type(user) is not str or (user not in names and user not in known):
                names.add(username(user))
            wanted[(user, pair[0], pair[1])] = row
        return wanted
