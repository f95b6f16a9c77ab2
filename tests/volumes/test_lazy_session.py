"""A session on a lazy image (Zarr, memory map, Dask) makes the masks of the image in memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _tiny_model import demo_or_tiny_model

import nni_jupyter as nj
from nni_jupyter.inference import nnInteractiveInferenceSession
from nni_jupyter.volumes import LazyVolume

zarr = pytest.importorskip("zarr", reason="the [zarr] extra (zarr) is not installed")

SHAPE = (72, 64, 48)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_or_tiny_model(tmp_path_factory.mktemp("model"), "Apache-2.0")


@pytest.fixture(scope="module")
def volume() -> np.ndarray:
    return nj.data.phantom(SHAPE, seed=3)[0].astype(np.int16)


def run_sequence(model: Path, image: object) -> list[np.ndarray]:
    """Points, a box, a scribble and a lasso with AutoZoom on; the target after each."""
    session = nnInteractiveInferenceSession(device="cpu", torch_n_threads=1, do_autozoom=True)
    session.initialize_from_trained_model_folder(str(model))
    session.set_image(image)
    target = np.zeros(SHAPE, np.uint8)
    session.set_target_buffer(target)
    scribble = np.zeros(SHAPE, np.uint8)
    scribble[30:44, 32, 22:25] = 1
    lasso = np.zeros(SHAPE, np.uint8)
    lasso[20:40, 20:44, 24] = 1
    steps = [
        lambda: session.add_point_interaction((36, 32, 24), include_interaction=True),
        lambda: session.add_point_interaction((50, 32, 24), include_interaction=False),
        lambda: session.add_bbox_interaction([[24, 52], [18, 46], [24, 25]], True),
        lambda: session.add_scribble_interaction(scribble, True),
        lambda: session.add_lasso_interaction(lasso, False),
    ]
    masks = []
    for step in steps:
        step()
        masks.append(target.copy())
    return masks


def test_zarr_memmap_and_dask_images_give_the_in_memory_masks(tmp_path, model, volume):
    expected = run_sequence(model, volume[None])
    assert any(mask.any() for mask in expected), "the sequence segments nothing: a weak test"

    stored = zarr.create_array(
        tmp_path / "image.zarr", shape=volume.T.shape, chunks=(16, 16, 16), dtype=volume.dtype
    )
    stored[...] = volume.T  # (z, y, x) on disk, as OME-Zarr stores it
    mapped = np.lib.format.open_memmap(tmp_path / "image.npy", "w+", volume.dtype, volume.shape)
    mapped[...] = volume
    mapped.flush()
    dask_array = pytest.importorskip("dask.array", reason="the [cluster] extra (dask) is absent")
    sources = {
        "zarr": LazyVolume(stored, order=(2, 1, 0), cache_bytes=2**20),
        "memmap": LazyVolume(np.load(tmp_path / "image.npy", mmap_mode="r")),
        "dask": LazyVolume(dask_array.from_array(volume, chunks=(20, 24, 16))),
    }
    for name, lazy in sources.items():
        got = run_sequence(model, lazy[None])
        for step, (a, b) in enumerate(zip(expected, got, strict=True)):
            assert np.array_equal(a, b), f"{name}: step {step} differs in {(a != b).sum()} voxels"
