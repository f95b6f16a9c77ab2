"""Replay a phantom cohort: a plain in-process loop against Study.replay on Dask (1 and 2 workers).

Run from the repository root: ``python bench/cohort.py [--cases 6] [--threads 2]`` (with the
package and the [cluster] extra installed, or ``PYTHONPATH=.``). Builds a study of N phantom cases,
3 objects each prompted by a point at its interior centre and a second click, then replays it:

- loop: one process, the model loaded once, ``replay_case`` per case, ``--threads`` torch threads;
- Dask, 1 worker x 1 task slot, ``--threads`` torch threads: the same work, so the difference is
  Dask's overhead (task shipping, worker plugin, results);
- Dask, 2 workers x 1 thread each: two cases at a time, one torch thread each.

Cluster start-up (worker processes) is timed apart from the replay; the replay includes one model
load per process, in the loop as on each worker. Ends
with an estimate, with its arithmetic, for 1,000 cases on 8 GPUs.
"""

from __future__ import annotations

import argparse
import gc
import math
import shutil
import tempfile
import time
from pathlib import Path

from distributed import Client, LocalCluster

import nni_jupyter as nj
from nni_jupyter.cluster import ModelPlugin
from nni_jupyter.data.phantom import LABEL_VALUES
from nni_jupyter.evaluation import interior_centre
from nni_jupyter.study.replay import model_identity, replay_case

OBJECTS = ("liver", "spleen", "kidney_left")


def build_study(folder: Path, cases: int, shape: tuple[int, int, int], threads: int) -> nj.Study:
    """N phantom cases with 3 prompted objects each, saved into a study."""
    study = nj.Study(folder / "study")
    session = nj.load_session("demo", "cpu", show_license=None, torch_n_threads=threads)
    for k in range(cases):
        image, labels = nj.data.phantom(shape, seed=k + 1)
        case_id = f"case_{k:03d}"
        study.add_case(case_id, nj.write_image(image, folder / f"{case_id}.nii.gz"))
        seg = study.open(case_id, session=session, autosave=False)
        for n, name in enumerate(OBJECTS):
            truth = labels == LABEL_VALUES[name]
            if n:
                seg.new_object(name)
            centre = interior_centre(truth)
            seg.add_point(centre)
            seg.add_point(tuple(min(c + 2, s - 1) for c, s in zip(centre, shape, strict=True)))
        study.save(case_id, seg)
        seg.close()
    return study


def loop(study: nj.Study, threads: int) -> tuple[float, float]:
    """(0, replay seconds incl. one model load) in this process, as a Dask worker does it."""
    folder, sha = model_identity("demo")
    gc.collect()  # the network the study was built with goes: this run loads its own
    start = time.perf_counter()
    plugin = ModelPlugin(str(folder), "cpu")
    plugin.load(threads)
    for case_id in study.cases():
        rows = replay_case(str(study.folder), case_id, sha, plugin)
        assert all(row["status"] == "ok" for row in rows), rows
    return 0.0, time.perf_counter() - start


def on_dask(study: nj.Study, workers: int, torch_threads: int) -> tuple[float, float]:
    """(cluster start seconds, replay seconds incl. the model load per worker) on a new
    LocalCluster of ``workers`` single-slot workers."""
    start = time.perf_counter()
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        Client(cluster) as client,
    ):
        started = time.perf_counter()
        rows = study.replay("demo", client, "cpu", progress=False, torch_threads=torch_threads)
        done = time.perf_counter()
    assert (rows["status"] == "ok").all(), rows
    return started - start, done - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=6, help="phantom cases (N)")
    parser.add_argument("--size", type=int, default=64, help="phantom edge, voxels (>= 32)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the loop")
    parser.add_argument(
        "--gpu-seconds-per-prompt",
        type=float,
        default=0.3,
        help="assumed seconds per prompt of nnInteractive v1.0 on one GPU, for the estimate",
    )
    args = parser.parse_args()
    shape = (args.size, args.size, args.size)
    scratch = Path(tempfile.mkdtemp(prefix="nni_cohort_"))
    try:
        t0 = time.perf_counter()
        study = build_study(scratch, args.cases, shape, args.threads)
        prompts = int(study.status()["prompts"].sum())
        print(
            f"study: {args.cases} cases of {shape}, {len(OBJECTS)} objects and "
            f"{prompts // args.cases} prompts each, built in {time.perf_counter() - t0:.1f} s"
        )
        replays = study.folder / "replays"
        results = {}
        runs = [
            ("loop (1 process)", lambda: loop(study, args.threads)),
            ("dask 1 worker", lambda: on_dask(study, 1, args.threads)),
            ("dask 2 workers", lambda: on_dask(study, 2, 1)),
        ]
        print(f"{'run':<18} | {'start s':>7} | {'replay s':>8} | {'cases/min':>9} | vs loop")
        for name, run in runs:
            shutil.rmtree(replays, ignore_errors=True)  # no skipping: every run replays all
            start_s, replay_s = run()
            results[name] = replay_s
            ratio = replay_s / results["loop (1 process)"] - 1
            print(
                f"{name:<18} | {start_s:7.1f} | {replay_s:8.1f} | "
                f"{60 * args.cases / replay_s:9.1f} | {ratio:+.0%}"
            )
        overhead = results["dask 1 worker"] / results["loop (1 process)"] - 1
        print(
            f"Dask overhead, same work and threads (1 worker vs loop): {overhead:+.1%} "
            f"(goal <= 10%); per case {overhead * results['loop (1 process)'] / args.cases:+.2f} s"
        )
        estimate(args, prompts / args.cases, results, overhead)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def estimate(
    args: argparse.Namespace, prompts_per_case: float, results: dict[str, float], overhead: float
) -> None:
    """Print the 1,000-cases-on-8-GPUs estimate and its arithmetic."""
    per_case_here = results["loop (1 process)"] / args.cases
    task_overhead = max(overhead, 0.0) * per_case_here
    gpu_case = prompts_per_case * args.gpu_seconds_per_prompt + task_overhead
    waves = math.ceil(1000 / 8)
    total = waves * gpu_case
    print(
        "Estimate, 1,000 cases on 8 GPUs (dask-cuda: one worker per GPU, one case at a time):\n"
        f"  per case = {prompts_per_case:.0f} prompts x {args.gpu_seconds_per_prompt} s/prompt "
        f"(assumed, --gpu-seconds-per-prompt) + {task_overhead:.2f} s Dask overhead "
        f"(measured here) = {gpu_case:.2f} s\n"
        f"  ceil(1000 / 8) = {waves} cases per GPU -> {waves} x {gpu_case:.2f} s = "
        f"{total:.0f} s = {total / 60:.1f} min, plus one model load per worker; "
        "image reading and label writing grow with real volume sizes and come on top"
    )


if __name__ == "__main__":
    main()
