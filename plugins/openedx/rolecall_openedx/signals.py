"""The Django signal rolecall_openedx sends, in a module of its own: the plugin sends it and
:mod:`rolecall_openedx.events` offers it, without either importing the other."""

from __future__ import annotations

from django.dispatch import Signal

assignment_changed = Signal()
"""Sent with ``event`` (an :class:`rolecall.core.AssignmentEvent`) after each committed change."""
