"""Replay a study's prompt logs on a Dask cluster: one task per case, the model loaded once per
worker, outputs written atomically and skipped when already made by the same log and model."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, cast

import numpy as np
from distributed import WorkerPlugin

from .names import check_case_id, inside
from .study import Study, _write_json

PLUGIN_NAME = "nni_jupyter-model"
COLUMNS = [
    "case",
    "object",
    "voxels",
    "volume_ml",
    "dice_vs_saved",
    "seconds",
    "model_sha256",
    "status",
]


class ModelPlugin(WorkerPlugin):
    """Loads a model folder once per Dask worker and makes sessions that share its network."""

    name = PLUGIN_NAME

    def __init__(self, folder: str, device: Any = "auto"):
        self.folder = folder
        self.device = device
        self.threads = 1
        self._keeper: Any = None

    def setup(self, worker: Any) -> None:
        """Load the network on the worker's device (kept while the worker lives)."""
        self.threads = max(1, int(getattr(getattr(worker, "state", None), "nthreads", 1)))
        self._keeper = self.session(autozoom=False)

    def teardown(self, worker: Any) -> None:
        """Let the network go."""
        self._keeper = None

    def session(self, autozoom: bool) -> Any:
        """A fresh session on the loaded network (one per Segmenter: sessions hold an image)."""
        from ..weights import load_session

        return load_session(
            self.folder,
            self.device,
            download=False,
            show_license=None,
            do_autozoom=autozoom,
            enable_undo=False,
            torch_n_threads=self.threads,
        )


def replay_study(study: Study, model: Any = None, client: Any = None, device: Any = "auto") -> Any:
    """Replay every case of ``study`` that has a prompt log; return a pandas DataFrame.

    One Dask task per case reads the image, replays the log with ``model`` (a name or folder as
    for :class:`nni_jupyter.Segmenter`; None: the default model) and writes
    ``<study>/replays/<model-sha256>/<case>.nii.gz`` atomically. Rows, one per (case, object):
    case, object, voxels, volume_ml, dice_vs_saved (against the case's saved labels),
    seconds, model_sha256, status (``"ok"``, ``"skipped"`` when the output was already made
    from the same log and model, else the error). ``client=None`` starts an embedded
    ``LocalCluster`` on 127.0.0.1, sized to the machine, and closes it after.
    """
    import pandas as pd

    from ..inference.checkpoint_file import checkpoint_path
    from ..weights import choose_model
    from ..widget.prompt_log import file_sha256

    folder = choose_model(model).path
    model_sha = file_sha256(checkpoint_path(folder, None, "checkpoint_final.pth"))
    out = study.folder / "replays" / model_sha
    out.mkdir(parents=True, exist_ok=True)
    cases = [c for c in study.cases() if study.prompts_path(c).is_file()]
    if not cases:
        return pd.DataFrame([], columns=COLUMNS)
    own = client is None
    if own:
        client = _local_client(len(cases))
    try:
        client.register_plugin(ModelPlugin(str(folder), device), name=PLUGIN_NAME)
        futures = [
            client.submit(
                replay_case, str(study.folder), case, model_sha, key=f"replay-{case}-{model_sha}"
            )
            for case in cases
        ]
        results = client.gather(futures)
    finally:
        if own:
            cluster = client.cluster
            client.close()
            cluster.close()
    return pd.DataFrame([row for rows in results for row in rows], columns=COLUMNS)


def _local_client(cases: int) -> Any:
    from distributed import Client, LocalCluster

    workers = max(1, min(cases, os.cpu_count() or 1))
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    )
    return Client(cluster)


def replay_case(study_folder: str, case_id: str, model_sha: str) -> list[dict[str, Any]]:
    """Replay one case on this Dask worker (see :func:`replay_study`); never raises."""
    start = time.perf_counter()
    try:
        return _replay_case(Study(study_folder), case_id, model_sha, start)
    except Exception as error:  # one bad case fails its row, not the run
        status = f"{type(error).__name__}: {error}"
        return [_row(case_id, None, None, None, None, start, model_sha, status)]


def _replay_case(study: Study, case_id: str, model_sha: str, start: float) -> list[dict[str, Any]]:
    from distributed import get_worker

    from ..io import read_image, write_labels
    from ..widget import Segmenter
    from ..widget.prompt_log import read

    log_file = study.prompts_path(case_id)
    log_sha = hashlib.sha256(log_file.read_bytes()).hexdigest()
    target = inside(study.folder, "replays", model_sha, f"{check_case_id(case_id)}.nii.gz")
    marker = target.with_name(f"{case_id}.json")
    done = _read_marker(marker)
    if (
        target.is_file()
        and done.get("prompt_log_sha256") == log_sha
        and done.get("model_sha256") == model_sha
    ):
        return [dict(row, status="skipped") for row in done["rows"]]
    log = read(log_file)
    image = read_image(study.image_path(case_id))
    plugin = cast(ModelPlugin, get_worker().plugins[PLUGIN_NAME])
    seg = Segmenter(image, session=plugin.session(bool(log["model"].get("autozoom"))))
    try:
        seg.replay_prompt_log(log)
        labels = seg.labels
    finally:
        seg.close()
    write_labels(labels, target, like=image)
    saved = _saved_labels(study, case_id)
    voxel_ml = float(np.prod(image.spacing_mm)) / 1000.0
    rows = []
    ids = sorted(obj["id"] for obj in log["objects"])
    for new_id, object_id in enumerate(ids, start=1):
        mask = labels == new_id
        dice = None if saved is None else _dice(mask, saved == object_id)
        voxels = int(mask.sum())
        rows.append(
            _row(case_id, object_id, voxels, voxels * voxel_ml, dice, start, model_sha, "ok")
        )
    _write_json(marker, {"prompt_log_sha256": log_sha, "model_sha256": model_sha, "rows": rows})
    return rows


def _read_marker(marker: Path) -> dict[str, Any]:
    try:
        value = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) and isinstance(value.get("rows"), list) else {}


def _saved_labels(study: Study, case_id: str) -> np.ndarray | None:
    from ..io import read_image

    path = study.labels_path(case_id)
    return read_image(path).array if path.is_file() else None


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def _row(
    case: str,
    object_id: int | None,
    voxels: int | None,
    volume_ml: float | None,
    dice: float | None,
    start: float,
    model_sha: str,
    status: str,
) -> dict[str, Any]:
    values = [case, object_id, voxels, volume_ml, dice, time.perf_counter() - start, model_sha]
    return dict(zip(COLUMNS, [*values, status], strict=True))
