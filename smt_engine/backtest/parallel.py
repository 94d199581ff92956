"""Independent pieces of a backtest (one per source: its scoring and trading) on both cores.

The pieces are pure computations over history already in memory, so forked workers inherit it instead
of receiving it; only the results travel back. Where ``fork`` is unavailable or there is one core,
the pieces run one after the other, with the same results.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Coroutine
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

_JOBS: list[Callable[[], Any]] = []


def _run(index: int) -> Any:
    return _JOBS[index]()


def in_parallel(jobs: list[Callable[[], T]], workers: int | None = None) -> list[T]:
    """Run every job and return their results in order."""
    global _JOBS
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [job() for job in jobs]
    _JOBS = jobs
    try:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            return list(pool.map(_run, range(len(jobs))))
    finally:
        _JOBS = []


def drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits (the backtest venue's calls return at once) without a loop.

    A worker forked from inside a running event loop cannot start one of its own in Python 3.11.
    """
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    coro.close()
    raise RuntimeError("a backtest coroutine waited on something; nothing in a backtest may wait")
