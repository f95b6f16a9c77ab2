"""Run one task per case on a Dask cluster, with the model loaded once per worker.

Shared by :meth:`nni_jupyter.Study.replay` and :func:`nni_jupyter.evaluation.run_dataset`. No
cluster code of our own: any ``dask.distributed.Client`` works (dask-gateway, dask-jobqueue,
dask-cuda, dask-kubernetes); ``client=None`` starts an embedded ``LocalCluster`` that listens on
127.0.0.1 only and is closed after the run.

A worker process that dies mid-task (killed, out of memory) is replaced by its nanny and the
scheduler reruns its tasks elsewhere, up to ``distributed.scheduler.allowed-failures`` times. Task
functions here never raise (a bad case becomes an error row), so ``retries=`` would have nothing
to retry; a task that still fails, e.g. after too many worker deaths, becomes ``failed(...)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from ._version import __version__
from .inference.precision import AUTO, FP32, SUPPORTED_DEVICES
from .weights import load_session

try:
    from distributed import Client, LocalCluster, WorkerPlugin, get_worker, wait
except ModuleNotFoundError as error:
    raise ModuleNotFoundError(
        f"running cases on Dask needs dask and distributed ({error.name} is missing); install "
        "them with pip install 'nni_jupyter[cluster]'",
        name=error.name,
    ) from error


PLUGIN_NAME = "nni_jupyter-model"
R = TypeVar("R")


class ModelPlugin(WorkerPlugin):
    """Loads a model folder once per Dask worker, on the worker's device, and makes sessions
    that share its network."""

    name = PLUGIN_NAME

    def __init__(self, folder: str, device: Any = "auto", torch_threads: int | None = None):
        self.folder = folder
        self.device = device
        self.torch_threads = torch_threads
        self.threads = 1
        self._keeper: Any = None

    def setup(self, worker: Any) -> None:
        """Load the network (kept while the worker lives); torch gets ``torch_threads``
        threads, by default as many as the worker has."""
        nthreads = int(getattr(getattr(worker, "state", None), "nthreads", 1))
        self.load(self.torch_threads or nthreads)

    def load(self, threads: int) -> None:
        """Load the network for sessions of ``threads`` torch threads (also outside Dask)."""
        self.threads = max(1, threads)
        self._keeper = self.session(autozoom=False)

    def teardown(self, worker: Any) -> None:
        """Let the network go."""
        self._keeper = None

    def session(self, autozoom: bool, precision: str | None = None) -> Any:
        """A fresh session on the loaded network (one per image: sessions hold an image).

        ``precision``: the one a prompt log recorded, so a replay computes as the annotation
        did (exactly, on the same kind of device); None, or one this device lacks: ``"auto"``.
        """
        device = getattr(self._keeper, "device", None)
        kind = getattr(device, "type", None)
        usable = precision == FP32 or (kind is not None and kind in SUPPORTED_DEVICES.get(
            str(precision), ()))  # fmt: skip
        return load_session(
            self.folder,
            self.device,
            download=False,
            show_license=None,
            do_autozoom=autozoom,
            enable_undo=False,
            torch_n_threads=self.threads,
            precision=str(precision) if usable else AUTO,
        )

    def settings(self, autozoom: bool) -> dict[str, Any]:
        """What besides the prompts and the weights shapes this worker's output."""

        device = getattr(self._keeper, "device", None)
        return {
            "autozoom": bool(autozoom),
            "precision": str(getattr(self._keeper, "precision", "unknown")),
            "device": getattr(device, "type", str(device)),
            "nni_jupyter_version": __version__,
        }


def worker_model() -> ModelPlugin:
    """The :class:`ModelPlugin` of the Dask worker running the current task."""
    return cast(ModelPlugin, get_worker().plugins[PLUGIN_NAME])


def local_client(tasks: int) -> Client:
    """A client of a new ``LocalCluster`` on 127.0.0.1 (scheduler and dashboard): one
    single-threaded worker process per core, at most one per task."""
    workers = max(1, min(tasks, os.cpu_count() or 1))
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    )
    return Client(cluster)


def run_per_case(
    task: Callable[..., R],
    calls: Sequence[tuple[Any, ...]],
    keys: Sequence[str],
    *,
    model_folder: str,
    device: Any,
    client: Client | None,
    progress: bool,
    failed: Callable[[int, str], R],
    torch_threads: int | None = None,
) -> list[R]:
    """``task(*call)`` for every call, one Dask task each, with the model plugin registered.

    ``keys`` name the tasks (unique per run). A task that fails outside ``task`` itself (its
    worker died too often) gives ``failed(index, message)``. Results come back in call order.
    """
    if not calls:
        return []
    own = client is None
    if client is None:
        client = local_client(len(calls))
    try:
        plugin = ModelPlugin(model_folder, device, torch_threads)
        client.register_plugin(plugin, name=PLUGIN_NAME)
        futures = [
            client.submit(task, *call, key=key, pure=False)
            for call, key in zip(calls, keys, strict=True)
        ]
        _follow(futures, progress)
        wait(futures)
        results = []
        for index, future in enumerate(futures):
            if future.status == "finished":
                results.append(future.result())
            else:
                error = future.exception()
                results.append(failed(index, f"{type(error).__name__}: {error}"))
        return results
    finally:
        if own:
            cluster = client.cluster
            client.close()
            cluster.close()


def _follow(futures: list[Any], progress: bool) -> None:
    """Show progress: Dask's widget in a notebook kernel, tqdm in a terminal."""
    if not progress:
        return
    from distributed import as_completed
    from distributed.utils import is_kernel

    if is_kernel():
        from distributed import progress as dask_progress
        from IPython.display import display

        display(dask_progress(futures, multi=False))  # a widget that updates while we wait
        return
    try:
        from tqdm.auto import tqdm  # type: ignore[import-untyped]
    except ImportError:
        from distributed import progress as dask_progress

        dask_progress(futures)  # a text bar; blocks until done
        return
    with tqdm(total=len(futures), unit="case") as bar:
        for _ in as_completed(futures):
            bar.update()
