"""The Segmenter with a real inference session: messages, prompts, objects, replay, state size."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from ipywidgets.widgets.widget import _remove_buffers

from nni_jupyter.annotation.codec import decode_slice
from nni_jupyter.widget import Command, Prompt, Segmenter

from .browser_emulator import LabelVolume


def messages_of(seg, kind):
    return [(content, buffers) for content, buffers in seg.sent if content["type"] == kind]


def browser_labels(seg) -> np.ndarray:
    volume = LabelVolume(seg.annotation.volume.shape)
    volume.apply_all(seg.sent)
    return volume.labels


def test_prompts_from_python_bring_their_slice_into_view(make_segmenter, image):
    seg = make_segmenter()
    nx, ny, nz = image.shape
    seg.add_point((5, ny - 3, 7))
    assert seg.slice_index == [5, ny - 3, 7] and seg.axis == 2
    seg.add_box([(2, 3), (9, 12)], axis=0, index=nx - 2)
    assert seg.axis == 0 and seg.slice_index[0] == nx - 2
    seg.add_box([[4, 10], [6, 7], [2, 12]])  # one voxel thick along y
    assert seg.axis == 1 and seg.slice_index == [6, 6, 6]
    before = (list(seg.slice_index), seg.axis)
    with pytest.raises(ValueError):
        seg.add_point((nx + 5, 0, 0))  # outside: refused, and the view stays where it was
    assert (seg.slice_index, seg.axis) == before


def test_window_from_a_preset_or_a_pair(make_segmenter):
    seg = make_segmenter(window="bone")
    assert seg.window == [400.0, 1800.0]
    seg.set_window((-600, 1500))
    assert seg.window == [-600.0, 1500.0]
    with pytest.raises(ValueError, match="presets"):
        seg.set_window("abdomen")
    assert seg.window == [-600.0, 1500.0]  # a bad window changes nothing


def test_traits_describe_image_model_and_tools(make_segmenter, image):
    seg = make_segmenter(spacing=(0.8, 0.8, 2.5))
    assert seg.shape == list(image.shape)
    assert seg.spacing_mm == [0.8, 0.8, 2.5]
    assert seg.image_dtype == "int16"
    assert seg.intensity_stats["min"] == image.min() and seg.intensity_stats["max"] == image.max()
    assert seg.slice_index == [s // 2 for s in image.shape]
    assert seg.window == [40.0, 400.0]  # a CT phantom opens in the soft-tissue window
    assert seg.model_info["license"] in ("Apache-2.0", "CC BY-NC-SA 4.0")
    assert seg.model_info["device"] == "cpu"
    assert seg.supported_tools == ["point", "box", "scribble", "lasso"]
    assert seg.scribble_thickness == [2, 2, 2]
    assert seg.objects == [
        {
            "id": 1,
            "name": "object 1",
            "color": [230, 159, 0],
            "class_id": 1,
            "visible": True,
            "voxels": 0,
        }
    ]
    assert seg.active_object == 1 and seg.overlap == "lock"
    assert not seg.busy and seg.pending == 0 and seg.error == ""
    assert seg.mask.shape == image.shape and seg.mask.dtype == np.uint8
    assert seg.labels.dtype == np.uint16 and not seg.labels.any()


def test_image_and_spacing_are_checked(make_segmenter, image):
    seg = make_segmenter(image[np.newaxis])
    assert seg.shape == list(image.shape)
    with pytest.raises(ValueError, match=r"\[X, Y, Z\] or 4-D \[1, X, Y, Z\]; got shape \(2,"):
        make_segmenter(np.stack([image, image]))
    with pytest.raises(ValueError, match="spacing must be 3 positive"):
        make_segmenter(spacing=(1, 0, 1))


def test_get_slice_replies_with_the_exact_slice(make_segmenter, image):
    seg = make_segmenter()
    seg._on_message(seg, {"type": "get_slice", "axis": 1, "index": 7, "request_id": 3}, [])
    ((content, buffers),) = messages_of(seg, "slice")
    encoding = content.pop("encoding")
    assert content == {
        "type": "slice",
        "axis": 1,
        "index": 7,
        "count": 1,
        "step": 1,
        "request_id": 3,
        "dtype": "int16",
        "shape": [image.shape[0], image.shape[2]],
        "stride": 1,
    }
    plane = decode_slice(buffers[0], encoding, content["dtype"], content["shape"])
    assert np.array_equal(plane, image[:, 7, :])


def test_get_slice_with_count_replies_with_one_buffer_per_slice_in_order(make_segmenter, image):
    seg = make_segmenter()
    message = {"type": "get_slice", "axis": 2, "index": 9, "count": 3, "step": -1}
    seg._on_message(seg, {**message, "request_id": 4}, [])
    ((content, buffers),) = messages_of(seg, "slice")
    assert (content["index"], content["count"], content["step"]) == (9, 3, -1)
    assert len(buffers) == 3
    for index, buffer in zip((9, 8, 7), buffers, strict=True):
        plane = decode_slice(buffer, content["encoding"], content["dtype"], content["shape"])
        assert np.array_equal(plane, image[:, :, index])


def test_browser_prompt_sends_patches_then_done(make_segmenter):
    seg = make_segmenter()
    message = {
        "type": "prompt",
        "tool": "box",
        "positive": True,
        "axis": 2,
        "index": 16,
        "vertices": [[8, 6], [30, 28]],
        "request_id": 41,
    }
    seg._on_message(seg, message, [])
    assert seg.wait(timeout=300)
    kinds = [content["type"] for content, _ in seg.sent]
    assert kinds[-1] == "done" and set(kinds[:-1]) <= {"mask_patch"}
    done = seg.sent[-1][0]
    assert done["request_id"] == 41 and done["compute_s"] >= 0
    assert all(c["request_id"] == 41 for c, _ in messages_of(seg, "mask_patch"))
    assert np.array_equal(browser_labels(seg), seg.labels)
    assert seg.prompts == (
        Prompt("box", True, axis=2, index=16, vertices=((8.0, 6.0), (30.0, 28.0))),
    )
    assert seg.objects[0]["voxels"] == int(seg.mask.sum())


def test_get_labels_rebuilds_the_whole_label_state(make_segmenter, image):
    seg = make_segmenter()
    seg.add_mask(image > 200)
    seg.new_object()
    seg.add_point((20, 18, 16))
    seg.sent.clear()
    seg._on_message(seg, {"type": "get_labels", "request_id": 9}, [])
    assert seg.sent[0][0] == {"type": "labels_reset", "request_id": 9}
    assert {c["object"] for c, _ in messages_of(seg, "mask_patch")} == {
        i for i in (1, 2) if (seg.labels == i).any()
    }
    volume = LabelVolume(image.shape)
    volume.labels[:] = 77  # stale state in the browser
    volume.apply_all(seg.sent)
    assert np.array_equal(volume.labels, seg.labels)


BAD = [
    (
        {
            "type": "prompt",
            "tool": "point",
            "positive": True,
            "axis": 2,
            "index": 3,
            "vertices": [[1, float("nan")]],
            "request_id": 8,
        },
        8,
        "finite",
    ),
    (
        {
            "type": "prompt",
            "tool": "point",
            "positive": True,
            "axis": 2,
            "index": 3,
            "vertices": [[500, 2]],
            "request_id": 9,
        },
        9,
        "outside the slice",
    ),
    ({"type": "get_slice", "axis": 0, "index": 999, "request_id": 10}, 10, "0..39"),
    (
        {"type": "command", "name": "select_object", "object": 42, "request_id": 11},
        11,
        "no object with id 42",
    ),
    (
        {"type": "command", "name": "delete_object", "object": 7, "request_id": 12},
        12,
        "no object with id 7",
    ),
    ("not a dict", None, "JSON object"),
    ({"type": "get_labels"}, None, "request_id"),
]


def test_bad_browser_messages_get_error_replies_and_change_nothing(make_segmenter):
    seg = make_segmenter()
    seg.add_point((20, 18, 16))
    labels = seg.labels
    for message, request_id, words in BAD:
        seg.sent.clear()
        with (
            pytest.warns(UserWarning, match="browser request failed")
            if request_id
            else warnings.catch_warnings()
        ):
            seg._on_message(seg, message, [])
            assert seg.wait(timeout=300)
        errors = messages_of(seg, "error")
        assert len(errors) == 1, message
        assert errors[0][0]["request_id"] == request_id
        assert words in errors[0][0]["message"] and words in seg.error
    assert np.array_equal(seg.labels, labels)
    seg.add_point((5, 5, 5), positive=False)
    assert seg.error == ""


def test_unsupported_tools_are_refused(make_segmenter, model_folder, tmp_path, image):
    import shutil

    limited = tmp_path / "no_lasso"
    shutil.copytree(model_folder, limited)
    info = json.loads((limited / "inference_info.json").read_text())
    info["supported_interactions"]["lasso"] = False
    (limited / "inference_info.json").write_text(json.dumps(info))
    seg = make_segmenter(model=limited)
    assert seg.supported_tools == ["point", "box", "scribble"]
    with pytest.raises(ValueError, match="does not support lasso"):
        seg.add_lasso([(1, 1), (9, 1), (5, 9)], axis=2, index=3)
    lasso = {
        "type": "prompt",
        "tool": "lasso",
        "positive": True,
        "axis": 2,
        "index": 3,
        "vertices": [[1, 1], [9, 1], [5, 9]],
        "request_id": 5,
    }
    with pytest.warns(UserWarning, match="does not support lasso"):
        seg._on_message(seg, lasso, [])
    assert "does not support lasso" in messages_of(seg, "error")[0][0]["message"]


def gesture_messages(count: int) -> list[dict]:
    """A reproducible mix of gestures and commands, as a browser would send them."""
    rng = np.random.default_rng(7)
    shape = (40, 36, 32)
    messages = []
    for request_id in range(count):
        if request_id in (17, 33):
            messages.append({"type": "command", "name": "new_object", "request_id": request_id})
            continue
        if request_id in (25, 41):
            messages.append({"type": "command", "name": "undo", "request_id": request_id})
            continue
        if request_id == 45:
            messages.append(
                {"type": "command", "name": "select_object", "object": 1, "request_id": request_id}
            )
            continue
        axis = int(rng.integers(0, 3))
        plane = [s for a, s in enumerate(shape) if a != axis]
        tool = ["point", "box", "scribble", "lasso"][request_id % 4]
        count_vertices = {"point": 1, "box": 2, "scribble": 3, "lasso": 4}[tool]
        vertices = [
            [float(rng.uniform(4, plane[0] - 4)), float(rng.uniform(4, plane[1] - 4))]
            for _ in range(count_vertices)
        ]
        if tool == "lasso":
            centre = np.array([plane[0] / 2, plane[1] / 2])
            vertices = [list(centre + offset) for offset in ([-6, -6], [7, -5], [6, 8], [-5, 6])]
        messages.append(
            {
                "type": "prompt",
                "tool": tool,
                "positive": bool(request_id % 5 != 3),
                "axis": axis,
                "index": int(rng.integers(0, shape[axis])),
                "vertices": vertices,
                "request_id": request_id,
            }
        )
    return messages


def test_rapid_prompts_queue_and_match_one_by_one(make_segmenter, image):
    messages = gesture_messages(50)
    rapid = make_segmenter()
    pending_seen = []
    rapid.observe(lambda change: pending_seen.append(change["new"]), names="pending")
    # Hold the store lock so the worker cannot finish even the first prompt: all 50 must queue,
    # and the kernel must still answer a slice request meanwhile.
    with rapid.annotation.runner.lock:
        for message in messages:
            rapid._on_message(rapid, message, [])
        rapid._on_message(rapid, {"type": "get_slice", "axis": 0, "index": 1, "request_id": 99}, [])
        # 49 waiting behind the one the worker holds, or all 50 if it has not taken one yet
        assert rapid.busy and rapid.pending in (49, 50)
        assert [c["type"] for c, _ in rapid.sent] == ["slice"]
    assert rapid.wait(timeout=600)
    assert max(pending_seen) in (49, 50) and rapid.pending == 0 and not rapid.busy

    stepwise = make_segmenter()
    for message in messages:
        stepwise._on_message(stepwise, message, [])
        assert stepwise.wait(timeout=300)

    assert not messages_of(rapid, "error") and not messages_of(stepwise, "error")
    done_ids = [c["request_id"] for c, _ in messages_of(rapid, "done")]
    assert done_ids == list(range(50))
    assert np.array_equal(rapid.labels, stepwise.labels)
    assert rapid.objects == stepwise.objects and rapid.active_object == stepwise.active_object
    assert rapid.prompts == stepwise.prompts and len(rapid.prompts) == 50
    assert np.array_equal(browser_labels(rapid), rapid.labels)
    assert len(np.unique(rapid.labels)) >= 2  # the prompts did segment something


def run_session_script(seg, image):
    """Python calls covering every prompt form and command."""
    bright = (image > np.percentile(image, 90)).astype(np.uint8)
    seg.add_mask(bright)
    seg.add_point((20, 18, 16))
    seg.add_box([[8, 30], [6, 28], [16, 17]], positive=True)
    seg.new_object("second", class_id=5)
    stroke = np.zeros(image.shape, dtype=np.uint8)
    stroke[10:25, 20, 12] = 1
    seg.add_scribble(stroke)
    seg.add_lasso([(5, 5), (30, 6), (20, 25)], axis=1, index=12, positive=False)
    seg.add_box([(4, 4), (20, 20)], axis=0, index=20)
    assert seg.undo() is True
    assert seg.redo() is True
    seg.overlap = "overwrite"
    seg.add_scribble([(3, 3), (30, 20)], axis=2, index=10)
    seg.select_object(1)
    seg.add_point((8, 8, 8), positive=False)
    seg.new_object()
    seg.add_point((30, 30, 20))
    seg.reset_object()
    seg.wait()


def test_replay_reproduces_the_masks(make_segmenter, image):
    original = make_segmenter()
    run_session_script(original, image)
    assert len({int(v) for v in np.unique(original.labels)} - {0}) == 2

    replayed = make_segmenter()
    replayed.replay(original.prompts)
    assert replayed.prompts == original.prompts
    assert np.array_equal(replayed.labels, original.labels)
    assert replayed.objects == original.objects
    assert replayed.active_object == original.active_object
    assert replayed.overlap == original.overlap == "overwrite"

    from_json = make_segmenter()
    saved = json.dumps([item.to_dict() for item in original.prompts])
    from_json.replay(json.loads(saved))
    assert np.array_equal(from_json.labels, original.labels)
    assert np.array_equal(from_json.aggregate("semantic"), original.aggregate("semantic"))


def test_add_mask_sets_the_active_object_exactly(make_segmenter, image):
    seg = make_segmenter()
    mask = np.zeros(image.shape, dtype=bool)
    mask[5:15, 6:20, 3:9] = True
    seg.add_mask(mask)
    assert np.array_equal(seg.mask, mask.astype(np.uint8))
    assert np.array_equal(seg.annotation.runner.session.target_buffer, seg.mask)
    seg.add_mask(np.zeros(image.shape))
    assert not seg.mask.any()


def test_objects_lock_overwrite_and_reopen(make_segmenter, image):
    seg = make_segmenter()
    first = np.zeros(image.shape, dtype=np.uint8)
    first[0:20] = 1
    seg.add_mask(first)
    assert seg.new_object("neighbour", class_id=3) == 2
    second = np.zeros(image.shape, dtype=np.uint8)
    second[10:30] = 1
    seg.add_mask(second)
    assert np.array_equal(seg.aggregate("separate")[1], first)  # locked: not erased
    assert np.array_equal(seg.mask, second * (1 - first))

    seg.overlap = "overwrite"
    seg.add_mask(second)
    assert np.array_equal(seg.mask, second)
    assert seg.aggregate("separate")[1][:10].all() and not seg.aggregate("separate")[1][10:].any()

    seg.active_object = 1  # re-open the first object from the browser or Python
    seg.wait()
    assert seg.active_object == 1
    # the session restarts from the object's mask
    assert np.array_equal(seg.annotation.runner.session.target_buffer, seg.mask)
    before_second = seg.aggregate("separate")[2]
    seg.overlap = "lock"
    seg.add_point((5, 18, 16))
    assert np.array_equal(seg.aggregate("separate")[2], before_second)
    semantic = seg.aggregate("semantic")
    assert set(np.unique(semantic)) <= {0, 1, 3}
    assert [o["name"] for o in seg.objects] == ["object 1", "neighbour"]


def test_undo_redo_across_objects_restore_masks_and_session(make_segmenter, image):
    seg = make_segmenter()
    seg.add_point((20, 18, 16))
    first = seg.labels
    seg.new_object()
    seg.add_point((8, 8, 24))
    second = seg.labels
    seg.delete_object(1)
    assert [o["id"] for o in seg.objects] == [2]
    assert seg.undo() and np.array_equal(seg.labels, second)
    assert seg.undo() and np.array_equal(seg.labels, first) and seg.active_object == 2
    assert seg.undo() and seg.active_object == 1 and [o["id"] for o in seg.objects] == [1]
    assert np.array_equal(seg.annotation.runner.session.target_buffer, seg.mask)
    assert seg.undo() and not seg.labels.any()
    assert seg.undo() is False
    assert seg.redo() and np.array_equal(seg.labels, first)
    assert np.array_equal(seg.annotation.runner.session.target_buffer, seg.mask)
    assert seg.redo() and seg.redo() and np.array_equal(seg.labels, second)
    assert seg.redo() and seg.redo() is False
    assert np.array_equal(browser_labels(seg), seg.labels)


def test_observe_fires_when_masks_change(make_segmenter):
    seg = make_segmenter()
    versions = []
    seg.observe(lambda change: versions.append(change["new"]), names="labels_version")
    seg.add_point((20, 18, 16))
    assert versions == [1]
    seg.new_object()
    assert versions == [1]  # no mask changed
    seg.undo()
    seg.undo()
    assert versions == [1, 2]


def test_blocking_calls_from_callbacks_are_refused_not_deadlocked(make_segmenter):
    seg = make_segmenter()
    errors = []

    def callback(change):
        try:
            seg.add_point((3, 3, 3))
        except RuntimeError as exc:
            errors.append(str(exc))

    seg.observe(callback, names="labels_version")
    seg.add_point((20, 18, 16))
    assert errors and "wait=False" in errors[0]


def test_wait_false_returns_a_future_and_errors_reach_python(make_segmenter):
    seg = make_segmenter()
    future = seg.add_point((20, 18, 16), wait=False)
    assert future.result(timeout=300) is not None or seg.mask.sum() == 0
    with pytest.raises(ValueError, match="outside the image"):
        seg.add_point((99, 0, 0))
    with pytest.raises(ValueError, match="no object with id 5"):
        seg.select_object(5)
    assert "no object with id 5" in seg.error
    with pytest.warns(UserWarning, match="queued prompt failed"):
        failing = seg.delete_object(9, wait=False)
        seg.wait()
        assert failing.exception(timeout=300) is not None


def saved_state_sizes(seg) -> dict[str, int]:
    """Bytes per trait of what a notebook saves for the widget (its synced state)."""
    state, paths, buffers = _remove_buffers(seg.get_state())
    sizes = {key: len(json.dumps(value)) for key, value in state.items()}
    for path, buffer in zip(paths, buffers, strict=True):
        sizes[path[0]] = sizes.get(path[0], 0) + len(buffer)
    return sizes


def test_saved_widget_state_is_small_for_a_256_cube(make_session):
    volume = np.random.default_rng(0).normal(0, 30, (256, 256, 256)).astype(np.int16)
    volume[64:192, 64:192, 64:192] += 300
    seg = Segmenter(volume, session=make_session())
    try:
        seg.add_point((128, 128, 128))  # one 32³ window: the tiny model refines huge boxes slowly
        seg.new_object()
        sizes = saved_state_sizes(seg)
    finally:
        seg.close()
    bundle = sizes.pop("_esm") + sizes.pop("_css")
    assert sum(sizes.values()) < 10_000, sizes  # the kernel's own traits: a few KB
    # anywidget saves the JS bundle with the state: together they must stay under 100 KB
    assert "sourceMappingURL=data:" not in seg._esm, (
        "nni_jupyter/static holds a development build (node build.mjs --dev); "
        "run `npm run build` for the shipped bundle"
    )
    assert sum(sizes.values()) + bundle < 100_000, (bundle, sizes)


def test_commands_and_prompts_are_recorded_in_order(make_segmenter):
    seg = make_segmenter()
    seg.add_point((20, 18, 16), positive=False)
    seg.new_object("b")
    seg.overlap = "overwrite"
    seg.undo()
    seg.wait()
    assert seg.prompts == (
        Prompt("point", False, point=(20.0, 18.0, 16.0)),
        Command("new_object", object_name="b"),
        Command("set_overlap", overlap="overwrite"),
        Command("undo"),
    )


def test_a_failing_observer_does_not_fail_the_prompt(make_segmenter):
    seg = make_segmenter()

    def broken(change):
        raise KeyError("user bug")

    seg.observe(broken, names="labels_version")
    with pytest.warns(UserWarning, match="observer raised KeyError"):
        bbox = seg.add_point((20, 18, 16))
    assert bbox is not None and seg.labels_version == 1 and seg.error == ""
