"""The one retry loop of the client, with the TypeScript SDK's policy (``retry.ts``)."""

from __future__ import annotations

import random
import time
from typing import Callable, Optional, TypeVar

from .errors import is_transient

T = TypeVar("T")

#: Attempts of a retried request, the first included.
ATTEMPTS = 5


def backoff(attempt: int) -> float:
    """Seconds before attempt ``attempt + 1``: exponential, capped at 8 s, jittered so that many
    clients cut off together do not come back together."""
    return min(8.0, 0.25 * 2.0 ** (attempt - 1)) * (0.5 + random.random())


class RetryNow(Exception):
    """Raised by an attempt that fixed what failed (a fresh URL, say) and can go again at once."""

    def __init__(self, reason: BaseException) -> None:
        super().__init__(str(reason))
        self.reason = reason


def with_retries(
    attempt: Callable[[int], T],
    attempts: int = ATTEMPTS,
    retryable: Callable[[BaseException], bool] = is_transient,
    sleep: Optional[Callable[[float], None]] = None,
) -> T:
    """``attempt(n)`` again after a backoff while it fails in a retryable way, at once after a
    RetryNow, until the attempts are spent; then the last failure is raised."""
    pause = sleep or time.sleep
    n = 1
    while True:
        try:
            return attempt(n)
        except RetryNow as err:
            if n >= attempts:
                raise err.reason from None
        except Exception as err:  # noqa: BLE001 - the predicate decides
            if n >= attempts or not retryable(err):
                raise
            pause(backoff(n))
        n += 1
