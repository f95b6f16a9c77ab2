"""The Segmenter on lazy images: Zarr arrays and OME-Zarr open without being read whole."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import nni_jupyter as nj
from nni_jupyter.annotation.codec import decode_slice
from nni_jupyter.volumes import LazyVolume
from nni_jupyter.widget import Segmenter

zarr = pytest.importorskip("zarr", reason="the [zarr] extra (zarr, ome-zarr) is not installed")

SHAPE = (40, 36, 32)


@pytest.fixture
def volume() -> np.ndarray:
    return nj.data.phantom(SHAPE, seed=3)[0].astype(np.int16)


def test_a_zarr_array_segments_like_the_array_in_memory(tmp_path, make_session, volume):
    stored = zarr.create_array(tmp_path / "a.zarr", shape=SHAPE, chunks=(8, 8, 8), dtype="i2")
    stored[...] = volume
    in_memory = Segmenter(volume, session=make_session())
    lazy = Segmenter(zarr.open_array(tmp_path / "a.zarr", mode="r"), session=make_session())
    try:
        assert isinstance(lazy.annotation.volume, LazyVolume)
        for seg in (in_memory, lazy):
            seg.add_point((20, 18, 16))
            seg.add_box([(10, 30), (8, 28)], axis=2, index=16)
        assert in_memory.labels.any()
        assert np.array_equal(lazy.labels, in_memory.labels)
        assert lazy.intensity_stats["max"] <= in_memory.intensity_stats["max"]
        # a slice for the browser is read from the chunks it crosses
        lazy.send = lambda content, buffers=None: sent.append((content, buffers))
        sent: list = []
        lazy._on_message(lazy, {"type": "get_slice", "axis": 0, "index": 9, "request_id": 1}, [])
        ((content, buffers),) = [m for m in sent if m[0]["type"] == "slice"]
        plane = decode_slice(buffers[0], content["encoding"], content["dtype"], content["shape"])
        assert np.array_equal(plane, volume[9])
    finally:
        in_memory.close()
        lazy.close()


def test_planes_wider_than_the_display_go_at_the_displayed_resolution(
    tmp_path, make_session, volume, monkeypatch
):
    """A lazy plane wider than DISPLAY_MAX_SIDE is sent every ``stride`` voxels (the reply says
    which); an image in memory always goes at full resolution."""
    from nni_jupyter.widget import segmenter

    monkeypatch.setattr(segmenter, "DISPLAY_MAX_SIDE", 16)
    stored = zarr.create_array(tmp_path / "d.zarr", shape=SHAPE, chunks=(8, 8, 8), dtype="i2")
    stored[...] = volume
    lazy = Segmenter(zarr.open_array(tmp_path / "d.zarr", mode="r"), session=make_session())
    in_memory = Segmenter(volume, session=make_session())
    try:
        for seg, stride in ((lazy, 3), (in_memory, 1)):  # 40 x 36 voxels under a 16 limit
            sent: list = []
            seg.send = lambda content, buffers=None, sent=sent: sent.append((content, buffers))
            request = {"type": "get_slice", "axis": 2, "index": 7, "count": 2, "request_id": 1}
            seg._on_message(seg, request, [])
            ((content, buffers),) = [m for m in sent if m[0]["type"] == "slice"]
            assert content["stride"] == stride
            for k, buffer in enumerate(buffers):
                args = (content["encoding"], content["dtype"], content["shape"])
                plane = decode_slice(buffer, *args)
                assert np.array_equal(plane, volume[::stride, ::stride, 7 + k])
    finally:
        lazy.close()
        in_memory.close()


def test_ome_zarr_levels_and_geometry_are_read_lazily(tmp_path, volume):
    from ome_zarr.writer import write_multiscale

    root = zarr.open_group(str(tmp_path / "img.ome.zarr"), mode="w")
    levels = [volume.T, volume.T[::2, ::2, ::2]]  # (z, y, x) on disk
    transforms = [
        [
            {"type": "scale", "scale": [2.0 * f, 0.5 * f, 0.5 * f]},
            {"type": "translation", "translation": [10.0, -4.0, 3.0]},
        ]
        for f in (1, 2)
    ]
    axes = [{"name": n, "type": "space", "unit": "micrometer"} for n in "zyx"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # transforms say where the origin is
        write_multiscale(
            levels,
            root,
            axes=axes,
            coordinate_transformations=transforms,
            storage_options={"chunks": (8, 8, 8)},
        )

    image = nj.read_image(tmp_path / "img.ome.zarr")
    assert isinstance(image.array, LazyVolume) and image.shape == SHAPE
    assert image.spacing_mm == pytest.approx((0.0005, 0.0005, 0.002))
    assert image.origin_mm == pytest.approx((0.003, -0.004, 0.010))
    assert np.array_equal(image.array[5:20, 3, :], volume[5:20, 3, :])
    assert image.array.cache.nbytes < volume.nbytes  # read what was asked, not the whole image
    coarse = nj.read_image(tmp_path / "img.ome.zarr", level=1)
    assert coarse.shape == volume[::2, ::2, ::2].shape
    assert coarse.spacing_mm == pytest.approx((0.001, 0.001, 0.004))
    assert np.array_equal(np.asarray(coarse.array), volume[::2, ::2, ::2])
    with pytest.raises(ValueError, match="levels 0..1"):
        nj.read_image(tmp_path / "img.ome.zarr", level=3)


def test_a_zoomed_out_view_of_an_ome_zarr_shows_its_coarser_level(
    tmp_path, make_session, volume, monkeypatch
):
    """The viewer reads the pyramid level a stride allows (told apart here by an offset), and
    neither the prompt nor the masks use it."""
    from ome_zarr.writer import write_multiscale

    from nni_jupyter.widget import segmenter

    root = zarr.open_group(str(tmp_path / "p.ome.zarr"), mode="w")
    coarse = volume[::2, ::2, ::2] + 100  # not what decimating level 0 gives
    axes = [{"name": n, "type": "space", "unit": "millimeter"} for n in "zyx"]
    transforms = [[{"type": "scale", "scale": [f, f, f]}] for f in (1.0, 2.0)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        write_multiscale(
            [volume.T, coarse.T],
            root,
            axes=axes,
            coordinate_transformations=transforms,
            storage_options={"chunks": (8, 8, 8)},
        )
    image = nj.read_image(tmp_path / "p.ome.zarr")
    (level,) = image.array.coarser
    assert level.factors == (2, 2, 2)
    monkeypatch.setattr(segmenter, "DISPLAY_MAX_SIDE", 20)  # 40 x 36 voxels: stride 2
    seg = Segmenter(image, session=make_session())
    try:
        sent: list = []
        seg.send = lambda content, buffers=None: sent.append((content, buffers))
        seg._on_message(seg, {"type": "get_slice", "axis": 2, "index": 7, "request_id": 1}, [])
        ((content, buffers),) = [m for m in sent if m[0]["type"] == "slice"]
        assert content["stride"] == 2
        args = (content["encoding"], content["dtype"], content["shape"])
        assert np.array_equal(decode_slice(buffers[0], *args), coarse[:, :, 3])
        in_memory = Segmenter(volume, session=make_session())
        for each in (seg, in_memory):
            each.add_point((20, 18, 16))
        assert in_memory.labels.any()
        assert np.array_equal(np.asarray(seg.labels), in_memory.labels)  # masks from level 0
        in_memory.close()
    finally:
        seg.close()


def test_labels_go_into_the_images_own_ome_zarr(tmp_path, make_session, volume):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Label, Reader

    from nni_jupyter.exports.zarr_labels import write_ome_zarr

    path = tmp_path / "own.ome.zarr"
    empty = np.zeros(volume.shape, np.uint16)  # replaced by the export below
    write_ome_zarr(nj.Image(volume, (0.5, 0.5, 2.0), (1.0, 2.0, 3.0)), empty, path)
    image = nj.read_image(path)
    seg = Segmenter(image, session=make_session())
    try:
        seg.add_point((20, 18, 16))
        assert seg.labels.any()
        seg.export("ome-zarr", path)
        reread = seg.labels
    finally:
        seg.close()
    nodes = list(Reader(parse_url(str(path)))())
    (label,) = [n for n in nodes if any(isinstance(s, Label) for s in n.specs)]
    assert np.array_equal(np.asarray(label.data[0]).transpose(2, 1, 0), reread)
    scale = label.metadata["coordinateTransformations"][0][0]["scale"]
    assert scale == pytest.approx([2.0, 0.5, 0.5])
    assert np.array_equal(np.asarray(nj.read_image(path).array), volume)  # image untouched


class HeldBackSource:
    """An array whose reads from the session's set-image thread wait until ``release`` is set:
    a slow disk, under the test's control."""

    def __init__(self, array: np.ndarray):
        import threading

        self.array, self.shape, self.dtype = array, array.shape, array.dtype
        self.chunks = (8, 8, 8)
        self.release = threading.Event()

    def __getitem__(self, key):
        import threading

        if threading.current_thread().name == "nni_jupyter-set-image":
            assert self.release.wait(60), "the test never released the reads"
        return self.array[key]


def test_a_lazy_image_opens_before_the_session_has_read_it(make_session, volume):
    source = HeldBackSource(volume)
    seg = Segmenter(LazyVolume(source), session=make_session())  # returns: reads are held back
    try:
        sent: list = []
        seg.send = lambda content, buffers=None: sent.append((content, buffers))
        seg._on_message(seg, {"type": "get_slice", "axis": 2, "index": 5, "request_id": 1}, [])
        assert [c["type"] for c, _ in sent] == ["slice"]  # the view works meanwhile
        pending = seg.add_point((20, 18, 16), wait=False)
        assert not seg.wait(0.3) and not pending.done()  # the prompt waits for the image
        source.release.set()
        assert seg.wait(60)
        reference = Segmenter(volume, session=make_session())
        try:
            reference.add_point((20, 18, 16))
            assert np.array_equal(seg.mask, reference.mask) and seg.mask.any()
        finally:
            reference.close()
    finally:
        source.release.set()
        seg.close()


def test_a_lazy_image_the_model_cannot_take_fails_its_prompts_clearly(make_session):
    seg = Segmenter(LazyVolume(np.zeros(SHAPE, np.int16)[...]), session=make_session())
    try:
        with pytest.raises(RuntimeError, match="could not be prepared.*entirely zero"):
            seg.add_point((20, 18, 16))
    finally:
        seg.close()


def test_lazy_masks_equal_in_memory_masks_through_undo_and_remove_prompt(
    tmp_path, make_session, volume
):
    from nni_jupyter.volumes import SparseVolume

    stored = zarr.create_array(tmp_path / "s.zarr", shape=SHAPE, chunks=(16, 16, 16), dtype="i2")
    stored[...] = volume
    in_memory = Segmenter(volume, session=make_session())
    lazy = Segmenter(zarr.open_array(tmp_path / "s.zarr", mode="r"), session=make_session())
    steps = [
        lambda seg: seg.add_point((20, 18, 16)),
        lambda seg: seg.add_box([(10, 30), (8, 28)], axis=2, index=16),
        lambda seg: seg.undo(),
        lambda seg: seg.redo(),
        lambda seg: seg.add_point((12, 10, 16), positive=False),
        lambda seg: seg.new_object(),
        lambda seg: seg.add_point((30, 26, 10)),
        lambda seg: seg.remove_prompt(0, object=1),
        lambda seg: seg.select_object(1),
        lambda seg: seg.add_point((22, 20, 16)),
        lambda seg: seg.undo(),
        lambda seg: seg.delete_object(2),
        lambda seg: seg.undo(),
    ]
    most = 0  # the most objects with voxels at once
    try:
        for number, step in enumerate(steps):
            for seg in (in_memory, lazy):
                step(seg)
            labels = lazy.labels
            assert isinstance(labels, SparseVolume) and labels.read_only
            assert isinstance(in_memory.labels, np.ndarray)
            assert np.array_equal(np.asarray(labels), in_memory.labels), f"step {number}"
            assert np.array_equal(np.asarray(lazy.mask), in_memory.mask), f"step {number}"
            assert lazy.objects == in_memory.objects, f"step {number}"
            most = max(most, len(np.unique(in_memory.labels)) - 1)
        assert most == 2 and in_memory.labels.any(), "two objects expected: a weak test"
        semantic = lazy.aggregate("semantic")
        assert np.array_equal(np.asarray(semantic), in_memory.aggregate("semantic"))
    finally:
        in_memory.close()
        lazy.close()


def test_save_labels_writes_chunks_into_the_images_ome_zarr_and_plain_zarr(
    tmp_path, make_session, volume, monkeypatch
):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Label, Reader

    from nni_jupyter.exports.zarr_labels import write_ome_zarr
    from nni_jupyter.volumes import SparseVolume

    path = tmp_path / "sample.ome.zarr"
    write_ome_zarr(nj.Image(volume, (0.5, 0.5, 2.0)), np.zeros(volume.shape, np.uint16), path)
    seg = Segmenter(nj.read_image(path), session=make_session())
    try:
        seg.add_point((20, 18, 16))
        seg.new_object("second", class_id=7)
        seg.add_point((30, 26, 10))
        expected = np.asarray(seg.labels)
        assert set(np.unique(expected)) == {0, 1, 2}

        def whole(*args, **kwargs):
            raise AssertionError("the label map was made dense while saving")

        with monkeypatch.context() as guard:  # saving never asks for the whole map
            guard.setattr(SparseVolume, "__array__", whole)
            assert seg.save_labels(path) == path
            plain = seg.save_labels(tmp_path / "plain.zarr")
    finally:
        seg.close()
    nodes = list(Reader(parse_url(str(path)))())
    (label,) = [n for n in nodes if any(isinstance(s, Label) for s in n.specs)]
    assert np.array_equal(np.asarray(label.data[0]).transpose(2, 1, 0), expected)
    second = label.metadata["properties"][2]  # by label value
    assert (second["name"], second["class_id"]) == ("second", 7)
    assert np.array_equal(np.asarray(nj.read_image(path).array), volume)  # image untouched
    array = zarr.open_array(str(plain), mode="r")
    assert array.dtype == np.uint16 and np.array_equal(array[...], expected)


def test_a_lazy_images_save_file_holds_only_its_labelled_chunks(
    tmp_path, make_session, volume, monkeypatch
):
    """Saving (and autosave) never makes a lazy image's labels dense; the file restores on the
    lazy image and on the same image in memory."""
    import zipfile

    stored = zarr.create_array(tmp_path / "s.zarr", shape=SHAPE, chunks=(8, 8, 8), dtype="i2")
    stored[...] = volume
    lazy = Segmenter(zarr.open_array(tmp_path / "s.zarr", mode="r"), session=make_session())
    try:
        lazy.add_point((20, 18, 16))
        lazy.new_object("second")
        lazy.add_box([(10, 30), (8, 28)], axis=2, index=16)
        path = lazy.save(tmp_path / "work.npz")
        labels = np.asarray(lazy.labels)
        objects = lazy.objects
        rows = lazy.measure(as_dataframe=False)  # chunk by chunk
        assert [row["voxels"] for row in rows] == [np.sum(labels == k) for k in (1, 2)]
        # a format that needs the labels dense is refused, with the numbers, where they won't fit
        monkeypatch.setenv("NNI_JUPYTER_MEMORY_BUDGET", "100k")
        with pytest.raises(MemoryError, match=r"dense: about .* GiB, more than .*save_labels"):
            lazy.export("nifti", tmp_path / "labels.nii.gz")
        assert not (tmp_path / "labels.nii.gz").exists()
        monkeypatch.delenv("NNI_JUPYTER_MEMORY_BUDGET")
        assert np.array_equal(np.asarray(lazy.labels), labels)
    finally:
        lazy.close()
    with zipfile.ZipFile(path) as archive:
        names = sorted(archive.namelist())
    assert names == ["meta.npy", "owner_at.npy", "owner_chunks.npy"]  # no dense owner map
    assert len(np.unique(labels)) == 3
    again = Segmenter.load(path, zarr.open_array(tmp_path / "s.zarr", mode="r"), make_session())
    dense = Segmenter.load(path, volume, make_session())
    try:
        for restored in (again, dense):
            assert np.array_equal(np.asarray(restored.labels), labels)
            assert restored.objects == objects
        again.undo()  # the restored undo history is empty: nothing changes
        assert np.array_equal(np.asarray(again.labels), labels)
    finally:
        again.close()
        dense.close()
