"""rolecall in the platform's own database (``ROLECALL_DATABASE_URL`` unset): the URL made from
Django's settings, a clear refusal of a database rolecall cannot use, and, on PostgreSQL and
MariaDB, its tables made by ``rolecall_migrate`` and by ``migrate``'s post_migrate in Django's
test database, and its grants there."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from conftest import MYSQL, PLATFORM_SKIP, POSTGRES
from django.apps import apps
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import override_settings
from sqlalchemy import inspect, make_url, text

from rolecall.core import Rolecall, database_url
from rolecall_openedx import database as platform
from rolecall_openedx.database import InMemoryDatabase, SharedDatabaseError, url_for
from rolecall_openedx.service import get_rolecall, reset

COURSE = "course-v1:MITx+6.002x+2026_T1"
EDIT = "courses.edit_course_content"
TABLES = ("rolecall_users", "rolecall_assignments", "rolecall_state", "rolecall_audit")


def mysql(**extra: Any) -> dict[str, Any]:
    return {
        "ENGINE": "django.db.backends.mysql",
        "NAME": "edxapp",
        "USER": "edxapp001",
        "PASSWORD": "p@ss word",
        "HOST": "mysql.example",
        "PORT": "3306",
        **extra,
    }


# --- the URL, from Django's settings -------------------------------------------------------------


def test_mysql_becomes_mysqlclient_in_utf8mb4() -> None:
    raw = url_for("mysql", mysql(OPTIONS={"charset": "utf8"}))
    url = make_url(raw)
    assert url.drivername == "mysql+mysqldb"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "edxapp001",
        "p@ss word",
        "mysql.example",
        3306,
        "edxapp",
    )
    # Django's utf8 (utf8mb3) could not carry rolecall's four-byte characters.
    assert dict(url.query) == {"charset": "utf8mb4"}
    assert database_url(raw) == raw  # as rolecall's core opens it


def test_mysql_options_that_matter_carry_over() -> None:
    options = {
        "init_command": "SET sql_mode='STRICT_TRANS_TABLES'",
        "ssl": {"ca": "/etc/ssl/ca.pem", "cert": "/etc/ssl/c.pem", "key": "/etc/ssl/k.pem"},
        "ssl_mode": "VERIFY_IDENTITY",
        "read_default_file": "/etc/mysql/my.cnf",
        "isolation_level": "repeatable read",  # Django's own; rolecall reads committed
    }
    url = make_url(url_for("mysql", mysql(OPTIONS=options, HOST="/run/mysqld/mysqld.sock")))
    assert url.host is None
    assert dict(url.query) == {
        "charset": "utf8mb4",
        "init_command": "SET sql_mode='STRICT_TRANS_TABLES'",
        "ssl_ca": "/etc/ssl/ca.pem",
        "ssl_cert": "/etc/ssl/c.pem",
        "ssl_key": "/etc/ssl/k.pem",
        "ssl_mode": "VERIFY_IDENTITY",
        "read_default_file": "/etc/mysql/my.cnf",
        "unix_socket": "/run/mysqld/mysqld.sock",
    }
    # SQLAlchemy's mysqlclient dialect hands them to MySQLdb.connect, ssl as one dict.
    engine_args = make_url(database_url(str(url.render_as_string(hide_password=False))))
    dialect = engine_args.get_dialect()()
    _, kwargs = dialect.create_connect_args(engine_args)
    assert kwargs["ssl"] == {
        "ca": "/etc/ssl/ca.pem",
        "cert": "/etc/ssl/c.pem",
        "key": "/etc/ssl/k.pem",
    }
    assert kwargs["init_command"] == "SET sql_mode='STRICT_TRANS_TABLES'"
    assert kwargs["unix_socket"] == "/run/mysqld/mysqld.sock"


def test_postgresql_becomes_psycopg_with_libpqs_options() -> None:
    settings = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "lms",
        "USER": "lms",
        "PASSWORD": "secret",
        "HOST": "/var/run/postgresql",
        "PORT": "",
        "OPTIONS": {"sslmode": "require", "options": "-c search_path=lms", "pool": True},
    }
    url = make_url(url_for("postgresql", settings))
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.port, url.database) == (None, None, "lms")
    assert dict(url.query) == {
        "host": "/var/run/postgresql",
        "sslmode": "require",
        "options": "-c search_path=lms",
    }


def test_sqlite_is_the_same_file() -> None:
    url = url_for("sqlite", {"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/edx/db.sqlite"})
    assert url == "sqlite:////srv/edx/db.sqlite"


@pytest.mark.parametrize("name", [":memory:", "", "file:memorydb_default?mode=memory&cache=shared"])
def test_sqlite_in_memory_is_refused(name: str) -> None:
    with pytest.raises(InMemoryDatabase, match=r"in memory.*ROLECALL_DATABASE_URL"):
        url_for("sqlite", {"ENGINE": "django.db.backends.sqlite3", "NAME": name})


def test_an_engine_rolecall_cannot_use_is_refused_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    oracle = {"ENGINE": "django.db.backends.oracle", "NAME": "xe"}
    with pytest.raises(SharedDatabaseError) as refused:
        url_for("oracle", oracle)
    message = str(refused.value)
    assert "django.db.backends.oracle" in message
    assert "SQLite, PostgreSQL, MySQL or MariaDB" in message
    assert "set ROLECALL_DATABASE_URL" in message
    assert isinstance(refused.value, ImproperlyConfigured)
    # The same from the service and from the command, when nothing names another database.
    monkeypatch.setattr(platform, "_platform", lambda: ("oracle", oracle))
    with override_settings(ROLECALL_DATABASE_URL=None):
        with pytest.raises(ImproperlyConfigured, match=r"django\.db\.backends\.oracle"):
            get_rolecall()
        with pytest.raises(CommandError, match=r"rolecall: .*django\.db\.backends\.oracle"):
            call_command("rolecall_migrate")
    reset()


def test_rolecall_database_url_names_another_database(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'own.db'}"
    out = StringIO()
    with override_settings(ROLECALL_DATABASE_URL=url):
        assert platform.database_url() == url
        call_command("rolecall_migrate", stdout=out)
    assert out.getvalue().startswith("rolecall: schema upgraded to revision ")
    assert (tmp_path / "own.db").exists()


def test_post_migrate_leaves_an_in_memory_database_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[str] = []
    monkeypatch.setattr(platform, "_platform", lambda: ("sqlite", {"NAME": ":memory:"}))
    monkeypatch.setattr(platform, "migrate", lambda url=None: ran.append(str(url)) or (True, ""))
    with override_settings(ROLECALL_DATABASE_URL=None):
        platform.migrated(using="default", verbosity=0)
    assert ran == []


# --- the platform's own database: PostgreSQL and MariaDB ----------------------------------------

needs_platform = pytest.mark.skipif(not (MYSQL or POSTGRES), reason=PLATFORM_SKIP)


def rolecall_tables() -> set[str]:
    return {t for t in connection.introspection.table_names() if t.startswith("rolecall_")}


def drop_rolecall_tables(rc: Rolecall) -> None:
    """Every table of rolecall's gone from the platform's database."""
    engine = rc.engine
    tables = [t for t in inspect(engine).get_table_names() if t.startswith("rolecall_")]
    with engine.begin() as conn:
        quote = conn.dialect.identifier_preparer.quote
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"DROP TABLE {', '.join(quote(t) for t in tables)} CASCADE"))
        else:
            conn.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
            for table in tables:
                conn.execute(text(f"DROP TABLE {quote(table)}"))
            conn.execute(text("SET FOREIGN_KEY_CHECKS = 1"))
    reset()


@needs_platform
@pytest.mark.django_db
def test_the_service_uses_the_platforms_database_and_driver(platform_rc: Rolecall) -> None:
    url = platform_rc.engine.url
    assert url.database == connection.settings_dict["NAME"]  # Django's test database
    assert platform_rc.engine.dialect.driver == ("mysqldb" if MYSQL else "psycopg")
    tables = rolecall_tables()
    assert set(TABLES) <= tables
    assert "rolecall_alembic_version" in tables
    assert "alembic_version" not in connection.introspection.table_names()


@needs_platform
@pytest.mark.django_db
def test_grants_made_through_rolecall_are_in_the_platforms_database(
    platform_rc: Rolecall,
) -> None:
    ada = User.objects.create_user("ada")
    platform_rc.add_users(["ada"])
    platform_rc.assign("ada", "course_staff", COURSE)
    with connection.cursor() as cursor:  # Django's own connection, in its test transaction
        cursor.execute("SELECT role, scope FROM rolecall_assignments")
        assert [tuple(row) for row in cursor.fetchall()] == [("course_staff", COURSE)]
    assert ada.has_perm(EDIT, COURSE)
    platform_rc.revoke("ada", "course_staff", COURSE)
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM rolecall_assignments")
        assert cursor.fetchone() == (0,)


@needs_platform
@pytest.mark.django_db
def test_rolecall_migrate_makes_the_tables_in_the_platforms_database(
    platform_rc: Rolecall,
) -> None:
    drop_rolecall_tables(platform_rc)
    assert rolecall_tables() == set()
    out = StringIO()
    with override_settings(ROLECALL_DATABASE_URL=None):
        call_command("rolecall_migrate", stdout=out)
        assert out.getvalue().startswith("rolecall: schema upgraded to revision ")
        assert set(TABLES) <= rolecall_tables()
        rc = get_rolecall()
        rc.add_users(["ada"])
        assert rc.verify_audit().ok
        out = StringIO()
        call_command("rolecall_migrate", stdout=out)
        assert out.getvalue().startswith("rolecall: schema already at revision ")
        reset()


@needs_platform
@pytest.mark.django_db
def test_migrate_makes_rolecalls_tables_after_the_platforms(platform_rc: Rolecall) -> None:
    drop_rolecall_tables(platform_rc)
    config = apps.get_app_config("rolecall_openedx")
    with override_settings(ROLECALL_DATABASE_URL=None):
        # Another database's migrations are not rolecall's.
        platform.migrated(sender=config, app_config=config, using="other", verbosity=0)
        assert rolecall_tables() == set()
        out = StringIO()
        call_command("migrate", interactive=False, stdout=out)
        assert "rolecall: schema upgraded to revision " in out.getvalue()
        assert out.getvalue().count("rolecall: schema") == 1  # once, not once per app
        assert set(TABLES) <= rolecall_tables()
        rc = get_rolecall()
        rc.add_users(["ada"])
        rc.assign("ada", "course_staff", COURSE)
        assert rc.check("ada", EDIT, COURSE)
        assert rc.verify_audit().ok
        reset()
