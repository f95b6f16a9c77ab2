"""Segmenters and sessions over time: one Segmenter per session, shared networks, nothing left
alive after close() or after a cell is run again (issue "Reliability", items 11 and 13)."""

from __future__ import annotations

import ast
import gc
import json
import threading
import weakref
from pathlib import Path

import numpy as np
import pytest

from nni_jupyter.annotation.lifetime import SessionInUseError
from nni_jupyter.data import phantom
from nni_jupyter.inference import shared
from nni_jupyter.widget import Segmenter

WORKER = "nni_jupyter-worker"


def _workers() -> int:
    return sum(thread.name.startswith(WORKER) for thread in threading.enumerate())


def test_a_second_segmenter_on_an_open_session_is_refused(make_session, image) -> None:
    session = make_session()
    first = Segmenter(image, session=session)
    try:
        first.add_point((20, 18, 16))
        before = first.labels.copy()
        with pytest.raises(SessionInUseError, match="model=") as caught:
            Segmenter(phantom(image.shape, seed=4)[0], session=session)
        assert "close the other" in str(caught.value)
        np.testing.assert_array_equal(first.labels, before)  # nothing of the first was lost
        first.add_point((10, 10, 10))  # and it still works on its own image
    finally:
        first.close()
    second = Segmenter(image, session=session)  # free again once the first is closed
    try:
        second.add_point((20, 18, 16))
        np.testing.assert_array_equal(second.labels, before)
    finally:
        second.close()


def test_segmenters_with_one_model_share_the_network_and_keep_their_own_masks(
    model_folder: Path, image: np.ndarray
) -> None:
    other = phantom(image.shape, seed=4)[0]
    alone = {}
    for name, volume in (("a", image), ("b", other)):
        seg = Segmenter(volume, model=model_folder, device="cpu")
        seg.add_point((20, 18, 16))
        alone[name] = seg.labels
        seg.close()
    a = Segmenter(image, model=model_folder, device="cpu")
    b = Segmenter(other, model=model_folder, device="cpu")
    try:
        assert a.annotation.runner.session.network is b.annotation.runner.session.network
        a.add_point((20, 18, 16), wait=False)
        b.add_point((20, 18, 16), wait=False)
        a.wait()
        b.wait()
        np.testing.assert_array_equal(a.labels, alone["a"])
        np.testing.assert_array_equal(b.labels, alone["b"])
    finally:
        a.close()
        b.close()


def test_a_closed_segmenter_is_freed_with_its_thread_and_session(
    model_folder: Path, image: np.ndarray
) -> None:
    gc.collect()
    workers = _workers()
    seg = Segmenter(image, model=model_folder, device="cpu")
    seg.add_point((20, 18, 16))
    session = weakref.ref(seg.annotation.runner.session)
    mask = seg.mask
    assert _workers() == workers + 1
    seg.close()
    np.testing.assert_array_equal(seg.mask, mask)  # results stay readable after close
    ref = weakref.ref(seg)
    del seg
    gc.collect()
    assert ref() is None and session() is None
    assert _workers() == workers


REPORT = (
    "__import__('json').dumps({"
    "'segmenters': (__import__('gc').collect(), sum(isinstance(o, nj.Segmenter) "
    "for o in __import__('gc').get_objects()))[1], "
    "'workers': sum(t.name.startswith('nni_jupyter-worker') "
    "for t in __import__('threading').enumerate()), "
    "'networks': __import__('nni_jupyter.inference.shared').inference.shared.loaded_count(), "
    "'rss_mib': (__import__('ctypes').CDLL('libc.so.6').malloc_trim(0), "
    "int(open('/proc/self/statm').read().split()[1]) * 4096 / 2**20)[1]})"
)


def test_rerunning_a_segmenter_cell_keeps_one_segmenter(model_folder: Path) -> None:
    """A real kernel runs the same cell (same cellId, as JupyterLab sends it) eleven times."""
    jupyter_client = pytest.importorskip("jupyter_client.manager", reason="needs jupyter_client")
    manager, client = jupyter_client.start_new_kernel(kernel_name="python3")

    def run(code: str, cell_id: str) -> dict:
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {"report": REPORT},
            "allow_stdin": False,
            "stop_on_error": True,
        }
        message = client.session.msg("execute_request", content, metadata={"cellId": cell_id})
        client.shell_channel.send(message)
        while True:
            reply = client.get_shell_msg(timeout=300)
            if reply["parent_header"].get("msg_id") == message["header"]["msg_id"]:
                break
        assert reply["content"]["status"] == "ok", reply["content"]
        report = reply["content"]["user_expressions"]["report"]
        assert report["status"] == "ok", report
        return json.loads(ast.literal_eval(report["data"]["text/plain"]))  # the repr of a str

    try:
        run(
            "import nni_jupyter as nj\n"
            f"image = nj.data.phantom((64, 64, 64), seed=3)[0]\nMODEL = {str(model_folder)!r}",
            "setup",
        )
        cell = (
            "seg = nj.Segmenter(image, model=MODEL, device='cpu')\n"
            "seg.add_point((32, 32, 32))\n"
            "display(seg)"
        )
        first = run(cell, "segmenter-cell")
        reports = [run(cell, "segmenter-cell") for _ in range(10)]
        other = run(cell, "another-cell")  # a second cell keeps its own Segmenter
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    last = reports[-1]
    assert (first["segmenters"], first["workers"], first["networks"]) == (1, 1, 1)
    assert (last["segmenters"], last["workers"], last["networks"]) == (1, 1, 1), reports
    assert (other["segmenters"], other["workers"]) == (2, 2)
    # RSS is read after malloc_trim, so it counts live memory rather than the allocator's free
    # pools. The first re-run grows torch's pools once (a second prompt's working set); from then
    # on, ten re-runs may keep at most about one run's buffers (before: 85-100 MiB each).
    buffers_mib = 64**3 * 16 / 2**20  # generous: image copies, masks and labels of one run
    growth = last["rss_mib"] - reports[0]["rss_mib"]
    rss = [round(r["rss_mib"]) for r in [first, *reports]]
    print(f"RSS (MiB) after each of the 11 runs: {rss}")
    assert growth <= buffers_mib + 64, rss


def test_shared_network_is_released_with_the_last_session(make_session) -> None:
    gc.collect()
    before = shared.loaded_count()
    sessions = [make_session() for _ in range(3)]
    assert shared.loaded_count() == before + 1
    assert len({id(s.network) for s in sessions}) == 1
    del sessions
    gc.collect()
    assert shared.loaded_count() == before
