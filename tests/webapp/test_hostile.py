"""Hostile input: every CLI argument and API field fed garbage by hypothesis.

Empty and overlong text, control and bidirectional characters, unicode, SQL fragments, path
traversal in keys, wrong JSON types and huge batches. The answer is always a clear refusal
(exit 2 with one line, or a 4xx with the error shape), never a traceback, a 500 or an allow;
and afterwards the database is intact (the audit chain verifies, the tables are there).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rolecall.webapp.plugin
from rolecall.core import PluginSettings, Rolecall, load_plugins
from rolecall.core.cli import cli
from rolecall.webapp.app import create_app

COURSE = "course-v1:MITx+6.002x+2026_T1"
NASTY = [
    "",
    " ",
    "\t",
    "a" * 10_000,
    "x" * 256,
    "'; DROP TABLE rolecall_users; --",
    '" OR 1=1 --',
    "../../etc/passwd",
    "course-v1:../../+x+y",
    "course-v1:MITx+6.002x+2026_T1/../../platform",
    "org:MITx\n",
    "platform\r\n",
    "platform\x00",
    "\x1b[31mred",
    "\u202eevil",
    "\uff50\uff4c\uff41\uff54\uff46\uff4f\uff52\uff4d",  # "platform" in full-width letters
    "org:%2e%2e",
    "lib:MITx:*",
    "course-v1:MITx+*",
    "*",
    "%s%s%s%n",
    "{{7*7}}",
    "<script>alert(1)</script>",
    "ада",
    "🙂",
]
text = st.one_of(st.sampled_from(NASTY), st.text(max_size=300))
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _plugins() -> Any:
    return load_plugins(
        PluginSettings(), entry_points=[], extra={"console": rolecall.webapp.plugin}
    )


def _seeded(path: Path) -> str:
    """A new database at ``path`` with three users, a course and two assignments."""
    url = f"sqlite:///{path}"
    with Rolecall.open(url, plugins=_plugins(), background_sync=False) as rc:
        rc.add_users(["root", "ada", "nobody"])
        rc.add_scopes([COURSE])
        rc.assign("root", "platform_admin", "platform")
        rc.assign("ada", "course_staff", COURSE)
    return url


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _seeded(tmp_path_factory.mktemp("hostile") / "r.db")


def _intact(url: str) -> None:
    with Rolecall.open(url, plugins=_plugins(), background_sync=False) as rc:
        assert rc.verify_audit().ok
        assert rc.check("ada", "courses.view_course", COURSE)
        assert {u[0] for u in rc.users()} >= {"root", "ada", "nobody"}


# ------------------------------------------------------------------------------------ CLI

COMMANDS = {
    "check": lambda a, b, c: ["check", a, b, c],
    "explain": lambda a, b, c: ["explain", a, b, c],
    "assign": lambda a, b, c: ["assign", a, b, c, "--reason", a],
    "assign --as": lambda a, b, c: ["assign", "nobody", "course_staff", c, "--as", a],
    "revoke": lambda a, b, c: ["revoke", a, b, c],
    "who": lambda a, b, c: ["who", c, "--permission", b],
    "access": lambda a, b, c: ["access", a],
    "users add": lambda a, b, c: ["users", "add", a, "--email", b],
    "restrict": lambda a, b, c: ["restrict", c, "--permission", b],
    "audit": lambda a, b, c: ["audit", "--user", a, "--scope", c, "--since", b],
    "assign --expires": lambda a, b, c: ["assign", "ada", "course_staff", COURSE, "--expires", b],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_cli_arguments_never_crash_or_allow(database: str, command: str) -> None:
    runner = CliRunner()
    build = COMMANDS[command]

    @SETTINGS
    @given(a=text, b=text, c=text)
    def fuzz(a: str, b: str, c: str) -> None:
        if "\x00" in a + b + c:  # an OS cannot pass NUL in an argument; click's runner can
            a, b, c = (s.replace("\x00", "") for s in (a, b, c))
        result = runner.invoke(cli, ["--database", database, *build(a, b, c)])
        assert result.exit_code in (0, 1, 2, 3), (result.exit_code, result.output)
        if result.exception is not None:
            assert isinstance(result.exception, SystemExit), repr(result.exception)
        assert "Traceback" not in result.output
        if result.exit_code == 2:
            assert result.output.strip(), "a refusal says why"
        if command == "check":  # garbage is never allowed
            assert result.exit_code != 0, (a, b, c)

    fuzz()
    _intact(database)


# ------------------------------------------------------------------------------------ API


@pytest.fixture(scope="module")
def api(database: str) -> Iterator[tuple[FlaskClient, dict[str, str]]]:
    rc = Rolecall.open(database, plugins=_plugins(), background_sync=False, staleness=0)
    try:
        _, token = rc.accounts.create_token("root")
        app = create_app(rc, config={"TESTING": True})
        yield app.test_client(), {"Authorization": f"Bearer {token}"}
    finally:
        rc.close()


json_value: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False),
        text,
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


def _refused_clearly(response: Any) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if response.status_code >= 400:
        body = response.get_json()
        assert body is not None, "every API error is JSON"
        assert set(body["error"]) == {"code", "message", "details"}
        assert body["error"]["message"]


@SETTINGS
@given(user=json_value, permission=json_value, scope=json_value)
def test_check_fields_never_crash_or_allow(
    api: tuple[FlaskClient, dict[str, str]], user: Any, permission: Any, scope: Any
) -> None:
    client, auth = api
    body = {"checks": [{"user": user, "permission": permission, "scope": scope}]}
    response = client.post("/api/v1/check", json=body, headers=auth)
    _refused_clearly(response)
    if response.status_code == 200:
        assert response.get_json()["results"][0]["allowed"] is False


@SETTINGS
@given(body=json_value)
def test_any_json_body_is_refused_clearly(
    api: tuple[FlaskClient, dict[str, str]], body: Any
) -> None:
    client, auth = api
    for path in ("/api/v1/check", "/api/v1/assignments", "/api/v1/assignments/bulk"):
        _refused_clearly(client.post(path, json=body, headers=auth))


@SETTINGS
@given(user=text, role=text, scope=text)
def test_assignment_fields_are_refused_clearly(
    api: tuple[FlaskClient, dict[str, str]], user: str, role: str, scope: str
) -> None:
    client, auth = api
    response = client.post(
        "/api/v1/assignments", json={"user": user, "role": role, "scope": scope}, headers=auth
    )
    _refused_clearly(response)
    # No registered role is made of such text, so nothing can be granted.
    assert response.status_code >= 400, response.get_json()


@SETTINGS
@given(key=text, user=text, query=text)
def test_path_and_query_values_are_refused_clearly(
    api: tuple[FlaskClient, dict[str, str]], key: str, user: str, query: str
) -> None:
    client, auth = api
    from urllib.parse import quote

    for path in (
        f"/api/v1/scopes/{quote(key, safe='')}/team",
        f"/api/v1/users/{quote(user, safe='')}/access",
        f"/api/v1/roles/{quote(key, safe='')}",
        f"/api/v1/assignments?q={quote(query, safe='')}&user={quote(user, safe='')}",
        f"/api/v1/explain?user={quote(user)}&permission={quote(query)}&scope={quote(key)}",
        f"/api/v1/audit?since={quote(query, safe='')}",
    ):
        _refused_clearly(client.get(path, headers=auth))


@SETTINGS
@given(header=text)
def test_garbage_authorization_is_401(api: tuple[FlaskClient, dict[str, str]], header: str) -> None:
    client, _ = api
    clean = "".join(ch for ch in header if 32 <= ord(ch) < 127)
    for value in (clean, f"Bearer {clean}", f"Bearer rc_{clean}"):
        response = client.get("/api/v1/roles", headers={"Authorization": value})
        assert response.status_code == 401
        _refused_clearly(response)


def test_huge_batches_and_bodies_are_refused(api: tuple[FlaskClient, dict[str, str]]) -> None:
    client, auth = api
    one = {"user": "ada", "permission": "courses.view_course", "scope": COURSE}
    too_many = client.post("/api/v1/check", json={"checks": [one] * 1001}, headers=auth)
    assert too_many.status_code == 422
    _refused_clearly(too_many)
    huge = client.post(
        "/api/v1/assignments/bulk",
        data=b'{"users": ["' + b"a" * (3 * 1024 * 1024) + b'"]}',
        headers={**auth, "Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    _refused_clearly(huge)


# Writes that the CLI accepts (exit 0) or refuses, each with every nasty value.
HOSTILE_WRITES = (
    lambda v: ["users", "add", v, "--email", v],
    lambda v: ["assign", "ada", "course_staff", COURSE, "--expires", v],
    lambda v: ["assign", v, "course_staff", COURSE],
    lambda v: ["restrict", v, "--permission", v],
    lambda v: ["revoke", "ada", v, COURSE],
)


def test_the_database_is_intact_after_hostile_writes(tmp_path: Path) -> None:
    """On a database of its own (whatever ran before): every nasty value through the writing
    commands and the write endpoints, some of them accepted, and the database stays intact."""
    url = _seeded(tmp_path / "own.db")
    with Rolecall.open(url, plugins=_plugins(), background_sync=False) as rc:
        seeded_events = len(rc.audit())
    runner = CliRunner()
    codes = []
    for value in NASTY:
        value = value.replace("\x00", "")  # an OS cannot pass NUL in an argument
        for build in HOSTILE_WRITES:
            result = runner.invoke(cli, ["--database", url, *build(value)])
            assert result.exit_code in (0, 1, 2, 3), (build(value), result.output)
            codes.append(result.exit_code)
    rc = Rolecall.open(url, plugins=_plugins(), background_sync=False, staleness=0)
    try:
        _, token = rc.accounts.create_token("root")
        client = create_app(rc, config={"TESTING": True}).test_client()
        auth = {"Authorization": f"Bearer {token}"}
        for value in NASTY:
            for path, body in (
                ("/api/v1/assignments", {"user": value, "role": "course_staff", "scope": COURSE}),
                ("/api/v1/assignments/bulk", {"role": value, "users": [value], "scopes": [value]}),
                ("/api/v1/restrictions", {"scope": value, "permissions": [value]}),
            ):
                _refused_clearly(client.post(path, json=body, headers=auth))
        written = len(rc.audit()) - seeded_events
    finally:
        rc.close()
    # Some writes went through, others were refused.
    assert 0 in codes
    assert 2 in codes
    assert written > 0
    _intact(url)
