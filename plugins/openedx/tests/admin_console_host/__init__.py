"""A test host for Open edX's admin console micro-frontend (frontend-app-admin-console, built
by ``scripts/build-admin-console.sh``): what the console needs from LMS and Studio around
rolecall-openedx's ``/api/authz/v1/``, served over real HTTP on 127.0.0.1.

- ``settings``: openedx_test_project's settings, plus the LMS's micro-frontend sign-in as
  edx-drf-extensions provides it (the JWT cookie middleware, ``JWT_AUTH``, the CSRF token API);
- ``urls`` and ``views``: the built console at ``/admin-console/``, its runtime configuration
  (``/api/mfe_config/v1``), a sign-in page, ``login_refresh`` (the JWT cookies for a signed-in
  session), ``/api/user/v1/accounts/<username>``, Studio's ``/api/libraries/v2/<id>/``, and
  rolecall-openedx's URL conf at ``/api/authz/v1/``, unchanged;
- ``server``: the host in a thread of the test process (:func:`server.hosting`).
"""
