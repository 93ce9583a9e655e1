"""The admin console's endpoints that openedx-authz 0.23 has (``permissions/validate/me``,
``roles/``, ``roles/users/`` GET, PUT and DELETE): one request sequence, run on openedx-authz's
own views (from PyPI, under its own test settings, in a child process) and on rolecall's, must
give the same status codes and JSON, request by request."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rest_api_differential as differential
from authz_differential import child_answers

from rolecall.core import Rolecall
from rolecall_openedx import authz_api

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def openedx_authz_answers(tmp_path_factory: pytest.TempPathFactory) -> list[list[object]]:
    pytest.importorskip("openedx_authz")  # make test installs it; say so if it is absent
    folder = tmp_path_factory.mktemp("openedx_authz_rest")
    answers: list[list[object]] = child_answers(HERE / "rest_api_differential.py", folder)
    return answers


@pytest.mark.django_db
def test_rolecall_answers_the_console_as_openedx_authz_does(
    rc: Rolecall, openedx_authz_answers: list[list[object]]
) -> None:
    differential.make_users()
    ours = json.loads(json.dumps(differential.run(authz_api, differential.clients())))
    assert len(ours) == len(openedx_authz_answers) == len(differential.SEQUENCE)
    for mine, theirs in zip(ours, openedx_authz_answers, strict=True):
        assert mine == theirs
    # Not trivial: every kind of answer is in it.
    assert {a[3] for a in ours} == {200, 207, 400, 401, 403, 404}
