"""Device choice and the per-device settings of a session: threads, transfers, compile."""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Sequence

import torch

from .cpus import usable_cpus

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
    """Set torch's intra-op threads to ``min(n_threads, CPUs this process may use)`` (see
    :func:`~.cpus.usable_cpus`: affinity and cgroup quota, not the node's core count) and return
    that number."""
    n = max(1, min(int(n_threads), usable_cpus().count))
    torch.set_num_threads(n)
    return n


def configure_backend(device: torch.device) -> None:
    """Per-device backend switches: cuDNN autotuning for the fixed patch shape on CUDA."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def uses_pinned_memory(device: torch.device, requested: bool) -> bool:
    """Pinned host buffers only pay off for CUDA transfers."""
    return requested and device.type == "cuda"


#: Parameters × patch voxels up to which a CPU pass is cheap (the demo model: 4e11;
#: nnInteractive v1.0: 7e14).
CHEAP_FORWARD = 10**13


def forward_cost(network: torch.nn.Module, patch_size: Sequence[int]) -> int:
    """Parameters × patch voxels: what a forward pass costs, roughly, in multiply-adds."""
    return sum(p.numel() for p in network.parameters()) * math.prod(patch_size)


def check_compile_setting(setting: bool | str) -> bool | str:
    """``use_torch_compile`` checked: True, False or ``"auto"``."""
    if setting != AUTO and not isinstance(setting, bool):
        raise ValueError(f"use_torch_compile must be True, False or 'auto'; got {setting!r}")
    return setting


def wants_compile(
    setting: bool | str, device: torch.device, precision: str = "fp32", cost: int | None = None
) -> bool:
    """Whether to compile the network (in the background: :mod:`.warm`).

    ``"auto"``: on CUDA (where it halves a forward pass), and on a CPU for an expensive network
    (``cost`` above :data:`CHEAP_FORWARD`, e.g. nnInteractive v1.0) run in bfloat16, where
    inductor with frozen weights makes a pass about a third faster (a v1.0 point prompt at 192³
    on two cores: 24 s eager, 16 s compiled) after a compile of under a minute. A cheap
    network (the demo model) is not worth a minute of the CPU. ``True``/``False`` as given.
    """
    setting = check_compile_setting(setting)
    if setting != AUTO:
        return bool(setting)
    if device.type == "cuda":
        return True
    expensive = cost is not None and cost > CHEAP_FORWARD
    return device.type == "cpu" and precision == "bf16" and expensive


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
