"""The ``rolecall`` command line.

Exit status: 0 on success, 1 for a negative answer (``check`` denied), 2 for bad input or a
configuration error, 3 for a change the delegation rules refuse (``--as``), 4 when the database
fails or cannot be reached (nothing was written), 5 for an unexpected failure: a plugin's own
exception (the line names the plugin) or a bug. Errors are one line on standard error, never a
traceback, unless ``--debug`` (or ``ROLECALL_DEBUG=1``) asks for the traceback too; log lines
(a failing ``assignment_changed`` hook...) carry their exception's one-line cause, and the whole
traceback under ``--debug`` and in ``rolecall serve``'s log.
"""

from __future__ import annotations

import contextlib
import logging
import os
import traceback
from collections.abc import Sequence
from typing import Any

import click

from ..errors import PluginError, RolecallError, StorageError
from ..governance import NotAllowedError
from ..plugins import Plugins, PluginSettings, load_plugins, one_line
from ..service import Rolecall

EXIT_BAD_INPUT = 2
EXIT_NOT_ALLOWED = 3
EXIT_DATABASE = 4
EXIT_FAILED = 5

DEBUG_VARIABLE = "ROLECALL_DEBUG"
_TRUE = {"1", "true", "yes", "on"}


class State:
    """Per-invocation state: the plugins and the service, each opened on first use."""

    def __init__(self, service: Rolecall | None = None) -> None:
        self._plugins: Plugins | None = service.plugins if service is not None else None
        self.database: str | None = None
        self._service: Rolecall | None = service
        self.hosted = service is not None
        """The service is a host's (:func:`run_with`): its database, plugins and sources."""

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
        _configure_logging(debug=_debug(ctx))
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
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise  # click's own: usage errors, ctx.exit(), Ctrl+C at a prompt
        except NotAllowedError as exc:
            self._fail(ctx, EXIT_NOT_ALLOWED, f"not allowed: {exc}")
        except StorageError as exc:  # storage raises it for any driver error, opening included
            self._fail(ctx, EXIT_DATABASE, f"database error: {exc}")
        except RolecallError as exc:
            kind = "plugin error" if isinstance(exc, PluginError) else "error"
            self._fail(ctx, EXIT_BAD_INPUT, f"{kind}: {exc}")
        except Exception as exc:
            plugin = self._plugin_of(ctx)
            if plugin is None:
                line = f"internal error: {one_line(exc)}"
            else:
                line = (
                    f"plugin error: plugin {plugin!r} failed in its command "
                    f"{ctx.invoked_subcommand!r}: {one_line(exc)}"
                )
            if not _debug(ctx):
                line += f" (--debug or {DEBUG_VARIABLE}=1 shows the traceback)"
            self._fail(ctx, EXIT_FAILED, line)

    def _fail(self, ctx: click.Context, status: int, line: str) -> None:
        """One line on standard error (after the traceback, under ``--debug``), and exit."""
        if _debug(ctx):
            click.echo(traceback.format_exc().rstrip(), err=True)
        click.echo(f"rolecall: {line}", err=True)
        ctx.exit(status)

    def _plugin_of(self, ctx: click.Context) -> str | None:
        """The plugin whose command is running (``None`` for rolecall's own commands)."""
        name = ctx.invoked_subcommand
        if name is None or name in self.commands:
            return None
        with contextlib.suppress(RolecallError):
            for info in self.loaded(ctx).plugins:
                if name in info.contributes.get("commands", ()):
                    return info.name
        return None


def _debug(ctx: click.Context) -> bool:
    """``--debug`` was given, or ``ROLECALL_DEBUG`` is set to a yes value."""
    if ctx.find_root().params.get("debug"):
        return True
    return os.environ.get(DEBUG_VARIABLE, "").strip().lower() in _TRUE


class _OneLine(logging.Formatter):
    """``rolecall: <level>: <message>: <exception in one line>``; with ``tracebacks``, the
    exception's traceback follows on the next lines."""

    def __init__(self) -> None:
        super().__init__()
        self.tracebacks = False

    def format(self, record: logging.LogRecord) -> str:
        line = f"rolecall: {record.levelname.lower()}: {' '.join(record.getMessage().split())}"
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return line
        line += f": {one_line(exc)}"
        if self.tracebacks and record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _handler() -> logging.Handler | None:
    logger = logging.getLogger("rolecall")
    return next((h for h in logger.handlers if getattr(h, "_rolecall_cli", False)), None)


def _configure_logging(*, debug: bool = False) -> None:
    """rolecall's log on standard error, one line a record (this process is rolecall's own)."""
    handler = _handler()
    if handler is None:
        logger = logging.getLogger("rolecall")
        handler = logging.StreamHandler()
        handler.setFormatter(_OneLine())
        handler._rolecall_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    if debug:
        log_tracebacks()


def log_tracebacks() -> None:
    """From now on, a log record of an exception carries its traceback: a server's log
    (``rolecall serve`` calls it), or any command under ``--debug``."""
    _configure_logging()
    handler = _handler()
    if handler is not None and isinstance(handler.formatter, _OneLine):
        handler.formatter.tracebacks = True


@click.group(cls=RolecallGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rolecall", prog_name="rolecall")
@click.option(
    "--database",
    metavar="URL",
    help="Database URL (default: ROLECALL_DATABASE_URL, else sqlite:///rolecall.db).",
)
@click.option(
    "--debug",
    is_flag=True,
    help=f"Show the traceback of an error and of logged exceptions (also {DEBUG_VARIABLE}=1).",
)
@click.pass_context
def cli(ctx: click.Context, database: str | None, debug: bool) -> None:
    """rolecall: who may do what, where.

    Plugins are read from the `rolecall` entry-point group; see `rolecall plugins`. Settings:
    ROLECALL_STRICT_PLUGINS, ROLECALL_DISABLE_PLUGINS, ROLECALL_REQUIRE_PLUGINS,
    ROLECALL_DATABASE_URL, ROLECALL_DEBUG.
    """
    state = ctx.ensure_object(State)
    if database is not None and state.hosted:
        raise click.UsageError("--database cannot be given here: the host's database is used")
    state.database = database


def run_with(service: Rolecall, args: Sequence[str], *, prog_name: str = "rolecall") -> int:
    """Run the command line on a service its host opened, instead of opening one: the host's
    database, its plugins and what they bring (derived roles, the scope catalogue). The
    command's exit status; the service stays open. Open edX's ``manage.py lms rolecall`` runs
    it with the platform's service."""
    try:
        cli.main(args=list(args), prog_name=prog_name, obj=State(service))
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


def service_of(ctx: click.Context) -> Rolecall:
    """The service on the chosen database, opened once per invocation, from any command."""
    return ctx.find_root().ensure_object(State).service(ctx)


def loader_of(ctx: click.Context) -> Rolecall:
    """For a command that writes many grants and reads none back (``rolecall legacy import``):
    a loader on the chosen database (``Rolecall.open(keep_grants=False)``, whose memory does
    not grow with what it writes), closed with the command; under a host (:func:`run_with`),
    the host's service."""
    state = ctx.find_root().ensure_object(State)
    if state.hosted:
        return state.service(ctx)
    loader = Rolecall.open(
        state.database,
        plugins=plugins_of(ctx),
        staleness=0,
        background_sync=False,
        freeze_index=True,
        keep_grants=False,
    )
    ctx.call_on_close(loader.close)
    return loader


def plugins_of(ctx: click.Context) -> Plugins:
    """The loaded plugins, from inside any command."""
    group = ctx.find_root().command
    if not isinstance(group, RolecallGroup):  # pragma: no cover - only if mounted elsewhere
        raise TypeError("rolecall commands run under the rolecall command group")
    return group.loaded(ctx)
