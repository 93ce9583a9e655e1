"""Open edX's own keys are scope keys: old-style course keys (``MITx/6.002x/2012_Fall``) and
v1 library keys (``library-v1:MITx+physics``), each with its org as parent, kept byte for byte;
the other forms still resolve as before, and hostile text is refused with one clear line."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rolecall.builtin_plugins import BUILTIN_PLUGINS
from rolecall.builtin_plugins.platform import register_scope_types
from rolecall.core import (
    ParsedKey,
    PluginError,
    PluginSettings,
    Rolecall,
    ScopeKeyError,
    ScopeResolver,
    ScopeType,
    hookimpl,
    load_plugins,
)

OLD = "MITx/6.002x/2012_Fall"
V1_LIBRARY = "library-v1:MITx+physics"


@pytest.fixture
def resolver() -> ScopeResolver:
    return ScopeResolver(register_scope_types())


def test_an_old_style_course_key_is_a_course_of_its_org(resolver: ScopeResolver) -> None:
    scope = resolver.resolve(OLD)
    assert scope.key == OLD
    assert scope.type == "course"
    assert scope.fields == {"org": "MITx", "course": "6.002x", "run": "2012_Fall"}
    assert scope.chain == (OLD, "org:MITx", "platform")


def test_a_v1_library_key_is_a_library_of_its_org(resolver: ScopeResolver) -> None:
    scope = resolver.resolve(V1_LIBRARY)
    assert scope.key == V1_LIBRARY
    assert scope.type == "library"
    assert scope.fields == {"org": "MITx", "library": "physics"}
    assert scope.chain == (V1_LIBRARY, "org:MITx", "platform")


def test_the_other_forms_still_resolve(resolver: ScopeResolver) -> None:
    assert resolver.resolve("course-v1:MITx+6.002x+2012_Fall").type == "course"
    assert resolver.resolve("lib:MITx:physics").type == "library"
    assert resolver.resolve("platform").type == "platform"
    assert resolver.resolve("org:MITx").type == "org"
    # An old-style key and the course-v1 key of the same parts are two courses, as in Open edX.
    assert resolver.resolve(OLD) != resolver.resolve("course-v1:MITx+6.002x+2012_Fall")


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("MITx/6.002x", "it has 2 part(s) where 3 are needed"),
        ("MITx/6.002x/2012_Fall/extra", "it has 4 part(s) where 3 are needed"),
        ("/6.002x/2012_Fall", "the org is empty"),
        ("MITx//2012_Fall", "the course is empty"),
        ("MITx/6.002x/", "the run is empty"),
        ("../etc/passwd", "the org '..' may hold only"),
        ("MITx/6.002x/2012 Fall", "the run '2012 Fall' may hold only"),
        ("MITx/6.002x/2012_Fall\n", "may hold only"),
        ("MITx/6.0\x002x/2012_Fall", "may hold only"),
        ("Éco/6.002x/2012_Fall", "may hold only"),
        ("library-v1:MITx", "it has 1 part(s) where 2 are needed"),
        ("library-v1:MITx+physics+extra", "it has 3 part(s) where 2 are needed"),
        ("library-v1:MITx+../x", "may hold only"),
        ("library-v1:+physics", "the org is empty"),
    ],
)
def test_malformed_open_edx_keys_are_refused_clearly(
    resolver: ScopeResolver, key: str, reason: str
) -> None:
    with pytest.raises(ScopeKeyError) as info:
        resolver.resolve(key)
    message = str(info.value)
    assert message.startswith(f"malformed {'library' if 'library' in key else 'course'} key ")
    assert reason in message
    assert not any(ord(c) < 32 for c in message)  # one message, one log line
    assert info.value.key == key


def test_a_key_with_a_colon_is_never_an_old_style_key(resolver: ScopeResolver) -> None:
    with pytest.raises(ScopeKeyError, match=r"^unknown scope key 'MITx:6.002x/2012_Fall'"):
        resolver.resolve("MITx:6.002x/2012_Fall")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("aZ09_.~-/:+é \n\x00"), max_size=40))
def test_any_slashed_text_resolves_or_raises_scope_key_error(key: str) -> None:
    resolver = ScopeResolver(register_scope_types())
    try:
        scope = resolver.resolve(key)
    except ScopeKeyError:
        return
    assert scope.key == key
    assert scope.chain[-1] == "platform"


def test_only_one_scope_type_may_claim_slash_keys() -> None:
    class Rival:
        @hookimpl
        def register_scope_types(self) -> list[ScopeType]:
            return [
                ScopeType(
                    id="path",
                    title="Path",
                    description="Paths.",
                    namespace="path",
                    pattern="A/B",
                    example="path:x",
                    parse=lambda key: ParsedKey(fields={}, parent="platform"),
                    slash_keys=True,
                )
            ]

    only_platform = PluginSettings(disabled=frozenset(BUILTIN_PLUGINS) - {"platform"}, strict=True)
    with pytest.raises(PluginError, match="registered by plugins 'platform' and 'rival'"):
        load_plugins(only_platform, entry_points=[], extra={"rival": Rival()})


def test_grants_on_open_edx_keys_are_kept_byte_for_byte(rc: Rolecall) -> None:
    rc.add_user("ada")
    rc.assign("ada", "viewer", OLD)
    rc.assign("ada", "librarian", V1_LIBRARY)
    assert {(g.role, g.scope) for g in rc.grants("ada")} == {
        ("viewer", OLD),
        ("librarian", V1_LIBRARY),
    }
    assert rc.check("ada", "t.view", OLD)
    assert rc.check("ada", "lib.edit", V1_LIBRARY)
    assert not rc.check("ada", "t.view", "course-v1:MITx+6.002x+2012_Fall")
    assert rc.scopes_where("ada", "t.view") == [OLD]
    assert [m.user for m in rc.who("org:MITx").members] == []
    assert rc.who(OLD).members[0].grants[0].scope == OLD
