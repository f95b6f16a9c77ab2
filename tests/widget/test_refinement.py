"""A zoomed view's refinement: ``get_slice`` with a ``stride`` and an in-plane ``region``.

The message parses or is refused with a clear error; the reply's bytes are the image cut at the
served stride over the served region, which the kernel bounds whatever the browser asks.
"""

from __future__ import annotations

import numpy as np
import pytest

import nni_jupyter as nj
from nni_jupyter.annotation.codec import decode_slice
from nni_jupyter.widget.messages import MessageError, SliceRequest, parse_message
from nni_jupyter.widget.slices import refinement

SHAPE = (40, 36, 32)


def get_slice(**fields):
    return {"type": "get_slice", "axis": 2, "index": 7, "request_id": 5, **fields}


def test_stride_and_region_parse():
    request = parse_message(get_slice(stride=2, region=[[4, 30], [0, 36]]), SHAPE)
    assert request == SliceRequest(2, 7, 5, stride=2, region=((4, 30), (0, 36)))
    # absent: today's request (the displayed resolution, the whole plane)
    assert parse_message(get_slice(), SHAPE) == SliceRequest(2, 7, 5)
    # a stride alone may ask for a run of slices
    run = parse_message(get_slice(stride=1, count=3), SHAPE)
    assert isinstance(run, SliceRequest) and run.stride == 1 and run.count == 3


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"stride": 0}, "stride must be an integer in 1..40"),
        ({"stride": 41}, "1..40"),
        ({"stride": 1.0}, "stride must be an integer"),
        ({"stride": True}, "stride must be an integer"),
        ({"stride": None}, "stride must be an integer"),
        ({"region": [[0, 10]]}, "region must be [[u0, u1], [v0, v1]]"),
        ({"region": [[0, 10], [0, 10], [0, 1]]}, "region must be"),
        ({"region": "0:10,0:10"}, "region must be"),
        ({"region": [[0, 10], [5, 5]]}, "lo < hi"),
        ({"region": [[-1, 10], [0, 10]]}, "0 <= lo"),
        ({"region": [[0, 41], [0, 10]]}, "size [40, 36]"),
        ({"region": [[0, 10], [0, 37]]}, "size [40, 36]"),
        ({"region": [[0, 10.5], [0, 10]]}, "integers"),
        ({"region": [[0, True], [0, 10]]}, "integers"),
        ({"region": [[0, 10], None]}, "region must be"),
        ({"region": [[0, 10], [0, 10]], "count": 2}, "one slice; got count 2"),
    ],
)
def test_bad_stride_or_region_is_a_clear_error(fields, words):
    with pytest.raises(MessageError) as caught:
        parse_message(get_slice(**fields), SHAPE)
    assert words in str(caught.value) and caught.value.request_id == 5


def test_the_kernel_bounds_what_a_refinement_costs():
    # the stride asked, unless the region would be wider than max_side strides
    assert refinement((2048, 2048), 1, ((1000, 1500), (200, 900)), 2048) == (
        1,
        ((1000, 1500), (200, 900)),
    )
    assert refinement((8192, 100), 1, ((0, 8192), (0, 100)), 2048) == (4, ((0, 8192), (0, 100)))
    assert refinement((8192, 100), None, None, 2048) == (4, None)
    # starts round down to the served stride; ends stay
    assert refinement((100, 100), 3, ((7, 50), (10, 11)), 2048) == (3, ((6, 50), (9, 11)))


@pytest.fixture
def volume() -> np.ndarray:
    return nj.data.phantom(SHAPE, seed=3)[0].astype(np.int16)


def _slice(seg, **fields):
    seg.sent.clear()
    seg._on_message(seg, get_slice(**fields), [])
    ((content, buffers),) = seg.sent
    assert content["type"] == "slice", content
    plane = decode_slice(buffers[0], content["encoding"], content["dtype"], content["shape"])
    return content, plane


def test_a_lazy_image_is_refined_at_the_stride_asked(tmp_path, make_segmenter, volume, monkeypatch):
    zarr = pytest.importorskip("zarr", reason="the [zarr] extra is not installed")
    from nni_jupyter.widget import segmenter

    monkeypatch.setattr(segmenter, "DISPLAY_MAX_SIDE", 16)  # 40 x 36 planes go every 3 voxels
    stored = zarr.create_array(tmp_path / "r.zarr", shape=SHAPE, chunks=(8, 8, 8), dtype="i2")
    stored[...] = volume
    seg = make_segmenter(zarr.open_array(tmp_path / "r.zarr", mode="r"))
    content, plane = _slice(seg)
    assert content["stride"] == 3 and "region" not in content
    # zoomed in: a region at full resolution (within 2 x 16 voxels a side)
    content, plane = _slice(seg, stride=1, region=[[5, 30], [7, 20]])
    assert content["stride"] == 1 and content["region"] == [[5, 30], [7, 20]]
    np.testing.assert_array_equal(plane, volume[5:30, 7:20, 7])
    # a finer stride than shown: starts rounded down to it
    content, plane = _slice(seg, axis=0, index=11, stride=2, region=[[5, 30], [7, 20]])
    assert content["stride"] == 2 and content["region"] == [[4, 30], [6, 20]]
    np.testing.assert_array_equal(plane, volume[11, 4:30:2, 6:20:2])
    # asking for more than the bound: coarsened until the region fits 32 voxels a side
    content, plane = _slice(seg, stride=1, region=[[0, 40], [1, 36]])
    assert content["stride"] == 2 and content["region"] == [[0, 40], [0, 36]]
    np.testing.assert_array_equal(plane, volume[0:40:2, 0:36:2, 7])


def test_an_image_in_memory_is_cropped_at_full_resolution(make_segmenter, image):
    seg = make_segmenter()
    content, plane = _slice(seg, axis=1, index=3, stride=4, region=[[2, 9], [30, 32]])
    assert content["stride"] == 1 and content["region"] == [[2, 9], [30, 32]]
    np.testing.assert_array_equal(plane, image[2:9, 3, 30:32])
    content, plane = _slice(seg, stride=2)
    assert content["stride"] == 1 and "region" not in content
    np.testing.assert_array_equal(plane, image[:, :, 7])


@pytest.mark.filterwarnings("ignore:nni_jupyter. a browser request failed")
def test_a_bad_refinement_is_answered_with_an_error(make_segmenter):
    seg = make_segmenter()
    seg._on_message(seg, get_slice(region=[[0, 10], [3, 2]]), [])
    ((content, _),) = seg.sent
    assert content["type"] == "error" and content["request_id"] == 5
    assert "lo < hi" in content["message"]
