"""Segmenter.export writes the Segmenter's objects (names, class ids, colours) in each format."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nni_jupyter.io import Image, read_image


def _two_objects(seg, image: np.ndarray) -> None:
    seg.add_mask(image > 200)
    seg.new_object("second", class_id=5)
    second = np.zeros(image.shape, bool)
    second[2:6, 3:8, 4:9] = True
    seg.add_mask(second & ~(image > 200))


def test_export_nifti_and_ome_zarr_carry_the_objects(make_segmenter, image, tmp_path: Path):
    pandas = pytest.importorskip("pandas")
    seg = make_segmenter(spacing=(0.8, 0.9, 2.0))
    _two_objects(seg, image)
    nifti, table = seg.export("nifti", tmp_path / "case.nii.gz")
    np.testing.assert_array_equal(read_image(nifti).array, seg.labels)
    rows = pandas.read_csv(table, sep="\t")
    assert rows["name"].tolist() == [o["name"] for o in seg.objects]
    assert rows["class_id"].tolist()[1] == 5
    assert rows["color"].tolist() == [
        "#{:02x}{:02x}{:02x}".format(*o["color"]) for o in seg.objects
    ]

    pytest.importorskip("ome_zarr", reason="needs the [zarr] extra (ome-zarr)")
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    path = seg.export("ome-zarr", tmp_path / "case.zarr")
    nodes = {Path(node.zarr.path).name: node for node in Reader(parse_url(path))()}
    stored = nodes["labels"]
    np.testing.assert_array_equal(np.asarray(stored.data[0]).transpose(2, 1, 0), seg.labels)
    assert stored.metadata["properties"][2] == {"name": "second", "class_id": 5}
    with pytest.raises(ValueError, match="unknown export format"):
        seg.export("png", tmp_path / "case.png")


def test_export_dicom_seg_from_a_dicom_series(make_segmenter, image, tmp_path: Path):
    hd = pytest.importorskip("highdicom", reason="needs the [dicom] extra (highdicom)")
    pydicom = pytest.importorskip("pydicom", reason="needs the [dicom] extra (pydicom)")
    from _dicom_series import write_dicom_series

    folder = tmp_path / "series"
    folder.mkdir()
    write_dicom_series(
        Image(image, spacing_mm=(0.8, 0.9, 2.0)), folder, "1.2.826.0.1.3680043.8.498.5"
    )
    ct = read_image(folder)
    seg = make_segmenter(ct)
    _two_objects(seg, ct.array)
    stored = hd.seg.segread(seg.export("dicom-seg", tmp_path / "seg.dcm"))
    assert stored.get_segment_description(2).segment_label == "second"
    assert stored.get_segment_description(2).SegmentDescription == "label 2; class_id 5"
    algorithm = stored.get_segment_description(1).SegmentationAlgorithmIdentificationSequence[0]
    assert algorithm.AlgorithmName.startswith("nni_jupyter ")
    files = ct.metadata["nni_jupyter|source_files"].split("\n")
    uids = [pydicom.dcmread(f).SOPInstanceUID for f in files]
    pixels = stored.get_pixels_by_source_instance(uids, combine_segments=True)
    np.testing.assert_array_equal(pixels, seg.labels.transpose(2, 1, 0))
