"""A volume bigger than it should be in memory: a uint8 Zarr (chunked 128³) through the Segmenter.

Makes the Zarr once (synthetic: bright and dark blobs over a smooth background, stored
``(z, y, x)`` as OME-Zarr does), then measures in one process:

- time to the first slice from the volume alone (what a viewer waits for) and from
  ``Segmenter(...)`` (which also streams the image statistics once);
- the scroll rate through ``z`` slices, as the widget requests them, at the displayed resolution
  (planes wider than 1024 voxels go every 2nd, 3rd, ... voxel);
- the statistics the session streams once on a thread (prompts wait for them);
- one point prompt: wall time, the labels held (sparse: only the chunks the object touches),
  ``save_labels`` into a plain Zarr (chunk by chunk), and the process's peak RSS;
- the reference session's memory for the same volume: its estimate (float32 image, 7 float16
  interaction channels and a uint8 target: 19 B/voxel), as it cannot hold the default volume here.

Run: ``python bench/big_volume.py [--shape 2048 2048 1024] [--folder /tmp/nni_big]``
(the default shape is the issue's 4 GiB volume; ``--shape 1024 1024 512`` is 0.5 GiB).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np

CHUNK = 128


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 << 20)


def make_volume(path: Path, shape: tuple[int, int, int]) -> None:
    """Write the synthetic ``[X, Y, Z]`` volume as a ``(z, y, x)`` uint8 Zarr, chunk by chunk."""
    import zarr

    x, y, z = shape
    stored = zarr.create_array(
        path, shape=(z, y, x), chunks=(CHUNK,) * 3, dtype="u1", overwrite=True
    )
    rng = np.random.default_rng(0)
    centres = rng.uniform(0, 1, (64, 3)) * np.array([z, y, x])
    radii = rng.uniform(20, 90, 64)
    levels = rng.choice([40, 220], 64)
    for k0 in range(0, z, CHUNK):
        for j0 in range(0, y, CHUNK):
            for i0 in range(0, x, CHUNK):
                zz, yy, xx = np.ogrid[
                    k0 : min(k0 + CHUNK, z), j0 : min(j0 + CHUNK, y), i0 : min(i0 + CHUNK, x)
                ]
                block = 120 + 30 * np.sin(xx / 97.0) * np.cos(yy / 131.0) + 0 * zz
                for centre, radius, level in zip(centres, radii, levels, strict=True):
                    if np.any(np.abs(centre - (k0 + 64, j0 + 64, i0 + 64)) > radius + CHUNK):
                        continue
                    inside = (
                        (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2
                    ) < radius**2
                    block = np.where(inside, level, block)
                stored[
                    zz.ravel()[0] : zz.ravel()[-1] + 1,
                    j0 : j0 + block.shape[1],
                    i0 : i0 + block.shape[2],
                ] = block.astype(np.uint8)
    (path / "complete").write_text("yes", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", type=int, nargs=3, default=[2048, 2048, 1024])
    parser.add_argument("--folder", default="/tmp/nni_big", help="where the Zarr is kept")
    parser.add_argument("--model", default=None, help="model folder (default: the demo model)")
    parser.add_argument("--slices", type=int, default=60, help="slices to scroll through")
    args = parser.parse_args()
    import zarr

    from nni_jupyter.annotation import memory
    from nni_jupyter.inference import nnInteractiveInferenceSession
    from nni_jupyter.volumes import LazyVolume
    from nni_jupyter.widget import Segmenter

    shape = tuple(args.shape)
    path = Path(args.folder) / ("x".join(map(str, shape)) + ".zarr")
    if not (path / "complete").is_file():
        start = time.perf_counter()
        make_volume(path, shape)  # type: ignore[arg-type]
        print(f"made {path} in {time.perf_counter() - start:.0f} s")
    voxels = int(np.prod(shape))
    rows: list[tuple[str, str, str]] = []
    print(f"volume {shape} uint8: {voxels / 2**30:.2f} GiB in memory; peak RSS {rss_gib():.2f} GiB")

    start = time.perf_counter()
    volume = LazyVolume(zarr.open_array(path, mode="r"), order=(2, 1, 0))
    volume[:, :, shape[2] // 2]
    rows.append(("first slice, volume alone", f"{time.perf_counter() - start:.2f} s", "<= 2 s"))

    from nni_jupyter.demo import demo_model_path

    model = args.model or demo_model_path()
    session = nnInteractiveInferenceSession(
        device="cpu", enable_undo=False, do_autozoom=True, torch_n_threads=os.cpu_count() or 1
    )
    session.initialize_from_trained_model_folder(str(model))
    start = time.perf_counter()
    volume = LazyVolume(zarr.open_array(path, mode="r"), order=(2, 1, 0))
    seg = Segmenter(volume, session=session)
    sent: list = []
    seg.send = lambda content, buffers=None: sent.append(content)
    request = {"type": "get_slice", "axis": 2, "index": shape[2] // 2, "request_id": 0}
    seg._on_message(seg, request, [])
    assert sent[-1]["type"] == "slice", sent[-1]
    first = time.perf_counter() - start
    rows.append(("Segmenter(...) to first slice", f"{first:.2f} s", "<= 2 s"))

    start = time.perf_counter()
    low = shape[2] // 4
    for index in range(low, low + args.slices):
        request = {"type": "get_slice", "axis": 2, "index": index, "request_id": index}
        seg._on_message(seg, request, [])
    assert [m["type"] for m in sent[-args.slices :]] == ["slice"] * args.slices
    rate = args.slices / (time.perf_counter() - start)
    stride = sent[-1].get("stride", 1)
    label = f"scroll, {shape[0]}x{shape[1]} z slices, sent every {stride} voxels"
    rows.append((label, f"{rate:.1f} /s", ">= 20 /s"))

    # zoomed in 4x at the centre: the browser asks for the visible region at full resolution
    centre = [shape[0] // 2, shape[1] // 2]
    region = [[c - 256, c + 256] for c in centre]
    start = time.perf_counter()
    for index in range(low, low + 10):
        request = {"type": "get_slice", "axis": 2, "index": index, "request_id": index,
                   "stride": 1, "region": region}  # fmt: skip
        seg._on_message(seg, request, [])
    assert sent[-1]["type"] == "slice" and sent[-1]["stride"] == 1, sent[-1]
    refine = (time.perf_counter() - start) / 10
    rows.append(("zoomed in: 512x512 region at full resolution", f"{refine * 1000:.0f} ms", "-"))

    seg.annotation.runner.wait_for_image()  # the statistics stream on a thread from Segmenter(...)
    streamed = time.perf_counter() - start + first
    rows.append(("statistics streamed (background)", f"~{streamed:.0f} s", "-"))
    rows.append(("peak RSS before the prompt", f"{rss_gib():.2f} GiB", "<= 2 GiB"))

    start = time.perf_counter()
    seg.add_point([s // 2 for s in shape])
    seconds = time.perf_counter() - start
    labels = seg.labels
    found = labels.counts().get(1, 0) if hasattr(labels, "counts") else int((labels == 1).sum())
    rows.append(("point prompt", f"{seconds:.1f} s, {found} voxels", "-"))
    owner = seg.annotation.runner.store.owner
    stored = getattr(owner, "stored_nbytes", owner.nbytes) + getattr(
        seg.annotation.runner.buffer, "stored_nbytes", seg.annotation.runner.buffer.nbytes
    )
    rows.append(("labels held (owner map + target)", f"{stored / 2**20:.1f} MiB", "-"))
    start = time.perf_counter()
    seg.save_labels(Path(args.folder) / "labels.zarr")
    rows.append(("save_labels (plain Zarr)", f"{time.perf_counter() - start:.2f} s", "-"))
    start = time.perf_counter()
    saved = seg.save(Path(args.folder) / "work.npz")  # only the labelled chunks
    size = saved.stat().st_size / 2**20
    rows.append(("save (.npz)", f"{time.perf_counter() - start:.2f} s, {size:.2f} MiB", "-"))
    peak = rss_gib()
    rows.append(("peak RSS", f"{peak:.2f} GiB = {peak * 2**30 / voxels:.2f} x volume", "<= 2 GiB"))
    seg.close()
    ours = memory.estimate_bytes(shape, np.uint8, session.network, volume.cache.max_bytes)
    reference = voxels * memory.REFERENCE_BYTES_PER_VOXEL
    rows.append(("memory estimate, ours", f"{ours / 2**30:.1f} GiB", "-"))
    rows.append(
        (
            f"memory estimate, reference ({memory.REFERENCE_BYTES_PER_VOXEL} B/voxel)",
            f"{reference / 2**30:.1f} GiB (x{reference / ours:.0f})",
            "-",
        )
    )
    width = max(len(name) for name, _, _ in rows)
    print(f"{'figure':<{width}}  {'value':<30}  goal")
    for name, value, goal in rows:
        print(f"{name:<{width}}  {value:<30}  {goal}")


if __name__ == "__main__":
    main()
