"""The prompt log is the truth: replaying a log gives back its labels, voxel for voxel.

A property test runs random sequences of every kind of state change (prompts, hand edits,
objects, undo and redo, prompt removal, overlap, a save and load in between) and replays the log
written at the end on a new annotation; the cases that diverged before version 2 of the log are
kept as regression tests, and a log refuses another image unless forced.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nni_jupyter.annotation import Annotation

SHAPE = (40, 36, 32)

coordinate = st.tuples(st.integers(2, SHAPE[0] - 3), st.integers(2, SHAPE[1] - 3))
operation = st.one_of(
    st.tuples(st.just("point"), coordinate, st.integers(4, SHAPE[2] - 5), st.booleans()),
    st.tuples(st.just("box"), coordinate, st.integers(4, 12), st.integers(4, SHAPE[2] - 5)),
    st.tuples(st.just("scribble"), coordinate, coordinate, st.integers(4, SHAPE[2] - 5)),
    st.tuples(st.just("new")),
    st.tuples(st.just("select"), st.integers(0, 4)),
    st.tuples(st.just("delete"), st.integers(0, 4)),
    st.tuples(st.just("rename"), st.integers(0, 4)),
    st.tuples(st.just("remove"), st.integers(0, 4), st.integers(-2, 2)),
    st.tuples(st.just("undo")),
    st.tuples(st.just("redo")),
    st.tuples(st.just("reset")),
    st.tuples(st.just("overlap"), st.sampled_from(["lock", "overwrite"])),
    st.tuples(st.just("save_and_load")),
    st.tuples(
        st.sampled_from(["paint", "erase"]),
        coordinate,
        coordinate,
        st.floats(0.5, 4.0),
        st.integers(0, 2),
    ),
    st.tuples(st.just("fill"), coordinate, st.integers(4, SHAPE[2] - 5)),
    st.tuples(st.sampled_from(["fill_holes", "keep_largest"])),
    st.tuples(st.just("remove_small"), st.floats(0.001, 0.05)),
    st.tuples(st.sampled_from(["dilate", "erode"]), st.floats(0.5, 2.5)),
)


def apply(annotation: Annotation, op: tuple, image, make_session, folder) -> Annotation:
    """Run one operation as a user would; a refused one (bad index, no such object) is kept
    out of the record by the annotation itself. Returns the annotation to go on with."""
    kind, ids = op[0], sorted(obj["id"] for obj in annotation.objects)
    try:
        if kind == "point":
            (x, y), z, positive = op[1], op[2], op[3]
            annotation.add_point((x, y, z), positive)
        elif kind == "box":
            (x, y), size, z = op[1], op[2], op[3]
            corners = [(x, y), (min(x + size, SHAPE[0] - 1), min(y + size, SHAPE[1] - 1))]
            annotation.add_box(corners, axis=2, index=z)
        elif kind == "scribble":
            annotation.add_scribble([op[1], op[2]], axis=2, index=op[3])
        elif kind in ("paint", "erase"):
            (p0, q0), (p1, q1), radius, axis = op[1], op[2], op[3], op[4]
            stroke = getattr(annotation, kind)
            stroke([(p0, q0), (p1, q1)], radius, axis=axis, index=SHAPE[axis] // 2)
        elif kind == "fill":
            annotation.fill(op[1], axis=2, index=op[2])
        elif kind in ("fill_holes", "keep_largest"):
            getattr(annotation, kind)()
        elif kind in ("remove_small", "dilate", "erode"):
            getattr(annotation, kind)(op[1])
        elif kind == "new":
            annotation.new_object()
        elif kind in ("select", "delete", "rename"):
            target = ids[op[1] % len(ids)]
            if kind == "select":
                annotation.select_object(target)
            elif kind == "delete":
                annotation.delete_object(target)
            else:
                annotation.rename_object(target, f"renamed {target}")
        elif kind == "remove":
            annotation.remove_prompt(op[2], object=ids[op[1] % len(ids)])
        elif kind == "undo":
            annotation.undo()
        elif kind == "redo":
            annotation.redo()
        elif kind == "reset":
            annotation.reset_object()
        elif kind == "overlap":
            annotation.set_overlap(op[1])
        else:
            path = folder / f"work-{len(annotation.prompts)}.npz"
            annotation.save(path)
            annotation.close()
            return Annotation.load(path, image, session=make_session())
    except (ValueError, IndexError):
        pass
    return annotation


def replayed(log: dict, image, make_session, folder) -> np.ndarray:
    """The labels a new annotation gets from ``log`` after a round trip through a file."""
    path = folder / "log.json"
    path.write_text(json.dumps(log))
    fresh = Annotation(image, session=make_session())
    try:
        fresh.replay_log(path)
        return np.asarray(fresh.labels)
    finally:
        fresh.close()


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, min_size=1, max_size=10))
def test_replaying_the_log_gives_back_the_labels(operations, image, make_session, tmp_path_factory):
    folder = tmp_path_factory.mktemp("log_truth")
    annotation = Annotation(image, session=make_session())
    try:
        for op in operations:
            annotation = apply(annotation, op, image, make_session, folder)
        log, labels = annotation.log(), np.asarray(annotation.labels)
    finally:
        annotation.close()
    assert log["version"] == 2 and len(log["record"]) == len(annotation.prompts)
    assert np.array_equal(replayed(log, image, make_session, folder), labels)


def run_and_replay(steps, image, make_session, tmp_path) -> tuple[np.ndarray, np.ndarray]:
    annotation = Annotation(image, session=make_session())
    try:
        for step in steps:
            step(annotation)
        labels, log = np.asarray(annotation.labels), annotation.log()
    finally:
        annotation.close()
    return labels, replayed(log, image, make_session, tmp_path)


@pytest.mark.parametrize(
    "steps",
    [
        pytest.param(
            [
                lambda a: a.add_point((20, 18, 16)),
                lambda a: a.new_object(),
                lambda a: a.add_point((12, 10, 16)),
                lambda a: a.delete_object(1),
            ],
            id="point-new-point-delete-first",
        ),
        pytest.param(
            [
                lambda a: a.add_point((20, 18, 16)),
                lambda a: a.add_point((22, 20, 16), positive=False),
                lambda a: a.new_object(),
                lambda a: a.add_point((12, 10, 16)),
                lambda a: a.remove_prompt(0, object=1),
                lambda a: a.add_point((13, 11, 17)),
            ],
            id="remove-prompt-of-an-inactive-object",
        ),
        pytest.param(
            [
                lambda a: a.add_point((20, 18, 16)),
                lambda a: a.new_object(),
                lambda a: a.undo(),
                lambda a: a.add_point((22, 20, 18)),
            ],
            id="new-undo-point",
        ),
        pytest.param(
            [
                lambda a: a.add_box([(10, 10), (26, 24)], axis=2, index=16),
                lambda a: a.erase([(18, 4), (18, 32)], 2.5, axis=2, index=16),
                lambda a: a.paint([(4, 4), (9, 30)], 2, axis=0, index=20),
                lambda a: a.new_object(),
                lambda a: a.paint([(30, 30)], 3, axis=2, index=16),
                lambda a: a.select_object(1),
                lambda a: a.remove_prompt(1),
                lambda a: a.add_point((20, 18, 16), positive=False),
                lambda a: a.dilate(1.5),
                lambda a: a.undo(),
                lambda a: a.keep_largest(),
            ],
            id="edits-between-prompts-removed-and-undone",
        ),
    ],
)
def test_the_cases_that_diverged_before_now_replay_exactly(steps, image, make_session, tmp_path):
    labels, again = run_and_replay(steps, image, make_session, tmp_path)
    assert labels.any()
    assert np.array_equal(again, labels)


def test_a_prompt_that_failed_inside_our_session_leaves_no_trace_in_the_log(
    image, make_session, tmp_path
):
    """Our session takes a failed call back whole (``keeps_state_on_failure``): the next prompt
    builds on the prompts before it, and the log, which leaves the failed one out, replays to
    the same labels. (The remote engine keeps part of a timed-out call: there the runner records
    a ``resync``; tests/test_remote.py proves that case against the real server.)"""
    annotation = Annotation(image, session=make_session())
    try:
        annotation.add_point((20, 18, 16))
        network = annotation.runner.session.network
        handle = network.register_forward_pre_hook(_raise_once())
        with pytest.raises(RuntimeError, match="lost connection"):
            annotation.add_point((24, 20, 16))
        handle.remove()
        annotation.add_point((16, 14, 16), positive=False)
        kinds = [item.to_dict()["kind"] for item in annotation.prompts]
        labels, log = np.asarray(annotation.labels), annotation.log()
    finally:
        annotation.close()
    assert kinds == ["prompt", "prompt"]
    assert np.array_equal(replayed(log, image, make_session, tmp_path), labels)


def _raise_once():
    state = {"raised": False}

    def hook(_module, _inputs):
        if not state["raised"]:
            state["raised"] = True
            raise RuntimeError("lost connection to the server")

    return hook


def test_a_log_refuses_another_image_unless_forced(image, make_session, tmp_path):
    annotation = Annotation(image, session=make_session())
    try:
        annotation.add_point((20, 18, 16))
        log = annotation.log()
    finally:
        annotation.close()
    other = image.copy()
    other[0, 0, 0] += 1  # one voxel differs: same shape, another image
    fresh = Annotation(other, session=make_session())
    try:
        with pytest.raises(ValueError, match="written for another image.*force=True"):
            fresh.replay_log(log)
        assert not fresh.prompts  # nothing ran
        fresh.replay_log(log, force=True)
        assert len(fresh.prompts) == 1
    finally:
        fresh.close()


def test_a_version_1_log_still_replays(image, make_session, tmp_path):
    """Logs written before the record existed rebuild each object from its prompts."""
    annotation = Annotation(image, session=make_session())
    try:
        annotation.add_point((20, 18, 16))
        annotation.new_object("second")
        annotation.add_point((12, 10, 16))
        log = annotation.log()
        labels = np.asarray(annotation.labels)
    finally:
        annotation.close()
    old = {k: v for k, v in log.items() if k not in ("record", "initial_overlap")}
    old["version"] = 1
    assert np.array_equal(replayed(old, image, make_session, tmp_path), labels)


def test_a_worker_never_imports_the_widget():
    """The headless core stands alone: importing and running it pulls in no anywidget."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from nni_jupyter.annotation import Annotation\n"
        "a = Annotation(np.random.default_rng(0).normal(size=(24, 24, 24)), model='demo',"
        " device='cpu', precision='fp32')\n"
        "a.add_point((12, 12, 12)); a.close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('anywidget', 'ipywidgets')"
        " or m.startswith('nni_jupyter.widget')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
