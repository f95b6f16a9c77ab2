"""nni_jupyter.measure on shapes whose numbers are known."""

from __future__ import annotations

import numpy as np
import pytest

from nni_jupyter.measurements import measure


def _two_boxes() -> np.ndarray:
    labels = np.zeros((20, 16, 12), np.uint16)
    labels[2:6, 3:5, 1:2] = 1  # 4 x 2 x 1 = 8 voxels, centroid (3.5, 3.5, 1)
    labels[10:20, 0:16, 4:10] = 3  # 10 x 16 x 6 = 960 voxels, centroid (14.5, 7.5, 6.5)
    return labels


def test_label_map_voxels_volume_bbox_and_centroids() -> None:
    rows = measure(_two_boxes(), (0.5, 2.0, 3.0), as_dataframe=False)
    assert [row["label"] for row in rows] == [1, 3]
    first, second = rows
    assert first["name"] == "object 1"
    assert first["voxels"] == 8
    assert first["volume_ml"] == pytest.approx(8 * 0.5 * 2.0 * 3.0 / 1000)
    assert first["bbox"] == [[2, 6], [3, 5], [1, 2]]
    assert first["centroid_voxel"] == pytest.approx((3.5, 3.5, 1.0))
    assert first["centroid_mm"] == pytest.approx((1.75, 7.0, 3.0))
    assert second["voxels"] == 960
    assert second["bbox"] == [[10, 20], [0, 16], [4, 10]]
    assert second["centroid_voxel"] == pytest.approx((14.5, 7.5, 6.5))


def test_a_sparse_label_map_measures_as_the_dense_one_without_being_made_dense(
    monkeypatch,
) -> None:
    from nni_jupyter.volumes import SparseVolume

    labels = _two_boxes()
    rng = np.random.default_rng(0)
    labels[rng.random(labels.shape) < 0.05] = 7  # scattered over many chunks
    sparse = SparseVolume.from_array(labels, chunks=(8, 8, 8))

    def dense(*_args, **_kwargs):
        raise AssertionError("the sparse label map was made dense")

    monkeypatch.setattr(SparseVolume, "__array__", dense)
    got = measure(sparse, (0.5, 2.0, 3.0), {3: "box"}, as_dataframe=False)
    want = measure(labels, (0.5, 2.0, 3.0), {3: "box"}, as_dataframe=False)
    assert [row["label"] for row in got] == [1, 3, 7]
    for mine, theirs in zip(got, want, strict=True):
        assert mine.keys() == theirs.keys()
        for key in mine:
            assert (
                mine[key] == pytest.approx(theirs[key])
                if "centroid" in key
                else mine[key] == theirs[key]
            )


def test_origin_and_direction_place_the_centroid_in_the_physical_frame() -> None:
    direction = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    (row,) = measure(
        _two_boxes() == 1,
        (0.5, 2.0, 3.0),
        origin_mm=(10.0, 20.0, 30.0),
        direction=direction,
        as_dataframe=False,
    )
    # Index (3.5, 3.5, 1) scaled to (1.75, 7, 3) mm; axis 0 runs along +y, axis 1 along -x.
    assert row["centroid_mm"] == pytest.approx((10.0 - 7.0, 20.0 + 1.75, 30.0 + 3.0))


def test_image_geometry_is_taken_from_an_image() -> None:
    pytest.importorskip("SimpleITK", reason="needs the [io] extra: pip install nni_jupyter[io]")
    from nni_jupyter.io import Image

    labels = _two_boxes()
    image = Image(np.zeros(labels.shape, np.int16), (0.5, 2.0, 3.0), (1.0, 2.0, 3.0))
    (first, _) = measure(labels, image, as_dataframe=False)
    assert first["centroid_mm"] == pytest.approx((1.0 + 1.75, 2.0 + 7.0, 3.0 + 3.0))
    assert first["volume_ml"] == pytest.approx(0.024)


def test_masks_list_stack_and_dict_keep_empty_objects_and_names() -> None:
    labels = _two_boxes()
    masks = [labels == 1, np.zeros_like(labels, dtype=np.uint8), labels == 3]
    from_list = measure(masks, names=["lesion", "nothing", "organ"], as_dataframe=False)
    from_stack = measure(np.stack(masks), as_dataframe=False)
    from_dict = measure(
        dict(zip(["lesion", "nothing", "organ"], masks, strict=True)), as_dataframe=False
    )
    for rows in (from_list, from_stack, from_dict):
        assert [row["voxels"] for row in rows] == [8, 0, 960]
        assert rows[1]["bbox"] is None and rows[1]["centroid_mm"] is None
        assert rows[1]["volume_ml"] == 0.0
    assert [row["name"] for row in from_dict] == ["lesion", "nothing", "organ"]
    assert from_list[2]["name"] == "organ" and from_stack[2]["name"] == "object 3"


def test_dataframe_when_pandas_is_installed() -> None:
    pd = pytest.importorskip("pandas", reason="DataFrame output needs pandas")
    frame = measure(_two_boxes(), (1.0, 1.0, 1.0), names=["a", "b"])
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.index) == [1, 3]
    assert frame.loc[3, "voxels"] == 960
    assert frame.loc[3, "volume_ml"] == pytest.approx(0.96)
    assert list(frame["name"]) == ["a", "b"]


def test_errors_say_what_was_expected() -> None:
    with pytest.raises(ValueError, match="3 positive numbers"):
        measure(_two_boxes(), (1.0, 1.0))
    with pytest.raises(ValueError, match="2 names for 1 objects \\[1\\]"):
        measure(_two_boxes() == 1, names=["a", "b"])
    with pytest.raises(ValueError, match="integers"):
        measure(np.zeros((3, 3, 3), np.float32))
    with pytest.raises(ValueError, match="one shape"):
        measure([np.zeros((3, 3, 3)), np.zeros((3, 3, 4))])
    with pytest.raises(ValueError, match="shape \\(3, 3\\)"):
        measure(np.zeros((3, 3), np.uint8))


def test_names_by_label_suit_sparse_label_maps() -> None:
    rows = measure(_two_boxes(), names={3: "organ", 7: "absent"}, as_dataframe=False)
    assert [(row["label"], row["name"]) for row in rows] == [(1, "object 1"), (3, "organ")]
