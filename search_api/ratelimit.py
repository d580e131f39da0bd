"""Rate limits per API key and per client address (the `limits` library, counted in this process's memory)."""

from __future__ import annotations

import hashlib
import math
import time

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from pedkb.settings import Settings
from search_api.errors import ApiError


class RateLimits:
    """The limits of one app: `check` counts a request and answers 429 with Retry-After once a limit is reached."""

    def __init__(self, settings: Settings) -> None:
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
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
