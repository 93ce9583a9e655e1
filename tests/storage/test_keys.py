"""Keys outside the database (``rc.keys``) and the keyed audit chain.

The keys that sign console sessions and the audit chain live in a key file (beside an SQLite
database, or at ``ROLECALL_KEY_FILE``) or come from ``ROLECALL_SECRET_KEY``; never in the
database. Someone who can rewrite the database but lacks the audit key cannot make a rewritten
chain verify.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from conftest import make_plugins
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.orm import Session

from rolecall.core import Rolecall
from rolecall.core.storage.audit import Head, event_hash, hash_of, state_mac
from rolecall.core.storage.database import GENESIS_HASH, _alembic_config, make_engine
from rolecall.core.storage.keys import AUDIT_KEY, SESSION_KEY, Key, KeyRing, KeyStoreError
from rolecall.core.storage.models import AuditEvent, State

from support import run_cli

C1 = "course-v1:MITx+6.002x+2026_T1"
LONG_SECRET = "s" * 40


def _open(url: str) -> Rolecall:
    return Rolecall.open(url, plugins=make_plugins(), background_sync=False, staleness=0)


def _write_some(rc: Rolecall) -> None:
    rc.add_users(["ada", "bob"])
    rc.assign("ada", "editor", C1)
    rc.assign("bob", "viewer", C1)
    rc.revoke("bob", "viewer", C1)


def _rewrite(rc: Rolecall, signing: Key | None, key: Key | None = None) -> None:
    """What someone who can write the database does: alter an event (bob made editor, not
    viewer), then rehash every event from the first with ``signing`` (None: a plain hash, as
    before keying) and move the state row's hash to the newest (signed, if they hold ``key``)."""
    with Session(rc.engine) as session, session.begin():
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        previous = GENESIS_HASH
        for event in events:
            if event.role == "viewer":
                event.role = "editor"
            event.prev_hash = previous
            event.hash = hash_of(previous, event, signing)
            event.key_id = signing.id if signing is not None else None
            previous = event.hash
        state = session.execute(
            select(State.events, State.last_event_id, State.revision, State.keyed_after)
        ).one()
        head = Head(state.events, state.last_event_id, state.revision, previous, state.keyed_after)
        session.execute(update(State).values(last_hash=previous, last_mac=state_mac(key, head)))


def test_a_rewritten_chain_fails_unless_the_key_is_stolen(rc: Rolecall) -> None:
    _write_some(rc)
    ok = rc.verify_audit()
    assert ok.ok, ok.message
    assert ok.keyed == ok.events > 0
    assert ok.unkeyed == 0
    key = rc.keys.current(AUDIT_KEY)

    # Rehashed with plain SHA-256, as the chain was before keying: refused.
    _rewrite(rc, None)
    found = rc.verify_audit()
    assert not found.ok
    assert "rewritten without the audit key" in found.message

    # Rehashed with a key of the attacker's own, under the real key's id: refused.
    forged = Key(key.id, b"x" * 32)
    _rewrite(rc, forged)
    found = rc.verify_audit()
    assert not found.ok
    assert found.first_bad is not None
    assert "does not match its hash" in found.message

    # With the key itself (stolen from outside the database), a rewrite verifies: the limit
    # docs/security.md states.
    _rewrite(rc, key, key)
    assert rc.verify_audit().ok


def test_removing_the_newest_events_fails_even_with_the_state_row_moved_back(
    rc: Rolecall,
) -> None:
    _write_some(rc)
    assert rc.verify_audit().ok
    with Session(rc.engine) as session, session.begin():
        newest = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert newest is not None
        session.delete(newest)
        session.flush()
        kept = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert kept is not None
        # The chain now ends at the kept event: the state row is moved back to it.
        session.execute(update(State).values(last_hash=kept.hash))
    found = rc.verify_audit()
    assert not found.ok
    assert "not signed with the audit key" in found.message


def test_the_key_file_is_made_beside_the_sqlite_database_private_and_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROLECALL_KEY_FILE")
    database = tmp_path / "rolecall.db"
    rc = _open(f"sqlite:///{database}")
    try:
        _write_some(rc)
        path = tmp_path / "rolecall.db.keys"
        assert rc.keys.path == path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        stored = json.loads(path.read_text())
        secrets = [v["key"] for p in (SESSION_KEY, AUDIT_KEY) for v in stored[p]]
        rc.engine.dispose()
        content = database.read_bytes() + b"".join(
            p.read_bytes() for p in tmp_path.glob("rolecall.db-*")
        )
        for secret in secrets:
            assert secret.encode() not in content
            assert bytes.fromhex(secret) not in content
        # Another process on the same database uses the same keys.
        other = _open(f"sqlite:///{database}")
        try:
            assert other.keys.current(AUDIT_KEY) == rc.keys.current(AUDIT_KEY)
            assert other.verify_audit().ok
        finally:
            other.close()
    finally:
        rc.close()


def test_processes_starting_together_make_one_key_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.keys"
    found: list[str] = []
    start = threading.Barrier(8)

    def first_use() -> None:
        ring = KeyRing(path=path)  # one ring each, as separate processes have
        start.wait()
        found.append(ring.current(AUDIT_KEY).id)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8
    assert len(set(found)) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["shared.keys"]  # no temporary file left


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rolecall.keys"
    made = KeyRing(path=path).current(AUDIT_KEY)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KeyRing(path=path).current(AUDIT_KEY) == made
    path.chmod(0o644)
    with pytest.raises(KeyStoreError, match="chmod 600"):
        KeyRing(path=path).current(AUDIT_KEY)


def test_a_server_database_without_keys_is_refused(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROLECALL_KEY_FILE")
    rc = _open(postgres_url)
    try:
        assert rc.users() == []  # reading needs no key
        with pytest.raises(KeyStoreError, match="ROLECALL_KEY_FILE"):
            rc.add_user("ada")
        assert rc.audit() == []  # nothing was written
        with rc.engine.connect() as connection:
            assert list(connection.exec_driver_sql("SELECT name FROM rolecall_secrets")) == []
    finally:
        rc.close()
    engine = create_engine(postgres_url)
    with pytest.raises(KeyStoreError, match="ROLECALL_SECRET_KEY"):
        KeyRing.for_database(engine, environ={}).current(SESSION_KEY)
    engine.dispose()


def test_keys_from_the_environment_and_their_rotation(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = "a" * 40, "b" * 40
    monkeypatch.setenv("ROLECALL_SECRET_KEY", old)
    rc = _open(sqlite_url)
    _write_some(rc)
    first = rc.keys.current(AUDIT_KEY).id
    with pytest.raises(KeyStoreError, match="put a new secret first"):
        rc.keys.rotate(AUDIT_KEY)
    rc.close()
    # A new secret first, the old one after it: new events use the new key, old ones verify.
    monkeypatch.setenv("ROLECALL_SECRET_KEY", f"{new} {old}")
    rc = _open(sqlite_url)
    rc.assign("bob", "viewer", C1)
    assert rc.keys.current(AUDIT_KEY).id != first
    assert {e.key_id for e in _events(rc)} == {first, rc.keys.current(AUDIT_KEY).id}
    assert rc.verify_audit().ok
    rc.close()
    # Without the old secret, the events it signed cannot be verified.
    monkeypatch.setenv("ROLECALL_SECRET_KEY", new)
    rc = _open(sqlite_url)
    found = rc.verify_audit()
    assert not found.ok
    assert f"audit key {first}" in found.message
    rc.close()
    monkeypatch.setenv("ROLECALL_SECRET_KEY", "short")
    with pytest.raises(KeyStoreError, match="at least 32"):
        _open(sqlite_url)


def _events(rc: Rolecall) -> list[AuditEvent]:
    with Session(rc.engine) as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_rotating_the_audit_key_keeps_old_events_verifying(tmp_path: Path, key_file: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    assert run_cli("--database", db, "users", "add", "ada").returncode == 0
    rotated = run_cli("--database", db, "secrets", "rotate", "audit-key", "--json")
    assert rotated.returncode == 0, rotated.stderr
    new_id = json.loads(rotated.stdout)["key_id"]
    assert run_cli("--database", db, "users", "add", "bob").returncode == 0
    verified = run_cli("--database", db, "audit", "verify", "--json")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["keyed"] == 3
    shown = json.loads(run_cli("--database", db, "secrets", "show", "--json").stdout)
    assert shown["keys"]["audit-key"][-1] == new_id
    assert len(shown["keys"]["audit-key"]) == 2
    assert shown["source"] == str(key_file)
    # Lose the older key and the events it signed no longer verify, by name.
    stored = json.loads(key_file.read_text())
    lost = stored["audit-key"].pop(0)["id"]
    key_file.write_text(json.dumps(stored))
    broken = run_cli("--database", db, "audit", "verify")
    assert broken.returncode == 1
    assert f"audit key {lost}" in broken.stderr


def test_events_from_before_keying_verify_as_unkeyed_and_seal(
    key_file: Path, sqlite_url: str
) -> None:
    # A database as the previous release left it: schema 0004, plain SHA-256 events.
    engine = make_engine(sqlite_url)
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
        previous = GENESIS_HASH
        at = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
        for revision, user in enumerate(("ada", "bob", "cy"), start=1):
            details = {"email": None, "display_name": None, "active": True}
            digest = event_hash(
                previous, revision, at, "user_add", None, user, None, None, details, None
            )
            connection.execute(
                text(
                    "INSERT INTO rolecall_users (username, active, created_at) "
                    "VALUES (:u, 1, '2026-11-01 09:30:00.000000')"
                ),
                {"u": user},
            )
            connection.execute(
                text(
                    "INSERT INTO rolecall_audit (revision, at, action, user, details, prev_hash, "
                    "hash) VALUES (:r, '2026-11-01 09:30:00.000000', 'user_add', :u, :d, :p, :h)"
                ),
                {"r": revision, "u": user, "d": json.dumps(details), "p": previous, "h": digest},
            )
            previous = digest
        connection.execute(
            text("INSERT INTO rolecall_state (id, revision, last_hash) VALUES (1, 3, :h)"),
            {"h": previous},
        )
    engine.dispose()

    rc = _open(sqlite_url)  # upgrades to keyed
    try:
        # Migration 0010 re-anchors the chain with a keyed event (pseudonyms instead of the
        # usernames), which signs the state row: the unkeyed events stay unkeyed.
        before = rc.verify_audit()
        assert before.ok, before.message
        assert (before.keyed, before.unkeyed) == (1, 3)
        assert rc.keys.keyed_after == 3
        anchor = _events(rc)[-1]
        assert (anchor.action, anchor.revision) == ("audit_reanchor", 4)
        assert anchor.details["previous_head"]["events"] == 3
        assert all(e.user.startswith("user/") for e in _events(rc)[:3])
        rc.add_user("dee")
        after = rc.verify_audit()
        assert after.ok, after.message
        assert (after.keyed, after.unkeyed) == (2, 3)
        assert "3 unkeyed (before keying)" in after.message
        assert after.head is not None
        assert (after.head.events, after.head.revision, after.head.keyed_after) == (5, 5, 3)
        # Rewriting everything as unkeyed events, the newest included, is refused.
        _rewrite(rc, None)
        found = rc.verify_audit()
        assert not found.ok
        assert "after keying began" in found.message
    finally:
        rc.close()


def test_the_hmac_is_the_standard_one(rc: Rolecall) -> None:
    """An event's hash is HMAC-SHA256 of the payload with the key: anyone holding the key
    file can check the chain with any HMAC implementation."""
    rc.add_user("ada")
    event = _events(rc)[-1]
    key = rc.keys.current(AUDIT_KEY)
    payload = json.dumps(
        [
            event.prev_hash,
            event.revision,
            event.at.astimezone(UTC).isoformat(),
            event.action,
            event.actor,
            event.user,
            event.role,
            event.scope,
            event.details,
            event.batch_id,
        ],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    ).encode()
    assert event.key_id == key.id
    assert event.hash == hmac.new(key.secret, payload, hashlib.sha256).hexdigest()
