"""Where rolecall keeps its tables inside the platform: the database ``ROLECALL_DATABASE_URL``
names, else the platform's own, ``DATABASES["default"]`` (the same server and database, through
the platform's own driver; every table of rolecall's is named ``rolecall_...``, Alembic's
revision table included).

The platform's database is turned into an SQLAlchemy URL from Django's settings:

- ``django.db.backends.mysql`` (and any backend whose vendor is ``mysql``): mysqlclient
  (``mysql+mysqldb://``), Django's own MySQL driver, always in ``utf8mb4`` whatever the
  ``charset`` option (rolecall's tables hold four-byte characters); the options ``ssl`` (its
  ``ca``, ``cert``, ``key``, ``capath``, ``cipher``, ``check_hostname``), ``ssl_mode``,
  ``init_command``, ``unix_socket``, ``read_default_file``, ``read_default_group`` and
  ``connect_timeout`` carry over; a ``HOST`` starting with ``/`` is the server's socket. Each
  of rolecall's connections then sets its own strict SQL mode, UTC and READ COMMITTED after
  the platform's ``init_command`` (:mod:`rolecall.core.storage.mysql`).
- ``django.db.backends.postgresql``: psycopg 3 (``postgresql+psycopg://``), with libpq's
  options (``sslmode``, ``sslrootcert``, ``options``, ``service``, ...).
- ``django.db.backends.sqlite3``: the same file. An SQLite database in memory (Django's test
  database on SQLite) cannot be shared: each connection would see a database of its own.

Any other engine is refused with :class:`~django.core.exceptions.ImproperlyConfigured`, naming
it and ``ROLECALL_DATABASE_URL``.

rolecall migrates its tables with its own migrations (Alembic), never Django's: ``./manage.py
lms rolecall_migrate``, and after every ``./manage.py lms migrate`` of the default database
(:func:`migrated`, on ``post_migrate``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS
from sqlalchemy.engine import URL, make_url

MYSQL_OPTIONS = (
    "ssl_mode",
    "init_command",
    "unix_socket",
    "read_default_file",
    "read_default_group",
    "connect_timeout",
)
"""The options of Django's MySQL backend that rolecall's connections take over as they are."""
MYSQL_SSL = ("ca", "cert", "key", "capath", "cipher", "check_hostname")
"""The keys of the ``ssl`` option, each an ``ssl_...`` argument of SQLAlchemy's mysqlclient
dialect."""
LIBPQ_OPTIONS = (
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcrl",
    "sslcrldir",
    "sslnegotiation",
    "channel_binding",
    "gssencmode",
    "options",
    "application_name",
    "connect_timeout",
    "target_session_attrs",
    "passfile",
    "service",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
)
"""libpq's connection parameters among the options of Django's PostgreSQL backend (the others,
such as ``isolation_level``, ``pool`` or ``server_side_binding``, are about Django's own
connections)."""
ENGINES = "SQLite, PostgreSQL, MySQL or MariaDB"


class SharedDatabaseError(ImproperlyConfigured):
    """rolecall cannot keep its tables in the platform's database."""


class InMemoryDatabase(SharedDatabaseError):
    """The platform's database is an SQLite database in memory."""


def _hint() -> str:
    return (
        "set ROLECALL_DATABASE_URL to a database of rolecall's own, for example "
        "sqlite:////var/lib/rolecall/rolecall.db or "
        "postgresql+psycopg://user:password@db.example/rolecall"
    )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _port(value: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SharedDatabaseError(
            f"DATABASES['default']['PORT'] is not a number: {value!r}"
        ) from None


def url_for(vendor: str, database: Mapping[str, Any]) -> str:
    """The SQLAlchemy URL of a Django database, from its backend's ``vendor`` and its settings
    (``NAME``, ``USER``, ``PASSWORD``, ``HOST``, ``PORT``, ``OPTIONS``, as in ``DATABASES``).
    Raises :class:`SharedDatabaseError` for a database rolecall cannot use."""
    engine = database.get("ENGINE", "")
    name = database.get("NAME")
    options: Mapping[str, Any] = database.get("OPTIONS") or {}
    user = database.get("USER") or None
    password = database.get("PASSWORD") or None
    host = str(database.get("HOST") or "")
    port = _port(database.get("PORT"))
    query: dict[str, str] = {}
    if vendor == "sqlite":
        text = str(name or "")
        if text in ("", ":memory:") or "mode=memory" in text or text.startswith("file:memorydb"):
            raise InMemoryDatabase(
                f"the platform's database (DATABASES['default'], {engine}) is an SQLite "
                f"database in memory ({text or 'no NAME'}), which rolecall cannot share: each "
                f"connection would see a database of its own; {_hint()}"
            )
        return URL.create("sqlite", database=text).render_as_string(hide_password=False)
    if vendor == "postgresql":
        if host.startswith("/"):  # the directory of the server's socket
            query["host"], host = host, ""
        for key in LIBPQ_OPTIONS:
            if options.get(key) is not None:
                query[key] = _text(options[key])
        driver = "postgresql+psycopg"
    elif vendor == "mysql":
        # rolecall's tables are utf8mb4: a utf8mb3 connection (Django's default charset, utf8)
        # could not send four-byte characters.
        query["charset"] = "utf8mb4"
        if host.startswith("/"):  # the server's socket, as Django's backend reads HOST
            query["unix_socket"], host = host, ""
        for key in MYSQL_OPTIONS:
            if options.get(key) is not None:
                query[key] = _text(options[key])
        ssl = options.get("ssl")
        if isinstance(ssl, Mapping):
            for key in MYSQL_SSL:
                if ssl.get(key) is not None:
                    query[f"ssl_{key}"] = _text(ssl[key])
        elif ssl is not None:
            raise SharedDatabaseError(
                f"DATABASES['default']['OPTIONS']['ssl'] is {ssl!r}: rolecall reads it as "
                f"Django's MySQL backend documents it, a dict of {', '.join(MYSQL_SSL)}"
            )
        driver = "mysql+mysqldb"
    else:
        raise SharedDatabaseError(
            f"rolecall cannot keep its tables in the platform's database: DATABASES['default'] "
            f"uses {engine or 'no ENGINE'} ({vendor}), and rolecall runs on {ENGINES}; "
            f"{_hint()}"
        )
    return URL.create(
        driver,
        username=user,
        password=password,
        host=host or None,
        port=port,
        database=str(name) if name else None,
        query=query,
    ).render_as_string(hide_password=False)


def database_url() -> str:
    """The SQLAlchemy URL of rolecall's database: ``ROLECALL_DATABASE_URL`` if set (the
    setting, else the environment variable, see :mod:`rolecall_openedx.settings`), else the
    platform's default database (:func:`url_for`)."""
    from django.conf import settings

    explicit = getattr(settings, "ROLECALL_DATABASE_URL", None)
    if explicit:
        return str(explicit)
    return url_for(*_platform())


def _platform() -> tuple[str, Mapping[str, Any]]:
    """The default database's vendor and settings, as Django's connection has them (in tests,
    the test database's name)."""
    from django.db import connections

    connection = connections[DEFAULT_DB_ALIAS]
    return connection.vendor, connection.settings_dict


def shown(url: str) -> str:
    """``url`` without its password, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def migrate(url: str | None = None) -> tuple[bool, str]:
    """Create or upgrade rolecall's tables in ``url`` (by default :func:`database_url`) with
    rolecall's own migrations; whether anything ran, and the revision they are at. A database
    made here has its empty audit chain signed with the key the service would use."""
    from rolecall.core import database_url as normalized
    from rolecall.core import migrate_database

    from .service import environ

    return migrate_database(normalized(url or database_url()), key_settings=environ())


def migrated(
    sender: Any = None,
    *,
    using: str = DEFAULT_DB_ALIAS,
    verbosity: int = 1,
    stdout: Any = None,
    **_: Any,
) -> None:
    """``post_migrate`` (sent to this app once per ``migrate``): bring rolecall's tables up to
    date after the default database's migrations. Other databases are not rolecall's. An
    SQLite database in memory (a test database) is left alone: the service refuses it if it is
    ever opened there."""
    if using != DEFAULT_DB_ALIAS:
        return
    try:
        url = database_url()
    except InMemoryDatabase:
        return
    ran, revision = migrate(url)
    if verbosity >= 1 and stdout is not None:
        state = "upgraded to" if ran else "already at"
        stdout.write(f"  rolecall: schema {state} revision {revision} ({shown(url)})\n")
