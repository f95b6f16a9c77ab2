"""Lazy volumes that fail loudly instead of wrongly: OME-Zarr axes by name, a damaged chunk named,
a memory-mapped file cut short under a prompt (issue 26, cases 7, 10, 15)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from _tiny_model import demo_or_tiny_model

import nni_jupyter as nj
from nni_jupyter.volumes.lazy import ChunkError

zarr = pytest.importorskip("zarr", reason="needs the [zarr] extra (zarr, ome-zarr-py)")
ome_writer = pytest.importorskip("ome_zarr.writer", reason="needs the [zarr] extra (ome-zarr-py)")


def ome_zarr_with_axes(path: Path, stored: np.ndarray, names: str) -> Path:
    """An OME-Zarr image written by ome-zarr-py, its spatial axes stored in ``names`` order."""
    root = zarr.open_group(str(path), mode="w")
    axes = [{"name": n, "type": "space", "unit": "millimeter"} for n in names]
    scale = [[{"type": "scale", "scale": [1.0, 2.0, 3.0]}]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ome_writer.write_multiscale([stored], root, axes=axes, coordinate_transformations=scale)
    return path


def test_ome_zarr_axes_are_read_by_their_names(tmp_path):
    xyz = np.arange(4 * 5 * 6, dtype=np.uint16).reshape(4, 5, 6)  # [X, Y, Z]
    as_xyz = nj.read_image(ome_zarr_with_axes(tmp_path / "xyz.zarr", xyz, "xyz"))
    assert as_xyz.shape == (4, 5, 6) and np.array_equal(np.asarray(as_xyz.array), xyz)
    assert as_xyz.spacing_mm == (1.0, 2.0, 3.0)  # scale follows the stored order x, y, z
    zyx = xyz.transpose(2, 1, 0)
    as_zyx = nj.read_image(ome_zarr_with_axes(tmp_path / "zyx.zarr", zyx, "zyx"))
    assert np.array_equal(np.asarray(as_zyx.array), xyz)
    assert as_zyx.spacing_mm == (3.0, 2.0, 1.0)
    yzx = xyz.transpose(1, 2, 0)
    as_yzx = nj.read_image(ome_zarr_with_axes(tmp_path / "yzx.zarr", yzx, "yzx"))
    assert np.array_equal(np.asarray(as_yzx.array), xyz)


def test_ome_zarr_spatial_axes_not_named_x_y_z_are_refused(tmp_path):
    path = ome_zarr_with_axes(tmp_path / "abc.zarr", np.zeros((4, 5, 6), np.uint8), "zyx")
    attrs = json.loads((path / "zarr.json").read_text(encoding="utf-8"))
    for axis, name in zip(attrs["attributes"]["ome"]["multiscales"][0]["axes"], "abc", strict=True):
        axis["name"] = name
    (path / "zarr.json").write_text(json.dumps(attrs), encoding="utf-8")
    with pytest.raises(ValueError, match=r"named x, y and z .*\['a', 'b', 'c'\]"):
        nj.read_image(path)


def test_a_damaged_zarr_chunk_is_an_error_naming_the_store_and_the_chunk(tmp_path):
    path = tmp_path / "image.zarr"
    array = zarr.create_array(str(path), shape=(8, 8, 8), chunks=(4, 4, 4), dtype="u2")
    array[...] = np.arange(512, dtype=np.uint16).reshape(8, 8, 8)
    (path / "c" / "0" / "1" / "0").write_bytes(b"not a zstd frame")
    volume = nj.volumes.LazyVolume(zarr.open_array(str(path), mode="r"))
    assert volume[0:4, 0:4, 0:4].sum() > 0  # the other chunks read
    with pytest.raises(ChunkError, match=r"chunk \(0, 1, 0\) of file://.*image\.zarr.*\[0:4, 4:8"):
        volume[0:4, 4:8, 0:4]


TRUNCATED_UNDER_A_PROMPT = """
import json, os, sys
import numpy as np
import nni_jupyter as nj
from nni_jupyter.inference import nnInteractiveInferenceSession
path, model = sys.argv[1], sys.argv[2]
shape = (48, 48, 40)
written = np.memmap(path, dtype=np.float32, mode="w+", shape=shape)
written[:] = nj.data.phantom((48, 48, 40), seed=1)[0]
written.flush()
del written
image = np.memmap(path, dtype=np.float32, mode="r", shape=shape)
session = nnInteractiveInferenceSession(device="cpu", torch_n_threads=1, do_autozoom=False)
session.initialize_from_trained_model_folder(model)
seg = nj.Segmenter(image, session=session)
seg.add_point((24, 24, 20))
before = np.asarray(seg.labels).copy()
os.truncate(path, 4096)
try:
    seg.add_point((10, 30, 12))
    raised = None
except Exception as error:
    raised = f"{type(error).__name__}: {error}"
after = np.asarray(seg.labels)
print(json.dumps({"raised": raised, "error": seg.error, "kept": bool(np.array_equal(before, after)),
                  "labelled": int(np.count_nonzero(before))}))
seg.close()
"""


def test_a_memory_mapped_image_cut_short_under_a_prompt_is_an_error_not_a_crash(tmp_path):
    model = demo_or_tiny_model(tmp_path / "model", "Apache-2.0")
    env = dict(os.environ, PYTHONPATH=str(Path(nj.__file__).parents[1]), OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", TRUNCATED_UNDER_A_PROMPT, str(tmp_path / "image.raw"), str(model)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"the process died ({done.returncode}): {done.stderr[-2000:]}"
    result = json.loads(done.stdout.strip().splitlines()[-1])
    said = f"{result['raised']} {result['error']}"
    assert "cut short" in said and "image.raw" in said, result
    assert result["kept"] and result["labelled"] > 0, result
