"""Time ``nni_jupyter.data.phantom`` for a few shapes.

Run from the repository root: ``python bench/phantom_speed.py [--repeats 5]`` (with the package
installed, e.g. ``pip install -e .``, or ``PYTHONPATH=.``).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from nni_jupyter.data import phantom

SHAPES = [(64, 64, 64), (128, 128, 128), (192, 192, 160)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="seeds timed per shape")
    args = parser.parse_args()
    phantom(shape=(32, 32, 32), seed=0)  # warm caches and imports
    print(f"{'shape':>16} | {'median s':>8} | {'min s':>6} | {'max s':>6}")
    for shape in SHAPES:
        times = []
        for seed in range(args.repeats):
            start = time.perf_counter()
            phantom(shape=shape, seed=seed)
            times.append(time.perf_counter() - start)
        print(f"{str(shape):>16} | {np.median(times):8.3f} | {min(times):6.3f} | {max(times):6.3f}")


if __name__ == "__main__":
    main()
