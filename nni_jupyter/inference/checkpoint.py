"""Load a trained nnInteractive model folder: network, capabilities, runtime settings, licence.

Safety: a plans file names classes as strings. Only classes inside ``dynamic_network_architectures``
may be built, and the class-valued keyword arguments (``_kw_requires_import``) may only name
``torch.nn`` modules; nothing else is imported. The checkpoint file is found and unpickled
safely by :mod:`.checkpoint_file`.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoint_file import checkpoint_path, load_checkpoint

ALLOWED_NETWORK_PREFIX = "dynamic_network_architectures."
ALLOWED_KWARG_PREFIX = "torch.nn."
NUM_OUTPUT_CHANNELS = 2
OFFICIAL_DATASET = "Dataset225_nnInteractiveV2"
OFFICIAL_CONFIGURATION = "3d_fullres_ps192_bs24"
OFFICIAL_LICENSE = "CC BY-NC-SA 4.0"
MISSING_LICENSE = "!!MISSING!!"
SEMANTICS_VERSION = (2, 6, 0)
SESSION_CLASS = "nnInteractiveInferenceSession"
INTERACTION_KEYS = ("scribble", "lasso", "points", "bbox2d", "bbox3d")

DEFAULT_SUPPORTED = {
    "scribble": True,
    "lasso": True,
    "points": True,
    "bbox2d": True,
    "bbox3d": False,
}
DEFAULT_MAPPING: dict[str, Any] = {
    "prev_seg": 0,
    "bbox2d": (1, 2),
    "bbox3d": (1, 2),
    "lasso": (1, 2),
    "points": (3, 4),
    "scribble": (5, 6),
}


@dataclass
class ModelSettings:
    """What a model folder says about prompts, besides the network."""

    point_radius: int = 4
    preferred_scribble_thickness: list[int] = field(default_factory=lambda: [2, 2, 2])
    interaction_decay: float = 0.98
    pad_mode_image: str = "constant"
    supported_interactions: dict[str, bool] = field(default_factory=lambda: dict(DEFAULT_SUPPORTED))
    supports_initial_label: bool = True
    supports_zero_shot_label_refinement: bool = True
    channel_mapping: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_MAPPING))
    num_interaction_channels: int = 7


@dataclass
class LoadedModel:
    """Everything a session needs from a model folder."""

    network: nn.Module
    settings: ModelSettings
    patch_size: list[int]
    num_image_channels: int
    license: str
    configuration: str
    trainer_name: str
    checkpoint: Path | None = None  # the file loaded, for identifying the model (prompt logs)


def _read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int("".join(ch for ch in part if ch.isdigit()) or 0) for part in text.split("."))


def _channel_pair(name: str, value: Any) -> tuple[int, int]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(
            f"channel_mapping[{name!r}] must be a pair [positive, negative]; got {value!r}"
        )
    return int(value[0]), int(value[1])


def _apply_capabilities(settings: ModelSettings, info: Mapping[str, Any]) -> None:
    """Merge ``inference_info.json`` capabilities over the defaults of the v1.0 models."""
    supported = info.get("supported_interactions", {})
    unknown = set(supported) - set(INTERACTION_KEYS)
    if unknown:
        raise ValueError(f"inference_info.json names unknown interactions {sorted(unknown)}")
    settings.supported_interactions.update({k: bool(v) for k, v in supported.items()})
    settings.supports_initial_label = bool(info.get("supports_initial_label", True))
    settings.supports_zero_shot_label_refinement = bool(
        info.get("supports_zero_shot_label_refinement", True)
    )
    mapping = info.get("channel_mapping", {})
    unknown = set(mapping) - set(INTERACTION_KEYS) - {"prev_seg"}
    if unknown:
        raise ValueError(f"inference_info.json channel_mapping has unknown keys {sorted(unknown)}")
    for key, value in mapping.items():
        settings.channel_mapping[key] = (
            int(value) if key == "prev_seg" else _channel_pair(key, value)
        )
    if "interaction_channels" in info:
        n = int(info["interaction_channels"]) + 1
    else:
        indices = [settings.channel_mapping["prev_seg"]]
        indices += [i for k, v in settings.channel_mapping.items() if k != "prev_seg" for i in v]
        n = max([i + 1 for i in indices if i >= 0] + [-i for i in indices if i < 0] + [1])
    settings.num_interaction_channels = n

    def positive(index: int) -> int:
        return index if index >= 0 else n + index

    for key, value in settings.channel_mapping.items():
        settings.channel_mapping[key] = (
            positive(value) if key == "prev_seg" else tuple(positive(i) for i in value)
        )


def _check_session_requirements(info: Mapping[str, Any]) -> None:
    required = info.get("inference_class", SESSION_CLASS)
    if required != SESSION_CLASS:
        raise RuntimeError(
            f"model folder needs inference class {required!r}; this is {SESSION_CLASS!r}"
        )
    minimum = info.get("inference_class_min_version")
    if minimum is not None and _version_tuple(str(minimum)) > SEMANTICS_VERSION:
        version = ".".join(map(str, SEMANTICS_VERSION))
        raise RuntimeError(
            f"model folder needs nnInteractive semantics >= {minimum}; nni_jupyter implements "
            f"{version}. Update nni_jupyter."
        )


def read_settings(folder: Path) -> ModelSettings:
    """Read ``inference_info.json`` (preferred) or the legacy ``inference_session_class.json``."""
    settings = ModelSettings()
    info_file = folder / "inference_info.json"
    legacy_file = folder / "inference_session_class.json"
    if info_file.is_file():
        content = _read_json(info_file)
        if not isinstance(content, dict):
            raise RuntimeError(f"{info_file} must hold a JSON object; got {type(content).__name__}")
        _check_session_requirements(content)
    elif legacy_file.is_file():
        content = _read_json(legacy_file)
        if isinstance(content, str):
            # A bare class name: the v1.0 release, which decayed prompts by 0.9.
            content = {"interaction_decay": 0.9}
    else:
        raise FileNotFoundError(
            f"{folder} has neither inference_info.json nor inference_session_class.json; "
            "is it an nnInteractive model folder?"
        )
    settings.point_radius = int(content.get("point_radius", settings.point_radius))
    thickness = content.get("preferred_scribble_thickness", settings.preferred_scribble_thickness)
    if not isinstance(thickness, (list, tuple)):
        thickness = [thickness] * 3
    settings.preferred_scribble_thickness = list(thickness)
    settings.interaction_decay = float(content.get("interaction_decay", settings.interaction_decay))
    settings.pad_mode_image = content.get("pad_mode_image", settings.pad_mode_image)
    if settings.pad_mode_image != "constant":
        raise ValueError(f"pad_mode_image must be 'constant'; got {settings.pad_mode_image!r}")
    if info_file.is_file():
        _apply_capabilities(settings, content)
    return settings


def read_license(folder: Path, plans: Mapping[str, Any], configuration: str) -> str:
    """First non-empty line of ``LICENSE``; the known licence of the official v1.0 weights; else
    ``"!!MISSING!!"``."""
    license_file = folder / "LICENSE"
    if license_file.is_file():
        for line in license_file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                return line.strip()
    if plans.get("dataset_name") == OFFICIAL_DATASET and configuration == OFFICIAL_CONFIGURATION:
        return OFFICIAL_LICENSE
    return MISSING_LICENSE


def _import_attribute(dotted: str) -> Any:
    """Import ``package.module.Name``, trying the longest importable module prefix."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        value: Any = module
        try:
            for name in parts[cut:]:
                value = getattr(value, name)
        except AttributeError:
            return None
        return value
    return None


def _find_dna_class(name: str) -> type | None:
    """Find a class by bare name among ``dynamic_network_architectures.architectures`` modules."""
    import pkgutil

    import dynamic_network_architectures.architectures as architectures

    for info in pkgutil.walk_packages(architectures.__path__, architectures.__name__ + "."):
        try:
            module = importlib.import_module(info.name)
        except ImportError:
            continue
        candidate = getattr(module, name, None)
        if isinstance(candidate, type):
            return candidate
    return None


def resolve_network_class(dotted: str) -> type[nn.Module]:
    """Return the network class named by a plans file, allowing only dynamic_network_architectures.

    Raises
    ------
    ValueError
        If the name is outside ``dynamic_network_architectures`` or is not an ``nn.Module`` class.
    """
    if not isinstance(dotted, str) or not dotted.startswith(ALLOWED_NETWORK_PREFIX):
        raise ValueError(
            f"refusing network class {dotted!r}: plans.json may only name classes from "
            "dynamic_network_architectures (e.g. "
            "'dynamic_network_architectures.architectures.unet.ResidualEncoderUNet')"
        )
    found = _import_attribute(dotted)
    if found is None:
        # Classes sometimes move between releases; look the bare name up inside the package only.
        found = _find_dna_class(dotted.rsplit(".", 1)[-1])
    if not (isinstance(found, type) and issubclass(found, nn.Module)):
        raise ValueError(
            f"network class {dotted!r} is not an nn.Module in dynamic_network_architectures"
        )
    if not found.__module__.startswith(ALLOWED_NETWORK_PREFIX):
        raise ValueError(f"refusing network class {dotted!r}: it is defined in {found.__module__}")
    return found


def resolve_kwarg_class(dotted: str | None) -> type | None:
    """Resolve a class-valued architecture kwarg (conv, norm, dropout, nonlin) to torch.nn."""
    if dotted is None:
        return None
    if not isinstance(dotted, str) or not dotted.startswith(ALLOWED_KWARG_PREFIX):
        raise ValueError(
            f"refusing architecture kwarg class {dotted!r}: only torch.nn classes are allowed "
            "(e.g. 'torch.nn.modules.conv.Conv3d')"
        )
    found = _import_attribute(dotted)
    if not (isinstance(found, type) and issubclass(found, nn.Module)):
        raise ValueError(f"architecture kwarg {dotted!r} is not a torch.nn module class")
    return found


def configuration_entry(plans: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Return a plans configuration with its ``inherits_from`` chain merged in."""
    configurations = plans.get("configurations", {})
    if name not in configurations:
        raise ValueError(
            f"plans.json has no configuration {name!r}; it has {sorted(configurations)}"
        )
    entry = dict(configurations[name])
    parent = entry.pop("inherits_from", None)
    if parent is not None:
        return {**configuration_entry(plans, parent), **entry}
    return entry


def build_network(
    architecture: Mapping[str, Any],
    num_input_channels: int,
    deep_supervision: bool = False,
    initialize: bool = False,
) -> nn.Module:
    """Build the network an ``architecture`` plans entry describes, with 2 outputs.

    The one builder for loading a checkpoint, training the demo model and the tests' models.

    Parameters
    ----------
    architecture
        ``network_class_name``, ``arch_kwargs`` and ``_kw_requires_import`` of a plans entry.
    num_input_channels
        Image channels plus interaction channels.
    deep_supervision
        Extra outputs at every decoder stage (training only).
    initialize
        Give the weights PyTorch's default initialisation (training, tests). Without it the
        network is built on the meta device, so no time is spent on weights that are loaded next.
    """
    network_class = resolve_network_class(architecture["network_class_name"])
    kwargs = dict(architecture["arch_kwargs"])
    for key in architecture.get("_kw_requires_import", []):
        kwargs[key] = resolve_kwarg_class(kwargs.get(key))
    kwargs["deep_supervision"] = deep_supervision
    with contextlib.nullcontext() if initialize else torch.device("meta"):
        return network_class(
            input_channels=num_input_channels, num_classes=NUM_OUTPUT_CHANNELS, **kwargs
        )


def load_model_folder(
    folder: str | Path,
    use_fold: int | str | None = None,
    checkpoint_name: str = "checkpoint_final.pth",
    device: torch.device | None = None,
) -> LoadedModel:
    """Load a trained nnInteractive model folder in the official layout.

    Parameters
    ----------
    folder
        The folder holding ``plans.json``, ``dataset.json``, ``inference_info.json`` (or
        ``inference_session_class.json``), optional ``LICENSE`` and ``fold_*/``.
    use_fold
        Fold to load; None requires exactly one ``fold_*`` folder. ``"all"`` loads ``fold_all``.
    checkpoint_name
        File name inside the fold folder.
    device
        Where to put the network (default CPU).

    Returns
    -------
    LoadedModel
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"model folder {folder} does not exist")
    settings = read_settings(folder)
    plans = _read_json(folder / "plans.json")
    dataset = _read_json(folder / "dataset.json")
    checkpoint_file = checkpoint_path(folder, use_fold, checkpoint_name)
    checkpoint = load_checkpoint(checkpoint_file)
    configuration = checkpoint["init_args"]["configuration"]
    entry = configuration_entry(plans, configuration)
    channel_names = dataset.get("channel_names", dataset.get("modality", {"0": "image"}))
    num_image_channels = len(channel_names)
    network = build_network(
        entry["architecture"], num_image_channels + settings.num_interaction_channels
    )
    weights = checkpoint["network_weights"]
    # assign=True adopts the tensors without a copy, so bring any half-precision storage (the demo
    # checkpoint keeps its weights in float16 to stay small) to float32 first
    weights = {
        key.removeprefix("_orig_mod."): value.float() if value.is_floating_point() else value
        for key, value in weights.items()
    }
    network.load_state_dict(weights, strict=True, assign=True)
    network.to(device or torch.device("cpu")).eval()
    return LoadedModel(
        network=network,
        settings=settings,
        patch_size=[int(p) for p in entry["patch_size"]],
        num_image_channels=num_image_channels,
        license=read_license(folder, plans, configuration),
        configuration=configuration,
        trainer_name=str(checkpoint.get("trainer_name", "")),
        checkpoint=checkpoint_file,
    )
