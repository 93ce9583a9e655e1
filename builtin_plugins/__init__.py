"""The plugins shipped with rolecall and loaded by default.

Each is a plain ``@hookimpl`` module, exactly what a third party writes, and is registered through
the same path as an entry-point plugin. ``BUILTIN_PLUGINS`` lists them in load order; the name of
the module is the plugin's name (``ROLECALL_DISABLE_PLUGINS`` takes it).
"""

BUILTIN_PLUGINS: tuple[str, ...] = ("platform",)
