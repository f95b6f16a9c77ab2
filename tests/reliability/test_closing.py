"""Closing frees what an annotation holds, at once and within a bound; nothing is left running.

Cases of issue "no lost work": a lazy image's statistics pass stops on close, and close returns
with a prompt queued behind it (11); a Segmenter that fails in its constructor leaves no worker
and no claimed session behind (12); annotations left open in a loop keep no thread, and one
nobody references is freed (13).
"""

from __future__ import annotations

import gc
import threading
import time
import weakref

import numpy as np
import pytest

from nni_jupyter.annotation import Annotation
from nni_jupyter.annotation.worker import IDLE_SECONDS

zarr = pytest.importorskip("zarr", reason="needs the [zarr] extra")


def our_threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("nni_jupyter"))


def wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_close_stops_a_lazy_statistics_pass_and_a_queued_prompt(tmp_path, make_session):
    # 4096^3 voxels, no chunk on disk: streaming its statistics would take minutes
    huge = zarr.create_array(
        tmp_path / "huge.zarr", shape=(4096,) * 3, chunks=(64,) * 3, dtype="i2"
    )
    annotation = Annotation(huge, session=make_session(), memory_budget="4T")
    assert wait_until(lambda: "nni_jupyter-set-image" in our_threads(), 5)
    queued = annotation.add_point((10, 10, 10), wait=False)
    started = time.monotonic()
    annotation.close(timeout=5)
    assert time.monotonic() - started < 8
    assert wait_until(lambda: not our_threads(), 2), our_threads()
    assert queued.done()
    assert queued.cancelled() or queued.exception() is not None
    assert huge[0, 0, 0] == 0  # the user's array is still readable


def test_a_constructor_that_fails_leaves_nothing_behind(tmp_path, make_session, image):
    from nni_jupyter.widget import Segmenter

    session = make_session()
    with pytest.raises(IsADirectoryError, match="autosave needs a file path"):
        Segmenter(image, session=session, autosave=tmp_path)
    assert wait_until(lambda: not our_threads(), 2), our_threads()
    seg = Segmenter(image, session=session)  # the session was released
    try:
        seg.add_point((20, 18, 16))
        assert seg.mask.any()
    finally:
        seg.close()


def test_annotations_left_open_keep_no_thread_and_are_freed(make_session, image):
    refs = []
    for _ in range(3):
        annotation = Annotation(image, session=make_session())
        annotation.add_point((20, 18, 16))
        refs.append(weakref.ref(annotation))
    del annotation
    assert wait_until(lambda: not our_threads(), IDLE_SECONDS + 2), our_threads()
    gc.collect()
    assert [ref() for ref in refs] == [None, None, None]


def test_a_closed_segmenter_has_no_thread_within_a_second(make_session, image):
    from nni_jupyter.widget import Segmenter

    seg = Segmenter(image, session=make_session())
    seg.add_point((20, 18, 16), wait=False)
    seg.close()
    assert wait_until(lambda: not our_threads(), 1.0), our_threads()
    assert np.asarray(seg.labels).any()  # the masks stay readable
