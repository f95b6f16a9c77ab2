"""Device choice and the per-device settings of a session: threads, transfers, compile."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator

import torch

AUTO = "auto"


def pick_device(preference: str | torch.device = AUTO) -> torch.device:
    """Return the device to run on.

    Parameters
    ----------
    preference
        ``"auto"`` picks CUDA, then Apple MPS, then the CPU; anything else is passed to
        ``torch.device`` (e.g. ``"cuda:1"``, ``"cpu"``).

    Returns
    -------
    torch.device
    """
    if isinstance(preference, torch.device):
        return preference
    if preference != AUTO:
        return torch.device(preference)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def configure_threads(n_threads: int) -> int:
    """Set torch's intra-op threads to ``min(n_threads, cpu count)`` and return that number."""
    n = max(1, min(int(n_threads), os.cpu_count() or 1))
    torch.set_num_threads(n)
    return n


def configure_backend(device: torch.device) -> None:
    """Per-device backend switches: cuDNN autotuning for the fixed patch shape on CUDA."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def uses_pinned_memory(device: torch.device, requested: bool) -> bool:
    """Pinned host buffers only pay off for CUDA transfers."""
    return requested and device.type == "cuda"


def wants_compile(setting: bool | str, device: torch.device) -> bool:
    """Whether to compile the network: ``"auto"`` on CUDA only (where it halves a forward
    pass), ``True``/``False`` as given. Compiling runs in the background (:mod:`.warm`)."""
    if setting == AUTO:
        return device.type == "cuda"
    if not isinstance(setting, bool):
        raise ValueError(f"use_torch_compile must be True, False or 'auto'; got {setting!r}")
    return setting


def optimize_for_cpu(network: torch.nn.Module, example: torch.Tensor) -> torch.nn.Module:
    """Trace and freeze ``network`` for ``example``'s shape so oneDNN can prepack every
    convolution (outputs equal to float32 rounding; speed-up between none and about 20%).

    Falls back to the eager network when tracing fails.
    """
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(network.eval(), example, check_trace=False)
            return torch.jit.optimize_for_inference(torch.jit.freeze(traced))
    except Exception as error:  # noqa: BLE001 - any tracing problem means: run eagerly
        warnings.warn(f"CPU graph optimisation failed, running eagerly: {error}", stacklevel=2)
        return network


@contextlib.contextmanager
def inference(device: torch.device) -> Iterator[None]:
    """``torch.inference_mode`` (the network's precision is its own: :mod:`.precision`)."""
    with torch.inference_mode():
        yield
