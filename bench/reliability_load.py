"""500 prompts in a row: alternating objects, undo and redo; RSS every 50 prompts; replay check.

Run: ``python bench/reliability_load.py [--prompts 500] [--model <folder>]`` (default: the demo
model when bundled, else a tiny random model). The final labels must equal a sequential replay of
the recorded prompts on a fresh Segmenter.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def model_folder(choice: str | None) -> str:
    if choice:
        return choice
    try:
        from nni_jupyter.demo import demo_model_path

        if (Path(demo_model_path()) / "plans.json").is_file():
            return str(demo_model_path())
    except ImportError:
        pass
    from _tiny_model import write_tiny_model

    return str(write_tiny_model(Path(tempfile.mkdtemp()) / "tiny"))


def new_segmenter(image: np.ndarray, folder: str):
    from nni_jupyter.inference import nnInteractiveInferenceSession
    from nni_jupyter.widget import Segmenter

    session = nnInteractiveInferenceSession(
        device="cpu", torch_n_threads=2, enable_undo=False, do_autozoom=False
    )
    session.initialize_from_trained_model_folder(folder)
    return Segmenter(image, session=session)


def run(seg, prompts: int, rng: np.random.Generator) -> list[tuple[int, float]]:
    process, curve = psutil.Process(), []
    shape = seg.shape
    objects = [seg.active_object, seg.new_object()]
    for n in range(1, prompts + 1):
        action = n % 10
        if action == 7:
            seg.undo()
        elif action == 8:
            seg.redo()
        elif action == 9:
            seg.select_object(objects[(n // 10) % 2])
        else:
            point = [int(rng.integers(2, s - 2)) for s in shape]
            seg.add_point(point, positive=bool(rng.random() < 0.8))
        if n % 50 == 0:
            curve.append((n, process.memory_info().rss / (1 << 20)))
            print(f"{n:4d} prompts  RSS {curve[-1][1]:7.1f} MiB", flush=True)
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prompts", type=int, default=500)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    from nni_jupyter.data import phantom

    folder = model_folder(args.model)
    image = phantom((96, 96, 64), seed=1)[0]
    seg = new_segmenter(image, folder)
    start = time.perf_counter()
    curve = run(seg, args.prompts, np.random.default_rng(0))
    print(f"{args.prompts} prompts in {time.perf_counter() - start:.1f} s; model {folder}")
    growth = curve[-1][1] - curve[0][1]
    print(f"RSS growth from prompt {curve[0][0]} to {curve[-1][0]}: {growth:+.1f} MiB")
    fresh = new_segmenter(image, folder)
    fresh.replay(seg.prompts)
    same = np.array_equal(fresh.labels, seg.labels) and fresh.objects == seg.objects
    print(f"final labels equal a sequential replay: {same}")
    seg.close()
    fresh.close()
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
