"""Sign-in throttling: per username and per client address, failures past a free allowance lock
the key for a window that doubles with each further failure.

In memory and per process: behind several processes each counts on its own, which still bounds
guessing to a few attempts a minute per process. ``clock`` is replaceable for tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

FREE_FAILURES = 5
FIRST_LOCK = 30.0
MAX_LOCK = 15 * 60.0
FORGET_AFTER = 60 * 60.0


@dataclass
class _Record:
    failures: int = 0
    locked_until: float = 0.0
    last: float = 0.0


class Throttle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._records: dict[tuple[str, str], _Record] = {}
        self._lock = threading.Lock()

    def retry_after(self, keys: Iterable[tuple[str, str]]) -> int:
        """Seconds until these keys may try again (0: now)."""
        now = self.clock()
        with self._lock:
            waits = [
                r.locked_until - now
                for key in keys
                if (r := self._records.get(key)) is not None and r.locked_until > now
            ]
        return int(max(waits) + 0.999) if waits else 0

    def failed(self, keys: Iterable[tuple[str, str]]) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                record = self._records.get(key)
                if record is None or now - record.last > FORGET_AFTER:
                    record = self._records[key] = _Record()
                record.failures += 1
                record.last = now
                over = record.failures - FREE_FAILURES
                if over >= 0:
                    record.locked_until = now + min(FIRST_LOCK * 2**over, MAX_LOCK)
            if len(self._records) > 100_000:  # a flood of names: drop the quiet ones
                stale = [k for k, r in self._records.items() if now - r.last > FORGET_AFTER]
                for key in stale:
                    del self._records[key]

    def succeeded(self, keys: Iterable[tuple[str, str]]) -> None:
        with self._lock:
            for key in keys:
                self._records.pop(key, None)
