"""The platform's course list as rolecall's scope catalogue (the ``lookup_scopes`` and
``find_scopes`` hooks): inside Open edX a course exists when the platform has its
``CourseOverview``, so a grant made in the console or the REST API on a course the platform
has is accepted even if rolecall never heard of it, a key differing from one only in case is
answered "did you mean ...", and the console's scope picker finds courses by key or title.

An org key (``org:MITx``) exists when the platform has a course of that org. The model is
``settings.ROLECALL_COURSE_OVERVIEW_MODEL`` (default ``course_overviews.CourseOverview``);
``ROLECALL_SCOPE_CATALOGUE = False`` turns the catalogue off.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import reduce
from operator import or_
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db.models import Q
from opaque_keys import InvalidKeyError
from opaque_keys.edx.keys import CourseKey

from rolecall.core import hookimpl

DEFAULT_MODEL = "course_overviews.CourseOverview"
BATCH = 100
"""Keys per query (each is one ``iexact`` condition)."""


def _model() -> Any | None:
    if not getattr(settings, "ROLECALL_SCOPE_CATALOGUE", True):
        return None
    return apps.get_model(getattr(settings, "ROLECALL_COURSE_OVERVIEW_MODEL", DEFAULT_MODEL))


def courses() -> list[tuple[str, str, str]]:
    """(key, display name, org) of every course of the platform; none where the catalogue is
    off or its model is not installed."""
    try:
        model = _model()
    except (LookupError, ValueError):
        return []
    if model is None:
        return []
    return [
        (str(key), str(title or ""), str(org or ""))
        for key, title, org in model.objects.values_list("id", "display_name", "org")
    ]


def _course_key(key: str) -> CourseKey | None:
    try:
        return CourseKey.from_string(key)
    except InvalidKeyError:
        return None


@hookimpl
def lookup_scopes(keys: Sequence[str]) -> Iterator[tuple[str, str | None]]:
    """The platform's courses (and orgs) whose keys equal one of ``keys`` ignoring case, as
    the platform spells them."""
    model = _model()
    if model is None:
        return
    courses = [k for k in (_course_key(key) for key in keys) if k is not None]
    for start in range(0, len(courses), BATCH):
        wanted = reduce(or_, (Q(id__iexact=str(k)) for k in courses[start : start + BATCH]))
        for course_id, title in model.objects.filter(wanted).values_list("id", "display_name"):
            yield str(course_id), title or None
    for key in keys:
        if key.startswith("org:"):
            found = model.objects.filter(org__iexact=key[4:]).values_list("org", flat=True)[:1]
            for org in found:
                yield f"org:{org}", None


@hookimpl
def find_scopes(query: str, limit: int) -> list[tuple[str, str | None]]:
    """Up to ``limit`` of the platform's courses whose key or title contains ``query``
    ignoring case, by key."""
    model = _model()
    if model is None or not query:
        return []
    found = (
        model.objects.filter(Q(id__icontains=query) | Q(display_name__icontains=query))
        .order_by("id")
        .values_list("id", "display_name")[:limit]
    )
    return [(str(course_id), title or None) for course_id, title in found]
