"""Every hook rolecall calls goes through pluggy: a hook wrapper and pluggy's call monitoring
see ``assignment_changed``, ``lookup_scopes`` and ``find_scopes`` as they see the registry
hooks, each plugin called on its own (a failing plugin is logged, the others still run)."""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from rolecall.core import PluginSettings, Rolecall, UnknownScopeError, hookimpl, load_plugins
from rolecall.core.known_scopes import find

CIRCUITS = "course-v1:MITx+6.002x+2026_T1"
NEW = "course-v1:MITx+NEW+2027"


class Catalogue:
    @hookimpl
    def lookup_scopes(self, keys: Sequence[str]) -> list[tuple[str, str | None]]:
        return [(NEW, "Brand new")] if NEW.casefold() in {k.casefold() for k in keys} else []

    @hookimpl
    def find_scopes(self, query: str, limit: int) -> list[tuple[str, str | None]]:
        return [(NEW, "Brand new")][:limit]


class Broken:
    @hookimpl
    def find_scopes(self, query: str, limit: int) -> list[tuple[str, str | None]]:
        raise RuntimeError("the platform is away")

    @hookimpl
    def assignment_changed(self, event: Any) -> None:
        raise RuntimeError("the bus is away")


class Listener:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    @hookimpl
    def assignment_changed(self, event: Any) -> None:
        self.events.append((event.action, event.user, event.scope))


class Wrapper:
    """A hook wrapper of every hook it names: records each call it wraps."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl(wrapper=True)
    def assignment_changed(self) -> Generator[None, Any, Any]:
        self.seen.append("assignment_changed")
        return (yield)

    @hookimpl(wrapper=True)
    def lookup_scopes(self) -> Generator[None, Any, Any]:
        self.seen.append("lookup_scopes")
        return (yield)

    @hookimpl(wrapper=True)
    def find_scopes(self) -> Generator[None, Any, Any]:
        self.seen.append("find_scopes")
        return (yield)


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[tuple[Rolecall, Wrapper, Listener, list[str]]]:
    wrapper, listener = Wrapper(), Listener()
    plugins = load_plugins(
        PluginSettings(),
        entry_points=[],
        extra={"catalogue": Catalogue(), "broken": Broken(), "listener": listener, "wrap": wrapper},
    )
    monitored: list[str] = []
    plugins.manager.add_hookcall_monitoring(
        lambda hook, impls, kwargs: monitored.append(hook), lambda *args: None
    )
    rc = Rolecall.open(
        f"sqlite:///{tmp_path / 'rc.db'}", plugins=plugins, background_sync=False, staleness=0
    )
    rc.add_users(["root", "olivia", "grace"])
    rc.add_scopes([CIRCUITS])
    rc.assign("root", "platform_admin", "platform")
    rc.assign("olivia", "org_admin", "org:MITx")
    yield rc, wrapper, listener, monitored
    rc.close()


def test_assignment_changed_goes_through_pluggy(
    parts: tuple[Rolecall, Wrapper, Listener, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    rc, wrapper, listener, monitored = parts
    wrapper.seen.clear()
    monitored.clear()
    listener.events.clear()
    rc.assign("grace", "course_staff", CIRCUITS)
    assert listener.events == [("assign", "grace", CIRCUITS)]  # the broken plugin stopped nothing
    assert "plugin 'broken' failed in assignment_changed" in caplog.text
    # One call per plugin (the built-in communications plugin's, the listener's, the broken
    # one's), each wrapped and monitored.
    assert wrapper.seen == ["assignment_changed"] * 3
    assert monitored.count("assignment_changed") == 3


def test_the_scope_catalogue_goes_through_pluggy(
    parts: tuple[Rolecall, Wrapper, Listener, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    rc, wrapper, _listener, monitored = parts
    wrapper.seen.clear()
    monitored.clear()
    rc.assign("grace", "course_staff", NEW, as_user="olivia", known_only=True)
    assert "lookup_scopes" in wrapper.seen
    assert "lookup_scopes" in monitored
    with pytest.raises(UnknownScopeError):
        rc.assign("grace", "course_staff", NEW.lower() + "x", as_user="olivia", known_only=True)
    assert find(rc.plugins, "new", 10) == [(NEW, "Brand new")]
    assert "plugin 'broken' failed in find_scopes" in caplog.text
    assert "find_scopes" in wrapper.seen
    assert "find_scopes" in monitored
