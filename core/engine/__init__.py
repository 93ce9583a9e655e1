"""The decision engine: the compiled in-memory index and the queries it answers.

The decision rule
=================

``check(user, permission, scope)`` (:attr:`Index.check`) is True if and only if:

1. **the permission is registered and applies to the scope's type**; an unregistered
   permission and a malformed key are not a denial but bad input
   (:class:`~rolecall.core.errors.BadInputError`), so a typo is never silently False, while a
   user rolecall has never seen is denied like any user without grants;
2. **some unexpired assignment** of that user, **on the scope or one of its ancestors**
   (course -> org -> platform, from the key alone), holds a role **whose closed permission
   set contains it** (the role's permissions, those of the roles it includes, and everything
   they imply);
3. **no restriction on the scope or an ancestor denies it to that user**: a restriction denies
   the permissions it lists (``*``: every permission but ``Index.governance``,
   :meth:`Index.denied_by`) and every permission implying one of them, unless the user holds
   one of its exempt roles, unexpired, on the scope or an ancestor. It never denies
   ``platform.manage_restrictions``, nor ``Index.unlockable`` to a holder of it on the
   platform: a lock never stops the people who may lift it. Deny beats allow.

docs/engine.md states the same rule for users (tests/engine/test_decision_rule.py walks it).

Where each step lives
=====================

The check is compiled (:meth:`Index._compile_check`) into one function that costs what a plain
dictionary walk costs. It answers from a per-scope cache entry ``_fast[scope] = (chain,
walkable)`` and sends everything else to :meth:`Index._check_slow`, which answers the whole rule
and fills the entry:

- *the scope's chain and type* -- :meth:`Index._place` parses a key once (the registry's
  resolver) into its ancestor chain (itself first), the permissions applying to its type, and
  whether a restriction sits on the chain; a malformed key raises there;
- *step 1, registered* -- an unregistered permission is in no ``walkable`` set, so it always
  leaves the fast path; :meth:`Index._check_slow` calls ``require_permission``, which raises;
- *step 1, unknown user* -- the fast path finds no cells for the user and returns
  :meth:`Index._refused`, which raises for an unknown user (and an unknown permission) and
  is False for a known user without grants;
- *step 1, applies* -- ``walkable`` holds only permissions applying to the scope's type; any
  other leaves the fast path, and :meth:`Index._check_slow` refuses it (``permission not in
  applicable``) whoever asks;
- *step 2* -- both paths walk the chain: ``_by_user[user][key]`` is the union of the closed
  permission sets of the roles the user holds at exactly ``key`` (built by :meth:`Index._cell`
  from ``_role_perms``: the registry's closed sets, and the custom roles'); a cell with a timed
  grant is a :class:`TimedPerms`, whose membership test reads the clock, so an expiry counts
  the moment it passes;
- *step 3* -- ``walkable`` leaves out every permission a restriction on the chain denies (its
  ``denied`` set is closed over implications when :meth:`Index.put_restriction` stores it), so
  the fast path never allows one; :meth:`Index._check_slow` walks the chain for such a
  permission too and, when a grant allows it, asks :meth:`Index._restricting`, which looks for
  a restriction on the chain denying it whose exempt roles the user does not hold unexpired
  there (:meth:`Index._holds_any`). A change of restrictions empties ``_places``, ``_fast``
  and ``_walkable``.

:func:`.explain.explain` decides the same rule the long way, with its reasons; its ``allowed``
is ``check``'s answer (tests/engine/test_decision_rule.py walks the steps on both paths,
tests/engine/test_property.py compares both with a naive reference).

The modules
===========

- :mod:`.tables` -- :class:`~.tables.Tables`, the data (users, cells, restrictions, roles,
  rules, known scopes, dormant rows) and its changes, and the records it holds
  (:class:`~.tables.Grant`, :class:`~.tables.Cell`, :class:`TimedPerms`);
- :mod:`.index` -- :class:`Index`, the tables compiled for the check: the decision core;
- :mod:`.changes` -- the change feed applied in revision order, the bulk load of the grants;
- :mod:`.reverse` -- ``who``, ``who_can``, ``scopes_where``, ``access`` and their caches;
- :mod:`.explain` -- explanations;
- :mod:`.lookups` -- the governance look-ups (``types_below``, ``restricted_below``,
  ``live_roles``, ``holders_of``, ``users_on``, ``other_admins``, ``role_authority``,
  ``unlocked``...);
- :mod:`.known` -- look-alike usernames, known scopes ignoring case;
- :mod:`.pseudonyms` -- the compact pseudonym -> username map;
- :mod:`.decisions` -- the records the queries answer with.

Only :class:`Index` and :mod:`.changes` change the data; the other modules read it. Outside
``rolecall.core`` nothing reaches the index: the service and the read layer
(:mod:`rolecall.core.reads`) answer for it.
"""

from . import changes, explain, known, lookups, reverse
from .decisions import AccessEntry, Decision, GrantInfo, Team, TeamMember
from .index import Grant, Index

__all__ = [
    "AccessEntry",
    "Decision",
    "Grant",
    "GrantInfo",
    "Index",
    "Team",
    "TeamMember",
    "changes",
    "explain",
    "known",
    "lookups",
    "reverse",
]
