"""The API's pydantic models: what each endpoint takes (``extra="forbid"``: an unknown field is
an error, not ignored) and what it returns. The OpenAPI document is generated from them.

The engine's own records (:class:`~rolecall.core.Decision`, :class:`~rolecall.core.Team`,
:class:`~rolecall.core.AccessEntry`, :class:`~rolecall.core.AuditRecord`, bulk results and
what-if impacts) are returned as they are: they are already frozen, JSON-ready models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from typing_extensions import TypedDict

from rolecall.core import AccessEntry, AuditRecord, TeamMember
from rolecall.core.engine.decisions import RestrictionInfo
from rolecall.core.governance import Impact
from rolecall.core.reads import DEFAULT_LIMIT, MAX_LIMIT, AssignmentSort

Username = Annotated[str, StringConstraints(min_length=1, max_length=254)]
"""A username (or, in bulk operations, an e-mail address)."""
Key = Annotated[str, StringConstraints(min_length=1, max_length=255)]
"""A scope key: ``platform``, ``org:MITx``, ``course-v1:MITx+6.002x+2026_T1``..."""
Name = Annotated[str, StringConstraints(min_length=1, max_length=120)]
"""A role, permission, scope type, rule or action name."""
Reason = Annotated[str, StringConstraints(max_length=1000)]
Words = Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class In(BaseModel):
    """A request: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


# ---------------------------------------------------------------------- errors and common parts


class ErrorBody(Out):
    code: str = Field(description="A stable, machine-readable name: bad_input, not_allowed...")
    message: str = Field(description="What went wrong, in words meant for people.")
    details: Any = Field(None, description="More about it: validation problems, a refusal...")


class ErrorResponse(Out):
    """Every error the API returns has this shape."""

    error: ErrorBody


class PageQuery(In):
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Items per page.")
    cursor: str | None = Field(
        None, max_length=2000, description="The next_cursor of the previous page."
    )


class FreshQuery(In):
    at_least: int | None = Field(
        None,
        ge=0,
        description="A revision token from a write: answer from data at least that fresh.",
    )


class ListedQuery(PageQuery, FreshQuery):
    pass


class Revision(Out):
    revision: int = Field(description="The revision token of the write (or of the data read).")


# ---------------------------------------------------------------------- catalogue


class PluginOut(Out):
    name: str
    version: str | None
    builtin: bool
    distribution: str | None
    entry_point: str | None
    module: str
    status: str
    error: str | None
    hooks: list[str]
    contributes: dict[str, list[str]]


class PluginList(Out):
    items: list[PluginOut]
    next_cursor: str | None


class PermissionsQuery(PageQuery):
    plugin: Name | None = Field(None, description="Only the permissions of this plugin.")


class PermissionOut(Out):
    id: str
    title: str
    description: str
    area: str
    scope_types: list[str]
    implies: list[str]
    implies_closed: list[str] = Field(description="Everything it implies, transitively.")
    risks: list[str]
    plugin: str


class PermissionList(Out):
    items: list[PermissionOut]
    next_cursor: str | None


class RoleOut(Out):
    id: str
    title: str
    description: str
    scope_types: list[str]
    permissions: list[str]
    includes: list[str]
    aliases: list[str]
    grants_all: bool
    admin: bool
    revocable_by: list[str]
    plugin: str | None = Field(description="The plugin that registered it; null for custom roles.")
    custom: bool
    retired: bool


class RoleDetail(RoleOut):
    closed_permissions: list[str] = Field(
        description="Every permission the role holds: its own, its included roles', and all "
        "they imply."
    )


class RoleList(Out):
    items: list[RoleOut]
    next_cursor: str | None


class ScopeTypeOut(Out):
    id: str
    title: str
    description: str
    namespace: str
    pattern: str
    example: str
    plugin: str


class ScopeTypeList(Out):
    items: list[ScopeTypeOut]
    next_cursor: str | None


# ---------------------------------------------------------------------- assignments


class AssignmentsQuery(ListedQuery):
    user: Username | None = Field(None, description="Only this user's assignments.")
    role: Name | None = Field(None, description="Only this role (an id or a legacy name).")
    scope: Key | None = Field(None, description="Only assignments on exactly this scope.")
    scope_type: Name | None = Field(None, description="Only scopes of this type.")
    org: Name | None = Field(None, description="The org (MITx or org:MITx) and every scope below.")
    q: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        None, description="Text in the username, e-mail, name, role or scope (any case)."
    )
    who: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        None, description="Text in the username, e-mail or name (any case)."
    )
    granted_by: Username | None = Field(None, description="Only grants made by this username.")
    scope_text: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        None, description="Text in the scope key (any case)."
    )
    sort: AssignmentSort = Field(
        "id",
        description="id is grant order; user, role, scope, granted_by, granted_at or "
        "expires_at sort by that column (grants without a granter or an expiry last); a "
        "leading - sorts descending.",
    )


class AssignmentOut(Out):
    id: int
    user: str
    email: str | None
    display_name: str | None
    role: str
    scope: str
    granted_by: str | None
    granted_at: AwareDatetime
    expires_at: AwareDatetime | None
    reason: str | None
    expired: bool


class AssignmentList(Out):
    items: list[AssignmentOut]
    next_cursor: str | None
    revision: int


class ScopeCreate(In):
    key: Key = Field(description="The new scope's key: course-v1:ORG+COURSE+RUN, lib:ORG:SLUG...")
    title: Words | None = Field(None, description="Its title, shown in listings.")


class ScopeCreated(Out):
    key: str
    type: str
    title: str | None
    created: bool = Field(description="False when the scope was known already.")
    revision: int


class AssignmentCreate(In):
    user: Username
    role: Name
    scope: Key
    expires_at: AwareDatetime | None = Field(None, description="When the grant ends (UTC).")
    reason: Reason | None = None


class AssignmentWritten(Out):
    assignment: AssignmentOut | None
    changed: bool = Field(description="False when the user already held the role there.")
    revision: int


class RevokeQuery(In):
    reason: Reason | None = None


class Revoked(Out):
    id: int
    revision: int


class BulkIn(In):
    action: Literal["assign", "revoke"]
    role: Name
    users: list[Username] = Field(min_length=1, max_length=10_000)
    scopes: list[Key] = Field(min_length=1, max_length=10_000)
    dry_run: bool = False
    partial: bool = Field(False, description="Apply the valid rows even if some fail.")
    reason: Reason | None = None
    expires_at: AwareDatetime | None = None


# ---------------------------------------------------------------------- decisions


# A typed dict rather than a model: a batch holds up to 1,000 checks, validated into plain
# dicts that the answer reuses (a model per check cost more than answering it).
class CheckItem(TypedDict):
    """One check of a batch."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]
    user: Username
    permission: Name
    scope: Key


class CheckIn(In):
    checks: list[CheckItem] = Field(min_length=1, max_length=1000)
    at_least: int | None = Field(None, ge=0)


class CheckResult(Out):
    user: str
    permission: str
    scope: str
    allowed: bool


class CheckOut(Out):
    results: list[CheckResult]
    revision: int


class ExplainQuery(FreshQuery):
    user: Username
    permission: Name
    scope: Key


# ---------------------------------------------------------------------- teams and access


class TeamOut(Out):
    scope: str
    members: list[TeamMember] = Field(description="Users holding roles on the scope itself.")
    inherited: list[TeamMember] = Field(
        description="Users with access from a higher scope (its org, the platform)."
    )
    next_cursor: str | None = Field(
        description="The page runs through the members, then the inherited users."
    )
    revision: int


class AccessOut(Out):
    user: str
    items: list[AccessEntry]
    next_cursor: str | None
    revision: int


# ---------------------------------------------------------------------- audit and history


class AuditQuery(ListedQuery):
    user: Username | None = None
    scope: Key | None = None
    since: AwareDatetime | None = None
    action: Name | None = Field(None, description="assign, revoke, restrict, role_create...")
    sort: Literal["id", "-id"] = Field("-id", description="-id: newest first.")


class AuditList(Out):
    items: list[AuditRecord]
    next_cursor: str | None


class HistoryQuery(PageQuery):
    at: AwareDatetime = Field(description="The moment asked about (not in the future).")
    user: Username | None = Field(None, description="Every role this user held then.")
    scope: Key | None = Field(None, description="This scope's team then.")


class HistoryOut(Out):
    at: AwareDatetime
    user: str | None
    scope: str | None
    items: list[AccessEntry] = Field(description="With user: the roles held then.")
    members: list[TeamMember] = Field(description="With scope: its team then.")
    inherited: list[TeamMember] = Field(description="With scope: access from above then.")
    next_cursor: str | None


# ---------------------------------------------------------------------- governance


class CustomRoleCreate(In):
    id: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=80)]
    title: Words
    description: Words
    scope_types: list[Name] = Field(min_length=1, max_length=20)
    permissions: list[Name] = Field(default_factory=list, max_length=1000)
    base: Name | None = Field(None, description="A role whose permissions to start from.")


class CustomRoleEdit(In):
    add: list[Name] = Field(default_factory=list, max_length=1000)
    remove: list[Name] = Field(default_factory=list, max_length=1000)
    title: Words | None = None
    description: Words | None = None
    dry_run: bool = False


class CustomRoleList(Out):
    items: list[RoleOut]
    next_cursor: str | None


class RoleWritten(Out):
    role: RoleOut | None
    revision: int


class RoleEdited(Out):
    role: RoleOut | None
    impact: Impact = Field(description="Who gains and loses which permissions where.")
    dry_run: bool
    revision: int


class RestrictionIn(In):
    scope: Key
    permissions: list[Name] = Field(
        default_factory=lambda: ["*"], min_length=1, max_length=1000, description="* for all."
    )
    exempt_roles: list[Name] = Field(default_factory=list, max_length=100)
    reason: Reason | None = None


class RestrictionList(Out):
    items: list[RestrictionInfo]
    next_cursor: str | None


class RestrictionWritten(Out):
    restriction: RestrictionInfo | None
    revision: int


class RuleIn(In):
    description: Words
    holders: list[Name] = Field(min_length=1, max_length=100)
    assign: list[Name] = Field(default_factory=list, max_length=1000)
    revoke: list[Name] = Field(default_factory=list, max_length=1000)
    scope_types: list[Name] = Field(min_length=1, max_length=20)


class RuleOut(Out):
    id: str
    description: str
    holders: list[str]
    assign: list[str]
    revoke: list[str]
    scope_types: list[str]
    source: Literal["plugin", "stored"]
    enabled: bool


class RuleList(Out):
    items: list[RuleOut]
    next_cursor: str | None


class RuleWritten(Out):
    rule: RuleOut | None
    revision: int


class OpenApiDocument(Out):
    """The OpenAPI 3.1 document itself."""

    model_config = ConfigDict(extra="allow", frozen=True)

    openapi: str
