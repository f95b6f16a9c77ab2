"""nni_jupyter.cluster without Dask: an error that names the extra to install."""

from __future__ import annotations

import importlib
import sys

import pytest


def test_missing_dask_names_the_cluster_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if it were not installed
    monkeypatch.delitem(sys.modules, "nni_jupyter.cluster", raising=False)
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'nni_jupyter\[cluster\]'"):
        importlib.import_module("nni_jupyter.cluster")
