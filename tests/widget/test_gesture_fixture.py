"""A stroke drawn in the browser and the same stroke in Python become the same voxels.

The browser sends vertices, not voxels: js/__tests__/gestures.test.ts replays each pointer path of
``gesture_fixture.json`` through the real gesture and link code and checks the message it sends
against the fixture. Here the kernel receives those messages and the same strokes given through
the Python API and the evaluation/trainer rasterizer, and all three must give the fixture's voxels.
The cursor voxels (what the browser shows under each vertex) pin the coordinate convention: a
point lands on the voxel under the cursor, a box spans the voxels under its corners, a scribble
covers the voxels under its vertices. After an intended change: ``UPDATE_GESTURE_FIXTURE=1``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from nni_jupyter.annotation.inputs import vertex_pairs
from nni_jupyter.annotation.prompts import Prompt
from nni_jupyter.annotation.raster import Interaction, rasterize
from nni_jupyter.core.gestures import lasso_region, plane_axes, scribble_region
from nni_jupyter.core.regions import to_slices
from nni_jupyter.widget.messages import parse_message

FIXTURE = Path(__file__).with_name("gesture_fixture.json")
UPDATE = os.environ.get("UPDATE_GESTURE_FIXTURE") == "1"
CASES = json.loads(FIXTURE.read_text())


def _write_fixture() -> None:
    """One case per line, exactly as the vitest writes it, so either side can update its fields."""
    lines = ",\n".join(json.dumps(case, separators=(",", ":")) for case in CASES)
    FIXTURE.write_text(f"[\n{lines}\n]\n")


def _voxels(interaction: Interaction, shape: tuple[int, int, int]) -> list[str]:
    """The interaction's voxels as sorted ``"x,y,z"`` strings."""
    volume = np.zeros(shape, dtype=bool)
    if interaction.point is not None:
        volume[tuple(int(v) for v in interaction.point)] = True
    elif interaction.crop is None:
        volume[to_slices(interaction.bbox)] = True
    else:
        volume[to_slices(interaction.bbox)] = interaction.crop != 0
    return sorted(",".join(map(str, v)) for v in np.argwhere(volume).tolist())


def _from_browser(case: dict) -> list[str]:
    """Voxels of the fixture's browser message, through the widget's message parser."""
    shape = tuple(case["shape"])
    request = parse_message({**case["message"], "request_id": 7}, shape)
    return _voxels(rasterize(request.item, shape, case["thickness"]), shape)


def _from_python_api(case: dict) -> list[str]:
    """Voxels of the same stroke given as the Segmenter's Python methods build it."""
    shape = tuple(case["shape"])
    message = case["message"]
    vertices = np.asarray(message["vertices"], dtype=np.float64)
    if case["tool"] == "point":  # seg.add_point takes volume coordinates
        point = [0.0, 0.0, 0.0]
        point[case["axis"]] = case["index"]
        for volume_axis, value in zip(plane_axes(case["axis"]), vertices[0], strict=True):
            point[volume_axis] = value
        prompt = Prompt("point", case["positive"], point=tuple(point))
    else:  # seg.add_box / add_scribble / add_lasso with axis= and index=
        prompt = Prompt(
            case["tool"],
            case["positive"],
            axis=case["axis"],
            index=case["index"],
            vertices=vertex_pairs(vertices),
        )
    return _voxels(rasterize(prompt, shape, case["thickness"]), shape)


def _from_trainer_rasterizer(case: dict) -> list[str]:
    """Voxels of the stroke through the plane rasterizer the evaluation and the trainer call."""
    shape = tuple(case["shape"])
    p_axis, q_axis = plane_axes(case["axis"])
    plane = (shape[p_axis], shape[q_axis])
    vertices = np.asarray(case["message"]["vertices"], dtype=np.float64)
    if case["tool"] == "scribble":
        brush = (case["thickness"][p_axis], case["thickness"][q_axis])
        (p0, q0), crop = scribble_region(vertices, plane, brush)
    else:
        (p0, q0), crop = lasso_region(vertices, plane)
    voxels = []
    for p, q in np.argwhere(crop).tolist():
        voxel = [0, 0, 0]
        voxel[case["axis"]], voxel[p_axis], voxel[q_axis] = case["index"], p0 + p, q0 + q
        voxels.append(",".join(map(str, voxel)))
    return sorted(voxels)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_browser_and_python_strokes_give_the_fixture_voxels(case):
    assert "message" in case, "run `UPDATE_GESTURE_FIXTURE=1 npm test` to record the message"
    voxels = _from_browser(case)
    assert voxels, "every fixture stroke covers voxels"
    assert _from_python_api(case) == voxels
    if case["tool"] in ("scribble", "lasso"):
        assert _from_trainer_rasterizer(case) == voxels
    if UPDATE:
        case["voxels"] = voxels
        _write_fixture()
    assert voxels == case.get("voxels"), "the kernel's voxels drifted from the fixture"


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_voxels_follow_the_browsers_cursor(case):
    voxels = set(_from_browser(case))
    under_cursor = {",".join(map(str, v)) for v in case["cursor_voxels"]}
    if case["tool"] == "point":
        assert voxels == under_cursor
    elif case["tool"] == "box":
        corners = np.asarray(case["cursor_voxels"])
        lo, hi = corners.min(0), corners.max(0) + 1
        box = {",".join(map(str, v)) for v in np.argwhere(np.ones(hi - lo, bool)) + lo}
        assert voxels == box
    elif case["tool"] == "scribble":
        assert under_cursor <= voxels
    else:  # a lasso's voxels lie within the voxels its vertices span
        corners = np.asarray(case["cursor_voxels"])
        for voxel in voxels:
            assert np.all(corners.min(0) <= list(map(int, voxel.split(","))))
            assert np.all(list(map(int, voxel.split(","))) <= corners.max(0))
