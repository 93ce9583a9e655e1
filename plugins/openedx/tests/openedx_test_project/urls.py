from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

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


urlpatterns = [
    path("api/courses/<path:course_id>/gradebook", Gradebook.as_view()),
    path("api/publish", Publish.as_view()),
    path("courses/<path:course_id>/outline", outline),
    # The admin console's endpoints, where LMS mounts them (its plugin URL config: ^api/).
    path("api/", include("rolecall_openedx.rest_api.urls")),
]
