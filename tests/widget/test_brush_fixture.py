"""The brush rule, one rule on both sides: the kernel's and the browser's voxels of each stroke.

``brush_fixture.json`` holds strokes (pointer paths in in-plane voxel coordinates, a radius per
axis, the slice's shape) and the voxels they cover. Here the kernel's rasterizer (through a
browser ``prompt`` message and the widget's parser) must give exactly those voxels, and so must a
plain per-voxel reading of the rule (centre within the radius of the polyline, axes scaled by the
radius); ``js/__tests__/brush.test.ts`` checks the browser's immediate drawing against the same
file. After an intended change: ``UPDATE_BRUSH_FIXTURE=1``.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from nni_jupyter.annotation.brush import stroke_region
from nni_jupyter.annotation.raster import rasterize
from nni_jupyter.core.gestures import plane_axes
from nni_jupyter.core.regions import to_slices
from nni_jupyter.widget.messages import parse_message

FIXTURE = Path(__file__).with_name("brush_fixture.json")
UPDATE = os.environ.get("UPDATE_BRUSH_FIXTURE") == "1"

#: name, axis, index, shape, path, radius (voxels per in-plane axis)
STROKES = [
    ("disc r3 at a voxel centre", 2, 4, [24, 20, 9], [[10, 10]], [3, 3]),
    ("disc r2.5 between voxels", 2, 4, [24, 20, 9], [[10.5, 9.5]], [2.5, 2.5]),
    ("fast drag: two far points", 2, 0, [40, 30, 3], [[3.2, 4.7], [35.9, 25.1]], [1.5, 1.5]),
    ("zigzag", 0, 2, [5, 30, 30], [[2, 2], [20, 5], [4, 14], [25, 27]], [2, 2]),
    ("anisotropic radius (mm brush)", 1, 3, [30, 8, 30], [[8, 8], [20, 12]], [4, 1.5]),
    ("off the edge", 2, 1, [16, 16, 3], [[-3, 5], [8, -2], [18, 18]], [2.2, 2.2]),
    ("radius exactly one", 2, 0, [10, 10, 1], [[4, 4], [6, 4]], [1, 1]),
    ("duplicate points", 2, 0, [12, 12, 1], [[6, 6], [6, 6], [6.4, 6.1]], [1.7, 1.7]),
]


def _message(axis: int, index: int, path: list, radius: list) -> dict:
    return {
        "type": "prompt",
        "tool": "paint",
        "positive": True,
        "axis": axis,
        "index": index,
        "vertices": path,
        "radius": radius,
        "object": 1,
    }


def _kernel_voxels(case: dict) -> list[str]:
    """The voxels ``"x,y,z"`` the kernel paints for the fixture's browser message."""
    shape = tuple(case["shape"])
    request = parse_message({**case["message"], "request_id": 1}, shape)
    interaction = rasterize(request.item, shape)
    volume = np.zeros(shape, dtype=bool)
    volume[to_slices(interaction.bbox)] = interaction.crop != 0
    return sorted(",".join(map(str, v)) for v in np.argwhere(volume).tolist())


def _by_definition(case: dict) -> list[str]:
    """The rule read plainly: each voxel centre's distance to each segment, axes scaled."""
    axis, index, shape = case["axis"], case["index"], case["shape"]
    (rp, rq), path = case["radius"], case["message"]["vertices"]
    p_axis, q_axis = plane_axes(axis)
    scaled = [(p / rp, q / rq) for p, q in path]
    segments = list(zip(scaled[:-1], scaled[1:], strict=True)) or [(scaled[0], scaled[0])]
    out = []
    for kp in range(shape[p_axis]):
        for kq in range(shape[q_axis]):
            u, v = kp / rp, kq / rq
            best = math.inf
            for (ap, aq), (bp, bq) in segments:
                dp, dq = bp - ap, bq - aq
                length2 = dp * dp + dq * dq
                along = 0.0 if length2 == 0 else ((u - ap) * dp + (v - aq) * dq) / length2
                t = min(max(along, 0.0), 1.0)
                ep, eq = u - (ap + t * dp), v - (aq + t * dq)
                best = min(best, ep * ep + eq * eq)
            if best <= 1.0:
                voxel = [0, 0, 0]
                voxel[axis], voxel[p_axis], voxel[q_axis] = index, kp, kq
                out.append(",".join(map(str, voxel)))
    return sorted(out)


def _cases() -> list[dict]:
    if UPDATE:
        cases = []
        for name, axis, index, shape, path, radius in STROKES:
            case = {
                "name": name,
                "axis": axis,
                "index": index,
                "shape": shape,
                "radius": radius,
                "message": _message(axis, index, path, radius),
            }
            case["voxels"] = _kernel_voxels(case)
            cases.append(case)
        lines = ",\n".join(json.dumps(case, separators=(",", ":")) for case in cases)
        FIXTURE.write_text(f"[\n{lines}\n]\n")
    return json.loads(FIXTURE.read_text())


CASES = _cases()


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_kernel_paints_the_fixtures_voxels(case):
    assert _kernel_voxels(case) == case["voxels"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_fixture_follows_the_rule_as_written(case):
    assert case["voxels"] == _by_definition(case)
    assert case["voxels"], "every fixture stroke covers some voxel"


def test_fast_drag_leaves_no_gap():
    region = stroke_region(np.array([[0.0, 0.0], [30.0, 0.0]]), (1.0, 1.0), (31, 3))
    assert region is not None
    (p0, q0), crop = region
    assert (p0, q0) == (0, 0) and crop[:, 0].all() and crop.shape == (31, 2)


def test_a_huge_stroke_is_refused_before_it_costs_minutes():
    zigzag = np.array([[0.0, 0.0], [500.0, 500.0]] * 200)
    with pytest.raises(ValueError, match="shorter strokes or with a smaller brush"):
        stroke_region(zigzag, (400.0, 400.0), (512, 512))
