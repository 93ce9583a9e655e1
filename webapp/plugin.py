"""The web application's own plugin: its permissions (``console.*``) and ``rolecall serve``.

It is registered through the ``rolecall`` entry-point group of rolecall's own distribution, the
same way as any third party's, so the core never imports the web application.
"""

from __future__ import annotations

import click

from rolecall.core import Permission, RolecallError, hookimpl

from .authz import CONSOLE_PERMISSIONS

CONSOLE_MODULES = frozenset(
    {"flask", "werkzeug", "jinja2", "markupsafe", "itsdangerous", "blinker"}
)
"""Flask and what it brings: the extra ``rolecall[console]``, which the core does not need."""


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--trusted-proxies",
    type=click.IntRange(min=0),
    default=None,
    help="How many reverse proxies in front append the client's address to X-Forwarded-For "
    "(default: ROLECALL_TRUSTED_PROXIES, else 0: the header is ignored).",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, trusted_proxies: int | None) -> None:
    """Serve the console and the REST API (a threaded WSGI server; put it behind a proxy, or
    run ``rolecall.webapp.wsgi:app`` under gunicorn, for production). Its log (standard error)
    carries the traceback of every logged exception: a failing console page, an API 500, an
    ``assignment_changed`` hook that raised."""
    from rolecall.core.cli.main import log_tracebacks

    try:
        from .app import create_app
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] not in CONSOLE_MODULES:
            raise
        raise RolecallError(
            f"rolecall serve needs the console, which is not installed (no module {exc.name!r}): "
            "pip install 'rolecall[console]'"
        ) from None

    log_tracebacks()

    database = ctx.find_root().params.get("database")  # the group's --database option
    config = {} if trusted_proxies is None else {"ROLECALL_TRUSTED_PROXIES": trusted_proxies}
    app = create_app(database=database, config=config)
    click.echo(f"rolecall console on http://{host}:{port}/console/ (Ctrl+C stops it)")
    app.run(host=host, port=port, threaded=True, use_reloader=False)


@hookimpl
def register_commands() -> list[click.Command]:
    return [serve]


@hookimpl
def register_permissions() -> tuple[Permission, ...]:
    return CONSOLE_PERMISSIONS
