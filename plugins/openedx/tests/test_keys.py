"""scope_key: the rolecall scope of any platform object, with edx-opaque-keys' real keys."""

from __future__ import annotations

import pytest
from ccx_keys.locator import CCXLocator
from opaque_keys.edx.keys import CourseKey, UsageKey
from opaque_keys.edx.locator import LibraryLocator, LibraryLocatorV2

from openedx_test_project.stubs.models import CourseEnrollment, CourseOverview
from rolecall_openedx.keys import UnmappableScope, scope_key

NEW = "course-v1:MITx+6.002x+2026_T1"
OLD = "MITx/6.002x/2012_Fall"


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (None, "platform"),
        ("MITx", "org:MITx"),
        ("org:MITx", "org:MITx"),
        ("platform", "platform"),
        (CourseKey.from_string(NEW), NEW),
        (CourseKey.from_string(OLD), OLD),
        (CourseKey.from_string(NEW + "+branch@draft"), NEW),
        (UsageKey.from_string("block-v1:MITx+6.002x+2026_T1+type@problem+block@p1"), NEW),
        (LibraryLocator.from_string("library-v1:MITx+physics"), "library-v1:MITx+physics"),
        (LibraryLocatorV2.from_string("lib:MITx:physics"), "lib:MITx:physics"),
        (UsageKey.from_string("lb:MITx:physics:problem:p1"), "lib:MITx:physics"),
        (
            CCXLocator.from_string("ccx-v1:MITx+6.002x+2026_T1+ccx@3"),
            "ccx-v1:MITx+6.002x+2026_T1+ccx@3",
        ),
        (OLD, OLD),
        ("block-v1:MITx+6.002x+2026_T1+type@problem+block@p1", NEW),
        (CourseOverview(id=OLD, org="MITx"), OLD),
        (CourseEnrollment(course_id=NEW), NEW),
    ],
)
def test_scope_of_platform_objects(obj: object, expected: str) -> None:
    assert scope_key(obj) == expected


@pytest.mark.parametrize(
    "obj",
    [
        object(),
        42,
        "",
        "nope:x",
        "i4x://MITx/6.002x/problem/p1",  # an old-style usage key: its course has no run
        "course-v1:MITx",
    ],
)
def test_what_has_no_scope_is_unmappable(obj: object) -> None:
    with pytest.raises(UnmappableScope):
        scope_key(obj)


class Block:
    """A platform object of a class seen again and again: its key in ``id``, or not."""

    def __init__(self, key: object, course_id: object = None) -> None:
        self.id = key
        self.course_id = course_id


def test_a_class_seen_before_is_still_read_object_by_object() -> None:
    assert scope_key(Block(NEW)) == NEW
    assert scope_key(Block(NEW)) == NEW  # the remembered attribute and key
    assert scope_key("MITx") == "org:MITx"  # a plain word given directly is an org...
    with pytest.raises(UnmappableScope):
        scope_key(Block("MITx"))  # ... but in a key attribute it is no key
    assert scope_key(Block(None, course_id=OLD)) == OLD  # another attribute holds it
    with pytest.raises(UnmappableScope):
        scope_key(Block(["not", "hashable"]))
    assert scope_key(Block(CourseKey.from_string(OLD))) == OLD
    assert scope_key(CourseKey.from_string(NEW)) == NEW
    assert scope_key(CourseKey.from_string(NEW)) == NEW  # a key class seen before


def test_key_objects_are_answered_by_identity_without_confusing_a_reused_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A key object met before is answered from its identity; objects made and dropped one
    after another (so Python may give a new one a freed id) are each answered for their own
    key, also across the cache being emptied when full."""
    import rolecall_openedx.keys as keys

    monkeypatch.setattr(keys, "_CACHE_SIZE", 50)
    for i in range(500):
        key = CourseKey.from_string(f"course-v1:Org{i % 7}+C{i}+2026")
        expected = f"course-v1:Org{i % 7}+C{i}+2026"
        assert scope_key(key) == expected
        assert scope_key(key) == expected  # the second time by identity
        assert scope_key(CourseOverview(id=key, org="x")) == expected
        del key
    assert len(keys._by_identity) <= 50
    same = CourseKey.from_string(NEW)
    other = CourseKey.from_string(NEW)  # equal, not identical
    assert scope_key(same) == scope_key(other) == NEW
