"""Hand edits: brush, eraser, fill and 3-D clean-ups of the active object.

Each edit is checked against what it must do voxel for voxel (masks set with ``add_mask``, so the
model plays no part), against the objects it must leave alone, and as a step of the one undo
history and the record: removable, replayed, saved and loaded, written to the log in voxels and mm.
"""

from __future__ import annotations

import numpy as np
import pytest

from nni_jupyter.annotation import Annotation
from nni_jupyter.annotation.brush import stroke_region
from nni_jupyter.annotation.record import prompt_rows
from nni_jupyter.volumes import SparseVolume

SHAPE = (40, 36, 32)
SPACING = (1.0, 1.0, 2.0)


@pytest.fixture
def annotation(image, make_session):
    made = Annotation(image, session=make_session(), spacing=SPACING)
    yield made
    made.close()


def block(lo, hi) -> np.ndarray:
    mask = np.zeros(SHAPE, dtype=np.uint8)
    mask[tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))] = 1
    return mask


def disc_on_slice(path, radius, axis, index) -> np.ndarray:
    """The stroke as the brush rule gives it, as a volume mask (one voxel deep)."""
    plane = [n for a, n in enumerate(SHAPE) if a != axis]
    (p0, q0), crop = stroke_region(np.asarray(path, float), radius, tuple(plane))
    out = np.zeros(SHAPE, dtype=np.uint8)
    view = np.moveaxis(out, axis, 0)[index]
    view[p0 : p0 + crop.shape[0], q0 : q0 + crop.shape[1]] = crop
    return out


def test_paint_adds_the_stroke_and_erase_removes_it_from_the_active_object_only(annotation):
    annotation.add_mask(block((10, 10, 10), (20, 20, 20)))
    first = np.asarray(annotation.mask)
    annotation.new_object()
    annotation.add_mask(block((20, 10, 10), (30, 20, 20)))
    second = np.asarray(annotation.mask)
    stroke = [(15, 15), (25, 15)]  # across both objects on slice z=15
    annotation.paint(stroke, 3, axis=2, index=15)
    disc = disc_on_slice(stroke, (3, 3), 2, 15)
    labels = np.asarray(annotation.labels)
    # lock: the second object takes the stroke's background voxels, never the first's
    assert np.array_equal(labels == 1, first == 1)
    assert np.array_equal(labels == 2, (second | (disc & (first == 0))) == 1)
    annotation.erase(stroke, 3, axis=2, index=15)
    labels = np.asarray(annotation.labels)
    assert np.array_equal(labels == 1, first == 1)  # the eraser never touches another object
    assert np.array_equal(labels == 2, (second & ~disc.astype(bool)) == 1)


def test_paint_under_overwrite_takes_other_objects_voxels(annotation):
    annotation.add_mask(block((10, 10, 10), (20, 20, 20)))
    annotation.new_object()
    annotation.set_overlap("overwrite")
    annotation.paint([(15, 15)], 2, axis=2, index=15)
    disc = disc_on_slice([(15, 15)], (2, 2), 2, 15).astype(bool)
    assert (np.asarray(annotation.labels)[disc] == 2).all()


def test_a_radius_in_mm_is_a_radius_in_voxels_per_axis(annotation):
    # axis 1: the plane's axes are x (1 mm) and z (2 mm): 4 mm is 4 voxels along x, 2 along z
    annotation.paint([(20, 16)], 4, axis=1, index=18, radius_unit="mm")
    expected = disc_on_slice([(20, 16)], (4, 2), 1, 18)
    assert np.array_equal(np.asarray(annotation.mask), expected)
    entry = annotation.log()["objects"][0]["prompts"][0]
    assert entry["kind"] == "paint" and entry["radius_voxel"] == [4.0, 2.0]
    assert entry["radius_mm"] == [4.0, 4.0] and entry["axis"] == 1 and entry["slice"] == 18


def test_fill_takes_the_region_under_it_or_the_holes_of_the_active_object(annotation):
    ring = block((10, 10, 15), (20, 20, 16)) - block((12, 12, 15), (18, 18, 16))
    annotation.add_mask(ring)
    annotation.fill((15, 15), axis=2, index=15)  # inside the ring: background, enclosed
    assert np.array_equal(np.asarray(annotation.mask), block((10, 10, 15), (20, 20, 16)))
    annotation.undo()
    annotation.fill((11, 11), axis=2, index=15)  # on the ring itself: its holes
    assert np.array_equal(np.asarray(annotation.mask), block((10, 10, 15), (20, 20, 16)))


def test_fill_refuses_a_locked_objects_region_and_changes_nothing(annotation):
    annotation.add_mask(block((10, 10, 10), (20, 20, 20)))
    annotation.new_object()
    labels, record = np.asarray(annotation.labels), len(annotation.prompts)
    with pytest.raises(ValueError, match="belongs to object 1.*'lock'"):
        annotation.fill((15, 15), axis=2, index=15)
    assert np.array_equal(np.asarray(annotation.labels), labels)
    assert len(annotation.prompts) == record


def test_three_d_clean_ups_use_the_spacing(annotation):
    shell = block((8, 8, 8), (20, 20, 20)) - block((10, 10, 10), (18, 18, 18))
    crumb = block((30, 30, 25), (32, 32, 27))  # 8 voxels = 0.016 mL at 2 uL per voxel
    annotation.add_mask(shell | crumb)
    annotation.fill_holes()
    assert np.array_equal(np.asarray(annotation.mask), block((8, 8, 8), (20, 20, 20)) | crumb)
    annotation.undo()
    annotation.keep_largest()
    assert np.array_equal(np.asarray(annotation.mask), shell)
    annotation.undo()
    annotation.remove_small(0.02)  # the crumb is 0.016 mL
    assert np.array_equal(np.asarray(annotation.mask), shell)
    annotation.undo()
    annotation.remove_small(0.015)
    assert np.array_equal(np.asarray(annotation.mask), shell | crumb)


def test_dilate_and_erode_are_euclidean_in_mm(annotation):
    annotation.add_mask(block((20, 18, 16), (21, 19, 17)))
    annotation.dilate(2)
    grid = np.indices(SHAPE).astype(float)
    centre = np.array([20, 18, 16], float)[:, None, None, None]
    mm = np.sqrt((((grid - centre) * np.array(SPACING)[:, None, None, None]) ** 2).sum(axis=0))
    assert np.array_equal(np.asarray(annotation.mask), (mm <= 2).astype(np.uint8))
    annotation.add_mask(block((10, 10, 10), (20, 20, 16)))
    annotation.erode(1)  # x and y lose their outer layer (1 mm); z keeps it (2 mm away)
    assert np.array_equal(np.asarray(annotation.mask), block((11, 11, 10), (19, 19, 16)))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda a: a.paint([(5, 5)], 0, index=15), "brush radius must be 0.5..512"),
        (lambda a: a.paint([(5, 5)], 1e9, index=15), "brush radius must be 0.5..512"),
        (lambda a: a.erase([(5, 5)], float("nan"), index=15), "radius must be finite"),
        (lambda a: a.paint(np.zeros((10**6, 2)), 2, index=15), "at most 100000 vertices"),
        (lambda a: a.paint([(500, 500), (600, 520)], 2, index=15), "covers no voxel"),
        (lambda a: a.erase([(5, 5)], 2, index=99), "outside axis 2"),
        (lambda a: a.fill((-4, 5), index=15), "outside the slice"),
        (lambda a: a.dilate(0), "above 0"),
        (lambda a: a.erode(1e9), "at most 100 mm"),
        (lambda a: a.remove_small(float("inf")), "finite"),
    ],
)
def test_bad_edits_are_clear_errors_that_change_nothing(annotation, edit, message):
    annotation.add_mask(block((10, 10, 10), (20, 20, 20)))
    labels, record = np.asarray(annotation.labels), len(annotation.prompts)
    with pytest.raises(ValueError, match=message):
        edit(annotation)
    assert np.array_equal(np.asarray(annotation.labels), labels)
    assert len(annotation.prompts) == record


def test_an_edit_meant_for_a_deleted_object_is_refused(annotation):
    from nni_jupyter.annotation import Prompt

    annotation.add_mask(block((10, 10, 10), (20, 20, 20)))
    annotation.new_object()
    annotation.delete_object(1)
    labels = np.asarray(annotation.labels)
    stroke = Prompt("paint", axis=2, index=15, vertices=((15, 15),), radius=3, object=1)
    with pytest.raises(ValueError, match="object 1 no longer exists"):
        annotation.run_prompt(stroke)
    assert np.array_equal(np.asarray(annotation.labels), labels)


def test_one_undo_history_across_prompts_and_edits(annotation):
    annotation.add_box([(10, 10), (25, 24)], axis=2, index=16)
    after_box = np.asarray(annotation.mask)
    annotation.erase([(18, 4), (18, 30)], 2, axis=2, index=16)
    after_erase = np.asarray(annotation.mask)
    annotation.paint([(30, 30)], 3, axis=2, index=16)
    assert annotation.undo() and annotation.undo()
    assert np.array_equal(np.asarray(annotation.mask), after_box)
    assert annotation.redo()
    assert np.array_equal(np.asarray(annotation.mask), after_erase)


def test_the_next_prompt_continues_from_the_edited_mask(annotation, image, make_session):
    """As after add_mask: the prompt after an edit gives what add_mask(edited) then it gives."""
    annotation.add_box([(10, 10), (25, 24)], axis=2, index=16)
    annotation.erase([(18, 4), (18, 30)], 2, axis=2, index=16)
    annotation.paint([(30, 30)], 2, axis=2, index=16)
    assert annotation.runner.reseed_pending  # two strokes, no session call yet
    edited = np.asarray(annotation.mask)
    annotation.add_point((14, 14, 16), positive=False)
    assert not annotation.runner.reseed_pending
    expected = Annotation(image, session=make_session(), spacing=SPACING)
    try:
        for _ in range(3):  # the point at the same place in the record (its refinement seed)
            expected.add_mask(edited)
        expected.add_point((14, 14, 16), positive=False)
        assert np.array_equal(np.asarray(annotation.mask), np.asarray(expected.mask))
    finally:
        expected.close()


def test_removing_an_edit_recomputes_the_object_without_it(
    annotation, tmp_path, image, make_session
):
    start = block((10, 10, 10), (20, 20, 20))
    annotation.add_mask(start)
    annotation.paint([(25, 25), (30, 30)], 2, axis=2, index=15)
    annotation.dilate(1)
    rows = prompt_rows(annotation.live_prompts())
    assert [row["kind"] for row in rows] == ["mask", "paint", "dilate"]
    assert rows[1]["radius"] == [2.0, 2.0] and rows[2]["amount"] == 1.0
    assert rows[2]["draw"] == "none"
    annotation.remove_prompt(1)
    expected = Annotation(image, session=make_session(), spacing=SPACING)
    try:
        expected.add_mask(start)
        expected.dilate(1)
        assert np.array_equal(np.asarray(annotation.mask), np.asarray(expected.mask))
    finally:
        expected.close()
    path = annotation.save(tmp_path / "work.npz")
    loaded = Annotation.load(path, image, session=make_session())
    try:
        assert [getattr(item, "tool", None) for item in loaded.prompts][:3] == [
            "mask",
            "paint",
            "dilate",
        ]
        assert np.array_equal(np.asarray(loaded.labels), np.asarray(annotation.labels))
    finally:
        loaded.close()


def test_an_edit_on_a_lazy_image_writes_only_the_chunks_it_touches(tmp_path, make_session, image):
    zarr = pytest.importorskip("zarr")
    stored = zarr.create_array(tmp_path / "a.zarr", shape=SHAPE, chunks=(8, 8, 8), dtype="i2")
    stored[:] = image
    lazy = Annotation(zarr.open_array(tmp_path / "a.zarr", mode="r"), session=make_session())
    try:
        lazy.paint([(4, 4)], 2, axis=2, index=4)
        owner = lazy.runner.store.owner
        assert isinstance(owner, SparseVolume)
        assert 1 <= owner.stored_chunks <= 2  # the disc's chunks, not the volume's 100
        assert int(np.asarray(lazy.mask).sum()) == 13  # a disc of radius 2
    finally:
        lazy.close()


def test_browser_edit_messages_take_the_python_path(make_segmenter, image, make_session):
    """paint, erase and fill messages from a view give the masks the Python calls give, and a
    stroke's patches and done reach the view (the message holds points and radius only)."""
    seg = make_segmenter()
    python = Annotation(image, session=make_session())
    try:
        seg.add_mask(block((10, 10, 14), (22, 22, 18)))
        python.add_mask(block((10, 10, 14), (22, 22, 18)))
        messages = [
            {"tool": "erase", "vertices": [[16.0, 4.0], [16.0, 30.0]], "radius": [2.0, 2.0]},
            {"tool": "paint", "vertices": [[26.0, 12.0], [30.0, 20.0]], "radius": [1.5, 3.0]},
            {"tool": "fill", "vertices": [[16.0, 16.0]]},
        ]
        for k, message in enumerate(messages):
            seg.sent.clear()
            content = {"type": "prompt", "positive": True, "axis": 2, "index": 16, "object": 1}
            seg._on_message(seg, {**content, **message, "request_id": 50 + k}, [])
            assert seg.wait(timeout=60)
            kinds = [sent["type"] for sent, _ in seg.sent]
            assert kinds[-1] == "done" and "mask_patch" in kinds, kinds
            assert len(str(message)) < 200  # the stroke travels as its points and radius
        python.erase([(16, 4), (16, 30)], 2, axis=2, index=16)
        python.paint([(26, 12), (30, 20)], (1.5, 3.0), axis=2, index=16)
        python.fill((16, 16), axis=2, index=16)
        assert np.array_equal(np.asarray(seg.labels), np.asarray(python.labels))
        assert [row["kind"] for row in seg.prompt_list] == ["mask", "erase", "paint", "fill"]
    finally:
        python.close()
