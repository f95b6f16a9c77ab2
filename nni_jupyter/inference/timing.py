"""Where a prompt's time goes: named spans, recorded only while a :func:`recording` is open.

The session's steps are wrapped in :func:`span`; with no recording open that is one global lookup
and a shared no-op context, so the timers cost nothing measurable in normal use. Benchmarks open a
recording around a prompt and read the seconds per step (``bench/session_latency.py``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch


@dataclass
class Recorder:
    """Seconds spent per step name, in the order the steps first ran.

    Attributes
    ----------
    sync
        Called before each clock reading (``torch.cuda.synchronize`` on CUDA, so a span holds the
        work it queued); None on CPU.
    seconds, counts
        Total time and number of runs per step name.
    """

    sync: Callable[[], None] | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def _now(self) -> float:
        if self.sync is not None:
            self.sync()
        return time.perf_counter()

    @contextlib.contextmanager
    def span(self, name: str) -> Iterator[None]:
        """Add the time spent inside to step ``name``."""
        start = self._now()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + self._now() - start
            self.counts[name] = self.counts.get(name, 0) + 1


_ACTIVE: Recorder | None = None
_OFF = contextlib.nullcontext()


def span(name: str) -> contextlib.AbstractContextManager[None]:
    """Time the block as step ``name`` when a recording is open; otherwise do nothing."""
    recorder = _ACTIVE
    return _OFF if recorder is None else recorder.span(name)


@contextlib.contextmanager
def recording(device: torch.device | str = "cpu") -> Iterator[Recorder]:
    """Record the spans run inside (one recording at a time, process-wide)."""
    global _ACTIVE
    device = torch.device(device)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else None
    recorder = Recorder(sync)
    previous, _ACTIVE = _ACTIVE, recorder
    try:
        yield recorder
    finally:
        _ACTIVE = previous
