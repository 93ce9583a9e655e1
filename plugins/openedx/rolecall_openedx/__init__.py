"""rolecall inside Open edX: a Django plugin app for LMS and Studio.

- :func:`rolecall_openedx.keys.scope_key`: the rolecall scope of any platform object or key;
- :class:`rolecall_openedx.backends.RolecallBackend`: ``user.has_perm(permission, obj)``;
- :func:`rolecall_openedx.drf.requires` and :func:`rolecall_openedx.drf.permission_required`:
  DRF permission classes and a decorator for plain Django views;
- :class:`rolecall_openedx.rules.RolecallRule`: a bridgekeeper rule that also filters querysets;
- :func:`rolecall_openedx.service.get_rolecall`: the process's rolecall service, opened from
  the Django settings.

Importing this package imports nothing else: Django loads the app through
:mod:`rolecall_openedx.apps`.
"""
