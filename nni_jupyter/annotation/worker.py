"""A worker thread that runs jobs one at a time, in submission order, off the kernel's main thread.

Jobs from the browser and from Python share one queue, so they run in the order they arrived and
none is lost; the main thread stays free to answer slice requests while the model computes. Each job
gets a :class:`concurrent.futures.Future`; its exception never reaches the thread's top level, so a
bad job cannot stop the worker.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


@dataclass
class Job(Generic[ItemT, ResultT]):
    """One unit of work: the item, who asked (``request_id`` None = Python) and its future."""

    item: ItemT
    request_id: int | None = None
    future: Future[ResultT] = field(default_factory=Future)


class Worker(Generic[ItemT, ResultT]):
    """Run ``run(item)`` for each submitted item on one daemon thread.

    Parameters
    ----------
    run
        Does the work; its return value becomes the job's result.
    on_finish
        Called on the worker thread after every job, with the job and its result or exception
        (exactly one of them is None), before the job's future completes and the next job starts.
    on_state
        Called with ``(busy, pending)`` whenever either changes: ``busy`` while a job runs or waits,
        ``pending`` the number of jobs waiting (not counting the running one).
    """

    def __init__(
        self,
        run: Callable[[ItemT], ResultT],
        on_finish: Callable[[Job[ItemT, ResultT], ResultT | None, BaseException | None], None],
        on_state: Callable[[bool, int], None],
        name: str = "nni_jupyter-worker",
    ):
        self._run = run
        self._on_finish = on_finish
        self._on_state = on_state
        self._queue: queue.Queue[Job[ItemT, ResultT] | None] = queue.Queue()  # None: stop
        self._lock = threading.Lock()
        # reports read the counters and call on_state under one lock: the last report is current
        self._report_lock = threading.RLock()
        self._waiting = 0
        self._running = False
        self._idle = threading.Condition(self._lock)
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    @property
    def in_worker_thread(self) -> bool:
        """True when called from the worker thread itself (e.g. inside an observer)."""
        return threading.current_thread() is self._thread

    def submit(self, item: ItemT, request_id: int | None = None) -> Future[ResultT]:
        """Queue ``item``; return the future of its result."""
        if not self._thread.is_alive():
            raise RuntimeError("the worker has stopped (the widget was closed); create a new one")
        job: Job[ItemT, ResultT] = Job(item, request_id)
        with self._lock:
            self._waiting += 1
        self._queue.put(job)
        self._report()
        return job.future

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job runs or waits; return False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._waiting and not self._running, timeout)

    def stop(self) -> None:
        """Let queued jobs finish, then end the thread."""
        if self._thread.is_alive():
            self._queue.put(None)
            if not self.in_worker_thread:
                self._thread.join()

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            with self._lock:
                self._waiting -= 1
                self._running = True
            self._report()
            result: ResultT | None = None
            error: BaseException | None = None
            try:
                result = self._run(job.item)
            except BaseException as exc:  # noqa: BLE001 - reported through the future
                error = exc
            try:
                self._on_finish(job, result, error)
            except BaseException as exc:  # noqa: BLE001 - a failing report must not stop the worker
                error = error or exc
            with self._lock:
                self._running = False
            self._report()
            if error is None:
                job.future.set_result(cast(ResultT, result))  # run() returned it
            else:
                job.future.set_exception(error)
            with self._idle:
                self._idle.notify_all()

    def _report(self) -> None:
        with self._report_lock:
            with self._lock:
                busy, pending = self._running or self._waiting > 0, self._waiting
            try:
                self._on_state(busy, pending)
            except Exception:  # noqa: BLE001 - a state display must not stop the worker
                pass
