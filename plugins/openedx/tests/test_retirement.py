"""Retirement inside the platform: the platform's retirement signals (stand-ins of the same
names and arguments, see ``openedx_test_project/stubs``) and the management command erase
what rolecall holds of the user, and the audit chain still verifies."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from sqlalchemy import MetaData, select

from rolecall.core import Rolecall
from rolecall_openedx import retirement

C1 = "course-v1:MITx+6.002x+2026_T1"
EMAIL = "ada.secret@example.org"
NAME = "Ada Quux"
OLD = "adaquux"

pytestmark = pytest.mark.django_db


def dump(rc: Rolecall) -> str:
    """Every row of every rolecall table (the platform's own tables may share the database)."""
    metadata = MetaData()
    metadata.reflect(rc.engine)
    lines = []
    with rc.engine.connect() as connection:
        for table in metadata.sorted_tables:
            if table.name.startswith("rolecall_"):
                for row in connection.execute(select(table)):
                    lines.append(f"{table.name}: {json.dumps(list(row), default=str)}")
    return "\n".join(lines)


def personal(text: str) -> list[str]:
    return [word for word in (EMAIL, NAME, OLD) if word.casefold() in text.casefold()]


@pytest.fixture
def ada(rc: Rolecall) -> Rolecall:
    rc.add_users([(OLD, EMAIL, NAME), ("bob", None, None)])
    rc.assign(OLD, "course_staff", C1)
    rc.assign("bob", "course_staff", C1, actor=OLD)
    rc.accounts.create_token(OLD)
    assert personal(dump(rc))
    return rc


def test_the_platforms_retirement_signals_are_connected_when_they_exist() -> None:
    from openedx.core.djangoapps.user_api.accounts import signals

    assert retirement.connect() == ["USER_RETIRE_LMS_MISC", "USER_RETIRE_LMS_CRITICAL"]
    for name in retirement.SIGNAL_NAMES:
        # Django's public way to ask (its receiver lists differ between 4.2 and 5.2): a
        # receiver connected under this uid is there to disconnect.
        uid = f"rolecall_openedx.retirement.{name}"
        assert getattr(signals, name).disconnect(dispatch_uid=uid)
    assert retirement.connect() == ["USER_RETIRE_LMS_MISC", "USER_RETIRE_LMS_CRITICAL"]


def test_the_retirement_signals_erase_the_user(ada: Rolecall) -> None:
    from openedx.core.djangoapps.user_api.accounts.signals import (
        USER_RETIRE_LMS_CRITICAL,
        USER_RETIRE_LMS_MISC,
    )

    user = get_user_model().objects.create(username=OLD, email=EMAIL)
    # The LMS sends the misc signal first, with the user not yet renamed.
    USER_RETIRE_LMS_MISC.send(sender=object, user=user)
    text = dump(ada)
    assert personal(text) == [], [line for line in text.splitlines() if personal(line)]
    verified = ada.verify_audit()
    assert verified.ok, verified.message
    (retired,) = [u for u, *_ in ada.users() if u.startswith("retired__user_")]
    assert ada.grants(retired) == []
    assert ada.grants("bob")[0].granted_by == retired
    assert {r.user for r in ada.audit(user=retired)} == {retired}
    # The critical signal, sent later with the same user, finds nobody left to retire.
    revision = ada.revision
    USER_RETIRE_LMS_CRITICAL.send(sender=object, user=user)
    assert ada.revision == revision


def test_a_retired_username_the_platform_sends_is_used(ada: Rolecall) -> None:
    from openedx.core.djangoapps.user_api.accounts.signals import USER_RETIRE_LMS_CRITICAL

    user = get_user_model().objects.create(username=OLD, email=EMAIL)
    USER_RETIRE_LMS_CRITICAL.send(sender=object, user=user, retired_username="retired__user_abc")
    assert ("retired__user_abc", None, None, False) in ada.users()
    assert personal(dump(ada)) == []


def test_the_command_erases_the_user_as_the_retired_username_given(ada: Rolecall) -> None:
    out = StringIO()
    call_command("rolecall_retire_user", OLD, "--retired-username", "retired__user_f00", stdout=out)
    assert out.getvalue() == f"retired {OLD} in rolecall\n"
    assert ("retired__user_f00", None, None, False) in ada.users()
    assert personal(dump(ada)) == []
    assert ada.verify_audit().ok
    out = StringIO()
    call_command("rolecall_retire_user", OLD, stdout=out)
    assert "not known to rolecall" in out.getvalue()
