"""A first engine holding a database's lock from another process, for the lock and identity tests."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from smt_engine.store import EngineLock


@contextlib.contextmanager
def engine_holding(db: Path) -> Iterator[int]:
    """Yield the pid of a child process holding ``EngineLock(db)`` until the block ends.

    Forked rather than started as a new interpreter: the child is ready in milliseconds, so a test's
    time is its own (mutmut budgets a mutant's run by its tests' own durations, which leave fixture
    set-up out; an interpreter start per test made slow runs count as timeouts)."""
    ready_r, ready_w = os.pipe()
    stop_r, stop_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the holder: take the lock, say so, wait for the end of the test; never return
        code = 1
        try:
            os.close(ready_r)
            os.close(stop_w)
            lock = EngineLock(db)  # kept: its socket closes with it
            lock.acquire()
            os.write(ready_w, b"held")
            os.read(stop_r, 1)  # end of file when the test closes its end
            code = 0
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(stop_r)
    try:
        assert os.read(ready_r, 4) == b"held", "the first engine could not take the lock"
        yield pid
    finally:
        os.close(stop_w)
        os.waitpid(pid, 0)  # its flocks and socket name go with it
        os.close(ready_r)
