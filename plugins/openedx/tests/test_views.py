"""A DRF view and a plain Django view through Django's test client: allowed, 403 with the
reason, 400 for a malformed key."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User
from django.test import Client

from rolecall.core import Rolecall

NEW = "course-v1:MITx+6.002x+2026_T1"
OLD = "MITx/6.002x/2012_Fall"

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_of(rc: Rolecall):  # type: ignore[no-untyped-def]
    def make(username: str) -> Client:
        user, _ = User.objects.get_or_create(username=username)
        client = Client()
        client.force_login(user)
        return client

    return make


def test_drf_view_allows_the_holder(rc: Rolecall, client_of) -> None:  # type: ignore[no-untyped-def]
    rc.add_user("ada")
    rc.assign("ada", "course_staff", OLD)
    response = client_of("ada").get(f"/api/courses/{OLD}/gradebook")
    assert response.status_code == 200
    assert response.json() == {"course": OLD, "grades": []}


def test_drf_refusal_is_403_with_the_reason(rc: Rolecall, client_of) -> None:  # type: ignore[no-untyped-def]
    rc.add_user("bob")
    response = client_of("bob").get(f"/api/courses/{NEW}/gradebook")
    assert response.status_code == 403
    assert response.json() == {
        "detail": f"denied: no role bob holds on {NEW} or above it grants grading.view_gradebook"
    }
    stranger = client_of("stranger").get(f"/api/courses/{NEW}/gradebook")
    assert stranger.status_code == 403
    assert "stranger has no grants in rolecall" in stranger.json()["detail"]


@pytest.mark.parametrize(
    "key", ["course-v1:MITx", "nope:x", "MITx/6.002x/2012 Fall", "../../etc/passwd", "x" * 300]
)
def test_drf_malformed_key_is_400(rc: Rolecall, client_of, key: str) -> None:  # type: ignore[no-untyped-def]
    response = client_of("ada").get(f"/api/courses/{key}/gradebook")
    assert response.status_code == 400
    assert response.json()["detail"]


def test_drf_scope_from_the_body_and_a_missing_one(rc: Rolecall, client_of) -> None:  # type: ignore[no-untyped-def]
    rc.add_user("ada")
    rc.assign("ada", "course_staff", NEW)
    client = client_of("ada")
    ok = client.post("/api/publish", {"course_id": NEW}, content_type="application/json")
    assert ok.status_code == 200
    assert client.post("/api/publish", {}, content_type="application/json").status_code == 400
    query = client.post(f"/api/publish?{urlencode({'course_id': NEW})}", {"course_id": "x"})
    assert query.status_code == 200


def test_drf_anonymous_is_refused(rc: Rolecall) -> None:
    assert Client().get(f"/api/courses/{NEW}/gradebook").status_code == 403


def test_function_view(rc: Rolecall, client_of) -> None:  # type: ignore[no-untyped-def]
    rc.add_user("ada")
    rc.assign("ada", "course_auditor", "org:MITx")
    client = client_of("ada")
    assert client.get(f"/courses/{NEW}/outline").json() == {"course": NEW, "outline": []}
    assert client.get(f"/courses/{OLD}/outline").status_code == 200  # an org-wide grant
    refused = client.get("/courses/course-v1:HarvardX+CS50+2026/outline")
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("denied: no role ada holds on course-v1:HarvardX")
    assert client.get("/courses/course-v1:bad/outline").status_code == 400


@pytest.mark.parametrize("prefix", ["/course-only", "/api/course-only"])
def test_a_view_for_courses_refuses_anything_but_a_course_key(  # type: ignore[no-untyped-def]
    rc: Rolecall, client_of, prefix: str
) -> None:
    rc.add_user("ada")
    rc.assign("ada", "course_admin", "org:MITx")
    client = client_of("ada")
    tail = "outline" if prefix == "/course-only" else "gradebook"
    assert client.get(f"{prefix}/{NEW}/{tail}").status_code == 200
    assert client.get(f"{prefix}/{OLD}/{tail}").status_code == 200
    for key in ("MITx", "lib:MITx:physics"):  # an org name, a library: not courses
        refused = client.get(f"{prefix}/{key}/{tail}")
        assert refused.status_code == 400
        assert "expected a course key" in refused.json()["detail"]
    # Without scope_types an org name is read as the org and decided there, as before.
    assert client.get("/courses/MITx/outline").status_code == 403


def test_permission_ids_and_scope_types_are_checked_when_a_view_is_declared(
    rc: Rolecall,
) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from rolecall_openedx.drf import permission_required, requires

    with pytest.raises(ImproperlyConfigured, match=r"courses\.no_such_thing"):
        requires("courses.no_such_thing")
    with pytest.raises(ImproperlyConfigured, match=r"courses\.no_such_thing"):
        permission_required("courses.no_such_thing")
    with pytest.raises(ImproperlyConfigured, match="planet"):
        requires("courses.view_course", scope_types=("planet",))


def test_superusers_are_decided_by_rolecall_unless_the_setting_says_otherwise(  # type: ignore[no-untyped-def]
    rc: Rolecall,
) -> None:
    from django.test import override_settings

    root = User.objects.create_superuser("root", email="root@example.org")
    rc.add_user("root")
    rc.assign("root", "platform_admin", "platform")
    rc.restrict(NEW, ["courses.view_course"], reason="frozen")
    client = Client()
    client.force_login(root)
    assert client.get(f"/courses/{NEW}/outline").status_code == 403  # the lock holds
    assert root.has_perm("courses.view_course", NEW)  # Django's own rule: superusers pass
    with override_settings(ROLECALL_SUPERUSERS_BYPASS=True):
        assert client.get(f"/courses/{NEW}/outline").status_code == 200
    root.is_active = False
    root.save()
    with override_settings(ROLECALL_SUPERUSERS_BYPASS=True):
        assert client.get(f"/courses/{NEW}/outline").status_code != 200
