"""Console accounts, API tokens and generated secrets: who may sign in, and how.

rolecall's users come from the platform; a few of them (administrators) also get a local
password for the console, and API clients get bearer tokens. Both are stored hashed: passwords
with scrypt and a fresh salt each, tokens (random and long, so a plain digest suffices) with
SHA-256. Secrets the installation needs, such as the console's session key, are generated on
first use and kept in the database, so every process of one installation shares them and no
fixed default exists.

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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from .errors import BadInputError, StorageError
from .scopes import show
from .storage.audit import AuditWriter
from .storage.models import Account, ApiToken, Secret, SignInFailures, User

if TYPE_CHECKING:
    from .service import Rolecall

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


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never the token itself, which is shown once, when created."""

    id: int
    user: str
    prefix: str
    label: str | None
    created_by: str | None
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


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

    def __init__(self, rc: Rolecall, clock: Callable[[], float] = time.time) -> None:
        self.rc = rc
        self.clock = clock

    def retry_after(self, keys: Iterable[str]) -> int:
        """Seconds until these keys may try again (0: now)."""
        wanted, now = list(keys), self.clock()
        try:
            with Session(self.rc.engine) as session:
                locks = session.scalars(
                    select(SignInFailures.locked_until).where(SignInFailures.key.in_(wanted))
                ).all()
        except DBAPIError as exc:
            raise StorageError(f"cannot read the sign-in failures: {exc.orig or exc}") from exc
        wait = max((until - now for until in locks), default=0.0)
        return int(wait + 0.999) if wait > 0 else 0

    def failed(self, keys: Iterable[str]) -> None:
        """One more failure for each key; a key past the allowance is locked."""
        wanted, now = sorted(set(keys)), self.clock()  # sorted: processes lock rows alike
        table = SignInFailures

        def record(session: Session) -> None:
            # A write first: on SQLite it takes the write lock before anything is read.
            session.execute(delete(table).where(table.last < now - FORGET_AFTER))
            for key in wanted:
                counted = session.execute(
                    update(table)
                    .where(table.key == key)
                    .values(failures=table.failures + 1, last=now)
                )
                if not counted.rowcount:  # type: ignore[attr-defined]
                    session.add(table(key=key, failures=1, locked_until=0.0, last=now))
                    session.flush()
                over = int(session.scalar(select(table.failures).where(table.key == key)) or 0)
                over -= allowance(key)
                if over >= 0:
                    until = now + min(FIRST_LOCK * 2 ** min(over, 32), MAX_LOCK)
                    session.execute(
                        update(table).where(table.key == key).values(locked_until=until)
                    )

        self._change(record)

    def succeeded(self, keys: Iterable[str]) -> None:
        """Forget these keys' failures."""
        wanted = list(keys)
        self._change(
            lambda session: session.execute(
                delete(SignInFailures).where(SignInFailures.key.in_(wanted))
            )
        )

    def _change(self, work: Callable[[Session], object]) -> None:
        for attempt in range(3):
            try:
                with Session(self.rc.engine) as session, session.begin():
                    work(session)
                return
            except IntegrityError as exc:
                # Another process added the same new key at the same moment: count again,
                # on its row.
                if attempt == 2:
                    raise StorageError(f"cannot record a sign-in: {exc.orig or exc}") from exc
            except DBAPIError as exc:
                raise StorageError(f"cannot record a sign-in: {exc.orig or exc}") from exc


def _check_password(password: str) -> str:
    if not isinstance(password, str):
        raise BadInputError("the password must be text")
    if len(password) < MIN_PASSWORD:
        raise BadInputError(f"the password is too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise BadInputError(f"the password is too long: at most {MAX_PASSWORD} characters")
    return password


class Accounts:
    """Passwords, tokens and secrets of one installation (``rc.accounts``)."""

    def __init__(self, rc: Rolecall) -> None:
        self.rc = rc
        self._token_cache: dict[str, tuple[str, float]] = {}
        self._cache_lock = threading.Lock()

    def sign_in_throttle(self, clock: Callable[[], float] = time.time) -> SignInThrottle:
        """The console's sign-in throttle (see :class:`SignInThrottle`)."""
        return SignInThrottle(self.rc, clock)

    # ------------------------------------------------------------------ passwords

    def _user_id(self, session: Session, username: str) -> int:
        uid = session.scalar(select(User.id).where(User.username == username))
        if uid is None:
            raise BadInputError(f"unknown user {show(username)}; add it with `rolecall users add`")
        return int(uid)

    def set_password(self, username: str, password: str, *, actor: str | None = None) -> int:
        """Give ``username`` (an existing user) a console password, or replace it."""
        hashed = hash_password(_check_password(password))

        def work(session: Session, audit: AuditWriter) -> None:
            uid = self._user_id(session, username)
            row = session.get(Account, uid)
            if row is None:
                session.add(Account(user_id=uid, password_hash=hashed, changed_at=audit.at))
                audit.add("account_create", user=username)
            else:
                row.password_hash = hashed
                row.changed_at = audit.at
                audit.add("password_change", user=username)

        return self.rc.writes.run(actor, work).revision

    def has_password(self, username: str) -> bool:
        """Whether ``username`` has a console password (``make run`` sets one for the demo
        admin only when it has none)."""
        with Session(self.rc.engine) as session:
            found = session.scalar(
                select(Account.user_id).join(User).where(User.username == username)
            )
        return found is not None

    def verify_password(self, username: str, password: str) -> bool:
        """True when ``username`` is an active user with this password. Unknown users cost
        the same time as a wrong password."""
        stored = None
        if isinstance(username, str) and isinstance(password, str) and len(password) <= 1024:
            with Session(self.rc.engine) as session:
                stored = session.scalar(
                    select(Account.password_hash)
                    .join(User)
                    .where(User.username == username, User.active.is_(True))
                )
        if stored is None:
            password_matches("x", _DUMMY_HASH)
            return False
        return password_matches(password, stored)

    # ------------------------------------------------------------------ tokens

    def create_token(
        self, username: str, *, label: str | None = None, actor: str | None = None
    ) -> tuple[TokenInfo, str]:
        """A new bearer token for ``username``: its listing, and the token (shown only now)."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        prefix = token[:10]
        if label is not None and len(label) > 255:
            raise BadInputError("the token label is too long: at most 255 characters")
        created: list[TokenInfo] = []

        def work(session: Session, audit: AuditWriter) -> None:
            uid = self._user_id(session, username)
            row = ApiToken(
                user_id=uid,
                token_hash=token_digest(token),
                prefix=prefix,
                label=label,
                created_by=audit.actor,
                created_at=audit.at,
            )
            session.add(row)
            session.flush()
            audit.add("token_create", user=username, details={"token": row.id, "prefix": prefix})
            created.append(TokenInfo(row.id, username, prefix, label, audit.actor, audit.at, None))

        self.rc.writes.run(actor, work)
        return created[0], token

    def tokens(self, username: str | None = None) -> list[TokenInfo]:
        query = select(ApiToken, User.username).join(User).order_by(ApiToken.id)
        if username is not None:
            query = query.where(User.username == username)
        with Session(self.rc.engine) as session:
            return [
                TokenInfo(t.id, name, t.prefix, t.label, t.created_by, t.created_at, t.revoked_at)
                for t, name in session.execute(query)
            ]

    def revoke_token(self, token_id: int, *, actor: str | None = None) -> int:
        """Revoke a token by its id; it stops working at once in this process and within
        ``staleness`` seconds in the others."""

        def work(session: Session, audit: AuditWriter) -> None:
            row = session.get(ApiToken, token_id)
            if row is None:
                raise BadInputError(f"no token with id {token_id}")
            if row.revoked_at is not None:
                return
            row.revoked_at = audit.at
            owner = session.scalar(select(User.username).where(User.id == row.user_id))
            audit.add("token_revoke", user=owner, details={"token": token_id})

        revision = self.rc.writes.run(actor, work).revision
        with self._cache_lock:
            self._token_cache.clear()
        return revision

    def user_for_token(self, token: str) -> str | None:
        """The active user a token belongs to, or None (unknown, revoked, user deactivated).

        Valid tokens are remembered for ``staleness`` seconds so a busy API does not read the
        database on every request; a deactivated user is refused at once either way.
        """
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = token_digest(token)
        now = time.monotonic()
        cached = self._token_cache.get(digest)
        if cached is not None and cached[1] > now:
            username = cached[0]
        else:
            try:
                with Session(self.rc.engine) as session:
                    found = session.scalar(
                        select(User.username)
                        .join(ApiToken, ApiToken.user_id == User.id)
                        .where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
                    )
            except DBAPIError as exc:
                # The database is away: a token seen valid in the last OUTAGE_GRACE seconds
                # still works, so checks go on being answered from the index.
                if cached is None or now - cached[1] > OUTAGE_GRACE:
                    raise StorageError(
                        "the database cannot be reached to check the token; try again soon"
                    ) from exc
                return self._active(cached[0])
            if found is None:
                with self._cache_lock:
                    self._token_cache.pop(digest, None)
                return None
            username = str(found)
            with self._cache_lock:
                if len(self._token_cache) > 10_000:
                    self._token_cache.clear()
                self._token_cache[digest] = (username, now + max(self.rc.staleness, 0.1))
        return self._active(username)

    def _active(self, username: str) -> str | None:
        record = self.rc.index.users.get(username)
        if record is None or not record.active:
            return None
        return username

    # ------------------------------------------------------------------ secrets

    def secret(self, name: str) -> str:
        """The installation's secret ``name``, generated and stored on first use."""
        with Session(self.rc.engine) as session:
            value = session.scalar(select(Secret.value).where(Secret.name == name))
        if value is not None:
            return str(value)
        try:
            with Session(self.rc.engine) as session, session.begin():
                value = secrets.token_urlsafe(48)
                session.execute(
                    insert(Secret).values(name=name, value=value, created_at=datetime.now(UTC))
                )
        except IntegrityError:  # another process created it first: use theirs
            with Session(self.rc.engine) as session:
                value = session.scalar(select(Secret.value).where(Secret.name == name))
        assert value is not None
        return str(value)

    def rotate_secret(self, name: str, *, actor: str | None = None) -> int:
        """Replace the secret ``name`` with a new random one (signing out every console
        session when it is the session key)."""
        value = secrets.token_urlsafe(48)

        def work(session: Session, audit: AuditWriter) -> None:
            updated = session.execute(
                update(Secret).where(Secret.name == name).values(value=value, created_at=audit.at)
            )
            if not updated.rowcount:  # type: ignore[attr-defined]
                session.add(Secret(name=name, value=value, created_at=audit.at))
            audit.add("secret_rotate", details={"name": name})

        return self.rc.writes.run(actor, work).revision
