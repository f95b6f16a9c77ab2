"""Suite-wide: measured precision choices (``precision="auto"`` on a CPU) go to a temporary
folder, never to the user's cache, and are measured afresh in each run of the suite."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

#: ``nni_jupyter.inference.tuning.CACHE_ENV``, spelled out so that collecting the suite does not
#: import torch (tests/inference/test_tuning.py checks that the two agree)
CACHE_ENV = "NNI_JUPYTER_CACHE_DIR"


@pytest.fixture(autouse=True, scope="session")
def tuning_cache() -> Iterator[None]:
    before = os.environ.get(CACHE_ENV)
    with tempfile.TemporaryDirectory(prefix="nni_jupyter_cache_") as folder:
        os.environ[CACHE_ENV] = folder
        yield
    if before is None:
        os.environ.pop(CACHE_ENV, None)
    else:
        os.environ[CACHE_ENV] = before
