"""The error types rolecall raises.

Every error a caller can cause derives from :class:`RolecallError`. Bad input (a malformed scope
key, an unknown role or permission, ...) raises :class:`BadInputError`, which is also a
``ValueError``; the CLI turns it into one line on standard error and exit status 2.
"""

from __future__ import annotations


class RolecallError(Exception):
    """Base class of every error rolecall raises on purpose."""


class BadInputError(RolecallError, ValueError):
    """The caller passed something rolecall cannot accept; nothing was changed."""


class ScopeKeyError(BadInputError):
    """A scope key that does not parse.

    The message names the key and says what a valid key of that type looks like, e.g.
    ``malformed course key 'course-v1:MITx': expected course-v1:ORG+COURSE+RUN, for example
    course-v1:MITx+6.002x+2026_T1``.
    """

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason


class UnknownScopeError(BadInputError):
    """A well-formed key of a scope nobody has created (rolecall does not know it and no scope
    catalogue has it), refused by a change that takes known scopes only.

    ``suggestion`` is the known key it differs from only in case, if there is one: the message
    then asks "did you mean ...".
    """

    def __init__(self, key: str, suggestion: str | None = None) -> None:
        if suggestion is not None:
            message = f"no scope {key} is known: did you mean {suggestion}?"
        else:
            message = (
                f"no scope {key} is known: create it first (a role is given only on a course, "
                "library or organization that exists)"
            )
        super().__init__(message)
        self.key = key
        self.suggestion = suggestion


class RegistryError(RolecallError):
    """Plugin contributions that cannot form a consistent registry.

    ``plugins`` names the plugin(s) at fault, ``culprit`` the one to skip (the later one in load
    order for a duplicate), and ``item`` the offending id.
    """

    def __init__(self, message: str, *, plugins: tuple[str, ...], item: str) -> None:
        super().__init__(message)
        self.plugins = plugins
        self.item = item

    @property
    def culprit(self) -> str:
        return self.plugins[-1]


class PluginError(RolecallError):
    """A plugin failure that is fatal: strict mode, a missing required plugin, a bad setting."""


class StorageError(RolecallError):
    """The database failed during a write (the connection was lost, a constraint refused a
    row...): the transaction was rolled back and nothing of the change was applied. Reads keep
    answering from the index meanwhile."""


class DatabaseSetupError(StorageError):
    """A MySQL or MariaDB server, or rolecall's tables in it, set up in a way that would lose
    or confuse data (a case-insensitive collation, times without their microseconds, a storage
    engine without transactions...): rolecall refuses to open the database, and says what to
    change. Nothing was written."""
