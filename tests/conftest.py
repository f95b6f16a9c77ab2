"""Suite-wide: measured precision choices (``precision="auto"`` on a CPU) go to a temporary
folder, never to the user's cache, and are measured afresh in each run of the suite. The
OpenVINO candidate (an export on a thread per network's weights) is off except in the tests
that turn it on (``tests/inference/test_openvino.py``): the suite's hundreds of tiny random
networks would each be exported."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

#: ``nni_jupyter.inference.tuning.CACHE_ENV``, spelled out so that collecting the suite does not
#: import torch (tests/inference/test_tuning.py checks that the two agree)
CACHE_ENV = "NNI_JUPYTER_CACHE_DIR"
#: ``nni_jupyter.inference.openvino_backend.ENV``
OPENVINO_ENV = "NNI_JUPYTER_OPENVINO"


@pytest.fixture(autouse=True, scope="session")
def tuning_cache() -> Iterator[None]:
    before = {name: os.environ.get(name) for name in (CACHE_ENV, OPENVINO_ENV)}
    with tempfile.TemporaryDirectory(prefix="nni_jupyter_cache_") as folder:
        os.environ[CACHE_ENV] = folder
        os.environ[OPENVINO_ENV] = "0"
        yield
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
