"""Precision as a session setting: which one ``auto`` picks, bad names, and the fast path's masks
against float32 after every prompt of the parity sequence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from _parity_models import phantom
from _prompt_sequence import compare, prompts
from _tiny_model import write_tiny_model

from nni_jupyter.demo import demo_model_path
from nni_jupyter.inference import nnInteractiveInferenceSession
from nni_jupyter.inference import precision as precisions

CPU, CUDA, MPS = torch.device("cpu"), torch.device("cuda"), torch.device("mps")
#: bf16 against fp32 after every prompt: trained weights (the demo model) ...
MIN_DICE = 0.98
#: ... and random ones (tests/_tiny_model.py), whose logits sit near a tie in most voxels, so
#: rounding flips some, and the flipped voxels feed the next prompt as its previous segmentation.
MIN_DICE_RANDOM_WEIGHTS, MIN_AGREEMENT_RANDOM_WEIGHTS = 0.9, 0.998


def test_auto_is_fp16_on_cuda_bf16_on_native_bf16_cpus_else_fp32() -> None:
    assert precisions.resolve("auto", CUDA) == "fp16"
    assert precisions.resolve("auto", CPU, native_bf16=True) == "bf16"
    assert precisions.resolve("auto", CPU, native_bf16=False) == "fp32"
    assert precisions.resolve("auto", MPS) == "fp32"


def test_forced_precisions_and_where_they_run() -> None:
    assert precisions.resolve("fp32", CPU, native_bf16=True) == "fp32"
    assert precisions.resolve("fp32", CUDA) == "fp32"
    assert precisions.resolve("bf16", CPU, native_bf16=False) == "bf16"
    assert precisions.resolve("bf16", CUDA) == "bf16"
    assert precisions.resolve("fp16", CUDA) == "fp16"
    with pytest.raises(ValueError, match="'fp16' runs on cuda or mps, not on 'cpu'"):
        precisions.resolve("fp16", CPU)
    with pytest.raises(ValueError, match="'bf16' runs on cpu or cuda, not on 'mps'"):
        precisions.resolve("bf16", MPS)


@pytest.mark.parametrize("name", ["float32", "FP32", "", "half"])
def test_unknown_precision_is_refused_with_the_choices(name: str) -> None:
    with pytest.raises(ValueError, match=r"precision must be one of \('auto', 'fp32'"):
        precisions.resolve(name, CPU)
    with pytest.raises(ValueError, match="precision must be one of"):
        nnInteractiveInferenceSession(device="cpu", precision=name)


def test_native_bf16_flags(tmp_path: Path) -> None:
    assert precisions.cpu_has_native_bf16({"sse2", "avx512f", "avx512_bf16"})
    assert precisions.cpu_has_native_bf16({"amx_tile", "amx_bf16"})
    assert not precisions.cpu_has_native_bf16({"sse2", "avx2", "avx512f", "avx512_vnni"})
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\n\n"
        "processor\t: 1\nflags\t\t: fpu sse2 avx512f avx512_bf16\n",
        encoding="utf-8",
    )
    assert precisions.cpuinfo_flags(cpuinfo) == {"fpu", "sse2", "avx512f", "avx512_bf16"}
    assert precisions.cpuinfo_flags(tmp_path / "absent") == frozenset()


def test_detection_agrees_with_this_machines_cpu_flags() -> None:
    flags = precisions.cpuinfo_flags()
    if not flags:
        pytest.skip("no /proc/cpuinfo flags to compare with (not Linux)")
    expected = precisions.cpu_has_native_bf16(flags)
    assert precisions.cpu_has_native_bf16() == expected
    assert precisions.resolve("auto", CPU) == ("bf16" if expected else "fp32")


def _session(folder: Path, image: np.ndarray, precision: str) -> tuple:
    session = nnInteractiveInferenceSession(
        device="cpu", torch_n_threads=2, do_autozoom=False, precision=precision
    )
    session.initialize_from_trained_model_folder(folder)
    session.set_image(image)
    buffer = torch.zeros(image.shape[1:], dtype=torch.uint8)
    session.set_target_buffer(buffer)
    return session, buffer


def _record_dtype(seen: dict[str, torch.dtype], part: str):
    def hook(_module: torch.nn.Module, _inputs: object, output: torch.Tensor) -> None:
        seen.setdefault(part, output.dtype)

    return hook


def test_the_network_runs_in_the_sessions_precision(tmp_path: Path) -> None:
    """bf16 runs the encoder and the decoder in bfloat16, the segmentation layers in float32."""
    folder = write_tiny_model(tmp_path / "model")
    image = phantom()
    for name, inner in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        session, _ = _session(folder, image, name)
        assert session.precision == name
        seen: dict[str, torch.dtype] = {}
        modules = {
            "encoder": session.network.encoder.stages[1],
            "last stage": session.network.decoder.stages[-1],
            "head": session.network.decoder.seg_layers[-1],
        }
        hooks = [
            module.register_forward_hook(_record_dtype(seen, part))
            for part, module in modules.items()
        ]
        session.add_point_interaction((40, 44, 34), include_interaction=True)
        for hook in hooks:
            hook.remove()
        assert seen == {"encoder": inner, "last stage": inner, "head": torch.float32}, seen


def _fidelity(
    folder: Path, image: np.ndarray, skip: tuple[str, ...] = ()
) -> list[tuple[str, float, float]]:
    """(prompt, agreement, Dice) of bf16 against fp32 after each prompt of the sequence."""
    exact, exact_buffer = _session(folder, image, "fp32")
    fast, fast_buffer = _session(folder, image, "bf16")
    results = []
    for name, prompt in prompts(image.shape[1:]):
        if name in skip:
            continue
        for session in (exact, fast):
            np.random.seed(0)
            prompt(session)
        results.append((name, *compare(fast_buffer, exact_buffer)))
        print(f"bf16 vs fp32  {name:18s} agreement {results[-1][1]:.6f} dice {results[-1][2]:.4f}")
    return results


@pytest.mark.slow  # about a minute on two free cores: the big box refines many patches
def test_bf16_masks_match_fp32_after_every_prompt_on_the_demo_model() -> None:
    results = _fidelity(Path(demo_model_path()), phantom())
    assert len(results) == len(prompts((80, 88, 72)))
    assert all(dice >= MIN_DICE for _, _, dice in results), results


@pytest.mark.slow
def test_bf16_masks_stay_close_to_fp32_on_random_weights(tmp_path: Path) -> None:
    # the big box and the initial segmentation are left out: on this model's 32^3 patch each
    # refines many patches (minutes); the demo model's test covers them
    skip = ("big bbox", "initial seg")
    results = _fidelity(write_tiny_model(tmp_path / "model"), phantom(), skip)
    assert len(results) == len(prompts((80, 88, 72))) - len(skip)
    assert all(dice >= MIN_DICE_RANDOM_WEIGHTS for _, _, dice in results), results
    assert all(agree >= MIN_AGREEMENT_RANDOM_WEIGHTS for _, agree, _ in results), results
