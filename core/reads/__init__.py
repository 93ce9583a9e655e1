"""The read layer: every query the REST API, the console and the CLI make beyond the
service's own (``check``, ``explain``, ``who``, ``access``...), in one place.

Layering (docs/engine.md, "Reads beyond the service"): the interfaces call the service and this
layer; neither they nor this layer write. Writes go through the service, one unit of work each.

- :mod:`.pages`: pages and opaque cursors, limits, ``at_least`` revision tokens;
- :mod:`.assignments`: the assignments from their table, filtered, sorted, page by page;
- :mod:`.audit`: the audit log from its table, for the API (cursors) and the console;
- :mod:`.state`: custom roles, restrictions and delegation rules, from the index, and the rows
  that wait for an absent plugin;
- :mod:`.access`: :func:`allows` (a check where an unknown permission or a malformed key
  means no) and who may view a scope's team (:func:`may_view_teams`);
- :mod:`.lookup`: users and scopes by text, the scopes a user holds roles on, every known scope,
  the "did you mean" of an unknown scope, whether a guard lets a change through now;
- :mod:`.stored`: what a loader reads from the tables instead of its index (a slice's users,
  their look-alikes and grants);
- :mod:`.source`: the protocols the reads' first argument is typed with, each naming what a
  group of reads uses (the index, the registry, the engine...). The interfaces pass the
  service, which holds them all; this layer never imports it.

One locking discipline. A read of the index takes it through ``rc.reading()`` (the service's
:meth:`reading`), which holds it steady (the catch-up and this process's own writes wait):
inside the block it copies what it needs, and it builds its answer after the block, so the lock
is held for a copy, not for a loop over Python objects. A read of the tables opens one session
on ``rc.engine`` for its query and takes no lock. Nothing here uses the service's private
members.

    from rolecall.core.reads import custom_roles, list_assignments, restrictions, search
"""

from ..governance.custom_roles import CustomRoleRow
from .access import VIEW_PLATFORM_TEAM, allows, may_view_team, may_view_teams, team_permission
from .assignments import (
    ASSIGNMENT_SORTS,
    COUNT_LIMIT,
    AssignedUser,
    AssignmentRow,
    AssignmentSort,
    SeenScopes,
    count_assigned_users,
    count_assignments,
    find_assignment,
    find_grant,
    iter_assigned_users,
    iter_assignments,
    list_assigned_users,
    list_assignments,
    org_and_below,
)
from .audit import (
    AUDIT_SORTS,
    AuditPage,
    AuditSort,
    audit_actions,
    audit_scopes_below,
    list_audit,
    recent_audit,
)
from .lookup import (
    LEVELS,
    RESOURCES,
    HeldRole,
    Level,
    ManagedScope,
    Resource,
    ScopeHit,
    SearchResults,
    UserHit,
    count_below,
    guard_passes,
    known_scopes,
    managed_scopes,
    scope_hit,
    scope_suggestions,
    scopes_below,
    scopes_held,
    search,
    user_hit,
)
from .pages import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_QUERY,
    Page,
    check_limit,
    decode_cursor,
    encode_cursor,
    require_revision,
)
from .source import (
    AuditSource,
    CatalogueSource,
    DormantSource,
    GrantSource,
    HoldingsSource,
    IndexSource,
    ListingSource,
    RevisionSource,
    ScopeSource,
    TableSource,
)
from .state import (
    DormantRow,
    RuleRow,
    custom_roles,
    delegation_rules,
    dormant,
    restriction,
    restrictions,
)
from .stored import stored_grants, stored_lookalikes, stored_users

__all__ = [
    "ASSIGNMENT_SORTS",
    "AUDIT_SORTS",
    "COUNT_LIMIT",
    "DEFAULT_LIMIT",
    "LEVELS",
    "MAX_LIMIT",
    "MAX_QUERY",
    "RESOURCES",
    "VIEW_PLATFORM_TEAM",
    "AssignedUser",
    "AssignmentRow",
    "AssignmentSort",
    "AuditPage",
    "AuditSort",
    "AuditSource",
    "CatalogueSource",
    "CustomRoleRow",
    "DormantRow",
    "DormantSource",
    "GrantSource",
    "HeldRole",
    "HoldingsSource",
    "IndexSource",
    "Level",
    "ListingSource",
    "ManagedScope",
    "Page",
    "Resource",
    "RevisionSource",
    "RuleRow",
    "ScopeHit",
    "ScopeSource",
    "SearchResults",
    "SeenScopes",
    "TableSource",
    "UserHit",
    "allows",
    "audit_actions",
    "audit_scopes_below",
    "check_limit",
    "count_assigned_users",
    "count_assignments",
    "count_below",
    "custom_roles",
    "decode_cursor",
    "delegation_rules",
    "dormant",
    "encode_cursor",
    "find_assignment",
    "find_grant",
    "guard_passes",
    "iter_assigned_users",
    "iter_assignments",
    "known_scopes",
    "list_assigned_users",
    "list_assignments",
    "list_audit",
    "managed_scopes",
    "may_view_team",
    "may_view_teams",
    "org_and_below",
    "recent_audit",
    "require_revision",
    "restriction",
    "restrictions",
    "scope_hit",
    "scope_suggestions",
    "scopes_below",
    "scopes_held",
    "search",
    "stored_grants",
    "stored_lookalikes",
    "stored_users",
    "team_permission",
    "user_hit",
]
