"""The Segmenter's report helpers: measurements and the live 3-D view, on a file-backed Image."""

from __future__ import annotations

import numpy as np
import pytest

from nni_jupyter.io import Image


def test_image_geometry_and_measure(make_session, image) -> None:
    from nni_jupyter.widget import Segmenter

    geometry = Image(image, (0.8, 0.8, 2.0), origin_mm=(10.0, 20.0, 30.0))
    seg = Segmenter(geometry, session=make_session())
    try:
        assert seg.spacing_mm == pytest.approx([0.8, 0.8, 2.0])
        box = [[s // 4, 3 * s // 4] for s in image.shape]
        box[2] = [image.shape[2] // 2, image.shape[2] // 2 + 1]
        seg.add_box(box)
        voxels = int(seg.mask.sum())
        assert voxels > 0
        rows = seg.measure(as_dataframe=False)
        assert [row["label"] for row in rows] == [1]
        assert rows[0]["voxels"] == voxels
        assert rows[0]["volume_ml"] == pytest.approx(voxels * 0.8 * 0.8 * 2.0 / 1000)
        centroid = np.argwhere(seg.mask).mean(axis=0)
        expected_mm = np.array([10.0, 20.0, 30.0]) + centroid * [0.8, 0.8, 2.0]
        np.testing.assert_allclose(rows[0]["centroid_mm"], expected_mm, atol=1e-3)
    finally:
        seg.close()


def test_show_3d_refreshes_on_mask_change(make_session, image) -> None:
    pytest.importorskip("ipyvolume", reason="needs the [3d] extra: pip install nni_jupyter[3d]")
    pytest.importorskip("skimage", reason="needs the [3d] extra: pip install nni_jupyter[3d]")
    from nni_jupyter.widget import Segmenter

    seg = Segmenter(image, session=make_session(), spacing=(1.0, 1.0, 2.0))
    try:
        view = seg.show_3d()
        assert len(view.meshes) == 0
        box = [[s // 4, 3 * s // 4] for s in image.shape]
        box[2] = [image.shape[2] // 2, image.shape[2] // 2 + 1]
        seg.add_box(box)
        assert len(view.meshes) == 1
    finally:
        seg.close()
