"""Time for the core, injected: a monotonic clock, a wall clock and timers.

The core never reads the system clock.  Production passes ``ReactorClock``
(zkcompat.net), tests pass ``FakeClock`` and move time with ``advance()``, so
session expiry and TTLs are tested without sleeping and replay exactly.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Callable, Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None:
        """Only while active(): cancelling a timer that ran is an error (Twisted's AlreadyCalled)."""

    def active(self) -> bool: ...


class Clock(Protocol):
    def now_ms(self) -> int:
        """Monotonic milliseconds (session expiry, container and TTL checks)."""

    def wall_ms(self) -> int:
        """Milliseconds since the epoch (txn times: ctime, mtime)."""

    def call_later(self, delay_ms: int, fn: Callable[[], None]) -> TimerHandle: ...


class TimerAlreadyFired(RuntimeError):
    """cancel() of a timer that already ran: a bug, as Twisted's AlreadyCalled says too."""


class _FakeTimer:
    __slots__ = ("when", "fn", "cancelled", "fired")

    def __init__(self, when: int, fn: Callable[[], None]):
        self.when = when
        self.fn = fn
        self.cancelled = False
        self.fired = False

    def active(self) -> bool:
        return not (self.fired or self.cancelled)

    def cancel(self) -> None:
        if self.fired:
            raise TimerAlreadyFired("cancel() of a timer that already fired")
        self.cancelled = True


class FakeClock:
    """A deterministic clock: time moves only when ``advance`` is called."""

    def __init__(self, now_ms: int = 1_000_000, wall_ms: int = 1_700_000_000_000):
        self._now = now_ms
        self._wall_offset = wall_ms - now_ms
        self._timers: list[tuple[int, int, _FakeTimer]] = []
        self._seq = itertools.count()

    def now_ms(self) -> int:
        return self._now

    def wall_ms(self) -> int:
        return self._now + self._wall_offset

    def call_later(self, delay_ms: int, fn: Callable[[], None]) -> _FakeTimer:
        timer = _FakeTimer(self._now + max(0, int(delay_ms)), fn)
        heapq.heappush(self._timers, (timer.when, next(self._seq), timer))
        return timer

    def advance(self, ms: int) -> None:
        """Move time forward by ``ms``, running every timer that falls due, in order."""
        target = self._now + ms
        while self._timers and self._timers[0][0] <= target:
            when, _, timer = heapq.heappop(self._timers)
            self._now = max(self._now, when)
            if not timer.cancelled:
                timer.fired = True
                timer.fn()
        self._now = target

    @property
    def pending(self) -> int:
        return sum(1 for _, _, t in self._timers if not t.cancelled)
