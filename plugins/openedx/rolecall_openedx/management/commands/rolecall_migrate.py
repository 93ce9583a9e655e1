"""``./manage.py lms rolecall_migrate``: create rolecall's tables, or upgrade them to the newest
migration, with rolecall's own migrations (Alembic), in rolecall's database: the platform's
default database unless ``ROLECALL_DATABASE_URL`` names another (:mod:`rolecall_openedx.database`).
``./manage.py lms migrate`` does the same after the platform's migrations."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from rolecall.core import RolecallError
from rolecall_openedx.database import database_url, migrate, shown


class Command(BaseCommand):
    help = (
        "Create or upgrade rolecall's tables (rolecall_*) in rolecall's database: the "
        "platform's default database unless ROLECALL_DATABASE_URL names another."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            url = database_url()
            ran, revision = migrate(url)
        except (ImproperlyConfigured, RolecallError) as exc:
            raise CommandError(f"rolecall: {exc}") from exc
        state = "upgraded to" if ran else "already at"
        self.stdout.write(f"rolecall: schema {state} revision {revision} ({shown(url)})")
