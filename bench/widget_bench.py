"""Browser benchmarks of the Segmenter widget in JupyterLab + headless Debian Chromium.

Figures (issue 4), with the demo model on this machine:
- click-to-overlay latency (median) on a 128³ phantom, and the share of it that is not model
  compute (the kernel reports ``compute_s`` in each ``done`` message);
- bytes sent per mask update, against the raw uint8 bbox;
- time from display to first slice, and slice scroll rate after it, on a 512×512×300 volume:
  each step waits until its slice is on screen; ``scroll_per_s`` with Chromium's 60 Hz frame limit
  off (the widget's own rate), ``*_vsync`` with it on (at most 60), ``scroll_cached_*`` back over
  slices already in the browser's cache;
- hand edits on the 512×512×300 volume (issue 27): the time from the end of a 50-point brush
  stroke (pointer up) to the kernel's confirmed mask (``done``, and drawn), median over
  ``--strokes`` strokes, and the bytes the browser sends per stroke (the prompt message's JSON).

Run from the repository root with the package installed and the bundle built
(``npm run build``):
``python bench/widget_bench.py [--clicks 8] [--scroll 150] [--strokes 8] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))

import lab  # noqa: E402

# Chromium flags for the unthrottled scroll figure: frames are not held to the display's 60 Hz.
UNTHROTTLED = ["--disable-frame-rate-limit", "--disable-gpu-vsync"]

SETUP = """\
import json
import numpy as np
from nni_jupyter import Segmenter
from nni_jupyter.data import LABEL_VALUES, ORGAN_LABELS, phantom
from IPython.display import display


def show(widget):
    # the widget's own bundle: widget/snapshot.py's headless fallback may swap the output for a
    # picture after the cell when the page has not drawn the view yet (a loaded machine)
    bundle = widget._repr_mimebundle_()
    data, metadata = bundle if isinstance(bundle, tuple) else (bundle, {})
    display(data, raw=True, metadata=metadata)



image, truth = phantom(seed=21)
seg = Segmenter(image, model="demo")
show(seg)"""

BIG = """\
small, _ = phantom(shape=(128, 128, 75), seed=22)
big = np.repeat(np.repeat(np.repeat(small, 4, axis=0), 4, axis=1), 4, axis=2)  # 512 x 512 x 300
seg_big = Segmenter(big, model="demo", spacing=(0.8, 0.8, 1.0))
show(seg_big)"""

TARGETS = """\
def _bench_targets(count):
    from scipy import ndimage
    found = []
    for label in ORGAN_LABELS:
        organ = truth == label
        if organ.sum() < 200:
            continue
        z = int(organ.sum(axis=(0, 1)).argmax())
        depth = ndimage.distance_transform_edt(organ[:, :, z])
        x, y = np.unravel_index(int(depth.argmax()), depth.shape)
        found.append({"label": int(label), "z": z, "x": int(x), "y": int(y)})
    return found[:count]
"""

WIDGET = "document.querySelectorAll('.nni-root')[{k}]"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def click_latency(page, clicks: int) -> dict:
    """Click organ centres (each a new object) and time click -> overlay drawn."""
    lab.execute_in_kernel(page, TARGETS)
    targets = json.loads(
        lab.execute_in_kernel(page, f"print(json.dumps(_bench_targets({clicks})))")
    )
    root = WIDGET.format(k=0)
    rows = []
    for number, target in enumerate(targets):
        if number:
            count = page.locator(".nni-root >> nth=0").locator("[data-testid=nni-object]").count()
            page.locator("[data-testid=nni-new-object] >> nth=0").click()
            page.wait_for_function(
                f"() => {root}.querySelectorAll('[data-testid=nni-object]').length > {count}"
            )
        z = target["z"]
        lab.execute_in_kernel(page, f"seg.slice_index = [*seg.slice_index[:2], {z}]")
        page.wait_for_function(
            f"() => {root}.querySelector('[data-testid=nni-view]').dataset.shownIndex === '{z}'"
        )
        done = page.evaluate(f"() => {root}.nni.stats.prompts.length")
        x, y = page.evaluate(
            f"([p, q]) => {root}.nni.toClient(0, p, q)", [target["x"], target["y"]]
        )
        page.mouse.click(x, y)
        page.wait_for_function(
            f"() => {{ const p = {root}.nni.stats.prompts[{done}];"
            " return p && (p.drawn_ms || p.error); }",
            timeout=180_000,
        )
        stats = page.evaluate(f"() => {root}.nni.stats.prompts[{done}]")
        if stats.get("error"):
            raise RuntimeError(f"prompt failed: {stats['error']}")
        rows.append(stats)
    latency = [(row["drawn_ms"] - row["sent_ms"]) / 1000 for row in rows]
    compute = [row.get("compute_s") for row in rows]
    if any(value is None for value in compute):
        raise RuntimeError("the kernel's done messages carry no compute_s")
    overhead = [(total - model) / total for total, model in zip(latency, compute, strict=True)]
    ratio = [row["patch_bytes"] / row["patch_voxels"] for row in rows if row["patch_voxels"]]
    return {
        "clicks": len(rows),
        "latency_median_s": median(latency),
        "compute_median_s": median(compute),
        "non_compute_share_median": median(overhead),
        "non_compute_median_s": median([t - c for t, c in zip(latency, compute, strict=True)]),
        "patch_bytes_median": median([row["patch_bytes"] for row in rows]),
        "bbox_voxels_median": median([row["patch_voxels"] for row in rows]),
        "bytes_vs_raw_bbox_median": median(ratio),
        "bytes_vs_raw_bbox_max": max(ratio) if ratio else float("nan"),
        "bytes_vs_raw_bbox_total": sum(row["patch_bytes"] for row in rows)
        / max(1, sum(row["patch_voxels"] for row in rows)),
    }


SCROLL_JS = """async ([k, steps, direction]) => {
  const root = document.querySelectorAll('.nni-root')[k];
  const view = root.querySelector('[data-testid=nni-view]');
  root.focus();
  const shown = (index) => new Promise((resolve) => {
    if (view.dataset.shownIndex === String(index)) return resolve();
    const observer = new MutationObserver(() => {
      if (view.dataset.shownIndex === String(index)) { observer.disconnect(); resolve(); }
    });
    observer.observe(view, { attributes: true, attributeFilter: ['data-shown-index'] });
  });
  let index = Number(view.dataset.index);
  const start = performance.now();
  for (let s = 0; s < steps; s++) {
    index += direction;
    const key = direction > 0 ? 'ArrowUp' : 'ArrowDown';
    root.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }));
    await shown(index);
  }
  return (performance.now() - start) / 1000;
}"""


def big_volume(page, steps: int) -> dict:
    """Display the 512×512×300 volume: time to first slice, then scroll ``steps`` slices."""
    lab.run_cell(page, 1)
    page.wait_for_function(
        "() => { const r = document.querySelectorAll('.nni-root')[1];"
        " return r && r.nni.stats.first_slice_ms !== undefined; }",
        timeout=300_000,
    )
    first = page.evaluate(
        "() => document.querySelectorAll('.nni-root')[1].nni.stats.first_slice_ms"
    )
    lab.kernel_idle(page)
    page.wait_for_timeout(500)
    lab.execute_in_kernel(page, "seg_big.slice_index = [*seg_big.slice_index[:2], 0]")
    page.wait_for_function(
        "() => document.querySelectorAll('.nni-root')[1]"
        ".querySelector('[data-testid=nni-view]').dataset.shownIndex === '0'"
    )
    seconds = page.evaluate(SCROLL_JS, [1, steps, 1])
    # back over the same slices: from the browser's cache, no kernel round trip
    cached = page.evaluate(SCROLL_JS, [1, steps, -1])
    return {
        "first_slice_s": first / 1000,
        "scroll_steps": steps,
        "scroll_per_s": steps / seconds,
        "scroll_cached_per_s": steps / cached,
    }


def stroke_latency(page, strokes: int) -> dict:
    """On the big volume (shown): 50-point brush strokes, each timed pointer up -> confirmed."""
    root = WIDGET.format(k=1)
    lab.execute_in_kernel(
        page,
        "seg_big.tool = 'paint'\nseg_big.brush_radius = 6.0\n"
        "seg_big.slice_index = [*seg_big.slice_index[:2], 150]",
    )
    page.wait_for_function(
        f"() => {root}.querySelector('[data-testid=nni-view]').dataset.shownIndex === '150'"
    )
    page.locator(".nni-root >> nth=1").scroll_into_view_if_needed()
    rows = []
    for number in range(strokes):
        done = page.evaluate(f"() => {root}.nni.stats.prompts.length")
        q = 100 + 30 * number
        path = [(60 + 8 * k, q + 10 * ((k % 8) / 8)) for k in range(50)]
        points = [page.evaluate(f"([p, q]) => {root}.nni.toClient(0, p, q)", list(v)) for v in path]
        page.mouse.move(*points[0])
        page.mouse.down()
        for point in points[1:]:
            page.mouse.move(*point)
        page.mouse.up()
        page.wait_for_function(
            f"() => {{ const p = {root}.nni.stats.prompts[{done}];"
            " return p && (p.drawn_ms || p.error); }",
            timeout=120_000,
        )
        stats = page.evaluate(f"() => {root}.nni.stats.prompts[{done}]")
        if "error" in stats:
            raise RuntimeError(f"the kernel refused a stroke: {stats['error']}")
        rows.append(stats)
    lab.execute_in_kernel(page, "seg_big.tool = 'point'")
    return {
        "strokes": len(rows),
        "stroke_to_done_ms_median": median([r["done_ms"] - r["sent_ms"] for r in rows]),
        "stroke_to_drawn_ms_median": median([r["drawn_ms"] - r["sent_ms"] for r in rows]),
        "stroke_kernel_ms_median": median([1000 * r["compute_s"] for r in rows]),
        "stroke_sent_bytes_median": median([float(r["sent_bytes"]) for r in rows]),
        "stroke_patch_bytes_median": median([float(r["patch_bytes"]) for r in rows]),
    }


def run(args: argparse.Namespace, extra_args: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        lab.write_notebook(workdir / "bench.ipynb", [SETUP, BIG])
        with (
            lab.jupyter_server(workdir, workdir / "jupyter.log") as base,
            lab.chromium(extra_args=extra_args) as page,
        ):
            lab.open_notebook(page, base, "bench.ipynb")
            lab.run_cell(page, 0)
            page.wait_for_function(
                "() => { const r = document.querySelector('.nni-root');"
                " return r && r.nni.stats.first_slice_ms !== undefined; }",
                timeout=300_000,
            )
            lab.kernel_idle(page)
            result = {}
            if args.clicks:
                result.update(click_latency(page, args.clicks))
            if args.scroll or args.strokes:
                result.update(big_volume(page, max(args.scroll, 1)))
            if args.strokes:
                result.update(stroke_latency(page, args.strokes))
            return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=8, help="organ clicks timed (0: skip)")
    parser.add_argument("--scroll", type=int, default=150, help="slices scrolled (0: skip)")
    parser.add_argument("--strokes", type=int, default=8, help="brush strokes timed (0: skip)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    missing = lab.missing_requirement()
    if missing:
        sys.exit(f"cannot run: {missing}")
    started = time.perf_counter()
    result = run(args, [])
    if args.scroll:
        # With frames held to 60 Hz a step can never take less than one frame; the scroll rate
        # that measures the widget is the one with that limit off.
        vsync = {f"{key}_vsync": result.pop(key) for key in ("scroll_per_s", "scroll_cached_per_s")}
        unthrottled = run(argparse.Namespace(clicks=0, scroll=args.scroll, strokes=0), UNTHROTTLED)
        result["scroll_per_s"] = unthrottled["scroll_per_s"]
        result["scroll_cached_per_s"] = unthrottled["scroll_cached_per_s"]
        result.update(vsync)
    result["wall_s"] = time.perf_counter() - started
    goals = {
        "non_compute_share_median": ("<=", 0.15),
        "bytes_vs_raw_bbox_median": ("<=", 0.05),
        "scroll_per_s": (">=", 60),
        "first_slice_s": ("<=", 1.0),
        "stroke_to_done_ms_median": ("<=", 50),
    }
    for name, value in result.items():
        goal = goals.get(name)
        mark = ""
        if goal:
            ok = value <= goal[1] if goal[0] == "<=" else value >= goal[1]
            mark = f"   goal {goal[0]} {goal[1]}: {'met' if ok else 'NOT met'}"
        print(
            f"{name:>28} = {value:.4g}{mark}"
            if isinstance(value, float)
            else f"{name:>28} = {value}{mark}"
        )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
