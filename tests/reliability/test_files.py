"""Hostile and unlucky files for nni_jupyter.io: truncated and lying NIfTI files, writers killed
mid-write, read-only targets, DICOM series with gaps, two acquisitions or mixed sizes."""

from __future__ import annotations

import ctypes
import gzip
import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sitk = pytest.importorskip("SimpleITK", reason="needs the [io] extra: pip install nni_jupyter[io]")

from _dicom_series import write_dicom_series  # noqa: E402

import nni_jupyter  # noqa: E402
from nni_jupyter.io import Image, read_image, write_image, write_mask  # noqa: E402

# children import the nni_jupyter these tests import
REPO = Path(nni_jupyter.__file__).resolve().parents[1]
SPACING = (0.8, 0.8, 2.5)
PR_CAPBSET_DROP = 24


def _volume(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-1000, 2000, size=shape).astype(np.int16)


def _drop_root_override() -> None:
    # root ignores file modes: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding
    # set, so the exec'd interpreter (still root) gets the permission checks every user gets
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def _run_child(code: str, timeout: float = 120, unprivileged: bool = False) -> dict:
    """Run ``code`` in a fresh interpreter importing this worktree; return its last JSON line."""
    preexec = _drop_root_override if unprivileged and os.geteuid() == 0 else None
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        preexec_fn=preexec,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- truncated files (issue 13, 1)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_truncated_nifti_is_an_error_naming_the_path(tmp_path: Path, suffix: str) -> None:
    path = write_image(Image(_volume((40, 36, 30)), SPACING), tmp_path / f"ct{suffix}")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated") as raised:
        read_image(path)
    assert str(path) in str(raised.value)


def test_complete_nifti_with_trailing_bytes_still_reads(tmp_path: Path) -> None:
    volume = _volume((10, 9, 8))
    path = write_image(Image(volume, SPACING), tmp_path / "ct.nii")
    with path.open("ab") as handle:
        handle.write(b"\0" * 16)
    np.testing.assert_array_equal(read_image(path).array, volume)


# ------------------------------------------------------------ header bombs (issue 13, 2)


def _header_bomb(path: Path, dims: tuple[int, int, int]) -> Path:
    """A small, valid NIfTI-1 file whose header then claims ``dims`` voxels (int16)."""
    write_image(Image(_volume((32, 32, 16))), path)
    raw = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    header = bytearray(raw)
    assert struct.unpack_from("<i", header, 0)[0] == 348
    struct.pack_into("<8h", header, 40, 3, *dims, 1, 1, 1, 1)
    data = bytes(header)
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


BOMB_CHILD = """
import json, resource, sys, time
import numpy, SimpleITK
from nni_jupyter.io import read_image
def vm_bytes():
    for line in open('/proc/self/status'):
        if line.startswith('VmSize:'):
            return int(line.split()[1]) * 1024
limit = vm_bytes() + (768 << 20)
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    read_image({path!r})
    outcome = ("read", "")
except Exception as error:
    outcome = (type(error).__name__, str(error))
elapsed = time.perf_counter() - start
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
print(json.dumps(dict(kind=outcome[0], message=outcome[1], seconds=elapsed, grown=grown)))
"""


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_header_bomb_is_refused_in_a_second_without_allocating(tmp_path: Path, suffix: str) -> None:
    path = _header_bomb(tmp_path / f"bomb{suffix}", (1024, 1024, 1024))
    assert path.stat().st_size < 40_000
    # the child may map at most 768 MiB more than it holds: reading 1024^3 int16 needs 2 GiB
    report = _run_child(BOMB_CHILD.format(path=str(path)))
    assert report["kind"] == "ValueError", report
    assert str(path) in report["message"] and "claims 1024x1024x1024" in report["message"], report
    assert "allocate" not in report["message"], report  # refused, not failed under the limit
    assert report["seconds"] < 1.0, report
    assert report["grown"] < 64 << 20, report


def test_image_beyond_the_memory_budget_is_refused_before_reading(tmp_path: Path) -> None:
    path = write_image(Image(np.zeros((256, 256, 128), np.int16)), tmp_path / "zeros.nii.gz")
    code = (
        "import os, json; os.environ['NNI_JUPYTER_MEMORY_BUDGET'] = '24M'\n"
        "from nni_jupyter.io import read_image\n"
        f"try:\n    read_image({str(path)!r}); kind, message = 'read', ''\n"
        "except Exception as error:\n    kind, message = type(error).__name__, str(error)\n"
        "print(json.dumps(dict(kind=kind, message=message)))\n"
    )
    report = _run_child(code)
    assert report["kind"] == "MemoryError", report
    assert str(path) in report["message"] and "NNI_JUPYTER_MEMORY_BUDGET" in report["message"]


# ---------------------------------------------------------- atomic writes (issue 13, 3)


WRITER_CHILD = """
import numpy as np
from nni_jupyter.io import write_mask
mask = np.random.default_rng(1).integers(0, 2, size=(384, 384, 256)).astype(np.uint8)
write_mask(mask, {path!r})
"""


def _modified_or_temp(folder: Path, target: Path, stamp: tuple[int, int]) -> bool:
    stat = target.stat() if target.exists() else None
    if stat is None or (stat.st_mtime_ns, stat.st_size) != stamp:
        return True
    return any(p.name.startswith(f".{target.name}.tmp") for p in folder.iterdir())


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii"])
def test_writer_killed_mid_write_leaves_the_old_file_intact(tmp_path: Path, suffix: str) -> None:
    old = np.zeros((384, 384, 256), np.uint8)
    old[100:200, 100:200, 50:150] = 1
    target = write_mask(old, tmp_path / f"mask{suffix}")
    stamp = (target.stat().st_mtime_ns, target.stat().st_size)
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER_CHILD.format(path=str(target))],
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        deadline = time.monotonic() + 60
        while not _modified_or_temp(tmp_path, target, stamp):
            assert child.poll() is None and time.monotonic() < deadline, "the writer never started"
            time.sleep(0.002)
        assert child.poll() is None, "the writer finished before it could be killed mid-write"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    np.testing.assert_array_equal(read_image(target).array, old)


def test_write_leaves_no_temporary_and_keeps_usual_permissions(tmp_path: Path) -> None:
    target = write_mask(np.ones((4, 4, 4)), tmp_path / "mask.nii.gz")
    write_mask(np.zeros((4, 4, 4)), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mask.nii.gz"]
    umask = os.umask(0o022)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert read_image(target).array.sum() == 0


def test_two_file_formats_are_written_whole(tmp_path: Path) -> None:
    volume = _volume((6, 5, 4))
    for name in ("ct.mhd", "ct.nhdr"):
        write_image(Image(volume, SPACING), tmp_path / name)
        write_image(Image(volume + 1, SPACING), tmp_path / name)
        np.testing.assert_array_equal(read_image(tmp_path / name).array, volume + 1)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


# ------------------------------------------------------- read-only targets (issue 13, 5)

PERMISSION_CHILD = """
import json, numpy as np
from nni_jupyter.io import write_mask
try:
    write_mask(np.ones((4, 4, 4)), {path!r}); kind, message = 'written', ''
except Exception as error:
    kind, message = type(error).__name__, str(error)
print(json.dumps(dict(kind=kind, message=message)))
"""


@pytest.mark.parametrize("read_only", ["folder", "file"])
def test_read_only_target_says_permission_denied(tmp_path: Path, read_only: str) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    target = write_mask(np.zeros((4, 4, 4)), folder / "mask.nii.gz")
    before = target.read_bytes()
    target.chmod(0o444)
    if read_only == "folder":
        folder.chmod(0o555)
    else:
        folder.chmod(0o777)
    report = _run_child(PERMISSION_CHILD.format(path=str(target)), unprivileged=True)
    assert report["kind"] == "PermissionError", report
    assert f"permission denied: {target}" in report["message"], report
    assert target.read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["mask.nii.gz"]
    folder.chmod(0o755)


# ------------------------------------------------------------ DICOM series (issue 13, 4)

UID = "1.2.826.0.1.3680043.2.1125.77"


def _ct(shape: tuple[int, int, int] = (12, 10, 14)) -> Image:
    return Image(_volume(shape), SPACING, (-50.0, 20.0, 10.0))


def test_dicom_series_with_a_missing_slice_says_where_and_how(tmp_path: Path) -> None:
    image = _ct()
    write_dicom_series(image, tmp_path, UID, slices=[k for k in range(14) if k != 6])
    with pytest.raises(ValueError) as raised:
        read_image(tmp_path)
    message = str(raised.value)
    assert "not evenly spaced" in message and "gap of 5.0 mm between slices 5 and 6" in message
    assert "expected 2.5 mm" in message and "allow_gaps=True" in message

    filled = read_image(tmp_path, allow_gaps=True)
    assert filled.shape == image.shape
    np.testing.assert_allclose(filled.spacing_mm, SPACING, rtol=1e-6)
    np.testing.assert_allclose(filled.origin_mm, image.origin_mm, atol=1e-4)
    kept = [k for k in range(14) if k != 6]
    np.testing.assert_array_equal(filled.array[:, :, kept], image.array[:, :, kept])
    assert (filled.array[:, :, 6] == image.array.min()).all() or (
        filled.array[:, :, 6] == filled.array[:, :, kept].min()
    ).all()
    assert filled.metadata["nni_jupyter|missing_slices"] == "6"


def test_dicom_two_acquisitions_in_one_series_are_listed_and_selectable(tmp_path: Path) -> None:
    first, second = _ct(), Image(_volume((12, 10, 14), seed=5), SPACING, (-50.0, 20.0, 10.0))
    write_dicom_series(first, tmp_path, UID, acquisition=1)
    write_dicom_series(second, tmp_path, UID, acquisition=2)
    with pytest.raises(ValueError) as raised:
        read_image(tmp_path)
    message = str(raised.value)
    assert "AcquisitionNumber 1 (14 slices)" in message
    assert "AcquisitionNumber 2 (14 slices)" in message
    assert "acquisition=" in message
    chosen = read_image(tmp_path, acquisition=2)
    np.testing.assert_array_equal(chosen.array, second.array)
    np.testing.assert_allclose(chosen.spacing_mm, SPACING, rtol=1e-6)
    np.testing.assert_allclose(chosen.origin_mm, second.origin_mm, atol=1e-4)
    with pytest.raises(ValueError, match="acquisition 3 is not in"):
        read_image(tmp_path, acquisition=3)


def test_dicom_series_with_mixed_image_sizes_is_a_clear_value_error(tmp_path: Path) -> None:
    write_dicom_series(_ct(), tmp_path, UID, slices=range(7))
    small = Image(_volume((8, 10, 14)), SPACING, (-50.0, 20.0, 10.0))
    write_dicom_series(small, tmp_path, UID, slices=range(7, 14), acquisition=None)
    with pytest.raises(ValueError, match=r"slices of different sizes.*12x10.*7 files.*8x10"):
        read_image(tmp_path)
