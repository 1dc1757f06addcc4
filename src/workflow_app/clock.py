"""The one clock that the app, the engine's timer checks and the scheduler all read.

Production reads the system clock. Tests and the simulator install a `VirtualClock`
and move it forward, so a complaint can be walked through months in milliseconds.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Iterator, Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class VirtualClock:
    """A clock that only moves when told to."""

    def __init__(self, at: datetime) -> None:
        self._at = _aware(at)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = _aware(at)

    def advance(self, delta: timedelta) -> None:
        self._at += delta


_current: Clock = SystemClock()


def now() -> datetime:
    """The current instant, timezone-aware UTC, from whichever clock is installed."""
    return _current.now().astimezone(timezone.utc)


def install(clock: Clock) -> Clock:
    """Install a clock and return the one it replaced."""
    global _current
    previous, _current = _current, clock
    return previous


@contextmanager
def using(clock: Clock) -> Iterator[Clock]:
    previous = install(clock)
    try:
        yield clock
    finally:
        install(previous)


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("a clock needs a timezone-aware instant")
    return at.astimezone(timezone.utc)
