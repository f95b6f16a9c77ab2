"""nni_jupyter.surfaces: marching-cubes meshes at the voxel spacing, one ipyvolume mesh each."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("skimage", reason="needs the [3d] extra: pip install nni_jupyter[3d]")

from nni_jupyter import surfaces  # noqa: E402
from nni_jupyter.surfaces import surface_mesh, surface_meshes  # noqa: E402

SPACING = (2.0, 1.0, 3.0)


def _labels() -> np.ndarray:
    labels = np.zeros((20, 16, 12), np.uint16)
    labels[2:6, 3:5, 1:2] = 1
    labels[10:20, 0:16, 4:10] = 2  # touches the volume's border on three sides
    return labels


def test_vertices_lie_on_voxel_boundaries_scaled_by_spacing() -> None:
    mesh = surface_mesh(_labels() == 1, SPACING, label=1)
    low, high = mesh.vertices_mm.min(axis=0), mesh.vertices_mm.max(axis=0)
    # Voxels 2..5 along x span 1.5..5.5 voxel units at the 0.5 iso-level: 3..11 mm at 2 mm.
    np.testing.assert_allclose(low, (1.5 * 2.0, 2.5 * 1.0, 0.5 * 3.0), atol=1e-5)
    np.testing.assert_allclose(high, (5.5 * 2.0, 4.5 * 1.0, 1.5 * 3.0), atol=1e-5)
    assert mesh.faces.dtype == np.uint32 and mesh.faces.shape[1] == 3
    assert mesh.faces.max() < len(mesh.vertices_mm)


def test_objects_on_the_border_get_closed_surfaces_and_origin_shifts_them() -> None:
    mesh = surface_mesh(_labels() == 2, SPACING, origin_mm=(100.0, 0.0, -5.0))
    low, high = mesh.vertices_mm.min(axis=0), mesh.vertices_mm.max(axis=0)
    np.testing.assert_allclose(low, (100.0 + 9.5 * 2.0, -0.5, -5.0 + 3.5 * 3.0), atol=1e-5)
    np.testing.assert_allclose(high, (100.0 + 19.5 * 2.0, 15.5, -5.0 + 9.5 * 3.0), atol=1e-5)
    # Closed: every edge is shared by exactly two triangles.
    edges = np.sort(mesh.faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    assert set(counts.tolist()) == {2}


def test_one_mesh_per_non_empty_object() -> None:
    labels = _labels()
    meshes = surface_meshes(labels, SPACING)
    assert [mesh.label for mesh in meshes] == [1, 2]
    from_masks = surface_meshes([labels == 1, np.zeros_like(labels), labels == 2], SPACING)
    assert [mesh.label for mesh in from_masks] == [1, 3]
    assert surface_mesh(np.zeros((4, 4, 4)), SPACING) is None


def test_a_sparse_label_map_gives_the_dense_maps_meshes_read_per_object_box(monkeypatch) -> None:
    from nni_jupyter.volumes import SparseVolume

    labels = _labels()
    sparse = SparseVolume.from_array(labels, chunks=(4, 4, 4))

    def dense(*_args, **_kwargs):
        raise AssertionError("the sparse label map was made dense")

    monkeypatch.setattr(SparseVolume, "__array__", dense)
    got = surface_meshes(sparse, SPACING, (1.0, 2.0, 3.0))
    want = surface_meshes(labels, SPACING, (1.0, 2.0, 3.0))
    assert [m.label for m in got] == [m.label for m in want] == [1, 2]
    for mine, theirs in zip(got, want, strict=True):
        np.testing.assert_allclose(mine.vertices_mm, theirs.vertices_mm, atol=1e-5)
        np.testing.assert_array_equal(mine.faces, theirs.faces)


def test_single_voxel_object_has_a_mesh() -> None:
    mask = np.zeros((5, 5, 5), bool)
    mask[0, 0, 0] = True
    mesh = surface_mesh(mask)
    np.testing.assert_allclose(mesh.vertices_mm.min(axis=0), (-0.5, -0.5, -0.5), atol=1e-5)


def test_view3d_figure_has_one_ipyvolume_mesh_per_object() -> None:
    pytest.importorskip("ipyvolume", reason="needs the [3d] extra: pip install nni_jupyter[3d]")
    figure = surfaces.view3d(_labels(), SPACING, names=["lesion", "organ"])
    assert len(figure.meshes) == 2
    first = figure.meshes[0]
    expected = surface_mesh(_labels() == 1, SPACING)
    np.testing.assert_allclose(np.asarray(first.x), expected.vertices_mm[:, 0])
    np.testing.assert_allclose(np.asarray(first.z), expected.vertices_mm[:, 2])
    assert first.description == "lesion"
    assert first.color != figure.meshes[1].color
    # Equal axis ranges keep physical proportions.
    spans = [limits[1] - limits[0] for limits in (figure.xlim, figure.ylim, figure.zlim)]
    assert spans[0] == pytest.approx(spans[1]) == pytest.approx(spans[2])


def test_live_view_refreshes_only_changed_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ipyvolume", reason="needs the [3d] extra: pip install nni_jupyter[3d]")
    labels = _labels()
    callbacks = []
    view = surfaces.live_view3d(lambda: labels, SPACING, observe=callbacks.append)
    assert callbacks == [view.refresh]
    organ_widget = view.figure.meshes[1]

    meshed = []
    original = surfaces.surface_mesh

    def counting_surface_mesh(mask, *args, **kwargs):
        meshed.append(kwargs.get("label"))
        return original(mask, *args, **kwargs)

    monkeypatch.setattr(surfaces, "surface_mesh", counting_surface_mesh)
    labels[2:8, 3:5, 1:2] = 1  # object 1 grows; object 2 is untouched
    labels[0:2, 0:2, 10:12] = 5  # a new object
    callbacks[0]()
    assert meshed == [1, 5]
    assert len(view.figure.meshes) == 3
    assert view.figure.meshes[1] is organ_widget
    assert view.meshes[0].vertices_mm[:, 0].max() == pytest.approx(7.5 * 2.0)

    labels[labels == 1] = 0  # an object erased
    view.refresh()
    assert [mesh.label for mesh in view.meshes] == [2, 5]
    assert len(view.figure.meshes) == 2
