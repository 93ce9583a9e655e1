"""The console's audit log within reach: linked from scope and user pages, exact times, a date
range, an org filter that takes in its courses and libraries (removed ones too), and a role
change shown as one change. Flask's test client on the demo data."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from console_support import client_of, post
from flask import Flask

from rolecall.core import Rolecall
from rolecall.core.governance.lifecycle import remove_scope
from rolecall.core.reads import audit_scopes_below

CIRCUITS = "course-v1:MITx+6.002x+2026_T1"
CS50 = "course-v1:HarvardX+CS50+2026"
SCOPE_CELL = re.compile(r'<a href="/console/audit\?scope=[^"]+"><code>([^<]+)</code>')


def scopes_listed(html: str) -> set[str]:
    return set(SCOPE_CELL.findall(html))


def test_scope_and_user_pages_link_to_their_audit(console_app: Flask) -> None:
    admin = client_of(console_app, "admin")
    course = admin.get(f"/console/scopes/{CIRCUITS}").text
    assert (
        f'href="/console/audit?scope={quote(CIRCUITS, safe=":")}">Audit log of this course'
        in course
    )
    org = admin.get("/console/scopes/org:MITx").text
    assert 'href="/console/audit?org=org:MITx">Audit log of this org' in org
    user = admin.get("/console/users/ada").text
    assert 'href="/console/audit?user=ada">Audit log of ada' in user
    # Not offered to whoever may not open the log.
    olivia = client_of(console_app, "olivia")
    assert "Audit log of" not in olivia.get(f"/console/scopes/{CIRCUITS}").text
    assert "Audit log of" not in olivia.get("/console/users/olivia").text
    assert olivia.get("/console/audit?org=org:MITx").status_code == 403


def test_times_are_shown_in_utc_in_a_time_element(
    console_app: Flask, console_service: Rolecall
) -> None:
    newest = console_service.audit()[-1]
    page = client_of(console_app, "admin").get("/console/audit").text
    at = newest.at.astimezone(UTC)
    stamp = at.isoformat().replace("+00:00", "Z")
    assert f'<time datetime="{stamp}">{at:%Y-%m-%d %H:%M:%S} UTC</time>' in page


def test_a_date_range_of_whole_utc_days(console_app: Flask, console_service: Rolecall) -> None:
    admin = client_of(console_app, "admin")
    today = datetime.now(UTC).date()
    day = timedelta(days=1)

    def rows(query: str) -> int:
        response = admin.get(f"/console/audit?{query}")
        assert response.status_code == 200, response.text
        return response.text.count("<time datetime=")

    assert rows(f"from={today}&to={today}") == 50  # a full page: everything is from today
    assert rows(f"from={today + day}") == 0
    assert rows(f"to={today - day}") == 0
    assert rows(f"from={today - day}&to={today - day}") == 0
    bad = admin.get("/console/audit?from=yesterday")
    assert bad.status_code == 400
    assert "From &#39;yesterday&#39; is not a date (YYYY-MM-DD)." in bad.text
    backwards = admin.get(f"/console/audit?from={today}&to={today - day}")
    assert backwards.status_code == 400
    assert "ends before it begins" in backwards.text


def test_an_org_filter_takes_in_its_courses_and_libraries(
    console_app: Flask, console_service: Rolecall
) -> None:
    admin = client_of(console_app, "admin")
    listed = scopes_listed(admin.get("/console/audit?org=MITx&action=import").text)
    assert {"org:MITx", CIRCUITS, "lib:MITx:physics"} <= listed
    assert not any("HarvardX" in s or "BerkeleyX" in s for s in listed)
    assert listed == scopes_listed(admin.get("/console/audit?org=org:MITx&action=import").text)
    # A course removed since is still the org's: its events stay in reach.
    remove_scope(console_service, CIRCUITS, actor="admin", reason="closed")
    assert CIRCUITS in audit_scopes_below(console_service, "MITx")
    removed = admin.get("/console/audit?org=MITx&action=scope_remove").text
    assert CIRCUITS in scopes_listed(removed)


def test_a_role_change_is_one_line_from_one_role_to_the_other(
    console_app: Flask, console_service: Rolecall
) -> None:
    admin = client_of(console_app, "admin")
    page = f"/console/scopes/{CIRCUITS}"
    response = post(
        admin,
        f"{page}/change",
        {"user": "grace", "role": "course_staff", "new_role": "course_editor"},
        page,
    )
    assert response.status_code == 302  # type: ignore[attr-defined]
    events = [e for e in console_service.audit(user="grace") if e.action == "change_role"]
    assert len(events) == 2
    assert len({e.batch_id for e in events}) == 1
    log = admin.get("/console/audit?user=grace").text
    assert log.count("role change") == 1
    assert (
        '<code>course_staff</code> <span aria-hidden="true">-&gt;</span>'
        '<span class="visually-hidden">changed to</span> <code>course_editor</code>'
    ) in log
    assert console_service.verify_audit().ok
    # A filter on the action finds it as one change too.
    assert admin.get("/console/audit?action=change_role").text.count("role change") == 1
