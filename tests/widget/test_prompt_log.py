"""The prompt log: world coordinates, save/read round trip, replay, validation, remove_prompt."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import nni_jupyter as nj
from nni_jupyter.annotation import log as prompt_log
from nni_jupyter.io import Image
from nni_jupyter.measurements import voxel_to_world, world_to_voxel

SPACING = (0.7, 1.3, 2.5)
ORIGIN = (-12.0, 40.5, 7.25)


def oblique_direction() -> np.ndarray:
    """A rotation about a tilted axis: every column mixes all three physical axes."""
    a, b = np.radians(30), np.radians(20)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return rz @ rx


@pytest.fixture
def oblique_image(image) -> Image:
    return Image(image, SPACING, ORIGIN, oblique_direction(), path="ct_001.nii.gz")


def test_voxel_world_round_trip_with_oblique_direction_and_anisotropic_spacing():
    rng = np.random.default_rng(0)
    voxels = rng.uniform(-5, 50, size=(20, 3))
    mm = voxel_to_world(voxels, SPACING, ORIGIN, oblique_direction())
    expected = np.array(ORIGIN) + (oblique_direction() @ (voxels * SPACING).T).T
    assert np.allclose(mm, expected)
    assert np.allclose(world_to_voxel(mm, SPACING, ORIGIN, oblique_direction()), voxels)
    assert np.allclose(
        voxel_to_world((1, 0, 0), SPACING, ORIGIN, oblique_direction()) - ORIGIN,
        oblique_direction()[:, 0] * SPACING[0],
    )


def draw(seg) -> None:
    """Two objects, slice-drawn and volume prompts, and an undone prompt."""
    seg.add_point((20, 18, 16))
    seg.add_box([(6, 8), (24, 26)], axis=2, index=16)
    seg.add_point((5, 5, 5), positive=False)
    assert seg.undo() is True
    seg.new_object("liver", class_id=7)
    seg.add_scribble([(3, 3), (30, 20)], axis=1, index=10)
    seg.add_lasso([(5, 5), (30, 6), (20, 25)], axis=0, index=30, positive=False)
    seg.wait()


def test_log_records_image_model_objects_and_prompts_in_voxels_and_mm(
    make_segmenter, oblique_image, monkeypatch
):
    monkeypatch.setenv(prompt_log.ANNOTATOR_ENV, "dr_env")
    seg = make_segmenter(oblique_image)
    draw(seg)
    log = seg.prompt_log()
    assert log["format"] == prompt_log.FORMAT and log["version"] == prompt_log.VERSION == 2
    assert log["image"]["path"] == "ct_001.nii.gz"
    assert log["image"]["shape"] == list(oblique_image.shape)
    assert np.allclose(log["image"]["direction"], oblique_direction())
    assert len(log["image"]["fingerprint"]) == 32
    assert len(log["model"]["checkpoint_sha256"]) == 64
    assert (
        log["model"]["autozoom"] is False
        and log["model"]["precision"] == seg.model_info["precision"]
    )
    assert log["model"]["nni_jupyter_version"] == nj.__version__
    first, second = log["objects"]
    assert [p["kind"] for p in first["prompts"]] == ["point", "box"]  # the undone one is gone
    assert (second["name"], second["class_id"]) == ("liver", 7)
    assert [p["positive"] for p in second["prompts"]] == [True, False]
    point = first["prompts"][0]
    assert np.allclose(
        point["point_mm"], voxel_to_world((20, 18, 16), SPACING, ORIGIN, oblique_direction())
    )
    box = first["prompts"][1]
    assert (box["axis"], box["slice"], box["vertices_voxel"]) == (2, 16, [[6, 8], [24, 26]])
    back = world_to_voxel(box["vertices_mm"], SPACING, ORIGIN, oblique_direction())
    assert np.allclose(back, [[6, 8, 16], [24, 26, 16]], atol=1e-5)
    assert point["annotator"] == "dr_env"
    assert point["time"].endswith("+00:00")
    # the name recorded when the prompt was given wins over the saver's
    assert seg.prompt_log(annotator="dr_arg")["objects"][0]["prompts"][0]["annotator"] == "dr_env"


def test_log_round_trips_and_replays_to_the_same_labels(make_segmenter, oblique_image, tmp_path):
    seg = make_segmenter(oblique_image)
    draw(seg)
    path = seg.save_prompt_log(tmp_path / "ct_001.prompts.json")
    assert nj.read_prompt_log(path) == json.loads(json.dumps(seg.prompt_log()))

    replayed = make_segmenter(oblique_image)
    replayed.replay_prompt_log(path)
    assert np.array_equal(replayed.labels, seg.labels)
    assert replayed.labels.any()
    assert [o["class_id"] for o in replayed.objects] == [o["class_id"] for o in seg.objects]


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda log: log.update(version=3), "field version"),
        (lambda log: log.pop("objects"), "field objects"),
        (
            lambda log: log["objects"][0]["prompts"][1]["vertices_voxel"][1].__setitem__(0, "x"),
            "field objects[0].prompts[1].vertices_voxel[1][0]",
        ),
        (lambda log: log["image"].update(spacing_mm=[1, 0, 1]), "field image.spacing_mm[1]"),
        (lambda log: log["objects"][1].update(class_id=-1), "field objects[1].class_id"),
    ],
)
def test_validation_names_file_and_field(make_segmenter, image, tmp_path, edit, field):
    seg = make_segmenter()
    draw(seg)
    log = seg.prompt_log()
    edit(log)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(log), encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        nj.read_prompt_log(path)
    assert str(path) in str(caught.value) and field in str(caught.value)


def test_remove_prompt_recomputes_only_that_object(make_segmenter):
    prompts = [((20, 18, 16), True), ((12, 10, 16), True), ((26, 24, 16), False)]
    seg = make_segmenter()
    for point, positive in prompts:
        seg.add_point(point, positive)
    seg.new_object()
    seg.add_box([[2, 12], [2, 12], [4, 5]])
    other = seg.aggregate("separate")[2]

    seg.remove_prompt(1, object=1)

    fresh = make_segmenter()
    for point, positive in (prompts[0], prompts[2]):
        fresh.add_point(point, positive)
    masks = seg.aggregate("separate")
    assert np.array_equal(masks[2], other)
    assert np.array_equal(masks[1], fresh.mask & (other == 0))
    kept = [p["point_voxel"] for p in seg.prompt_log()["objects"][0]["prompts"]]
    assert kept == [list(map(float, prompts[0][0])), list(map(float, prompts[2][0]))]
    assert seg.active_object == 2
    with pytest.raises(IndexError, match="object 1 has 2 prompts"):
        seg.remove_prompt(5, object=1)


def kept_points(seg, object_index: int = 0) -> list[list[float]]:
    return [p["point_voxel"] for p in seg.prompt_log()["objects"][object_index]["prompts"]]


def test_remove_prompt_is_one_undo_step(make_segmenter):
    seg = make_segmenter()
    seg.add_point((20, 18, 16))
    seg.add_point((12, 10, 16))
    seg.new_object()
    seg.add_box([[2, 12], [2, 12], [4, 5]])
    seg.select_object(1)
    before = seg.labels
    before_points = kept_points(seg)
    other = seg.aggregate("separate")[2]

    seg.remove_prompt(0)  # the active object's first prompt
    removed = seg.labels
    assert not np.array_equal(removed, before)
    assert kept_points(seg) == [before_points[1]]
    assert np.array_equal(seg.aggregate("separate")[2], other)

    assert seg.undo() is True  # one step: the mask and the prompt come back together
    assert np.array_equal(seg.labels, before)
    assert kept_points(seg) == before_points
    assert seg.active_object == 1
    assert seg.redo() is True
    assert np.array_equal(seg.labels, removed)
    assert kept_points(seg) == [before_points[1]]
    assert seg.undo() is True and seg.undo() is True  # then the box of object 2, as before
    assert not seg.aggregate("separate")[2].any()
    assert kept_points(seg) == before_points


def test_remove_prompt_refuses_a_stale_or_wrong_index_and_changes_nothing(make_segmenter):
    from nni_jupyter.annotation.prompts import Command

    seg = make_segmenter()
    seg.add_point((20, 18, 16))
    before = seg.labels
    with pytest.raises(IndexError, match="object 1 has 1 prompts; got index -2"):
        seg.remove_prompt(-2)
    with pytest.raises(ValueError, match="no object with id 9"):
        seg.remove_prompt(0, object=9)
    with pytest.raises(IndexError, match="the prompt list changed"), pytest.warns(UserWarning):
        seg.replay([Command("remove_prompt", object=1, index=0, sequence=5)])
    assert np.array_equal(seg.labels, before)
    assert seg.undo() is True and not seg.labels.any()  # the point was the last step


def block(shape, lo, hi) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = 1
    return mask


def test_log_records_the_overlap_policy_and_replay_honours_it(make_segmenter, image, tmp_path):
    seg = make_segmenter()
    seg.add_mask(block(image.shape, (2, 2, 2), (20, 20, 20)))
    seg.overlap = "overwrite"
    seg.new_object()
    seg.add_mask(block(image.shape, (10, 10, 10), (30, 30, 30)))  # takes part of object 1
    seg.overlap = "lock"
    seg.wait()
    log = seg.prompt_log()
    assert log["overlap"] == "lock"
    assert [obj["prompts"][0]["overlap"] for obj in log["objects"]] == ["lock", "overwrite"]
    assert (seg.labels[10:20, 10:20, 10:20] == 2).all()

    replayed = make_segmenter()  # starts under "lock"
    replayed.replay_prompt_log(seg.save_prompt_log(tmp_path / "log.json"))
    assert np.array_equal(replayed.labels, seg.labels)
    assert replayed.overlap == "lock"

    for edit, field in (
        (lambda lg: lg.update(overlap="merge"), "field overlap"),
        (
            lambda lg: lg["objects"][1]["prompts"][0].update(overlap=3),
            "objects[1].prompts[0].overlap",
        ),
    ):
        bad = json.loads(json.dumps(log))
        edit(bad)
        with pytest.raises(ValueError, match=re.escape(field)):
            prompt_log.check(bad, "edited.json")


def test_prompt_list_rows_follow_the_active_object_and_every_change(make_segmenter):
    seg = make_segmenter()
    draw(seg)  # object 2 is active: a scribble on y 10, a negative lasso on x 30
    scribble, lasso = seg.prompt_list
    assert (scribble["kind"], scribble["axis"], scribble["slice"], scribble["positive"]) == (
        "scribble", 1, 10, True
    )  # fmt: skip
    assert lasso == {
        "index": 1,
        "sequence": lasso["sequence"],
        "kind": "lasso",
        "positive": False,
        "axis": 0,
        "slice": 30,
        "draw": "lasso",
        "points": [[30, 5.0, 5.0], [30, 30.0, 6.0], [30, 20.0, 25.0]],
        "focus": [30, None, None],
    }
    seg.select_object(1)
    assert [row["kind"] for row in seg.prompt_list] == ["point", "box"]
    assert seg.prompt_list[0]["focus"] == [20, 18, 16]
    seg.remove_prompt(0)
    assert [row["kind"] for row in seg.prompt_list] == ["box"]
    seg.undo()
    assert [row["kind"] for row in seg.prompt_list] == ["point", "box"]


def test_each_prompt_keeps_who_gave_it_through_save_load_and_replay(
    make_segmenter, make_session, image, tmp_path, monkeypatch
):
    monkeypatch.setenv(prompt_log.ANNOTATOR_ENV, "dr_env")
    seg = make_segmenter()
    seg.add_point((20, 18, 16))  # no annotator set: the environment's
    seg.annotator = "alice"
    seg.add_box([(6, 8), (24, 26)], axis=2, index=16)
    seg.annotator = "bob"
    seg.add_point((5, 5, 5), positive=False)
    with pytest.raises(ValueError, match="annotator must be None or text"):
        seg.annotator = 42

    def who(log):
        return [p["annotator"] for p in log["objects"][0]["prompts"]]

    assert who(seg.prompt_log()) == ["dr_env", "alice", "bob"]
    assert who(seg.prompt_log(annotator="saver")) == ["dr_env", "alice", "bob"]
    restored = nj.Segmenter.load(seg.save(tmp_path / "work.npz"), image, session=make_session())
    try:
        assert who(restored.prompt_log()) == ["dr_env", "alice", "bob"]
    finally:
        restored.close()
    path = seg.save_prompt_log(tmp_path / "log.json")
    monkeypatch.setenv(prompt_log.ANNOTATOR_ENV, "someone_else")
    again = make_segmenter()
    again.replay_prompt_log(path)
    assert who(again.prompt_log()) == ["dr_env", "alice", "bob"]
    assert np.array_equal(again.labels, seg.labels)
