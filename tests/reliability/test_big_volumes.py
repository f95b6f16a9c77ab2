"""Big volumes: the memory estimate, the budget, and the refusal before set_image."""

from __future__ import annotations

import numpy as np
import pytest

from nni_jupyter.annotation import memory


def test_bytes_per_voxel_is_below_the_reference() -> None:
    assert memory.bytes_per_voxel(np.int16) == 6
    assert memory.bytes_per_voxel(np.float64) == 8
    assert memory.bytes_per_voxel(np.float32) < memory.REFERENCE_BYTES_PER_VOXEL == 19


def test_parse_bytes() -> None:
    assert memory.parse_bytes("8G") == 8 << 30
    assert memory.parse_bytes("512MiB") == 512 << 20
    assert memory.parse_bytes(1000) == 1000
    with pytest.raises(ValueError, match="8G"):
        memory.parse_bytes("lots")


def test_a_512x512x1000_int16_volume_fits_24_gib() -> None:
    needed = memory.check_fits((512, 512, 1000), np.int16, budget="24G")
    assert needed < 3 << 30


def test_refuses_with_the_numbers(monkeypatch) -> None:
    monkeypatch.setenv(memory.BUDGET_ENV, "2G")
    with pytest.raises(MemoryError, match=r"needs about 2\.5 GiB .* memory budget is 2\.0 GiB"):
        memory.check_fits((512, 512, 1000), np.int16)


def test_segmenter_refuses_before_set_image(make_session, image, monkeypatch) -> None:
    from nni_jupyter.widget import Segmenter

    session = make_session()
    called = []
    monkeypatch.setattr(session, "set_image", lambda *a, **k: called.append(1))
    with pytest.raises(MemoryError, match="memory_budget"):
        Segmenter(image, session=session, memory_budget="100M")
    assert not called


def test_a_lazy_image_larger_than_the_budget_opens_and_segments(
    make_session, tmp_path, monkeypatch
) -> None:
    """A 4 GiB memory-mapped image under a 1.75 GiB budget: refused in memory, segmented lazily
    (the file is sparse on disk: only the object's bytes are written)."""
    from nni_jupyter.data import phantom
    from nni_jupyter.volumes import LazyVolume, SparseVolume
    from nni_jupyter.widget import Segmenter

    shape, corner = (2048, 1024, 1024), (1000, 480, 500)
    mapped = np.lib.format.open_memmap(tmp_path / "big.npy", "w+", np.int16, shape)
    blob = phantom((48, 48, 48), seed=3)[0].astype(np.int16)
    mapped[tuple(slice(c, c + 48) for c in corner)] = blob
    mapped.flush()
    del mapped
    monkeypatch.setenv(memory.BUDGET_ENV, "1.75G")
    image = np.load(tmp_path / "big.npy", mmap_mode="r")
    assert image.nbytes > 2 * memory.parse_bytes("1.75G")
    with pytest.raises(MemoryError, match=r"needs about 13\.0 GiB .*memory budget is 1\.8 GiB"):
        Segmenter(np.broadcast_to(np.int16(1), shape), session=make_session())  # not copied
    seg = Segmenter(image, session=make_session())
    try:
        assert isinstance(seg.annotation.volume, LazyVolume)
        seg.add_point([c + 24 for c in corner])
        labels = seg.labels
        assert isinstance(labels, SparseVolume) and labels.read_only
        assert labels.counts()[1] > 100  # the prompt found the phantom's object
        box = labels.nonzero_bbox()
        assert box is not None  # written around the prompt only:
        assert all(lo <= c + 24 < hi < lo + 256 for c, (lo, hi) in zip(corner, box, strict=True))
        store = seg.annotation.runner.store.owner
        assert isinstance(store, SparseVolume) and store.stored_nbytes < 8 << 20
    finally:
        seg.close()
