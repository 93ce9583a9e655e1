"""The ``rolecall`` command line.

Exit status: 0 on success, 1 for a negative answer (``check`` denied), 2 for bad input or a
configuration error, 3 for a change the delegation rules refuse (``--as``), 4 when the database
fails or cannot be reached (nothing was written); errors are one line on standard error, never a
traceback.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import click
from sqlalchemy.exc import DBAPIError

from ..errors import PluginError, RolecallError, StorageError
from ..governance import NotAllowedError
from ..plugins import Plugins, PluginSettings, load_plugins
from ..service import Rolecall

EXIT_BAD_INPUT = 2
EXIT_NOT_ALLOWED = 3
EXIT_DATABASE = 4


class State:
    """Per-invocation state: the plugins and the service, each opened on first use."""

    def __init__(self) -> None:
        self._plugins: Plugins | None = None
        self.database: str | None = None
        self._service: Rolecall | None = None

    def plugins(self, reserved: list[str]) -> Plugins:
        if self._plugins is None:
            self._plugins = load_plugins(PluginSettings.from_env(), reserved_commands=reserved)
        return self._plugins

    def service(self, ctx: click.Context) -> Rolecall:
        if self._service is None:
            # A process of rolecall's own (`rolecall serve` included): the index may be
            # frozen out of the cyclic collector.
            self._service = Rolecall.open(
                self.database,
                plugins=plugins_of(ctx),
                staleness=0,
                background_sync=False,
                freeze_index=True,
            )
            ctx.find_root().call_on_close(self._service.close)
        return self._service


class RolecallGroup(click.Group):
    """A group that adds the commands plugins contribute and turns rolecall errors into one line
    and exit status 2."""

    def _state(self, ctx: click.Context) -> State:
        return ctx.find_root().ensure_object(State)

    def loaded(self, ctx: click.Context) -> Plugins:
        _configure_logging()
        return self._state(ctx).plugins(sorted(self.commands))

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(self.commands)
        # `--help` still lists the core commands when plugins fail; running one reports why.
        with contextlib.suppress(RolecallError):
            names.update(c.name for c in self.loaded(ctx).commands if c.name)
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None:
            command = next((c for c in self.loaded(ctx).commands if c.name == cmd_name), None)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NotAllowedError as exc:
            click.echo(f"rolecall: not allowed: {exc}", err=True)
            ctx.exit(EXIT_NOT_ALLOWED)
        except StorageError as exc:
            click.echo(f"rolecall: database error: {exc}", err=True)
            ctx.exit(EXIT_DATABASE)
        except DBAPIError as exc:  # the database cannot be reached at all (opening, reading)
            reason = " ".join(str(exc.orig or exc).split())[:300]
            click.echo(f"rolecall: database error: {reason}", err=True)
            ctx.exit(EXIT_DATABASE)
        except RolecallError as exc:
            kind = "plugin error" if isinstance(exc, PluginError) else "error"
            click.echo(f"rolecall: {kind}: {exc}", err=True)
            ctx.exit(EXIT_BAD_INPUT)


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"rolecall: {record.levelname.lower()}: {' '.join(record.getMessage().split())}"


def _configure_logging() -> None:
    logger = logging.getLogger("rolecall")
    if not any(getattr(h, "_rolecall_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(_OneLine())
        handler._rolecall_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


@click.group(cls=RolecallGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rolecall", prog_name="rolecall")
@click.option(
    "--database",
    metavar="URL",
    help="Database URL (default: ROLECALL_DATABASE_URL, else sqlite:///rolecall.db).",
)
@click.pass_context
def cli(ctx: click.Context, database: str | None) -> None:
    """rolecall: who may do what, where.

    Plugins are read from the `rolecall` entry-point group; see `rolecall plugins`. Settings:
    ROLECALL_STRICT_PLUGINS, ROLECALL_DISABLE_PLUGINS, ROLECALL_REQUIRE_PLUGINS,
    ROLECALL_DATABASE_URL.
    """
    ctx.ensure_object(State).database = database


def service_of(ctx: click.Context) -> Rolecall:
    """The service on the chosen database, opened once per invocation, from any command."""
    return ctx.find_root().ensure_object(State).service(ctx)


def plugins_of(ctx: click.Context) -> Plugins:
    """The loaded plugins, from inside any command."""
    group = ctx.find_root().command
    if not isinstance(group, RolecallGroup):  # pragma: no cover - only if mounted elsewhere
        raise TypeError("rolecall commands run under the rolecall command group")
    return group.loaded(ctx)
