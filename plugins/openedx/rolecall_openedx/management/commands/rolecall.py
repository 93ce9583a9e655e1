"""``./manage.py lms rolecall <command> [...]``: rolecall's command line (any command of
``rolecall --help``) on the service the platform opens, so it sees what LMS sees: the platform's
rolecall database, enrollment as the source of ``discussion_student``, and the platform's course
list as the scope catalogue. ``rolecall explain`` and ``rolecall check`` here agree with
``user.has_perm``; ``rolecall legacy import`` here leaves forum Student rows to enrollment.

Everything after ``rolecall`` goes to rolecall's command line as it is (``--help`` included);
the exit status is the command's.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run a rolecall command (see `rolecall --help`) on the platform's rolecall service."

    def run_from_argv(self, argv: list[str]) -> None:
        # Every argument is rolecall's: Django's own parser would take --help and --version.
        sys.exit(self.run_rolecall(argv[2:]))

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("arguments", nargs="*", help="rolecall's command and its arguments")

    def handle(self, *args: Any, **options: Any) -> None:
        status = self.run_rolecall([*args, *options.get("arguments", ())])
        if status:
            raise SystemExit(status)

    def run_rolecall(self, arguments: list[str]) -> int:
        from rolecall.core.cli import run_with

        from ...service import get_rolecall

        return run_with(get_rolecall(), arguments, prog_name="manage.py lms rolecall")
