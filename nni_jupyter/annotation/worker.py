"""A worker thread that runs jobs one at a time, in submission order, off the kernel's main thread.

Jobs from the browser and from Python share one queue, so they run in the order they arrived and
none is lost; the main thread stays free to answer slice requests while the model computes. Each job
gets a :class:`concurrent.futures.Future`; its exception never reaches the thread's top level, so a
bad job cannot stop the worker.

The thread exists only while there is work: it starts with the first job and ends after
:data:`IDLE_SECONDS` without one, so an annotation left open (a script that never closes it, a cell
that opens ten cases) keeps no thread, and one nobody references can be freed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, TypeVar, cast

#: How long a worker thread waits for the next job before it ends (a new job starts another).
IDLE_SECONDS = 2.0

ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


@dataclass
class Job(Generic[ItemT, ResultT]):
    """One unit of work: the item, who asked (``request_id`` None = Python) and its future."""

    item: ItemT
    request_id: int | None = None
    future: Future[ResultT] = field(default_factory=Future)


class Worker(Generic[ItemT, ResultT]):
    """Run ``run(item)`` for each submitted item, in order, on one daemon thread at a time.

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
        self._name = name
        self._queue: queue.Queue[Job[ItemT, ResultT] | None] = queue.Queue()  # None: wake to end
        self._lock = threading.Lock()
        # reports read the counters and call on_state under one lock: the last report is current
        self._report_lock = threading.RLock()
        self._waiting = 0
        self._running = False
        self._stopped = False
        self._idle = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None

    @property
    def in_worker_thread(self) -> bool:
        """True when called from the worker thread itself (e.g. inside an observer)."""
        return self._thread is not None and threading.current_thread() is self._thread

    @property
    def thread(self) -> threading.Thread | None:
        """The thread running jobs now, or None while there is no work."""
        return self._thread

    def submit(self, item: ItemT, request_id: int | None = None) -> Future[ResultT]:
        """Queue ``item``; return the future of its result.

        Raises
        ------
        RuntimeError
            After :meth:`stop` (the annotation was closed).
        """
        job: Job[ItemT, ResultT] = Job(item, request_id)
        with self._lock:
            if self._stopped:
                raise RuntimeError("the worker has stopped (it was closed); create a new one")
            self._waiting += 1
            self._queue.put(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
                self._thread.start()
        self._report()
        return job.future

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no job runs or waits; return False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._waiting and not self._running, timeout)

    def stop(self, timeout: float | None = None) -> bool:
        """Refuse new jobs, let queued ones finish for up to ``timeout`` seconds (None: as long
        as they take), then cancel those still waiting; return True when no job is left running.

        A job still running after the bound goes on in its daemon thread; its result is dropped.
        """
        with self._lock:
            self._stopped = True
        finished = self.in_worker_thread or self.wait_idle(timeout)
        with self._lock:
            while not self._queue.empty():
                job = self._queue.get_nowait()
                if job is not None:
                    self._waiting -= 1
                    job.future.cancel()
            self._queue.put(None)  # an idle thread ends now, not after IDLE_SECONDS
            self._idle.notify_all()
        self._report()
        thread = self._thread
        if finished and thread is not None and not self.in_worker_thread:
            thread.join(timeout)
        return finished

    def _next(self) -> Job[ItemT, ResultT] | None:
        """The next job, or None when the thread should end (idle too long, or stopped)."""
        while True:
            try:
                job = self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                job = None
            with self._lock:
                if job is not None:
                    return job
                if self._queue.empty() or self._stopped:
                    self._thread = None
                    return None

    def _loop(self) -> None:
        while (job := self._next()) is not None:
            with self._lock:
                self._waiting -= 1
                self._running = True
            self._report()
            result, error = self._do(job)
            with self._lock:
                self._running = False
            self._report()
            if error is None:
                job.future.set_result(cast(ResultT, result))  # run() returned it
            else:
                job.future.set_exception(error)
            with self._idle:
                self._idle.notify_all()

    def _do(self, job: Job[ItemT, ResultT]) -> tuple[ResultT | None, BaseException | None]:
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
        return result, error

    def _report(self) -> None:
        with self._report_lock:
            with self._lock:
                busy, pending = self._running or self._waiting > 0, self._waiting
            try:
                self._on_state(busy, pending)
            except Exception:  # noqa: BLE001 - a state display must not stop the worker
                pass
