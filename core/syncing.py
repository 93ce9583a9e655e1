"""The sync thread of a service (:class:`rolecall.core.service.Rolecall`): it hears the notice
channel (:mod:`.storage.notices`) and catches the index up on each notice announcing a revision
the index does not have, and polls every ``staleness`` seconds whatever the channel does.

The thread's state (the listener, whether it listens, the thread itself) is the service's, which
reads it to say whether it hears the others (``rc.hearing``) and resets it after a fork.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from .errors import StorageError

if TYPE_CHECKING:
    from .service import Rolecall
    from .storage.notices import Listener

log = logging.getLogger("rolecall.service")

_orphans: list[object] = []
"""In a forked child: the listeners the parent's threads held. Kept, never used or closed:
their sockets are the parent's."""

RETRY_FIRST = 0.005
"""Seconds before catching up again when a notice announced a revision not visible yet (then
doubling, up to the staleness)."""


def sync_quietly(rc: Rolecall) -> None:
    try:
        rc.sync()
    except Exception as exc:  # the database is away: keep answering from the index
        cause = exc.__cause__ if isinstance(exc, StorageError) and exc.__cause__ else exc
        rc.sync_error = f"{type(cause).__name__}: {cause}".splitlines()[0]
        log.warning("cannot catch up with the database: %s", rc.sync_error)


def _poll(rc: Rolecall, listener: Listener | None) -> None:
    """The catch-up of every ``staleness`` seconds. On PostgreSQL the revision is read on
    the listening connection (one statement); the change feed only when it moved."""
    if listener is not None:
        current = listener.revision()
        if current is not None and current <= rc.index.revision:
            rc._caught_up()
            return
    sync_quietly(rc)


def _listen(rc: Rolecall, down: bool) -> Listener | None:
    """A new subscription to the notice channel, or None (logged) when it is down."""
    assert rc.notices is not None
    try:
        listener = rc.notices.listen()
    except Exception as exc:
        if not down:
            log.warning(
                "the notice channel (%s) cannot be reached (%s): catching up every %s s "
                "until it is back",
                rc.notices.name,
                f"{type(exc).__name__}: {exc}".splitlines()[0],
                rc.staleness,
            )
        return None
    if down:
        log.info("the notice channel (%s) is back", rc.notices.name)
    return listener


def sync_loop(rc: Rolecall, stop: threading.Event) -> None:
    """The sync thread: hears notices and catches up on each that announces a revision
    this index does not have, and polls every ``staleness`` seconds whatever the channel
    does. A channel that fails is reopened every ``staleness`` seconds (each failure
    logged once until it is back); after reopening it, the thread catches up with what it
    may have missed. In a forked child the thread starts with a catch-up, and only then
    do reads trust the index (:attr:`_thread`)."""
    listener: Listener | None = None
    down = False  # the channel failed, logged once until it is back
    retry_at = 0.0  # when to try the channel again
    due = 0.0  # the next poll: at once when starting
    pending = 0  # the newest revision announced and not seen yet
    pending_since = again = 0.0
    delay = RETRY_FIRST
    try:
        while not stop.is_set():
            now = time.monotonic()
            if listener is None and rc.notices is not None and now >= retry_at:
                listener = _listen(rc, down)
                down = listener is None
                if listener is None:
                    retry_at = now + max(rc.staleness, 0.5)
                else:
                    rc._listener, rc._listening = listener, True
                    due = now  # catch up with whatever came while not listening
            if now >= due or (pending and now >= again):
                try:
                    if now >= due:
                        _poll(rc, listener)
                    else:
                        sync_quietly(rc)
                except Exception as exc:  # the listening connection failed
                    _drop(rc, listener, exc)
                    listener, down, retry_at = None, True, 0.0
                    sync_quietly(rc)
                if rc._thread is None and rc._runner is threading.current_thread():
                    rc._thread = rc._runner  # a forked child: caught up, trusted now
                now = time.monotonic()
                due = now + rc.staleness
                if pending and (pending <= rc.index.revision or now - pending_since > rc.staleness):
                    pending = 0  # seen, or announced by something else than a write here
                elif pending:  # announced, not visible yet: again soon
                    delay = min(delay * 2, rc.staleness)
                    again = now + delay
                continue
            until = min(due, again) if pending else due
            if listener is None:
                if rc.notices is not None:
                    until = min(until, retry_at)
                stop.wait(max(until - now, 0.0))
                continue
            try:
                heard = listener.wait(max(until - now, 0.0))
            except Exception as exc:
                _drop(rc, listener, exc)
                listener, down, retry_at, due = None, True, 0.0, 0.0
                continue
            if heard is not None and (heard == 0 or heard > rc.index.revision):
                if not pending:
                    pending_since, delay = time.monotonic(), RETRY_FIRST
                pending = max(pending, heard or rc.index.revision + 1)
                again = 0.0  # catch up now
    finally:
        rc._listening = False
        rc._listener = None
        if listener is not None:
            listener.close()


def _drop(rc: Rolecall, listener: Listener | None, exc: Exception) -> None:
    rc._listening = False
    rc._listener = None
    assert rc.notices is not None
    log.warning(
        "the notice channel (%s) failed (%s): catching up every %s s until it is back",
        rc.notices.name,
        f"{type(exc).__name__}: {exc}".splitlines()[0],
        rc.staleness,
    )
    if listener is not None:
        listener.close()


def forked(rc: Rolecall) -> None:
    """In a child process just forked (``rolecall.core.service``'s fork handler): the parent's
    connections are left alone (SQLAlchemy's advice for a fork: the pool is dropped
    without closing what it holds), the sync thread, which did not survive the fork, is
    started again, and every read catches up before it answers."""
    if rc._listener is not None:
        _orphans.append(rc._listener)  # the parent's socket: never used, never closed
    rc._listener, rc._listening = None, False
    rc.engine.dispose(close=False)
    if rc.notices is not None:
        rc.notices.forked()
    rc.accounts.forked()
    rc.keys.forked()
    rc._copied = True
    rc._fresh_until = 0.0
    rc._thread = None
    if rc._runner is not None and not rc._stop.is_set():
        rc._stop = threading.Event()
        rc._start_sync()
    else:
        rc._runner = None
