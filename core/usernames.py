"""What a username may be, and when two usernames are too alike to tell apart.

A username is at most :data:`USERNAME_MAX` printable characters, with no white space and no
``/`` (the console shows a user at ``/console/users/<username>``, which a slash would break;
``.`` and ``..`` alone would be read as path steps). Anything else is kept byte for byte:
``ada``, ``ada.lovelace@example.com`` and ``Ada`` are three valid names.

Two names are *look-alikes* when they have the same :func:`skeleton`: Unicode compatibility
normalisation (NFKC, which folds full-width letters, ligatures and the like into plain ones)
and case folding. A new user whose name is a look-alike of an existing user's (full-width ``ada`` or
``Ada`` next to ``ada``) is refused, so that nobody can pass for another user in a list, an
audit log or a refusal. Names already stored are never changed or refused.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Iterable

from .errors import BadInputError
from .scopes import show

USERNAME_MAX = 150
_SPACE = re.compile(r"\s")
_URL_BREAKING = ("/",)
_PATH_STEPS = (".", "..")


def check_username(name: object) -> str:
    """``name`` if it is a valid username; else :class:`BadInputError` saying why."""
    if not isinstance(name, str) or not name.strip():
        raise BadInputError(f"a username must be non-empty text, not {show(name)}")
    if len(name) > USERNAME_MAX or not name.isprintable() or _SPACE.search(name):
        raise BadInputError(
            f"username {show(name)} is not valid: at most {USERNAME_MAX} printable characters, "
            "no spaces"
        )
    if any(c in name for c in _URL_BREAKING) or name in _PATH_STEPS:
        raise BadInputError(
            f"username {show(name)} is not valid: it may not contain '/' nor be '.' or '..' "
            "(the console's addresses name users)"
        )
    return name


def skeleton(name: str) -> str:
    """What ``name`` looks like once compatibility forms and case are set aside: two names
    with one skeleton are look-alikes."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def refuse_lookalikes(
    new: Iterable[str], existing: Collection[str], lookalike: Callable[[str], str | None]
) -> None:
    """Raise :class:`BadInputError` when a name of ``new`` that is not one of ``existing``
    (the known usernames) is a look-alike of a known user (``lookalike`` names one, or None)
    or of another new name."""
    seen: dict[str, str] = {}
    for name in dict.fromkeys(new):
        if name in existing:
            continue
        other = lookalike(name) or seen.setdefault(skeleton(name), name)
        if other != name:
            raise BadInputError(
                f"username {show(name)} is refused: it looks like the user {show(other)} "
                "(the same once case and Unicode compatibility forms are set aside)"
            )
