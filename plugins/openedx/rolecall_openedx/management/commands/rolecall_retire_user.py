"""``manage.py rolecall_retire_user USERNAME [--retired-username NAME]``: the retirement
pipeline's step for rolecall."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from rolecall_openedx.retirement import platform_retired_username, retire_user


class Command(BaseCommand):
    help = (
        "Remove every rolecall role of a retired platform user and erase their username, "
        "e-mail and name from rolecall."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--retired-username",
            help="the name that replaces the username (default: the platform's retired "
            "username, or a retired__user_ placeholder)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"]
        retired = options.get("retired_username") or platform_retired_username(username)
        if retire_user(username, retired_username=retired):
            self.stdout.write(f"retired {username} in rolecall")
        else:
            self.stdout.write(f"{username} is not known to rolecall: nothing to do")
