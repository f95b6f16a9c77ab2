"""Hostile and unlucky save files: permissions, decompression bombs, damaged files, edited files,
and temporaries left by a killed writer (issue 13, items 6-10)."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nni_jupyter.annotation import persistence
from nni_jupyter.widget import Segmenter

POINT = (20, 18, 16)


def _meta(image: np.ndarray, **changes) -> dict:
    meta = {
        "format": persistence.FORMAT,
        "version": persistence.VERSION,
        "shape": list(image.shape),
        "image_dtype": image.dtype.str,
        "image_fingerprint": persistence.image_fingerprint(image),
        "objects": [
            {"id": 1, "name": "liver", "color": [230, 159, 0], "class_id": 1, "visible": True}
        ],
        "active_object": 1,
        "overlap": "lock",
        "spacing_mm": [1.0, 1.0, 1.0],
        "window": [40.0, 400.0],
        "prompts": [{"kind": "prompt", "tool": "point", "positive": True, "point": [7, 7, 16]}],
    }
    meta.update(changes)
    if isinstance(meta["prompts"], list):  # one stamp per record item (format version 2)
        stamp = {
            "object": 1,
            "time": "2026-01-02T03:04:05+00:00",
            "applied": True,
            "overlap": "lock",
        }
        meta.setdefault("stamps", [stamp] * len(meta["prompts"]))
    return meta


def _write(path: Path, owner: np.ndarray, meta: dict) -> Path:
    np.savez_compressed(path, owner=owner, meta=np.array(json.dumps(meta)))
    return path


def _npy_header(shape: tuple, dtype: str) -> bytes:
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    text = repr(header).encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    text += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text


def _write_member(archive: zipfile.ZipFile, name: str, header: bytes, zeros: int) -> None:
    # streamed, so that the test itself never holds the bomb in memory
    with archive.open(name, "w", force_zip64=True) as member:
        member.write(header)
        chunk = bytes(1 << 20)
        for start in range(0, zeros, len(chunk)):
            member.write(chunk[: min(len(chunk), zeros - start)])


# ---- 6: permissions ---------------------------------------------------------------------------


def test_save_refuses_to_replace_a_read_only_file(make_segmenter, tmp_path):
    seg = make_segmenter()
    path = seg.save(tmp_path / "work.npz")
    before = path.read_bytes()
    path.chmod(0o444)
    seg.add_point(POINT)
    with pytest.raises(PermissionError, match=f"read-only.*{path}"):
        seg.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work.npz"]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_a_new_save_file_has_the_usual_permissions(make_segmenter, tmp_path, umask, mode):
    seg = make_segmenter()
    old = os.umask(umask)
    try:
        path = seg.save(tmp_path / "work.npz")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode


def test_saving_over_a_file_keeps_its_permissions(make_segmenter, tmp_path):
    seg = make_segmenter()
    path = seg.save(tmp_path / "work.npz")
    path.chmod(0o640)
    seg.save(path)
    assert path.stat().st_mode & 0o777 == 0o640


# ---- 7: decompression bombs -------------------------------------------------------------------


def _peak_bytes_while(call) -> tuple[int, float, BaseException | None]:
    tracemalloc.start()
    start = time.perf_counter()
    error = None
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - the caller asserts on it
        error = exc
    elapsed = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, elapsed, error


def test_a_labels_bomb_is_refused_from_its_header_without_decompressing(image, tmp_path):
    # a (512, 512, 512) map (128 MiB) in 128 kB on disk; the image is (40, 36, 32)
    shape = (512, 512, 512)
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        _write_member(archive, "owner.npy", _npy_header(shape, "|u1"), int(np.prod(shape)))
        meta = json.dumps(_meta(image, shape=list(shape)))
        archive.writestr("meta.npy", _npy_header((), f"<U{len(meta)}") + meta.encode("utf-32-le"))
    assert path.stat().st_size < 1 << 20
    peak, elapsed, error = _peak_bytes_while(lambda: Segmenter.load(path, image))
    assert isinstance(error, ValueError), error
    assert str(path) in str(error) and "(512, 512, 512)" in str(error)
    assert "(40, 36, 32)" in str(error)
    assert peak < 4 << 20 and elapsed < 1.0


def test_a_labels_entry_larger_than_its_header_says_is_refused(image, tmp_path):
    path = tmp_path / "padded.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        # a correct header, then 64 MiB where 46,080 bytes are expected
        _write_member(archive, "owner.npy", _npy_header(image.shape, "|u1"), 64 << 20)
        meta = json.dumps(_meta(image))
        archive.writestr("meta.npy", _npy_header((), f"<U{len(meta)}") + meta.encode("utf-32-le"))
    peak, elapsed, error = _peak_bytes_while(lambda: persistence.read(path))
    assert isinstance(error, ValueError), error
    assert str(path) in str(error) and "owner" in str(error) and "bytes" in str(error)
    assert peak < 4 << 20 and elapsed < 1.0


def test_a_meta_bomb_is_refused_from_its_header(image, tmp_path):
    path = tmp_path / "meta-bomb.npz"
    chars = persistence.MAX_META_BYTES // 4 + (1 << 20)  # 260 MiB of UTF-32 in 260 kB on disk
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("owner.npy", _npy_header(image.shape, "|u1") + bytes(image.size))
        _write_member(archive, "meta.npy", _npy_header((), f"<U{chars}"), 4 * chars)
    peak, elapsed, error = _peak_bytes_while(lambda: persistence.read(path))
    assert isinstance(error, ValueError), error
    assert str(path) in str(error) and "meta" in str(error)
    assert peak < 4 << 20 and elapsed < 1.0


def test_labels_of_another_dtype_are_refused_before_decompressing(image, tmp_path):
    path = _write(tmp_path / "int64.npz", np.zeros(image.shape, np.int64), _meta(image))
    with pytest.raises(ValueError, match=r"owner.*uint8.*int64"):
        persistence.read(path)


# ---- 8: damaged and foreign files -------------------------------------------------------------


@pytest.fixture
def saved(make_segmenter, tmp_path) -> Path:
    seg = make_segmenter()
    seg.add_point(POINT)
    return seg.save(tmp_path / "work.npz")


def test_a_truncated_file_is_a_value_error_naming_the_path(saved, image):
    data = saved.read_bytes()
    for size in (len(data) // 2, len(data) - 30, 100):
        saved.write_bytes(data[:size])
        with pytest.raises(ValueError, match="not an nni_jupyter segmentation") as info:
            Segmenter.load(saved, image)
        assert str(saved) in str(info.value)


def test_a_corrupted_file_is_a_value_error_naming_the_path(saved, image):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as archive:
        owner = archive.getinfo("owner.npy")
    # the compressed labels, past their local header
    middle = owner.header_offset + 30 + len(owner.filename) + owner.compress_size // 2
    data[middle : middle + 8] = bytes(8) if any(data[middle : middle + 8]) else b"\xff" * 8
    saved.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged") as info:
        Segmenter.load(saved, image)
    assert str(saved) in str(info.value)


@pytest.mark.parametrize("version", ["2", None, 1.5, True, 0, [1]])
def test_a_malformed_version_is_a_value_error(image, tmp_path, version):
    owner = np.zeros(image.shape, np.uint8)
    path = _write(tmp_path / "v.npz", owner, _meta(image, version=version))
    with pytest.raises(ValueError, match=rf"version.*{persistence.VERSION}") as info:
        persistence.read(path)
    assert str(path) in str(info.value)


def test_a_nifti_given_to_load_says_what_it_is_not(image, tmp_path):
    from nni_jupyter.io import write_image

    for name in ("scan.nii.gz", "scan.nii"):
        path = write_image(image, tmp_path / name)
        with pytest.raises(ValueError, match="not an nni_jupyter segmentation") as info:
            Segmenter.load(path, image)
        assert str(path) in str(info.value) and "pickle" not in str(info.value)
        assert ".npz" in str(info.value)


# ---- 9: the whole file is checked before a Segmenter exists -----------------------------------


def _live_segmenters() -> int:
    gc.collect()
    # type() and issubclass, not isinstance: no __class__ lookups on lazy modules
    return sum(issubclass(type(o), Segmenter) for o in gc.get_objects())


def _object(**changes) -> dict:
    return {"id": 1, "name": "liver", "color": [230, 159, 0], "class_id": 1, **changes}


EDITS = {
    "unknown prompt key": dict(prompts=[{"kind": "prompt", "tool": "point", "where": [1, 2, 3]}]),
    "unknown command": dict(prompts=[{"kind": "command", "name": "explode"}]),
    "object id 70000": dict(objects=[_object(id=70000)], active_object=70000),
    "object id 0": dict(objects=[_object(id=0)], active_object=0),
    "class id 70000": dict(objects=[_object(class_id=70000)]),
    "colour red": dict(objects=[_object(color="red")]),
    "colour 256": dict(objects=[_object(color=[256, 0, 0])]),
    "missing objects": dict(objects=None),
    "NaN window": dict(window=[float("nan"), float("inf")]),
    "zero spacing": dict(spacing_mm=[1.0, 0.0, 1.0]),
    "unknown overlap": dict(overlap="merge"),
    "active without object": dict(active_object=9),
}
EXPECTED = {
    "unknown prompt key": r"prompts\[0\].*where",
    "unknown command": r"prompts\[0\].*explode",
    "object id 70000": r"1\.\.65535",
    "object id 0": r"1\.\.65535",
    "class id 70000": r"class_id.*0\.\.65535",
    "colour red": "colou?r",
    "colour 256": "colou?r",
    "missing objects": "objects",
    "NaN window": "window",
    "zero spacing": "spacing",
    "unknown overlap": "overlap",
    "active without object": "active object",
}


@pytest.mark.parametrize("case", sorted(EDITS))
def test_an_edited_file_fails_before_any_segmenter_exists(make_session, image, tmp_path, case):
    meta = _meta(image, **EDITS[case])
    if meta["objects"] is None:
        del meta["objects"]
    path = _write(tmp_path / "edited.npz", np.zeros(image.shape, np.uint8), meta)
    session = make_session()
    segmenters, threads = _live_segmenters(), threading.active_count()
    with pytest.raises(ValueError, match=EXPECTED[case]) as info:
        Segmenter.load(path, image, session=session)
    assert str(path) in str(info.value)
    assert _live_segmenters() == segmenters
    assert threading.active_count() == threads
    assert session.target_buffer is None  # the session was never given the image


def test_label_values_without_an_object_fail_before_any_segmenter_exists(make_session, image,
                                                                        tmp_path):  # fmt: skip
    owner = np.zeros(image.shape, np.uint8)
    owner[1, 1, 1] = 4
    path = _write(tmp_path / "stray.npz", owner, _meta(image))
    segmenters = _live_segmenters()
    with pytest.raises(ValueError, match=r"without an object \[4\]"):
        Segmenter.load(path, image, session=make_session())
    assert _live_segmenters() == segmenters


# ---- 10: temporaries of a killed writer -------------------------------------------------------

_WRITER = """
import sys, time
import numpy as np
from pathlib import Path
from nni_jupyter.annotation import persistence

def stalled(handle, **arrays):
    handle.write(b"PK partial write")
    handle.flush()
    print("writing", flush=True)
    time.sleep(120)

np.savez_compressed = stalled
persistence.write_atomic(Path(sys.argv[1]), {"owner": np.zeros((2, 2, 2), np.uint8)}, {})
"""


def _stalled_writer(path: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    assert writer.stdout.readline().strip() == "writing"
    return writer


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_the_next_save_removes_temporaries_of_a_killed_writer(make_segmenter, tmp_path):
    path = tmp_path / "auto.npz"
    seg = make_segmenter(autosave=path)
    foreign = [".auto.npz.tmp", ".other.npz.abcd1234.tmp", ".auto.npz.notours-x.tmp"]
    for name in foreign:
        (tmp_path / name).write_bytes(b"not ours")
    writer = _stalled_writer(path)
    try:
        (ours,) = set(_temporaries(tmp_path)) - set(foreign)
        seg.add_point(POINT)  # autosave while the other writer is still writing
        assert ours in _temporaries(tmp_path), "a temporary being written was removed"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    assert ours in _temporaries(tmp_path)  # what the killed writer left behind
    seg.add_point((8, 8, 8))
    assert _temporaries(tmp_path) == sorted(foreign)
    assert np.array_equal(persistence.read(path)[0], seg.labels)
