"""No waiting before the first click: from ``Segmenter(...)`` to the first slice and the first mask.

A 512×512×300 int16 CT phantom through the Segmenter, as a notebook cell runs it, in a fresh
process (the model is loaded cold, as in a user's first cell):

- importing the widget (and with it torch: once per kernel, before the timer starts);
- ``Segmenter(...)`` returning (the widget can show once it has);
- the first slice answered, as the browser asks for it (``get_slice``);
- the first mask (a point on the liver): what the user waits for after the first click, which
  includes whatever of the image preparation is still running;
- a steady mask (the median of the same point three more times, each a new object), so first /
  steady shows what the first click still pays.

Run: ``python bench/first_mask.py [--model FOLDER] [--precision auto] [--think 0]`` (default: the
demo model; ``--think`` waits between the first slice and the first click).
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="model folder (default: the demo model)")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--shape", type=int, nargs=3, default=[512, 512, 300])
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="seconds between the first slice and the first click (0: at once, the worst case)",
    )
    args = parser.parse_args()

    import nni_jupyter as nj
    from nni_jupyter.data import LABEL_VALUES

    image, labels = nj.data.phantom(tuple(args.shape), seed=5)
    liver = np.argwhere(labels == LABEL_VALUES["liver"])
    first_point = tuple(int(v) for v in liver[len(liver) // 2])
    print(f"image {image.shape} {image.dtype}, {image.nbytes / 2**20:.0f} MiB")

    start = time.perf_counter()
    from nni_jupyter.widget import Segmenter  # imports torch: once per kernel

    imported = time.perf_counter() - start
    start = time.perf_counter()
    seg = Segmenter(image, model=args.model, precision=args.precision)
    opened = time.perf_counter() - start
    sent: list = []
    seg.send = lambda content, buffers=None: sent.append(content)
    request = {"type": "get_slice", "axis": 2, "index": image.shape[2] // 2, "request_id": 0}
    seg._on_message(seg, request, [])
    if sent[-1]["type"] != "slice":
        raise RuntimeError(f"the first slice request was answered with {sent[-1]}")
    first_slice = time.perf_counter() - start
    time.sleep(args.think)
    clicked = time.perf_counter()
    seg.add_point(first_point)
    first_mask = time.perf_counter() - start
    first_click = time.perf_counter() - clicked
    steadies = []
    for point in (first_point, first_point, first_point):  # the same work as the first click
        seg.new_object()
        clicked = time.perf_counter()
        seg.add_point(point)
        steadies.append(time.perf_counter() - clicked)
    steady = sorted(steadies)[1]
    rows = [
        ("import of the widget and torch (once per kernel)", f"{imported:.2f} s"),
        ("Segmenter(...) returned", f"{opened:.2f} s"),
        ("to the first slice", f"{first_slice:.2f} s"),
        (f"to the first mask (click {args.think:g} s after the slice)", f"{first_mask:.2f} s"),
        ("first click to mask", f"{first_click:.2f} s"),
        ("steady click to mask (median of 3)", f"{steady:.2f} s"),
        ("first / steady", f"{first_click / steady:.2f}"),
    ]
    print(f"model: {seg.model_info.get('name')}, precision {seg.model_info.get('precision')}")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    seg.close()


if __name__ == "__main__":
    main()
