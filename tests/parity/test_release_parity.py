"""The official release's checkpoint format: ours and the reference load the same folder and give
the same masks (the reference unpickles it with ``weights_only=False``; we never do)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from _parity_sequence import run_both
from _release_checkpoint import convert_to_release

pytestmark = pytest.mark.parity


@pytest.mark.parametrize("naming", ["1", "2"])
def test_release_format_gives_the_reference_masks(
    tiny_model: Path, phantom_image: np.ndarray, tmp_path: Path, naming: str
) -> None:
    folder = convert_to_release(Path(shutil.copytree(tiny_model, tmp_path / "m")), naming)
    results = run_both(folder, phantom_image, autozoom=False, only=("point+", "bbox z"))
    assert [name for name, _, _ in results] == ["point+", "bbox z"]
    for name, agreement, dice in results:
        print(f"release numpy {naming}.x  {name:8s} agreement {agreement:.6f}  dice {dice:.4f}")
    assert all(agreement == 1.0 for _, agreement, _ in results), results
