"""Console sessions and API tokens that end: at sign-out, on a password change or a
retirement, at the end of their lifetime or expiry, in every web process from its next request;
and a user whose grants have all expired holds nothing in the console or the API.

"Two web processes" are two services on one database, each with its own application; the
second never catches up on a timer (no background catch-up, an hour of staleness), so only
what each request checks can make it see a change made through the first.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import make_plugins
from console_support import PASSWORD, post, sign_in
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from rolecall.core import BadInputError, Rolecall
from rolecall.core.governance.lifecycle import retire_user
from rolecall.core.storage.models import ApiToken, Assignment
from rolecall.webapp import create_app
from rolecall.webapp import plugin as web_plugin
from rolecall.webapp.console.common import SESSIONS

from support import run_cli

C1 = "course-v1:MITx+6.002x+2026_T1"
COOKIE = "rolecall_session"


def _service(url: str, *, catch_up: bool = True) -> Rolecall:
    """A service as one web process has it; ``catch_up=False``: never on a timer."""
    return Rolecall.open(
        url,
        plugins=make_plugins(console=web_plugin),
        background_sync=False,
        staleness=0 if catch_up else 3600,
    )


@pytest.fixture
def two(database_url: str) -> Iterator[tuple[Rolecall, Rolecall]]:
    """Two web processes' services on one database: root (platform admin) and ada (an
    editor of C1), both with console passwords."""
    first = _service(database_url)
    first.add_users(["root", "ada"])
    first.assign("root", "admin", "platform")
    first.assign("ada", "editor", C1)
    first.accounts.set_password("root", PASSWORD)
    first.accounts.set_password("ada", PASSWORD)
    second = _service(database_url, catch_up=False)
    try:
        yield first, second
    finally:
        second.close()
        first.close()


def _client(rc: Rolecall, **config: object) -> FlaskClient:
    return create_app(rc, config={"TESTING": True, **config}).test_client()


def _cookie(client: FlaskClient) -> str:
    found = client.get_cookie(COOKIE)
    assert found is not None
    return found.value


def _home(client: FlaskClient) -> int:
    """The console's home page: 200, or 302 when sent to sign in."""
    response = client.get("/console/")
    if response.status_code == 302:
        assert "/console/login" in response.headers["Location"]
    return response.status_code


def test_signing_out_makes_a_replayed_cookie_worthless(two: tuple[Rolecall, Rolecall]) -> None:
    first, second = two
    client = _client(first)
    sign_in(client, "ada")
    assert _home(client) == 200
    stolen = _cookie(client)
    post(client, "/console/logout", {})
    assert _home(client) == 302
    # The cookie as it was before signing out, replayed here and in the other process.
    for rc in (first, second):
        replay = _client(rc)
        replay.set_cookie(COOKIE, stolen)
        assert _home(replay) == 302


def test_a_password_change_or_retirement_ends_sessions_and_tokens_everywhere(
    two: tuple[Rolecall, Rolecall],
) -> None:
    first, second = two
    client = _client(second)
    sign_in(client, "ada")
    assert _home(client) == 200
    first.accounts.set_password("ada", "a brand new password")
    assert _home(client) == 302  # the other process ends it on its next request

    sign_in(client, "ada", "a brand new password")
    _, token = first.accounts.create_token("ada")
    api = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/permissions", headers=api).status_code == 200
    assert _home(client) == 200
    retire_user(first, "ada")
    assert _home(client) == 302
    refused = client.get("/api/v1/permissions", headers=api)
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "invalid_token"


def test_a_session_ends_at_its_lifetime_however_it_is_used(
    two: tuple[Rolecall, Rolecall],
) -> None:
    first, _ = two
    client = _client(first, ROLECALL_SESSION_LIFETIME=3600)
    app = client.application
    start = time.time()
    now = [start]
    app.extensions[SESSIONS].clock = lambda: now[0]
    sign_in(client, "ada")
    for minutes in (10, 30, 50, 59):  # in use all along
        now[0] = start + 60 * minutes
        assert _home(client) == 200
    now[0] = start + 61 * 60  # past the hour since signing in
    assert _home(client) == 302


def test_the_database_alone_cannot_forge_a_console_session(two: tuple[Rolecall, Rolecall]) -> None:
    first, _ = two
    client = _client(first)
    sign_in(client, "root")  # a real session exists, its id only in root's cookie
    texts: set[str] = set()
    with first.engine.connect() as connection:
        for table in ("rolecall_secrets", "rolecall_console_sessions", "rolecall_accounts"):
            for row in connection.exec_driver_sql(f"SELECT * FROM {table}"):  # noqa: S608
                texts.update(str(value) for value in row)
    key = first.keys.current("console-session-key").secret
    assert key.hex() not in texts
    # Every value the database holds tried as the signing key, and the real key too (a
    # cookie naming a user, or a session id read from the database, is still refused).
    for candidate in [*sorted(texts), key]:
        forger = Flask("forger")
        forger.secret_key = candidate
        serializer = SecureCookieSessionInterface().get_signing_serializer(forger)
        assert serializer is not None
        for content in ({"user": "root"}, *({"sid": t} for t in sorted(texts))):
            attacker = _client(first)
            attacker.set_cookie(COOKIE, serializer.dumps(content))
            assert _home(attacker) == 302, (candidate, content)


def test_a_revoked_or_expired_token_is_refused_by_every_process(
    two: tuple[Rolecall, Rolecall],
) -> None:
    first, second = two
    client = _client(second)
    _, token = first.accounts.create_token("ada")
    api = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/permissions", headers=api).status_code == 200
    revoked = first.accounts.tokens("ada")[0].id
    first.accounts.revoke_token(revoked)
    assert client.get("/api/v1/permissions", headers=api).status_code == 401

    info, expiring = first.accounts.create_token(
        "ada", expires_at=datetime.now(UTC) + timedelta(days=1)
    )
    api = {"Authorization": f"Bearer {expiring}"}
    assert client.get("/api/v1/permissions", headers=api).status_code == 200
    # A day passes (moved in the row: the clock is the database's and the process's).
    with Session(first.engine) as session, session.begin():
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == info.id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    first.add_user("someone")  # any write: the revision moves on
    assert client.get("/api/v1/permissions", headers=api).status_code == 401
    listed = {t.id: t.state for t in first.accounts.tokens("ada")}
    assert listed == {revoked: "revoked", info.id: "expired"}
    with pytest.raises(BadInputError, match="in the past"):
        first.accounts.create_token("ada", expires_at=datetime.now(UTC) - timedelta(hours=1))


def test_tokens_create_expires_and_tokens_list_shows_it(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    assert run_cli("--database", db, "users", "add", "ada").returncode == 0
    made = run_cli(
        "--database", db, "tokens", "create", "ada", "--expires", "2999-01-31T09:00Z", "--json"
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["expires_at"] == "2999-01-31T09:00:00+00:00"
    listed = json.loads(run_cli("--database", db, "tokens", "list", "--json").stdout)
    assert [(t["expires_at"], t["state"]) for t in listed] == [
        ("2999-01-31T09:00:00+00:00", "active")
    ]
    table = run_cli("--database", db, "tokens", "list").stdout
    assert "EXPIRES" in table
    assert "2999-01-31 09:00" in table
    past = run_cli("--database", db, "tokens", "create", "ada", "--expires", "2001-01-01")
    assert past.returncode == 2
    assert "in the past" in past.stderr


def test_a_user_whose_grants_all_expired_holds_nothing(database_url: str) -> None:
    rc = _service(database_url)
    try:
        rc.add_users(["ada", "eve"])
        rc.assign("ada", "editor", C1, expires_at=datetime.now(UTC) + timedelta(days=1))
        rc.assign("eve", "editor", C1)
        for user in ("ada", "eve"):
            rc.accounts.set_password(user, PASSWORD)
        tokens = {user: rc.accounts.create_token(user)[1] for user in ("ada", "eve")}
        # A day passes: ada's only grant has expired (still stored, shown as expired).
        with Session(rc.engine) as session, session.begin():
            session.execute(
                update(Assignment)
                .where(Assignment.role == "editor")
                .where(Assignment.expires_at.is_not(None))
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
    finally:
        rc.close()
    rc = _service(database_url)
    try:
        assert [g.expired for g in rc.grants("ada")] == [True]
        for user, status in (("ada", 403), ("eve", 200)):
            client = _client(rc)
            sign_in(client, user)
            page = client.get("/console/")
            assert page.status_code == status, user
            if status == 403:
                assert "you hold no role" in page.get_data(as_text=True)
            api = {"Authorization": f"Bearer {tokens[user]}"}
            for path in ("/api/v1/permissions", "/api/v1/roles", "/api/v1/plugins"):
                assert client.get(path, headers=api).status_code == status, (user, path)
    finally:
        rc.close()
