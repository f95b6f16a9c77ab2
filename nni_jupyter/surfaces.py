"""3-D surface view of segmented objects: marching-cubes meshes in ipyvolume (extra ``[3d]``).

Meshes are computed in the kernel (scikit-image's marching cubes, at the voxel spacing, so shapes
keep their physical proportions) and only the triangles travel to the browser, never the volume.
Vertices are in mm, ``(x, y, z)`` = array axes 0, 1, 2 scaled by the spacing, relative to the
centre of voxel ``(0, 0, 0)`` plus ``origin_mm``.

(The module is not named ``view3d`` so that ``nni_jupyter.view3d`` stays the function: importing
a submodule would replace a package attribute of the same name.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nni_jupyter.measurements import split_objects
from nni_jupyter.palette import object_color
from nni_jupyter.volumes import SparseVolume

_EXTRA_HINT = "install it with: pip install nni_jupyter[3d]"


def _marching_cubes() -> Callable[..., Any]:
    try:
        from skimage.measure import marching_cubes
    except ImportError as error:
        raise ImportError(f"3-D meshes need scikit-image; {_EXTRA_HINT}") from error
    return marching_cubes


def _ipyvolume() -> Any:
    try:
        import ipyvolume
    except ImportError as error:
        raise ImportError(f"the 3-D view needs ipyvolume; {_EXTRA_HINT}") from error
    return ipyvolume


@dataclass(frozen=True, eq=False)
class SurfaceMesh:
    """A triangle mesh of one object's surface.

    Attributes
    ----------
    label
        The object's label value.
    vertices_mm
        ``(N, 3)`` float32 vertex positions ``(x, y, z)`` in mm.
    faces
        ``(M, 3)`` uint32 vertex indices of the triangles.
    """

    label: int
    vertices_mm: np.ndarray
    faces: np.ndarray


def surface_mesh(
    mask: np.ndarray,
    spacing_mm: Sequence[float] = (1.0, 1.0, 1.0),
    origin_mm: Sequence[float] = (0.0, 0.0, 0.0),
    label: int = 1,
    step_size: int = 1,
    corner: Sequence[int] = (0, 0, 0),
) -> SurfaceMesh | None:
    """Marching-cubes surface of a mask ``[X, Y, Z]`` at the voxel boundaries; None when empty.

    The mask is cropped to its bounding box and padded by one voxel, so objects touching the
    volume's border get closed surfaces. ``step_size`` > 1 gives coarser, faster meshes.
    ``corner`` is the volume voxel of the mask's voxel ``(0, 0, 0)`` (for a mask cut from it).
    """
    mask = np.asarray(mask) != 0
    if not mask.any():
        return None
    lows = []
    crop = []
    for axis in range(3):
        present = np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
        lows.append(int(present[0]) + int(corner[axis]))
        crop.append(slice(int(present[0]), int(present[-1]) + 1))
    padded = np.pad(mask[tuple(crop)], 1).astype(np.float32)
    spacing = np.asarray(spacing_mm, dtype=float)
    vertices, faces, _, _ = _marching_cubes()(
        padded, level=0.5, spacing=tuple(spacing), step_size=step_size, allow_degenerate=False
    )
    # Padded index 0 is voxel (low - 1) of the full volume.
    offset = (np.asarray(lows) - 1) * spacing + np.asarray(origin_mm, dtype=float)
    return SurfaceMesh(label, (vertices + offset).astype(np.float32), faces.astype(np.uint32))


def surface_meshes(
    labels: Any,
    spacing_mm: Sequence[float] = (1.0, 1.0, 1.0),
    origin_mm: Sequence[float] = (0.0, 0.0, 0.0),
    step_size: int = 1,
) -> list[SurfaceMesh]:
    """One :class:`SurfaceMesh` per non-empty object of a label map or a list/dict of masks."""
    object_labels, crop_of = object_crops(labels)
    meshes = (
        surface_mesh(mask, spacing_mm, origin_mm, label, step_size, corner)
        for label in object_labels
        for corner, mask in [crop_of(label)]
    )
    return [mesh for mesh in meshes if mesh is not None]


def object_crops(
    labels: Any,
) -> tuple[list[int], Callable[[int], tuple[tuple[int, ...], np.ndarray]]]:
    """The object labels, and per label its mask cut to its bounding box with the box's low
    corner. A sparse label map (a lazy image's) is read only inside each box."""
    if isinstance(labels, SparseVolume):
        found = [value for value in labels.counts() if value]

        def sparse_crop(label: int) -> tuple[tuple[int, ...], np.ndarray]:
            box = labels.nonzero_bbox(label)
            if box is None:
                return (0, 0, 0), np.zeros((1, 1, 1), bool)
            return tuple(lo for lo, _ in box), labels.read(box) == label

        return found, sparse_crop
    object_labels, mask_of = split_objects(labels)

    def dense_crop(label: int) -> tuple[tuple[int, ...], np.ndarray]:
        mask = mask_of(label)
        if not mask.any():
            return (0, 0, 0), mask
        box = [
            np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis)))
            for axis in range(3)
        ]
        corner = tuple(int(b[0]) for b in box)
        return corner, mask[tuple(slice(int(b[0]), int(b[-1]) + 1) for b in box)]

    return object_labels, dense_crop


def _hex_color(label: int) -> str:
    return "#" + "".join(f"{channel:02x}" for channel in object_color(label))


def _ipv_mesh(mesh: SurfaceMesh, name: str) -> Any:
    ipv = _ipyvolume()
    x, y, z = (np.ascontiguousarray(mesh.vertices_mm[:, axis]) for axis in range(3))
    return ipv.Mesh(
        x=x, y=y, z=z, triangles=mesh.faces, color=_hex_color(mesh.label), description=name
    )


def _fit_limits(figure: Any, meshes: Sequence[SurfaceMesh]) -> None:
    """Equal ranges on the three axes, so the scene keeps physical proportions."""
    if not meshes:
        return
    points = np.concatenate([mesh.vertices_mm for mesh in meshes])
    low, high = points.min(axis=0), points.max(axis=0)
    centre, half = (low + high) / 2, max(float((high - low).max()) / 2, 1.0)
    figure.xlim, figure.ylim, figure.zlim = ([float(c - half), float(c + half)] for c in centre)


class LiveView3D:
    """An ipyvolume figure of the objects' surfaces that :meth:`refresh` brings up to date.

    Only objects whose mask changed since the last refresh are re-meshed. Display it as a notebook
    output (it displays its figure) or place ``view.figure`` in a layout.

    Parameters
    ----------
    get_labels
        Returns the current label map ``[X, Y, Z]`` or list/dict of masks.
    spacing_mm
        Voxel size (x, y, z) in mm.
    names
        Object names by label (legend/tooltip); default ``"object <label>"``.
    step_size
        Marching-cubes step: 1 is full resolution, larger is coarser and faster.
    width, height
        Figure size in pixels.
    """

    def __init__(
        self,
        get_labels: Callable[[], Any],
        spacing_mm: Sequence[float] = (1.0, 1.0, 1.0),
        names: dict[int, str] | Sequence[str] | None = None,
        step_size: int = 1,
        width: int = 500,
        height: int = 500,
    ) -> None:
        ipv = _ipyvolume()
        self._get_labels = get_labels
        self.spacing_mm = tuple(float(v) for v in spacing_mm)
        self._names = dict(enumerate(names, start=1)) if isinstance(names, Sequence) else names
        self.step_size = step_size
        self._cache: dict[int, tuple[bytes, SurfaceMesh, Any]] = {}
        self.figure = ipv.Figure(width=width, height=height, meshes=[])
        self.figure.xlabel, self.figure.ylabel, self.figure.zlabel = "x (mm)", "y (mm)", "z (mm)"
        self.refresh()

    def _name(self, label: int) -> str:
        return (self._names or {}).get(label, f"object {label}")

    def refresh(self) -> None:
        """Re-read the labels and update the meshes of the objects that changed."""
        object_labels, crop_of = object_crops(self._get_labels())
        cache: dict[int, tuple[bytes, SurfaceMesh, Any]] = {}
        for label in object_labels:
            corner, mask = crop_of(label)
            digest = hashlib.blake2b(np.packbits(mask).tobytes(), digest_size=16).digest()
            digest += np.asarray([*mask.shape, *corner], np.int64).tobytes()
            if label in self._cache and self._cache[label][0] == digest:
                cache[label] = self._cache[label]
                continue
            mesh = surface_mesh(
                mask, self.spacing_mm, label=label, step_size=self.step_size, corner=corner
            )
            if mesh is not None:
                cache[label] = (digest, mesh, _ipv_mesh(mesh, self._name(label)))
        self._cache = cache
        self.figure.meshes = [widget for _, _, widget in cache.values()]
        _fit_limits(self.figure, [mesh for _, mesh, _ in cache.values()])

    @property
    def meshes(self) -> list[SurfaceMesh]:
        """The current surface meshes, in label order."""
        return [mesh for _, mesh, _ in self._cache.values()]

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.figure._repr_mimebundle_(**kwargs)


def view3d(
    labels: Any,
    spacing_mm: Sequence[float] = (1.0, 1.0, 1.0),
    *,
    names: dict[int, str] | Sequence[str] | None = None,
    step_size: int = 1,
    width: int = 500,
    height: int = 500,
) -> Any:
    """Surface meshes of each object in an ipyvolume figure, at the physical spacing.

    Parameters
    ----------
    labels
        Label map ``[X, Y, Z]`` (0 = background), a bool mask, or a list/stack/dict of masks.
    spacing_mm
        Voxel size (x, y, z) in mm, or an :class:`nni_jupyter.io.Image`.
    names
        Object names by label, or a list in label order.
    step_size, width, height
        As for :class:`LiveView3D`.

    Returns
    -------
    ipyvolume.Figure
        One mesh per non-empty object, coloured like :func:`nni_jupyter.plot.overview`.
    """
    spacing_mm = getattr(spacing_mm, "spacing_mm", spacing_mm)
    view = LiveView3D(lambda: labels, spacing_mm, names, step_size, width, height)
    return view.figure


def live_view3d(
    get_labels: Callable[[], Any],
    spacing_mm: Sequence[float] = (1.0, 1.0, 1.0),
    observe: Callable[[Callable[[], None]], Any] | None = None,
    **kwargs: Any,
) -> LiveView3D:
    """A 3-D view that refreshes itself when masks change (what ``Segmenter.show_3d()`` returns).

    Parameters
    ----------
    get_labels
        Returns the current label map or masks.
    spacing_mm
        Voxel size (x, y, z) in mm.
    observe
        Registers a no-argument callback to be called after every mask change, e.g.
        ``lambda callback: segmenter.on_masks_changed(callback)``; None to refresh by hand.
    **kwargs
        ``names``, ``step_size``, ``width``, ``height`` as for :class:`LiveView3D`.

    Returns
    -------
    LiveView3D
        The view; its ``refresh`` is registered with ``observe``.
    """
    view = LiveView3D(get_labels, spacing_mm, **kwargs)
    if observe is not None:
        observe(view.refresh)
    return view
