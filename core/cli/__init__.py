"""The ``rolecall`` command line; ``main`` is the console script."""

# Importing the command modules registers their commands on the group.
from . import access_commands as _access_commands  # noqa: F401
from . import account_commands as _account_commands  # noqa: F401
from . import bulk_commands as _bulk_commands  # noqa: F401
from . import catalogue_commands as _catalogue_commands  # noqa: F401
from . import demo_commands as _demo_commands  # noqa: F401
from . import governance_commands as _governance_commands  # noqa: F401
from . import registry_commands as _registry_commands  # noqa: F401
from . import role_admin_commands as _role_admin_commands  # noqa: F401
from .main import cli


def main() -> None:
    cli(prog_name="rolecall")


__all__ = ["cli", "main"]
