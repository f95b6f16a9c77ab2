"""Interruptions: KeyboardInterrupt inside a prediction, out of memory, two views of one widget.

A prediction runs on the Segmenter's worker thread, so an interrupt can land there (raised from a
forward hook here) or in the main thread waiting for it (``_thread.interrupt_main``). Either way the
session, the target buffer and the labels are exactly as before or exactly as after the prompt.
"""

from __future__ import annotations

import _thread

import numpy as np
import pytest
import torch
from _tiny_model import write_tiny_model
from widget.browser_emulator import LabelVolume

from nni_jupyter.annotation.guards import OOM_HINT, PredictionOutOfMemory

pytestmark = pytest.mark.filterwarnings("ignore:nni_jupyter")
POINT = (20, 18, 16)


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory: pytest.TempPathFactory):
    """The tiny model whatever is bundled: its 32-voxel patch makes an initial mask of this image
    need several refinement boxes, so a later forward pass lands inside a multi-box refinement."""
    return write_tiny_model(tmp_path_factory.mktemp("tiny_model"))


def _raise_on_call(network: torch.nn.Module, error: BaseException, at_call: int = 1):
    """Make the ``at_call``-th forward pass raise ``error``; return the hook handle."""
    calls = {"n": 0}

    def hook(_module, _inputs):
        calls["n"] += 1
        if calls["n"] == at_call:
            raise error

    return network.register_forward_pre_hook(hook)


def _state(seg) -> tuple:
    annotator = seg.annotation.runner
    return (
        seg.labels.tobytes(),
        annotator.buffer.tobytes(),
        repr(seg.objects),
        len(seg.prompts),
    )


@pytest.mark.parametrize("at_call", [1, 3])
def test_interrupt_in_the_worker_leaves_everything_as_before(make_segmenter, at_call):
    seg = make_segmenter()
    seg.add_point((8, 8, 8))
    reference = make_segmenter()
    reference.add_point((8, 8, 8))
    session = seg.annotation.runner.session
    before = _state(seg)
    # an initial mask larger than the patch: the refinement writes several boxes one by one
    mask = np.zeros(seg.shape, np.uint8)
    mask[2:38, 2:34, 2:30] = 1
    handle = _raise_on_call(session.network, KeyboardInterrupt(), at_call)
    with pytest.raises(KeyboardInterrupt):
        seg.add_mask(mask, refine=True)
    handle.remove()
    assert _state(seg) == before  # nothing half-written: not labels, not the session's buffer
    assert seg.error.startswith("KeyboardInterrupt")
    # still usable, and the same as a session that never saw the interrupt
    seg.add_point(POINT)
    reference.add_point(POINT)
    assert np.array_equal(seg.labels, reference.labels)


def test_interrupting_the_waiting_main_thread_lets_the_prompt_finish(make_segmenter):
    seg = make_segmenter()
    reference = make_segmenter()
    reference.add_point(POINT)
    handle = seg.annotation.runner.session.network.register_forward_pre_hook(
        lambda *_: _thread.interrupt_main()
    )
    with pytest.raises(KeyboardInterrupt):
        seg.add_point(POINT)
        seg.wait(timeout=60)  # the interrupt may land here instead
    handle.remove()
    assert seg.wait(timeout=60)
    assert np.array_equal(seg.labels, reference.labels)  # exactly "after"
    assert seg.prompts == reference.prompts


@pytest.mark.parametrize(
    "error",
    [
        torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
        RuntimeError("MPS backend out of memory (MPS allocated: 9 GB)"),
    ],
)
def test_out_of_memory_gives_a_hint_and_the_session_stays_usable(make_segmenter, error):
    seg = make_segmenter()
    before = _state(seg)
    handle = _raise_on_call(seg.annotation.runner.session.network, error)
    with pytest.raises(PredictionOutOfMemory, match="AutoZoom off"):
        seg.add_point(POINT)
    handle.remove()
    assert _state(seg) == before
    assert "out of memory" in seg.error and OOM_HINT in seg.error
    seg.add_point(POINT)
    assert seg.labels.any()


def test_an_out_of_memory_browser_prompt_gets_an_error_reply(make_segmenter):
    seg = make_segmenter()
    handle = _raise_on_call(
        seg.annotation.runner.session.network, torch.cuda.OutOfMemoryError("oom")
    )
    message = {"type": "prompt", "tool": "point", "positive": True, "axis": 2, "index": 16,
               "vertices": [[20.0, 18.0]], "request_id": 4}  # fmt: skip
    seg._on_message(seg, message, [])
    seg.wait()
    handle.remove()
    replies = [content for content, _ in seg.sent]
    assert [r["type"] for r in replies] == ["error"] and replies[0]["request_id"] == 4
    assert "AutoZoom off" in replies[0]["message"]


def test_two_views_of_one_widget_stay_consistent(make_segmenter):
    """Every kernel message goes to all views; a view opened late asks for the full labels."""
    seg = make_segmenter()
    early = LabelVolume(seg.shape)
    seg.add_point(POINT)
    seg.new_object()
    seg.add_point((8, 8, 8))
    late = LabelVolume(seg.shape)
    seg._on_message(seg, {"type": "get_labels", "request_id": 1}, [])
    seg.undo()
    seg.redo()
    seg.delete_object(1)
    early.apply_all(seg.sent)
    opened = next(i for i, (content, _) in enumerate(seg.sent) if content.get("request_id") == 1)
    late.apply_all(seg.sent[opened:])  # the late view sees its labels_reset and what follows
    assert np.array_equal(early.labels, seg.labels)
    assert np.array_equal(late.labels, seg.labels)
