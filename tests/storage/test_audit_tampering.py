"""Someone who can write the database but does not hold the audit key tries to empty, cut
short or downgrade the audit log so that ``audit verify`` still passes.

Each attack runs with the keys in a key file and in ``ROLECALL_SECRET_KEY`` (what a server
database and the Django package use, where no revision of keying is recorded outside the
database), on SQLite, PostgreSQL and MariaDB. The state row binds the chain's head (how many
events, the newest one's id, revision and hash) under the audit key, so each must fail; an
untouched chain, a rotated key and a state row from before the binding must not.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from conftest import make_plugins
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from rolecall.core import Rolecall
from rolecall.core.storage.audit import Head, hash_of, legacy_state_mac, state_mac
from rolecall.core.storage.database import GENESIS_HASH, _alembic_config, make_engine, upgrade
from rolecall.core.storage.keys import AUDIT_KEY
from rolecall.core.storage.models import AuditEvent, State

from support import run_cli

C1 = "course-v1:MITx+6.002x+2026_T1"
OLD_SECRET, NEW_SECRET = "o" * 40, "n" * 40
KEY_SOURCES = ["key file", "ROLECALL_SECRET_KEY"]


@pytest.fixture(params=KEY_SOURCES)
def key_source(
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """The audit key from a key file of the test's own, or from ``ROLECALL_SECRET_KEY``."""
    if request.param == "key file":
        path = tmp_path_factory.mktemp("keys") / "rolecall.keys"
        monkeypatch.setenv("ROLECALL_KEY_FILE", str(path))
    else:
        monkeypatch.delenv("ROLECALL_KEY_FILE")
        monkeypatch.setenv("ROLECALL_SECRET_KEY", OLD_SECRET)
    return str(request.param)


def _open(url: str) -> Rolecall:
    return Rolecall.open(url, plugins=make_plugins(), background_sync=False, staleness=0)


@pytest.fixture
def rc(database_url: str, key_source: str) -> Iterator[Rolecall]:
    service = _open(database_url)
    try:
        yield service
    finally:
        service.close()


def _write_some(rc: Rolecall) -> None:
    rc.add_users(["ada", "bob"])
    rc.assign("ada", "editor", C1)
    rc.assign("bob", "viewer", C1)
    rc.revoke("bob", "viewer", C1)


def _events(session: Session) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def _plain_hash(previous: str, event: AuditEvent) -> str:
    """The event's hash as a chain without a key has it (plain SHA-256)."""
    return hash_of(previous, event)


def _state(rc: Rolecall) -> dict[str, Any]:
    with rc.engine.connect() as connection:
        return dict(connection.execute(select(State)).mappings().one())


def _failed(rc: Rolecall, *expected: str, expect: Head | None = None) -> str:
    found = rc.verify_audit(expect=expect)
    assert not found.ok, found.message
    assert found.head is None
    assert any(part in found.message for part in expected), found.message
    return found.message


# ---------------------------------------------------------------------------- untouched


def test_an_untouched_chain_verifies_from_its_first_moment(rc: Rolecall) -> None:
    # A new database's empty chain is signed when the database is made.
    empty = rc.verify_audit()
    assert empty.ok, empty.message
    assert empty.head is not None
    assert (empty.head.events, empty.head.last_id, empty.head.last_hash) == (0, 0, GENESIS_HASH)
    assert empty.head.mac is not None
    _write_some(rc)
    found = rc.verify_audit()
    assert found.ok, found.message
    state = _state(rc)
    assert found.head == Head(
        state["events"],
        state["last_event_id"],
        state["revision"],
        state["last_hash"],
        0,
        state["last_mac"],
    )
    with Session(rc.engine) as session:
        events = _events(session)
    assert (found.head.events, found.head.last_id) == (len(events), events[-1].id)
    assert (found.head.revision, found.head.last_hash) == (events[-1].revision, events[-1].hash)


def test_a_rotated_key_keeps_the_head_verifying(
    rc: Rolecall, database_url: str, key_source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_some(rc)
    if key_source == "key file":
        rc.keys.rotate(AUDIT_KEY)
    else:
        rc.close()
        monkeypatch.setenv("ROLECALL_SECRET_KEY", f"{NEW_SECRET} {OLD_SECRET}")
        rc = _open(database_url)
    try:
        # The state row is still signed with the older key, which verifies it.
        before = rc.verify_audit()
        assert before.ok, before.message
        rc.assign("bob", "viewer", C1)
        after = rc.verify_audit()
        assert after.ok, after.message
        assert after.events == before.events + 1
        with Session(rc.engine) as session:
            assert len({e.key_id for e in _events(session)}) == 2
    finally:
        rc.close()


# ---------------------------------------------------------------------------- attacks


@pytest.mark.parametrize(
    "reset",
    [
        {"last_hash": GENESIS_HASH, "last_mac": None},
        {
            "revision": 0,
            "last_hash": GENESIS_HASH,
            "events": 0,
            "last_event_id": 0,
            "keyed_after": None,
            "last_mac": None,
        },
    ],
    ids=["hash and signature", "the whole row"],
)
def test_an_emptied_log_with_the_state_row_reset_fails(rc: Rolecall, reset: dict[str, Any]) -> None:
    _write_some(rc)
    assert rc.verify_audit().ok
    with rc.engine.begin() as connection:
        connection.execute(delete(AuditEvent))
        connection.execute(update(State).values(**reset))
    message = _failed(rc, "the state row is unsigned")
    assert "emptied or rewritten by someone without the key" in message


def test_an_emptied_log_with_the_signature_left_fails(rc: Rolecall) -> None:
    _write_some(rc)
    with rc.engine.begin() as connection:
        connection.execute(delete(AuditEvent))
        connection.execute(
            update(State).values(revision=0, last_hash=GENESIS_HASH, events=0, last_event_id=0)
        )
    _failed(rc, "not signed with the audit key")


def test_a_write_after_an_emptied_log_does_not_hide_it(rc: Rolecall) -> None:
    """A write signs the head it finds plus its own events. Over a log emptied with the
    revision kept, the head it signs says keying began after that revision, with no event
    from before it: verify still fails. Reset whole, to revision 0, only a head kept outside
    the database shows it (the limit docs/security.md states)."""
    _write_some(rc)
    recorded = rc.verify_audit().head
    reset = {"last_hash": GENESIS_HASH, "events": 0, "last_event_id": 0, "keyed_after": None}
    with rc.engine.begin() as connection:
        connection.execute(delete(AuditEvent))
        connection.execute(update(State).values(last_mac=None, **reset))
    rc.add_user("cy")
    _failed(rc, "the chain holds no event from before it")

    with rc.engine.begin() as connection:
        connection.execute(delete(AuditEvent))
        connection.execute(update(State).values(last_mac=None, revision=0, **reset))
    rc.add_user("dee")
    assert rc.verify_audit().ok
    _failed(rc, "no longer holds the head recorded earlier", expect=recorded)


def test_one_event_removed_and_the_chain_rewritten_unkeyed_fails(
    rc: Rolecall, key_source: str
) -> None:
    _write_some(rc)
    with Session(rc.engine) as session, session.begin():
        events = _events(session)
        session.delete(events[2])  # ada made editor: gone
        session.flush()
        kept = events[:2] + events[3:]
        previous = GENESIS_HASH
        for event in kept:
            event.prev_hash, event.key_id = previous, None
            event.hash = previous = _plain_hash(previous, event)
        session.execute(
            update(State).values(
                last_hash=previous,
                events=len(kept),
                last_event_id=kept[-1].id,
                keyed_after=None,
                last_mac=None,
            )
        )
    if key_source == "key file":  # the key file records the revision at which keying began
        _failed(rc, "written after keying began")
    else:
        _failed(rc, "the state row is unsigned")


def test_an_unsigned_state_row_fails_wherever_keys_are_configured(rc: Rolecall) -> None:
    _write_some(rc)
    with rc.engine.begin() as connection:
        connection.execute(update(State).values(last_mac=None))
    _failed(rc, "the state row is unsigned")


def test_an_unkeyed_event_after_keyed_ones_fails(rc: Rolecall) -> None:
    _write_some(rc)
    state = _state(rc)
    with Session(rc.engine) as session, session.begin():
        newest = _events(session)[-1]
        forged = AuditEvent(
            revision=newest.revision + 1,
            at=newest.at,
            action="assign",
            actor=None,
            user="bob",
            role="admin",
            scope="platform",
            details={},
            batch_id=None,
            prev_hash=newest.hash,
            key_id=None,
        )
        forged.hash = _plain_hash(newest.hash, forged)
        session.add(forged)
        session.flush()
        session.execute(
            update(State).values(
                revision=forged.revision,
                last_hash=forged.hash,
                events=state["events"] + 1,
                last_event_id=forged.id,
                last_mac=None,
            )
        )
        forged_id = forged.id
    message = _failed(rc, "unkeyed but follows keyed events")
    assert message.startswith(f"event {forged_id}:")


def test_removing_every_keyed_event_of_an_upgraded_log_fails(
    database_url: str, key_source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A database from a release without keys: made without signing, written unkeyed.
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    rc = _open(database_url)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(rc.writes, "_keys", None)
            rc.add_users(["ada", "bob", "cy"])
        unkeyed = _state(rc)
        assert unkeyed["last_mac"] is None
        rc.assign("ada", "editor", C1)  # the first keyed write
        keyed = rc.verify_audit()
        assert keyed.ok, keyed.message
        assert (keyed.keyed, keyed.unkeyed) == (1, 3)
        assert keyed.head is not None
        assert keyed.head.keyed_after == unkeyed["revision"]
        # Every keyed event removed, the state row put back as it stood before them.
        with rc.engine.begin() as connection:
            connection.execute(delete(AuditEvent).where(AuditEvent.key_id.is_not(None)))
            connection.execute(
                update(State).values(
                    {k: v for k, v in unkeyed.items() if k != "last_assignment_id"}
                )
            )
        _failed(rc, "the state row is unsigned")
    finally:
        rc.close()


def _renumber(rc: Rolecall, state: dict[str, Any]) -> None:
    with rc.engine.begin() as connection:
        connection.execute(
            update(AuditEvent)
            .where(AuditEvent.id == state["last_event_id"])
            .values(id=state["last_event_id"] + 1000)
        )


def _set(**values: Any) -> Any:
    def change(rc: Rolecall, state: dict[str, Any]) -> None:
        with rc.engine.begin() as connection:
            connection.execute(update(State).values({k: v(state) for k, v in values.items()}))

    return change


def _cut_newest(rc: Rolecall, state: dict[str, Any]) -> None:
    """The newest event removed, and the state row's hash, count and last id moved back to the
    one before it (its signature cannot be)."""
    with Session(rc.engine) as session, session.begin():
        *kept, newest = _events(session)
        session.delete(newest)
        session.execute(
            update(State).values(
                last_hash=kept[-1].hash,
                events=len(kept),
                last_event_id=kept[-1].id,
                revision=kept[-1].revision,
            )
        )


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (_set(events=lambda s: s["events"] - 1), "not signed with the audit key"),
        (_set(events=lambda s: s["events"] + 1), "not signed with the audit key"),
        (_set(last_event_id=lambda s: s["last_event_id"] - 1), "not signed with the audit key"),
        (_set(revision=lambda s: s["revision"] + 1), "not signed with the audit key"),
        (_set(keyed_after=lambda s: 99), "not signed with the audit key"),
        (_cut_newest, "not signed with the audit key"),
        (_renumber, "events were removed, added or renumbered"),
    ],
    ids=[
        "count lowered",
        "count raised",
        "last id changed",
        "revision changed",
        "keyed_after changed",
        "newest cut, row moved back",
        "newest renumbered",
    ],
)
def test_a_state_row_that_does_not_match_the_table_fails(
    rc: Rolecall, tamper: Any, expected: str
) -> None:
    _write_some(rc)
    tamper(rc, _state(rc))
    _failed(rc, expected)


# ---------------------------------------------------------------------------- the head outside


def test_a_head_kept_outside_catches_an_old_state_row_put_back(rc: Rolecall) -> None:
    """What verify alone cannot see: the state row as it stood earlier, signed, put back with
    the events after it removed (a restored backup looks the same). A head recorded outside
    the database can."""
    made = _state(rc)  # the signed row of the new, empty chain
    rc.add_users(["ada", "bob"])
    middle_state = _state(rc)
    middle = rc.verify_audit().head
    assert middle is not None
    rc.assign("ada", "editor", C1)
    newest = rc.verify_audit().head
    assert newest is not None
    assert rc.verify_audit(expect=middle).ok
    assert rc.verify_audit(expect=newest).ok

    # Cut back to the middle, the state row as it stood then.
    with rc.engine.begin() as connection:
        connection.execute(delete(AuditEvent).where(AuditEvent.id > middle.last_id))
        connection.execute(update(State).values(middle_state))
    assert rc.verify_audit().ok  # the limit docs/security.md states
    assert rc.verify_audit(expect=middle).ok
    _failed(rc, "no longer holds the head recorded earlier", expect=newest)

    # Emptied, the row of the new database put back.
    with rc.engine.begin() as connection:
        connection.execute(delete(AuditEvent))
        connection.execute(update(State).values(made))
    assert rc.verify_audit().ok
    _failed(rc, "no longer holds the head recorded earlier", expect=middle)


def test_a_head_kept_outside_catches_a_rewrite_with_the_key(rc: Rolecall) -> None:
    """Whoever holds the key can rewrite the chain so that it verifies; not so that it still
    holds a head recorded before the rewrite."""
    _write_some(rc)
    recorded = rc.verify_audit().head
    assert recorded is not None
    key = rc.keys.current(AUDIT_KEY)
    with Session(rc.engine) as session, session.begin():
        previous = GENESIS_HASH
        for event in _events(session):
            if event.role == "viewer":
                event.role = "editor"
            event.prev_hash, event.key_id = previous, key.id
            event.hash = previous = hash_of(previous, event, key)
        state = session.execute(select(State)).scalar_one()
        head = Head(state.events, state.last_event_id, state.revision, previous, state.keyed_after)
        state.last_hash, state.last_mac = previous, state_mac(key, head)
    assert rc.verify_audit().ok  # the limit docs/security.md states
    _failed(rc, "no longer holds the head recorded earlier", expect=recorded)


def test_the_cli_prints_the_head_and_checks_one_kept_outside(
    tmp_path: Path, key_source: str
) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    assert run_cli("--database", db, "users", "add", "ada", "bob").returncode == 0
    shown = run_cli("--database", db, "audit", "verify", "--json")
    assert shown.returncode == 0, shown.stderr
    printed = json.loads(shown.stdout)
    head = printed["head"]
    assert set(head) == {"events", "last_id", "last_revision", "last_hash", "keyed_after", "mac"}
    assert (head["events"], head["last_revision"], head["keyed_after"]) == (2, 1, 0)
    assert len(head["mac"]) == 64
    log = tmp_path / "heads.jsonl"
    log.write_text(shown.stdout)
    assert run_cli("--database", db, "users", "add", "cy").returncode == 0
    # The whole output, or the head alone, from a file or standard input.
    assert run_cli("--database", db, "audit", "verify", "--expect-head", str(log)).returncode == 0
    alone = run_cli(
        "--database", db, "audit", "verify", "--expect-head", "-", input=json.dumps(head)
    )
    assert alone.returncode == 0, alone.stderr
    assert "it holds the head recorded earlier (2 events)" in alone.stdout

    # Emptied and reset: verify fails with or without the head.
    engine = make_engine(db)
    with engine.begin() as connection:
        connection.execute(delete(AuditEvent))
        connection.execute(
            update(State).values(last_hash=GENESIS_HASH, events=0, last_event_id=0, last_mac=None)
        )
        assert connection.scalar(select(func.count()).select_from(AuditEvent)) == 0
    engine.dispose()
    plain = run_cli("--database", db, "audit", "verify", "--json")
    assert plain.returncode == 1
    assert json.loads(plain.stdout)["head"] is None
    anchored = run_cli("--database", db, "audit", "verify", "--expect-head", str(log))
    assert anchored.returncode == 1
    assert "the state row is unsigned" in anchored.stderr

    bad = tmp_path / "bad.json"
    bad.write_text('{"events": "many"}')
    refused = run_cli("--database", db, "audit", "verify", "--expect-head", str(bad))
    assert refused.returncode == 2
    assert "--expect-head" in refused.stderr


# ---------------------------------------------------------------------------- upgrades


def test_a_state_row_from_before_the_binding_verifies_until_the_next_write_binds_it(
    rc: Rolecall, database_url: str
) -> None:
    _write_some(rc)
    key = rc.keys.current(AUDIT_KEY)
    config = _alembic_config()
    with rc.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")
        # As 0006 to 0008 left it: the newest hash signed alone.
        last_hash = connection.scalar(text("SELECT last_hash FROM rolecall_state"))
        connection.execute(
            text("UPDATE rolecall_state SET last_mac = :m"),
            {"m": legacy_state_mac(key, last_hash)},
        )
    rc.close()
    upgraded = _open(database_url)
    try:
        state = _state(upgraded)
        with Session(upgraded.engine) as session:
            events = _events(session)
        # The migration takes the count and the newest id from the table.
        assert (state["events"], state["last_event_id"]) == (len(events), events[-1].id)
        assert state["keyed_after"] == 0
        # Migration 0010 checked the chain (its state row signed as before 0009), then
        # re-anchored it with a keyed event and signed the whole head.
        anchor = events[-1].details
        assert events[-1].action == "audit_reanchor"
        assert anchor["previous_verified"] is True
        assert "signed as before migration 0009" in anchor["previous_message"]
        found = upgraded.verify_audit()
        assert found.ok, found.message
        assert "migration 0009" not in found.message
        upgraded.add_user("dee")
        bound = upgraded.verify_audit()
        assert bound.ok, bound.message
        assert bound.head is not None
        assert bound.head.events == len(events) + 1
        # Bound now: the log emptied with the row reset fails.
        with upgraded.engine.begin() as connection:
            connection.execute(delete(AuditEvent))
            connection.execute(
                update(State).values(
                    last_hash=GENESIS_HASH, events=0, last_event_id=0, revision=0, last_mac=None
                )
            )
        _failed(upgraded, "the state row is unsigned")
    finally:
        upgraded.close()


def test_a_database_made_by_db_upgrade_starts_signed(tmp_path: Path, key_source: str) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    made = run_cli("--database", db, "db", "upgrade")
    assert made.returncode == 0, made.stderr
    found = run_cli("--database", db, "audit", "verify")
    assert found.returncode == 0, found.stderr
    assert found.stdout == "audit chain intact: 0 events (0 keyed)\n"
