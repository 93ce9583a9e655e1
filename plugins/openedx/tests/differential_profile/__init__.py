"""The one relation of edx-platform's user model that openedx-authz's REST views read
(``user.profile``, with a ``name``), for running those views outside the platform."""
