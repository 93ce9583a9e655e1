"""Where the keys that sign console sessions and the audit chain live: never in the database.

A copy of the database must not be a key to either, so the keys come from outside it, from the
first of:

1. ``ROLECALL_SECRET_KEY``: one or more secrets (at least 32 characters each) separated by
   spaces or commas, the newest first. Each purpose's key is derived from a secret with
   HMAC-SHA256; the older secrets only verify (audit events signed before a rotation).
2. ``ROLECALL_KEY_FILE``: a key file at that path.
3. For an SQLite database file, the key file beside it: ``rolecall.db.keys`` for
   ``rolecall.db``.
4. For an in-memory SQLite database, keys generated for the process (the database lives no
   longer than they do).

A server database (PostgreSQL, MySQL) without the first two is refused with an error saying
what to set, when a key is first needed (a write, ``audit verify``, the web application):
rolecall never stores a key in the database.

The key file is JSON, created on first use with mode 0600 and ``O_EXCL`` (two processes
starting at the same moment end up with the same file), refused when other users can read it.
It holds, per purpose, the key versions, each with a key id (the first 16 hex digits of a
SHA-256 of the key: it names the key without revealing it) and, for the audit key, the
database revision at which keying began: events after it must be keyed, so a chain rewritten
as unkeyed events fails ``audit verify``. Rotating the audit key adds a version (old events
keep verifying with theirs); rotating the session key replaces it (every console session
ends).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from ..errors import RolecallError
from .models import State
from .sessions import driver_errors

SESSION_KEY = "console-session-key"
"""Signs the console's session cookies."""
AUDIT_KEY = "audit-key"
"""Keys the audit chain (HMAC-SHA256 of each event)."""
PURPOSES = (SESSION_KEY, AUDIT_KEY)

ENV_SECRET = "ROLECALL_SECRET_KEY"  # noqa: S105 - the name of a setting
ENV_FILE = "ROLECALL_KEY_FILE"
MIN_SECRET = 32
FORMAT = 1


class KeyStoreError(RolecallError):
    """The keys cannot be found, read or made (no place to keep them, a key file others can
    read, a malformed file...)."""


@dataclass(frozen=True)
class Key:
    """One version of a key: its id (safe to store and show) and the key itself."""

    id: str
    secret: bytes = b""

    def __repr__(self) -> str:  # never the key itself, in a log or a traceback
        return f"Key(id={self.id!r})"


def key_id(secret: bytes) -> str:
    """A key's name: not the key, and not enough to find it."""
    return hashlib.sha256(b"rolecall key id\0" + secret).hexdigest()[:16]


def _key(secret: bytes) -> Key:
    return Key(key_id(secret), secret)


def _derive(master: str, purpose: str) -> Key:
    return _key(hmac.digest(master.encode(), f"rolecall/{purpose}".encode(), "sha256"))


@dataclass
class _Keys:
    versions: dict[str, list[Key]]
    keyed_after: int | None
    """The database revision at which audit keying began (None: not known)."""


class KeyRing:
    """The keys of one database. ``source`` says where they come from (for messages and
    ``rolecall secrets``); ``revision`` reads the database's current revision, recorded when
    the audit key is first made."""

    def __init__(
        self,
        *,
        env_secret: str | None = None,
        path: Path | None = None,
        revision: Callable[[], int] = lambda: 0,
        missing: str | None = None,
    ) -> None:
        self.path = path
        self._env = env_secret
        self._revision = revision
        self._missing = missing
        self._lock = threading.Lock()
        self._loaded: _Keys | None = None
        self._stamp: tuple[int, int] | None = None
        if env_secret is not None:
            parts = [p for p in re.split(r"[\s,]+", env_secret) if p]
            if not parts or any(len(p) < MIN_SECRET for p in parts):
                raise KeyStoreError(
                    f"{ENV_SECRET} must hold one or more secrets of at least {MIN_SECRET} "
                    "characters each (newest first, separated by spaces or commas)"
                )
            self._loaded = _Keys({p: [_derive(s, p) for s in parts] for p in PURPOSES}, None)

    def forked(self) -> None:
        """In a child process just forked: a lock of its own (the parent's copy may have been
        held by a thread that the child does not have)."""
        self._lock = threading.Lock()

    @classmethod
    def for_database(cls, engine: Engine, environ: Any = None) -> KeyRing:
        """The keys of ``engine``'s database, from the environment or beside it (see the
        module's docstring). Nothing is read or made until a key is asked for."""
        env = os.environ if environ is None else environ
        url = engine.url

        def revision() -> int:
            with driver_errors(None), engine.connect() as connection:
                return int(connection.scalar(select(State.revision)) or 0)

        if env.get(ENV_SECRET):
            return cls(env_secret=env[ENV_SECRET])
        if env.get(ENV_FILE):
            return cls(path=Path(env[ENV_FILE]), revision=revision)
        if url.get_backend_name() == "sqlite":
            database = url.database or ""
            if database and database != ":memory:" and not database.startswith("file:"):
                return cls(path=Path(database + ".keys"), revision=revision)
            return cls(revision=revision)
        return cls(
            missing=(
                f"the keys that sign console sessions and the audit chain are kept outside the "
                f"database: set {ENV_FILE} to the path of a key file (made on first use, mode "
                f"0600) or {ENV_SECRET} to a secret of at least {MIN_SECRET} characters"
            )
        )

    @property
    def source(self) -> str:
        if self._env is not None:
            return ENV_SECRET
        if self.path is not None:
            return str(self.path)
        return "in memory (an in-memory database)" if self._missing is None else "none"

    # ------------------------------------------------------------------ reading

    def current(self, purpose: str) -> Key:
        """The key that signs now: the newest version."""
        return self._keys().versions[purpose][-1 if self._env is None else 0]

    def find(self, purpose: str, kid: str) -> Key | None:
        """The version of ``purpose``'s key named ``kid``, if this installation has it."""
        for attempt in range(2):
            for key in self._keys(reload=attempt == 1).versions[purpose]:
                if key.id == kid:
                    return key
        return None

    def versions(self, purpose: str) -> list[Key]:
        return list(self._keys().versions[purpose])

    @property
    def keyed_after(self) -> int | None:
        """The revision after which every audit event must be keyed (None: not known, as
        with ``ROLECALL_SECRET_KEY``)."""
        return self._keys().keyed_after

    def _keys(self, *, reload: bool = False) -> _Keys:
        if self._env is not None:
            assert self._loaded is not None
            return self._loaded
        if self._missing is not None:
            raise KeyStoreError(self._missing)
        with self._lock:
            if self.path is None:
                if self._loaded is None:
                    self._loaded = self._new(self._revision())
                return self._loaded
            stamp = _stamp(self.path)
            if self._loaded is None or reload or stamp != self._stamp:
                if stamp is None:
                    self._create()
                self._loaded, self._stamp = self._read(), _stamp(self.path)
            return self._loaded

    @staticmethod
    def _new(revision: int) -> _Keys:
        return _Keys({p: [_key(secrets.token_bytes(32))] for p in PURPOSES}, revision)

    def _read(self) -> _Keys:
        path = self.path
        assert path is not None
        try:
            with _open_private(path) as file:
                data = json.load(file)
            versions = {
                p: [Key(str(v["id"]), bytes.fromhex(v["key"])) for v in data[p]] for p in PURPOSES
            }
            after = data.get("audit_keyed_after")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise KeyStoreError(f"cannot read the key file {path}: {exc}") from None
        if any(not v for v in versions.values()) or any(
            key_id(k.secret) != k.id for v in versions.values() for k in v
        ):
            raise KeyStoreError(f"the key file {path} is damaged: a key does not match its id")
        return _Keys(versions, None if after is None else int(after))

    # ------------------------------------------------------------------ making and rotating

    def _create(self) -> None:
        """Make the key file, unless another process made it first (then use theirs)."""
        path = self.path
        assert path is not None
        made = self._new(self._revision())
        with contextlib.suppress(FileExistsError):
            _write_new(path, _dump(made))

    def rotate(self, purpose: str, *, at: datetime | None = None) -> Key:
        """A new key for ``purpose``: the audit key gains a version (the old ones keep
        verifying), the session key is replaced. Only a key file can be rotated."""
        if purpose not in PURPOSES:
            raise KeyStoreError(f"no key {purpose!r}; the keys are {', '.join(PURPOSES)}")
        if self._env is not None:
            raise KeyStoreError(
                f"the keys come from {ENV_SECRET}: put a new secret first in it and keep the "
                "older ones after it (they verify older audit events), then restart"
            )
        self._keys()  # made if missing; raises when there is no place for keys
        new = _key(secrets.token_bytes(32))
        if self.path is None:
            with self._lock:
                assert self._loaded is not None
                self._rotated(self._loaded, purpose, new)
            return new
        with _locked(self.path):
            keys = self._read()
            self._rotated(keys, purpose, new)
            _replace(self.path, _dump(keys))
        self._keys(reload=True)
        return new

    @staticmethod
    def _rotated(keys: _Keys, purpose: str, new: Key) -> None:
        if purpose == AUDIT_KEY:
            keys.versions[purpose].append(new)
        else:
            keys.versions[purpose] = [new]


def _dump(keys: _Keys) -> bytes:
    data: dict[str, Any] = {"format": FORMAT, "created": datetime.now(UTC).isoformat()}
    for purpose, versions in keys.versions.items():
        data[purpose] = [{"id": k.id, "key": k.secret.hex()} for k in versions]
    data["audit_keyed_after"] = keys.keyed_after
    return (json.dumps(data, indent=1) + "\n").encode()


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_ino, found.st_mtime_ns


@contextlib.contextmanager
def _open_private(path: Path) -> Iterator[Any]:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    try:
        mode = os.fstat(fd).st_mode
        if mode & 0o077:
            raise KeyStoreError(
                f"the key file {path} can be read by other users (mode {mode & 0o777:o}); "
                f"make it private with: chmod 600 {path}"
            )
        with os.fdopen(fd, "r", encoding="utf-8") as file:
            fd = -1
            yield file
    finally:
        if fd >= 0:
            os.close(fd)


def _write_private(path: Path, content: bytes) -> Path:
    """``content`` in a new file beside ``path`` made with mode 0600 and ``O_EXCL``."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)
    return temporary


def _write_new(path: Path, content: bytes) -> None:
    """Create ``path`` whole or not at all: written aside, then linked into place, which fails
    when ``path`` exists (raising :class:`FileExistsError`), so no reader sees half a file."""
    try:
        temporary = _write_private(path, content)
    except OSError as exc:
        raise KeyStoreError(f"cannot create the key file {path}: {exc}") from None
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise
    except OSError as exc:
        raise KeyStoreError(f"cannot create the key file {path}: {exc}") from None
    finally:
        temporary.unlink()


def _replace(path: Path, content: bytes) -> None:
    temporary = _write_private(path, content)
    os.replace(temporary, path)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock for a rotation, on ``<key file>.lock`` (the key file itself is
    replaced, so it cannot carry the lock)."""
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
