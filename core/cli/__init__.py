"""The ``rolecall`` command line; ``main`` is the console script."""

from . import registry_commands as _registry_commands  # noqa: F401  (registers the commands)
from .main import cli


def main() -> None:
    cli(prog_name="rolecall")


__all__ = ["cli", "main"]
