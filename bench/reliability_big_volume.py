"""A 512x512x1000 int16 volume through Segmenter construction (set_image) and one point prompt.

Prints the estimate, wall times and the peak RSS (ru_maxrss) of this process.
Run: ``python bench/reliability_big_volume.py [--shape 512 512 1000] [--model demo|<folder>]``
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1 << 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shape", type=int, nargs=3, default=[512, 512, 1000])
    parser.add_argument("--model", default=None, help="model folder (default: a tiny model)")
    args = parser.parse_args()
    from nni_jupyter.annotation import memory
    from nni_jupyter.inference import nnInteractiveInferenceSession
    from nni_jupyter.widget import Segmenter

    model = args.model
    if model is None:
        from _tiny_model import write_tiny_model

        model = write_tiny_model(Path(tempfile.mkdtemp()) / "tiny")
    shape = tuple(args.shape)
    rng = np.random.default_rng(0)
    image = rng.integers(-1000, 1500, size=shape, dtype=np.int16)
    print(f"image {shape} int16: {image.nbytes / (1 << 30):.2f} GiB; peak RSS {rss_gib():.2f} GiB")
    session = nnInteractiveInferenceSession(device="cpu", enable_undo=False, do_autozoom=False)
    session.initialize_from_trained_model_folder(str(model))
    estimate = memory.estimate_bytes(shape, np.int16, session.network)
    print(f"estimate {estimate / (1 << 30):.2f} GiB ({memory.bytes_per_voxel(np.int16)} B/voxel)")
    start = time.perf_counter()
    seg = Segmenter(image, session=session)
    print(
        f"Segmenter (set_image) {time.perf_counter() - start:.1f} s; peak RSS {rss_gib():.2f} GiB"
    )
    start = time.perf_counter()
    seg.add_point([s // 2 for s in shape])
    print(
        f"point prompt {time.perf_counter() - start:.1f} s, {int(seg.mask.sum())} voxels; "
        f"peak RSS {rss_gib():.2f} GiB"
    )
    seg.close()


if __name__ == "__main__":
    main()
