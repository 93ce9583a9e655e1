"""`load_plugins` with real distributions written to a temporary folder on ``sys.path``.

Each test writes ``NAME-VERSION.dist-info`` folders (``METADATA`` and ``entry_points.txt``) and
plugin modules into its own folder, puts that folder on ``sys.path`` and lets importlib-metadata
discover them: ``entry_points=`` is passed only by the tests about that parameter. Module names
carry a per-test tag so no test can see another's modules, and they are removed from
``sys.modules`` afterwards.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import click
import importlib_metadata
import pytest

from rolecall.builtin_plugins import BUILTIN_PLUGINS
from rolecall.core import (
    ENTRY_POINT_GROUP,
    ConsolePage,
    Permission,
    PluginError,
    PluginInfo,
    Plugins,
    PluginSettings,
    hookimpl,
    hookspecs,
)
from rolecall.core import load_plugins as _load_plugins

LOGGER = "rolecall.plugins"
_tags = itertools.count()

HEADER = (
    "import click\nfrom rolecall.core import Permission, Role, ScopeType, ParsedKey, hookimpl\n"
)


def write_dist(
    root: Path,
    dist_name: str,
    version: str,
    entry_points: dict[str, str],
    modules: dict[str, str],
) -> Path:
    """Write an installed distribution into ``root``: its modules and its dist-info folder.

    ``entry_points`` maps names of the ``rolecall`` group to their values (``"good": "mod"``);
    ``modules`` maps module names to their source (dedented).
    """
    root.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (root / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = root / f"{dist_name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{lines}", encoding="utf-8")
    importlib.invalidate_caches()
    return info


class Site:
    """A folder on ``sys.path`` holding fake distributions, with unique module names."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tag = str(next(_tags))
        self.modules: list[str] = []

    def mod(self, base: str) -> str:
        """A module name unique to this test."""
        name = f"{base}_t{self.tag}"
        self.modules.append(name)
        return name

    def dist(
        self,
        dist_name: str,
        entry_points: dict[str, str],
        modules: dict[str, str],
        version: str = "1.0",
        root: Path | None = None,
    ) -> Path:
        return write_dist(root or self.root, dist_name, version, entry_points, modules)

    def plugin(self, name: str, body: str, *, dist: str | None = None, version: str = "1.0") -> str:
        """One distribution ``rolecall-<name>`` with one module and one entry point ``name``;
        returns the module name."""
        module = self.mod(f"rolecall_{name}")
        self.dist(
            dist or f"rolecall-{name}",
            {name: module},
            {module: HEADER + textwrap.dedent(body)},
            version=version,
        )
        return module


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    root = tmp_path / "site-packages"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    for variable in (
        "ROLECALL_STRICT_PLUGINS",
        "ROLECALL_DISABLE_PLUGINS",
        "ROLECALL_REQUIRE_PLUGINS",
    ):
        monkeypatch.delenv(variable, raising=False)
    created = Site(root)
    yield created
    for module in created.modules:
        sys.modules.pop(module, None)
    importlib.invalidate_caches()


@pytest.fixture
def plugin_log(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """The messages logged on ``rolecall.plugins`` (warnings and above)."""
    caplog.set_level(logging.WARNING, logger=LOGGER)

    def messages() -> list[str]:
        records = [r for r in caplog.records if r.name == LOGGER]
        for record in records:
            assert record.levelno == logging.WARNING
            assert record.exc_info is None  # no traceback is attached
            assert record.stack_info is None
        assert "Traceback" not in caplog.text
        return [r.getMessage() for r in records]

    return messages


def load(
    settings: PluginSettings | None = None,
    *,
    entry_points: Iterable[importlib_metadata.EntryPoint] | None = None,
    reserved_commands: Iterable[str] = (),
) -> Plugins:
    """``load_plugins`` with default settings, not the ``ROLECALL_*`` environment, and the
    installed entry points but rolecall's own ``console`` (the web application's plugin)."""
    if entry_points is None:
        entry_points = [
            ep
            for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP)
            if not (ep.dist is not None and ep.dist.name == "rolecall")
        ]
    return _load_plugins(
        PluginSettings() if settings is None else settings,
        entry_points=entry_points,
        reserved_commands=reserved_commands,
    )


GOOD = """
    @hookimpl
    def register_permissions():
        return [
            Permission(id="good.view", title="View", description="See it.", area="Good",
                       scope_types=("course",)),
        ]

    @hookimpl
    def register_roles():
        return [
            Role(id="good_viewer", title="Viewer", description="Sees it.",
                 scope_types=("course", "org"), permissions=("good.view",)),
        ]
"""


def failed_line(name: str, dist: str, version: str, entry_point: str, reason: str) -> str:
    return (
        f"plugin {name!r} skipped (distribution {dist} {version}, entry point {entry_point}): "
        f"{reason}"
    )


def only(info: PluginInfo | None) -> PluginInfo:
    assert info is not None
    return info


def assert_platform_loaded(plugins: Plugins) -> None:
    platform = [i for i in plugins.plugins if i.builtin and i.name == "platform"]
    assert len(platform) == 1
    assert platform[0].status == "loaded"
    assert {"platform", "org", "course", "library"} <= set(plugins.registry.scope_types)


def assert_skipped_once(
    plugins: Plugins, log: Callable[[], list[str]], name: str, expected_line: str
) -> None:
    """``name`` failed, and exactly one one-line warning (no traceback) said so."""
    info = only(next((i for i in plugins.plugins if i.name == name and i.status == "failed"), None))
    assert log() == [expected_line]
    assert plugins.warnings == (expected_line,)
    assert "Traceback" not in expected_line
    assert "\n" not in expected_line
    assert expected_line.endswith(f": {info.error}")
    assert info.contributes == {}


# --- a good plugin -------------------------------------------------------------------------


def test_good_plugin_is_loaded_with_its_details(
    site: Site, plugin_log: Callable[[], list[str]]
) -> None:
    module = site.plugin("good", GOOD, version="1.2.3")
    plugins = load()
    info = only(plugins.info("good"))
    assert info.status == "loaded"
    assert info.error is None
    assert info.builtin is False
    assert info.module == module
    assert info.distribution == "rolecall-good"
    assert info.version == "1.2.3"
    assert info.entry_point == f"good = {module}"
    assert info.origin == f"distribution rolecall-good 1.2.3, entry point good = {module}"
    assert info.hooks == ("register_permissions", "register_roles")
    assert info.contributes == {
        "scope_types": [],
        "permissions": ["good.view"],
        "roles": ["good_viewer"],
        "rules": [],
        "console_pages": [],
        "derived_roles": [],
        "commands": [],
    }
    assert info.as_dict()["entry_point"] == f"good = {module}"
    assert plugins.registry.role_permissions["good_viewer"] == {"good.view"}
    assert plugins.registry.origin["permission:good.view"] == "good"
    assert plugins.manager.get_plugin("good") is sys.modules[module]
    assert plugin_log() == []
    assert plugins.warnings == ()


def test_builtin_platform_plugin_is_loaded(site: Site) -> None:
    plugins = load()
    info = only(plugins.info("platform"))
    assert info.builtin is True
    assert info.module == "rolecall.builtin_plugins.platform"
    assert info.origin == "built-in rolecall.builtin_plugins.platform"
    assert info.hooks == ("register_permissions", "register_roles", "register_scope_types")
    assert info.contributes["scope_types"] == ["platform", "org", "course", "library"]
    assert plugins.plugins[0] is info  # built-ins come first


def test_plugin_contributing_a_scope_type_extends_the_resolver(site: Site) -> None:
    site.plugin(
        "things",
        """
        def parse(key):
            return ParsedKey(fields={"n": key.split(":", 1)[1]}, parent="platform")

        @hookimpl
        def register_scope_types():
            return [ScopeType(id="thing", title="Thing", description="A thing.",
                              namespace="thing", pattern="thing:N", example="thing:1",
                              parse=parse)]
        """,
    )
    plugins = load()
    assert plugins.registry.scopes.resolve("thing:7").chain == ("thing:7", "platform")
    assert only(plugins.info("things")).contributes["scope_types"] == ["thing"]


# --- plugins that fail ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "cause"),
    [
        (
            "import rolecall_no_such_module_xyz\n",
            "ModuleNotFoundError: No module named 'rolecall_no_such_module_xyz'",
        ),
        ("raise ImportError('needs libfoo')\n", "ImportError: needs libfoo"),
        (
            "raise ImportError('first line\\n  second line')\n",
            "ImportError: first line second line",
        ),
        ("raise RuntimeError('boom at import')\n", "RuntimeError: boom at import"),
    ],
    ids=["missing-module", "import-error", "multi-line-message", "other-exception"],
)
def test_plugin_whose_import_fails_is_skipped_with_one_warning_line(
    site: Site, plugin_log: Callable[[], list[str]], source: str, cause: str
) -> None:
    site.plugin("good", GOOD)
    module = site.plugin("broken", source)
    plugins = load()
    line = failed_line(
        "broken", "rolecall-broken", "1.0", f"broken = {module}", f"import failed: {cause}"
    )
    assert_skipped_once(plugins, plugin_log, "broken", line)
    assert only(plugins.info("good")).status == "loaded"
    assert_platform_loaded(plugins)
    assert plugins.manager.get_plugin("broken") is None


def test_plugin_whose_record_fails_validation_in_a_hook_is_skipped(
    site: Site, plugin_log: Callable[[], list[str]]
) -> None:
    site.plugin("good", GOOD)
    module = site.plugin(
        "badrecord",
        """
        @hookimpl
        def register_permissions():
            return [Permission(id="Bad", title="t", description="d", area="a",
                               scope_types=("course",))]
        """,
    )
    plugins = load()
    reason = (
        "register_permissions() raised invalid Permission: id: String should match pattern "
        r"'^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'"
    )
    line = failed_line("badrecord", "rolecall-badrecord", "1.0", f"badrecord = {module}", reason)
    assert_skipped_once(plugins, plugin_log, "badrecord", line)
    assert only(plugins.info("good")).status == "loaded"
    assert_platform_loaded(plugins)


def test_plugin_whose_record_fails_validation_at_import_is_skipped(
    site: Site, plugin_log: Callable[[], list[str]]
) -> None:
    module = site.plugin(
        "badrole",
        """
        ROLE = Role(id="Bad Role", title="t", description="d", scope_types=())
        """,
    )
    plugins = load()
    reason = (
        "import failed: invalid Role: id: String should match pattern '^[a-z][a-z0-9_]*$'; "
        "scope_types: Tuple should have at least 1 item after validation, not 0"
    )
    line = failed_line("badrole", "rolecall-badrole", "1.0", f"badrole = {module}", reason)
    assert_skipped_once(plugins, plugin_log, "badrole", line)
    assert_platform_loaded(plugins)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            """
            @hookimpl
            def register_permissions():
                return ["good.view"]
            """,
            "register_permissions() returned a str, expected Permission",
        ),
        (
            """
            @hookimpl
            def register_roles():
                return [Permission(id="x.y", title="t", description="d", area="a",
                                   scope_types=("course",))]
            """,
            "register_roles() returned a Permission, expected Role",
        ),
        (
            """
            @hookimpl
            def register_commands():
                return [print]
            """,
            "register_commands() returned a builtin_function_or_method, expected Command",
        ),
        (
            """
            @hookimpl
            def register_permissions():
                return 42
            """,
            "register_permissions() raised TypeError: 'int' object is not iterable",
        ),
        (
            """
            @hookimpl
            def register_roles():
                raise RuntimeError("database unavailable")
            """,
            "register_roles() raised RuntimeError: database unavailable",
        ),
    ],
    ids=["str", "permission-as-role", "function-as-command", "not-iterable", "hook-raises"],
)
def test_plugin_returning_the_wrong_thing_from_a_hook_is_skipped(
    site: Site, plugin_log: Callable[[], list[str]], body: str, reason: str
) -> None:
    site.plugin("good", GOOD)
    module = site.plugin("wrong", body)
    plugins = load()
    line = failed_line("wrong", "rolecall-wrong", "1.0", f"wrong = {module}", reason)
    assert_skipped_once(plugins, plugin_log, "wrong", line)
    assert only(plugins.info("good")).status == "loaded"
    assert plugins.manager.get_plugin("wrong") is None


def test_plugin_returning_none_from_a_hook_contributes_nothing(site: Site) -> None:
    site.plugin(
        "quiet",
        """
        @hookimpl
        def register_permissions():
            return None
        """,
    )
    plugins = load()
    info = only(plugins.info("quiet"))
    assert info.status == "loaded"
    assert info.contributes["permissions"] == []


def test_plugin_implementing_an_unknown_hook_is_skipped(
    site: Site, plugin_log: Callable[[], list[str]]
) -> None:
    module = site.plugin(
        "typo",
        textwrap.dedent(GOOD)
        + textwrap.dedent(
            """
            @hookimpl
            def register_permission():
                return []
            """
        ),
    )
    plugins = load()
    line = failed_line(
        "typo",
        "rolecall-typo",
        "1.0",
        f"typo = {module}",
        "implements unknown hook(s) register_permission",
    )
    assert_skipped_once(plugins, plugin_log, "typo", line)
    assert plugins.manager.get_plugin("typo") is None
    assert "good.view" not in plugins.registry.permissions  # its valid hooks are not used either


def test_plugin_whose_hookimpl_takes_an_unknown_argument_is_skipped(
    site: Site, plugin_log: Callable[[], list[str]]
) -> None:
    module = site.plugin(
        "argy",
        """
        @hookimpl
        def register_permissions(config):
            return []
        """,
    )
    plugins = load()
    reason = (
        "PluginValidationError: Plugin 'argy' for hook 'register_permissions' hookimpl "
        "definition: register_permissions(config) Argument(s) {'config'} are declared in the "
        "hookimpl but can not be found in the hookspec"
    )
    line = failed_line("argy", "rolecall-argy", "1.0", f"argy = {module}", reason)
    assert_skipped_once(plugins, plugin_log, "argy", line)


def test_plugin_whose_role_uses_an_unknown_permission_is_skipped_and_others_kept(
    site: Site, plugin_log: Callable[[], list[str]]
) -> None:
    site.plugin("good", GOOD)
    module = site.plugin(
        "badref",
        """
        @hookimpl
        def register_roles():
            return [Role(id="badref_role", title="t", description="d",
                         scope_types=("course",), permissions=("nobody.view",))]
        """,
    )
    plugins = load()
    reason = "role 'badref_role' (plugin 'badref') uses unknown permission 'nobody.view'"
    line = failed_line("badref", "rolecall-badref", "1.0", f"badref = {module}", reason)
    assert_skipped_once(plugins, plugin_log, "badref", line)
    assert "badref_role" not in plugins.registry.roles
    assert only(plugins.info("good")).status == "loaded"
    assert "good_viewer" in plugins.registry.roles
    assert plugins.manager.get_plugin("badref") is None


def test_third_party_duplicating_a_builtin_scope_type_is_skipped(
    site: Site, plugin_log: Callable[[], list[str]]
) -> None:
    module = site.plugin(
        "dupscope",
        """
        @hookimpl
        def register_scope_types():
            return [ScopeType(id="course", title="Course", description="Mine.",
                              namespace="course-v9", pattern="course-v9:X",
                              example="course-v9:x", parse=lambda key: None)]
        """,
    )
    plugins = load()
    reason = "duplicate scope type 'course': registered by plugins 'platform' and 'dupscope'"
    line = failed_line("dupscope", "rolecall-dupscope", "1.0", f"dupscope = {module}", reason)
    assert_skipped_once(plugins, plugin_log, "dupscope", line)
    assert_platform_loaded(plugins)
    assert plugins.registry.origin["scope_type:course"] == "platform"
    assert "course-v9" not in plugins.registry.scopes.namespaces


SHARED = """
    @hookimpl
    def register_permissions():
        return [Permission(id="shared.view", title="t", description="d", area="a",
                           scope_types=("course",))]
"""


def test_later_of_two_plugins_registering_the_same_permission_is_skipped(
    site: Site, plugin_log: Callable[[], list[str]]
) -> None:
    # Distribution names sort the other way round: the order is the plugin names'.
    site.plugin("alpha", SHARED, dist="rolecall-zzz")
    beta = site.plugin("beta", SHARED, dist="rolecall-aaa")
    plugins = load()
    reason = "duplicate permission 'shared.view': registered by plugins 'alpha' and 'beta'"
    line = failed_line("beta", "rolecall-aaa", "1.0", f"beta = {beta}", reason)
    assert_skipped_once(plugins, plugin_log, "beta", line)
    assert only(plugins.info("alpha")).status == "loaded"
    assert plugins.registry.origin["permission:shared.view"] == "alpha"


DEPENDS_ON_BASE = """
    @hookimpl
    def register_roles():
        return [Role(id="dependent_role", title="t", description="d",
                     scope_types=("course",), permissions=("base.view",))]
"""


def test_plugin_depending_on_a_plugin_that_failed_to_import_is_skipped(
    site: Site, plugin_log: Callable[[], list[str]]
) -> None:
    base = site.plugin("base", "import rolecall_no_such_module_xyz\n")
    dependent = site.plugin("dependent", DEPENDS_ON_BASE)
    plugins = load()
    assert plugin_log() == [
        failed_line(
            "base",
            "rolecall-base",
            "1.0",
            f"base = {base}",
            "import failed: ModuleNotFoundError: No module named 'rolecall_no_such_module_xyz'",
        ),
        failed_line(
            "dependent",
            "rolecall-dependent",
            "1.0",
            f"dependent = {dependent}",
            "role 'dependent_role' (plugin 'dependent') uses unknown permission 'base.view'",
        ),
    ]
    assert only(plugins.info("dependent")).status == "failed"
    assert_platform_loaded(plugins)


def test_plugin_depending_on_a_plugin_skipped_by_the_registry_is_skipped(
    site: Site, plugin_log: Callable[[], list[str]]
) -> None:
    """Skipping one plugin for a registry error can make another one invalid in turn."""
    site.plugin(
        "base",
        """
        @hookimpl
        def register_permissions():
            return [Permission(id="base.view", title="t", description="d", area="a",
                               scope_types=("galaxy",))]
        """,
    )
    site.plugin("dependent", DEPENDS_ON_BASE)
    site.plugin("good", GOOD)
    plugins = load()
    log = plugin_log()
    assert len(log) == 2
    assert log[0].startswith("plugin 'base' skipped (")
    assert log[0].endswith(
        ": permission 'base.view' (plugin 'base') applies to unknown scope type 'galaxy'"
    )
    assert log[1].startswith("plugin 'dependent' skipped (")
    assert log[1].endswith(
        ": role 'dependent_role' (plugin 'dependent') uses unknown permission 'base.view'"
    )
    assert [(i.name, i.status) for i in plugins.plugins if not i.builtin] == [
        ("base", "failed"),
        ("dependent", "failed"),
        ("good", "loaded"),
    ]
    assert plugins.manager.get_plugin("base") is None
    assert plugins.manager.get_plugin("dependent") is None


def test_third_party_plugin_named_like_a_builtin_is_skipped(
    site: Site, plugin_log: Callable[[], list[str]]
) -> None:
    module = site.plugin("platform", GOOD, dist="rolecall-fake-platform")
    plugins = load()
    line = failed_line(
        "platform",
        "rolecall-fake-platform",
        "1.0",
        f"platform = {module}",
        "the name 'platform' is a built-in's",
    )
    assert_skipped_once(plugins, plugin_log, "platform", line)
    assert_platform_loaded(plugins)
    assert module not in sys.modules  # never imported
    assert "good.view" not in plugins.registry.permissions


def test_second_distribution_with_the_same_plugin_name_is_skipped(
    site: Site, plugin_log: Callable[[], list[str]]
) -> None:
    first = site.mod("rolecall_twin_a")
    second = site.mod("rolecall_twin_b")
    site.dist("rolecall-twin-b", {"good": second}, {second: HEADER + textwrap.dedent(GOOD)})
    site.dist("rolecall-twin-a", {"good": first}, {first: HEADER + textwrap.dedent(GOOD)})
    plugins = load()
    line = failed_line(
        "good",
        "rolecall-twin-b",
        "1.0",
        f"good = {second}",
        "the plugin name 'good' is already used by distribution rolecall-twin-a",
    )
    assert_skipped_once(plugins, plugin_log, "good", line)
    loaded = [i for i in plugins.plugins if i.name == "good" and i.status == "loaded"]
    assert [i.distribution for i in loaded] == ["rolecall-twin-a"]
    assert second not in sys.modules  # the skipped one is never imported
    assert plugins.registry.origin["permission:good.view"] == "good"


def test_same_name_plugin_failing_registry_validation_is_skipped(
    site: Site, plugin_log: Callable[[], list[str]]
) -> None:
    body = """
        @hookimpl
        def register_roles():
            return [Role(id="r", title="t", description="d", scope_types=("course",),
                         permissions=("nobody.view",))]
    """
    first = site.mod("rolecall_twin_a")
    second = site.mod("rolecall_twin_b")
    site.dist("rolecall-twin-a", {"good": first}, {first: HEADER + textwrap.dedent(body)})
    site.dist("rolecall-twin-b", {"good": second}, {second: HEADER + textwrap.dedent(body)})
    plugins = load()
    assert [i.status for i in plugins.plugins if i.name == "good"] == ["failed", "failed"]
    assert len(plugin_log()) == 2


def test_same_distribution_found_twice_on_sys_path_is_loaded_once(
    site: Site, plugin_log: Callable[[], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = site.mod("rolecall_good")
    source = {module: HEADER + textwrap.dedent(GOOD)}
    for copy in ("one", "two"):
        folder = site.root.parent / copy
        site.dist("rolecall-good", {"good": module}, source, root=folder)
        monkeypatch.syspath_prepend(str(folder))
    found = [d for d in importlib_metadata.distributions() if d.metadata["Name"] == "rolecall-good"]
    assert len(found) == 2  # really on sys.path twice
    plugins = load()
    assert [i.status for i in plugins.plugins if i.name == "good"] == ["loaded"]
    assert plugin_log() == []


def test_entry_points_parameter_replaces_discovery(site: Site) -> None:
    site.plugin("good", GOOD)
    plugins = load(entry_points=[])
    assert plugins.info("good") is None
    assert_platform_loaded(plugins)


def test_entry_points_parameter_deduplicates_the_same_entry_point(
    site: Site, plugin_log: Callable[[], list[str]]
) -> None:
    site.plugin("good", GOOD)
    found = list(importlib_metadata.entry_points(group=ENTRY_POINT_GROUP, name="good"))
    assert len(found) == 1
    plugins = load(entry_points=found * 2)
    assert [i.status for i in plugins.plugins if i.name == "good"] == ["loaded"]
    assert plugin_log() == []


# --- commands ------------------------------------------------------------------------------


def command_plugin(name: str) -> str:
    return f"""
        @click.command({name!r})
        def command():
            "A command."

        @hookimpl
        def register_commands():
            return [command]
    """


def test_plugin_commands_are_collected(site: Site) -> None:
    site.plugin("hello", command_plugin("hello-world"))
    plugins = load(reserved_commands=["plugins", "roles"])
    # The built-ins' commands (the legacy plugin's group) come first, in load order.
    assert [c.name for c in plugins.commands] == ["legacy", "hello-world"]
    assert only(plugins.info("hello")).contributes["commands"] == ["hello-world"]


def test_plugin_contributing_a_reserved_command_is_skipped(
    site: Site, plugin_log: Callable[[], list[str]]
) -> None:
    module = site.plugin("clash", command_plugin("plugins"))
    plugins = load(reserved_commands=["plugins", "roles"])
    line = failed_line(
        "clash", "rolecall-clash", "1.0", f"clash = {module}", "command 'plugins' is already taken"
    )
    assert_skipped_once(plugins, plugin_log, "clash", line)
    assert [c.name for c in plugins.commands] == ["legacy"]


def test_second_plugin_contributing_the_same_command_is_skipped(
    site: Site, plugin_log: Callable[[], list[str]]
) -> None:
    site.plugin("first", command_plugin("report"))
    second = site.plugin("second", command_plugin("report"))
    plugins = load()
    line = failed_line(
        "second",
        "rolecall-second",
        "1.0",
        f"second = {second}",
        "command 'report' is already taken",
    )
    assert_skipped_once(plugins, plugin_log, "second", line)
    assert [c.name for c in plugins.commands] == ["legacy", "report"]


# --- strict mode ---------------------------------------------------------------------------

# Each failing plugin is named "bad" (distribution rolecall-bad), except where its name is
# the failure; the value is the source of its module.
FAILURES: dict[str, tuple[str, str]] = {
    "import": ("bad", "import rolecall_no_such_module_xyz\n"),
    "validation": (
        "bad",
        """
        @hookimpl
        def register_permissions():
            return [Permission(id="Bad", title="t", description="d", area="a",
                               scope_types=("course",))]
        """,
    ),
    "wrong_type": ("bad", "@hookimpl\ndef register_roles():\n    return [1]\n"),
    "unknown_hook": ("bad", "@hookimpl\ndef register_role():\n    return []\n"),
    "registry": (
        "bad",
        """
        @hookimpl
        def register_roles():
            return [Role(id="r", title="t", description="d", scope_types=("course",),
                         permissions=("nobody.view",))]
        """,
    ),
    "builtin_name": ("platform", GOOD),
    "reserved_command": ("bad", command_plugin("plugins")),
}


@pytest.mark.parametrize("failure", sorted(FAILURES))
def test_strict_mode_turns_a_failure_into_plugin_error_with_the_same_line(
    site: Site, plugin_log: Callable[[], list[str]], failure: str
) -> None:
    name, source = FAILURES[failure]
    site.plugin(name, source, dist="rolecall-bad")
    lenient = load(reserved_commands=["plugins"])
    [line] = plugin_log()
    assert line.startswith(f"plugin {name!r} skipped (distribution rolecall-bad 1.0, ")
    with pytest.raises(PluginError) as info:
        load(PluginSettings(strict=True), reserved_commands=["plugins"])
    assert str(info.value) == line
    assert lenient.warnings == (line,)


def test_strict_mode_passes_when_every_plugin_loads(site: Site) -> None:
    site.plugin("good", GOOD)
    plugins = load(PluginSettings(strict=True))
    assert only(plugins.info("good")).status == "loaded"


# --- disabling and requiring ---------------------------------------------------------------


def test_disabled_plugin_is_not_loaded(site: Site, plugin_log: Callable[[], list[str]]) -> None:
    module = site.plugin("good", GOOD)
    plugins = load(PluginSettings(disabled=frozenset({"good"})))
    info = only(plugins.info("good"))
    assert info.status == "disabled"
    assert info.hooks == ()
    assert module not in sys.modules  # never imported
    assert "good.view" not in plugins.registry.permissions
    assert plugin_log() == []


def test_disabled_plugin_is_read_from_the_environment(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.plugin("good", GOOD)
    monkeypatch.setenv("ROLECALL_DISABLE_PLUGINS", " good ")
    plugins = _load_plugins()
    assert only(plugins.info("good")).status == "disabled"


def test_disabling_platform_is_refused(site: Site) -> None:
    with pytest.raises(PluginError, match=r"^the 'platform' plugin cannot be disabled"):
        load(PluginSettings(disabled=frozenset({"platform"})))


def test_disabling_an_unknown_plugin_gives_a_warning(
    site: Site, plugin_log: Callable[[], list[str]]
) -> None:
    site.plugin("good", GOOD)
    plugins = load(PluginSettings(disabled=frozenset({"nope"})))
    line = "ROLECALL_DISABLE_PLUGINS names 'nope', which is not installed"
    assert plugin_log() == [line]
    assert plugins.warnings == (line,)
    assert only(plugins.info("good")).status == "loaded"


def test_required_plugin_present_passes(site: Site) -> None:
    site.plugin("good", GOOD)
    plugins = load(PluginSettings(required=frozenset({"good", "platform"})))
    assert only(plugins.info("good")).status == "loaded"


def test_required_plugin_missing_raises(site: Site) -> None:
    with pytest.raises(PluginError, match=r"^required plugin 'good' is not installed$"):
        load(PluginSettings(required=frozenset({"good"})))


def test_required_plugin_disabled_raises(site: Site) -> None:
    site.plugin("good", GOOD)
    settings = PluginSettings(disabled=frozenset({"good"}), required=frozenset({"good"}))
    with pytest.raises(
        PluginError, match=r"^required plugin 'good' is disabled by ROLECALL_DISABLE_PLUGINS$"
    ):
        load(settings)


def test_required_plugin_failed_raises(site: Site) -> None:
    site.plugin("good", "import rolecall_no_such_module_xyz\n")
    with pytest.raises(
        PluginError,
        match=(
            r"^required plugin 'good' failed to load: import failed: ModuleNotFoundError: "
            r"No module named 'rolecall_no_such_module_xyz'$"
        ),
    ):
        load(PluginSettings(required=frozenset({"good"})))


# --- settings from the environment ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "strict"),
    [
        ("1", True),
        ("true", True),
        ("TRUE", True),
        (" yes ", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("no", False),
        ("off", False),
        ("", False),
    ],
)
def test_from_env_reads_strict(text: str, strict: bool) -> None:
    assert PluginSettings.from_env({"ROLECALL_STRICT_PLUGINS": text}).strict is strict


@pytest.mark.parametrize("text", ["maybe", "2", "y"])
def test_from_env_refuses_a_strict_value_that_is_not_yes_or_no(text: str) -> None:
    with pytest.raises(
        PluginError, match=rf"^ROLECALL_STRICT_PLUGINS='{text}' is not a yes/no value; use 1 or 0$"
    ):
        PluginSettings.from_env({"ROLECALL_STRICT_PLUGINS": text})


def test_from_env_defaults_when_nothing_is_set() -> None:
    assert PluginSettings.from_env({}) == PluginSettings(
        strict=False, disabled=frozenset(), required=frozenset()
    )


def test_from_env_splits_and_trims_plugin_lists() -> None:
    settings = PluginSettings.from_env(
        {
            "ROLECALL_DISABLE_PLUGINS": " ccx , other,,  ",
            "ROLECALL_REQUIRE_PLUGINS": "good,  platform",
        }
    )
    assert settings.disabled == {"ccx", "other"}
    assert settings.required == {"good", "platform"}


def test_from_env_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLECALL_STRICT_PLUGINS", "1")
    monkeypatch.setenv("ROLECALL_REQUIRE_PLUGINS", "a,b")
    monkeypatch.delenv("ROLECALL_DISABLE_PLUGINS", raising=False)
    settings = PluginSettings.from_env()
    assert settings.strict is True
    assert settings.required == {"a", "b"}
    assert settings.disabled == frozenset()


# --------------------------------------------------- registry hooks go through pluggy's caller


def _permission(pid: str) -> Permission:
    return Permission(
        id=pid, title=f"Title {pid}", description="A permission.", area="A", scope_types=("course",)
    )


class _Notes:
    @hookimpl
    def register_permissions(self) -> list[Permission]:
        return [_permission("notes.view"), _permission("notes.edit")]


class _Marker:
    """A hook wrapper around every plugin's ``register_permissions``: it marks their titles."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    @hookimpl(wrapper=True)
    def register_permissions(self) -> Iterator[None]:
        results = yield
        self.calls.append([p.id for result in results for p in result])
        return [  # type: ignore[return-value]
            [p.model_copy(update={"title": f"Marked: {p.title}"}) for p in result]
            for result in results
        ]


def test_a_hook_wrapper_wraps_each_plugins_registry_hook_and_records_keep_their_plugin() -> None:
    marker = _Marker()
    only_platform = PluginSettings(disabled=frozenset(BUILTIN_PLUGINS) - {"platform"})
    # The wrapper's plugin is registered last: it still wraps the plugins loaded before it.
    plugins = _load_plugins(only_platform, entry_points=[], extra={"notes": _Notes(), "m": marker})
    assert [p.status for p in plugins.plugins if p.name in ("notes", "m")] == ["loaded", "loaded"]
    registry = plugins.registry
    assert registry.permissions
    assert all(p.title.startswith("Marked: ") for p in registry.permissions.values())
    assert registry.contributed_by("notes")["permissions"] == ["notes.view", "notes.edit"]
    platform_ids = registry.contributed_by("platform")["permissions"]
    assert platform_ids
    assert all(registry.origin[f"permission:{p}"] == "platform" for p in platform_ids)
    # One call per plugin with permissions, each seeing only that plugin's records.
    assert marker.calls == [platform_ids, ["notes.view", "notes.edit"]]


class _TwoImplementations:
    @hookimpl(specname="register_permissions")
    def first(self) -> list[Permission]:
        return [_permission("two.first")]

    @hookimpl(specname="register_permissions")
    def second(self) -> list[Permission]:
        return [_permission("two.second")]


def test_several_implementations_of_one_hook_keep_the_plugins_order() -> None:
    only_platform = PluginSettings(disabled=frozenset(BUILTIN_PLUGINS) - {"platform"})
    plugins = _load_plugins(only_platform, entry_points=[], extra={"two": _TwoImplementations()})
    assert plugins.registry.contributed_by("two")["permissions"] == ["two.first", "two.second"]


def test_the_registry_hooks_and_their_record_types_come_from_the_hookspecs() -> None:
    records = hookspecs.registry_hook_records()
    assert tuple(records) == hookspecs.REGISTRY_HOOKS
    assert records["register_permissions"] is Permission
    assert records["register_commands"] is click.Command
    assert records["register_console_pages"] is ConsolePage  # collected and checked at load


class _PagePlugin:
    """A permission and a console page that needs ``needs``."""

    def __init__(self, needs: str) -> None:
        self.needs = needs

    @hookimpl
    def register_permissions(self) -> list[Permission]:
        return [_permission("pages.view")]

    @hookimpl
    def register_console_pages(self) -> list[ConsolePage]:
        return [
            ConsolePage(
                id="pages",
                title="Pages",
                description="A page.",
                permission=self.needs,
                render=lambda viewer, rolecall: "hello",
            )
        ]


def test_a_console_page_is_a_contribution_checked_and_listed_at_load() -> None:
    only_platform = PluginSettings(disabled=frozenset(BUILTIN_PLUGINS) - {"platform"})
    plugins = _load_plugins(
        only_platform, entry_points=[], extra={"pages": _PagePlugin("pages.view")}
    )
    info = only(plugins.info("pages"))
    assert info.status == "loaded"
    assert info.contributes["console_pages"] == ["pages"]
    assert list(plugins.registry.console_pages) == ["pages"]


def test_a_console_page_needing_an_unregistered_permission_skips_its_plugin() -> None:
    only_platform = PluginSettings(disabled=frozenset(BUILTIN_PLUGINS) - {"platform"})
    plugins = _load_plugins(
        only_platform,
        entry_points=[],
        extra={"pages": _PagePlugin("pages.viwe"), "fine": _TwoImplementations()},
    )
    info = only(plugins.info("pages"))
    assert info.status == "failed"
    assert (
        info.error == "console page 'pages' (plugin 'pages') needs unknown permission 'pages.viwe'"
    )
    assert plugins.registry.console_pages == {}
    assert "pages.view" not in plugins.registry.permissions
    assert only(plugins.info("fine")).status == "loaded"
    with pytest.raises(PluginError, match=r"needs unknown permission 'pages\.viwe'"):
        _load_plugins(
            PluginSettings(strict=True, disabled=only_platform.disabled),
            entry_points=[],
            extra={"pages": _PagePlugin("pages.viwe")},
        )
