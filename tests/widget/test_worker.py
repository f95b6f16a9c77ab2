"""The worker thread: order kept, nothing lost, errors contained, busy/pending reported."""

from __future__ import annotations

import threading

import pytest

from nni_jupyter.annotation.worker import Worker


class Recorder:
    def __init__(self):
        self.finished = []
        self.states = []

    def finish(self, job, result, error):
        self.finished.append((job.item, job.request_id, result, error))

    def state(self, busy, pending):
        self.states.append((busy, pending))


def test_jobs_run_in_order_and_report_busy_and_pending():
    gate = threading.Event()
    recorder = Recorder()
    ran = []

    def run(item):
        if item == 0:
            gate.wait()  # hold the worker so the others queue up
        ran.append(item)
        return item * 10

    worker = Worker(run, recorder.finish, recorder.state)
    futures = [worker.submit(i, request_id=100 + i) for i in range(20)]
    assert not worker.wait_idle(timeout=0.05)
    gate.set()
    assert [f.result(timeout=30) for f in futures] == [i * 10 for i in range(20)]
    assert worker.wait_idle(timeout=30)
    assert ran == list(range(20))
    assert [(item, rid) for item, rid, _, _ in recorder.finished] == [
        (i, 100 + i) for i in range(20)
    ]
    assert max(pending for _, pending in recorder.states) >= 19
    assert recorder.states[-1] == (False, 0)
    worker.stop()


def test_an_error_fails_its_future_only():
    recorder = Recorder()

    def run(item):
        if item == "bad":
            raise ValueError("bad item")
        return item

    worker = Worker(run, recorder.finish, recorder.state)
    bad = worker.submit("bad")
    good = worker.submit("good")
    with pytest.raises(ValueError, match="bad item"):
        bad.result(timeout=30)
    assert good.result(timeout=30) == "good"
    assert isinstance(recorder.finished[0][3], ValueError)
    worker.stop()


def test_a_failing_report_does_not_stop_the_worker():
    def finish(job, result, error):
        if job.item == 1:
            raise RuntimeError("display broke")

    def state(busy, pending):
        raise RuntimeError("trait broke")

    worker = Worker(lambda item: item, finish, state)
    first, second = worker.submit(1), worker.submit(2)
    with pytest.raises(RuntimeError, match="display broke"):
        first.result(timeout=30)
    assert second.result(timeout=30) == 2
    worker.stop()


def test_stop_finishes_queued_jobs_then_refuses_new_ones():
    worker = Worker(lambda item: item, lambda *a: None, lambda *a: None)
    futures = [worker.submit(i) for i in range(5)]
    worker.stop()
    assert [f.result(timeout=0) for f in futures] == list(range(5))
    with pytest.raises(RuntimeError, match="stopped"):
        worker.submit(9)


def test_in_worker_thread():
    seen = []
    worker = Worker(
        lambda item: seen.append(worker.in_worker_thread), lambda *a: None, lambda *a: None
    )
    worker.submit(0).result(timeout=30)
    assert seen == [True] and not worker.in_worker_thread
    worker.stop()
