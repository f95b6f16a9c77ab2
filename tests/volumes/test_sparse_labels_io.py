"""Sparse label maps go to Zarr and OME-Zarr chunk by chunk, and chunks without labels stay out."""

from __future__ import annotations

import numpy as np
import pytest

import nni_jupyter as nj
from nni_jupyter.volumes import SparseVolume

zarr = pytest.importorskip("zarr", reason="the [zarr] extra (zarr, ome-zarr) is not installed")

SHAPE = (48, 40, 32)


@pytest.fixture
def labels() -> SparseVolume:
    volume = SparseVolume(SHAPE, np.uint16, chunks=(8, 8, 8))
    volume[2:10, 3:7, 4:6] = 1
    volume[30:33, 30:40, 20:21] = 300
    return volume


def test_a_plain_zarr_array_holds_only_the_chunks_with_labels(tmp_path, labels):
    from nni_jupyter.exports.zarr_labels import write_zarr_labels

    path = write_zarr_labels(tmp_path / "labels.zarr", labels)
    array = zarr.open_array(str(path), mode="r")
    assert array.shape == SHAPE and array.chunks == (8, 8, 8) and array.dtype == np.uint16
    assert array.nchunks_initialized == labels.stored_chunks < array.nchunks
    assert np.array_equal(array[...], np.asarray(labels))


def test_ome_zarr_labels_are_written_without_the_dense_map(tmp_path, labels, monkeypatch):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Label, Reader

    from nni_jupyter.exports.zarr_labels import add_ome_zarr_labels, write_ome_zarr

    image = nj.data.phantom(SHAPE, seed=1)[0].astype(np.int16)
    empty = np.zeros(SHAPE, np.uint16)
    path = write_ome_zarr(nj.Image(image, (1.0, 1.0, 2.0)), empty, tmp_path / "i.ome.zarr")
    expected = np.asarray(labels)

    def whole(*args, **kwargs):
        raise AssertionError("the label map was made dense")

    monkeypatch.setattr(SparseVolume, "__array__", whole)
    add_ome_zarr_labels(path, labels, names={300: "big id"}, label_name="sparse")
    monkeypatch.undo()
    nodes = list(Reader(parse_url(str(path)))())
    found = [n for n in nodes if any(isinstance(s, Label) for s in n.specs)]
    (label,) = [n for n in found if n.zarr.path.rstrip("/").endswith("sparse")]
    assert np.array_equal(np.asarray(label.data[0]).transpose(2, 1, 0), expected)
    assert label.metadata["properties"][300]["name"] == "big id"
    stored = zarr.open_array(str(path / "labels" / "sparse" / "s0"), mode="r")
    assert 0 < stored.nchunks_initialized < stored.nchunks  # empty chunks were not stored
