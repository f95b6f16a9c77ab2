"""``nj.benchmark_device()``: the candidates' table for a user who wants to see it."""

from __future__ import annotations

from pathlib import Path

import torch

from ..bundled import demo_model_path
from . import devices
from .autotune import Tuner
from .checkpoint import load_model_folder
from .cpus import cpu_description
from .measure import probe_shape
from .precision import AUTO
from .tuning import PROBE_VOXELS, Choice, cached, key


def benchmark_device(
    model: str | Path | None = None,
    threads: int | None = None,
    budget_s: float = 3.0,
    show: bool = True,
) -> Choice:
    """Time every uncompiled candidate (fp32, bf16, fp16 where the CPU has it; contiguous and
    channels-last; and the network exported to OpenVINO where it is installed) on a model's
    network on this CPU and print the table, with the CPU, its flags and threads, and what
    ``precision="auto"`` runs here when it has measured it before.

    Parameters
    ----------
    model
        A model folder (e.g. ``nj.find_model()`` for nnInteractive v1.0); None: the bundled
        demo model.
    threads
        torch threads (None: as set now; capped at the CPUs this process may use).
    budget_s
        Seconds of timed rounds after one untimed pass of each candidate.
    show
        Print the table.

    Returns
    -------
    Choice
        The fastest candidate whose masks agree with fp32's, and every figure. A fresh
        measurement: the sessions' cache is left as it is.
    """
    folder = Path(model) if model is not None else demo_model_path()
    if threads is not None:
        devices.configure_threads(threads)
    cpu = torch.device("cpu")
    loaded = load_model_folder(folder, device=cpu)
    network = loaded.network.eval()
    probe = probe_shape(network, loaded.patch_size, PROBE_VOXELS)
    channels = loaded.num_image_channels + loaded.settings.num_interaction_channels
    tuner = Tuner(network, loaded.patch_size, channels, cpu, AUTO)
    tuner.budget_s = budget_s
    choice = tuner.measure(probe)
    if tuner.may_export:
        choice = tuner.judge_exported(choice)
    if show:
        print(f"{folder.name} on {cpu_description()}")
        print(choice.table())
        for setting in (AUTO, False, True):
            exports = tuner.key["openvino"] if setting is not True else None
            known = cached(key(network, loaded.patch_size, setting, exports))
            if known is not None:
                print(f"sessions with use_torch_compile={setting!r} run: {known.reason}")
    return choice
