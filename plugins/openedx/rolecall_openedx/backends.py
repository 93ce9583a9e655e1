"""``RolecallBackend``: a Django authentication backend that answers ``has_perm`` with rolecall.

It authenticates no one (``authenticate`` returns None): it sits in ``AUTHENTICATION_BACKENDS``
beside ModelBackend and bridgekeeper's backend and answers for the permissions rolecall
registers. Django asks every backend and allows when one says yes, so a permission rolecall
does not know (``auth.add_user``) answers False here and is left to the others.

``user.has_perm("courses.edit_course_content", course_key)``: the object is anything
:func:`rolecall_openedx.keys.scope_key` maps (a key, a CourseOverview, a block, an org name);
no object means the platform. Inactive and anonymous users hold nothing. An object rolecall
cannot place answers False and is logged once per kind as a warning: never an exception in the
host's request.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from rolecall.core import BadInputError
from rolecall.core.reads import allows

from .keys import UnmappableScope, scope_key
from .service import get_rolecall

log = logging.getLogger(__name__)

_WARNED_LIMIT = 1000
_warned: set[str] = set()


def _warn_once(kind: str, message: str) -> None:
    if kind in _warned:
        return
    if len(_warned) < _WARNED_LIMIT:
        _warned.add(kind)
    log.warning("rolecall: %s", message)


def resolve_scope(obj: Any) -> str | None:
    """The scope key of ``obj`` as rolecall's registry knows it, or None (warned once)."""
    try:
        key = scope_key(obj)
        return get_rolecall().registry.scopes.resolve(key).key
    except (UnmappableScope, BadInputError) as exc:
        _warn_once(type(obj).__name__, f"has_perm on an object with no rolecall scope: {exc}")
        return None


_NAME = "_rolecall_username"
"""Where a user object keeps its username once read (as Django's ModelBackend keeps
``_perm_cache`` on it): set only on an authenticated user object, so a cached name means one."""


def username_of(user_obj: Any) -> str | None:
    """The username of an active, authenticated user; None for anyone else."""
    name = getattr(user_obj, _NAME, None)
    if name is not None:  # read before from this object: only its state may have changed
        return name if user_obj.is_active else None
    if user_obj is None or not getattr(user_obj, "is_active", False):
        return None
    if getattr(user_obj, "is_anonymous", True):
        return None
    name = user_obj.get_username()
    if not isinstance(name, str) or not name:
        return None
    with contextlib.suppress(AttributeError):  # an object taking no new attributes: read again
        setattr(user_obj, _NAME, name)
    return name


class RolecallBackend:
    """Answers ``has_perm`` and ``get_all_permissions`` for rolecall's permissions."""

    def authenticate(self, request: Any, **credentials: Any) -> None:
        return None

    def get_user(self, user_id: Any) -> None:
        return None

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        username = username_of(user_obj)
        if username is None:
            return False
        rc = get_rolecall()
        if perm not in rc.registry.permissions:
            return False  # another backend's: the object's key is not even mapped
        try:
            return allows(rc, username, perm, scope_key(obj), strict=True)
        except (UnmappableScope, BadInputError) as exc:
            _warn_once(type(obj).__name__, f"has_perm on an object with no rolecall scope: {exc}")
            return False

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        username = username_of(user_obj)
        if username is None:
            return set()
        scope = resolve_scope(obj)
        if scope is None:
            return set()
        rc = get_rolecall()
        return {p for p in rc.registry.permissions if rc.check(username, p, scope)}

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return False
