"""The ``rolecall`` command line; ``main`` is the console script.

A plugin's commands (the ``register_commands`` hook) use the helpers exported here::

    from rolecall.core.cli import echo_json, echo_table, json_option, service_of

``service_of(ctx)`` is the service on the database the user chose (``--database``),
``loader_of(ctx)`` a service for a command that writes many grants and reads none back,
``plugins_of(ctx)`` the loaded plugins, ``json_option`` the ``--json`` flag every command takes,
``echo_json`` and ``echo_table`` print for scripts and for people. A host that opens the
service itself (Open edX's ``manage.py lms rolecall ...``) runs the command line on it with
``run_with(service, args)``.
"""

# Importing the command modules registers their commands on the group.
from . import access_commands as _access_commands  # noqa: F401
from . import account_commands as _account_commands  # noqa: F401
from . import bulk_commands as _bulk_commands  # noqa: F401
from . import catalogue_commands as _catalogue_commands  # noqa: F401
from . import demo_commands as _demo_commands  # noqa: F401
from . import governance_commands as _governance_commands  # noqa: F401
from . import registry_commands as _registry_commands  # noqa: F401
from . import role_admin_commands as _role_admin_commands  # noqa: F401
from .main import cli, loader_of, plugins_of, run_with, service_of
from .output import echo_json, echo_table, json_option


def main() -> None:
    cli(prog_name="rolecall")


__all__ = [
    "cli",
    "echo_json",
    "echo_table",
    "json_option",
    "loader_of",
    "main",
    "plugins_of",
    "run_with",
    "service_of",
]
