"""The clock that the app, the engine's timer checks and the scheduler all read.

Production reads the system clock. A run that needs another time (Try it, the
simulator, the demo history, a rehearsal with `WORKFLOW_APP_NOW`, a test) sets its own
clock with `using(...)` for the code it runs: the clock lives in a context variable, so
it belongs to that run alone. Every other thread, the timer sweep included, keeps
reading the real time (a new thread starts with the system clock).
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


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


SYSTEM = SystemClock()
_current: ContextVar[Clock] = ContextVar("workflow_app_clock", default=SYSTEM)


def now() -> datetime:
    """The current instant, timezone-aware UTC, from this context's clock."""
    return _current.get().now().astimezone(UTC)


def current() -> Clock:
    """This context's clock (the system clock unless a run set its own)."""
    return _current.get()


def enter(clock: Clock) -> Token:
    """Read `clock` in this context from now on, until `leave` with the token returned."""
    return _current.set(clock)


def leave(token: Token) -> None:
    _current.reset(token)


@contextmanager
def using(clock: Clock) -> Iterator[Clock]:
    """Read `clock` in this context (this thread, this request) until the block ends."""
    token = enter(clock)
    try:
        yield clock
    finally:
        leave(token)


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("a clock needs a timezone-aware instant")
    return at.astimezone(UTC)
