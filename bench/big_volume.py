"""A volume bigger than it should be in memory: a uint8 Zarr (chunked 128³) through the Segmenter.

Makes the Zarr once (synthetic: bright and dark blobs over a smooth background, stored
``(z, y, x)`` as OME-Zarr does), then measures in one process:

- time to the first slice from the volume alone (what a viewer waits for) and from
  ``Segmenter(...)`` (which also streams the image statistics once);
- the scroll rate through full-resolution ``z`` slices, as the widget requests them;
- one point prompt: wall time, and the process's peak RSS against the volume's size;
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

    from nni_jupyter.inference import nnInteractiveInferenceSession
    from nni_jupyter.volumes import LazyVolume
    from nni_jupyter.widget import Segmenter, memory

    shape = tuple(args.shape)
    path = Path(args.folder) / ("x".join(map(str, shape)) + ".zarr")
    if not (path / "complete").is_file():
        start = time.perf_counter()
        make_volume(path, shape)  # type: ignore[arg-type]
        print(f"made {path} in {time.perf_counter() - start:.0f} s")
    voxels = int(np.prod(shape))
    print(f"volume {shape} uint8: {voxels / 2**30:.2f} GiB in memory; peak RSS {rss_gib():.2f} GiB")

    start = time.perf_counter()
    volume = LazyVolume(zarr.open_array(path, mode="r"), order=(2, 1, 0))
    volume[:, :, shape[2] // 2]
    print(f"first slice from the volume: {time.perf_counter() - start:.2f} s")

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
    print(
        f"Segmenter(...) to first slice: {time.perf_counter() - start:.2f} s "
        f"(the session streams the statistics meanwhile); peak RSS {rss_gib():.2f} GiB"
    )

    start = time.perf_counter()
    first = shape[2] // 4
    for index in range(first, first + args.slices):
        request = {"type": "get_slice", "axis": 2, "index": index, "request_id": index}
        seg._on_message(seg, request, [])
    assert [m["type"] for m in sent[-args.slices :]] == ["slice"] * args.slices
    rate = args.slices / (time.perf_counter() - start)
    print(f"scroll: {rate:.1f} slices/s ({shape[0]}x{shape[1]} each, full resolution)")

    start = time.perf_counter()
    seg.add_point([s // 2 for s in shape])
    seconds = time.perf_counter() - start
    print(
        f"point prompt: {seconds:.1f} s, {int(seg.mask.sum())} voxels; peak RSS "
        f"{rss_gib():.2f} GiB = {rss_gib() * 2**30 / voxels:.2f} x the volume"
    )
    seg.close()
    ours = memory.estimate_bytes(shape, np.uint8, session.network, volume.cache.max_bytes)
    reference = voxels * memory.REFERENCE_BYTES_PER_VOXEL
    print(
        f"memory estimate: ours {ours / 2**30:.1f} GiB, the reference's "
        f"{reference / 2**30:.1f} GiB ({memory.REFERENCE_BYTES_PER_VOXEL} B/voxel): "
        f"ratio {ours / reference:.2f}"
    )


if __name__ == "__main__":
    main()
