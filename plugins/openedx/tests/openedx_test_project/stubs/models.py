"""Stand-ins for the edx-platform models rolecall_openedx meets (no edx-platform here)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from opaque_keys.edx.keys import CourseKey


class CourseOverview(models.Model):
    """openedx.core.djangoapps.content.course_overviews.models.CourseOverview, reduced: its
    ``id`` is a course key (a CourseKeyField there, text here) and it has an ``org``."""

    id = models.CharField(max_length=255, primary_key=True)
    org = models.CharField(max_length=255)
    display_name = models.CharField(max_length=255, blank=True)

    class Meta:
        app_label = "stubs"

    @property
    def location(self) -> CourseKey:
        return CourseKey.from_string(self.id)


class CourseEnrollment(models.Model):
    """common.djangoapps.student.models.CourseEnrollment, reduced."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    course_id = models.CharField(max_length=255)
    is_active = models.BooleanField(default=True)

    class Meta:
        app_label = "stubs"
        unique_together = [("user", "course_id")]
