"""Plugin discovery and loading.

Built-in plugins and third-party plugins go through the same path: each is a module (or object)
with ``@hookimpl`` functions, registered with a pluggy plugin manager under its name. Built-ins
are listed by ``rolecall.builtin_plugins.BUILTIN_PLUGINS``; third-party plugins come from the
``rolecall`` entry-point group, read with importlib-metadata, de-duplicated and sorted by name
before any is imported.

A plugin that fails to import, implements an unknown hook, or contributes records that do not
validate is skipped: one line (logged on ``rolecall.plugins``) names it, its distribution and
entry point, and the cause, and the others keep working. The settings:

- ``ROLECALL_STRICT_PLUGINS=1``: any plugin failure is fatal (:class:`PluginError`), for CI;
- ``ROLECALL_DISABLE_PLUGINS=a,b``: do not load these (built-ins too, except ``platform``);
- ``ROLECALL_REQUIRE_PLUGINS=a,b``: fail unless these are loaded.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import importlib_metadata
import pluggy
from pydantic import ValidationError

from . import hookspecs
from .errors import PluginError, RegistryError
from .registry import Contribution, Registry, build_registry

if TYPE_CHECKING:
    import click

log = logging.getLogger("rolecall.plugins")

ENTRY_POINT_GROUP = "rolecall"
BUILTIN_PACKAGE = "rolecall.builtin_plugins"
ESSENTIAL = "platform"
"""The one plugin that cannot be disabled: it defines the platform, org, course and library
scope types everything else hangs from."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def _names(text: str) -> frozenset[str]:
    return frozenset(n.strip() for n in text.split(",") if n.strip())


@dataclass(frozen=True)
class PluginSettings:
    """How plugins are loaded; :meth:`from_env` reads the ``ROLECALL_*_PLUGINS`` variables."""

    strict: bool = False
    disabled: frozenset[str] = frozenset()
    required: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PluginSettings:
        env = os.environ if environ is None else environ
        strict_text = env.get("ROLECALL_STRICT_PLUGINS", "").strip().lower()
        if strict_text not in _TRUE | _FALSE:
            raise PluginError(
                f"ROLECALL_STRICT_PLUGINS={strict_text!r} is not a yes/no value; use 1 or 0"
            )
        return cls(
            strict=strict_text in _TRUE,
            disabled=_names(env.get("ROLECALL_DISABLE_PLUGINS", "")),
            required=_names(env.get("ROLECALL_REQUIRE_PLUGINS", "")),
        )


Status = Literal["loaded", "failed", "disabled"]


@dataclass
class PluginInfo:
    """What ``rolecall plugins`` shows about one plugin."""

    name: str
    builtin: bool
    module: str
    version: str | None = None
    distribution: str | None = None
    entry_point: str | None = None
    status: Status = "loaded"
    error: str | None = None
    hooks: tuple[str, ...] = ()
    contributes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        if self.builtin:
            return f"built-in {self.module}"
        if self.distribution is None:
            return f"registered by the application: {self.module}"
        return f"distribution {self.distribution} {self.version}, entry point {self.entry_point}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "builtin": self.builtin,
            "distribution": self.distribution,
            "entry_point": self.entry_point,
            "module": self.module,
            "status": self.status,
            "error": self.error,
            "hooks": list(self.hooks),
            "contributes": self.contributes,
        }


@dataclass(frozen=True)
class Plugins:
    """The loaded plugins: the plugin manager, the registry they built, and a report on each."""

    manager: pluggy.PluginManager
    registry: Registry
    plugins: tuple[PluginInfo, ...]
    commands: tuple[click.Command, ...]
    warnings: tuple[str, ...]

    def info(self, name: str) -> PluginInfo | None:
        """The plugin called ``name``: the loaded one when a name clash left several."""
        named = [p for p in self.plugins if p.name == name]
        return next((p for p in named if p.status == "loaded"), named[0] if named else None)


def make_plugin_manager() -> pluggy.PluginManager:
    """A plugin manager that knows rolecall's hookspecs and has no plugin registered yet."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    return manager


class _Skip(Exception):
    """A plugin failure, with the one-line cause."""


def one_line(exc: BaseException) -> str:
    """An exception as one line, no traceback: ``ModuleNotFoundError: No module named 'x'``."""
    if isinstance(exc, ValidationError):
        details = "; ".join(
            f"{'.'.join(str(part) for part in err['loc']) or 'value'}: {err['msg']}"
            for err in exc.errors()
        )
        text = f"invalid {exc.title}: {details}"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())


# ---------------------------------------------------------------------------- discover


@dataclass
class _Candidate:
    info: PluginInfo
    load: Any  # () -> module or object


def _rolecall_version() -> str | None:
    try:
        return importlib_metadata.version("rolecall")
    except importlib_metadata.PackageNotFoundError:
        return None


def _builtin_candidates() -> list[_Candidate]:
    package = importlib.import_module(BUILTIN_PACKAGE)
    version = _rolecall_version()
    found = []
    for module_name in package.BUILTIN_PLUGINS:
        path = f"{BUILTIN_PACKAGE}.{module_name}"
        info = PluginInfo(name=module_name, builtin=True, module=path, version=version)
        found.append(_Candidate(info, lambda path=path: importlib.import_module(path)))
    return found


def _application_candidates(extra: Mapping[str, object]) -> list[_Candidate]:
    found = []
    for name, obj in extra.items():
        info = PluginInfo(name=name, builtin=False, module=getattr(obj, "__name__", repr(obj)))
        found.append(_Candidate(info, lambda obj=obj: obj))
    return found


def _entry_point_candidates(
    entry_points: Iterable[importlib_metadata.EntryPoint] | None,
) -> list[_Candidate]:
    if entry_points is None:
        entry_points = importlib_metadata.entry_points(group=ENTRY_POINT_GROUP)
    found = []
    for ep in sorted(entry_points, key=lambda e: (e.name, e.value)):
        dist = ep.dist
        info = PluginInfo(
            name=ep.name,
            builtin=False,
            module=ep.module,
            version=dist.version if dist else None,
            distribution=dist.name if dist else None,
            entry_point=f"{ep.name} = {ep.value}",
        )
        found.append(_Candidate(info, ep.load))
    return found


# ---------------------------------------------------------------------------- dedupe


def _dedupe(
    builtins: list[_Candidate], third_party: list[_Candidate]
) -> tuple[list[_Candidate], list[tuple[PluginInfo, str]]]:
    """The candidates to load, in load order, and the entry points refused for their name: one
    whose name an earlier distribution or a built-in (or the application) already uses. The
    same distribution seen twice on ``sys.path`` counts once."""
    seen: dict[str, _Candidate] = {}
    clashes: list[tuple[PluginInfo, str]] = []
    for candidate in third_party:
        info = candidate.info
        earlier = seen.get(info.name)
        if earlier is None:
            seen[info.name] = candidate
        elif (earlier.info.distribution, earlier.info.entry_point) != (
            info.distribution,
            info.entry_point,
        ):
            clashes.append(
                (
                    info,
                    f"the plugin name {info.name!r} is already used by distribution "
                    f"{earlier.info.distribution}",
                )
            )
    builtin_names = {c.info.name for c in builtins}
    candidates = list(builtins)
    for candidate in seen.values():
        if candidate.info.name in builtin_names:
            clashes.append((candidate.info, f"the name {candidate.info.name!r} is a built-in's"))
        else:
            candidates.append(candidate)
    return candidates, clashes


# ---------------------------------------------------------------------------- collect


def call_own(
    manager: pluggy.PluginManager, hook_name: str, plugin: object, **arguments: Any
) -> list[Any]:
    """The results of ``plugin``'s own implementations of a hook, in its order (an
    implementation returning ``None`` adds nothing).

    The call goes through pluggy's hook caller, so hook wrappers (of any plugin) and
    monitoring (``add_hookcall_monitoring``) see it; the other plugins' plain implementations
    are left out of it, so that each result is attributed to the plugin that returned it (a
    duplicate record names both plugins; a failing plugin is the one logged). A plugin with
    both a wrapper and a plain implementation of the same hook is left out of the other
    plugins' calls, its wrapper included."""
    caller = own_caller(manager, hook_name, plugin)
    if caller is None:
        return []
    return list(reversed(caller(**arguments)))  # pluggy calls the last registered one first


def own_caller(
    manager: pluggy.PluginManager, hook_name: str, plugin: object
) -> pluggy.HookCaller | None:
    """The hook caller :func:`call_own` calls for ``plugin`` (``None`` when it has no plain
    implementation of the hook), for a caller that calls it many times (once per event of a
    bulk write): made once, it costs nothing more per call than the hook itself."""
    impls = getattr(manager.hook, hook_name).get_hookimpls()

    def plain(impl: Any) -> bool:
        return not (impl.wrapper or impl.hookwrapper)

    if not any(impl.plugin is plugin and plain(impl) for impl in impls):
        return None
    others = {impl.plugin for impl in impls if impl.plugin is not plugin and plain(impl)}
    return manager.subset_hook_caller(hook_name, remove_plugins=others)


def implementers(manager: pluggy.PluginManager, hook_name: str) -> list[tuple[str, object]]:
    """(name, plugin) of each plugin with a plain implementation of the hook, in the order
    they were registered: the plugins :func:`call_own` answers for, one by one."""
    found: dict[int, tuple[str, object]] = {}
    for impl in getattr(manager.hook, hook_name).get_hookimpls():
        if not (impl.wrapper or impl.hookwrapper):
            found.setdefault(id(impl.plugin), (impl.plugin_name, impl.plugin))
    return list(found.values())


def own_callers(
    manager: pluggy.PluginManager, hook_name: str
) -> list[tuple[str, pluggy.HookCaller]]:
    """(name, :func:`own_caller`) of each plugin implementing the hook, in registration
    order."""
    found = []
    for name, plugin in implementers(manager, hook_name):
        caller = own_caller(manager, hook_name, plugin)
        if caller is not None:
            found.append((name, caller))
    return found


def _collect(manager: pluggy.PluginManager, plugin: object) -> dict[str, tuple[Any, ...]]:
    """Call the plugin's own registry hooks and check what they return."""
    out: dict[str, tuple[Any, ...]] = {}
    for hook_name, expected in hookspecs.registry_hook_records().items():
        try:
            results = [
                [] if result is None else list(result)
                for result in call_own(manager, hook_name, plugin)
            ]
        except Exception as exc:
            raise _Skip(f"{hook_name}() raised {one_line(exc)}") from None
        items: list[Any] = []
        for result in results:
            for item in result:
                if not isinstance(item, expected):
                    raise _Skip(
                        f"{hook_name}() returned a {type(item).__name__}, "
                        f"expected {expected.__name__}"
                    )
            items.extend(result)
        out[hook_name] = tuple(items)
    return out


def _contribution(name: str, collected: Mapping[str, tuple[Any, ...]]) -> Contribution:
    return Contribution(
        plugin=name,
        scope_types=collected["register_scope_types"],
        permissions=collected["register_permissions"],
        roles=collected["register_roles"],
        rules=collected["register_delegation_rules"],
        console_pages=collected["register_console_pages"],
        derived_roles=collected["register_derived_roles"],
    )


class _Loading:
    """One run of :func:`load_plugins`: the plugin manager, and what has happened so far."""

    def __init__(self, settings: PluginSettings) -> None:
        self.settings = settings
        self.manager = make_plugin_manager()
        self.warnings: list[str] = []
        self.infos: list[PluginInfo] = []
        self.objects: dict[str, object] = {}
        self.contributions: dict[str, dict[str, tuple[Any, ...]]] = {}

    def warn(self, line: str) -> None:
        log.warning(line)
        self.warnings.append(line)

    def fail(self, info: PluginInfo, reason: str) -> None:
        """Skip a plugin with one line, or stop (strict mode, or the essential plugin)."""
        info.status = "failed"
        info.error = reason
        line = f"plugin {info.name!r} skipped ({info.origin}): {reason}"
        if self.settings.strict or (info.builtin and info.name == ESSENTIAL):
            raise PluginError(line)
        self.warn(line)

    def drop(self, info: PluginInfo, reason: str) -> None:
        """Unregister a plugin that was registered, then skip it."""
        if info.name in self.objects:
            self.manager.unregister(self.objects.pop(info.name))
        self.contributions.pop(info.name, None)
        self.fail(info, reason)

    # ------------------------------------------------------------------ disabled and clashes

    def refuse(
        self, candidates: list[_Candidate], clashes: list[tuple[PluginInfo, str]]
    ) -> list[_Candidate]:
        """Report what cannot be loaded; the candidates left to import, in load order."""
        disabled = self.settings.disabled
        known = {c.info.name for c in candidates} | {info.name for info, _ in clashes}
        for name in sorted(disabled - known):
            self.warn(f"ROLECALL_DISABLE_PLUGINS names {name!r}, which is not installed")
        for info, reason in clashes:
            self.infos.append(info)
            if info.name in disabled:
                info.status = "disabled"
            else:
                self.fail(info, reason)
        wanted = []
        for candidate in candidates:
            self.infos.append(candidate.info)
            if candidate.info.name in disabled:
                candidate.info.status = "disabled"
            else:
                wanted.append(candidate)
        return wanted

    # ------------------------------------------------------------------------------- import

    def register(self, candidate: _Candidate) -> None:
        """Import the plugin and register it under its name; it must implement only known hooks."""
        info = candidate.info
        try:
            plugin = candidate.load()
        except Exception as exc:
            raise _Skip(f"import failed: {one_line(exc)}") from None
        try:
            self.manager.register(plugin, name=info.name)
        except Exception as exc:
            raise _Skip(one_line(exc)) from None
        self.objects[info.name] = plugin
        callers = self.manager.get_hookcallers(plugin) or []
        unknown = sorted(c.name for c in callers if c.spec is None)
        if unknown:
            raise _Skip(f"implements unknown hook(s) {', '.join(unknown)}")
        info.hooks = tuple(sorted(c.name for c in callers))

    def collect(self, info: PluginInfo, reserved: set[str]) -> None:
        """Call the plugin's registry hooks; its commands may not take a reserved name."""
        collected = _collect(self.manager, self.objects[info.name])
        for command in collected["register_commands"]:
            if command.name in reserved:
                raise _Skip(f"command {command.name!r} is already taken")
        reserved.update(c.name for c in collected["register_commands"] if c.name)
        self.contributions[info.name] = collected

    # ----------------------------------------------------------------------- validate, build

    def build(self) -> Registry:
        """The registry of every collected contribution; a plugin whose contribution does not fit
        is skipped (the one :class:`RegistryError` names) and the rest built again."""
        while True:
            try:
                return build_registry(
                    [_contribution(name, c) for name, c in self.contributions.items()]
                )
            except RegistryError as exc:
                culprit = next(
                    i for i in self.infos if i.name == exc.culprit and i.status == "loaded"
                )
                self.drop(culprit, str(exc))

    def describe(self, registry: Registry) -> None:
        for info in self.infos:
            if info.status == "loaded":
                info.contributes = registry.contributed_by(info.name)
                info.contributes["commands"] = sorted(
                    c.name or "" for c in self.contributions[info.name]["register_commands"]
                )

    def check_required(self) -> None:
        by_name = {i.name: i for i in self.infos}
        for name in sorted(self.settings.required):
            wanted = by_name.get(name)
            if wanted is None:
                raise PluginError(f"required plugin {name!r} is not installed")
            if wanted.status == "disabled":
                raise PluginError(
                    f"required plugin {name!r} is disabled by ROLECALL_DISABLE_PLUGINS"
                )
            if wanted.status == "failed":
                raise PluginError(f"required plugin {name!r} failed to load: {wanted.error}")


def load_plugins(
    settings: PluginSettings | None = None,
    *,
    entry_points: Iterable[importlib_metadata.EntryPoint] | None = None,
    extra: Mapping[str, object] | None = None,
    reserved_commands: Iterable[str] = (),
) -> Plugins:
    """Register the built-ins, then ``extra``, then the ``rolecall`` entry points; build the
    registry.

    ``extra`` maps names to plugin objects an application registers itself (modules or
    instances with ``@hookimpl`` methods); ``entry_points`` replaces discovery;
    ``reserved_commands`` are command names a plugin may not take (the CLI's own).

    The stages: discover the candidates, dedupe their names, leave out the disabled and the
    clashing ones, import and register each, collect each one's registry hooks (once every
    plugin is registered, so hook wrappers see every call), then validate and build the
    registry. A plugin failing at any stage is skipped (and unregistered) and the others go on.
    """
    settings = PluginSettings.from_env() if settings is None else settings
    if ESSENTIAL in settings.disabled:
        raise PluginError(
            f"the {ESSENTIAL!r} plugin cannot be disabled: it defines the platform, org, course "
            "and library scope types (remove it from ROLECALL_DISABLE_PLUGINS)"
        )
    run = _Loading(settings)
    builtins = _builtin_candidates() + _application_candidates(extra or {})
    candidates, clashes = _dedupe(builtins, _entry_point_candidates(entry_points))
    wanted = run.refuse(candidates, clashes)
    registered = []
    for candidate in wanted:
        try:
            run.register(candidate)
            registered.append(candidate.info)
        except _Skip as skip:
            run.drop(candidate.info, str(skip))
    reserved = set(reserved_commands)
    for info in registered:
        try:
            run.collect(info, reserved)
        except _Skip as skip:
            run.drop(info, str(skip))
    registry = run.build()
    run.describe(registry)
    run.check_required()
    return Plugins(
        manager=run.manager,
        registry=registry,
        plugins=tuple(run.infos),
        commands=tuple(cmd for c in run.contributions.values() for cmd in c["register_commands"]),
        warnings=tuple(run.warnings),
    )


__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "PluginSettings",
    "Plugins",
    "load_plugins",
    "make_plugin_manager",
    "one_line",
]
