"""Image files read exactly as named, checked before they cost memory, and written whole even
as two files (issue 26, cases 5, 6, 7, 9). Files are read back with SimpleITK and nibabel."""

from __future__ import annotations

import gzip
import json
import os
import signal
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sitk = pytest.importorskip("SimpleITK", reason="needs the [io] extra: pip install nni_jupyter[io]")
nib = pytest.importorskip("nibabel", reason="needs nibabel (the [test] extra)")

import nni_jupyter as nj  # noqa: E402
from nni_jupyter.io import read_image, write_image  # noqa: E402

ROOT = str(Path(nj.__file__).parents[1])


def run_child(script: str, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env=dict(os.environ, PYTHONPATH=ROOT, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


PAUSED_WRITE = """
import os, sys, time
import numpy as np
from nni_jupyter.io import write_image
real, folder = os.replace, os.path.dirname(os.path.abspath(sys.argv[1]))
def replace(source, target):
    real(source, target)
    if os.path.dirname(os.path.abspath(target)) == folder:  # one file is in place
        print("between", flush=True)
        time.sleep(120)
os.replace = replace
write_image(np.full((6, 5, 4), 2, np.int16), sys.argv[1])
"""


@pytest.mark.parametrize("name", ["image.mhd", "image.nhdr"])
def test_a_two_file_write_killed_between_its_renames_leaves_the_old_image_whole(tmp_path, name):
    path = tmp_path / name
    old = np.arange(120, dtype=np.int16).reshape(6, 5, 4)
    write_image(old, path)
    writer = run_child(PAUSED_WRITE, str(path))
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "between"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
    assert any(p.name.startswith(f".{name}.tmp-") for p in tmp_path.iterdir())  # a leftover
    assert np.array_equal(read_image(path).array, old)
    assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(path))), old.T)
    new = np.ones((6, 5, 4), np.int16)
    write_image(new, path)  # the next write cleans what the killed one left
    assert np.array_equal(sitk.GetArrayFromImage(sitk.ReadImage(str(path))), new.T)
    header = path.read_bytes()
    named = [p.name for p in tmp_path.iterdir() if p.name.encode() in header]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, *named])


def test_read_image_reads_the_file_named_when_a_sibling_shares_its_base_name(tmp_path):
    write_image(np.ones((4, 4, 4), np.uint8), tmp_path / "x.nii.gz")
    write_image(np.full((4, 4, 4), 7, np.uint8), tmp_path / "x.nii")
    assert read_image(tmp_path / "x.nii.gz").array.max() == 1
    assert read_image(tmp_path / "x.nii").array.max() == 7
    assert np.asarray(nib.load(tmp_path / "x.nii.gz").dataobj).max() == 1
    # the truncation check applies to the file named, not to its sibling
    whole = (tmp_path / "x.nii.gz").read_bytes()
    (tmp_path / "x.nii.gz").write_bytes(gzip.compress(gzip.decompress(whole)[:400]))
    with pytest.raises(ValueError, match="truncated"):
        read_image(tmp_path / "x.nii.gz")


def test_a_nifti_header_with_a_negative_dimension_is_refused(tmp_path):
    path = tmp_path / "negative.nii"
    nib.save(nib.Nifti1Image(np.zeros((4, 32, 6), np.int16), np.eye(4)), path)
    raw = bytearray(path.read_bytes())
    struct.pack_into("<h", raw, 40 + 2 * 2, -32)  # dim[2]
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"dim\[2\] = -32"):
        read_image(path)


MEASURED_READ = """
import json, resource, sys, time
from nni_jupyter.io import read_image
import SimpleITK
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    read_image(sys.argv[1])
    error = None
except (ValueError, MemoryError) as caught:
    error = str(caught)
seconds = time.perf_counter() - start
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"error": error, "seconds": seconds, "grown_mb": grown / 1024}))
"""

CLAIM = "1024 1024 1024"


def nrrd_bomb(folder: Path, encoding: str) -> Path:
    payload = bytes(33 * 1024) if encoding == "raw" else gzip.compress(bytes(34 << 20), 9)
    header = (
        f"NRRD0004\ntype: uchar\ndimension: 3\nsizes: {CLAIM}\nencoding: {encoding}\n"
        "endian: little\n\n"
    )
    path = folder / f"bomb_{encoding}.nrrd"
    path.write_bytes(header.encode() + payload)
    return path


def mhd_bomb(folder: Path) -> Path:
    (folder / "bomb.raw").write_bytes(bytes(33 * 1024))
    path = folder / "bomb.mhd"
    path.write_text(
        "ObjectType = Image\nNDims = 3\nDimSize = 1024 1024 1024\nElementType = MET_UCHAR\n"
        "ElementDataFile = bomb.raw\n",
        encoding="ascii",
    )
    return path


@pytest.mark.parametrize("make", ["nrrd raw", "nrrd gzip", "mhd raw"])
def test_a_small_file_claiming_1024_cubed_is_refused_fast_with_bounded_memory(tmp_path, make):
    kind, encoding = make.split()
    path = nrrd_bomb(tmp_path, encoding) if kind == "nrrd" else mhd_bomb(tmp_path)
    assert path.stat().st_size < 64 * 1024
    # a budget far above the claim: the memory check alone would let it through
    child = run_child(MEASURED_READ, str(path), NNI_JUPYTER_MEMORY_BUDGET="64G")
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert result["error"] is not None and "truncated or its header is wrong" in result["error"]
    assert result["seconds"] < 1.0 and result["grown_mb"] < 64, result


def test_a_whole_nrrd_and_mha_still_read(tmp_path):
    volume = np.arange(6 * 5 * 4, dtype=np.uint16).reshape(6, 5, 4)
    for name in ("whole.nrrd", "whole.mha", "whole.nhdr"):
        write_image(volume, tmp_path / name)
        assert np.array_equal(read_image(tmp_path / name).array, volume)
