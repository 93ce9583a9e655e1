"""What the engine's queries return: plain frozen records, ready for JSON."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, PrivateAttr


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)


class GrantInfo(_Out):
    """One assignment as the index knows it."""

    id: int
    user: str
    role: str
    scope: str
    granted_by: str | None
    granted_at: datetime
    expires_at: datetime | None
    expired: bool = False


class Contribution(_Out):
    """An assignment that grants the permission, and how: the role's permission that implies it
    (``path`` runs from the held permission to the asked one)."""

    grant: GrantInfo
    path: tuple[str, ...]


class RestrictionInfo(_Out):
    scope: str
    permissions: tuple[str, ...]
    exempt_roles: tuple[str, ...]
    reason: str | None


class DerivedInfo(_Out):
    """A derived role that allowed a check: held at ``scope`` because ``source`` says so."""

    role: str
    scope: str
    source: str
    description: str


class Decision(_Out):
    """The answer to "may ``user`` do ``permission`` at ``scope``?" with its reasons."""

    allowed: bool
    user: str
    permission: str
    scope: str
    summary: str
    applies: bool
    """Whether the permission applies to the scope's type at all."""
    contributions: tuple[Contribution, ...] = ()
    denied_by: RestrictionInfo | None = None
    closest_misses: tuple[str, ...] = ()
    """For a denial: what came nearest (a role one scope away, a role lacking only this
    permission, an expired grant, the roles that would grant it)."""
    derived: DerivedInfo | None = None
    """When a derived role allowed it (the stored grants did not): the role and its source."""

    _miss_scopes: tuple[str | None, ...] = PrivateAttr(default=())

    def about_scopes(self, scopes: Sequence[str | None]) -> None:
        """Record, for each closest miss, the scope it is about when that is off the chain
        asked about (a grant the user holds elsewhere), else None: what :meth:`seen_by`
        filters on. Not part of the decision's fields nor of its JSON."""
        if len(scopes) != len(self.closest_misses):
            raise ValueError("one scope (or None) per closest miss")
        self._miss_scopes = tuple(scopes)

    def seen_by(self, may_view: Callable[[str], bool]) -> Decision:
        """This decision for a viewer who may see only some scopes: the closest misses about a
        grant held elsewhere are kept only when ``may_view`` keeps its scope (what is about
        the scope asked about, or above it, stays)."""
        if not any(self._miss_scopes):
            return self
        kept = [
            (miss, scope)
            for miss, scope in zip(self.closest_misses, self._miss_scopes, strict=True)
            if scope is None or may_view(scope)
        ]
        seen = self.model_copy(update={"closest_misses": tuple(miss for miss, _ in kept)})
        seen._miss_scopes = tuple(scope for _, scope in kept)
        return seen


class TeamMember(_Out):
    user: str
    grants: tuple[GrantInfo, ...]


class Team(_Out):
    """A scope's own team, and separately the users with access from its ancestors."""

    scope: str
    members: tuple[TeamMember, ...]
    inherited: tuple[TeamMember, ...]
    not_listed: tuple[str, ...] = ()
    """Derived roles held here whose holders rolecall cannot list (an outside source names
    them), one sentence each."""


class AccessEntry(_Out):
    """One role a user holds on one scope: ``local`` when assigned there, else inherited
    ``via`` the ancestor scope where the assignment is."""

    scope: str
    role: str
    via: str
    local: bool
    grant: GrantInfo
