"""The index's pseudonym -> username map, kept compact.

The change feed names users by pseudonym (:mod:`rolecall.core.storage.subjects`), and an index
following it must find a user under the name it holds, erased since or not: so it keeps every
user's pseudonym. A pseudonym as rolecall makes it (``user/`` and 20 lowercase hex digits) is
held as its 10 bytes in one sorted buffer, beside a list of the names: 18 bytes a user instead
of a string and a dict entry (about 100). Pseudonyms added since the last :meth:`compact`, and
any of another form, wait in a plain dict, merged into the buffer once it grows.

A look-up searches only the buffer's entries that share the pseudonym's first bits (random
digits, so about ``PER_BUCKET`` of them): a few steps at any size, where a search of the whole
buffer took twenty at a million users and made adding users the slower the more there were.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping

PREFIX = "user/"
WIDTH = 10
"""Bytes of a compact pseudonym (20 hex digits)."""
MERGE_AT = 4096
"""Pseudonyms waiting in the dict before they are merged (or as many as the buffer holds)."""
PER_BUCKET = 8
"""About how many compact pseudonyms share a bucket (up to 65,536 buckets: 16 bits)."""


def _packed(pseudonym: str) -> bytes | None:
    """The 10 bytes of a pseudonym of rolecall's form, or None for any other string."""
    if len(pseudonym) != len(PREFIX) + 2 * WIDTH or not pseudonym.startswith(PREFIX):
        return None
    digits = pseudonym[len(PREFIX) :]
    try:
        packed = bytes.fromhex(digits)
    except ValueError:
        return None
    return packed if packed.hex() == digits else None  # lowercase only: it must read back


class Pseudonyms(Mapping[str, str]):
    """pseudonym -> username; a plain mapping to read, changed by item assignment and ``del``."""

    __slots__ = ("_count", "_extra", "_keys", "_names", "_shift", "_starts")

    def __init__(self) -> None:
        self._keys = b""
        """The compact pseudonyms, sorted, ``WIDTH`` bytes each."""
        self._names: list[str | None] = []
        """The username of each compact pseudonym (None: removed since the merge)."""
        self._extra: dict[str, str] = {}
        self._count = 0
        self._shift = 16
        """A pseudonym's bucket is its first 16 bits shifted right by this."""
        self._starts = array("I", (0, 0))
        """Where each bucket's entries start in the buffer (one more: the end)."""

    def _find(self, packed: bytes) -> int:
        keys, starts = self._keys, self._starts
        bucket = (packed[0] << 8 | packed[1]) >> self._shift
        lo, hi = starts[bucket], starts[bucket + 1]
        while lo < hi:
            mid = (lo + hi) // 2
            if keys[mid * WIDTH : mid * WIDTH + WIDTH] < packed:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(self._names) and keys[lo * WIDTH : lo * WIDTH + WIDTH] == packed:
            return lo
        return -1

    def _at(self, pseudonym: str) -> int:
        packed = _packed(pseudonym)
        return -1 if packed is None or not self._names else self._find(packed)

    def __getitem__(self, pseudonym: str) -> str:
        found = self._extra.get(pseudonym)
        if found is not None:
            return found
        at = self._at(pseudonym)
        name = self._names[at] if at >= 0 else None
        if name is None:
            raise KeyError(pseudonym)
        return name

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[str]:
        keys = self._keys
        for at, name in enumerate(self._names):
            if name is not None:
                yield PREFIX + keys[at * WIDTH : at * WIDTH + WIDTH].hex()
        yield from list(self._extra)

    def __setitem__(self, pseudonym: str, username: str) -> None:
        if pseudonym in self._extra:
            self._extra[pseudonym] = username
            return
        at = self._at(pseudonym)
        if at >= 0:
            if self._names[at] is None:
                self._count += 1
            self._names[at] = username
            return
        self._extra[pseudonym] = username
        self._count += 1
        if len(self._extra) > max(MERGE_AT, len(self._names)):
            self.compact()

    def __delitem__(self, pseudonym: str) -> None:
        if self._extra.pop(pseudonym, None) is not None:
            self._count -= 1
            return
        at = self._at(pseudonym)
        if at < 0 or self._names[at] is None:
            raise KeyError(pseudonym)
        self._names[at] = None
        self._count -= 1

    def of(self, username: str) -> str | None:
        """The pseudonym held for ``username``, if any (a scan: for the rare erasure)."""
        for pseudonym, name in self._extra.items():
            if name == username:
                return pseudonym
        try:
            at = self._names.index(username)
        except ValueError:
            return None
        return PREFIX + self._keys[at * WIDTH : at * WIDTH + WIDTH].hex()

    def load(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Add many (pseudonym, username) pairs, each pseudonym once (an index's build from
        the users' table, where pseudonyms are unique): into an empty map they are packed and
        sorted once, where adding them one by one searched the buffer for each and merged it
        again each time it doubled. Into a map holding some, one by one."""
        if self._count:
            for pseudonym, username in pairs:
                self[pseudonym] = username
            return
        held: list[tuple[bytes, str]] = []
        for pseudonym, username in pairs:
            packed = _packed(pseudonym)
            if packed is None:
                self._extra[pseudonym] = username
            else:
                held.append((packed, username))
            self._count += 1
        self._fill(held)

    def compact(self) -> None:
        """Merge the waiting pseudonyms of rolecall's form into the buffer."""
        keys = self._keys
        held: list[tuple[bytes, str]] = [
            (keys[at * WIDTH : at * WIDTH + WIDTH], name)
            for at, name in enumerate(self._names)
            if name is not None
        ]
        other: dict[str, str] = {}
        for pseudonym, name in self._extra.items():
            packed = _packed(pseudonym)
            if packed is None:
                other[pseudonym] = name
            else:
                held.append((packed, name))
        self._extra = other
        self._fill(held)

    def _fill(self, held: list[tuple[bytes, str]]) -> None:
        """Make the buffer of ``held`` (packed pseudonym, username) and its buckets."""
        held.sort(key=lambda entry: entry[0])
        self._keys = b"".join(packed for packed, _ in held)
        self._names = [name for _, name in held]
        bits = min(16, max(0, (len(held) // PER_BUCKET).bit_length()))
        self._shift = shift = 16 - bits
        firsts = [(packed[0] << 8 | packed[1]) >> shift for packed, _ in held]
        self._starts = array("I", (bisect_left(firsts, b) for b in range((1 << bits) + 1)))
