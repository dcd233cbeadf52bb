"""A wall-clock limit for calls that must never hang (SIGALRM; the main thread only)."""
from __future__ import annotations

import signal
from contextlib import contextmanager


@contextmanager
def time_limit(seconds: int):
    """Raise TimeoutError in the block after ``seconds`` (a hang becomes a failure, not a stuck run)."""
    def hang(*_):
        raise TimeoutError(f"no answer within {seconds} s (a hang)")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
