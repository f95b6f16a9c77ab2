"""Studies: cases in a folder, saved prompt logs, and their replay on a real Dask cluster."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from _tiny_model import demo_or_tiny_model

import nni_jupyter as nj
from nni_jupyter.inference import nnInteractiveInferenceSession

distributed = pytest.importorskip(
    "distributed", reason="the [cluster] extra (dask, distributed) is not installed"
)

SHAPE = (48, 48, 40)


def session(model: Path) -> nnInteractiveInferenceSession:
    """A CPU session with AutoZoom off (with random weights it would refine nearly everywhere)."""
    made = nnInteractiveInferenceSession(
        device="cpu", torch_n_threads=1, enable_undo=False, do_autozoom=False
    )
    made.initialize_from_trained_model_folder(str(model))
    return made


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_or_tiny_model(tmp_path_factory.mktemp("model"), "Apache-2.0")


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        distributed.Client(cluster) as made,
    ):
        yield made


def make_study(folder: Path, model: Path, cases: int = 2) -> nj.Study:
    """Phantom cases, each with prompts on two objects, saved into the study."""
    study = nj.Study(folder / "study")
    for k, case_id in enumerate(f"ct_{n:03d}" for n in range(1, cases + 1)):
        volume = nj.data.phantom(SHAPE, seed=k + 1)[0]
        image = nj.write_image(volume, folder / f"{case_id}.nii.gz")
        study.add_case(case_id, image)
        seg = study.open(case_id, session=session(model), autosave=False)
        seg.add_point((24, 24, 20))
        seg.new_object("second", class_id=2)
        seg.add_point((12 + k, 30, 18))
        seg.add_point((14, 31, 19), positive=False)
        study.save(case_id, seg, annotator=f"annotator {k + 1}")
        seg.close()
    return study


def test_study_replays_on_a_cluster_and_resumes(tmp_path, model, client):
    study = make_study(tmp_path, model)
    status = study.status().set_index("case")
    assert list(status.index) == ["ct_001", "ct_002"]
    assert list(status["objects"]) == [2, 2] and list(status["prompts"]) == [3, 3]
    assert status["saved_at"].notna().all()
    assert list(status["annotator"]) == ["annotator 1", "annotator 2"]

    first = study.replay(model=model, client=client, progress=False)
    assert list(first["status"]) == ["ok"] * 4, first
    assert sorted(zip(first["case"], first["object"], strict=True)) == [
        ("ct_001", 1),
        ("ct_001", 2),
        ("ct_002", 1),
        ("ct_002", 2),
    ]
    assert (first["dice_vs_saved"] == 1.0).all(), first
    assert first["model_sha256"].nunique() == 1 and len(first["model_sha256"][0]) == 64
    saved = nj.read_image(study.labels_path("ct_001")).array
    out = study.folder / "replays" / first["model_sha256"][0] / "ct_001.nii.gz"
    assert np.array_equal(nj.read_image(out).array, saved)
    for row in first.itertuples():
        labels = nj.read_image(study.labels_path(row.case)).array
        assert row.voxels == int((labels == row.object).sum())
    assert first["voxels"].sum() > 0  # a Dice of 1.0 between two empty masks would prove little

    second = study.replay(model=model, client=client)  # with a progress bar (tqdm here)
    assert list(second["status"]) == ["skipped"] * 4
    assert (second["dice_vs_saved"] == 1.0).all()

    # a marker made with other settings (here: another precision) does not count as done
    marker = out.with_name("ct_002.json")
    made = json.loads(marker.read_text(encoding="utf-8"))
    assert made["settings"]["autozoom"] is False and made["settings"]["precision"]
    made["settings"]["precision"] = "another"
    marker.write_text(json.dumps(made), encoding="utf-8")
    third = study.replay(model=model, client=client, progress=False).set_index("case")
    assert third.loc["ct_001", "status"].tolist() == ["skipped"] * 2
    assert third.loc["ct_002", "status"].tolist() == ["ok"] * 2


def test_a_bad_case_fails_its_row_not_the_run(tmp_path, model, client):
    study = make_study(tmp_path, model)
    study.prompts_path("ct_002").write_text('{"format": "something else"}', encoding="utf-8")
    rows = study.replay(model=model, client=client, progress=False).set_index("case")
    assert rows.loc["ct_001", "status"].tolist() == ["ok", "ok"]
    assert "prompt log" in rows.loc["ct_002", "status"] and "format" in rows.loc["ct_002", "status"]


def test_a_case_folder_linked_outside_the_study_fails_its_row_not_the_replay(
    tmp_path, model, client
):
    study = make_study(tmp_path, model, cases=1)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "case.json").write_text('{"image": "elsewhere.nii.gz"}', encoding="utf-8")
    (outside / "prompts.json").write_text("{}", encoding="utf-8")
    (study.folder / "cases" / "linked").symlink_to(outside)
    rows = study.replay(model=model, client=client, progress=False).set_index("case")
    assert rows.loc["ct_001", "status"].tolist() == ["ok", "ok"]
    assert "outside the study" in rows.loc["linked", "status"]


@pytest.mark.parametrize("case_id", ["../escape", "a/b", "a\\b", "..", ".hidden", "x\ny", ""])
def test_unsafe_case_ids_are_refused_and_nothing_is_written(tmp_path, case_id):
    image = nj.write_image(np.zeros((4, 4, 4), np.int16), tmp_path / "image.nii.gz")
    study = nj.Study(tmp_path / "study")
    with pytest.raises(ValueError, match="case id"):
        study.add_case(case_id, image)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["image.nii.gz", "study"]
    assert [p.name for p in (tmp_path / "study").rglob("*")] == ["cases"]


def test_open_resumes_saved_work_and_replay_without_client_uses_an_embedded_cluster(
    tmp_path, model
):
    study = make_study(tmp_path, model)
    seg = study.open("ct_001", session=session(model))
    try:
        assert np.array_equal(seg.labels, nj.read_image(study.labels_path("ct_001")).array)
    finally:
        seg.close()
    # client=None: a LocalCluster on 127.0.0.1, closed after
    rows = study.replay(model=model, progress=False)
    assert list(rows["status"]) == ["ok"] * 4 and (rows["dice_vs_saved"] == 1.0).all()


def _executing(dask_worker) -> tuple[int, list[str]]:
    """The worker's process id and the keys of the tasks it is running now."""
    return os.getpid(), [str(task.key) for task in dask_worker.state.executing]


def test_a_worker_killed_mid_case_is_replaced_and_the_run_completes(tmp_path, model, client):
    study = make_study(tmp_path, model, cases=3)
    out: list = []
    run = threading.Thread(
        target=lambda: out.append(study.replay(model=model, client=client, progress=False))
    )
    run.start()
    victim, key = None, None
    deadline = time.monotonic() + 60
    while victim is None and time.monotonic() < deadline:
        for pid, keys in client.run(_executing).values():
            if any(k.startswith("replay-") for k in keys):
                victim, key = pid, next(k for k in keys if k.startswith("replay-"))
                os.kill(pid, signal.SIGKILL)  # at once: the case has seconds left to run
                break
        time.sleep(0.02)
    assert victim is not None, "no replay task started within 60 s"
    run.join(timeout=180)
    assert not run.is_alive() and out, "the run did not finish after a worker was killed"
    rows = out[0]
    assert list(rows["status"]) == ["ok"] * 6, rows
    assert (rows["dice_vs_saved"] == 1.0).all()
    # the killed task ran again elsewhere: the scheduler put it in processing twice
    story = client.cluster.scheduler.story(key)
    assert sum(1 for step in story if step[2] == "processing") >= 2, story
    # only whole outputs remain: no temporary file or staging folder of the killed write
    folder = study.folder / "replays" / rows["model_sha256"][0]
    expected = {f"ct_00{n}.{ext}" for n in (1, 2, 3) for ext in ("nii.gz", "json")}
    assert {p.name for p in folder.iterdir()} == expected


CRASHING_SITTING = """
import os, signal, sys
import numpy as np
import nni_jupyter as nj
from nni_jupyter.inference import nnInteractiveInferenceSession

study = nj.Study(sys.argv[1])
session = nnInteractiveInferenceSession(
    device="cpu", torch_n_threads=1, enable_undo=False, do_autozoom=False, print_license=False
)
session.initialize_from_trained_model_folder(sys.argv[2])
seg = study.open("ct_001", session=session, annotator="bob")
seg.new_object("third", class_id=3)
seg.add_point((30, 14, 20))
seg.add_point((31, 15, 21), positive=False)
np.save(sys.argv[3], seg.labels)
os.kill(os.getpid(), signal.SIGKILL)  # a kernel crash: no save, no cleanup
"""


def test_open_autosaves_so_work_survives_a_crashed_kernel(tmp_path, model):
    study = make_study(tmp_path, model)
    script = tmp_path / "sitting.py"
    script.write_text(CRASHING_SITTING, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(Path(nj.__file__).parents[1]), OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, str(script), str(study.folder), str(model), str(tmp_path / "last.npy")],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    last = np.load(tmp_path / "last.npy")
    assert (last == 3).any()
    status = study.status().set_index("case")
    assert status.loc["ct_001", "objects"] == 3 and status.loc["ct_001", "prompts"] == 5
    # every prompt keeps who gave it: the first sitting's replayed prompts, and bob's new ones
    assert status.loc["ct_001", "annotator"] == "annotator 1, bob"
    assert np.array_equal(nj.read_image(study.labels_path("ct_001")).array, last)
    seg = study.open("ct_001", session=session(model))  # the next sitting resumes
    try:
        assert np.array_equal(seg.labels, last)
    finally:
        seg.close()


def test_add_case_takes_relative_paths_from_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    nj.write_image(np.zeros((4, 4, 4), np.int16), tmp_path / "data" / "ct.nii.gz")
    study = nj.Study("study")
    study.add_case("ct_001", "data/ct.nii.gz")
    assert study.image_path("ct_001") == tmp_path / "data" / "ct.nii.gz"
    study.add_case("ct_001", tmp_path / "data" / "ct.nii.gz")  # the same image: a no-op
    inside = nj.write_image(np.zeros((4, 4, 4), np.int16), tmp_path / "study" / "in.nii.gz")
    study.add_case("ct_002", inside)  # recorded relative to the study, which may then move
    (tmp_path / "study").rename(tmp_path / "moved")
    assert nj.Study(tmp_path / "moved").image_path("ct_002") == tmp_path / "moved" / "in.nii.gz"
    with pytest.raises(FileNotFoundError, match="missing.nii.gz does not exist"):
        study.add_case("ct_003", "data/missing.nii.gz")


def test_a_case_whose_image_was_replaced_is_flagged_and_refuses_to_open(tmp_path, model):
    study = make_study(tmp_path, model, cases=2)
    image_path = study.image_path("ct_001")
    time.sleep(0.05)  # a later modification time than the saved log's
    other = nj.data.phantom(SHAPE, seed=9)[0]  # same shape, another image
    nj.write_image(other, image_path)
    status = study.status().set_index("case")
    assert "changed after the prompt log was saved" in status.loc["ct_001", "problem"]
    assert not isinstance(status.loc["ct_002", "problem"], str)  # None (NaN in pandas)
    with pytest.raises(ValueError, match="written for another image"):
        study.open("ct_001", session=session(model), autosave=False)
    assert study.holders() == {}  # the refused open took no lock
