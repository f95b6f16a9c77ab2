"""Big volumes: the memory estimate, the budget, and the refusal before set_image."""

from __future__ import annotations

import numpy as np
import pytest

from nni_jupyter.widget import memory


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
