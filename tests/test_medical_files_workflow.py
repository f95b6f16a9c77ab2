"""The code path of notebooks/02_medical_files.ipynb, as functions (one per cell), end to end.

Read a NIfTI, segment it in the widget's Python path, export mask and labels with the image's
geometry, then measure, plot an overview and build the 3-D view. The notebook will show the same
steps; these functions are its draft and keep it honest.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("SimpleITK", reason="needs the [io] extra: pip install nni_jupyter[io]")
pytest.importorskip("matplotlib", reason="needs the [plot] extra: pip install nni_jupyter[plot]")
pytest.importorskip("huggingface_hub", reason="needs the [hub] extra: pip install nni_jupyter[hub]")

from _tiny_model import write_tiny_model  # noqa: E402

from nni_jupyter.data import LABEL_VALUES, phantom  # noqa: E402
from nni_jupyter.io import Image, read_image, write_image, write_labels, write_mask  # noqa: E402
from nni_jupyter.measurements import measure  # noqa: E402
from nni_jupyter.plot import label_color, overview  # noqa: E402
from nni_jupyter.weights import is_model_folder, load_session  # noqa: E402

SPACING = (0.8, 0.8, 2.5)
ORGANS = ("liver", "spleen")


# ---- the notebook's cells ----------------------------------------------------------------------


def cell_example_file(folder: Path) -> tuple[Path, np.ndarray]:
    """Cell 1 (stands in for the user's own scan): a CT phantom saved as NIfTI."""
    volume, truth = phantom((64, 64, 40), seed=3)
    image = Image(volume, SPACING, origin_mm=(-25.6, -25.6, 10.0))
    return write_image(image, folder / "ct.nii.gz"), truth


def cell_segment(path: Path, session, points: dict[str, tuple[int, int, int]]):
    """Cells 2-3: read the file, open the widget, one positive point per organ."""
    from nni_jupyter.widget import Segmenter

    image = read_image(path)
    seg = Segmenter(image.array, session=session, spacing=image.spacing_mm)
    for index, point in enumerate(points.values()):
        if index:
            seg.new_object()
        seg.add_point(point)
    return image, seg


def cell_export(seg, image: Image, folder: Path) -> tuple[Path, Path]:
    """Cell 4: every object in one label file; the first object alone as a mask."""
    labels_path = write_labels(seg.labels, folder / "labels.nii.gz", like=image)
    seg.select_object(1)
    mask_path = write_mask(seg.mask, folder / "liver_mask.nii.gz", like=image)
    return labels_path, mask_path


def cell_report(seg, image: Image):
    """Cells 5-7: volumes in mL, an overview figure (kept in HTML exports), the 3-D view."""
    table = measure(seg.labels, image, names=list(ORGANS), as_dataframe=False)
    figure = overview(image, seg.labels, title="nnInteractive segmentation")
    view = None
    try:
        from nni_jupyter.surfaces import view3d

        view = view3d(seg.labels, image.spacing_mm, names=list(ORGANS))
    except ImportError:  # the [3d] extra is optional in the notebook
        pass
    return table, figure, view


# ---- the test ----------------------------------------------------------------------------------


def _interior_point(truth: np.ndarray, organ: str) -> tuple[int, int, int]:
    """The organ voxel farthest from its border along every axis: a click a user would make."""
    from scipy import ndimage

    distance = ndimage.distance_transform_edt(truth == LABEL_VALUES[organ])
    return tuple(int(v) for v in np.unravel_index(np.argmax(distance), truth.shape))


@pytest.fixture
def session(tmp_path: Path):
    """Our session with the demo model; else a tiny random model without AutoZoom.

    A random model's coarse predictions differ everywhere, and with its 32-voxel patches the
    refinement would cover them patch by patch; AutoZoom off keeps the test about the file path.
    """
    from nni_jupyter.demo import demo_model_path

    kwargs = {"device": "cpu", "show_license": None, "torch_n_threads": 2, "enable_undo": False}
    if is_model_folder(demo_model_path()):
        return load_session("demo", **kwargs)
    return load_session(write_tiny_model(tmp_path / "tiny"), do_autozoom=False, **kwargs)


def test_medical_files_notebook_code_path(tmp_path: Path, session) -> None:
    pytest.importorskip("scipy", reason="needs scipy (the [test] extra) to place the clicks")
    path, truth = cell_example_file(tmp_path)
    points = {organ: _interior_point(truth, organ) for organ in ORGANS}
    image, seg = cell_segment(path, session, points)
    try:
        labels = seg.labels
        assert image.spacing_mm == pytest.approx(SPACING)
        assert labels.shape == image.shape and labels.dtype == np.uint16

        labels_path, mask_path = cell_export(seg, image, tmp_path)
        labels_back, mask_back = read_image(labels_path), read_image(mask_path)
        np.testing.assert_array_equal(labels_back.array, labels)
        np.testing.assert_array_equal(mask_back.array, (labels == 1).astype(np.uint8))
        for written in (labels_back, mask_back):
            np.testing.assert_allclose(written.spacing_mm, SPACING, rtol=1e-6)
            np.testing.assert_allclose(written.origin_mm, image.origin_mm, atol=1e-4)

        table, figure, view = cell_report(seg, image)
        present = [label for label in (1, 2) if (labels == label).any()]
        assert [row["label"] for row in table] == present
        for row in table:
            voxels = int((labels == row["label"]).sum())
            assert row["volume_ml"] == pytest.approx(voxels * 0.8 * 0.8 * 2.5 / 1000)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=50)
        assert buffer.tell() > 1000
        if view is not None:
            assert len(view.meshes) == len(present)
    finally:
        seg.close()


def test_overlay_colours_match_between_overview_and_3d() -> None:
    pytest.importorskip("ipyvolume", reason="needs the [3d] extra: pip install nni_jupyter[3d]")
    from nni_jupyter.surfaces import view3d

    labels = np.zeros((8, 8, 8), np.uint16)
    labels[1:4, 1:4, 1:4] = 1
    labels[5:7, 5:7, 5:7] = 2
    figure = view3d(labels)
    expected = ["#" + "".join(f"{round(c * 255):02x}" for c in label_color(n)) for n in (1, 2)]
    assert [mesh.color for mesh in figure.meshes] == expected
