"""Standard outputs round-trip through each format's own reader: masks and geometry equal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import nni_jupyter as nj
from nni_jupyter.io import Image
from nni_jupyter.palette import object_color

sitk = pytest.importorskip("SimpleITK", reason="needs the [io] extra (SimpleITK)")

SPACING = (0.7, 0.9, 2.5)
ORIGIN = (-30.0, 12.0, 40.0)


def _ct(shape: tuple[int, int, int] = (12, 10, 6)) -> Image:
    rng = np.random.default_rng(0)
    array = rng.integers(-1000, 1000, shape).astype(np.int16)
    return Image(array, spacing_mm=SPACING, origin_mm=ORIGIN)


def _labels(shape: tuple[int, int, int], objects: int) -> np.ndarray:
    """``objects`` objects, object ``n`` covering ``n % 3 + 1`` voxels, the rest background."""
    labels = np.zeros(int(np.prod(shape)), np.uint16)
    start = 0
    for label in range(1, objects + 1):
        size = label % 3 + 1
        labels[start : start + size] = label
        start += size
    return labels.reshape(shape)


@pytest.fixture
def dicom_ct(tmp_path: Path) -> Image:
    from _dicom_series import write_dicom_series

    folder = tmp_path / "series"
    folder.mkdir()
    write_dicom_series(_ct(), folder, "1.2.826.0.1.3680043.8.498.77")
    return nj.read_image(folder)


def test_read_image_records_the_series_files_in_slice_order(dicom_ct: Image) -> None:
    pydicom = pytest.importorskip("pydicom", reason="needs the [dicom] extra (pydicom)")
    files = dicom_ct.metadata["nni_jupyter|source_files"].split("\n")
    positions = [float(pydicom.dcmread(f).ImagePositionPatient[2]) for f in files]
    assert len(files) == dicom_ct.shape[2]
    assert positions == pytest.approx([ORIGIN[2] + SPACING[2] * k for k in range(len(files))])


def test_dicom_seg_round_trips_through_highdicom(dicom_ct: Image, tmp_path: Path) -> None:
    hd = pytest.importorskip("highdicom", reason="needs the [dicom] extra (highdicom)")
    pydicom = pytest.importorskip("pydicom", reason="needs the [dicom] extra (pydicom)")
    labels = np.zeros(dicom_ct.shape, np.uint16)
    labels[2:6, 3:7, 1:4] = 2
    labels[7:11, 1:4, 3:6] = 5
    path = nj.write_dicom_seg(
        labels,
        tmp_path / "seg.dcm",
        like=dicom_ct,
        names={2: "liver", 5: "tumour"},
        class_ids={2: 7, 5: 9},
        model=("nnInteractive_v1.0", "1.0"),
    )
    seg = hd.seg.segread(path)
    sources = [
        pydicom.dcmread(f) for f in dicom_ct.metadata["nni_jupyter|source_files"].split("\n")
    ]
    uids = [s.SOPInstanceUID for s in sources]

    pixels = seg.get_pixels_by_source_instance(uids, combine_segments=True)
    expected = np.select([labels == 2, labels == 5], [1, 2], 0).transpose(2, 1, 0)
    np.testing.assert_array_equal(pixels, expected)

    assert seg.number_of_segments == 2
    for number, (label, name, class_id) in enumerate([(2, "liver", 7), (5, "tumour", 9)], 1):
        description = seg.get_segment_description(number)
        assert description.segment_label == name
        assert description.SegmentDescription == f"label {label}; class_id {class_id}"
        assert description.SegmentAlgorithmType == "SEMIAUTOMATIC"
        algorithm = description.SegmentationAlgorithmIdentificationSequence[0]
        assert (algorithm.AlgorithmName, algorithm.AlgorithmVersion) == (
            "nnInteractive_v1.0",
            "1.0",
        )
        lab = hd.color.CIELabColor.from_rgb(*object_color(label)).value
        assert list(description.RecommendedDisplayCIELabValue) == list(lab)

    # every frame references its source slice and lies where that slice lies
    for frame in seg.PerFrameFunctionalGroupsSequence:
        source_uid = (
            frame.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        )
        source = sources[uids.index(source_uid)]
        position = frame.PlanePositionSequence[0].ImagePositionPatient
        assert [float(v) for v in position] == pytest.approx(
            [float(v) for v in source.ImagePositionPatient]
        )
    shared = seg.SharedFunctionalGroupsSequence[0]
    assert [float(v) for v in shared.PixelMeasuresSequence[0].PixelSpacing] == pytest.approx(
        [SPACING[1], SPACING[0]]  # DICOM: row spacing (y), then column spacing (x)
    )
    assert seg.StudyInstanceUID == sources[0].StudyInstanceUID


def test_dicom_seg_needs_an_image_read_from_a_dicom_series(tmp_path: Path) -> None:
    pytest.importorskip("highdicom", reason="needs the [dicom] extra (highdicom)")
    image = _ct()
    with pytest.raises(ValueError, match="DICOM series folder"):
        nj.write_dicom_seg(np.ones(image.shape, np.uint8), tmp_path / "s.dcm", like=image)


def test_ome_zarr_round_trips_through_ome_zarr_py(tmp_path: Path) -> None:
    pytest.importorskip("ome_zarr", reason="needs the [zarr] extra (ome-zarr)")
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    image = _ct()
    labels = _labels(image.shape, 300)  # past uint8
    names = {label: f"cell {label}" for label in range(1, 301)}
    path = nj.write_ome_zarr(image, labels, tmp_path / "ct.zarr", names=names, label_name="cells")

    nodes = {Path(node.zarr.path).name: node for node in Reader(parse_url(path))()}
    stored_image, stored_labels = nodes["ct.zarr"], nodes["cells"]
    np.testing.assert_array_equal(np.asarray(stored_image.data[0]).transpose(2, 1, 0), image.array)
    np.testing.assert_array_equal(np.asarray(stored_labels.data[0]).transpose(2, 1, 0), labels)
    assert np.asarray(stored_labels.data[0]).dtype == np.uint16
    for node in (stored_image, stored_labels):
        scale, translation = node.metadata["coordinateTransformations"][0]
        assert scale["scale"] == pytest.approx(SPACING[::-1])  # (z, y, x)
        assert translation["translation"] == pytest.approx(ORIGIN[::-1])
        assert [axis["name"] for axis in node.metadata["axes"]] == ["z", "y", "x"]
    colors = stored_labels.metadata["color"]
    assert colors[300] == pytest.approx([c / 255 for c in (*object_color(300), 255)])
    assert stored_labels.metadata["properties"][300] == {"name": "cell 300", "class_id": 300}


def test_ome_zarr_replaces_an_existing_store_and_refuses_a_rotation(tmp_path: Path) -> None:
    pytest.importorskip("ome_zarr", reason="needs the [zarr] extra (ome-zarr)")
    image = _ct()
    path = tmp_path / "ct.zarr"
    nj.write_ome_zarr(image, _labels(image.shape, 4), path)
    nj.write_ome_zarr(image.array, _labels(image.shape, 2), path, spacing_mm=SPACING)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ct.zarr"]
    rotated = Image(image.array, direction=np.diag([-1.0, -1.0, 1.0]))
    with pytest.raises(ValueError, match="no rotation"):
        nj.write_ome_zarr(rotated, _labels(image.shape, 2), tmp_path / "r.zarr")


def test_nifti_labels_table_round_trips(tmp_path: Path) -> None:
    pandas = pytest.importorskip("pandas")
    image = _ct()
    labels = _labels(image.shape, 300)
    nifti, table = nj.write_labels_table(
        labels,
        tmp_path / "ct_labels.nii.gz",
        names=[f"n{i}" for i in range(1, 301)],
        class_ids={300: 4},
        colors={1: (1, 2, 255)},
        like=image,
    )
    stored = sitk.ReadImage(str(nifti))
    np.testing.assert_array_equal(sitk.GetArrayFromImage(stored).transpose(2, 1, 0), labels)
    assert stored.GetSpacing() == pytest.approx(SPACING)
    assert stored.GetOrigin() == pytest.approx(ORIGIN)
    assert table == tmp_path / "ct_labels.tsv"

    rows = pandas.read_csv(table, sep="\t", keep_default_na=False)
    assert list(rows.columns) == ["index", "name", "class_id", "color", "voxels", "volume_ml"]
    assert rows["index"].tolist() == list(range(1, 301))
    assert rows["name"].tolist()[:2] == ["n1", "n2"]
    assert rows["class_id"].tolist()[298:] == [299, 4]
    assert rows["color"].tolist()[:2] == ["#0102ff", "#{:02x}{:02x}{:02x}".format(*object_color(2))]
    voxels = np.bincount(labels.ravel())[1:]
    assert rows["voxels"].tolist() == voxels.tolist()
    assert rows["volume_ml"].to_numpy() == pytest.approx(voxels * np.prod(SPACING) / 1000)


def test_a_missing_library_names_the_extra_that_installs_it() -> None:
    from nni_jupyter.exports.segments import require

    with pytest.raises(ImportError, match=r"pip install nni_jupyter\[dicom\]"):
        require("dicom", "nni_jupyter_no_such_module")


def test_segments_default_to_the_palette_and_label_names() -> None:
    from nni_jupyter.exports.segments import segments

    labels = np.array([[[0, 3], [14, 3]]], np.uint16)
    found = segments(labels, names=["a", "b", "c"], class_ids={14: 2})
    assert [(s.label, s.name, s.class_id) for s in found] == [(3, "c", 3), (14, "object 14", 2)]
    assert found[1].color == object_color(14)
    with pytest.raises(ValueError, match="colour of object 3"):
        segments(labels, colors={3: (0, 0, 300)})


def test_dicom_seg_of_a_series_without_slice_thickness_takes_the_slice_spacing(
    tmp_path: Path,
) -> None:
    hd = pytest.importorskip("highdicom", reason="needs the [dicom] extra (highdicom)")
    pydicom = pytest.importorskip("pydicom", reason="needs the [dicom] extra (pydicom)")
    from _dicom_series import write_dicom_series

    folder = tmp_path / "series"
    folder.mkdir()
    for file in write_dicom_series(_ct(), folder, "1.2.826.0.1.3680043.8.498.78"):
        dataset = pydicom.dcmread(file)
        del dataset.SliceThickness
        dataset.save_as(file)
    image = nj.read_image(folder)
    labels = np.zeros(image.shape, np.uint16)
    labels[2:6, 3:7, 1:4] = 1
    seg = hd.seg.segread(nj.write_dicom_seg(labels, tmp_path / "seg.dcm", like=image))
    measures = seg.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
    assert float(measures.SliceThickness) == pytest.approx(SPACING[2])
    assert all("SliceThickness" not in pydicom.dcmread(f) for f in folder.iterdir())  # untouched
