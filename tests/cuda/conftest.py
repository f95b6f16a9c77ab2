"""Fixtures of the CUDA tests: the parity tests' model and image (``tests/_parity_models.py``).

``NNI_CUDA_TEST_SMALL=1`` (the CI dry run of ``bench/gpu.sh``, on the CPU) shrinks the liver
case and the Segmenter's volume, whose AutoZoom passes dominate the time there; the checks stay
the same.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from _parity_models import phantom_image, tiny_model  # noqa: F401

import nni_jupyter as nj

SMALL = os.environ.get("NNI_CUDA_TEST_SMALL") == "1"
#: The liver case's side: 160 on a GPU, 96 in the CPU dry run.
LIVER_SIDE = 96 if SMALL else 160


@pytest.fixture(scope="module")
def liver_case() -> tuple[np.ndarray, np.ndarray]:
    """A CT phantom (int16 HU, as ``[1, X, Y, Z]``) and its labels: the liver spans more than
    one 64^3 demo patch, so a box on it zooms out and refines."""
    image, labels = nj.data.phantom((LIVER_SIDE,) * 3, seed=3)
    return image[None], labels


@pytest.fixture(scope="module")
def segmenter_case() -> np.ndarray:
    """The Segmenter test's volume ``[X, Y, Z]``: a 96^3 phantom, 64^3 in the dry run. Its CPU
    half stays on the CPU on the GPU machine too: a point in the middle grows through many
    AutoZoom windows (a minute a prompt at 96^3 on two busy cores), so not the 160^3 liver."""
    side = 64 if SMALL else 96
    return nj.data.phantom((side, side, side), seed=3)[0]
