"""Retiring a platform user in rolecall: the platform's retirement signals, and the entry point
the retirement pipeline calls (:func:`retire_user`, or the management command
``rolecall_retire_user USERNAME``).

Retirement removes every role the user holds in rolecall and erases what rolecall holds of
them: the username is replaced by the retired username (the platform's ``retired__user_...``
name when it is known, else a placeholder of the same form), and the e-mail address, display
name, password, tokens and sessions are removed, in one audited change. The audit chain names
users by pseudonym, so it keeps verifying; readers see the retired username from then on. A
user rolecall never met (most learners) needs nothing and is left alone.

Inside edx-platform, :func:`connect` (called when the app is ready) listens to
``USER_RETIRE_LMS_MISC`` and ``USER_RETIRE_LMS_CRITICAL``
(``openedx.core.djangoapps.user_api.accounts.signals``), which the retirement views send with
the user (``user=``) before the platform renames them; whichever comes first retires the
user, and the other finds nobody left to retire. Outside the platform the signals do not exist
and nothing is connected.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from rolecall.core import BadInputError
from rolecall.core.governance.lifecycle import retire_user as _retire

from .service import get_rolecall

ACTOR = "retirement"
SIGNALS = "openedx.core.djangoapps.user_api.accounts.signals"
"""Where edx-platform declares its retirement signals."""
SIGNAL_NAMES = ("USER_RETIRE_LMS_MISC", "USER_RETIRE_LMS_CRITICAL")

log = logging.getLogger(__name__)


def retire_user(username: str, *, retired_username: str | None = None) -> bool:
    """Retire and erase ``username`` in rolecall (see the module's docstring), as
    ``retired_username`` if given; False when rolecall does not know the user (never met, or
    retired already)."""
    rc = get_rolecall()
    try:
        rc.grants(username)
    except BadInputError:  # never met (or not a username rolecall takes)
        return False
    _retire(
        rc,
        username,
        actor=ACTOR,
        reason="the platform retired the user",
        erase=True,
        retired_username=retired_username,
    )
    return True


def platform_retired_username(username: str) -> str | None:
    """The retired username the platform gives ``username``, when its helper is importable
    and configured (``RETIRED_USER_SALTS``); None otherwise."""
    try:
        module = importlib.import_module("common.djangoapps.student.models")
        return str(module.get_retired_username_by_username(username))
    except Exception:  # outside the platform, or not configured there
        return None


def on_retirement(sender: Any, user: Any = None, **kwargs: Any) -> None:
    """Receiver of the platform's retirement signals (``user=``; a ``retired_username=`` is
    used when a platform release sends it)."""
    username = getattr(user, "username", None)
    if not isinstance(username, str) or not username:
        return
    retired = kwargs.get("retired_username") or platform_retired_username(username)
    if retired == username:
        retired = None
    if retire_user(username, retired_username=retired):
        log.info("rolecall: retired a user on %s", getattr(sender, "__name__", sender))


def connect() -> list[str]:
    """Connect :func:`on_retirement` to the platform's retirement signals that exist; the
    names of those connected (none outside edx-platform)."""
    try:
        module = importlib.import_module(SIGNALS)
    except ImportError:
        return []
    connected = []
    for name in SIGNAL_NAMES:
        signal = getattr(module, name, None)
        if signal is not None:
            signal.connect(
                on_retirement, dispatch_uid=f"rolecall_openedx.retirement.{name}", weak=False
            )
            connected.append(name)
    return connected
