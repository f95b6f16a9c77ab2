"""A study never loses work: locks between writers, pairs saved whole, exports that replace
nothing they did not make, damaged cases flagged one row at a time (issue 26, cases 1-4, 14, 16)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _tiny_model import demo_or_tiny_model

import nni_jupyter as nj
from nni_jupyter.inference import nnInteractiveInferenceSession
from nni_jupyter.study import CaseTaken, check_case_id
from nni_jupyter.study.lock import LOCK_FILE

nib = pytest.importorskip("nibabel", reason="needs nibabel (the [test] extra) to read NIfTI back")
pytest.importorskip("SimpleITK", reason="needs the [io] extra (SimpleITK)")
pd = pytest.importorskip("pandas", reason="needs pandas (the [test] extra)")

SHAPE = (32, 32, 32)
FIXTURE = Path(__file__).parent / "fixtures" / "study_v0_1"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_or_tiny_model(tmp_path_factory.mktemp("model"), "Apache-2.0")


def session(model: Path) -> nnInteractiveInferenceSession:
    made = nnInteractiveInferenceSession(
        device="cpu", torch_n_threads=1, enable_undo=False, do_autozoom=False
    )
    made.initialize_from_trained_model_folder(str(model))
    return made


def one_case(folder: Path, model: Path, images: Path | None = None) -> nj.Study:
    """A study with case ct_001 (image in ``images``), one object saved."""
    study = nj.Study(folder / "study")
    images = images or folder / "data"
    images.mkdir(exist_ok=True)
    image = nj.write_image(nj.data.phantom(SHAPE, seed=1)[0], images / "ct_001.nii.gz")
    study.add_case("ct_001", image)
    seg = study.open("ct_001", session=session(model), autosave=False)
    seg.add_point((16, 16, 16))
    study.save("ct_001", seg)
    seg.close()
    return study


def child(script: str, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(Path(nj.__file__).parents[1]), OMP_NUM_THREADS="1")
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(process: subprocess.Popen[str], word: str) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == word:
            return
    process.wait(timeout=60)
    raise AssertionError(f"child ended before {word!r}: {process.stderr.read()}")  # type: ignore[union-attr]


HOLDER = """
import sys, time
import nni_jupyter as nj
from nni_jupyter.inference import nnInteractiveInferenceSession
study, model = nj.Study(sys.argv[1]), sys.argv[2]
s = nnInteractiveInferenceSession(device="cpu", torch_n_threads=1, do_autozoom=False)
s.initialize_from_trained_model_folder(model)
seg = study.open("ct_001", session=s, annotator="alice")
print("holding", flush=True)
time.sleep(120)
"""


def test_a_second_writer_is_refused_until_the_first_process_is_gone(tmp_path, model):
    study = one_case(tmp_path, model)
    holder = child(HOLDER, str(study.folder), str(model))
    try:
        wait_for(holder, "holding")
        with pytest.raises(CaseTaken) as taken:
            study.open("ct_001", session=session(model))
        message = str(taken.value)
        assert "alice" in message and f"process {holder.pid}" in message
        assert socket.gethostname() in message and "read_only=True" in message
        assert study.holders()["ct_001"].alive() is True
        # read-only opening works beside the writer, and never saves
        reader = study.open("ct_001", session=session(model), read_only=True)
        reader.add_point((10, 10, 10))
        with pytest.raises(PermissionError, match="read-only"):
            study.save("ct_001", reader)
        reader.close()
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert study.holders()["ct_001"].alive() is False  # a stale lock, still shown
    seg = study.open("ct_001", session=session(model), annotator="bob")  # taken over
    try:
        assert study.holders()["ct_001"].who == "bob"
    finally:
        seg.close()
    assert "ct_001" not in study.holders()  # close() released it


def test_a_lock_from_another_host_is_reported_not_stolen_and_release_frees_it(tmp_path, model):
    study = one_case(tmp_path, model)
    lock = study.case_folder("ct_001") / LOCK_FILE
    record = {
        "case": "ct_001",
        "who": "carol",
        "since": "2026-01-01T10:00:00+00:00",
        "host": "another-host.example",
        "pid": 1,
        "started": None,
        "token": "0123456789abcdef",
    }
    lock.write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(CaseTaken, match="carol.*another-host.example.*another host"):
        study.open("ct_001", session=session(model))
    assert study.holders()["ct_001"].alive() is None
    assert study.release("ct_001").who == "carol"
    seg = study.open("ct_001", session=session(model))
    seg.close()


PAUSED_SAVE = """
import sys, time
import nni_jupyter as nj
from nni_jupyter.inference import nnInteractiveInferenceSession
study, model = nj.Study(sys.argv[1]), sys.argv[2]
s = nnInteractiveInferenceSession(device="cpu", torch_n_threads=1, do_autozoom=False)
s.initialize_from_trained_model_folder(model)
seg = study.open("ct_001", session=s, autosave=False)
seg.new_object("second")
seg.add_point((8, 24, 16))
def paused(*args, **kwargs):  # the labels are written: stop before the prompt log
    print("between", flush=True)
    time.sleep(120)
import nni_jupyter.annotation.log as prompt_log  # Study.save writes the log through it
prompt_log.save = paused
study.save("ct_001", seg)
"""


def test_a_save_killed_between_its_two_files_leaves_both_old_ones(tmp_path, model):
    study = one_case(tmp_path, model)
    saver = child(PAUSED_SAVE, str(study.folder), str(model))
    try:
        wait_for(saver, "between")
    finally:
        saver.send_signal(signal.SIGKILL)
        saver.wait(timeout=30)
    saved = study.saved("ct_001")
    assert saved is not None
    labels = np.asarray(nib.load(saved.labels).dataobj)
    log = json.loads(saved.prompts.read_text(encoding="utf-8"))
    assert {int(v) for v in np.unique(labels)} - {0} == {obj["id"] for obj in log["objects"]} == {1}
    rows = study.export("nifti", tmp_path / "out").set_index("case")
    assert rows.loc["ct_001", "objects"] == 1 and rows.loc["ct_001", "status"] == "ok"
    seg = study.open("ct_001", session=session(model))  # the killed writer's lock was stale
    assert [obj["id"] for obj in seg.objects] == [1]
    seg.close()


def test_a_study_saved_before_the_manifest_still_reads(tmp_path, model):
    study = nj.Study(shutil.copytree(FIXTURE, tmp_path / "old"))
    status = study.status().set_index("case")
    assert status.loc["ct_001", "objects"] == 1 and status.loc["ct_001", "annotator"] == "fixture"
    labels = nj.read_image(study.labels_path("ct_001")).array
    seg = study.open("ct_001", session=session(model))
    try:
        assert np.array_equal(seg.labels, labels) and labels.any()
        study.save("ct_001", seg)  # moves the case to the manifest
    finally:
        seg.close()
    assert not (study.case_folder("ct_001") / "labels.nii.gz").exists()
    assert np.array_equal(nj.read_image(study.labels_path("ct_001")).array, labels)


def test_a_nifti_export_never_writes_over_a_source_image_or_a_file_it_did_not_make(tmp_path, model):
    study = one_case(tmp_path, model)
    data = tmp_path / "data"
    source = nib.load(data / "ct_001.nii.gz")
    before = np.asarray(source.dataobj).copy()
    rows = study.export("nifti", data).set_index("case")
    assert "source image" in rows.loc["ct_001", "status"]
    after = nib.load(data / "ct_001.nii.gz")
    assert after.get_data_dtype() == source.get_data_dtype()
    assert np.array_equal(np.asarray(after.dataobj), before)
    # a user's file of the export's name is kept, unless overwrite=True
    out = tmp_path / "out"
    out.mkdir()
    (out / "ct_001.tsv").write_text("mine\n", encoding="utf-8")
    rows = study.export("nifti", out).set_index("case")
    assert "overwrite=True" in rows.loc["ct_001", "status"]
    assert (out / "ct_001.tsv").read_text(encoding="utf-8") == "mine\n"
    assert not (out / "ct_001.nii.gz").exists()
    assert study.export("nifti", out, overwrite=True).loc[0, "status"] == "ok"
    assert study.export("nifti", out).loc[0, "status"] == "ok"  # its own files: replaced
    labels = np.asarray(nib.load(out / "ct_001.nii.gz").dataobj)
    assert {int(v) for v in np.unique(labels)} == {0, 1}


def test_an_ome_zarr_export_keeps_other_files_in_an_existing_store(tmp_path, model):
    pytest.importorskip("ome_zarr", reason="needs the [zarr] extra (ome-zarr-py)")
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    study = one_case(tmp_path, model)
    out = tmp_path / "out"
    assert study.export("ome-zarr", out).loc[0, "status"] == "ok"
    (out / "ct_001.zarr" / "notes.txt").write_text("keep me", encoding="utf-8")
    rows = study.export("ome-zarr", out)
    assert rows.loc[0, "status"] == "ok"
    assert (out / "ct_001.zarr" / "notes.txt").read_text(encoding="utf-8") == "keep me"
    nodes = list(Reader(parse_url(str(out / "ct_001.zarr" / "labels" / "labels")))())
    labels = np.asarray(nodes[0].data[0]).transpose(2, 1, 0)
    assert np.array_equal(labels, nj.read_image(study.labels_path("ct_001")).array)


def test_a_damaged_log_or_a_linked_case_folder_flags_its_row_and_the_rest_is_reported(
    tmp_path, model
):
    study = one_case(tmp_path, model)
    image = nj.write_image(nj.data.phantom(SHAPE, seed=2)[0], tmp_path / "data" / "ct_002.nii.gz")
    study.add_case("ct_002", image)
    (study.case_folder("ct_002") / "prompts.json").write_text("{not json", encoding="utf-8")
    nj.write_labels(np.zeros(SHAPE, np.uint16), study.case_folder("ct_002") / "labels.nii.gz")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "case.json").write_text('{"image": "/etc/hostname"}', encoding="utf-8")
    (study.folder / "cases" / "linked").symlink_to(outside)

    status = study.status().set_index("case")
    assert status.loc["ct_001", "objects"] == 1 and pd.isna(status.loc["ct_001", "problem"])
    assert status.loc["ct_002", "problem"]
    assert "outside the study" in status.loc["linked", "problem"]
    rows = study.export("nifti", tmp_path / "out").set_index("case")
    assert rows.loc["ct_001", "status"] == "ok"
    assert rows.loc["ct_002", "status"] != "ok" and "outside" in rows.loc["linked", "status"]


@pytest.mark.parametrize("case_id", ["\U0001f600" * 60, "ct\ud800"])
def test_case_ids_whose_file_names_cannot_be_written_are_refused(tmp_path, case_id):
    with pytest.raises(ValueError, match="bytes in UTF-8|lone surrogate"):
        check_case_id(case_id)
    study = nj.Study(tmp_path / "study")
    image = nj.write_image(np.zeros((4, 4, 4), np.uint8), tmp_path / "image.nii.gz")
    with pytest.raises(ValueError, match="bytes in UTF-8|lone surrogate"):
        study.add_case(case_id, image)
    assert list((study.folder / "cases").iterdir()) == []


def test_an_object_name_with_a_lone_surrogate_is_refused_where_it_is_given(tmp_path, model):
    study = one_case(tmp_path, model)
    seg = study.open("ct_001", session=session(model), autosave=False)
    try:
        with pytest.raises(ValueError, match="lone surrogate"):
            seg.new_object("tumour \ud800")
        with pytest.raises(ValueError, match="lone surrogate"):
            seg.rename_object(1, "\udfff")
        assert [obj["name"] for obj in seg.objects] == ["object 1"]
        seg.rename_object(1, "liver \u00e9")  # any real text is a name
        study.save("ct_001", seg)
    finally:
        seg.close()
    rows = study.export("nifti", tmp_path / "out")
    assert rows.loc[0, "status"] == "ok"
    table = (tmp_path / "out" / "ct_001.tsv").read_text(encoding="utf-8")
    assert "liver \u00e9" in table
