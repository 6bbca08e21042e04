"""A small pool of worker processes for the per-value Python loops of bulk jobs (1M-row imports).

Fernet encryption and the field libraries (phonenumbers, python-stdnum) run in Python once per
value, so threads do not help (the GIL); processes do, on the 2-core target machine. Small
inputs stay in-process: starting a worker costs about a second, more than it saves below
THRESHOLD values, and single rows, forms and tests keep the plain path.

    job = parallel.submit(fn, items, extra_arg)   # fn(chunk, extra_arg) -> list, one per item
    ...                                           # the caller works on while workers run
    results = job.result()                        # in the order of `items`

`fn` must be a module-level function (it is pickled by name) and pure: if a worker fails
(killed, out of memory, cannot start), the same call runs in this process instead.

Workers are plain `python -m lib.core.parallel` subprocesses fed through their stdin/stdout, not
multiprocessing's: multiprocessing re-runs the parent's `__main__` in every worker, and under
Streamlit `__main__` is the page script being rendered. Nothing is forked either (the parent
holds DuckDB connections and threads). A worker imports lib.* afresh and reads settings from
lib.core.config itself (same environment and working directory as the parent).
"""

from __future__ import annotations

import atexit
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable

log = logging.getLogger(__name__)

THRESHOLD = 50_000
WORKERS = max(1, min(2, os.cpu_count() or 1))
# Several chunks per worker: a worker that gets a slower chunk does not hold up the others.
CHUNKS_PER_WORKER = 4
ROOT = Path(__file__).resolve().parents[2]


class WorkerFailed(RuntimeError):
    """A worker process died or could not be started."""


class _Worker:
    def __init__(self):
        path = [str(ROOT)] + [p for p in sys.path if p and p != str(ROOT)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lib.core.parallel"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=dict(os.environ, PYTHONPATH=os.pathsep.join(path)),
        )

    def call(self, fn: Callable, items: list, args: tuple) -> list:
        try:
            pickle.dump((fn, items, args), self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self.proc.stdin.flush()
            ok, value = pickle.load(self.proc.stdout)
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            self.kill()
            raise WorkerFailed(f"worker process {self.proc.pid} failed: {exc!r}") from exc
        if not ok:
            raise value
        return value

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class _Pool:
    """WORKERS subprocesses, each driven by one thread (the threads only wait on pipes)."""

    def __init__(self, n: int):
        self.idle: queue.Queue[_Worker] = queue.Queue()
        self.workers = [_Worker() for _ in range(n)]
        for w in self.workers:
            self.idle.put(w)
        self.threads = ThreadPoolExecutor(n, thread_name_prefix="lib.core.parallel")

    def submit(self, fn: Callable, items: list, args: tuple) -> Future:
        return self.threads.submit(self._run, fn, items, args)

    def _run(self, fn: Callable, items: list, args: tuple) -> list:
        worker = self.idle.get()
        try:
            return worker.call(fn, items, args)
        finally:
            self.idle.put(worker)  # a dead worker fails fast again; the pool gets discarded

    def shutdown(self) -> None:
        self.threads.shutdown(wait=True)
        for w in self.workers:
            w.close()


_pool: _Pool | None = None
_lock = threading.Lock()


def _executor() -> _Pool | None:
    global _pool
    with _lock:
        if _pool is None and WORKERS > 1:
            try:
                _pool = _Pool(WORKERS)
            except OSError as exc:  # no processes allowed here: stay in-process
                log.warning("worker processes unavailable, running in-process: %s", exc)
                return None
        return _pool


def _discard(pool: _Pool) -> None:
    """Forget a failed pool (the next large job starts a new one)."""
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    for w in pool.workers:
        w.kill()
    pool.threads.shutdown(wait=False, cancel_futures=True)


def shutdown() -> None:
    """Stop the workers once their queued work is done (the next large job starts new ones)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown()


atexit.register(shutdown)


class Job:
    """Results of `fn` over a list: computed by workers, or already here."""

    def __init__(
        self,
        fn: Callable,
        items: list,
        args: tuple,
        *,
        done: list | None = None,
        futures: list[Future] | None = None,
        pool: _Pool | None = None,
    ):
        self._fn, self._items, self._args = fn, items, args
        self._done, self._futures, self._pool = done, futures, pool

    def result(self) -> list:
        if self._done is None:
            try:
                self._done = [r for f in self._futures for r in f.result()]
            except WorkerFailed as exc:
                log.warning("%s; finishing in-process", exc)
                _discard(self._pool)
                self._done = list(self._fn(self._items, *self._args))
            self._futures = self._pool = None
        return self._done


def submit(fn: Callable, items, *args, threshold: float | None = None) -> Job:
    """Start `fn(chunk, *args)` over `items` in worker processes when there are at least
    `threshold` (default THRESHOLD) items, else run it now, here; `Job.result()` is the
    concatenated list."""
    items = list(items)
    threshold = THRESHOLD if threshold is None else threshold
    pool = _executor() if items and len(items) >= threshold else None
    if pool is None:
        return Job(fn, items, args, done=list(fn(items, *args)))
    size = -(-len(items) // (WORKERS * CHUNKS_PER_WORKER))
    try:
        futures = [pool.submit(fn, items[i : i + size], args) for i in range(0, len(items), size)]
    except RuntimeError as exc:  # the pool was shut down meanwhile (another session)
        log.warning("worker processes unavailable, running in-process: %r", exc)
        return Job(fn, items, args, done=list(fn(items, *args)))
    return Job(fn, items, args, futures=futures, pool=pool)


def map_list(fn: Callable, items, *args, threshold: float | None = None) -> list:
    """`submit(...).result()`: the same list whether computed by workers or here."""
    return submit(fn, items, *args, threshold=threshold).result()


def _serve() -> None:
    """A worker: read (fn, items, args) from stdin, write (ok, result or exception) to stdout,
    until stdin closes (the parent shut the pool down, or died)."""
    requests = sys.stdin.buffer
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt replies
    while True:
        try:
            fn, items, args = pickle.load(requests)
        except EOFError:
            return
        try:
            reply = (True, fn(items, *args))
        except Exception as exc:  # noqa: BLE001 - the parent re-raises it
            reply = (False, exc)
        try:
            data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001 - an exception that cannot be pickled
            data = pickle.dumps((False, RuntimeError(f"{reply[1]!r} ({exc})")))
        replies.write(data)
        replies.flush()


if __name__ == "__main__":
    _serve()
