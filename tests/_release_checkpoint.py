"""Model folders whose checkpoint is shaped like the official nnInteractive v1.0 release.

The published ``checkpoint_final.pth`` is not a bare state dict: it is what nnU-Net's
``nnUNetTrainer.save_checkpoint`` writes, passed through nnInteractive's release script
(``nnInteractive/utils/checkpoint_cleansing.py``), which deletes ``optimizer_state`` and
``init_args["dataset_json"]`` and renames the trainer to ``nnInteractiveTrainer_stub``. What stays
includes numpy float64 scalars (the logged Dice values come from ``np.nanmean``) and a
``torch.device``. The numpy 1.x naming of those scalars (``numpy.core.multiarray.scalar``) is made
by rewriting the module names in the pickle, as a file saved under numpy 1.x would hold them.

Private test helper, imported as ``from _release_checkpoint import ...``.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

NUMPY2_MODULE = b"cnumpy._core.multiarray\n"
NUMPY1_MODULE = b"cnumpy.core.multiarray\n"
EPOCHS = 4


def _training_log(rng: np.random.Generator) -> dict[str, list[Any]]:
    """``nnUNetLogger.my_fantastic_logging`` after a few epochs, with the types the trainer logs."""
    dice_per_class = [[np.float64(rng.uniform(0.5, 0.9))] for _ in range(EPOCHS)]
    mean_dice = [np.nanmean(values) for values in dice_per_class]
    ema = [mean_dice[0]]
    for value in mean_dice[1:]:
        ema.append(ema[-1] * 0.9 + 0.1 * value)
    start = 1.7e9
    return {
        "mean_fg_dice": mean_dice,
        "ema_fg_dice": ema,
        "dice_per_class_or_region": dice_per_class,
        "train_losses": [np.mean(rng.normal(-0.5, 0.1, 8)) for _ in range(EPOCHS)],
        "val_losses": [np.mean(rng.normal(-0.4, 0.1, 8)) for _ in range(EPOCHS)],
        "lrs": [0.01 * (1 - epoch / 1000) ** 0.9 for epoch in range(EPOCHS)],
        "epoch_start_timestamps": [start + 60.0 * epoch for epoch in range(EPOCHS)],
        "epoch_end_timestamps": [start + 60.0 * epoch + 55.0 for epoch in range(EPOCHS)],
    }


def training_checkpoint(
    state_dict: dict[str, torch.Tensor], plans: dict[str, Any], dataset: dict[str, Any], config: str
) -> dict[str, Any]:
    """What ``nnUNetTrainer.save_checkpoint`` writes at the end of training."""
    rng = np.random.default_rng(0)
    logging = _training_log(rng)
    first = next(iter(state_dict.values()))
    return {
        "network_weights": OrderedDict((k, v.detach().clone()) for k, v in state_dict.items()),
        "optimizer_state": {
            "state": {0: {"momentum_buffer": torch.zeros_like(first)}},
            "param_groups": [{"lr": 0.01, "momentum": 0.99, "nesterov": True, "params": [0]}],
        },
        "grad_scaler_state": {
            "scale": 65536.0,
            "growth_factor": 2.0,
            "backoff_factor": 0.5,
            "growth_interval": 2000,
            "_growth_tracker": 17,
        },
        "logging": logging,
        "_best_ema": max(logging["ema_fg_dice"]),
        "current_epoch": EPOCHS,
        "init_args": {
            "plans": plans,
            "configuration": config,
            "fold": 0,
            "dataset_json": dataset,
            "device": torch.device("cuda"),
        },
        "trainer_name": "nnInteractiveTrainer",
        "inference_allowed_mirroring_axes": (0, 1, 2),
    }


def cleanse_for_release(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """What nnInteractive's release script does to a training checkpoint."""
    del checkpoint["optimizer_state"]
    del checkpoint["init_args"]["dataset_json"]
    checkpoint["trainer_name"] = "nnInteractiveTrainer_stub"
    return checkpoint


def as_numpy1_pickle(data: bytes) -> bytes:
    """Rewrite a ``torch.save`` zip so its pickle names numpy's helpers as numpy 1.x did.

    ``torch.save`` pickles with protocol 2, where a global is the text ``c<module>\\n<name>\\n``,
    so the module name can be replaced in place.
    """
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename.endswith("data.pkl"):
                assert NUMPY2_MODULE in content, "expected numpy 2.x names in the pickle"
                content = content.replace(NUMPY2_MODULE, NUMPY1_MODULE)
            target.writestr(info.filename, content)
    return out.getvalue()


def convert_to_release(folder: Path, numpy_naming: str = "2", hide: Any = None) -> Path:
    """Replace ``folder``'s bare checkpoint by one shaped like the official release.

    Parameters
    ----------
    folder
        A model folder in the official layout (``nni_jupyter.inference.layout``).
    numpy_naming
        ``"2"``: numpy's helpers as numpy 2.x names them; ``"1"``: as numpy 1.x did.
    hide
        An object put into ``logging`` (e.g. a pickle payload), or None.
    """
    if numpy_naming not in ("1", "2"):
        raise ValueError(f"numpy_naming must be '1' or '2'; got {numpy_naming!r}")
    path = next(folder.glob("fold_*")) / "checkpoint_final.pth"
    bare = torch.load(path, map_location="cpu", weights_only=True)
    plans = json.loads((folder / "plans.json").read_text())
    dataset = json.loads((folder / "dataset.json").read_text())
    checkpoint = training_checkpoint(
        bare["network_weights"], plans, dataset, bare["init_args"]["configuration"]
    )
    checkpoint = cleanse_for_release(checkpoint)
    if hide is not None:
        checkpoint["logging"]["notes"] = [hide]
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    data = buffer.getvalue()
    path.write_bytes(as_numpy1_pickle(data) if numpy_naming == "1" else data)
    return folder
