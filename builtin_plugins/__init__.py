"""The plugins shipped with rolecall and loaded by default.

Each is a plain ``@hookimpl`` module, exactly what a third party writes, and is registered through
the same path as an entry-point plugin. ``BUILTIN_PLUGINS`` lists them in load order; the name of
the module is the plugin's name (``ROLECALL_DISABLE_PLUGINS`` takes it).

The order follows the dependencies between them: a plugin whose roles (or implications) use
another plugin's permissions or roles comes after it, and the registry skips a plugin that uses
a permission or role no loaded plugin registered.

- ``platform``: the scope types and ``platform_admin``; depends on nothing (it cannot fail).
- ``libraries``, ``discussion``, ``grading``, ``enrollment``: their own permissions and roles.
- ``certificates``: uses ``enrollment`` (``platform_support``'s learner look-ups).
- ``communications``: its own permissions, and the role-change e-mails.
- ``analytics``: uses ``grading`` (``instructor.research`` implies each report download).
- ``authoring``: the course team roles, ``course_creator`` and ``org_admin``; uses every plugin
  above, so disabling one of them makes ``authoring`` fail with an error naming what is missing.
- ``delegation``: the default delegation rules between the roles above.
- ``legacy``: the ``rolecall legacy`` commands (import from and export to the legacy Open edX
  tables) and the legacy access functions; it registers no roles (the legacy names are aliases
  of the roles above), so it loads last and fails with none of them.
"""

BUILTIN_PLUGINS: tuple[str, ...] = (
    "platform",
    "libraries",
    "discussion",
    "grading",
    "enrollment",
    "certificates",
    "communications",
    "analytics",
    "authoring",
    "delegation",
    "legacy",
)
