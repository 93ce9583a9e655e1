"""The rolecall scope of any platform object: :func:`scope_key`.

Open edX's keys are rolecall's scope keys, kept byte for byte: ``course-v1:MITx+6.002x+2026_T1``,
old-style ``MITx/6.002x/2012_Fall``, ``library-v1:MITx+physics``, ``lib:MITx:physics`` and
``ccx-v1:...+ccx@3``. A branch or version a key carries (``+branch@draft``) names the same course
and is dropped.
"""

from __future__ import annotations

from typing import Any

from opaque_keys import InvalidKeyError, OpaqueKey
from opaque_keys.edx.keys import LearningContextKey, UsageKey

KEY_ATTRIBUTES = ("context_key", "course_id", "course_key", "id", "usage_key", "location")
"""Attributes of a platform object holding its key, tried in this order (CourseOverview.id,
CourseEnrollment.course_id, an XBlock's location...)."""


class UnmappableScope(ValueError):
    """The object or key has no rolecall scope."""


def _context(key: OpaqueKey) -> str:
    if isinstance(key, UsageKey):
        key = key.context_key
    if not isinstance(key, LearningContextKey):
        raise UnmappableScope(f"{type(key).__name__} {key} is not a course or library key")
    for drop in ("for_branch", "version_agnostic"):
        method = getattr(key, drop, None)
        if method is not None:
            key = method(None) if drop == "for_branch" else method()
    try:
        return str(key)
    except TypeError:  # an old-style usage key's course has no run (i4x://ORG/COURSE/...)
        raise UnmappableScope(f"{key!r} names no course run") from None


_CACHE_SIZE = 100_000
_cache: dict[object, str] = {}
"""Key (an OpaqueKey or a string) -> its scope key: parsing a key costs microseconds, and a
platform asks about the same few thousand courses all day. Bounded: cleared when full."""

_values: dict[object, str] = {}
"""The same for the keys found in an object's key attribute (only values that are keys: a
plain word there is no org name). Bounded likewise."""

_key_types: set[type] = {str}
"""The key classes met so far (CourseLocator, LibraryLocatorV2...): their objects are looked
up in :data:`_cache` at once, with no ``isinstance`` test against the OpaqueKey ABC."""

_by_identity: dict[int, tuple[object, str]] = {}
"""``id(key object)`` -> (the object, its scope key), for key objects (not text). Hashing an
OpaqueKey rebuilds the tuple of its fields every time (about 2 us, more than a whole check),
while a request passes the one key object it parsed to every ``has_perm`` it makes: asked by
identity, the same object costs a dictionary lookup on an int. The entry holds the object, so
its id cannot be reused while the entry lives; bounded like the others."""


def _cached(value: object) -> str:
    found = _cache.get(value)
    if found is None:
        found = _context(value) if isinstance(value, OpaqueKey) else _from_text(str(value))
        if len(_cache) >= _CACHE_SIZE:
            _cache.clear()
        _cache[value] = found
    return found


def _from_value(value: object) -> str:
    found = _cached(value)
    if len(_values) >= _CACHE_SIZE:
        _values.clear()
    _values[value] = found
    if type(value) is not str:
        _remember(value, found)
    return found


def _remember(obj: object, found: str) -> None:
    if len(_by_identity) >= _CACHE_SIZE:
        _by_identity.clear()
    _by_identity[id(obj)] = (obj, found)


_attribute: dict[type, str] = {}
"""Class -> the attribute of :data:`KEY_ATTRIBUTES` its objects carried their key in."""


def _is_key(value: object) -> bool:
    return isinstance(value, OpaqueKey) or (
        isinstance(value, str) and (":" in value or "/" in value)
    )


def scope_key(obj: Any) -> str:
    """The rolecall scope key of ``obj``:

    - ``None``: ``platform``;
    - a CourseKey (new or old-style), LibraryLocator (v1), LibraryLocatorV2 or CCXLocator: its
      key; a UsageKey: the key of its course or library;
    - a string: the key it spells (a course, library or block key, ``platform``, ``org:X``), or
      else an org name (``MITx``: ``org:MITx``);
    - an object carrying such a key in one of :data:`KEY_ATTRIBUTES` (CourseOverview, a block,
      an enrollment), or an organization (``short_name``).

    Raises :class:`UnmappableScope` for anything else.
    """
    # The path of nearly every call (has_perm answers in about a microsecond, and this is part
    # of it): a key or text seen before, or an object of a class seen before whose key
    # attribute holds a key seen before: two dictionary lookups.
    kind = type(obj)
    if kind in _key_types:
        if kind is str:
            found = _cache.get(obj)
            if found is not None:
                return found
        else:
            entry = _by_identity.get(id(obj))
            if entry is not None and entry[0] is obj:
                return entry[1]
            found = _cache.get(obj)
            if found is not None:
                _remember(obj, found)
                return found
    else:
        known = _attribute.get(kind)
        if known is not None:
            value = getattr(obj, known, None)
            if type(value) is not str:
                entry = _by_identity.get(id(value))
                if entry is not None and entry[0] is value:
                    return entry[1]
            try:
                found = _values.get(value)
            except TypeError:  # not hashable: no key
                found = None
            if found is not None:
                if type(value) is not str:
                    _remember(value, found)
                return found
    return _first_time(obj, kind)


def _first_time(obj: Any, kind: type) -> str:
    if obj is None:
        return "platform"
    if isinstance(obj, (str, OpaqueKey)):
        found = _cached(obj)
        _key_types.add(kind)
        if kind is not str:
            _remember(obj, found)
        return found
    known = _attribute.get(kind)
    if known is not None:  # the attribute that held the key last time: most calls end here
        value = getattr(obj, known, None)
        if _is_key(value):
            return _from_value(value)
    for name in KEY_ATTRIBUTES:
        value = getattr(obj, name, None)
        if _is_key(value):
            _attribute[kind] = name
            return _from_value(value)  # a key field, or one read as text
    short_name = getattr(obj, "short_name", None)
    if isinstance(short_name, str) and short_name:
        return f"org:{short_name}"
    raise UnmappableScope(f"no rolecall scope for a {type(obj).__name__}")


def _from_text(text: str) -> str:
    if text == "platform" or text.startswith("org:"):
        return text
    if ":" not in text and "/" not in text:
        if not text:
            raise UnmappableScope("an empty org name")
        return f"org:{text}"
    for kind in (LearningContextKey, UsageKey):
        try:
            return _context(kind.from_string(text))
        except InvalidKeyError:
            continue
    raise UnmappableScope(f"{text[:80]!r} is not a course, library or block key")
