"""Rate limits per API key and per client address (the `limits` library, counted in this process's memory)."""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import deque

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from pedkb.settings import Settings
from search_api.errors import ApiError

SWEEP_SECONDS = 60.0  # windows with no request left in them are dropped this often (on a request)


class WindowStorage(MemoryStorage):
    """limits' in-memory store with the moving windows kept as one deque of request times per key, trimmed when
    the key is counted, and no thread started per request.

    `MemoryStorage` expires its windows on a timer thread that runs 10 ms after it starts and is started again
    by the next request once it has ended: a server answering a request every 20-40 ms started a thread for nearly
    every search, and starting one waits until the new thread has run, for the GIL (0.27 ms median when idle,
    9 ms at worst beside a busy search). The moving-window strategy reads only `acquire_entry` and
    `get_moving_window`; they keep the library's rule (a request is refused when `limit` requests already fall
    within the last `expiry` seconds) over these deques, which never hold more than `limit` times. A window whose
    last request is older than its expiry is dropped by the next request after SWEEP_SECONDS."""

    def __init__(self) -> None:
        super().__init__()
        self._windows: dict[str, tuple[int, deque[float]]] = {}  # key -> (expiry, request times oldest first)
        self._lock = threading.Lock()
        self._swept = time.monotonic()

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        """Count `amount` requests under `key` unless `limit` would be passed within the last `expiry` seconds."""
        if amount > limit:
            return False
        with self._lock:
            now = time.time()
            if time.monotonic() - self._swept >= SWEEP_SECONDS:
                self._sweep(now)
            times = self._trimmed(key, expiry, now)
            if len(times) + amount > limit:
                return False
            times.extend([now] * amount)
            return True

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        """(time of the oldest request within the window, requests within it); (now, 0) for an empty window."""
        with self._lock:
            now = time.time()
            times = self._trimmed(key, expiry, now)
            return (times[0], len(times)) if times else (now, 0)

    def clear(self, key: str) -> None:
        """Forget the key's counts."""
        with self._lock:
            self._windows.pop(key, None)
        super().clear(key)

    def reset(self) -> int | None:
        """Forget every count; the number of keys there were."""
        with self._lock:
            windows = len(self._windows)
            self._windows.clear()
        return max(windows, super().reset() or 0)

    def _trimmed(self, key: str, expiry: int, now: float) -> deque[float]:
        """The key's request times within the last `expiry` seconds (older ones dropped)."""
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = (expiry, deque())
        times = window[1]
        while times and times[0] < now - expiry:
            times.popleft()
        return times

    def _sweep(self, now: float) -> None:
        self._windows = {key: (expiry, times) for key, (expiry, times) in self._windows.items()
                         if times and times[-1] >= now - expiry}
        self._swept = time.monotonic()


class RateLimits:
    """The limits of one app: `check` counts a request and answers 429 with Retry-After once a limit is reached."""

    def __init__(self, settings: Settings) -> None:
        self.limiter = MovingWindowRateLimiter(WindowStorage())
        self.anonymous = {"search": _items(settings.rate_limit_search),
                          "analysis": _items(settings.rate_limit_analysis),
                          "key_failures": _items(settings.rate_limit_key_failures)}
        self.keyed = {"search": _items(settings.rate_limit_search_key),
                      "analysis": _items(settings.rate_limit_analysis_key)}

    def check(self, scope: str, address: str, key: str | None = None) -> None:
        """Count one request of `scope` from `address`, or from a valid `key` (which has its own, higher limit)."""
        if key is not None:
            self._hit(self.keyed[scope], scope, "key", hashlib.sha256(key.encode()).hexdigest()[:24])
        else:
            self._hit(self.anonymous[scope], scope, "address", address)

    def _hit(self, items: list[RateLimitItem], *identifiers: str) -> None:
        for item in items:
            if not self.limiter.hit(item, *identifiers):
                reset = self.limiter.get_window_stats(item, *identifiers).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                raise ApiError(429, "rate_limited", headers={"Retry-After": str(wait)}, limit=str(item),
                               seconds=wait)


def _items(notation: str) -> list[RateLimitItem]:
    return parse_many(notation) if notation else []
