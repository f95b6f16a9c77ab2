"""Training examples made in worker processes, for a phase on a machine with many cores and a
GPU: the workers render synthetic volumes and simulate users while the GPU trains.

Each worker runs ``factory(*args)``, an endless iterator of ``(x, y)`` tensors, in a process of
its own (spawned, one thread each: a CUDA context in the trainer must not be forked), and puts
the examples on one queue the trainer takes batches from.
"""

from __future__ import annotations

import queue as queue_module
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.multiprocessing as mp

Example = tuple[torch.Tensor, torch.Tensor]


def _run(factory: Callable[..., Iterator[Example]], args: tuple, examples: Any) -> None:
    torch.set_num_threads(1)
    for example in factory(*args):
        examples.put(example)


class ExampleWorkers:
    """Worker processes filling a queue with training examples; a context manager.

    Parameters
    ----------
    factory
        A module-level function (spawned processes import it by name) returning an endless
        iterator of ``(x, y)``.
    worker_args
        One argument tuple per worker.
    depth
        Examples each worker may have waiting.
    """

    def __init__(
        self, factory: Callable[..., Iterator[Example]], worker_args: list[tuple], depth: int = 4
    ):
        context = mp.get_context("spawn")
        self._examples = context.Queue(maxsize=max(1, depth * len(worker_args)))
        self._processes = [
            context.Process(target=_run, args=(factory, args, self._examples), daemon=True)
            for args in worker_args
        ]
        for process in self._processes:
            process.start()

    def take(self, count: int, timeout_s: float = 600.0) -> list[Example]:
        """The next ``count`` examples, waiting for them.

        Raises
        ------
        RuntimeError
            When every worker has died, or none gave an example within ``timeout_s``.
        """
        taken: list[Example] = []
        while len(taken) < count:
            try:
                taken.append(self._examples.get(timeout=timeout_s))
            except queue_module.Empty as error:
                alive = sum(p.is_alive() for p in self._processes)
                raise RuntimeError(
                    f"no training example in {timeout_s:.0f} s ({alive} of "
                    f"{len(self._processes)} workers alive); see the workers' errors above"
                ) from error
        return taken

    def close(self) -> None:
        """Stop the workers."""
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.join(timeout=10)

    def __enter__(self) -> ExampleWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
