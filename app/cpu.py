"""CPU-heavy steps off the event loop: a job's model fit runs in a thread of the `job-cpu` pool
(`run_cpu`), so an in-process worker never stalls the API's event loop. A thread cannot be
interrupted: a stopping worker process asks `cpu_steps_running` whether one is still going (see
app/__main__.py). Services call it; the worker asks it; neither imports the other for it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")

# CPU steps submitted and not yet ended.
_CPU_STEPS: set[concurrent.futures.Future[Any]] = set()
_CPU_POOL: concurrent.futures.ThreadPoolExecutor | None = None


async def run_cpu(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a CPU-heavy step (numpy/scipy release the GIL) off the event loop, in a thread of the
    `job-cpu` pool (sized like asyncio's default executor). Cancelling the caller drops a step
    that has not started; one that has runs to its end in its thread."""
    global _CPU_POOL
    if _CPU_POOL is None:
        _CPU_POOL = concurrent.futures.ThreadPoolExecutor(thread_name_prefix="job-cpu")
    step = _CPU_POOL.submit(contextvars.copy_context().run, partial(function, *args, **kwargs))
    _CPU_STEPS.add(step)
    step.add_done_callback(_CPU_STEPS.discard)  # done: ended, raised, or cancelled before it started
    return await asyncio.wrap_future(step)


def cpu_steps_running() -> bool:
    """Whether a CPU step (`run_cpu`) is still running or waiting for a thread."""
    return any(not step.done() for step in list(_CPU_STEPS))
