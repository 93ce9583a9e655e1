"""What rolecall's core reads from the environment (plugin loading, the signing keys) comes from
the Django settings first, then the environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings
from sqlalchemy import create_engine, select

from rolecall.core import PluginError, Rolecall
from rolecall.core.storage.keys import AUDIT_KEY, KeyRing
from rolecall.core.storage.models import AuditEvent
from rolecall_openedx.service import get_rolecall, reset

SECRET = "a-secret-set-in-django-settings-for-these-tests"  # noqa: S105
ENV_SECRET = "a-secret-set-in-the-environment-for-these-tests"  # noqa: S105


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    """An SQLite database of the test's own; the service is closed after the test."""
    yield f"sqlite:///{tmp_path / 'rolecall.db'}"
    reset()


def open_with(url: str, **names: object) -> Rolecall:
    with override_settings(ROLECALL_DATABASE_URL=url, **names):
        return get_rolecall()


def status(rc: Rolecall, plugin: str) -> str:
    info = rc.plugins.info(plugin)
    assert info is not None
    return info.status


def secret_of(rc: Rolecall) -> str:
    """The id of the audit key the service's writes are signed with."""
    rc.add_user("ada")
    engine = create_engine(str(rc.engine.url))
    with engine.connect() as connection:
        kid = connection.scalar(select(AuditEvent.key_id).order_by(AuditEvent.id.desc()))
    engine.dispose()
    assert kid == rc.keys.current(AUDIT_KEY).id  # the writes use the service's key ring
    return str(kid)


def key_id_for(secret: str) -> str:
    return KeyRing(env_secret=secret).current(AUDIT_KEY).id


def test_disabled_plugins_from_django_settings(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROLECALL_DISABLE_PLUGINS", raising=False)
    rc = open_with(url, ROLECALL_DISABLE_PLUGINS=["grading", "analytics"])
    assert status(rc, "grading") == "disabled"
    assert status(rc, "analytics") == "disabled"
    assert status(rc, "discussion") == "loaded"


def test_disabled_plugins_from_the_environment(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLECALL_DISABLE_PLUGINS", "grading")
    rc = open_with(url)
    assert status(rc, "grading") == "disabled"


def test_a_django_setting_wins_over_the_environment(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROLECALL_DISABLE_PLUGINS", "grading")
    rc = open_with(url, ROLECALL_DISABLE_PLUGINS=[])  # set, even empty: the setting counts
    assert status(rc, "grading") == "loaded"


@pytest.mark.parametrize("strict", [True, "1"])
def test_required_and_strict_from_django_settings(url: str, strict: object) -> None:
    with pytest.raises(PluginError, match="nonexistent"):
        open_with(url, ROLECALL_REQUIRE_PLUGINS=["nonexistent"])
    with pytest.raises(PluginError, match="not a yes/no value"):
        open_with(url, ROLECALL_STRICT_PLUGINS="perhaps")
    rc = open_with(url, ROLECALL_STRICT_PLUGINS=strict, ROLECALL_REQUIRE_PLUGINS="grading")
    assert status(rc, "grading") == "loaded"


def test_required_plugins_from_the_environment(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROLECALL_REQUIRE_PLUGINS", "nonexistent")
    with pytest.raises(PluginError, match="nonexistent"):
        open_with(url)


def test_the_secret_from_django_settings_signs_the_writes(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROLECALL_SECRET_KEY", ENV_SECRET)
    rc = open_with(url, ROLECALL_SECRET_KEY=SECRET)
    assert rc.keys.source == "ROLECALL_SECRET_KEY"
    assert secret_of(rc) == key_id_for(SECRET) != key_id_for(ENV_SECRET)


def test_the_secret_from_the_environment_signs_the_writes(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROLECALL_SECRET_KEY", ENV_SECRET)
    assert secret_of(open_with(url)) == key_id_for(ENV_SECRET)


def test_several_secrets_as_a_list_newest_first(url: str) -> None:
    older = "an-older-secret-still-verifying-old-audit-events"
    rc = open_with(url, ROLECALL_SECRET_KEY=[SECRET, older])
    assert secret_of(rc) == key_id_for(SECRET)
    assert [k.id for k in rc.keys.versions(AUDIT_KEY)] == [key_id_for(SECRET), key_id_for(older)]


def test_the_key_file_from_django_settings(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROLECALL_SECRET_KEY", raising=False)
    monkeypatch.setenv("ROLECALL_KEY_FILE", str(tmp_path / "from-env.keys"))
    path = tmp_path / "from-settings.keys"
    rc = open_with(url, ROLECALL_KEY_FILE=path)  # a Path, as settings modules often write it
    secret_of(rc)
    assert rc.keys.source == str(path)
    assert path.exists()
    assert not (tmp_path / "from-env.keys").exists()
    assert not (tmp_path / "rolecall.db.keys").exists()  # not the file beside the database


def test_the_key_file_from_the_environment(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROLECALL_SECRET_KEY", raising=False)
    monkeypatch.setenv("ROLECALL_KEY_FILE", str(tmp_path / "from-env.keys"))
    secret_of(open_with(url))
    assert (tmp_path / "from-env.keys").exists()


def test_the_notice_channel_from_django_settings(url: str) -> None:
    """LMS and Studio name the Redis that announces changes (MySQL, MariaDB) in their
    settings, as the signing keys."""
    pytest.importorskip("redis", reason="rolecall[redis] is not installed in this environment")
    rc = open_with(
        url, ROLECALL_REDIS_URL="redis://127.0.0.1:6390/0", ROLECALL_REDIS_CHANNEL="lms-changes"
    )
    assert rc.notices is not None
    assert (rc.notices.name, getattr(rc.notices, "channel", None)) == ("redis", "lms-changes")
