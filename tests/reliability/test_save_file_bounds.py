"""Save files that claim more than they hold are refused within bounded memory, and a file whose
object ids outgrow its label map's dtype loads widened (issue 26, cases 8 and 18)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

import nni_jupyter as nj
from nni_jupyter.annotation import persistence

ROOT = str(Path(nj.__file__).parents[1])


def _meta(shape: tuple[int, ...], **changes) -> dict:
    meta = {
        "format": persistence.FORMAT,
        "version": persistence.VERSION,
        "shape": list(shape),
        "image_dtype": "<i2",
        "image_fingerprint": "0" * 32,
        "objects": [
            {"id": 1, "name": "liver", "color": [230, 159, 0], "class_id": 1, "visible": True}
        ],
        "active_object": 1,
        "overlap": "lock",
        "spacing_mm": [1.0, 1.0, 1.0],
        "window": [40.0, 400.0],
        "prompts": [],
        "stamps": [],
    }
    meta.update(changes)
    return meta


def _npy_header(shape: tuple, dtype: str) -> bytes:
    text = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode("latin1")
    text += b" " * (64 - (10 + len(text) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text


def _member(archive: zipfile.ZipFile, name: str, header: bytes, data_bytes: int) -> None:
    """A member of ``data_bytes`` zeros after its header, streamed (never held whole)."""
    with archive.open(name, "w", force_zip64=True) as member:
        member.write(header)
        block = bytes(1 << 20)
        for start in range(0, data_bytes, len(block)):
            member.write(block[: min(len(block), data_bytes - start)])


def _member_array(archive: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    with archive.open(name, "w", force_zip64=True) as member:
        np.lib.format.write_array(member, array)


def table_bomb(path: Path) -> Path:
    """A 256³ image's file claiming a chunk table of 16 M entries (chunks of one voxel)."""
    shape, entries = (256, 256, 256), 256**3
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        meta = _meta(shape, owner_chunks=[1, 1, 1])
        _member_array(archive, "meta.npy", np.array(json.dumps(meta)))
        _member(archive, "owner_at.npy", _npy_header((entries, 3), "<i8"), entries * 24)
        _member(archive, "owner_chunks.npy", _npy_header((entries, 1, 1, 1), "|u1"), entries)
    return path


def chunks_bomb(path: Path) -> Path:
    """A 1024x1024x512 image's file whose every chunk of its grid is stored, all empty: 512 MiB
    of zeros in a small file."""
    shape, edge = (1024, 1024, 512), [16, 16, 16]
    grid = [s // e for s, e in zip(shape, edge, strict=True)]
    at = np.indices(grid).reshape(3, -1).T.astype(np.int64)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        _member_array(archive, "meta.npy", np.array(json.dumps(_meta(shape, owner_chunks=edge))))
        _member_array(archive, "owner_at.npy", at)
        header = _npy_header((len(at), *edge), "|u1")
        _member(archive, "owner_chunks.npy", header, len(at) * 16**3)
    return path


MEASURED_LOAD = """
import json, resource, sys, time
from nni_jupyter.annotation import persistence
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    snapshot = persistence.read_snapshot(sys.argv[1])
    error, stored = None, snapshot.owner.stored_chunks
except ValueError as caught:
    error, stored = str(caught), None
seconds = time.perf_counter() - start
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"error": error, "stored": stored, "seconds": seconds, "grown_mb": grown / 1024}))
"""


def _measure(path: Path) -> dict:
    child = subprocess.run(
        [sys.executable, "-c", MEASURED_LOAD, str(path)],
        env=dict(os.environ, PYTHONPATH=ROOT),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    return json.loads(child.stdout.strip().splitlines()[-1])


def test_a_chunk_table_claiming_16m_entries_is_refused_at_once(tmp_path):
    path = table_bomb(tmp_path / "table.npz")
    assert path.stat().st_size < 2 << 20
    result = _measure(path)
    assert result["error"] and "finer than a save file's chunks" in result["error"], result
    assert result["seconds"] < 1.0 and result["grown_mb"] < 64, result


def test_stored_chunks_without_labels_cost_no_memory(tmp_path):
    path = chunks_bomb(tmp_path / "chunks.npz")
    assert path.stat().st_size < 4 << 20
    result = _measure(path)
    assert result["error"] is None and result["stored"] == 0, result
    assert result["grown_mb"] < 96, result  # the 512 MiB of zeros were never held


def test_an_object_id_above_255_with_a_uint8_label_map_loads_widened(make_session, image, tmp_path):
    from nni_jupyter.widget import Segmenter

    owner = np.zeros(image.shape, np.uint8)
    owner[2:6, 2:6, 2:6] = 7
    objects = [
        {"id": 7, "name": "kidney", "color": [0, 114, 178], "class_id": 1, "visible": True},
        {"id": 300, "name": "tumour", "color": [230, 159, 0], "class_id": 2, "visible": True},
    ]
    meta = _meta(image.shape, objects=objects, active_object=300)
    meta["image_fingerprint"] = persistence.image_fingerprint(image)
    meta["image_dtype"] = image.dtype.str
    path = tmp_path / "wide.npz"
    np.savez_compressed(path, owner=owner, meta=np.array(json.dumps(meta)))
    seg = Segmenter.load(path, image, session=make_session())
    try:
        seg.add_point((20, 18, 16))
        labels = np.asarray(seg.labels)
        assert labels.dtype == np.uint16
        assert (labels == 300).any() and (labels == 7).sum() == 4**3
    finally:
        seg.close()
