"""The REST endpoints the official Open edX admin console (frontend-app-admin-console) calls,
under ``/api/authz/v1/``, answered by rolecall: the same paths, query parameters, JSON shapes,
pagination and status codes as openedx-authz's own views, while rolecall decides who may call
them, what each caller sees, and every change (made as the calling user, under rolecall's
delegation rules and guards).

LMS and Studio get the URLs through the app's ``plugin_app`` ``url_config`` (``^api/``), as
openedx-authz registers its own; a project may also include :mod:`rolecall_openedx.rest_api.urls`
itself: ``path("api/", include("rolecall_openedx.rest_api.urls"))``.
"""
