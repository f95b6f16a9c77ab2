"""Write trained-model folders in the official nnInteractive layout.

The layout is the one the reference package and ``nni_jupyter.inference`` both read::

    <folder>/plans.json
    <folder>/dataset.json
    <folder>/inference_info.json
    <folder>/LICENSE
    <folder>/fold_0/checkpoint_final.pth

Used by the demo-model trainer, by the parity tests (tiny random checkpoints) and by the
full-size benchmark (a ResEnc-L ``plans.json`` with random weights).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

RESENC_UNET = "dynamic_network_architectures.architectures.unet.ResidualEncoderUNet"
DEFAULT_CONFIGURATION = "3d_fullres_demo"
DEFAULT_TRAINER = "nnInteractiveTrainer_stub"
NUM_INTERACTION_CHANNELS = 7

#: Channel layout of the current nnInteractive models (indices into the 7 interaction channels).
INFERENCE_INFO_V2: dict[str, Any] = {
    "supported_interactions": {
        "points": True,
        "scribble": True,
        "lasso": True,
        "bbox2d": True,
        "bbox3d": False,
    },
    "supports_initial_label": True,
    "supports_zero_shot_label_refinement": True,
    "interaction_channels": 6,  # excluding prev_seg: 1 + 6 = 7 interaction channels
    "channel_mapping": {
        "prev_seg": 0,
        "bbox2d": [1, 2],
        "bbox3d": [1, 2],
        "lasso": [1, 2],
        "points": [3, 4],
        "scribble": [5, 6],
    },
    "point_radius": 4,
    "preferred_scribble_thickness": [2, 2, 2],
    "interaction_decay": 0.98,
    "pad_mode_image": "constant",
}


def resenc_unet_arch(
    features_per_stage: list[int],
    blocks_per_stage: list[int],
    strides: list[int] | None = None,
    kernel_size: int = 3,
) -> dict[str, Any]:
    """Return the ``architecture`` entry of a plans configuration for a 3-D ResidualEncoderUNet.

    Parameters
    ----------
    features_per_stage
        Channels of each encoder stage, e.g. ``[32, 64, 128, 256, 320, 320]`` (nnInteractive v1.0).
    blocks_per_stage
        Residual blocks per encoder stage, e.g. ``[1, 3, 4, 6, 6, 6]``.
    strides
        Isotropic stride of each stage; default 1 then 2 for every further stage.
    kernel_size
        Isotropic convolution kernel size.
    """
    n = len(features_per_stage)
    if len(blocks_per_stage) != n:
        raise ValueError(
            f"blocks_per_stage needs one entry per stage ({n}); got {len(blocks_per_stage)}"
        )
    strides = strides if strides is not None else [1] + [2] * (n - 1)
    return {
        "network_class_name": RESENC_UNET,
        "arch_kwargs": {
            "n_stages": n,
            "features_per_stage": list(features_per_stage),
            "conv_op": "torch.nn.modules.conv.Conv3d",
            "kernel_sizes": [[kernel_size] * 3 for _ in range(n)],
            "strides": [[s] * 3 for s in strides],
            "n_blocks_per_stage": list(blocks_per_stage),
            "n_conv_per_stage_decoder": [1] * (n - 1),
            "conv_bias": True,
            "norm_op": "torch.nn.modules.instancenorm.InstanceNorm3d",
            "norm_op_kwargs": {"eps": 1e-05, "affine": True},
            "dropout_op": None,
            "dropout_op_kwargs": None,
            "nonlin": "torch.nn.LeakyReLU",
            "nonlin_kwargs": {"inplace": True},
        },
        "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"],
    }


def make_plans(
    architecture: dict[str, Any],
    patch_size: list[int],
    configuration: str = DEFAULT_CONFIGURATION,
    dataset_name: str = "Dataset999_nniJupyterDemo",
) -> dict[str, Any]:
    """Return a complete nnU-Net ``plans.json`` dict holding one 3-D configuration."""
    return {
        "dataset_name": dataset_name,
        "plans_name": "nnUNetResEncUNetPlans",
        "original_median_spacing_after_transp": [1.0, 1.0, 1.0],
        "original_median_shape_after_transp": list(patch_size),
        "image_reader_writer": "SimpleITKIO",
        "transpose_forward": [0, 1, 2],
        "transpose_backward": [0, 1, 2],
        "configurations": {
            configuration: {
                "data_identifier": f"nnUNetPlans_{configuration}",
                "preprocessor_name": "DefaultPreprocessor",
                "batch_size": 2,
                "patch_size": list(patch_size),
                "median_image_size_in_voxels": list(patch_size),
                "spacing": [1.0, 1.0, 1.0],
                "normalization_schemes": ["ZScoreNormalization"],
                "use_mask_for_norm": [False],
                "resampling_fn_data": "resample_data_or_seg_to_shape",
                "resampling_fn_seg": "resample_data_or_seg_to_shape",
                "resampling_fn_data_kwargs": {
                    "is_seg": False,
                    "order": 3,
                    "order_z": 0,
                    "force_separate_z": None,
                },
                "resampling_fn_seg_kwargs": {
                    "is_seg": True,
                    "order": 1,
                    "order_z": 0,
                    "force_separate_z": None,
                },
                "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
                "resampling_fn_probabilities_kwargs": {
                    "is_seg": False,
                    "order": 1,
                    "order_z": 0,
                    "force_separate_z": None,
                },
                "architecture": architecture,
                "batch_dice": True,
            }
        },
        "experiment_planner_used": "nnUNetPlannerResEncL",
        "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": {
            "0": {
                "max": 1.0,
                "mean": 0.0,
                "median": 0.0,
                "min": 0.0,
                "percentile_00_5": 0.0,
                "percentile_99_5": 1.0,
                "std": 1.0,
            }
        },
    }


def make_dataset_json(channel_name: str = "CT") -> dict[str, Any]:
    """Return the ``dataset.json`` of a binary interactive model with one image channel."""
    return {
        "channel_names": {"0": channel_name},
        "labels": {"background": 0, "target": 1},
        "numTraining": 0,
        "file_ending": ".nii.gz",
    }


def write_model_folder(
    folder: str | Path,
    plans: dict[str, Any],
    state_dict: dict[str, torch.Tensor],
    configuration: str = DEFAULT_CONFIGURATION,
    inference_info: dict[str, Any] | None = None,
    license_text: str | None = None,
    dataset_json: dict[str, Any] | None = None,
    fold: int | str = 0,
    trainer_name: str = DEFAULT_TRAINER,
) -> Path:
    """Write a trained-model folder that both nni_jupyter and the reference package load.

    The checkpoint holds only tensors, strings and dicts, so it loads with
    ``torch.load(..., weights_only=True)``.

    Returns
    -------
    Path
        The folder written.
    """
    folder = Path(folder)
    fold_dir = folder / f"fold_{fold}"
    fold_dir.mkdir(parents=True, exist_ok=True)
    (folder / "plans.json").write_text(json.dumps(plans, indent=2))
    (folder / "dataset.json").write_text(json.dumps(dataset_json or make_dataset_json(), indent=2))
    info = INFERENCE_INFO_V2 if inference_info is None else inference_info
    (folder / "inference_info.json").write_text(json.dumps(info, indent=2))
    if license_text is not None:
        (folder / "LICENSE").write_text(license_text.rstrip("\n") + "\n")
    checkpoint = {
        "network_weights": {k: v.detach().cpu().contiguous() for k, v in state_dict.items()},
        "trainer_name": trainer_name,
        "init_args": {"configuration": configuration},
    }
    torch.save(checkpoint, fold_dir / "checkpoint_final.pth")
    return folder
