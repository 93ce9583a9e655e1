"""Role-change e-mails, sent for real to an SMTP server on the loopback interface (aiosmtpd),
from assignments and revocations made through a real service on SQLite."""

from __future__ import annotations

import email
import email.policy
import logging
import shutil
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from rolecall.builtin_plugins import communications
from rolecall.core import AssignmentEvent, Plugins, PluginSettings, Rolecall, load_plugins

COURSE = "course-v1:MITx+6.002x+2026_T1"
SENDER = "rolecall@mitx.example.org"
SMTP_VARIABLES = (
    "ROLECALL_SMTP_HOST",
    "ROLECALL_SMTP_PORT",
    "ROLECALL_SMTP_FROM",
    "ROLECALL_SMTP_STARTTLS",
    "ROLECALL_SMTP_USER",
    "ROLECALL_SMTP_PASSWORD",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    authenticated: bool


@dataclass
class Mailbox:
    """What the SMTP server received, in order."""

    port: int
    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), message, session.authenticated)
        )
        return "250 OK"

    def subject(self, index: int) -> str:
        """The subject of message ``index``, unfolded (a long one is folded onto a second
        line, which leaves a leading space)."""
        return str(self.received[index].message["Subject"]).strip()

    def body(self, index: int) -> str:
        """The text of message ``index``, with the SMTP line ends turned into ``\\n``."""
        return str(self.received[index].message.get_content()).replace("\r\n", "\n")


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def plugins() -> Plugins:
    return load_plugins(PluginSettings(strict=True), entry_points=[])


@pytest.fixture
def smtp_env(monkeypatch: pytest.MonkeyPatch, mailbox: Mailbox) -> pytest.MonkeyPatch:
    for name in SMTP_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ROLECALL_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ROLECALL_SMTP_PORT", str(mailbox.port))
    monkeypatch.setenv("ROLECALL_SMTP_FROM", SENDER)
    return monkeypatch


@pytest.fixture
def service(tmp_path: Path, plugins: Plugins, smtp_env: pytest.MonkeyPatch) -> Iterator[Rolecall]:
    rc = Rolecall.open(f"sqlite:///{tmp_path}/db.sqlite", plugins=plugins, background_sync=False)
    try:
        rc.add_users(
            [
                ("ada", "ada@example.org", "Ada Lovelace"),
                ("bob", "bob@example.org", None),
                ("carl", None, "Carl No-Mail"),
                ("root", "root@example.org", "Root"),
            ]
        )
        yield rc
    finally:
        rc.close()


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[str]]]:
    """The lines logged by the communications plugin (a handler of its own, so it does not
    matter whether the ``rolecall`` logger propagates)."""
    records: list[logging.LogRecord] = []

    class ListHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("rolecall.communications")
    handler = ListHandler(level=logging.DEBUG)
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield lambda: [f"{r.levelname}: {r.getMessage()}" for r in records]
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


# role given (a legacy name where there is one), scope, message kind, subject on adding,
# subject on removing
CASES = [
    (
        "beta_testers",
        COURSE,
        "beta_tester",
        f"You have been invited to beta test {COURSE}",
        f"You have been removed from the beta test of {COURSE}",
    ),
    (
        "staff",
        COURSE,
        "course_staff",
        f"You have been added as course staff on {COURSE}",
        f"You have been removed as course staff on {COURSE}",
    ),
    (
        "instructor",
        COURSE,
        "course_admin",
        f"You have been added as an admin (instructor) of {COURSE}",
        f"You have been removed as an admin (instructor) of {COURSE}",
    ),
    (
        "Community TA",
        COURSE,
        "discussion_role",
        f"You are now Community TA in the discussions of {COURSE}",
        f"You are no longer Community TA in the discussions of {COURSE}",
    ),
    (
        "Administrator",
        "org:MITx",
        "discussion_role",
        "You are now Discussion admin in the discussions of org:MITx",
        "You are no longer Discussion admin in the discussions of org:MITx",
    ),
    (
        "course_auditor",
        "org:MITx",
        "role",
        "You have been given the Course auditor role on org:MITx",
        "Your Course auditor role on org:MITx has been removed",
    ),
    (
        "library_author",
        "lib:MITx:physics",
        "role",
        "You have been given the Library author role on lib:MITx:physics",
        "Your Library author role on lib:MITx:physics has been removed",
    ),
]


@pytest.mark.parametrize(("role", "scope", "kind", "added", "removed"), CASES)
def test_granting_and_revoking_e_mails_the_user(
    service: Rolecall,
    mailbox: Mailbox,
    role: str,
    scope: str,
    kind: str,
    added: str,
    removed: str,
) -> None:
    service.assign("ada", role, scope, actor="root", reason="spring term")
    service.revoke("ada", role, scope, actor="root", reason="term is over")
    assert len(mailbox.received) == 2
    first, second = mailbox.received
    for got in (first, second):
        assert got.mail_from == SENDER
        assert got.rcpt_tos == ["ada@example.org"]
        assert got.message["To"] == "ada@example.org"
        assert got.message["From"] == SENDER
        assert not got.authenticated
    assert mailbox.subject(0) == added
    assert first.message["X-Rolecall-Message-Type"] == f"add_{kind}"
    assert mailbox.subject(1) == removed
    assert second.message["X-Rolecall-Message-Type"] == f"remove_{kind}"
    title = service.registry.role(role).title
    role_id = service.registry.role(role).id
    body = mailbox.body(0)
    assert body.startswith("Hello Ada Lovelace,\n")
    assert f"Role: {title} ({role_id})" in body
    assert f"Where: {scope}" in body
    assert "Changed by: root" in body
    assert "Reason: spring term" in body
    assert service.registry.role(role).description.split(":")[0] in body
    removal = mailbox.body(1)
    assert f"Your role {title} on {scope} has been removed." in removal
    assert "Reason: term is over" in removal


def test_the_scope_title_is_used_when_known_and_a_username_without_display_name(
    service: Rolecall, mailbox: Mailbox
) -> None:
    service.add_scopes([(COURSE, "Circuits and Electronics")])
    service.assign("bob", "course_staff", COURSE)
    assert [r.rcpt_tos for r in mailbox.received] == [["bob@example.org"]]
    where = f"Circuits and Electronics ({COURSE})"
    assert mailbox.subject(0) == f"You have been added as course staff on {where}"
    assert mailbox.body(0).startswith("Hello bob,\n")
    assert "Changed by" not in mailbox.body(0)  # no actor was given


def test_a_batch_sends_one_message_to_each_user(service: Rolecall, mailbox: Mailbox) -> None:
    service.assign_many([("ada", "beta_testers", COURSE), ("bob", "beta_testers", COURSE)])
    assert sorted(r.rcpt_tos[0] for r in mailbox.received) == [
        "ada@example.org",
        "bob@example.org",
    ]
    assert all(len(r.rcpt_tos) == 1 for r in mailbox.received)
    assert {r.message["X-Rolecall-Message-Type"] for r in mailbox.received} == {"add_beta_tester"}


def test_a_user_without_e_mail_is_skipped_and_logged(
    service: Rolecall, mailbox: Mailbox, log_lines: Callable[[], list[str]]
) -> None:
    token = service.assign("carl", "course_staff", COURSE)
    assert service.check("carl", "courses.publish_course_content", COURSE, at_least=token)
    assert mailbox.received == []
    assert any(
        line.startswith("INFO: no role-change e-mail to carl") and "no e-mail address" in line
        for line in log_lines()
    )


def test_no_e_mail_unless_the_smtp_host_is_set(
    service: Rolecall, mailbox: Mailbox, smtp_env: pytest.MonkeyPatch
) -> None:
    smtp_env.delenv("ROLECALL_SMTP_HOST")
    service.assign("ada", "course_staff", COURSE)
    service.revoke("ada", "course_staff", COURSE)
    smtp_env.setenv("ROLECALL_SMTP_HOST", "  ")
    service.assign("ada", "course_staff", COURSE)
    assert mailbox.received == []


def test_an_expired_grant_sends_the_removal_message(service: Rolecall, mailbox: Mailbox) -> None:
    event = AssignmentEvent(
        action="expire",
        user="ada",
        role="course_auditor",
        scope=COURSE,
        at=datetime(2026, 5, 1, 12, 0, tzinfo=UTC),
        revision=1,
    )
    communications.assignment_changed(event, service)
    (got,) = mailbox.received
    assert got.message["X-Rolecall-Message-Type"] == "remove_role"
    assert mailbox.subject(0) == f"Your Course auditor role on {COURSE} has expired"
    assert f"Your role Course auditor on {COURSE} has expired." in mailbox.body(0)
    assert "When: 2026-05-01 12:00 UTC" in mailbox.body(0)


def test_an_unreachable_server_is_logged_without_the_password_and_the_change_stays(
    service: Rolecall,
    mailbox: Mailbox,
    smtp_env: pytest.MonkeyPatch,
    log_lines: Callable[[], list[str]],
) -> None:
    closed = free_port()
    smtp_env.setenv("ROLECALL_SMTP_PORT", str(closed))
    smtp_env.setenv("ROLECALL_SMTP_USER", "mailer")
    smtp_env.setenv("ROLECALL_SMTP_PASSWORD", "hunter2-secret")
    token = service.assign("ada", "course_staff", COURSE)
    assert service.check("ada", "courses.publish_course_content", COURSE, at_least=token)
    assert mailbox.received == []
    warnings = [line for line in log_lines() if line.startswith("WARNING:")]
    assert len(warnings) == 1
    assert f"cannot e-mail ada about assign course_staff on {COURSE}" in warnings[0]
    assert f"127.0.0.1:{closed}" in warnings[0]
    assert all("hunter2-secret" not in line for line in log_lines())


@pytest.mark.parametrize(
    ("variable", "value"),
    [("ROLECALL_SMTP_PORT", "smtp"), ("ROLECALL_SMTP_STARTTLS", "maybe")],
)
def test_a_bad_setting_is_logged_and_nothing_is_sent(
    service: Rolecall,
    mailbox: Mailbox,
    smtp_env: pytest.MonkeyPatch,
    log_lines: Callable[[], list[str]],
    variable: str,
    value: str,
) -> None:
    smtp_env.setenv(variable, value)
    token = service.assign("ada", "course_staff", COURSE)
    assert service.check("ada", "courses.view_course", COURSE, at_least=token)
    assert mailbox.received == []
    assert any(line.startswith("ERROR:") and variable in line for line in log_lines())


def test_settings_defaults() -> None:
    assert communications.SmtpSettings.from_env({}) is None
    plain = communications.SmtpSettings.from_env({"ROLECALL_SMTP_HOST": "mail.example.org"})
    assert plain == communications.SmtpSettings(
        host="mail.example.org",
        port=25,
        sender="rolecall@localhost",
        starttls=False,
        user=None,
        password=None,
    )
    tls = communications.SmtpSettings.from_env(
        {"ROLECALL_SMTP_HOST": "mail.example.org", "ROLECALL_SMTP_STARTTLS": "yes"}
    )
    assert tls is not None
    assert (tls.port, tls.starttls) == (587, True)


# --- STARTTLS and login, for real ------------------------------------------------------------


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def test_starttls_and_login(
    tmp_path: Path,
    plugins: Plugins,
    smtp_env: pytest.MonkeyPatch,
    tls_files: tuple[Path, Path],
) -> None:
    cert, key = tls_files
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret pass")

    box = Mailbox(port=free_port())
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=box.port,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    try:
        smtp_env.setenv("ROLECALL_SMTP_PORT", str(box.port))
        smtp_env.setenv("ROLECALL_SMTP_STARTTLS", "1")
        smtp_env.setenv("ROLECALL_SMTP_USER", "mailer")
        smtp_env.setenv("ROLECALL_SMTP_PASSWORD", "s3cret pass")
        smtp_env.setenv("SSL_CERT_FILE", str(cert))  # the client trusts the test certificate
        with Rolecall.open(
            f"sqlite:///{tmp_path}/db.sqlite", plugins=plugins, background_sync=False
        ) as rc:
            rc.add_user("ada", email="ada@example.org")
            rc.assign("ada", "instructor", COURSE)
    finally:
        controller.stop()
    assert logins == [(b"mailer", b"s3cret pass")]
    (got,) = box.received
    assert got.authenticated
    assert got.rcpt_tos == ["ada@example.org"]
    assert got.message["X-Rolecall-Message-Type"] == "add_course_admin"
