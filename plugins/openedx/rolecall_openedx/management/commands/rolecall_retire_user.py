"""``manage.py rolecall_retire_user USERNAME``: the retirement pipeline's step for rolecall."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from rolecall_openedx.retirement import retire_user


class Command(BaseCommand):
    help = "Remove every rolecall role of a retired platform user and mark them inactive."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        if retire_user(username):
            self.stdout.write(f"retired {username} in rolecall")
        else:
            self.stdout.write(f"{username} is not known to rolecall: nothing to do")
