"""Password guessing and password hashing, bounded.

Every login attempt costs an argon2 hash (64 MiB and tens of milliseconds), so the dashboard
both slows guessing down and bounds the hashing it does at once:

- `Backoff`: the `free`-th failed login for one key (an account name, or a client address)
  closes that key for `base_s`, and each further failure for twice as long as the one before
  (1 s, 2 s, 4 s, ... up to `max_s`); while it is closed, a login is answered 429 with
  Retry-After and no password is checked. A correct password opens its account again; an
  address is only forgotten `forget_s` after its last failure (one valid account must not
  reset a guesser's count).
- `HashGate`: at most `slots` hashes run at once and at most `waiting` requests wait for one;
  anything beyond is answered 503 with Retry-After at once instead of taking memory.

`LoginGuard.check` puts them together for the API's and the pages' logins. Counts live in the
serving process (one per dashboard), bounded to `MAX_KEYS` keys each.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa

from dashboard import auth

log = logging.getLogger(__name__)
MAX_KEYS = 10_000


class Refused(Exception):
    """A login not tried: `status` 429 (too many failures) or 503 (too many hashes at once)."""

    def __init__(self, status: int, retry_after_s: int, reason: str):
        super().__init__(reason)
        self.status, self.retry_after_s, self.reason = status, retry_after_s, reason


@dataclass
class _Record:
    failures: int = 0
    closed_until: float = 0.0
    last_failure: float = 0.0


@dataclass
class Backoff:
    """Failures per key and when the key opens again (times from `clock`, in seconds)."""

    free: int
    base_s: float = 1.0
    max_s: float = 900.0
    forget_s: float = 900.0
    clock: Callable[[], float] = time.monotonic
    _records: OrderedDict[str, _Record] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def retry_after_s(self, key: str) -> float:
        """Seconds until `key` may try again (0: now)."""
        with self._lock:
            record = self._records.get(key)
            return max(0.0, record.closed_until - self.clock()) if record else 0.0

    def failed(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            self._forget_old(now)
            record = self._records.pop(key, None) or _Record()
            record.failures += 1
            record.last_failure = now
            beyond = record.failures - self.free
            if beyond >= 0:
                record.closed_until = now + min(self.max_s, self.base_s * 2 ** min(beyond, 30))
            self._records[key] = record  # newest last
            while len(self._records) > MAX_KEYS:
                self._records.popitem(last=False)

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._records.pop(key, None)

    def _forget_old(self, now: float) -> None:
        while self._records:
            key, oldest = next(iter(self._records.items()))
            if now - oldest.last_failure < self.forget_s or oldest.closed_until > now:
                return
            del self._records[key]


class HashGate:
    """At most `slots` password hashes at once, at most `waiting` requests queued for one."""

    def __init__(self, slots: int = 2, waiting: int = 8, wait_s: float = 10.0):
        self._slots = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._queued = 0
        self.waiting, self.wait_s = waiting, wait_s

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._lock:
            if self._queued >= self.waiting:
                raise Refused(503, 1, "too many logins at once; try again in a second")
            self._queued += 1
        try:
            acquired = self._slots.acquire(timeout=self.wait_s)
        finally:
            with self._lock:
                self._queued -= 1
        if not acquired:
            raise Refused(503, 1, "too many logins at once; try again in a second")
        try:
            yield
        finally:
            self._slots.release()


class LoginGuard:
    """Per-account and per-address backoff around a bounded password check."""

    def __init__(
        self,
        account: Backoff | None = None,
        address: Backoff | None = None,
        gate: HashGate | None = None,
    ):
        self.account = account or Backoff(free=5)
        self.address = address or Backoff(free=20)
        self.gate = gate or HashGate()

    def check(self, conn: sa.Connection, name: str, password: str, address: str) -> auth.Principal | None:
        """The user if the password is right, None if not; raises `Refused` (429 or 503) when
        the account or the address must wait, or the hashing is full."""
        account_key, address_key = name.casefold(), address
        wait_s = max(self.account.retry_after_s(account_key), self.address.retry_after_s(address_key))
        if wait_s > 0:
            retry_s = math.ceil(wait_s)
            raise Refused(429, retry_s, f"too many failed logins; try again in {retry_s} s")
        with self.gate.slot():
            user = auth.authenticate(conn, name, password)
        if user is None:
            for kind, backoff, key in (
                ("account", self.account, account_key),
                ("address", self.address, address_key),
            ):
                backoff.failed(key)
                if (closed_s := backoff.retry_after_s(key)) > 0:
                    log.warning("login: %s %r closed for %.0f s after repeated failures", kind, key, closed_s)
        else:
            self.account.succeeded(account_key)
        return user

    @contextmanager
    def hashing(self) -> Iterator[None]:
        """A hash slot for other password work (a password change)."""
        with self.gate.slot():
            yield
