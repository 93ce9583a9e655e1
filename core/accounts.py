"""Console accounts, API tokens and generated secrets: who may sign in, and how.

rolecall's users come from the platform; a few of them (administrators) also get a local
password for the console, and API clients get bearer tokens. Both are stored hashed: passwords
with scrypt and a fresh salt each, tokens (random and long, so a plain digest suffices) with
SHA-256. The keys that sign console sessions and the audit chain are not here: they live
outside the database (:mod:`rolecall.core.storage.keys`, ``rc.keys``); this module rotates them
(with an audit event).

Console sessions are kept server-side (:class:`ConsoleSessions`): the cookie names a random
session id, and each request looks it up, so signing out, a password change or a retirement
ends a session in every process from the next request, and the lifetime fixed at sign-in is
not extended by use.

Reach it through the service: ``rc.accounts.set_password("ada", "...")``. Every change writes an
audit event (never the password, token or secret itself). Failed console sign-ins are counted
here too (:class:`SignInThrottle`), in the database, so that every web process shares them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .errors import BadInputError, StorageError
from .scopes import show
from .storage import accounts as rows
from .storage.accounts import AccountStore
from .storage.accounts import TokenInfo as TokenInfo  # a name of this module's, as it was
from .storage.audit import AuditWriter
from .storage.keys import PURPOSES, KeyRing, KeyStoreError

if TYPE_CHECKING:
    from .engine import Index
    from .writes import UnitOfWork

MIN_PASSWORD = 8
MAX_PASSWORD = 1024
OUTAGE_GRACE = 300.0
"""Seconds a token seen valid keeps working while the database cannot be reached."""
TOKEN_PREFIX = "rc_"  # noqa: S105 - the visible start of every token, not a secret
# scrypt's cost: about 50 ms and 16 MiB a hash on this class of machine (RFC 7914's advice for
# interactive logins is N = 2**14, r = 8, p = 1).
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$digest`` (base64): the salt is random, so equal passwords differ."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def password_matches(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=64 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


# A hash to spend the same time on when the user has no account, so timing does not tell
# which usernames have one.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(12))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


FREE_FAILURES = 5
"""Failed sign-ins of one key allowed before it is locked."""
FIRST_LOCK = 30.0
"""Seconds of the first lock; each further failure doubles it, up to ``MAX_LOCK``."""
MAX_LOCK = 15 * 60.0
FORGET_AFTER = 60 * 60.0
"""A key whose latest failure is older than this starts again from nothing."""
ACCOUNT_CEILING = 50
"""Failed sign-ins of one account, from every address together, allowed before the account is
locked for everyone (the ``account:`` key): a guess spread over many addresses is stopped too,
while a stranger at one address cannot lock its owner out with a few failures."""
ALLOWANCES = {"account": ACCOUNT_CEILING}
"""Free failures per kind of key (the text before its first colon); others: ``FREE_FAILURES``."""


def sign_in_keys(username: str, address: str) -> list[str]:
    """The throttle's keys of a console sign-in: this account from this address (``pair:``,
    a digest, so a long name and address fit), this address for every account
    (``address:``), and this account from everywhere (``account:``, the higher ceiling)."""
    name = username.casefold()[:254]  # casefolding can lengthen a name; keys are 300 at most
    pair = hashlib.sha256(f"{name}\n{address}".encode()).hexdigest()
    return [f"pair:{pair}", f"address:{address[:64]}", f"account:{name}"]


def allowance(key: str) -> int:
    """Failures of ``key`` allowed before it is locked."""
    return ALLOWANCES.get(key.partition(":")[0], FREE_FAILURES)


class SignInThrottle:
    """Console sign-in throttling per key (:func:`sign_in_keys`: an account from one address,
    an address, an account from everywhere): failures past a free allowance
    (:func:`allowance`) lock the key for a window that doubles with each further failure.

    The counts are rows of ``rolecall_signin_failures``, so every web process of an
    installation shares them: running more processes gives nobody more guesses. ``clock``
    (epoch seconds) is replaceable for tests. A database failure raises
    :class:`StorageError`.
    """

    def __init__(self, store: AccountStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def retry_after(self, keys: Iterable[str]) -> int:
        """Seconds until these keys may try again (0: now)."""
        locks, now = self.store.locks(keys), self.clock()
        wait = max((until - now for until in locks), default=0.0)
        return int(wait + 0.999) if wait > 0 else 0

    def failed(self, keys: Iterable[str]) -> None:
        """One more failure for each key; a key past the allowance is locked."""
        now = self.clock()

        def lock(key: str, failures: int) -> float | None:
            over = failures - allowance(key)
            return now + min(FIRST_LOCK * 2 ** min(over, 32), MAX_LOCK) if over >= 0 else None

        self.store.count_failures(keys, now, forget_before=now - FORGET_AFTER, lock=lock)

    def succeeded(self, keys: Iterable[str]) -> None:
        """Forget these keys' failures."""
        self.store.forget_failures(keys)


def _check_password(password: str) -> str:
    if not isinstance(password, str):
        raise BadInputError("the password must be text")
    if len(password) < MIN_PASSWORD:
        raise BadInputError(f"the password is too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise BadInputError(f"the password is too long: at most {MAX_PASSWORD} characters")
    return password


class Accounts:
    """Passwords, tokens and secrets of one installation (``rc.accounts``).

    It is given what it uses, not the service: the account tables (``store``), the unit of
    work every audited change runs through (``writes``), the index of the moment (``index``),
    whether the process hears the others' changes (``hearing``), the catch-up (``sync``) and
    the key ring (``keys``)."""

    def __init__(
        self,
        store: AccountStore,
        writes: UnitOfWork,
        *,
        index: Callable[[], Index],
        hearing: Callable[[], bool],
        sync: Callable[[], int],
        keys: KeyRing,
    ) -> None:
        self.store = store
        self.writes = writes
        self._index = index
        self._hearing = hearing
        self._sync = sync
        self.keys = keys
        # digest -> (username, revision it was looked up at, expiry epoch, when looked up)
        self._token_cache: dict[str, tuple[str, int, float, float]] = {}
        self._cache_lock = threading.Lock()

    def forked(self) -> None:
        """In a child process just forked: a lock of its own (see
        :func:`rolecall.core.syncing.forked`)."""
        self._cache_lock = threading.Lock()

    def sign_in_throttle(self, clock: Callable[[], float] = time.time) -> SignInThrottle:
        """The console's sign-in throttle (see :class:`SignInThrottle`)."""
        return SignInThrottle(self.store, clock)

    # ------------------------------------------------------------------ passwords

    def _user_id(self, session: Any, username: str) -> int:
        uid = rows.user_id(session, username)
        if uid is None:
            raise BadInputError(f"unknown user {show(username)}; add it with `rolecall users add`")
        return uid

    def set_password(self, username: str, password: str, *, actor: str | None = None) -> int:
        """Give ``username`` (an existing user) a console password, or replace it."""
        hashed = hash_password(_check_password(password))

        def work(session: Any, audit: AuditWriter) -> None:
            uid = self._user_id(session, username)
            # A new password ends every console session of the account, in every process.
            if rows.put_password(session, uid, hashed, audit.at):
                audit.add("account_create", user=username)
            else:
                audit.add("password_change", user=username)

        return self.writes.run(actor, work).revision

    def has_password(self, username: str) -> bool:
        """Whether ``username`` has a console password (``make run`` sets one for the demo
        admin only when it has none)."""
        return self.store.has_password(username)

    def verify_password(self, username: str, password: str) -> bool:
        """True when ``username`` is an active user with this password. Unknown users cost
        the same time as a wrong password."""
        stored = None
        if isinstance(username, str) and isinstance(password, str) and len(password) <= 1024:
            stored = self.store.password_hash(username)
        if stored is None:
            password_matches("x", _DUMMY_HASH)
            return False
        return password_matches(password, stored)

    # ------------------------------------------------------------------ tokens

    def create_token(
        self,
        username: str,
        *,
        label: str | None = None,
        expires_at: datetime | None = None,
        actor: str | None = None,
    ) -> tuple[TokenInfo, str]:
        """A new bearer token for ``username``: its listing, and the token (shown only now).
        ``expires_at`` (aware, in the future): when it stops working by itself."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        prefix = token[:10]
        if label is not None and len(label) > 255:
            raise BadInputError("the token label is too long: at most 255 characters")
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise BadInputError("the token's expiry needs a time zone, e.g. ...T09:00+00:00")
            if expires_at <= datetime.now(UTC):
                raise BadInputError("the token's expiry is in the past")
        created: list[TokenInfo] = []

        def work(session: Any, audit: AuditWriter) -> None:
            uid = self._user_id(session, username)
            token_id = rows.add_token(
                session,
                uid,
                digest=token_digest(token),
                prefix=prefix,
                label=label,
                created_by=audit.actor,
                at=audit.at,
                expires_at=expires_at,
            )
            details: dict[str, object] = {"token": token_id, "prefix": prefix}
            if expires_at is not None:
                details["expires_at"] = expires_at.astimezone(UTC).isoformat()
            audit.add("token_create", user=username, details=details)
            created.append(
                TokenInfo(
                    token_id, username, prefix, label, audit.actor, audit.at, None, expires_at
                )
            )

        self.writes.run(actor, work)
        return created[0], token

    def tokens(self, username: str | None = None) -> list[TokenInfo]:
        return self.store.tokens(username)

    def revoke_token(self, token_id: int, *, actor: str | None = None) -> int:
        """Revoke a token by its id; every process refuses it once it has the write's
        revision: on hearing the write's notice, else on its next request (see
        :meth:`user_for_token`)."""

        def work(session: Any, audit: AuditWriter) -> None:
            found, revoked, owner = rows.revoke_token(session, token_id, audit.at)
            if not found:
                raise BadInputError(f"no token with id {token_id}")
            if revoked:
                audit.add("token_revoke", user=owner, details={"token": token_id})

        revision = self.writes.run(actor, work).revision
        with self._cache_lock:
            self._token_cache.clear()
        return revision

    def _caught_up(self) -> int:
        """The database's revision, read now, with the index caught up to it (one small read
        when nothing changed). Raises :class:`StorageError` when the database is away."""
        current = self.store.revision()
        if current > self._index().revision:
            self._sync()
        return current

    def user_for_token(self, token: str) -> str | None:
        """The active user a token belongs to, or None (unknown, revoked, expired, user
        deactivated).

        A token seen valid at the index's revision is not looked up again, and any change
        since (a revocation, a retirement, made by any process) makes it looked up anew. The
        revision is the one the changes of every process reach this one by:

        - where the service hears the notice channel (``rc.hearing``: PostgreSQL, or Redis),
          the index's own, which each write's notice moves within milliseconds; no query
          per request (a request that comes in between a revocation's commit and its notice
          is still answered as before it);
        - otherwise the database's, read on every call (one small query), so no process
          accepts a revoked token or a retired user's after the write.

        While the database cannot be reached, a token seen valid in the last ``OUTAGE_GRACE``
        seconds keeps working.
        """
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = token_digest(token)
        now = time.monotonic()
        cached = self._token_cache.get(digest)
        try:
            revision = self._index().revision if self._hearing() else self._caught_up()
            if cached is not None and cached[1] == revision:
                username: str | None = cached[0]
                until = cached[2]
            else:
                row = self.store.token_owner(digest)
                username = None if row is None else row[0]
                expires = None if row is None else row[1]
                until = float("inf") if expires is None else expires.timestamp()
        except StorageError as exc:
            # The database is away: a token seen valid in the last OUTAGE_GRACE seconds
            # still works, so checks go on being answered from the index.
            if cached is None or now - cached[3] > OUTAGE_GRACE or cached[2] <= time.time():
                raise StorageError(
                    "the database cannot be reached to check the token; try again soon"
                ) from exc
            return self._active(cached[0])
        if username is None or until <= time.time():  # unknown, revoked or expired
            with self._cache_lock:
                self._token_cache.pop(digest, None)
            return None
        with self._cache_lock:
            if len(self._token_cache) > 10_000:
                self._token_cache.clear()
            self._token_cache[digest] = (username, revision, until, now)
        return self._active(username)

    def _active(self, username: str) -> str | None:
        record = self._index().users.get(username)
        if record is None or not record.active:
            return None
        return username

    # ------------------------------------------------------------------ console sessions

    def console_sessions(self, clock: Callable[[], float] = time.time) -> ConsoleSessions:
        """The console's server-side sessions (see :class:`ConsoleSessions`)."""
        return ConsoleSessions(self.store, clock)

    # ------------------------------------------------------------------ keys

    def rotate_secret(self, name: str, *, actor: str | None = None) -> int:
        """Rotate the key ``name`` (``console-session-key`` or ``audit-key``) where the keys
        live (``rc.keys``, outside the database) and record it in the audit log, naming the
        new key's id, never the key. A new session key signs every console session out (web
        processes use it once restarted); a new audit key signs the events from then on,
        and the older versions keep verifying theirs."""
        if name not in PURPOSES:
            raise BadInputError(f"no key {name!r}; the keys are {', '.join(PURPOSES)}")
        try:
            key = self.keys.rotate(name)
        except KeyStoreError as exc:
            raise BadInputError(str(exc)) from None

        def work(session: Any, audit: AuditWriter) -> None:
            audit.add("secret_rotate", details={"name": name, "key_id": key.id})

        return self.writes.run(actor, work).revision


class ConsoleSessions:
    """Signed-in console sessions, kept in the database (``rolecall_console_sessions``) so
    that every web process sees each sign-out, password change and retirement on its next
    request.

    :meth:`start` makes a random session id (the cookie carries it; only its SHA-256 is
    stored) that ends ``lifetime`` seconds later whatever its use; :meth:`user` answers who
    a session id belongs to, checking it against the database on every call; :meth:`end` signs
    it out. ``clock`` (epoch seconds) is replaceable for tests.
    """

    def __init__(self, store: AccountStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        self._seen: dict[str, tuple[str, float, float]] = {}
        self._seen_lock = threading.Lock()

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def start(self, username: str, lifetime: float) -> str:
        """A new session for the active user ``username``; returns its id (for the cookie)."""
        sid = secrets.token_urlsafe(32)
        now = self._now()
        # Expired sessions of the account go; their rows would only accumulate.
        ends = now + timedelta(seconds=lifetime)
        if not self.store.start_session(username, token_digest(sid), now, ends):
            raise BadInputError(f"no active user {show(username)}")
        return sid

    def user(self, sid: object) -> str | None:
        """The active user whose unexpired session ``sid`` is, else None. While the database
        cannot be reached, a session seen valid in the last ``OUTAGE_GRACE`` seconds (and not
        past its end) still counts, so the console keeps showing what the index knows."""
        if not isinstance(sid, str) or not sid or len(sid) > 200:
            return None
        digest = token_digest(sid)
        now = self._now()
        try:
            row = self.store.session_user(digest, now)
        except StorageError as exc:
            seen = self._seen.get(digest)
            if (
                seen is None
                or time.monotonic() - seen[2] > OUTAGE_GRACE
                or seen[1] <= now.timestamp()
            ):
                raise StorageError(
                    "the database cannot be reached to check the session; try again soon"
                ) from exc
            return seen[0]
        if row is None:
            with self._seen_lock:
                self._seen.pop(digest, None)
            return None
        with self._seen_lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[digest] = (row[0], row[1].timestamp(), time.monotonic())
        return row[0]

    def end(self, sid: object) -> None:
        """Sign the session ``sid`` out: its cookie is worth nothing from now on, anywhere."""
        if not isinstance(sid, str) or not sid:
            return
        digest = token_digest(sid)
        with self._seen_lock:
            self._seen.pop(digest, None)
        self.store.end_session(digest)
