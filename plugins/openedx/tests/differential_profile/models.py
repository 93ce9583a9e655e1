from __future__ import annotations

from django.conf import settings
from django.db import models


class UserProfile(models.Model):
    """common.djangoapps.student.models.UserProfile, reduced to its name."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    name = models.CharField(max_length=255, blank=True)

    class Meta:
        app_label = "differential_profile"
