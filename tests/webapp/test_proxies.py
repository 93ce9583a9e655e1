"""The client address behind reverse proxies (``ROLECALL_TRUSTED_PROXIES``), through the real
application: sign-in throttling counts the forwarded client's failures with the setting, and the
connection's without it, whatever ``X-Forwarded-For`` a client forges.

Every request reaches the application from the proxy's address (``REMOTE_ADDR``); the proxy
appends the address it saw to ``X-Forwarded-For``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from console_support import PASSWORD, demo_service, token
from flask import Flask
from flask.testing import FlaskClient

from rolecall.core import BadInputError, Rolecall
from rolecall.core.accounts import SignInThrottle
from rolecall.webapp.app import TRUSTED_PROXIES, create_app
from rolecall.webapp.console.common import THROTTLE

from support import run_cli

PROXY = "10.0.0.2"
ATTACKER = "203.0.113.5"
OWNER = "198.51.100.7"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Rolecall]:
    rc = demo_service(f"sqlite:///{tmp_path / 'proxies.db'}")
    yield rc
    rc.close()


def app_with(service: Rolecall, proxies: int | None) -> tuple[Flask, SignInThrottle]:
    """The application (``proxies`` trusted, or the setting left out) and its throttle, on a
    clock that stands still."""
    config: dict[str, object] = {"TESTING": True}
    if proxies is not None:
        config[TRUSTED_PROXIES] = proxies
    app = create_app(service, config=config)
    throttle = service.accounts.sign_in_throttle(clock=lambda: 1000.0)
    app.extensions[THROTTLE] = throttle
    return app, throttle


def attempt(
    client: FlaskClient, user: str, password: str, *, forwarded: str | None, remote: str = PROXY
) -> int:
    """A sign-in reaching the application from ``remote`` with ``X-Forwarded-For: forwarded``."""
    environ = {"REMOTE_ADDR": remote}
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    page = client.get("/console/login", environ_base=environ, headers=headers)
    return client.post(
        "/console/login",
        data={"username": user, "password": password, "csrf_token": token(page.text)},
        environ_base=environ,
        headers=headers,
    ).status_code


def locked(throttle: SignInThrottle, address: str) -> bool:
    """Whether the throttle holds ``address`` itself locked (its ``address:`` key)."""
    return throttle.retry_after([f"address:{address}"]) > 0


def test_behind_a_trusted_proxy_one_clients_failures_do_not_lock_out_another(
    service: Rolecall,
) -> None:
    """Six failures with made-up names from one client lock that client only: the admin,
    behind the same proxy, signs in. Without the setting, the same six lock every client of
    the proxy out (they all have its address)."""
    app, throttle = app_with(service, 1)
    attacker, owner = app.test_client(), app.test_client()
    names = [f"made-up-{n}" for n in range(6)]
    answers = [attempt(attacker, name, "nope", forwarded=ATTACKER) for name in names]
    assert answers == [401] * 5 + [429]
    assert locked(throttle, ATTACKER)
    assert not locked(throttle, PROXY)
    assert attempt(owner, "admin", PASSWORD, forwarded=OWNER) == 302

    other, _ = app_with(service, None)  # the bug this setting fixes, on the proxy's address
    attacker, owner = other.test_client(), other.test_client()
    answers = [attempt(attacker, f"other-{n}", "nope", forwarded=ATTACKER) for n in range(6)]
    assert answers == [401] * 5 + [429]
    assert attempt(owner, "admin", PASSWORD, forwarded=OWNER) == 429


def test_without_the_setting_a_forged_forwarded_for_changes_nothing(service: Rolecall) -> None:
    """A client connecting directly forges a new X-Forwarded-For on each attempt: its failures
    are still counted against its own address (it cannot dodge the throttle), and never
    against the address it names (it cannot lock someone else out)."""
    app, throttle = app_with(service, None)
    assert app.config[TRUSTED_PROXIES] == 0
    client = app.test_client()
    forged = [f"192.0.2.{n}" for n in range(5)] + [OWNER]
    answers = [
        attempt(client, "admin", "nope", forwarded=address, remote=ATTACKER) for address in forged
    ]
    assert answers == [401] * 5 + [429]
    assert locked(throttle, ATTACKER)
    assert not any(locked(throttle, address) for address in forged)
    assert attempt(app.test_client(), "admin", PASSWORD, forwarded=None, remote=OWNER) == 302


def test_with_one_trusted_proxy_only_the_address_it_appended_counts(service: Rolecall) -> None:
    """The attacker sends its own X-Forwarded-For entry, a new one each time or the admin's
    address; the proxy appends the address it saw. Only that right-most entry is trusted: the
    attacker is throttled on its real address, and the admin's is not touched."""
    app, throttle = app_with(service, 1)
    client = app.test_client()
    forged = [f"192.0.2.{n}" for n in range(3)] + [OWNER] * 3
    answers = [
        attempt(client, "admin", "nope", forwarded=f"{address}, {ATTACKER}") for address in forged
    ]
    assert answers == [401] * 5 + [429]
    assert locked(throttle, ATTACKER)
    assert not any(locked(throttle, address) for address in forged)
    assert attempt(app.test_client(), "admin", PASSWORD, forwarded=OWNER) == 302


@pytest.mark.parametrize("value", ["-1", -1, "two", "1.5", "", True])
def test_a_bad_number_of_proxies_is_refused_at_start(service: Rolecall, value: object) -> None:
    with pytest.raises(BadInputError, match=r"ROLECALL_TRUSTED_PROXIES=.* must be a whole number"):
        create_app(service, config={TRUSTED_PROXIES: value})


def test_the_setting_comes_from_the_environment_unless_given(
    service: Rolecall, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TRUSTED_PROXIES, " 2 ")
    assert create_app(service).config[TRUSTED_PROXIES] == 2
    assert create_app(service, config={TRUSTED_PROXIES: 0}).config[TRUSTED_PROXIES] == 0
    monkeypatch.setenv(TRUSTED_PROXIES, "many")
    with pytest.raises(BadInputError, match="'many' must be a whole number"):
        create_app(service)


def test_serve_refuses_a_bad_number_of_proxies_in_one_line(tmp_path: Path) -> None:
    """Before opening the database or listening: exit 2 and one line saying what to set."""
    result = run_cli("serve", env={TRUSTED_PROXIES: "-3"}, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("rolecall: error: ROLECALL_TRUSTED_PROXIES='-3' must be")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "rolecall.db").exists()
    result = run_cli("serve", "--trusted-proxies", "-1", cwd=tmp_path)
    assert result.returncode == 2
    assert "--trusted-proxies" in result.stderr
