"""Round trips and axis order of nni_jupyter.io on files the tests write."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

sitk = pytest.importorskip("SimpleITK", reason="needs the [io] extra: pip install nni_jupyter[io]")

from _dicom_series import write_dicom_series  # noqa: E402

from nni_jupyter.io import Image, read_image, write_image, write_labels, write_mask  # noqa: E402

SPACING = (0.7, 0.9, 2.5)
ORIGIN = (-100.0, 20.5, 33.0)
# A rotation about z by 90 degrees: array axis 0 points along physical +y, axis 1 along -x.
DIRECTION = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def _volume(shape: tuple[int, int, int] = (12, 10, 7)) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(-1000, 2000, size=shape).astype(np.int16)


def _image(array: np.ndarray | None = None) -> Image:
    return Image(_volume() if array is None else array, SPACING, ORIGIN, DIRECTION)


def _assert_same_geometry(a: Image, b: Image) -> None:
    np.testing.assert_allclose(a.spacing_mm, b.spacing_mm, rtol=1e-6)
    np.testing.assert_allclose(a.origin_mm, b.origin_mm, atol=1e-4)
    np.testing.assert_allclose(a.direction, b.direction, atol=1e-6)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha"])
def test_image_round_trip_keeps_voxels_dtype_and_geometry(tmp_path: Path, suffix: str) -> None:
    image = _image()
    path = write_image(image, tmp_path / f"ct{suffix}")
    back = read_image(path)
    assert back.shape == image.shape
    assert back.array.dtype == np.int16
    np.testing.assert_array_equal(back.array, image.array)
    _assert_same_geometry(back, image)
    assert back.path == str(path)


def test_voxel_at_index_123_is_sitk_index_123_at_the_right_physical_point(tmp_path: Path) -> None:
    array = np.zeros((5, 6, 7), np.int16)
    array[1, 2, 3] = 42
    image = _image(array)
    path = write_image(image, tmp_path / "one_voxel.nii.gz")

    on_disk = sitk.ReadImage(str(path))
    assert on_disk.GetSize() == (5, 6, 7)
    assert on_disk.GetPixel(1, 2, 3) == 42
    assert sitk.GetArrayFromImage(on_disk)[3, 2, 1] == 42  # SimpleITK's arrays are [z, y, x]
    expected_point = on_disk.TransformIndexToPhysicalPoint((1, 2, 3))
    np.testing.assert_allclose(image.index_to_physical((1, 2, 3)), expected_point, atol=1e-4)

    back = read_image(path)
    assert back.array[1, 2, 3] == 42 and back.array.sum() == 42
    np.testing.assert_allclose(back.physical_to_index(expected_point), (1, 2, 3), atol=1e-4)


def test_index_to_physical_uses_direction_columns() -> None:
    image = _image(np.zeros((4, 4, 4), np.int16))
    # One step along array axis 0 moves spacing_x along the direction's first column (+y).
    step = image.index_to_physical((1, 0, 0)) - image.index_to_physical((0, 0, 0))
    np.testing.assert_allclose(step, (0.0, SPACING[0], 0.0), atol=1e-12)


def test_write_mask_is_uint8_01_with_the_image_geometry(tmp_path: Path) -> None:
    image = _image()
    mask = np.zeros(image.shape, bool)
    mask[2:5, 3:6, 1:4] = True
    path = write_mask(mask * 7, tmp_path / "mask.nii.gz", like=image)
    back = read_image(path)
    assert back.array.dtype == np.uint8
    np.testing.assert_array_equal(back.array, mask.astype(np.uint8))
    _assert_same_geometry(back, image)


def test_write_labels_is_uint16_with_the_image_geometry(tmp_path: Path) -> None:
    image = _image()
    labels = np.zeros(image.shape, np.int64)
    labels[0:3, 0:3, 0:3] = 1
    labels[6:9, 5:8, 2:6] = 300
    path = write_labels(labels, tmp_path / "labels.nrrd", like=image)
    back = read_image(path)
    assert back.array.dtype == np.uint16
    np.testing.assert_array_equal(back.array, labels)
    _assert_same_geometry(back, image)


def test_dicom_series_folder_round_trip(tmp_path: Path) -> None:
    image = _image()
    folder = tmp_path / "dicom"
    folder.mkdir()
    write_dicom_series(image, folder, "1.2.826.0.1.3680043.2.1125.1")
    back = read_image(folder)
    assert back.shape == image.shape
    np.testing.assert_array_equal(back.array, image.array)
    _assert_same_geometry(back, image)
    assert back.metadata.get("0008|0060", "").strip() == "CT"

    written = write_mask(back.array > 0, tmp_path / "from_dicom.nii.gz", like=back)
    _assert_same_geometry(read_image(written), image)


def test_dicom_folder_with_two_series_asks_for_one(tmp_path: Path) -> None:
    folder = tmp_path / "dicom"
    folder.mkdir()
    write_dicom_series(_image(), folder, "1.2.826.0.1.3680043.2.1125.2")
    write_dicom_series(_image(_volume((8, 8, 5))), folder, "1.2.826.0.1.3680043.2.1125.3")
    with pytest.raises(ValueError, match="2 DICOM series.*series_id"):
        read_image(folder)
    chosen = read_image(folder, series_id="1.2.826.0.1.3680043.2.1125.3")
    assert chosen.shape == (8, 8, 5)
    with pytest.raises(ValueError, match="is not in"):
        read_image(folder, series_id="1.2.3")


def test_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no image at"):
        read_image(tmp_path / "missing.nii.gz")
    with pytest.raises(ValueError, match="DICOM output is not supported"):
        write_mask(np.zeros((2, 2, 2)), tmp_path / "mask.dcm")
    with pytest.raises(ValueError, match="differs from the reference image"):
        write_mask(np.zeros((2, 2, 2)), tmp_path / "mask.nii.gz", like=_image())
    with pytest.raises(ValueError, match="0..65535"):
        write_labels(np.full((2, 2, 2), 70000), tmp_path / "labels.nii.gz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no DICOM series"):
        read_image(tmp_path / "empty")
    vector = sitk.Image([4, 4, 4], sitk.sitkVectorFloat32, 3)
    sitk.WriteImage(vector, str(tmp_path / "vector.mha"))
    with pytest.raises(ValueError, match="3-D scalar image"):
        read_image(tmp_path / "vector.mha")


def test_session_input_is_a_4d_view() -> None:
    image = _image()
    view = image.session_input()
    assert view.shape == (1, *image.shape)
    assert np.shares_memory(view, image.array)
