"""No Django models: rolecall's tables are rolecall's own, made by its own migrations
(:mod:`rolecall_openedx.database`). The module is here so that Django sends ``post_migrate`` to
this app (it does so only to apps with a models module), once per ``migrate``."""
