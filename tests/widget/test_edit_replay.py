"""A case finished by hand replays exactly: in the notebook from its prompt log, and on a Dask
cluster through the study (Dice 1.0 against the saved labels for every object)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _tiny_model import demo_or_tiny_model

import nni_jupyter as nj
from nni_jupyter.annotation import Annotation
from nni_jupyter.inference import nnInteractiveInferenceSession

distributed = pytest.importorskip(
    "distributed", reason="the [cluster] extra (dask, distributed) is not installed"
)

SHAPE = (48, 48, 40)
SPACING = (0.8, 0.8, 2.0)


def session(model: Path) -> nnInteractiveInferenceSession:
    made = nnInteractiveInferenceSession(
        device="cpu", torch_n_threads=1, enable_undo=False, do_autozoom=False
    )
    made.initialize_from_trained_model_folder(str(model))
    return made


def finish_by_hand(seg) -> None:
    """AI prompts and every kind of hand edit, on two objects, with an undo and a removal."""
    seg.add_box([(14, 14), (34, 32)], axis=2, index=20)
    seg.erase([(24, 8), (24, 40)], 2.5, axis=2, index=20)
    seg.paint([(10, 10), (16, 30)], 2, axis=1, index=24, radius_unit="mm")
    seg.add_point((26, 22, 20), positive=False)
    seg.fill((24, 24), axis=2, index=20)
    seg.dilate(1.6)
    seg.new_object("second", class_id=2)
    seg.paint([(40, 40), (44, 36)], 3, axis=2, index=18)
    seg.keep_largest()
    seg.undo()
    seg.remove_small(0.01)
    seg.select_object(1)
    seg.remove_prompt(1)  # the eraser stroke: the first object is recomputed without it
    seg.fill_holes()
    seg.erode(0.9)


def test_a_log_with_edits_replays_exactly_here_and_on_dask(tmp_path):
    model = demo_or_tiny_model(tmp_path / "model", "Apache-2.0")
    volume = nj.data.phantom(SHAPE, seed=4)[0]
    path = nj.write_image(nj.Image(volume, SPACING), tmp_path / "ct.nii.gz")
    study = nj.Study(tmp_path / "study")
    study.add_case("ct_001", path)
    seg = study.open("ct_001", session=session(model), autosave=False)
    try:
        finish_by_hand(seg)
        kinds = {item.tool for item in seg.prompts if hasattr(item, "tool")}
        assert {"paint", "erase", "fill", "dilate", "erode", "fill_holes"} <= kinds
        study.save("ct_001", seg, annotator="annotator 1")
        labels = np.asarray(seg.labels)
        log = seg.prompt_log()
    finally:
        seg.close()
    assert len(np.unique(labels)) == 3  # both objects have voxels

    # in the notebook: a new annotation of the image replays the log
    again = Annotation(nj.read_image(path), session=session(model))
    try:
        again.replay_log(log)
        assert np.array_equal(np.asarray(again.labels), labels)
    finally:
        again.close()

    # on a Dask cluster, through the study: every object's Dice against the saved labels is 1.0
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):  # fmt: skip
        rows = study.replay(model=model, client=client, progress=False)
    assert list(rows["status"]) == ["ok", "ok"], rows
    assert (rows["dice_vs_saved"] == 1.0).all(), rows
    assert rows["voxels"].sum() == int((labels > 0).sum())
