"""Stand-ins for edx-platform's retirement signals
(``openedx.core.djangoapps.user_api.accounts.signals``), under the same names, sent the
same way: ``USER_RETIRE_LMS_MISC.send(sender=..., user=retirement.user)`` and
``USER_RETIRE_LMS_CRITICAL.send(sender=..., user=user)``, before the platform renames the
user to the retired username."""

from __future__ import annotations

from django.dispatch import Signal

USER_RETIRE_MAILINGS = Signal()
USER_RETIRE_LMS_CRITICAL = Signal()
USER_RETIRE_LMS_MISC = Signal()
