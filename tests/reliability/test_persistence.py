"""No lost work: save / load / autosave of a Segmenter (labels, objects, prompts, settings)."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from nni_jupyter.annotation import persistence
from nni_jupyter.widget import Segmenter

POINT_A = (20, 18, 16)
POINT_B = (8, 8, 8)


def _work(seg) -> None:
    seg.add_point(POINT_A)
    seg.new_object("second", class_id=7)
    seg.add_point(POINT_B)
    seg.add_box([[4, 14], [4, 14], [9, 10]])
    seg.undo()
    seg.redo()
    seg.overlap = "overwrite"
    seg.select_object(1)
    seg.wait()
    seg.window = [40.0, 400.0]


def test_save_and_load_restore_masks_objects_prompts_and_settings(make_segmenter, make_session,
                                                                  image, tmp_path):  # fmt: skip
    seg = make_segmenter(spacing=(0.5, 0.7, 2.0))
    _work(seg)
    path = seg.save(tmp_path / "work.npz")
    restored = Segmenter.load(path, image=image, session=make_session())
    try:
        assert np.array_equal(restored.labels, seg.labels)
        assert restored.objects == seg.objects
        assert restored.active_object == seg.active_object == 1
        assert restored.overlap == "overwrite"
        assert restored.window == [40.0, 400.0]
        assert restored.spacing_mm == [0.5, 0.7, 2.0]
        assert restored.prompts == seg.prompts
        # the stamps came along: the same prompt log (objects, times), undone prompts left out
        assert restored.prompt_log(annotator="a") == seg.prompt_log(annotator="a")
        assert restored.aggregate("semantic").max() == 7
        # the session was re-seeded with the active object: a prompt continues from it
        restored.add_point(POINT_A, positive=False)
        seg.add_point(POINT_A, positive=False)
        assert np.array_equal(restored.labels, seg.labels)
    finally:
        restored.close()


@pytest.mark.parametrize(
    ("stamps", "problem"),
    [
        (None, "its stamps must be a list of"),
        ([], "its stamps must be a list of"),
        (
            [{"object": 1, "time": "noon", "applied": True, "overlap": None}],
            "stamps[0] is invalid: a stamp's time",
        ),
        (
            [{"object": 0, "time": None, "applied": True, "overlap": None}],
            "stamps[0] is invalid: a stamp's object",
        ),
        ([{"object": 1, "time": None}], "stamps[0] is invalid: a stamp must be"),
        (
            [{"object": 1, "time": None, "applied": True, "overlap": "x"}],
            "stamps[0] is invalid: a stamp's overlap",
        ),
    ],
)
def test_stamps_are_checked_on_reading(make_segmenter, tmp_path, stamps, problem):
    seg = make_segmenter()
    seg.add_point(POINT_A)
    owner, meta = persistence.read(seg.save(tmp_path / "w.npz"))
    assert meta["stamps"][0]["object"] == 1 and meta["stamps"][0]["time"].endswith("+00:00")
    meta["stamps"] = stamps
    path = tmp_path / "edited.npz"
    np.savez_compressed(path, owner=owner, meta=np.array(json.dumps(meta)))
    with pytest.raises(ValueError, match=re.escape(problem)):
        persistence.read(path)


def test_replaying_the_stored_prompts_reproduces_the_masks(make_segmenter, image, tmp_path):
    seg = make_segmenter()
    _work(seg)
    _, meta = persistence.read(seg.save(tmp_path / "work.npz"))
    fresh = make_segmenter()
    fresh.replay(meta["prompts"])
    assert np.array_equal(fresh.labels, seg.labels)
    assert fresh.objects == seg.objects


def test_autosave_writes_after_every_change_atomically(make_segmenter, image, tmp_path):
    path = tmp_path / "auto.npz"
    seg = make_segmenter(autosave=path)
    assert path.is_file() and not persistence.read(path)[0].any()
    seg.add_point(POINT_A)
    assert np.array_equal(persistence.read(path)[0], seg.labels)
    seg.new_object()
    seg.add_point(POINT_B)
    owner, meta = persistence.read(path)
    assert np.array_equal(owner, seg.labels) and len(meta["prompts"]) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["auto.npz"]  # no temporary left over


def test_a_failed_write_keeps_the_previous_file(make_segmenter, tmp_path, monkeypatch):
    path = tmp_path / "auto.npz"
    seg = make_segmenter(autosave=path)
    seg.add_point(POINT_A)
    before = path.read_bytes()

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt  # e.g. the kernel interrupted mid-write

    monkeypatch.setattr(np, "savez_compressed", interrupted)
    with pytest.raises(KeyboardInterrupt):
        seg.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["auto.npz"]


def test_autosave_failure_is_reported_and_the_prompt_still_counts(make_segmenter, tmp_path):
    seg = make_segmenter()
    seg.autosave(tmp_path / "auto.npz")
    seg.annotation.autosave_path = tmp_path / "missing-folder" / "auto.npz"
    with pytest.warns(UserWarning, match="autosave"):
        seg.add_point(POINT_A)
        seg.wait()
    assert seg.labels.any() and "autosave" in seg.error


def test_load_refuses_another_image_and_foreign_files(make_segmenter, image, tmp_path):
    path = make_segmenter().save(tmp_path / "work.npz")
    with pytest.raises(ValueError, match="shape"):
        Segmenter.load(path, image=image[:-1])
    with pytest.raises(ValueError, match="different image"):
        Segmenter.load(path, image=image + 1)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.zeros(3))
    with pytest.raises(ValueError, match="not an nni_jupyter segmentation"):
        persistence.read(foreign)


class _Payload:
    def __reduce__(self):
        return (exec, ("import os; os.environ['NNI_PWNED_BY_NPZ'] = '1'",))


def test_a_pickled_npz_is_refused_and_never_runs(tmp_path, monkeypatch):
    monkeypatch.delenv("NNI_PWNED_BY_NPZ", raising=False)
    path = tmp_path / "evil.npz"
    meta = np.empty((), dtype=object)
    meta[()] = _Payload()
    np.savez(path, owner=np.zeros((2, 2, 2), np.uint8), meta=meta)
    assert b"NNI_PWNED_BY_NPZ" in path.read_bytes()  # the payload is in the file
    with pytest.raises(ValueError, match="not an nni_jupyter segmentation"):
        persistence.read(path)
    assert "NNI_PWNED_BY_NPZ" not in __import__("os").environ


def test_file_is_plain_json_and_uint8(make_segmenter, tmp_path):
    seg = make_segmenter()
    seg.add_point(POINT_A)
    with np.load(seg.save(tmp_path / "w.npz"), allow_pickle=False) as data:
        assert data["owner"].dtype == np.uint8
        assert json.loads(str(data["meta"]))["format"] == persistence.FORMAT


def test_a_file_in_the_version_1_layout_loads(make_session, image, tmp_path):
    # written by hand as nni_jupyter 0.x (format version 1) wrote it: keys, order and types
    owner = np.zeros(image.shape, np.uint8)
    owner[4:10, 4:10, 16] = 1
    owner[20:24, 20:30, 10:12] = 3
    meta = {
        "format": "nni_jupyter.segmentation",
        "version": 1,
        "shape": list(image.shape),
        "image_dtype": image.dtype.str,
        "image_fingerprint": persistence.image_fingerprint(image),
        "objects": [
            {"id": 1, "name": "liver", "color": [230, 159, 0], "class_id": 1, "visible": True},
            {"id": 3, "name": "kidney", "color": [1, 2, 3], "class_id": 7, "visible": False},
        ],
        "active_object": 3,
        "overlap": "overwrite",
        "spacing_mm": [0.5, 0.7, 2.0],
        "window": [40.0, 400.0],
        "prompts": [
            {"kind": "prompt", "tool": "point", "positive": True, "point": [7.0, 7.0, 16.0]},
            {"kind": "command", "name": "new_object", "object_name": "kidney", "class_id": 7},
        ],
    }
    path = tmp_path / "v1.npz"
    np.savez_compressed(path, owner=owner, meta=np.array(json.dumps(meta)))
    seg = Segmenter.load(path, image=image, session=make_session())
    try:
        assert np.array_equal(seg.labels, owner)
        assert [(o["id"], o["name"], o["color"], o["class_id"], o["visible"], o["voxels"])
                for o in seg.objects] == [(1, "liver", [230, 159, 0], 1, True, 36),
                                          (3, "kidney", [1, 2, 3], 7, False, 80)]  # fmt: skip
        assert (seg.active_object, seg.overlap) == (3, "overwrite")
        assert seg.window == [40.0, 400.0] and seg.spacing_mm == [0.5, 0.7, 2.0]
        assert [item.to_dict() for item in seg.prompts] == meta["prompts"]
        assert np.array_equal(seg.mask, owner == 3)
        # its prompts have no stamps: the prompt log says so instead of guessing objects
        with pytest.raises(ValueError, match="does not say which object each prompt acted on"):
            seg.prompt_log()
        # and saving it again writes the same layout, as version 2 with unknown stamps
        _, again = persistence.read(seg.save(tmp_path / "again.npz"))
        unknown = {"object": None, "time": None, "applied": True, "overlap": None}
        unknown["annotator"] = None
        assert again == {**meta, "version": 2, "stamps": [unknown] * len(meta["prompts"])}
        assert list(again) == [*meta, "stamps"]
    finally:
        seg.close()
