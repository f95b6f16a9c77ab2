"""Study.export: every saved case in DICOM-SEG, NIfTI + table and OME-Zarr, read back with each
format's own library (highdicom, nibabel, ome-zarr-py): masks and geometry equal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _tiny_model import demo_or_tiny_model

import nni_jupyter as nj
from nni_jupyter.inference import nnInteractiveInferenceSession
from nni_jupyter.io import Image
from nni_jupyter.study.export import RECORD_FILE

pytest.importorskip("SimpleITK", reason="needs the [io] extra (SimpleITK)")
pytest.importorskip("pandas", reason="needs pandas (the [test] extra)")

SPACING = (0.7, 0.9, 2.5)
ORIGIN = (-30.0, 12.0, 40.0)
SHAPE = (24, 20, 8)
FIRST = "object 1"  # the name a Segmenter gives its first object


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_or_tiny_model(tmp_path_factory.mktemp("model"), "Apache-2.0")


def session(model: Path) -> nnInteractiveInferenceSession:
    made = nnInteractiveInferenceSession(
        device="cpu", torch_n_threads=1, enable_undo=False, do_autozoom=False, print_license=False
    )
    made.initialize_from_trained_model_folder(str(model))
    return made


def truth() -> np.ndarray:
    """Two boxes: object 1 (as a Segmenter names it) and object 2 ("tumour", class id 9)."""
    labels = np.zeros(SHAPE, np.uint16)
    labels[2:9, 3:10, 1:5] = 1
    labels[12:20, 8:15, 3:7] = 2
    return labels


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory, model: Path) -> nj.Study:
    """Case "ct_dicom" reads a DICOM series folder, case "ct_nifti" a NIfTI file; both saved."""
    from _dicom_series import write_dicom_series

    folder = tmp_path_factory.mktemp("export")
    array = np.random.default_rng(0).integers(-1000, 1000, SHAPE).astype(np.int16)
    image = Image(array, spacing_mm=SPACING, origin_mm=ORIGIN)
    (folder / "series").mkdir()
    write_dicom_series(image, folder / "series", "1.2.826.0.1.3680043.8.498.91")
    made = nj.Study(folder / "study")
    made.add_case("ct_dicom", folder / "series")
    made.add_case("ct_nifti", nj.write_image(image, folder / "ct.nii.gz"))
    made.add_case("not_saved", folder / "ct.nii.gz")
    labels = truth()
    for case_id in ("ct_dicom", "ct_nifti"):
        seg = made.open(case_id, session=session(model))
        seg.add_mask(labels == 1)
        seg.new_object("tumour", class_id=9)
        seg.add_mask(labels == 2)
        assert np.array_equal(seg.labels, labels)
        made.save(case_id, seg)
        seg.close()
    return made


def test_dicom_seg_export_references_the_series_and_refuses_other_images(study, tmp_path):
    hd = pytest.importorskip("highdicom", reason="needs the [dicom] extra (highdicom)")
    pydicom = pytest.importorskip("pydicom", reason="needs the [dicom] extra (pydicom)")
    rows = study.export("dicom-seg", tmp_path / "out").set_index("case")
    assert list(rows.index) == ["ct_dicom", "ct_nifti"]  # not_saved has nothing to export
    assert rows.loc["ct_dicom", "status"] == "ok" and rows.loc["ct_dicom", "objects"] == 2
    assert "DICOM series" in rows.loc["ct_nifti", "status"]
    assert "nifti or ome-zarr" in rows.loc["ct_nifti", "status"]
    written = sorted(p.name for p in (tmp_path / "out").iterdir() if p.name != RECORD_FILE)
    assert written == ["ct_dicom.dcm"]

    seg = hd.seg.segread(rows.loc["ct_dicom", "path"])
    files = sorted((study.image_path("ct_dicom")).iterdir())
    sources = sorted(
        (pydicom.dcmread(f) for f in files), key=lambda s: float(s.ImagePositionPatient[2])
    )
    pixels = seg.get_pixels_by_source_instance(
        [s.SOPInstanceUID for s in sources], combine_segments=True
    )
    np.testing.assert_array_equal(pixels, truth().transpose(2, 1, 0))
    assert [seg.get_segment_description(n).segment_label for n in (1, 2)] == [FIRST, "tumour"]
    assert seg.get_segment_description(2).SegmentDescription == "label 2; class_id 9"
    assert seg.StudyInstanceUID == sources[0].StudyInstanceUID
    shared = seg.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
    assert [float(v) for v in shared.PixelSpacing] == pytest.approx([SPACING[1], SPACING[0]])


def test_nifti_export_writes_labels_and_a_table_nibabel_reads(study, tmp_path):
    nibabel = pytest.importorskip("nibabel", reason="needs nibabel (the [test] extra)")
    import pandas as pd

    rows = study.export("nifti", tmp_path / "out").set_index("case")
    assert rows["status"].tolist() == ["ok", "ok"]
    for case_id in ("ct_dicom", "ct_nifti"):
        stored = nibabel.load(rows.loc[case_id, "path"])
        np.testing.assert_array_equal(np.asarray(stored.dataobj), truth())
        # NIfTI's affine is RAS; the image's LPS geometry flips x and y
        expected = np.diag([-SPACING[0], -SPACING[1], SPACING[2], 1.0])
        expected[:3, 3] = [-ORIGIN[0], -ORIGIN[1], ORIGIN[2]]
        np.testing.assert_allclose(stored.affine, expected, atol=1e-4)
        table = pd.read_csv(rows.loc[case_id, "table"], sep="\t")
        assert table["name"].tolist() == [FIRST, "tumour"]
        assert table["class_id"].tolist() == [1, 9]
        assert table["voxels"].tolist() == [int((truth() == k).sum()) for k in (1, 2)]


def test_ome_zarr_export_writes_image_and_labels_ome_zarr_py_reads(study, tmp_path):
    pytest.importorskip("ome_zarr", reason="needs the [zarr] extra (ome-zarr)")
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    rows = study.export("ome-zarr", tmp_path / "out").set_index("case")
    assert rows["status"].tolist() == ["ok", "ok"]
    image = nj.read_image(study.image_path("ct_nifti")).array
    for case_id in ("ct_dicom", "ct_nifti"):
        nodes = {Path(n.zarr.path).name: n for n in Reader(parse_url(rows.loc[case_id, "path"]))()}
        stored_image, stored_labels = nodes[f"{case_id}.zarr"], nodes["labels"]
        np.testing.assert_array_equal(np.asarray(stored_image.data[0]).transpose(2, 1, 0), image)
        np.testing.assert_array_equal(np.asarray(stored_labels.data[0]).transpose(2, 1, 0), truth())
        scale, translation = stored_labels.metadata["coordinateTransformations"][0]
        assert scale["scale"] == pytest.approx(SPACING[::-1])
        assert translation["translation"] == pytest.approx(ORIGIN[::-1])
        properties = stored_labels.metadata["properties"]
        assert properties[2] == {"name": "tumour", "class_id": 9}


def test_an_unknown_format_is_refused_before_anything_is_written(study, tmp_path):
    with pytest.raises(ValueError, match="expected one of dicom-seg, ome-zarr, nifti"):
        study.export("png", tmp_path / "out")
    assert not (tmp_path / "out").exists()
