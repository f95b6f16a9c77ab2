"""run_dataset: the simulated-user protocol over an nnU-Net raw dataset folder on a real Dask
LocalCluster, and the dataset folder's checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _tiny_model import demo_or_tiny_model

import nni_jupyter as nj
from nni_jupyter.data.phantom import LABEL_VALUES
from nni_jupyter.evaluation import evaluate_object, iter_objects, read_dataset, run_dataset

pytest.importorskip("SimpleITK", reason="needs the [io] extra (SimpleITK)")
pytest.importorskip("distributed", reason="needs the [cluster] extra (dask, distributed)")

SHAPE = (48, 48, 40)
LABELS = {"background": 0, "liver": LABEL_VALUES["liver"], "spleen": LABEL_VALUES["spleen"]}
MIN_VOXELS = 200


def write_dataset(folder: Path, cases: int = 2) -> Path:
    """An nnU-Net raw dataset of phantoms labelled with liver and spleen only."""
    (folder / "imagesTr").mkdir(parents=True)
    (folder / "labelsTr").mkdir()
    for k in range(cases):
        image, labels = nj.data.phantom(SHAPE, seed=k + 11)
        kept = np.where(np.isin(labels, list(LABELS.values())), labels, 0).astype(np.uint8)
        nj.write_image(image, folder / "imagesTr" / f"case_{k:03d}_0000.nii.gz")
        nj.write_image(kept, folder / "labelsTr" / f"case_{k:03d}.nii.gz")
    meta = {
        "channel_names": {"0": "CT"},
        "labels": LABELS,
        "numTraining": cases,
        "file_ending": ".nii.gz",
    }
    (folder / "dataset.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


def test_run_dataset_on_the_embedded_cluster(tmp_path):
    model = demo_or_tiny_model(tmp_path / "model", "Apache-2.0")
    folder = write_dataset(tmp_path / "Dataset901_Phantoms", cases=3)
    # a broken case: its labels are on another grid
    nj.write_image(np.zeros((8, 8, 8), np.uint8), folder / "labelsTr" / "case_002.nii.gz")

    rows = run_dataset(folder, model=model, max_interactions=3, stop_at=None, min_voxels=MIN_VOXELS)

    bad = rows[rows["case"] == "case_002"]
    assert len(bad) == 1 and "shape" in bad["status"].iloc[0], bad
    good = rows[rows["case"] != "case_002"]
    assert (good["status"] == "ok").all(), good
    expected = set()
    for k in range(2):
        labels = nj.read_image(folder / "labelsTr" / f"case_{k:03d}.nii.gz").array
        for name in ("liver", "spleen"):
            found = iter_objects(labels, [LABELS[name]], MIN_VOXELS)
            expected |= {(f"case_{k:03d}", name, n) for n, _ in enumerate(found, start=1)}
    assert set(zip(good["case"], good["label"], good["object"], strict=True)) == expected
    assert len(expected) >= 4
    for _, steps in good.groupby(["case", "label", "object"]):
        assert steps["step"].tolist() == [1, 2, 3]
        assert steps["prompt"].tolist() == ["point", "point", "point"]
    assert good["dice"].between(0.0, 1.0).all() and (good["seconds"] > 0).all()
    # the same protocol run here, in this process, gives the same Dice at every step
    session = nj.load_session(model, "cpu", show_license=None, torch_n_threads=1)
    image = nj.read_image(folder / "imagesTr" / "case_000_0000.nii.gz").array
    labels = nj.read_image(folder / "labelsTr" / "case_000.nii.gz").array
    buffer = np.zeros(image.shape, np.uint8)
    session.set_image(image[None])
    session.set_target_buffer(buffer)
    liver = next(iter_objects(labels, [LABELS["liver"]], MIN_VOXELS))[1]
    here = evaluate_object(session, buffer, liver, max_interactions=3, stop_at=None)
    there = good[(good["case"] == "case_000") & (good["label"] == "liver") & (good["object"] == 1)]
    assert there["dice"].tolist() == pytest.approx(here.dice, abs=1e-6)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda meta: meta.pop("labels"), "field labels"),
        (lambda meta: meta["labels"].update(liver=[1, 2]), "field labels.liver"),
        (lambda meta: meta["channel_names"].update({"1": "T2"}), "one image channel"),
        (lambda meta: meta.update(file_ending="nii.gz"), "field file_ending"),
        (lambda meta: meta.update(numTraining=5), "numTraining says 5"),
    ],
)
def test_a_malformed_dataset_json_names_the_field(tmp_path, change, message):
    folder = write_dataset(tmp_path / "Dataset902_Bad", cases=1)
    meta = json.loads((folder / "dataset.json").read_text(encoding="utf-8"))
    change(meta)
    (folder / "dataset.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ValueError, match=message) as raised:
        read_dataset(folder)
    assert "dataset.json" in str(raised.value)


def test_a_case_without_its_image_is_named(tmp_path):
    folder = write_dataset(tmp_path / "Dataset903_Missing", cases=1)
    (folder / "imagesTr" / "case_000_0000.nii.gz").unlink()
    with pytest.raises(FileNotFoundError, match="case case_000: .*case_000_0000.nii.gz"):
        read_dataset(folder)
    with pytest.raises(FileNotFoundError, match="dataset.json"):
        read_dataset(tmp_path)
