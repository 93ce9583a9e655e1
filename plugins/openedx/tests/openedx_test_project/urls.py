from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from openedx_test_project.stubs.models import CourseEnrollment
from rolecall_openedx.drf import permission_required, requires


class Gradebook(APIView):
    permission_classes = [requires("grading.view_gradebook", scope_from="course_id")]

    def get(self, request: Request, course_id: str) -> Response:
        return Response({"course": course_id, "grades": []})


class Publish(APIView):
    permission_classes = [requires("courses.publish_course_content", scope_from="course_id")]

    def post(self, request: Request) -> Response:
        return Response({"published": request.data["course_id"]})


@permission_required("courses.view_course", scope_from="course_id")
def outline(request: HttpRequest, course_id: str) -> JsonResponse:
    return JsonResponse({"course": course_id, "outline": []})


@permission_required("courses.view_course", scope_from="course_id", scope_types=("course",))
def course_outline(request: HttpRequest, course_id: str) -> JsonResponse:
    """A view for courses only: an org name or a library key is a 400, not an org-wide pass."""
    return JsonResponse({"course": course_id})


class CourseGradebook(APIView):
    permission_classes = [requires("grading.view_gradebook", scope_types=("course",))]

    def get(self, request: Request, course_id: str) -> Response:
        return Response({"course": course_id})


FORUM = ("discussion.vote", "discussion.create_thread", "discussion.create_comment")


def forum_page(request: HttpRequest, course_id: str) -> JsonResponse:
    """A forum page as the platform renders it: what the learner may do, asked of each of the
    page's threads (one permission check per action per thread), then, when ``unenroll`` is
    given, the learner leaves the course and the page asks again."""
    threads = int(request.GET.get("threads", "5"))
    answers = [request.user.has_perm(p, course_id) for _ in range(threads) for p in FORUM]
    after = None
    if request.GET.get("unenroll"):
        enrollment = CourseEnrollment.objects.get(user=request.user, course_id=course_id)
        enrollment.is_active = False
        enrollment.save()
        after = request.user.has_perm(FORUM[0], course_id)
    return JsonResponse({"allowed": all(answers), "checks": len(answers), "after": after})


urlpatterns = [
    path("api/courses/<path:course_id>/gradebook", Gradebook.as_view()),
    path("api/publish", Publish.as_view()),
    path("courses/<path:course_id>/outline", outline),
    path("course-only/<path:course_id>/outline", course_outline),
    path("api/course-only/<path:course_id>/gradebook", CourseGradebook.as_view()),
    path("courses/<path:course_id>/forum", forum_page),
    # The admin console's endpoints, where LMS mounts them (its plugin URL config: ^api/).
    path("api/", include("rolecall_openedx.rest_api.urls")),
]
