"""The study desk without a browser: next / done / review / reopen through its methods and
buttons, two annotators in two processes, and the faults of issue 29 (a case deleted while
open, a lock from another host, two desks in one kernel); the desk writes only in the study."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nni_jupyter as nj
from nni_jupyter.study import review
from nni_jupyter.study.demo import demo_study
from nni_jupyter.study.desk import StudyDesk
from nni_jupyter.study.desk_keys import action_of
from nni_jupyter.study.lock import LOCK_FILE

from .test_review import wait_for_line

pytest.importorskip("SimpleITK", reason="needs the [io] extra (SimpleITK) to write the images")

SHAPE = (32, 32, 32)


@pytest.fixture
def study(tmp_path: Path) -> nj.Study:
    return demo_study(tmp_path / "study", cases=3, shape=SHAPE)


def desk_of(study: nj.Study, who: str = "alice", **kwargs) -> StudyDesk:
    return study.desk(who, model="demo", poll_s=0, **kwargs)


def cells(desk: StudyDesk, case_id: str) -> dict:
    return next(row for row in desk.rows if row["case"] == case_id)


def files_outside(study: nj.Study) -> list[str]:
    parent = study.folder.parent
    return sorted(str(p) for p in parent.rglob("*") if not p.is_relative_to(study.folder))


def test_annotator_works_through_the_cases(study: nj.Study) -> None:
    outside = files_outside(study)
    desk = desk_of(study)
    assert desk_table_counts(desk) == {"new": 3}
    assert desk.next() == "case_001" and not desk.read_only
    desk.segmenter.add_point((16, 16, 16))
    desk.segmenter.wait()
    desk.refresh()
    assert cells(desk, "case_001")["taken"] == "alice (this desk)"
    desk.buttons["done"].click()  # saves, closes, records
    assert desk.segmenter is None
    row = cells(desk, "case_001")
    assert (row["status"], row["prompts"], row["taken"]) == ("done", 1, None)
    assert "done" in desk.message.value
    assert 'data-case="case_001"' in desk.table.value and ">done<" in desk.table.value
    desk.buttons["next"].click()
    assert desk.case == "case_002"  # done cases are skipped
    desk.previous()
    assert desk.case == "case_001" and desk.read_only  # done: read-only until reopened
    assert desk.buttons["done"].disabled and not desk.buttons["reopen"].disabled
    desk.reopen()
    assert desk.case == "case_001" and not desk.read_only
    assert cells(desk, "case_001")["status"] == "in progress"
    desk.close()
    assert files_outside(study) == outside  # nothing written outside the study


def desk_table_counts(desk: StudyDesk) -> dict[str, int]:
    from nni_jupyter.study.desk_table import counts

    return {k: v for k, v in counts(desk.rows).items() if v}


def test_reviewer_accepts_or_sends_back_and_the_annotator_sees_the_note(study: nj.Study) -> None:
    seg = study.open("case_002", model="demo", annotator="alice")
    seg.add_point((16, 16, 16))
    seg.close()
    review.change(study, "case_002", "done", "alice")
    reviewer = desk_of(study, "bob", review=True)
    assert reviewer.next() == "case_002" and reviewer.read_only
    assert len(reviewer.segmenter.prompt_list) == 1  # the annotator's prompts, shown
    assert int(reviewer.segmenter.labels.sum()) > 0  # and masks
    assert reviewer.buttons["done"].disabled and not reviewer.buttons["accept"].disabled
    reviewer._act(action_of({"key": "d"}))  # Alt+D: not a reviewer's action
    assert "not available" in reviewer.message.value
    assert review.status_of(study, "case_002")[0] == "done"
    reviewer.send_back("")  # a note is needed
    assert "needs a note" in reviewer.message.value
    reviewer.send_back("the spleen is missing")
    reviewer.close()
    annotator = desk_of(study)
    row = cells(annotator, "case_002")
    assert (row["status"], row["note"]) == ("needs review", "the spleen is missing")
    assert "the spleen is missing" in annotator.table.value
    assert annotator.next() == "case_001"
    annotator.open("case_002")
    annotator.mark_done()
    annotator.close()
    reviewer = desk_of(study, "bob", review=True)
    assert reviewer.next() == "case_002"
    reviewer.accept()
    record = review.read(study.case_folder("case_002"))
    assert record is not None and record.accepted_by == "bob" and record.accepted_at
    assert reviewer.next() is None and "No done case" in reviewer.message.value
    reviewer.close()


def test_two_annotators_in_two_processes(study: nj.Study) -> None:
    script = (
        "import sys, nni_jupyter as nj; from nni_jupyter.study import review;"
        "study = nj.Study(sys.argv[1]);"
        "seg = study.open('case_001', model='demo', annotator='carol');"
        "seg.add_point((16, 16, 16)); print('held', flush=True); sys.stdin.readline();"
        "seg.close(); review.change(study, 'case_001', 'done', 'carol'); print('done', flush=True)"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(nj.__file__).parents[1]), OMP_NUM_THREADS="1")
    carol = subprocess.Popen(
        [sys.executable, "-c", script, str(study.folder)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    desk = study.desk("alice", model="demo", poll_s=0.2)
    try:
        wait_for_line(carol, "held")
        desk.refresh()
        assert cells(desk, "case_001")["taken"] == "carol"
        assert "carol" in desk.table.value
        assert desk.next() == "case_002"  # the taken case is skipped
        desk.open("case_001")
        assert desk.read_only and "taken by carol" in desk.message.value
        assert desk.buttons["done"].disabled
        assert carol.stdin is not None
        carol.stdin.write("\n")
        carol.stdin.flush()
        wait_for_line(carol, "done")
        deadline = time.monotonic() + 10
        while cells(desk, "case_001")["status"] != "done" and time.monotonic() < deadline:
            time.sleep(0.1)  # the desk's poll sees it, no action needed
        assert cells(desk, "case_001")["status"] == "done"
        assert cells(desk, "case_001")["taken"] is None
    finally:
        desk.close()
        carol.communicate(timeout=60)


def test_a_lock_from_another_host_opens_read_only(study: nj.Study) -> None:
    lock = {"case": "case_001", "who": "dave", "since": "2026-01-01T10:00:00+00:00",
            "host": "another-host", "pid": 4242, "started": None, "token": "abc"}  # fmt: skip
    (study.case_folder("case_001") / LOCK_FILE).write_text(json.dumps(lock))
    desk = desk_of(study)
    assert cells(desk, "case_001")["taken"] == "dave on another-host"
    assert desk.next() == "case_002"
    desk.open("case_001")
    assert desk.read_only and "another-host" in desk.message.value
    desk.close()
    assert json.loads((study.case_folder("case_001") / LOCK_FILE).read_text()) == lock


def test_a_case_deleted_while_open_keeps_its_prompts(study: nj.Study) -> None:
    outside = files_outside(study)
    desk = desk_of(study)
    desk.open("case_003")
    seg = desk.segmenter
    shutil.rmtree(study.case_folder("case_003"))
    seg.add_point((16, 16, 16))  # its autosave fails: the case is gone
    seg.wait()
    desk.refresh()
    assert "removed from the study while open" in desk.message.value
    assert desk.segmenter is seg and len(seg.prompt_list) == 1 and int(seg.labels.sum()) > 0
    assert [row["case"] for row in desk.rows] == ["case_001", "case_002"]
    desk.mark_done()
    assert "not done" in desk.message.value
    assert not study.case_folder("case_003").exists()  # nothing written for it
    assert files_outside(study) == outside
    desk.close()


def test_a_second_desk_in_one_kernel_replaces_the_first(study: nj.Study) -> None:
    first = desk_of(study)
    first.open("case_001")
    first.segmenter.add_point((16, 16, 16))
    second = desk_of(study)
    assert first.segmenter is None and "replaced" in first.message.value
    assert study.saved("case_001") is not None  # the first desk's work was saved
    second.open("case_001")
    assert not second.read_only  # the first let go of the case
    assert len(second.segmenter.prompt_list) == 1
    second.close()


def test_a_damaged_review_file_flags_its_row_and_the_desk_goes_on(study: nj.Study) -> None:
    review.change(study, "case_002", "done", "alice")
    path = study.case_folder("case_002") / review.REVIEW_FILE
    path.write_text(path.read_text()[:20])
    desk = desk_of(study)
    row = cells(desk, "case_002")
    assert row["status"] is None and "DamagedReview" in row["problem"]
    assert "DamagedReview" in desk.table.value
    desk.open("case_002")
    desk.mark_done()
    assert cells(desk, "case_002")["status"] == "done"
    assert len(list(path.parent.glob("review.damaged-*.json"))) == 1
    desk.close()
