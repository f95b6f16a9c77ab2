"""The annotator: one rasterization per prompt, one encoding per changed mask, and its whole state
as a snapshot that restores exactly into another annotator."""

from __future__ import annotations

import numpy as np
import pytest

from nni_jupyter.annotation import runner as annotator_module
from nni_jupyter.annotation import steps as steps_module
from nni_jupyter.annotation.codec import decode_mask
from nni_jupyter.annotation.prompts import Command, Prompt
from nni_jupyter.annotation.runner import Runner, Snapshot
from nni_jupyter.annotation.sessions import scribble_thickness, supported_tools

SCRIBBLE = Prompt("scribble", True, axis=2, index=16, vertices=((10.0, 10.0), (24.0, 20.0)))
BOX = Prompt("box", True, bbox=((6, 20), (8, 22), (12, 13)))


def make_annotator(session, image) -> Runner:
    return Runner(
        session, image[None], supported_tools(session), scribble_thickness(session), "overwrite"
    )


def run(annotator: Runner, item):
    return annotator.run(annotator.check(item))


def counting(monkeypatch, module, name: str) -> list:
    """Count the calls of ``module.name`` while it still does its work."""
    calls = []
    real = getattr(module, name)

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, spy)
    return calls


def test_a_prompt_is_rasterized_once_from_python_and_from_the_browser(make_segmenter, monkeypatch):
    seg = make_segmenter()
    calls = counting(monkeypatch, annotator_module, "rasterize")
    seg.add_scribble([(10, 10), (24, 20)], axis=2, index=16)
    assert len(calls) == 1
    message = {"type": "prompt", "tool": "box", "positive": True, "axis": 2, "index": 16,
               "vertices": [[8, 6], [30, 28]], "request_id": 5}  # fmt: skip
    seg._on_message(seg, message, [])
    assert seg.wait(timeout=300)
    assert len(calls) == 2 and seg.error == ""


def test_a_step_encodes_each_changed_mask_once_and_sends_those_bytes(
    make_session, image, monkeypatch
):
    annotator = make_annotator(make_session(), image)
    run(annotator, SCRIBBLE)
    run(annotator, Command("new_object"))
    encoded = counting(monkeypatch, steps_module, "encode_mask")
    decoded = counting(monkeypatch, steps_module, "decode_mask")
    outcome = run(annotator, BOX)  # overwrite: may take voxels of object 1 too
    ids = [patch.object_id for patch in outcome.patches]
    assert 2 in ids and len(encoded) == 2 * len(ids)  # before and after, per changed object
    assert decoded == []  # the changed ids were recorded when written, not decompressed
    run(annotator, Command("undo"))
    redone = run(annotator, Command("redo"))
    # redo sends the very bytes the prompt sent: the step stores the wire encoding
    assert all(
        a.data is b.data and a.bbox == b.bbox
        for a, b in zip(redone.patches, outcome.patches, strict=True)
    )
    for patch in redone.patches:
        crop = annotator.store.owner[tuple(slice(lo, hi) for lo, hi in patch.bbox)]
        assert np.array_equal(decode_mask(patch.data, crop.shape), crop == patch.object_id)


def test_snapshot_restores_exactly_into_a_fresh_annotator(make_session, image):
    source = make_annotator(make_session(), image)
    run(source, SCRIBBLE)
    run(source, Command("new_object", object_name="kidney", class_id=7))
    run(source, BOX)
    run(source, Command("select_object", object=1))
    snapshot = source.snapshot()
    assert snapshot.owner is not source.store.owner
    target = make_annotator(make_session(), image)
    target.restore(snapshot)
    assert np.array_equal(target.store.owner, source.store.owner)
    assert target.store.objects == source.store.objects  # ids, names, colours, class ids
    assert target.store.active == source.store.active == 1
    assert target.objects_state() == source.objects_state()  # with the voxel counts
    assert tuple(target.record) == tuple(source.record)
    # the session was re-seeded from the active object: the next prompt continues from it
    assert np.array_equal(target.session.target_buffer, source.store.mask())
    negative = Prompt("point", False, point=(15.0, 15.0, 16.0))
    run(source, negative)
    run(target, negative)
    assert np.array_equal(target.store.owner, source.store.owner)


def test_a_snapshot_that_does_not_fit_is_refused_and_changes_nothing(make_session, image):
    annotator = make_annotator(make_session(), image)
    run(annotator, SCRIBBLE)
    before = annotator.snapshot()
    owner, table, record = before.owner.copy(), before.table, before.record
    owner[0, 0, 0] = 9  # a label value without an object
    with pytest.raises(ValueError, match=r"without an object \[9\]"):
        annotator.restore(Snapshot(owner, table, ()))
    after = annotator.snapshot()
    assert np.array_equal(after.owner, before.owner)
    assert after.table == table and after.record == record
