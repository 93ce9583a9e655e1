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
from typing import Any, Literal

import click
import importlib_metadata
import pluggy
from pydantic import ValidationError

from . import hookspecs
from .errors import PluginError, RegistryError
from .records import DelegationRule, Permission, Role, ScopeType
from .registry import Contribution, Registry, build_registry

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


def _entry_point_candidates(
    entry_points: Iterable[importlib_metadata.EntryPoint] | None,
) -> tuple[list[_Candidate], list[tuple[PluginInfo, str]]]:
    if entry_points is None:
        entry_points = importlib_metadata.entry_points(group=ENTRY_POINT_GROUP)
    seen: dict[str, _Candidate] = {}
    clashes: list[tuple[PluginInfo, str]] = []
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
        earlier = seen.get(ep.name)
        if earlier is not None:
            if (earlier.info.distribution, earlier.info.entry_point) == (
                info.distribution,
                info.entry_point,
            ):
                continue  # the same distribution found twice on sys.path
            clashes.append(
                (
                    info,
                    f"the plugin name {ep.name!r} is already used by distribution "
                    f"{earlier.info.distribution}",
                )
            )
            continue
        seen[ep.name] = _Candidate(info, ep.load)
    return list(seen.values()), clashes


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


_EXPECTED: dict[str, type] = {
    "register_scope_types": ScopeType,
    "register_permissions": Permission,
    "register_roles": Role,
    "register_delegation_rules": DelegationRule,
    "register_commands": click.Command,
}


def _collect(manager: pluggy.PluginManager, plugin: object) -> dict[str, tuple[Any, ...]]:
    """Call the plugin's own registry hooks and check what they return."""
    out: dict[str, tuple[Any, ...]] = {}
    for hook_name, expected in _EXPECTED.items():
        impls = [i for i in getattr(manager.hook, hook_name).get_hookimpls() if i.plugin is plugin]
        items: list[Any] = []
        for impl in impls:
            try:
                result = impl.function()
                result = [] if result is None else list(result)
            except Exception as exc:
                raise _Skip(f"{hook_name}() raised {one_line(exc)}") from None
            for item in result:
                if not isinstance(item, expected):
                    raise _Skip(
                        f"{hook_name}() returned a {type(item).__name__}, "
                        f"expected {expected.__name__}"
                    )
            items.extend(result)
        out[hook_name] = tuple(items)
    return out


class _Skip(Exception):
    """A plugin failure, with the one-line cause."""


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
    """
    settings = PluginSettings.from_env() if settings is None else settings
    if ESSENTIAL in settings.disabled:
        raise PluginError(
            f"the {ESSENTIAL!r} plugin cannot be disabled: it defines the platform, org, course "
            "and library scope types (remove it from ROLECALL_DISABLE_PLUGINS)"
        )
    manager = make_plugin_manager()
    warnings: list[str] = []
    infos: list[PluginInfo] = []

    def fail(info: PluginInfo, reason: str) -> None:
        info.status = "failed"
        info.error = reason
        line = f"plugin {info.name!r} skipped ({info.origin}): {reason}"
        if settings.strict or (info.builtin and info.name == ESSENTIAL):
            raise PluginError(line)
        log.warning(line)
        warnings.append(line)

    builtins = _builtin_candidates()
    for name, obj in (extra or {}).items():
        info = PluginInfo(name=name, builtin=False, module=getattr(obj, "__name__", repr(obj)))
        builtins.append(_Candidate(info, lambda obj=obj: obj))
    third_party, clashes = _entry_point_candidates(entry_points)
    builtin_names = {c.info.name for c in builtins}
    candidates: list[_Candidate] = list(builtins)
    for candidate in third_party:
        if candidate.info.name in builtin_names:
            clashes.append((candidate.info, f"the name {candidate.info.name!r} is a built-in's"))
        else:
            candidates.append(candidate)

    known = {c.info.name for c in candidates} | {info.name for info, _ in clashes}
    for name in sorted(settings.disabled - known):
        line = f"ROLECALL_DISABLE_PLUGINS names {name!r}, which is not installed"
        log.warning(line)
        warnings.append(line)

    for info, reason in clashes:
        infos.append(info)
        if info.name in settings.disabled:
            info.status = "disabled"
        else:
            fail(info, reason)

    contributions: dict[str, dict[str, tuple[Any, ...]]] = {}
    objects: dict[str, object] = {}
    reserved = set(reserved_commands)
    for candidate in candidates:
        info = candidate.info
        infos.append(info)
        if info.name in settings.disabled:
            info.status = "disabled"
            continue
        try:
            try:
                plugin = candidate.load()
            except Exception as exc:
                raise _Skip(f"import failed: {one_line(exc)}") from None
            try:
                manager.register(plugin, name=info.name)
            except Exception as exc:
                raise _Skip(one_line(exc)) from None
            objects[info.name] = plugin
            callers = manager.get_hookcallers(plugin) or []
            unknown = sorted(c.name for c in callers if c.spec is None)
            if unknown:
                raise _Skip(f"implements unknown hook(s) {', '.join(unknown)}")
            info.hooks = tuple(sorted(c.name for c in callers))
            collected = _collect(manager, plugin)
            for command in collected["register_commands"]:
                if command.name in reserved:
                    raise _Skip(f"command {command.name!r} is already taken")
            reserved.update(c.name for c in collected["register_commands"] if c.name)
            contributions[info.name] = collected
        except _Skip as skip:
            if info.name in objects:
                manager.unregister(objects.pop(info.name))
            fail(info, str(skip))

    while True:
        try:
            registry = build_registry(
                [
                    Contribution(
                        plugin=name,
                        scope_types=c["register_scope_types"],
                        permissions=c["register_permissions"],
                        roles=c["register_roles"],
                        rules=c["register_delegation_rules"],
                    )
                    for name, c in contributions.items()
                ]
            )
            break
        except RegistryError as exc:
            culprit = next(i for i in infos if i.name == exc.culprit and i.status == "loaded")
            del contributions[culprit.name]
            manager.unregister(objects.pop(culprit.name))
            fail(culprit, str(exc))

    for info in infos:
        if info.status == "loaded":
            info.contributes = registry.contributed_by(info.name)
            info.contributes["commands"] = sorted(
                c.name or "" for c in contributions[info.name]["register_commands"]
            )

    by_name = {i.name: i for i in infos}
    for name in sorted(settings.required):
        wanted = by_name.get(name)
        if wanted is None:
            raise PluginError(f"required plugin {name!r} is not installed")
        if wanted.status == "disabled":
            raise PluginError(f"required plugin {name!r} is disabled by ROLECALL_DISABLE_PLUGINS")
        if wanted.status == "failed":
            raise PluginError(f"required plugin {name!r} failed to load: {wanted.error}")

    commands = tuple(cmd for c in contributions.values() for cmd in c["register_commands"])
    return Plugins(
        manager=manager,
        registry=registry,
        plugins=tuple(infos),
        commands=commands,
        warnings=tuple(warnings),
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
