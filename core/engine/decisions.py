"""What the engine's queries return: plain frozen records, ready for JSON."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


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
