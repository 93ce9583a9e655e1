"""The hooks a rolecall plugin may implement.

A plugin is a module (or any object) with functions marked ``@hookimpl``; it implements only the
hooks it needs, and an implementation may accept fewer arguments than the spec names, so adding
an argument to a hook later breaks no plugin. Every hook is called in the ordinary "collect all
results" mode: no hook decides allow or deny (``firstresult`` is never used for that).

The registry hooks are called once, when the plugins are loaded and the registry is built, never
on the check path. Each returns an iterable of frozen records; returning nothing is fine.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

if TYPE_CHECKING:
    import click

    from .records import (
        AssignmentEvent,
        ConsolePage,
        DelegationRule,
        DerivedRole,
        Permission,
        Role,
        ScopeType,
    )

PROJECT = "rolecall"

_spec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marks a function as the implementation of the rolecall hook of the same name."""

_Spec = TypeVar("_Spec", bound=Callable[..., Any])
_registry_specs: list[Callable[..., Any]] = []


def _registry(spec: _Spec) -> _Spec:
    """Marks a registry hook: called once per plugin when the plugins are loaded, its results
    collected and checked against the record type its return annotation names."""
    _registry_specs.append(spec)
    return spec


@_spec
@_registry
def register_scope_types() -> Iterable[ScopeType]:  # type: ignore[empty-body]
    """Scope types this plugin adds: a key namespace, a parser and the parent of each key.

    Example (the ``ccx`` plugin)::

        from rolecall.core import ParsedKey, ScopeType, hookimpl, split_key

        def parse_ccx(key):
            f = split_key(key, "ccx-v1:", "+", ("org", "course", "run", "ccx"))
            return ParsedKey(f, parent=f"course-v1:{f['org']}+{f['course']}+{f['run']}")

        @hookimpl
        def register_scope_types():
            return [ScopeType(id="ccx", title="Custom course", description="...",
                              namespace="ccx-v1", pattern="ccx-v1:ORG+COURSE+RUN+ccx@N",
                              example="ccx-v1:MITx+6.002x+2026_T1+ccx@3", parse=parse_ccx)]
    """


@_spec
@_registry
def register_permissions() -> Iterable[Permission]:  # type: ignore[empty-body]
    """Permissions this plugin adds; their ids are lowercase dotted names.

    Example::

        @hookimpl
        def register_permissions():
            return [
                Permission(id="ccx.view_schedule", title="View the schedule",
                           description="See the custom course's schedule.", area="Schedule",
                           scope_types=("ccx",)),
                Permission(id="ccx.edit_schedule", title="Edit the schedule",
                           description="Change due dates.", area="Schedule",
                           scope_types=("ccx",), implies=("ccx.view_schedule",)),
            ]
    """


@_spec
@_registry
def register_roles() -> Iterable[Role]:  # type: ignore[empty-body]
    """Roles this plugin adds, built from registered permissions (its own or another plugin's).

    Example::

        @hookimpl
        def register_roles():
            return [Role(id="ccx_coach", title="CCX coach", description="Runs a custom course.",
                         scope_types=("course", "ccx"), permissions=("ccx.edit_schedule",))]
    """


@_spec
@_registry
def register_derived_roles() -> Iterable[DerivedRole]:  # type: ignore[empty-body]
    """Roles held by whoever an outside source names, never stored per user (a registered role
    each, one source per role).

    Checks consult them only when the stored grants deny and the permission is the role's;
    restrictions apply; explain names the source; who, who_can and access say they cannot list
    their holders. ``holds`` runs on the check path (after a stored denial): keep it fast.

    Example (the Open edX integration: every enrolled learner takes part in the forums)::

        from rolecall.core import DerivedRole, hookimpl

        def enrolled(user, course):
            return CourseEnrollment.objects.filter(
                user__username=user, course_id=course, is_active=True).exists()

        @hookimpl
        def register_derived_roles():
            return [DerivedRole(role="discussion_student", source="enrollment",
                                description="enrolled in the course",
                                scope_types=("course",), holds=enrolled)]
    """


@_spec
@_registry
def register_delegation_rules() -> Iterable[DelegationRule]:  # type: ignore[empty-body]
    """Default delegation rules: which roles may assign and revoke which roles where.

    Platform administrators can change them at run time; a stored rule with the same id
    replaces the plugin's.

    Example::

        @hookimpl
        def register_delegation_rules():
            return [DelegationRule(id="ccx_coaches_add_coaches",
                                   description="Coaches may add coaches to their course.",
                                   holders=("ccx_coach",), assign=("ccx_coach",),
                                   revoke=("ccx_coach",), scope_types=("course", "ccx"))]
    """


@_spec
@_registry
def register_commands() -> Iterable[click.Command]:  # type: ignore[empty-body]
    """``click`` commands to add to the ``rolecall`` command line.

    Example::

        import click

        @click.command("ccx-seats")
        def seats():
            "Show seats used in every custom course."

        @hookimpl
        def register_commands():
            return [seats]
    """


@_spec
@_registry
def register_console_pages() -> Iterable[ConsolePage]:  # type: ignore[empty-body]
    """Pages this plugin adds to the console, each shown to the holders of its permission.

    A registry hook: called once, when the plugins are loaded (never on the check path). A
    page whose permission no plugin registers, or whose ``scope`` does not parse, skips the
    plugin like any other unknown reference. ``render`` is called on each visit and returns
    plain text or a mapping of text and tables (see :class:`ConsolePage`); the console escapes
    what it shows, so a plugin never writes HTML.

    Example (the ``ccx`` plugin)::

        from rolecall.core import ConsolePage, hookimpl

        def coaches(viewer, rolecall):
            course = "course-v1:MITx+6.002x+2026_T1"
            rows = [[u] for u in rolecall.who_can("ccx.create_ccx", course)]
            return {"tables": [{"caption": "Coaches", "headers": ["user"], "rows": rows}]}

        @hookimpl
        def register_console_pages():
            return [ConsolePage(id="ccx", title="Custom courses",
                                description="Coaches and seats.",
                                permission="ccx.create_ccx", render=coaches)]
    """


@_spec
def assignment_changed(event: AssignmentEvent, rolecall: Any) -> None:
    """Called after an assignment change is committed (the ``rolecall`` argument is the service
    object that made it). Exceptions are logged and never undo or block the change.

    Example (forward to an event bus)::

        @hookimpl
        def assignment_changed(event):
            bus.publish("rolecall.assignment", event.model_dump(mode="json"))
    """


@_spec
def lookup_scopes(keys: Sequence[str]) -> Iterable[tuple[str, str | None]]:  # type: ignore[empty-body]
    """The scope catalogue: which of ``keys`` exist on the platform. Return (key, title) for
    each scope the platform has whose key equals one of ``keys`` ignoring case, spelled as the
    platform spells it (titles may be ``None``). An org key (``org:MITx``) exists when the
    platform has a course or library of that org.

    Called when a change made as a user (the console, the REST API) names scopes rolecall does
    not know yet, never on the check path: a scope the catalogue has is known, one differing
    only in case is answered "did you mean ...", any other is refused until it is created.
    Keys come resolved (at most a few hundred per call). An exception is logged and the
    catalogue is taken to have none of the keys.

    Example (Open edX: the platform's course list, ``rolecall_openedx.catalogue``)::

        @hookimpl
        def lookup_scopes(keys):
            for course in CourseOverview.objects.filter(id__in=keys):
                yield str(course.id), course.display_name
    """


@_spec
def find_scopes(query: str, limit: int) -> Iterable[tuple[str, str | None]]:  # type: ignore[empty-body]
    """The scope catalogue's search: up to ``limit`` (key, title) of the platform's scopes
    whose key or title contains ``query`` ignoring case, best matches first. The console's
    scope picker merges them with the scopes rolecall knows and offers only those where the
    viewer may give the role. Called per search (never on the check path); keep it to one
    indexed query. An exception is logged and the catalogue adds nothing.

    Example::

        @hookimpl
        def find_scopes(query, limit):
            found = CourseOverview.objects.filter(
                Q(id__icontains=query) | Q(display_name__icontains=query))[:limit]
            return [(str(c.id), c.display_name) for c in found]
    """


REGISTRY_HOOKS = tuple(spec.__name__ for spec in _registry_specs)
"""The hooks called once per plugin at load time, in the order they are called: their results
make up the registry and the command line."""


@functools.cache
def registry_hook_records() -> dict[str, type]:
    """Each registry hook and the type of record it returns, read from its return annotation
    (``Iterable[Permission]`` -> :class:`Permission`). It imports click, which the annotation of
    ``register_commands`` names, and the records: call it when loading plugins, not at
    import."""
    import click

    from . import records

    names = {**globals(), **vars(records), "click": click}
    return {
        spec.__name__: typing.get_args(typing.get_type_hints(spec, names)["return"])[0]
        for spec in _registry_specs
    }
