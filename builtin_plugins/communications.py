"""The ``communications`` plugin: bulk e-mail permissions, and an e-mail to the user whenever one
of their roles is given or taken away.

Bulk e-mail: sending keeps the legacy id ``instructor.email``, which implies one permission per
target (``myself``, ``staff``, ``learners``, ``cohort:<name>``, ``track:<mode>``), scheduling and
viewing sent messages, so a custom role can, say, write to the course team only.

Role-change e-mails (the ``assignment_changed`` hook), one message type per legacy case:
``add_beta_tester`` / ``remove_beta_tester``, ``add_course_staff`` / ``remove_course_staff``,
``add_course_admin`` / ``remove_course_admin`` (legacy instructor), ``add_discussion_role`` /
``remove_discussion_role``, and ``add_role`` / ``remove_role`` for every other role. An expired
grant sends the removal message. The type is in the ``X-Rolecall-Message-Type`` header.

It is off unless ``ROLECALL_SMTP_HOST`` is set. Settings, read from the environment at each
change:

- ``ROLECALL_SMTP_HOST``: the SMTP server; unset or empty: no e-mail is sent.
- ``ROLECALL_SMTP_PORT``: default 587 with STARTTLS, else 25.
- ``ROLECALL_SMTP_FROM``: the sender address; default ``rolecall@localhost``.
- ``ROLECALL_SMTP_STARTTLS``: ``1``/``0`` (yes/no, true/false, on/off); default off.
- ``ROLECALL_SMTP_USER`` and ``ROLECALL_SMTP_PASSWORD``: log in when the user is set.

The address comes from the user's record (:func:`rolecall.core.reads.user_hit`); a user
without one is skipped, with a log line. Sending happens after the change is committed; a failure is
logged (never the password) and never undoes the change.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from rolecall.core import AssignmentEvent, Permission, Risk, hookimpl
from rolecall.core.reads import scope_hit, user_hit

log = logging.getLogger("rolecall.communications")

AREA = "Bulk e-mail"
COURSE = ("course",)

_TARGETS: tuple[tuple[str, str, str, frozenset[Risk]], ...] = (
    ("email_myself", "E-mail myself", "Send a bulk e-mail to oneself, to try it.", frozenset()),
    (
        "email_staff",
        "E-mail the course team",
        "Send a bulk e-mail to the course's staff and admins.",
        frozenset(),
    ),
    (
        "email_learners",
        "E-mail all learners",
        "Send a bulk e-mail to every enrolled learner (who has not opted out).",
        frozenset({Risk.PUBLISHING}),
    ),
    (
        "email_cohort",
        "E-mail a cohort",
        "Send a bulk e-mail to the learners of one cohort.",
        frozenset({Risk.PUBLISHING}),
    ),
    (
        "email_track",
        "E-mail a track",
        "Send a bulk e-mail to the learners enrolled in one track (audit, verified...).",
        frozenset({Risk.PUBLISHING}),
    ),
)


@hookimpl
def register_permissions() -> list[Permission]:
    targets = [
        Permission(
            id=f"communications.{name}",
            title=title,
            description=description,
            area=AREA,
            scope_types=COURSE,
            risks=risks,
        )
        for name, title, description, risks in _TARGETS
    ]
    return [
        *targets,
        Permission(
            id="communications.view_sent_emails",
            title="View sent e-mails",
            description="See the bulk e-mails sent and scheduled in the course: who sent them, "
            "to whom and what they said.",
            area=AREA,
            scope_types=COURSE,
        ),
        Permission(
            id="communications.schedule_emails",
            title="Schedule bulk e-mails",
            description="Schedule bulk e-mails to be sent later, and change or cancel scheduled "
            "ones.",
            area=AREA,
            scope_types=COURSE,
            implies=("communications.view_sent_emails",),
        ),
        Permission(
            id="instructor.email",
            title="Send bulk e-mail",
            description="Send bulk e-mail to any target (oneself, the course team, all "
            "learners, a cohort or a track), schedule it and see what was sent (the legacy "
            "instructor-dashboard e-mail permission).",
            area=AREA,
            scope_types=COURSE,
            implies=(
                *(f"communications.{name}" for name, _, _, _ in _TARGETS),
                "communications.schedule_emails",
                "communications.view_sent_emails",
            ),
            risks={Risk.PUBLISHING},
        ),
    ]


# ------------------------------------------------------------------------- role-change e-mail

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}

_KINDS: Mapping[str, str] = {
    "course_beta_tester": "beta_tester",
    "course_staff": "course_staff",
    "course_admin": "course_admin",
    "discussion_student": "discussion_role",
    "discussion_moderator": "discussion_role",
    "discussion_group_moderator": "discussion_role",
    "discussion_community_ta": "discussion_role",
    "discussion_administrator": "discussion_role",
}
"""Role id -> the legacy case its messages follow; any other role gets the generic message."""


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    starttls: bool
    user: str | None
    password: str | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpSettings | None:
        """The settings, or ``None`` when e-mail is off; ``ValueError`` on a bad value."""
        env = os.environ if environ is None else environ
        host = env.get("ROLECALL_SMTP_HOST", "").strip()
        if not host:
            return None
        starttls_text = env.get("ROLECALL_SMTP_STARTTLS", "").strip().lower()
        if starttls_text not in _TRUE | _FALSE:
            raise ValueError(f"ROLECALL_SMTP_STARTTLS={starttls_text!r} is not a yes/no value")
        starttls = starttls_text in _TRUE
        port_text = env.get("ROLECALL_SMTP_PORT", "").strip()
        if not port_text:
            port = 587 if starttls else 25
        elif port_text.isdigit() and 0 < int(port_text) < 65536:
            port = int(port_text)
        else:
            raise ValueError(f"ROLECALL_SMTP_PORT={port_text!r} is not a port number")
        return cls(
            host=host,
            port=port,
            sender=env.get("ROLECALL_SMTP_FROM", "").strip() or "rolecall@localhost",
            starttls=starttls,
            user=env.get("ROLECALL_SMTP_USER", "").strip() or None,
            password=env.get("ROLECALL_SMTP_PASSWORD") or None,
        )


def message_type(event: AssignmentEvent) -> str:
    """``add_<case>`` or ``remove_<case>``; the case is ``role`` for roles without their own."""
    direction = "add" if event.action == "assign" else "remove"
    return f"{direction}_{_KINDS.get(event.role, 'role')}"


def _where(event: AssignmentEvent, rolecall: Any) -> str:
    title = scope_hit(rolecall, event.scope).title
    return f"{title} ({event.scope})" if title else event.scope


def compose(event: AssignmentEvent, rolecall: Any, recipient: str, sender: str) -> EmailMessage:
    """The e-mail telling the user about ``event``."""
    user = user_hit(rolecall, event.user)
    assert user is not None  # the user whose grant changed
    role = rolecall.registry.roles.get(event.role)
    role_title = role.title if role is not None else event.role
    where = _where(event, rolecall)
    kind = message_type(event)
    subjects = {
        "add_beta_tester": f"You have been invited to beta test {where}",
        "remove_beta_tester": f"You have been removed from the beta test of {where}",
        "add_course_staff": f"You have been added as course staff on {where}",
        "remove_course_staff": f"You have been removed as course staff on {where}",
        "add_course_admin": f"You have been added as an admin (instructor) of {where}",
        "remove_course_admin": f"You have been removed as an admin (instructor) of {where}",
        "add_discussion_role": f"You are now {role_title} in the discussions of {where}",
        "remove_discussion_role": f"You are no longer {role_title} in the discussions of {where}",
        "add_role": f"You have been given the {role_title} role on {where}",
        "remove_role": f"Your {role_title} role on {where} has been removed",
    }
    if event.action == "expire":
        subjects["remove_role"] = f"Your {role_title} role on {where} has expired"
    lines = [f"Hello {user.display_name or user.username},", ""]
    if event.action == "assign":
        lines.append(f"You have been given the role {role_title} on {where}.")
    elif event.action == "expire":
        lines.append(f"Your role {role_title} on {where} has expired.")
    else:
        lines.append(f"Your role {role_title} on {where} has been removed.")
    lines.append("")
    lines.append(f"Role: {role_title} ({event.role})")
    lines.append(f"Where: {where}")
    if event.actor:
        lines.append(f"Changed by: {event.actor}")
    if event.reason:
        lines.append(f"Reason: {event.reason}")
    lines.append(f"When: {event.at:%Y-%m-%d %H:%M} UTC")
    lines.append("")
    if event.action == "assign":
        if role is not None:
            lines.append(f"What this role lets you do: {role.description}")
            lines.append("")
    else:
        lines.append(
            "You no longer have the access this role gave you there; access you hold through "
            "other roles is unchanged."
        )
        lines.append("")
    lines.append(
        "You receive this message because your access changed. If you think this is a "
        "mistake, contact your course or platform team."
    )
    message = EmailMessage()
    message["Subject"] = subjects[kind]
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["X-Rolecall-Message-Type"] = kind
    message.set_content("\n".join(lines) + "\n")
    return message


def send(settings: SmtpSettings, message: EmailMessage) -> None:
    with smtplib.SMTP(settings.host, settings.port, timeout=10) as smtp:
        if settings.starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.user is not None:
            smtp.login(settings.user, settings.password or "")
        smtp.send_message(message)


@hookimpl
def assignment_changed(event: AssignmentEvent, rolecall: Any) -> None:
    try:
        settings = SmtpSettings.from_env()
    except ValueError as exc:
        log.error("role-change e-mail is not sent: %s", exc)
        return
    if settings is None:
        return
    user = user_hit(rolecall, event.user)
    email = user.email if user is not None else None
    if not email:
        log.info(
            "no role-change e-mail to %s (%s %s on %s): the user has no e-mail address",
            event.user,
            event.action,
            event.role,
            event.scope,
        )
        return
    message = compose(event, rolecall, email, settings.sender)
    try:
        send(settings, message)
    except (OSError, smtplib.SMTPException) as exc:
        # The SMTP error text never contains the password; the exception type and text do not
        # reveal the settings beyond host and port.
        log.warning(
            "cannot e-mail %s about %s %s on %s through %s:%s: %s: %s",
            event.user,
            event.action,
            event.role,
            event.scope,
            settings.host,
            settings.port,
            type(exc).__name__,
            " ".join(str(exc).split()),
        )
        return
    log.info(
        "e-mailed %s: %s (%s)", event.user, message["Subject"], message["X-Rolecall-Message-Type"]
    )
