"""Case statuses of a study: derived (new, in progress) and decided (done, needs review,
accepted), who decided and when, and files damaged by hand that lose nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import nni_jupyter as nj
from nni_jupyter.study import review
from nni_jupyter.study.demo import demo_study
from nni_jupyter.study.lock import LOCK_FILE, CaseTaken

pytest.importorskip("SimpleITK", reason="needs the [io] extra (SimpleITK) to write the images")
pytest.importorskip("pandas", reason="study.status() needs pandas (the [test] extra)")


@pytest.fixture
def study(tmp_path: Path) -> nj.Study:
    return demo_study(tmp_path / "study", cases=2, shape=(32, 32, 32))


def test_statuses_follow_the_files_then_the_decisions(study: nj.Study) -> None:
    assert review.status_of(study, "case_001") == ("new", None)
    seg = study.open("case_001", model="demo", annotator="alice")
    assert review.status_of(study, "case_001")[0] == "in progress"  # taken
    seg.add_point((16, 16, 16))
    seg.close()
    assert study.status().set_index("case").loc["case_001", "status"] == "in progress"
    done = review.change(study, "case_001", "done", "alice")
    assert (done.status, done.by) == ("done", "alice")
    back = review.change(study, "case_001", "send back", "bob", "left lobe missing")
    assert (back.status, back.note) == ("needs review", "left lobe missing")
    review.change(study, "case_001", "done", "alice")
    accepted = review.change(study, "case_001", "accept", "bob")
    assert (accepted.accepted_by, accepted.note) == ("bob", None)
    assert accepted.accepted_at and accepted.accepted_at.endswith("+00:00")
    assert [h["status"] for h in accepted.history] == [
        "done", "needs review", "done", "accepted"
    ]  # fmt: skip
    table = study.status().set_index("case")
    assert table.loc["case_001", "status"] == "accepted"
    assert table.loc["case_001", "prompts"] == 1
    assert table.loc["case_002", "status"] == "new"
    # a new Study on the folder (another kernel) reads the same
    assert review.status_of(nj.Study(study.folder), "case_001")[0] == "accepted"


def test_actions_out_of_order_are_refused_with_the_status_now(study: nj.Study) -> None:
    with pytest.raises(ValueError, match="'new'; 'accept' needs it 'done'"):
        review.change(study, "case_001", "accept", "bob")
    review.change(study, "case_001", "done", "alice")
    with pytest.raises(ValueError, match="needs a note"):
        review.change(study, "case_001", "send back", "bob", "  ")
    with pytest.raises(ValueError, match="unknown action"):
        review.change(study, "case_001", "approve", "bob")
    with pytest.raises(KeyError, match="no case 'case_009'"):
        review.change(study, "case_009", "done", "bob")
    assert not (study.folder / "cases" / "case_009").exists()


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # cut short
        lambda text: text.replace('"done"', '"finished"'),  # edited by hand
        lambda text: "[]",
    ],
    ids=["truncated", "unknown-status", "not-an-object"],
)
def test_a_damaged_review_file_is_flagged_then_kept_aside(study: nj.Study, damage) -> None:
    review.change(study, "case_001", "done", "alice")
    path = study.case_folder("case_001") / review.REVIEW_FILE
    damaged = damage(path.read_text())
    path.write_text(damaged)
    table = study.status().set_index("case")
    assert table.loc["case_001", "problem"].startswith("DamagedReview: ")
    assert table.loc["case_002", "status"] == "new"  # the other rows stand
    review.change(study, "case_001", "done", "alice")  # starts again from the files
    aside = list(study.case_folder("case_001").glob("review.damaged-*.json"))
    assert [p.read_text() for p in aside] == [damaged]  # nothing lost
    assert review.status_of(study, "case_001")[0] == "done"


def test_no_decision_while_another_process_holds_the_case(study: nj.Study) -> None:
    script = (
        "import sys, nni_jupyter as nj; study = nj.Study(sys.argv[1]);"
        "seg = study.open('case_001', model='demo', annotator='carol');"
        "print('held', flush=True); sys.stdin.read()"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(nj.__file__).parents[1]), OMP_NUM_THREADS="1")
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(study.folder)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        wait_for_line(holder, "held")
        with pytest.raises(CaseTaken, match="carol"):
            review.change(study, "case_001", "done", "alice")
        assert not (study.case_folder("case_001") / review.REVIEW_FILE).exists()
    finally:
        holder.communicate("", timeout=60)
    review.change(study, "case_001", "done", "alice")  # its process is gone: free


def wait_for_line(process: subprocess.Popen[str], line: str) -> None:
    """Read the child's output until ``line`` (it prints other lines first: the model's)."""
    assert process.stdout is not None
    for got in process.stdout:
        if got.strip() == line:
            return
    raise AssertionError(f"the child ended (code {process.wait()}) before printing {line!r}")


def test_a_lock_from_another_host_blocks_decisions(study: nj.Study) -> None:
    lock = {"case": "case_001", "who": "dave", "since": "2026-01-01T10:00:00+00:00",
            "host": "another-host", "pid": 4242, "started": None, "token": "abc"}  # fmt: skip
    (study.case_folder("case_001") / LOCK_FILE).write_text(json.dumps(lock))
    with pytest.raises(CaseTaken, match="another-host"):
        review.change(study, "case_001", "done", "alice")


def test_time_spent_counts_pauses_up_to_five_minutes() -> None:
    times = ["2026-01-01T10:00:00+00:00", "2026-01-01T10:00:30+00:00",
             "2026-01-01T11:00:30+00:00", "2026-01-01T11:01:00+00:00"]  # fmt: skip
    log = {"record": [{"item": {}, "stamp": {"time": t}} for t in times]}
    assert review.time_spent(log) == 30 + review.IDLE_GAP_S + 30
    v1 = {"objects": [{"prompts": [{"time": times[0]}, {"time": times[1]}]}]}
    assert review.time_spent(v1) == 30
    assert review.time_spent({"record": []}) == 0
