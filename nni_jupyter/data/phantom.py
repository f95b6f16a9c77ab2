"""Synthetic CT-like abdominal phantoms with a ground-truth label map.

Axis order is the array's, ``[X, Y, Z]``: x runs from the patient's right to left, y from anterior
to posterior, z from caudal to cranial. Geometry is defined for a 128³ volume and scaled per axis to
the requested shape, so any shape gives the same anatomy at a different resolution.

Every random choice comes from one ``numpy.random.Generator`` seeded with ``seed``, so a seed always
gives the same phantom (same platform, same numpy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Label value -> name of the structure it marks.
LABEL_NAMES: dict[int, str] = {
    0: "background",
    1: "body",
    2: "liver",
    3: "spleen",
    4: "kidney_left",
    5: "kidney_right",
    6: "stomach",
    7: "pancreas",
    8: "bladder",
    9: "spine",
    10: "aorta",
    11: "vena_cava",
    12: "vessel",
    13: "lesion",
}
LABEL_VALUES: dict[str, int] = {name: value for value, name in LABEL_NAMES.items()}

#: Labels that are objects to segment (everything but air and the body's unlabelled soft tissue).
ORGAN_LABELS: tuple[int, ...] = tuple(v for v in LABEL_NAMES if v >= 2)

#: Phantom seeds at or above this value are reserved for training the demo model; seeds below it
#: are held out for evaluation.
TRAINING_SEED_START = 100_000

AIR_HU = -1000.0
FAT_HU = -100.0
_REFERENCE_SIZE = 128.0


@dataclass
class _Canvas:
    """The volumes being painted, plus the per-axis scale from the 128³ reference frame."""

    hu: np.ndarray
    labels: np.ndarray
    scale: np.ndarray
    rng: np.random.Generator

    @property
    def shape(self) -> tuple[int, int, int]:
        x, y, z = self.labels.shape
        return x, y, z

    def to_voxels(self, point: np.ndarray) -> np.ndarray:
        return np.asarray(point, dtype=np.float64) * self.scale

    def paint(self, slices: tuple[slice, ...], mask: np.ndarray, label: int, hu: float) -> None:
        self.labels[slices][mask] = label
        self.hu[slices][mask] = hu


def phantom(
    shape: tuple[int, int, int] = (128, 128, 128), seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Return a synthetic abdominal CT volume and its label map.

    The image holds Hounsfield-like values: air outside a body outline with a subcutaneous fat
    rim, soft tissue with low-frequency texture, organs of varied shape and contrast (some
    touching), a segmented spine, the aorta and vena cava, thin tubular vessels, small lesions
    inside organs, partial-volume blur and correlated noise.

    Parameters
    ----------
    shape
        Volume shape ``(X, Y, Z)``; each axis at least 32.
    seed
        Seed of every random choice; the same seed gives the same phantom. Seeds at or above
        ``TRAINING_SEED_START`` are used to train the demo model.

    Returns
    -------
    image : numpy.ndarray
        ``int16`` array of ``shape``, Hounsfield-like units (air is about -1000).
    labels : numpy.ndarray
        ``uint8`` array of ``shape``; values and names in ``LABEL_NAMES``.
    """
    if len(shape) != 3 or min(shape) < 32:
        raise ValueError(f"shape must be 3 axes of at least 32 voxels; got {tuple(shape)}")
    shape = (int(shape[0]), int(shape[1]), int(shape[2]))
    rng = np.random.default_rng(seed)
    canvas = _Canvas(
        hu=np.full(shape, AIR_HU, dtype=np.float32),
        labels=np.zeros(shape, dtype=np.uint8),
        scale=np.asarray(shape, dtype=np.float64) / _REFERENCE_SIZE,
        rng=rng,
    )
    body_mask, body_centre, body_radii = _paint_body(canvas)
    spine_centre, spine_radius = _spine_geometry(rng, body_centre, body_radii)
    _paint_organs(canvas, body_centre, spine_centre)
    canvas.labels[~body_mask] = 0
    canvas.hu[~body_mask] = AIR_HU
    _paint_spine(canvas, spine_centre, spine_radius)
    _paint_great_vessels(canvas, spine_centre, spine_radius)
    _paint_thin_vessels(canvas, body_mask)
    _paint_lesions(canvas)
    image = _acquire(canvas)
    return image, canvas.labels


# --- geometry helpers ---------------------------------------------------------------------------


def _random_rotation(rng: np.random.Generator, max_degrees: float) -> np.ndarray:
    """A rotation matrix of three random Euler angles within ``±max_degrees``."""
    ax, ay, az = np.deg2rad(rng.uniform(-max_degrees, max_degrees, 3))
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _interp_matrix(n_fine: int, n_coarse: int) -> np.ndarray:
    """Linear interpolation weights ``[n_fine, n_coarse]`` spanning the coarse grid end to end."""
    pos = np.linspace(0, n_coarse - 1, n_fine)
    lo = np.clip(np.floor(pos).astype(int), 0, n_coarse - 2)
    frac = pos - lo
    weights = np.zeros((n_fine, n_coarse), dtype=np.float32)
    weights[np.arange(n_fine), lo] = 1 - frac
    weights[np.arange(n_fine), lo + 1] = frac
    return weights


def _smooth_field(rng: np.random.Generator, shape: tuple[int, ...], cells: int) -> np.ndarray:
    """Low-frequency random field of about unit amplitude: a coarse normal grid, upsampled."""
    coarse = rng.standard_normal((cells, cells, cells)).astype(np.float32)
    mx, my, mz = (_interp_matrix(n, cells) for n in shape)
    return np.einsum("ia,jb,kc,abc->ijk", mx, my, mz, coarse, optimize=True)


def _box_around(
    shape: tuple[int, ...], centre: np.ndarray, half_extent: np.ndarray
) -> tuple[slice, ...] | None:
    lo = np.maximum(np.floor(centre - half_extent).astype(int), 0)
    hi = np.minimum(np.ceil(centre + half_extent).astype(int) + 1, shape)
    if np.any(hi <= lo):
        return None
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))


def _grid(slices: tuple[slice, ...], centre: np.ndarray) -> list[np.ndarray]:
    """Broadcastable voxel-centre offsets from ``centre`` inside ``slices``."""
    axes = [
        np.arange(s.start, s.stop, dtype=np.float32) - np.float32(c)
        for s, c in zip(slices, centre, strict=True)
    ]
    return [axes[0][:, None, None], axes[1][None, :, None], axes[2][None, None, :]]


def _blob(
    canvas: _Canvas,
    centre_ref: np.ndarray,
    radii_ref: np.ndarray,
    roughness: float = 0.12,
    max_tilt: float = 20.0,
) -> tuple[tuple[slice, ...], np.ndarray] | None:
    """A rotated ellipsoid with a low-frequency boundary perturbation (reference-frame units)."""
    centre = canvas.to_voxels(centre_ref)
    radii = np.asarray(radii_ref, dtype=np.float64) * canvas.scale
    slices = _box_around(canvas.shape, centre, np.full(3, radii.max() * (1 + 2.5 * roughness)))
    if slices is None:
        return None
    dx, dy, dz = _grid(slices, centre)
    rot = _random_rotation(canvas.rng, max_tilt).astype(np.float32)
    local = [rot[i, 0] * dx + rot[i, 1] * dy + rot[i, 2] * dz for i in range(3)]
    rho = sum((c / np.float32(r)) ** 2 for c, r in zip(local, radii, strict=True))
    box_shape = tuple(s.stop - s.start for s in slices)
    wobble = _smooth_field(canvas.rng, box_shape, 5) * np.float32(roughness)
    mask = np.sqrt(rho) + wobble < 1.0
    return slices, mask


def _paint_blob(canvas: _Canvas, label: int, hu: float, centre, radii, **kwargs) -> np.ndarray:
    """Paint a blob and return its full-volume mask."""
    mask = np.zeros(canvas.shape, dtype=bool)
    blob = _blob(canvas, np.asarray(centre), np.asarray(radii), **kwargs)
    if blob is not None:
        slices, crop = blob
        canvas.paint(slices, crop, label, hu)
        mask[slices] = crop
    return mask


# --- anatomy --------------------------------------------------------------------------------------


def _paint_body(canvas: _Canvas) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Elliptic body cylinder along z: subcutaneous fat, a muscle wall, then a visceral-fat cavity.

    Returns (mask, centre_ref, radii_ref).
    """
    rng = canvas.rng
    centre = np.array([64 + rng.normal(0, 2), 64 + rng.normal(0, 2), 64.0])
    radii = np.array([rng.uniform(50, 58), rng.uniform(38, 46)])
    fat = rng.uniform(3, 6)
    phase, wiggle = rng.uniform(0, 2 * np.pi), rng.uniform(0.02, 0.06)
    sx, sy, sz = canvas.scale
    x = (np.arange(canvas.shape[0], dtype=np.float32) + 0.5) / sx - centre[0]
    y = (np.arange(canvas.shape[1], dtype=np.float32) + 0.5) / sy - centre[1]
    z = (np.arange(canvas.shape[2], dtype=np.float32) + 0.5) / sz
    z_factor = (1 + wiggle * np.sin(z / 128 * 2 * np.pi + phase)).astype(np.float32)
    rho = np.sqrt(
        (x[:, None, None] / (radii[0] * z_factor)) ** 2
        + (y[None, :, None] / (radii[1] * z_factor)) ** 2
    )
    body = rho < 1.0
    wall = rho < 1.0 - fat / radii.mean()
    cavity = rho < 1.0 - (fat + rng.uniform(3, 5)) / radii.mean()
    texture = _smooth_field(rng, canvas.shape, 7)
    canvas.hu[body] = FAT_HU + 10 * texture[body]
    canvas.hu[wall] = rng.uniform(40, 60) + 8 * texture[wall]
    canvas.hu[cavity] = rng.uniform(-90, -50) + 15 * texture[cavity]
    canvas.labels[body] = LABEL_VALUES["body"]
    return body, centre, radii


def _spine_geometry(
    rng: np.random.Generator, body_centre: np.ndarray, body_radii: np.ndarray
) -> tuple[np.ndarray, float]:
    """Centre (x, y) and radius of the vertebral column, reference units."""
    radius = rng.uniform(6, 8)
    centre = np.array([64 + rng.normal(0, 1), body_centre[1] + body_radii[1] - rng.uniform(13, 16)])
    return centre, radius


def _paint_spine(canvas: _Canvas, centre: np.ndarray, radius: float) -> None:
    """Vertebral bodies (cortical shell, cancellous core) separated by discs."""
    rng = canvas.rng
    height, disc = rng.uniform(9, 12), rng.uniform(2, 3)
    cortical, cancellous = rng.uniform(600, 900), rng.uniform(180, 320)
    sx, sy, sz = canvas.scale
    x = (np.arange(canvas.shape[0], dtype=np.float32) + 0.5) / sx - centre[0]
    y = (np.arange(canvas.shape[1], dtype=np.float32) + 0.5) / sy - centre[1]
    z = (np.arange(canvas.shape[2], dtype=np.float32) + 0.5) / sz
    r = np.sqrt(x[:, None] ** 2 + y[None, :] ** 2)
    disk = r < radius
    core = r < radius - 1.5
    in_vertebra = np.mod(z + rng.uniform(0, height + disc), height + disc) >= disc
    for k in np.flatnonzero(in_vertebra):
        canvas.labels[:, :, k][disk] = LABEL_VALUES["spine"]
        canvas.hu[:, :, k][disk] = cortical
        canvas.hu[:, :, k][core] = cancellous
    for k in np.flatnonzero(~in_vertebra):
        canvas.labels[:, :, k][disk] = LABEL_VALUES["body"]
        canvas.hu[:, :, k][disk] = 80.0


def _paint_organs(canvas: _Canvas, body_centre: np.ndarray, spine_centre: np.ndarray) -> None:
    """Solid organs; later ones overwrite earlier ones where they overlap, so some touch."""
    rng, u = canvas.rng, canvas.rng.uniform
    cy = body_centre[1]

    liver_hu = u(50, 75)
    liver_centre = np.array([64 - u(22, 30), cy - u(0, 8), u(80, 96)])
    _paint_blob(
        canvas, LABEL_VALUES["liver"], liver_hu, liver_centre, [u(20, 27), u(17, 23), u(18, 25)]
    )
    lobe_centre = liver_centre + [u(12, 20), -u(5, 10), -u(4, 10)]
    _paint_blob(
        canvas, LABEL_VALUES["liver"], liver_hu, lobe_centre, [u(11, 15), u(9, 13), u(10, 14)]
    )

    stomach_centre = np.array([64 + u(12, 22), cy - u(12, 20), u(84, 100)])
    stomach_radii = np.array([u(10, 14), u(8, 12), u(10, 14)])
    stomach = _paint_blob(
        canvas, LABEL_VALUES["stomach"], u(60, 90), stomach_centre, stomach_radii, max_tilt=30
    )
    lumen = _blob(canvas, stomach_centre, stomach_radii - 2.5, roughness=0.08)
    if lumen is not None:
        slices, crop = lumen
        crop &= stomach[slices]
        canvas.hu[slices][crop] = u(0, 20)

    _paint_blob(
        canvas,
        LABEL_VALUES["spleen"],
        u(85, 125),
        [64 + u(26, 34), cy + u(6, 14), u(76, 94)],
        [u(7, 10), u(10, 14), u(12, 16)],
        roughness=0.15,
    )

    kidney_y = spine_centre[1] - u(2, 6)
    for name, side in (("kidney_left", 1), ("kidney_right", -1)):
        _paint_blob(
            canvas,
            LABEL_VALUES[name],
            u(140, 200),
            [64 + side * u(19, 25), kidney_y, u(50, 66) - (side < 0) * u(0, 6)],
            [u(7, 9), u(6, 8), u(11, 14)],
            roughness=0.08,
            max_tilt=25,
        )

    pancreas_hu, pancreas_z = u(35, 55), u(68, 78)
    for t in np.linspace(0, 1, 4):
        _paint_blob(
            canvas,
            LABEL_VALUES["pancreas"],
            pancreas_hu,
            [64 - 10 + 34 * t, cy - 2 + 8 * t + rng.normal(0, 1), pancreas_z + rng.normal(0, 2)],
            [u(6, 8), u(3.5, 5), u(3.5, 5)],
            roughness=0.1,
        )

    _paint_blob(
        canvas,
        LABEL_VALUES["bladder"],
        u(0, 15),
        [64 + rng.normal(0, 3), cy - u(10, 18), u(14, 26)],
        [u(10, 14), u(9, 12), u(9, 13)],
        roughness=0.06,
    )


def _paint_great_vessels(canvas: _Canvas, spine_centre: np.ndarray, spine_radius: float) -> None:
    """Aorta and vena cava: tubes along z in front of the spine, gently curving."""
    u = canvas.rng.uniform
    for name, side, radius, hu in (
        ("aorta", 1, u(6, 7), u(180, 260)),
        ("vena_cava", -1, u(6, 7.5), u(110, 160)),
    ):
        x0 = 64 + side * u(7, 10)
        y0 = spine_centre[1] - spine_radius - radius - u(1, 3)
        amp, phase = u(1, 3), u(0, 2 * np.pi)
        sx, sy, sz = canvas.scale
        z = (np.arange(canvas.shape[2], dtype=np.float32) + 0.5) / sz
        cx = x0 + amp * np.sin(z / 128 * np.pi + phase)
        x = (np.arange(canvas.shape[0], dtype=np.float32) + 0.5) / sx
        y = (np.arange(canvas.shape[1], dtype=np.float32) + 0.5) / sy
        r2 = (x[:, None, None] - cx[None, None, :]) ** 2 + (y[None, :, None] - y0) ** 2
        tube = r2 < radius**2
        canvas.labels[tube] = LABEL_VALUES[name]
        canvas.hu[tube] = hu


def _stamp_path(canvas: _Canvas, points_ref: np.ndarray, radius_ref: float) -> np.ndarray:
    """Full-volume mask of balls of ``radius_ref`` stamped along a path (reference units)."""
    points = points_ref * canvas.scale
    r = max(radius_ref * canvas.scale.min(), 0.75)
    span = int(np.ceil(r))
    offsets = np.stack(
        np.meshgrid(*[np.arange(-span, span + 1)] * 3, indexing="ij"), axis=-1
    ).reshape(-1, 3)
    offsets = offsets[(offsets**2).sum(1) <= r * r + 0.25]
    voxels = (np.round(points).astype(int)[:, None, :] + offsets[None]).reshape(-1, 3)
    inside = np.all((voxels >= 0) & (voxels < np.asarray(canvas.shape)), axis=1)
    mask = np.zeros(canvas.shape, dtype=bool)
    mask[tuple(voxels[inside].T)] = True
    return mask


def _random_path(rng: np.random.Generator, start: np.ndarray, direction: np.ndarray, length: float):
    """A smooth random walk of ``length`` reference units, sampled every half unit."""
    steps = int(length * 2)
    heading = direction / np.linalg.norm(direction)
    points = [start]
    for _ in range(steps):
        heading = heading + rng.normal(0, 0.12, 3)
        heading /= np.linalg.norm(heading)
        points.append(points[-1] + 0.5 * heading)
    return np.asarray(points)


def _paint_thin_vessels(canvas: _Canvas, body: np.ndarray) -> None:
    """Thin tubular vessels branching through the liver and the mesentery."""
    rng, u = canvas.rng, canvas.rng.uniform
    hu = u(140, 220)
    label = LABEL_VALUES["vessel"]
    occupied_by_great = np.isin(canvas.labels, [LABEL_VALUES["aorta"], LABEL_VALUES["vena_cava"]])
    starts = []
    liver = np.argwhere(canvas.labels == LABEL_VALUES["liver"])
    if len(liver):
        hub = liver.mean(0) / canvas.scale
        starts += [(hub, rng.normal(0, 1, 3)) for _ in range(rng.integers(3, 6))]
    for _ in range(rng.integers(2, 4)):
        hub = np.array([64 + u(-10, 10), u(50, 62), u(40, 80)])
        starts.append((hub, np.array([rng.normal(0, 0.5), -1.0, rng.normal(0, 0.5)])))
    for start, direction in starts:
        path = _random_path(rng, start, direction, u(18, 40))
        mask = _stamp_path(canvas, path, u(1.0, 2.0)) & body & ~occupied_by_great
        canvas.labels[mask] = label
        canvas.hu[mask] = hu


def _paint_lesions(canvas: _Canvas) -> None:
    """Small hypo- or hyperdense lesions, each confined to its host organ."""
    rng, u = canvas.rng, canvas.rng.uniform
    hosts = ["liver", "liver", "liver", "spleen", "kidney_left", "kidney_right"]
    for _ in range(rng.integers(3, 7)):
        host_now = canvas.labels == LABEL_VALUES[hosts[rng.integers(len(hosts))]]
        candidates = np.argwhere(host_now)
        if len(candidates) == 0:
            continue
        centre = candidates[rng.integers(len(candidates))] / canvas.scale
        host_hu = float(np.median(canvas.hu[host_now]))
        contrast = u(25, 60) * (1 if rng.random() < 0.3 else -1)
        blob = _blob(canvas, centre, np.full(3, u(2.5, 6.0)), roughness=0.1)
        if blob is None:
            continue
        slices, crop = blob
        crop &= host_now[slices]
        canvas.paint(slices, crop, LABEL_VALUES["lesion"], host_hu + contrast)


# --- acquisition ----------------------------------------------------------------------------------


def _blur3(volume: np.ndarray) -> np.ndarray:
    """Separable [1, 2, 1] / 4 blur along every axis (edges replicated)."""
    out = volume
    for axis in range(3):
        padded = np.concatenate(
            [np.take(out, [0], axis=axis), out, np.take(out, [-1], axis=axis)], axis=axis
        )
        n = out.shape[axis]
        lo = np.take(padded, np.arange(0, n), axis=axis)
        mid = np.take(padded, np.arange(1, n + 1), axis=axis)
        hi = np.take(padded, np.arange(2, n + 2), axis=axis)
        out = 0.25 * lo + 0.5 * mid + 0.25 * hi
    return out


def _acquire(canvas: _Canvas) -> np.ndarray:
    """Partial-volume blur plus correlated Gaussian noise, rounded to int16 HU."""
    rng = canvas.rng
    sigma = rng.uniform(8, 22)
    image = _blur3(canvas.hu)
    noise = _blur3(rng.standard_normal(canvas.shape, dtype=np.float32))
    # one [1,2,1]/4 pass per axis scales white-noise std by (6/16) ** 1.5
    image += noise * np.float32(sigma / (6 / 16) ** 1.5)
    return np.clip(np.round(image), -1024, 3071).astype(np.int16)
