"""The entry point the platform's user retirement pipeline calls: :func:`retire_user` (or the
management command ``rolecall_retire_user USERNAME``). It removes every role the user holds in
rolecall and marks them inactive, in one audited change; a user rolecall never met (most
learners) needs nothing and is left alone."""

from __future__ import annotations

from rolecall.core import BadInputError
from rolecall.core.governance.lifecycle import retire_user as _retire

from .service import get_rolecall

ACTOR = "retirement"


def retire_user(username: str) -> bool:
    """Retire ``username`` in rolecall; False when rolecall never knew the user."""
    rc = get_rolecall()
    try:
        rc.grants(username)
    except BadInputError:  # never met (or not a username rolecall takes)
        return False
    _retire(rc, username, actor=ACTOR, reason="the platform retired the user")
    return True
