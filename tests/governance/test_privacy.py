"""Privacy on retirement: the audit chain names people by pseudonym, and erasing a retired
user leaves nothing of their username, e-mail or name in any table, the audit included, while
the chain still verifies; on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import json
from typing import Any

import pytest
from alembic import command
from sqlalchemy import MetaData, select
from sqlalchemy.orm import Session

from rolecall.core import BadInputError, Plugins, Rolecall
from rolecall.core.engine import known
from rolecall.core.governance.history import access_at
from rolecall.core.governance.lifecycle import retire_user, user_retirement
from rolecall.core.reads.audit import list_audit, recent_audit
from rolecall.core.storage.audit import Head, hash_of, state_mac
from rolecall.core.storage.database import GENESIS_HASH, _alembic_config
from rolecall.core.storage.keys import AUDIT_KEY
from rolecall.core.storage.models import AuditEvent, State, User
from rolecall.core.storage.subjects import PREFIX

C1 = "course-v1:MITx+6.002x+2026_T1"
C2 = "course-v1:MITx+18.01x+2026_T1"
EMAIL = "eve.secret@example.org"
NAME = "Evelyn Quux"
OLD = "evequux"
RETIRED = "retired__user_0123456789abcdef"


def dump(rc: Rolecall) -> str:
    """Every row of every table of the database, as text (like SQLite's ``.dump``)."""
    metadata = MetaData()
    metadata.reflect(rc.engine)
    lines = []
    with rc.engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)):
                lines.append(f"{table.name}: {json.dumps(list(row), default=str)}")
    return "\n".join(lines)


def personal(text: str) -> list[str]:
    return [word for word in (EMAIL, NAME, OLD) if word.casefold() in text.casefold()]


@pytest.fixture
def eve(rc: Rolecall) -> Rolecall:
    """Eve with an e-mail and a name, a password, a token and roles; things she did as a user
    (a grant, a restriction); others acting on her and she on others."""
    rc.add_users([("admin", None, None), (OLD, EMAIL, NAME), ("bob", "bob@example.org", "Bob")])
    rc.add_scopes([C1, C2])
    rc.assign("admin", "admin", "platform")
    rc.assign(OLD, "staff", C1, actor="admin", reason="course team")
    rc.assign(OLD, "admin", "platform", actor="admin")
    rc.assign("bob", "viewer", C1, actor=OLD)
    rc.restrict(C2, exempt_roles=["editor"], actor=OLD)
    rc.accounts.set_password(OLD, "a long enough passphrase 1")
    rc.accounts.create_token(OLD, label="scripts")
    rc.accounts.create_token("bob", label="bob's", actor=OLD)
    rc.revoke(OLD, "admin", "platform", actor="admin")
    return rc


def test_the_chain_holds_no_username_email_or_name(eve: Rolecall) -> None:
    with Session(eve.engine) as session:
        events = session.scalars(select(AuditEvent)).all()
        users = session.scalars(select(AuditEvent.user).distinct()).all()
    stored = json.dumps([(e.actor, e.user, e.details) for e in events], default=str)
    assert personal(stored) == []
    assert all(u is None or u.startswith(PREFIX) for u in users)
    # Readers see usernames, and the filters take them.
    records = eve.audit(user=OLD)
    assert records
    assert {r.user for r in records} == {OLD}
    assert {r.actor for r in records} >= {"admin", None}
    grant = next(r for r in eve.audit(user="bob") if r.action == "assign")
    assert (grant.actor, grant.details["granted_by"]) == (OLD, OLD)
    assert [r.user for r in recent_audit(eve, actor=OLD).records][-1] == "bob"
    assert all(r.user == OLD for r in list_audit(eve, user=OLD).items)
    assert eve.verify_audit().ok


def test_erasing_a_retired_user_leaves_nothing_of_them_and_the_chain_verifies(
    eve: Rolecall, database_url: str, plugins: Plugins
) -> None:
    assert personal(dump(eve)) != []
    other = Rolecall.open(database_url, plugins=plugins, background_sync=False, staleness=3600)
    try:
        other.grants(OLD)  # known there, with her grants, before the erasure
        removal = user_retirement(
            eve, OLD, actor="retirement", erase=True, retired_username=RETIRED
        )
        assert removal.erased_as == RETIRED
        assert {(g.role, g.scope) for g in removal.grants} == {("staff", C1)}
        text = dump(eve)
        assert personal(text) == [], [line for line in text.splitlines() if personal(line)]
        verified = eve.verify_audit()
        assert verified.ok, verified.message
        # Readers show the placeholder wherever she was named.
        assert {r.user for r in eve.audit(user=RETIRED)} == {RETIRED}
        assert eve.audit(user=OLD) == []
        grant = next(r for r in eve.audit(user="bob") if r.action == "assign")
        assert (grant.actor, grant.details["granted_by"]) == (RETIRED, RETIRED)
        assert eve.grants("bob")[0].granted_by == RETIRED
        assert (RETIRED, None, None, False) in eve.users()
        assert all(u[0] != OLD for u in eve.users())
        with pytest.raises(BadInputError):
            eve.grants(OLD)
        # History replays the log by current names.
        assert access_at(eve, RETIRED, eve.audit()[-1].at) == []
        # Another process follows through the change feed.
        other.sync()
        assert (RETIRED, None, None, False) in other.users()
        assert all(u[0] != OLD for u in other.users())
        assert other.grants(RETIRED) == []
        assert other.grants("bob")[0].granted_by == RETIRED
        assert known.lookalike(other.index, OLD) is None
        # The name is free again: someone new may take it, a stranger to the old events.
        eve.add_users([(OLD, "new@example.org", "Someone Else")])
        assert eve.audit(user=OLD)[0].action == "user_add"
        assert eve.verify_audit().ok
    finally:
        other.close()
    # A service opened afresh agrees.
    with Rolecall.open(database_url, plugins=plugins, background_sync=False) as fresh:
        assert (RETIRED, None, None, False) in fresh.users()
        assert fresh.grants("bob")[0].granted_by == RETIRED


def test_erasure_without_a_retired_name_makes_one_and_twice_is_refused(eve: Rolecall) -> None:
    revision = retire_user(eve, OLD, erase=True)
    (placeholder,) = [u for u, *_ in eve.users() if u.startswith("retired__user_")]
    assert eve.revision == revision
    assert personal(dump(eve)) == []
    with pytest.raises(BadInputError, match="unknown user"):
        retire_user(eve, OLD, erase=True)
    with pytest.raises(BadInputError, match="another user's"):
        retire_user(eve, "bob", erase=True, retired_username=placeholder)
    with pytest.raises(BadInputError, match="erase"):
        retire_user(eve, "bob", retired_username="retired__user_x")
    assert eve.verify_audit().ok


def test_retiring_without_erasure_keeps_the_user_by_name(eve: Rolecall) -> None:
    retire_user(eve, OLD)
    assert (OLD, EMAIL, NAME, False) in eve.users()
    with Session(eve.engine) as session:
        row: Any = session.execute(select(User.username, User.email)).all()
    assert (OLD, EMAIL) in row
    # The chain holds no more of her than before.
    with Session(eve.engine) as session:
        details = session.scalars(select(AuditEvent.details)).all()
    assert personal(json.dumps(details)) == []


def test_migration_0010_rewrites_a_chain_that_named_people_and_reanchors_it(
    rc: Rolecall, database_url: str, plugins: Plugins
) -> None:
    rc.add_users([("admin", None, None), (OLD, EMAIL, NAME)])
    rc.add_scopes([C1])
    rc.assign(OLD, "viewer", C1, actor="admin")
    rc.assign("admin", "viewer", C1, actor=OLD)
    key = rc.keys.current(AUDIT_KEY)
    # The chain as releases before 0010 wrote it: usernames, e-mails and names in the events,
    # keyed and signed.
    with rc.engine.begin() as connection, Session(bind=connection) as session:
        people = {
            p: (u, e, d)
            for p, u, e, d in session.execute(
                select(User.pseudonym, User.username, User.email, User.display_name)
            )
        }
        previous = GENESIS_HASH
        events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        for event in events:
            if event.user in people:
                name, email, display = people[event.user]
                if event.action == "user_add":
                    event.details = {**event.details, "email": email, "display_name": display}
                event.user = name
            if event.actor in people:
                event.actor = people[event.actor][0]
            if event.details.get("granted_by") in people:
                granted_by = people[event.details["granted_by"]][0]
                event.details = {**event.details, "granted_by": granted_by}
            event.prev_hash = previous
            event.hash = previous = hash_of(previous, event, key)
        state = session.get(State, 1)
        assert state is not None
        head = Head(state.events, state.last_event_id, state.revision, previous, state.keyed_after)
        state.last_hash, state.last_mac = previous, state_mac(key, head)
        session.flush()
    legacy = rc.verify_audit()
    assert legacy.ok, legacy.message
    assert legacy.head is not None
    assert EMAIL in json.dumps([e.details for e in rc.audit()])
    config = _alembic_config()
    with rc.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0009")
    rc.close()
    with Rolecall.open(database_url, plugins=plugins, background_sync=False) as upgraded:
        with Session(upgraded.engine) as session:
            stored = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
            text = json.dumps([(e.actor, e.user, e.details) for e in stored], default=str)
        assert personal(text) == []
        anchor = stored[-1]
        assert (anchor.action, anchor.key_id) == ("audit_reanchor", key.id)
        previous_head = {k: v for k, v in legacy.head.to_json().items() if k != "mac"}
        assert anchor.details["previous_head"] == previous_head
        assert anchor.details["previous_verified"] is True
        assert anchor.details["events"] == legacy.events
        assert 0 < anchor.details["rewritten"] <= legacy.events
        verified = upgraded.verify_audit()
        assert verified.ok, verified.message
        assert verified.events == legacy.events + 1
        # Readers name the users as before; an erasure then leaves nothing of them.
        assert {r.user for r in upgraded.audit(user=OLD)} == {OLD}
        grant = next(r for r in upgraded.audit(user="admin") if r.action == "assign")
        assert grant.details["granted_by"] == OLD
        retire_user(upgraded, OLD, erase=True)
        assert personal(dump(upgraded)) == []
        assert upgraded.verify_audit().ok


def test_the_command_line_retires_with_erasure(eve: Rolecall, database_url: str) -> None:
    from click.testing import CliRunner

    from rolecall.core.cli import cli

    eve.close()  # the command opens its own service on the same database
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "--database",
            database_url,
            "users",
            "retire",
            OLD,
            "--erase",
            "--retired-username",
            RETIRED,
        ],
    )
    assert result.exit_code == 0, result.output
    assert "personal data erased" in result.output
    with Rolecall.open(database_url, background_sync=False, plugins=eve.plugins) as after:
        assert personal(dump(after)) == []
        assert after.verify_audit().ok
    refused = runner.invoke(
        cli, ["--database", database_url, "users", "retire", "bob", "--retired-username", "x_y"]
    )
    assert refused.exit_code == 2  # a placeholder without --erase
