"""Turn failures of the inference session into messages a user can act on.

Out of memory on the GPU (``torch.cuda.OutOfMemoryError``, or a ``RuntimeError`` saying "out of
memory" from other backends) becomes a :class:`PredictionOutOfMemory` with a hint; the session
rolls back the prompt itself (it is one atomic step), so it stays usable.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

OOM_HINT = (
    "Try again with AutoZoom off (session.set_do_autozoom(False)), a smaller prompt or region, "
    "or run on the CPU (Segmenter(..., device='cpu')). The prompt was not applied."
)


class PredictionOutOfMemory(MemoryError):
    """The device ran out of memory during a prediction; the prompt was rolled back."""


def is_out_of_memory(error: BaseException) -> bool:
    """True for CUDA/MPS/CPU allocator out-of-memory errors raised by torch."""
    try:
        import torch

        if isinstance(error, torch.cuda.OutOfMemoryError):
            return True
    except (ImportError, AttributeError):
        pass
    if isinstance(error, MemoryError):
        return not isinstance(error, PredictionOutOfMemory)
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


def _release_cached_memory() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # noqa: BLE001 - best effort only
        pass


@contextmanager
def out_of_memory_hint(device: object) -> Iterator[None]:
    """Re-raise an out-of-memory error as :class:`PredictionOutOfMemory` with a hint."""
    try:
        yield
    except (RuntimeError, MemoryError) as error:
        if not is_out_of_memory(error):
            raise
        _release_cached_memory()
        raise PredictionOutOfMemory(
            f"the prediction ran out of memory on {device}: {str(error).splitlines()[0]}. "
            f"{OOM_HINT}"
        ) from error
