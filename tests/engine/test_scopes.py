"""Scope keys: parsing through `ScopeResolver`, error messages, caching and `split_key`."""

from __future__ import annotations

import doctest
import importlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from conftest import load_only
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rolecall.builtin_plugins.platform import register_scope_types
from rolecall.core import (
    BadInputError,
    ParsedKey,
    Scope,
    ScopeKeyError,
    ScopeResolver,
    ScopeType,
    hookimpl,
    split_key,
)

CCX_DIR = Path(__file__).parents[2] / "plugins" / "ccx"

COURSE = "course-v1:MITx+6.002x+2026_T1"
CCX = "ccx-v1:MITx+6.002x+2026_T1+ccx@3"

PATTERNS = {
    "platform": ("platform", "platform"),
    "org": ("org:ORG", "org:MITx"),
    "course": ("course-v1:ORG+COURSE+RUN", COURSE),
    "library": ("lib:ORG:LIBRARY", "lib:MITx:physics"),
    "ccx": ("ccx-v1:ORG+COURSE+RUN+ccx@N", CCX),
}


def platform_resolver(cache_size: int = 200_000) -> ScopeResolver:
    return ScopeResolver(register_scope_types(), cache_size=cache_size)


@pytest.fixture
def resolver() -> ScopeResolver:
    return platform_resolver()


@pytest.fixture
def ccx_plugin(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The ``rolecall_ccx`` module from the source tree (it is not installed in the venv)."""
    monkeypatch.syspath_prepend(str(CCX_DIR))
    already = sys.modules.get("rolecall_ccx")
    module = importlib.import_module("rolecall_ccx")
    yield module
    if already is None:
        sys.modules.pop("rolecall_ccx", None)


@pytest.fixture
def ccx_resolver(ccx_plugin: ModuleType) -> ScopeResolver:
    return ScopeResolver([*register_scope_types(), *ccx_plugin.register_scope_types()])


# --- valid keys ----------------------------------------------------------------------------


def test_platform_key(resolver: ScopeResolver) -> None:
    scope = resolver.resolve("platform")
    assert scope == Scope(key="platform", type="platform", fields={}, chain=("platform",))
    assert scope.parent is None


def test_org_key(resolver: ScopeResolver) -> None:
    scope = resolver.resolve("org:MITx")
    assert scope.key == "org:MITx"
    assert scope.type == "org"
    assert scope.fields == {"org": "MITx"}
    assert scope.chain == ("org:MITx", "platform")
    assert scope.parent == "platform"


def test_course_key(resolver: ScopeResolver) -> None:
    scope = resolver.resolve(COURSE)
    assert scope.type == "course"
    assert scope.fields == {"org": "MITx", "course": "6.002x", "run": "2026_T1"}
    assert scope.chain == (COURSE, "org:MITx", "platform")
    assert scope.parent == "org:MITx"


def test_library_key(resolver: ScopeResolver) -> None:
    scope = resolver.resolve("lib:MITx:physics")
    assert scope.type == "library"
    assert scope.fields == {"org": "MITx", "library": "physics"}
    assert scope.chain == ("lib:MITx:physics", "org:MITx", "platform")
    assert scope.parent == "org:MITx"


def test_ccx_key_chain_goes_through_course_and_org(ccx_resolver: ScopeResolver) -> None:
    scope = ccx_resolver.resolve(CCX)
    assert scope.type == "ccx"
    assert scope.fields == {"org": "MITx", "course": "6.002x", "run": "2026_T1", "ccx": "3"}
    assert scope.chain == (CCX, COURSE, "org:MITx", "platform")
    assert scope.parent == COURSE
    assert [ccx_resolver.resolve(k).type for k in scope.chain] == [
        "ccx",
        "course",
        "org",
        "platform",
    ]


def test_ccx_key_is_unknown_without_the_ccx_plugin(resolver: ScopeResolver) -> None:
    with pytest.raises(ScopeKeyError, match=r"^unknown scope key 'ccx-v1:"):
        resolver.resolve(CCX)


def test_chain_method_matches_resolved_chain(resolver: ScopeResolver) -> None:
    assert resolver.chain(COURSE) == (COURSE, "org:MITx", "platform")


def test_namespaces_are_the_platform_ones(resolver: ScopeResolver) -> None:
    assert set(resolver.namespaces) == {"platform", "org", "course-v1", "lib", "library-v1"}


@pytest.mark.parametrize(
    "key",
    [
        "org:_",
        "org:a.b~c-d_e",
        "course-v1:a+b+c",
        "course-v1:M.I.T+6.00.1x+2026~T1-x",
        "lib:_x:y-z",
        "org:" + "a" * 251,  # exactly the 255-character limit
    ],
)
def test_unusual_but_valid_keys_parse(resolver: ScopeResolver, key: str) -> None:
    assert resolver.resolve(key).chain[0] == key


# --- malformed keys ------------------------------------------------------------------------


def assert_malformed(resolver: ScopeResolver, key: str, type_id: str, reason: str) -> None:
    pattern, example = PATTERNS[type_id]
    expected = (
        f"malformed {type_id} key {key!r}: {reason}; expected {pattern}, for example {example}"
    )
    with pytest.raises(ScopeKeyError, match=f"^{re.escape(expected)}$") as info:
        resolver.resolve(key)
    assert info.value.key == key


@pytest.mark.parametrize(
    ("key", "type_id", "reason"),
    [
        ("course-v1:MITx", "course", "it has 1 part(s) where 3 are needed"),
        ("course-v1:MITx+6.002x", "course", "it has 2 part(s) where 3 are needed"),
        ("course-v1:MITx+6.002x+a+b", "course", "it has 4 part(s) where 3 are needed"),
        ("course-v1:+a+b", "course", "the org is empty"),
        ("course-v1:MITx++b", "course", "the course is empty"),
        ("course-v1:MITx+a+", "course", "the run is empty"),
        ("course-v1:", "course", "it has 1 part(s) where 3 are needed"),
        ("lib::x", "library", "the org is empty"),
        ("lib:MITx", "library", "it has 1 part(s) where 2 are needed"),
        ("lib:MITx:", "library", "the library is empty"),
        ("org:", "org", "the org is empty"),
        (
            "org:..",
            "org",
            "the org '..' may hold only letters, digits and _ . ~ - (and not start with . ~ -)",
        ),
        (
            "org:-x",
            "org",
            "the org '-x' may hold only letters, digits and _ . ~ - (and not start with . ~ -)",
        ),
        ("platform:x", "platform", "the platform scope has the single key 'platform'"),
    ],
)
def test_malformed_key_names_key_pattern_and_example(
    resolver: ScopeResolver, key: str, type_id: str, reason: str
) -> None:
    assert_malformed(resolver, key, type_id, reason)


@pytest.mark.parametrize(
    "key",
    [
        "org:MIT x",  # space
        "course-v1:MITx+6.002x+2026 T1",
        "lib:MITx:phys ics",
        "org:MITx\n",  # trailing newline
        "org:MI\x00Tx",  # NUL
        "course-v1:MITx+6.002x\t+2026_T1",  # tab
        "lib:MITx:phys\x1bics",  # escape
        "org:../etc",  # path traversal
        "lib:MITx:../../etc/passwd",
        "course-v1:..+..+passwd",
        "course-v1:MITx+../x+run",
        "org:MITx/../other",
        "org:Éco",  # non-ASCII letters are not allowed
    ],
)
def test_key_with_forbidden_characters_is_malformed(resolver: ScopeResolver, key: str) -> None:
    with pytest.raises(ScopeKeyError) as info:
        resolver.resolve(key)
    message = str(info.value)
    type_id = {"org": "org", "lib": "library", "course-v1": "course"}[key.split(":", 1)[0]]
    pattern, example = PATTERNS[type_id]
    assert message.startswith(f"malformed {type_id} key {key!r}: ")
    assert message.endswith(f"; expected {pattern}, for example {example}")
    assert "may hold only letters, digits and _ . ~ -" in message
    # Control characters are escaped, so one message stays one log line.
    assert not any(ord(c) < 32 for c in message)


@pytest.mark.parametrize(
    "key", ["Platform", "foo", "", " platform", "platform ", "..", "x:../etc/passwd", ":x"]
)
def test_key_of_unknown_namespace_lists_the_valid_examples(
    resolver: ScopeResolver, key: str
) -> None:
    expected = (
        f"unknown scope key {key!r}: a valid key looks like one of platform, org:MITx, "
        f"{COURSE}, lib:MITx:physics"
    )
    with pytest.raises(ScopeKeyError, match=f"^{re.escape(expected)}$") as info:
        resolver.resolve(key)
    assert info.value.key == key


def test_unknown_namespace_lists_plugin_examples_too(ccx_resolver: ScopeResolver) -> None:
    with pytest.raises(ScopeKeyError, match=re.escape(f", lib:MITx:physics, {CCX}")):
        ccx_resolver.resolve("foo")


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("ccx-v1:MITx+6.002x+2026_T1", "it does not end with +ccx@N"),
        (
            "ccx-v1:MITx+6.002x+2026_T1+ccx@0",
            "the custom course number '0' is not a positive number",
        ),
        (
            "ccx-v1:MITx+6.002x+2026_T1+ccx@x",
            "the custom course number 'x' is not a positive number",
        ),
        ("ccx-v1:MITx+6.002x+ccx@3", "it has 2 part(s) where 3 are needed"),
        ("ccx-v1:MITx+6.002x+2026_T1+ccx@3+ccx@4", "it has 4 part(s) where 3 are needed"),
    ],
)
def test_malformed_ccx_key(ccx_resolver: ScopeResolver, key: str, reason: str) -> None:
    assert_malformed(ccx_resolver, key, "ccx", reason)


def test_too_long_key_is_refused_before_parsing(resolver: ScopeResolver) -> None:
    key = "org:" + "a" * 252  # 256 characters: the org part itself is fine
    with pytest.raises(ScopeKeyError, match=r"is longer than 255 characters$") as info:
        resolver.resolve(key)
    assert info.value.key == key
    message = str(info.value)
    assert message.startswith("scope key 'org:aaaa")
    assert len(message) < 150  # the key is shortened in the message


def test_scope_key_error_is_bad_input_and_value_error(resolver: ScopeResolver) -> None:
    assert issubclass(ScopeKeyError, BadInputError)
    assert issubclass(ScopeKeyError, ValueError)
    with pytest.raises(ValueError, match="malformed course key"):
        resolver.resolve("course-v1:MITx")
    with pytest.raises(BadInputError, match="malformed course key"):
        resolver.resolve("course-v1:MITx")


def test_scope_key_error_carries_the_reason(resolver: ScopeResolver) -> None:
    with pytest.raises(ScopeKeyError) as info:
        resolver.resolve("org:")
    assert info.value.reason == str(info.value)
    assert "the org is empty" in info.value.reason


@pytest.mark.parametrize(
    ("key", "type_name"), [(None, "NoneType"), (42, "int"), (b"platform", "bytes"), (1.5, "float")]
)
def test_non_string_key_is_a_scope_key_error(
    resolver: ScopeResolver, key: object, type_name: str
) -> None:
    with pytest.raises(ScopeKeyError, match=f"^a scope key must be text, not {type_name}$"):
        resolver.resolve(key)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", [["platform"], {"platform": 1}])
def test_unhashable_non_string_key_is_a_scope_key_error(
    resolver: ScopeResolver, key: object
) -> None:
    with pytest.raises(ScopeKeyError, match="a scope key must be text"):
        resolver.resolve(key)  # type: ignore[arg-type]


# --- caching -------------------------------------------------------------------------------


def test_resolving_twice_returns_the_identical_object(resolver: ScopeResolver) -> None:
    first = resolver.resolve(COURSE)
    assert resolver.resolve(COURSE) is first


def test_resolving_a_key_caches_its_ancestors(resolver: ScopeResolver) -> None:
    resolver.resolve(COURSE)
    assert set(resolver._cache) == {COURSE, "org:MITx", "platform"}


def test_malformed_keys_are_not_cached(resolver: ScopeResolver) -> None:
    with pytest.raises(ScopeKeyError):
        resolver.resolve("course-v1:MITx")
    assert "course-v1:MITx" not in resolver._cache


def test_cache_is_bounded_and_results_stay_correct() -> None:
    resolver = platform_resolver(cache_size=10)
    keys = [f"course-v1:Org{i}+C{i}+R{i}" for i in range(50)]
    for i, key in enumerate(keys):
        scope = resolver.resolve(key)
        assert len(resolver._cache) <= 10
        assert scope.fields == {"org": f"Org{i}", "course": f"C{i}", "run": f"R{i}"}
        assert scope.chain == (key, f"org:Org{i}", "platform")
    # An evicted key parses again to an equal scope.
    assert resolver.resolve(keys[0]) == Scope(
        key=keys[0],
        type="course",
        fields={"org": "Org0", "course": "C0", "run": "R0"},
        chain=(keys[0], "org:Org0", "platform"),
    )
    assert len(resolver._cache) <= 10


def test_scope_is_a_frozen_record_with_dict_fields(resolver: ScopeResolver) -> None:
    scope = resolver.resolve("org:MITx")
    assert isinstance(scope.fields, dict)
    with pytest.raises(AttributeError):
        scope.key = "org:other"  # type: ignore[misc]


# --- split_key -----------------------------------------------------------------------------


def test_split_key_docstring_example_passes() -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    tests = doctest.DocTestFinder().find(split_key, "split_key")
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 1
    assert result.failed == 0


def test_split_key_splits_into_named_fields() -> None:
    assert split_key("lib:MITx:physics", "lib:", ":", ("org", "library")) == {
        "org": "MITx",
        "library": "physics",
    }
    assert split_key(COURSE, "course-v1:", "+", ("org", "course", "run")) == {
        "org": "MITx",
        "course": "6.002x",
        "run": "2026_T1",
    }


def test_split_key_with_one_name_does_not_split() -> None:
    assert split_key("org:MITx", "org:", "", ("org",)) == {"org": "MITx"}
    with pytest.raises(ValueError, match=r"^the org 'a\+b' may hold only letters"):
        split_key("org:a+b", "org:", "+", ("org",))


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("org:MITx", r"^it does not start with 'lib:'$"),
        ("lib:MITx", r"^it has 1 part\(s\) where 2 are needed$"),
        ("lib:a:b:c", r"^it has 3 part\(s\) where 2 are needed$"),
        ("lib::b", r"^the org is empty$"),
        ("lib:a:", r"^the library is empty$"),
        ("lib:a:~b", r"^the library '~b' may hold only letters, digits and _ \. ~ -"),
        ("lib:a b:c", r"^the org 'a b' may hold only letters"),
    ],
)
def test_split_key_reasons(key: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split_key(key, "lib:", ":", ("org", "library"))


def test_split_key_shortens_a_long_part_in_its_reason() -> None:
    with pytest.raises(ValueError, match=r"\.\.\.' may hold only") as info:
        split_key("org:" + "!" * 500, "org:", "", ("org",))
    assert len(str(info.value)) < 200


# --- properties ----------------------------------------------------------------------------

PART_RE = r"[A-Za-z0-9_][A-Za-z0-9_.~-]{0,20}"
KEY_ALPHABET = "abcXYZ019:+@.~-_ /\n"
PREFIXES = ["", "platform", "org:", "course-v1:", "lib:", "ccx-v1:"]

part = st.from_regex(PART_RE, fullmatch=True)
valid_key = st.one_of(
    st.just("platform"),
    st.builds("org:{}".format, part),
    st.builds("course-v1:{}+{}+{}".format, part, part, part),
    st.builds("lib:{}:{}".format, part, part),
    st.builds("ccx-v1:{}+{}+{}+ccx@{}".format, part, part, part, st.integers(1, 10**9)),
)


def mutate(key: str, position: int, insert: str, delete: bool) -> str:
    """``key`` with one character inserted at, or removed from, ``position``."""
    position %= len(key) + 1
    return key[:position] + insert + key[position + delete :]


keyish = st.one_of(
    st.text(),
    st.builds(
        lambda prefix, rest: prefix + rest,
        st.sampled_from(PREFIXES),
        st.text(alphabet=KEY_ALPHABET, max_size=40),
    ),
    valid_key,
    st.builds(
        mutate,
        valid_key,
        st.integers(0, 300),
        st.sampled_from(["", *KEY_ALPHABET, "\x00", "é"]),
        st.booleans(),
    ),
)

PLATFORM_RESOLVER = platform_resolver(cache_size=1000)


def check_any_text(resolver: ScopeResolver, key: str) -> None:
    """``resolve`` returns a rooted scope or raises exactly ScopeKeyError (anything else
    propagates and fails the test)."""
    error: ScopeKeyError | None = None
    try:
        scope = resolver.resolve(key)
    except ScopeKeyError as exc:
        error = exc
    if error is not None:
        assert type(error) is ScopeKeyError
        assert error.key == key
        assert len(str(error)) < 400  # hostile keys are shortened in the message
        return
    assert isinstance(scope, Scope)
    assert scope.key == key
    assert scope.chain[0] == key
    assert scope.chain[-1] == "platform"


@settings(max_examples=300, deadline=None)
@given(keyish)
def test_any_text_resolves_or_raises_scope_key_error(key: str) -> None:
    check_any_text(PLATFORM_RESOLVER, key)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(keyish)
def test_any_text_resolves_or_raises_scope_key_error_with_ccx(
    ccx_resolver: ScopeResolver, key: str
) -> None:
    check_any_text(ccx_resolver, key)


@settings(max_examples=300, deadline=None)
@given(
    st.from_regex(PART_RE, fullmatch=True),
    st.from_regex(PART_RE, fullmatch=True),
    st.from_regex(PART_RE, fullmatch=True),
)
def test_valid_course_keys_round_trip_their_fields(org: str, course: str, run: str) -> None:
    key = f"course-v1:{org}+{course}+{run}"
    scope = PLATFORM_RESOLVER.resolve(key)
    assert scope.type == "course"
    assert scope.fields == {"org": org, "course": course, "run": run}
    assert f"course-v1:{scope.fields['org']}+{scope.fields['course']}+{scope.fields['run']}" == key
    assert scope.chain == (key, f"org:{org}", "platform")


def test_a_huge_integer_key_is_a_scope_key_error(resolver: ScopeResolver) -> None:
    with pytest.raises(ScopeKeyError, match=r"^a scope key must be text, not int$"):
        resolver.resolve(10**5000)  # type: ignore[arg-type]


# --- a plugin's parser that fails -----------------------------------------------------------


class _FaultyParsers:
    """Scope types whose parsers misbehave: ``crash`` raises a TypeError on keys ending in
    ``!``; ``orphan`` gives every key a parent no scope type knows; ``stray`` a parent that is
    an ``orphan`` key."""

    @staticmethod
    def _crash(key: str) -> ParsedKey:
        if key.endswith("!"):
            raise TypeError("'NoneType' object is not subscriptable")
        return ParsedKey(fields={}, parent="platform")

    @staticmethod
    def _orphan(key: str) -> ParsedKey:
        return ParsedKey(fields={}, parent="nowhere:" + key.split(":", 1)[1])

    @staticmethod
    def _stray(key: str) -> ParsedKey:
        return ParsedKey(fields={}, parent="orphan:" + key.split(":", 1)[1])

    @hookimpl
    def register_scope_types(self) -> list[ScopeType]:
        return [
            ScopeType(
                id=name,
                title=name.title(),
                description=f"A {name} scope.",
                namespace=name,
                pattern=f"{name}:X",
                example=f"{name}:x",
                parse=parse,
            )
            for name, parse in (
                ("crash", self._crash),
                ("orphan", self._orphan),
                ("stray", self._stray),
            )
        ]


@pytest.fixture(scope="module")
def faulty() -> ScopeResolver:
    return load_only(faulty=_FaultyParsers()).registry.scopes


def test_a_parser_raising_something_else_than_value_error_names_its_plugin(
    faulty: ScopeResolver,
) -> None:
    assert faulty.resolve("crash:fine").chain == ("crash:fine", "platform")
    with pytest.raises(ScopeKeyError) as caught:
        faulty.resolve("crash:boom!")
    assert str(caught.value) == (
        "the crash parser (plugin 'faulty') failed on 'crash:boom!': "
        "TypeError: 'NoneType' object is not subscriptable"
    )
    assert caught.value.key == "crash:boom!"
    assert isinstance(caught.value.__cause__, TypeError)  # kept for --debug


def test_an_unknown_parent_names_the_key_asked_about_and_the_plugin(
    faulty: ScopeResolver,
) -> None:
    with pytest.raises(ScopeKeyError) as caught:
        faulty.resolve("orphan:x")
    assert type(caught.value) is ScopeKeyError
    assert caught.value.key == "orphan:x"
    assert str(caught.value).startswith(
        "the orphan parser (plugin 'faulty') gives 'orphan:x' the parent 'nowhere:x', which is "
        "not a valid key (unknown scope key 'nowhere:x': "
    )


def test_a_bad_parent_further_up_names_the_key_asked_about_and_the_plugin_at_fault(
    faulty: ScopeResolver,
) -> None:
    with pytest.raises(ScopeKeyError) as caught:
        faulty.resolve("stray:x")
    assert type(caught.value) is ScopeKeyError
    assert caught.value.key == "stray:x"
    assert str(caught.value).startswith(
        "scope key 'stray:x': the orphan parser (plugin 'faulty') gives 'orphan:x' the parent "
        "'nowhere:x', which is not a valid key"
    )
