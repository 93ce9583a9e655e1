"""Console passwords, API tokens and generated secrets (``rc.accounts``) and their commands."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from rolecall.core import BadInputError, Rolecall
from rolecall.core.accounts import MAX_LOCK, SignInThrottle
from rolecall.core.demo import DEMO_ADMIN
from rolecall.core.governance.lifecycle import retire_user
from rolecall.core.storage.models import Account, ApiToken, SignInFailures

from support import run_cli

TABLES = ("rolecall_audit", "rolecall_secrets", "rolecall_state", "rolecall_accounts")


def test_password_is_stored_hashed_and_verified(rc: Rolecall) -> None:
    rc.add_users(["ada", "bob"])
    rc.accounts.set_password("ada", "correct horse")
    assert rc.accounts.verify_password("ada", "correct horse")
    assert not rc.accounts.verify_password("ada", "correct horsE")
    assert not rc.accounts.verify_password("bob", "correct horse")  # no account
    assert not rc.accounts.verify_password("nobody", "correct horse")
    with Session(rc.engine) as session:
        stored = session.scalars(select(Account.password_hash)).one()
    assert "correct horse" not in stored
    assert stored.startswith("scrypt$")
    # The same password twice gives two different hashes (fresh salt).
    rc.accounts.set_password("ada", "correct horse")
    with Session(rc.engine) as session:
        assert session.scalars(select(Account.password_hash)).one() != stored
    actions = [e.action for e in rc.audit(user="ada")]
    assert "account_create" in actions
    assert "password_change" in actions


def test_bad_passwords_and_users_are_refused(rc: Rolecall) -> None:
    rc.add_users(["ada"])
    with pytest.raises(BadInputError, match="too short"):
        rc.accounts.set_password("ada", "short")
    with pytest.raises(BadInputError, match="unknown user"):
        rc.accounts.set_password("ghost", "long enough")
    with Session(rc.engine) as session:
        assert session.scalars(select(Account.user_id)).all() == []  # nothing was written


def test_deactivated_user_cannot_sign_in_or_use_tokens(rc: Rolecall) -> None:
    rc.add_users(["ada"])
    rc.accounts.set_password("ada", "correct horse")
    _, token = rc.accounts.create_token("ada")
    assert rc.accounts.user_for_token(token) == "ada"
    retire_user(rc, "ada")
    assert not rc.accounts.verify_password("ada", "correct horse")
    assert rc.accounts.user_for_token(token) is None


def test_tokens_are_hashed_listed_and_revoked(rc: Rolecall) -> None:
    rc.add_users(["ada"])
    info, token = rc.accounts.create_token("ada", label="ci", actor="ops")
    assert token.startswith("rc_")
    assert len(token) > 40
    assert rc.accounts.user_for_token(token) == "ada"
    assert rc.accounts.user_for_token(token + "x") is None
    assert rc.accounts.user_for_token("") is None
    with Session(rc.engine) as session:
        assert token not in session.scalars(select(ApiToken.token_hash)).one()
    listed = rc.accounts.tokens("ada")
    assert [(t.id, t.label, t.active, t.created_by) for t in listed] == [
        (info.id, "ci", True, "ops")
    ]
    rc.accounts.revoke_token(info.id)
    assert rc.accounts.user_for_token(token) is None
    assert not rc.accounts.tokens()[0].active
    with pytest.raises(BadInputError, match="no token"):
        rc.accounts.revoke_token(999)
    assert [e.action for e in rc.audit(user="ada")][-2:] == ["token_create", "token_revoke"]


def test_keys_are_rotated_outside_the_database_and_audited(key_file: Path, rc: Rolecall) -> None:
    assert rc.keys.path == key_file
    session_key = rc.keys.current("console-session-key")
    audit_key = rc.keys.current("audit-key")
    rc.accounts.rotate_secret("console-session-key")
    rc.accounts.rotate_secret("audit-key")
    # The session key is replaced; the audit key gains a version, the old one kept.
    assert [k.id for k in rc.keys.versions("console-session-key")] != [session_key.id]
    assert len(rc.keys.versions("console-session-key")) == 1
    assert rc.keys.versions("audit-key")[0].id == audit_key.id
    assert rc.keys.current("audit-key").id != audit_key.id
    events = rc.audit()
    assert [e.details["name"] for e in events if e.action == "secret_rotate"] == [
        "console-session-key",
        "audit-key",
    ]
    # Nothing of a key is in the database: neither the audit log nor any table.
    with rc.engine.connect() as connection:
        dump = str([list(connection.exec_driver_sql(f"SELECT * FROM {t}")) for t in TABLES])  # noqa: S608 - fixed names
    for key in (session_key, audit_key, *rc.keys.versions("audit-key")):
        assert key.secret.hex() not in dump
        assert key.secret.hex()[:16] not in dump
    with pytest.raises(BadInputError, match="no key"):
        rc.accounts.rotate_secret("other")
    assert rc.verify_audit().ok


def test_create_admin_and_tokens_commands(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'r.db'}"
    created = run_cli("--database", db, "create-admin", "root", input="a long password\n")
    assert created.returncode == 0, created.stderr
    made = run_cli("--database", db, "tokens", "create", "root", "--label", "script")
    assert made.returncode == 0, made.stderr
    token = made.stdout.split()[-1]
    with Rolecall.open(db, background_sync=False, staleness=0) as rc:
        assert rc.accounts.verify_password("root", "a long password")
        assert rc.check("root", "platform.manage_org_team", "org:MITx")
        assert rc.accounts.user_for_token(token) == "root"
    listed = run_cli("--database", db, "tokens", "list", "--json")
    assert token not in listed.stdout
    assert '"label": "script"' in listed.stdout
    revoked = run_cli("--database", db, "tokens", "revoke", "1")
    assert revoked.returncode == 0, revoked.stderr
    with Rolecall.open(db, background_sync=False, staleness=0) as rc:
        assert rc.accounts.user_for_token(token) is None
    empty = run_cli("--database", db, "create-admin", "other", input="")
    assert empty.returncode == 2
    assert "no password" in empty.stderr
    short = run_cli("--database", db, "create-admin", "other", input="short\n")
    assert short.returncode == 2
    assert "too short" in short.stderr


def test_concurrent_sign_in_failures_are_all_counted(database_url: str) -> None:
    """Two services of one database (two web processes) recording failures of the same new
    key at once, from several threads: none is lost, and the lock follows the total."""
    first = Rolecall.open(database_url, background_sync=False)
    second = Rolecall.open(database_url, background_sync=False)
    try:
        throttles = [rc.accounts.sign_in_throttle(clock=lambda: 5000.0) for rc in (first, second)]

        def fail(throttle: SignInThrottle) -> None:
            for _ in range(5):
                throttle.failed(["user:mallory", "address:192.0.2.9"])

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(fail, [*throttles, *throttles]))
        with Session(first.engine) as session:
            rows = session.execute(select(SignInFailures.key, SignInFailures.failures))
            counts = {str(row.key): int(row.failures) for row in rows}
        assert counts == {"user:mallory": 20, "address:192.0.2.9": 20}
        # 20 failures: 15 past the allowance, so the lock is at its longest
        assert throttles[1].retry_after(["user:mallory"]) == MAX_LOCK
        throttles[0].succeeded(["user:mallory"])
        assert throttles[1].retry_after(["user:mallory"]) == 0
        assert throttles[1].retry_after(["address:192.0.2.9", "user:mallory"]) == MAX_LOCK
    finally:
        first.close()
        second.close()


def test_a_key_failing_without_end_stays_locked_at_the_longest(rc: Rolecall) -> None:
    throttle = rc.accounts.sign_in_throttle(clock=lambda: 1000.0)
    for _ in range(1100):  # past 2**1024, which a float cannot hold
        throttle.failed(["user:mallory"])
    assert throttle.retry_after(["user:mallory"]) == MAX_LOCK


def test_the_make_run_sign_in_script_sets_the_demo_admins_password_once(tmp_path: Path) -> None:
    """``make run`` runs scripts/console-login.py after loading the demo: the demo admin gets
    a generated password the first time, written to ``.console-login`` and printed; a second
    run keeps it."""
    db = f"sqlite:///{tmp_path / 'rolecall.db'}"
    assert run_cli("--database", db, "demo").returncode == 0
    script = Path(__file__).resolve().parents[2] / "scripts" / "console-login.py"
    runs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, str(script), db],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        runs.append(done.stdout)
    user, password = (tmp_path / ".console-login").read_text().split()
    assert user == DEMO_ADMIN
    assert (tmp_path / ".console-login").stat().st_mode & 0o077 == 0
    assert all(
        f"Sign in as {user} with the password in .console-login ({password})" in out for out in runs
    )
    with Rolecall.open(db, background_sync=False) as rc:
        assert rc.accounts.has_password(DEMO_ADMIN)
        assert not rc.accounts.has_password("ada")
        assert rc.accounts.verify_password(DEMO_ADMIN, password)
