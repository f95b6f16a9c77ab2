"""Replay a study's prompt logs on a Dask cluster: one task per case, the model loaded once per
worker (:mod:`nni_jupyter.cluster`), outputs written atomically and skipped when already made by
the same log, model and settings."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..annotation import Annotation
from ..annotation.log import read
from ..atomic import remove_staging_leftovers, write_json
from ..cluster import ModelPlugin, run_per_case, worker_model
from ..core.files import file_sha256
from ..evaluation.protocol import dice as protocol_dice
from ..inference.checkpoint_file import checkpoint_path
from ..io import read_image, write_labels
from ..weights import choose_model
from .layout import StudyFolder
from .names import check_case_id, inside

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


def replay_study(
    study: StudyFolder,
    model: Any = None,
    client: Any = None,
    device: Any = "auto",
    progress: bool = True,
    torch_threads: int | None = None,
) -> Any:
    """Replay every case of ``study`` that has a prompt log; return a pandas DataFrame.

    One Dask task per case reads the image, replays the log with ``model`` (a name or folder as
    for :class:`nni_jupyter.Annotation`; None: the default model) and writes
    ``<study>/replays/<model-sha256>/<case>.nii.gz`` atomically, then ``<case>.json``, its
    marker: the prompt log's SHA-256, the model's and the settings that shape the output
    (AutoZoom, precision, device type, nni_jupyter version). A case whose marker matches all
    three is skipped.

    Rows, one per (case, object): case, object, voxels, volume_ml, dice_vs_saved (against the
    case's saved labels), seconds, model_sha256, status (``"ok"``, ``"skipped"``, else the
    error). ``client=None`` starts an embedded ``LocalCluster`` on 127.0.0.1, sized to the
    machine, and closes it after. ``progress`` shows a progress bar (Dask's in a notebook, tqdm
    in a terminal). ``torch_threads``: torch threads per task (default: the worker's threads).
    """
    import pandas as pd

    folder, model_sha = model_identity(model)
    (study.folder / "replays" / model_sha).mkdir(parents=True, exist_ok=True)
    cases = [c for c in study.cases() if _has_log(study, c)]
    results = run_per_case(
        replay_case,
        [(str(study.folder), case, model_sha) for case in cases],
        [f"replay-{case}-{model_sha}-{time.time_ns()}" for case in cases],
        model_folder=str(folder),
        device=device,
        client=client,
        progress=progress,
        failed=lambda index, error: [_row(cases[index], None, None, None, None, 0.0, "", error)],
        torch_threads=torch_threads,
    )
    return pd.DataFrame([row for rows in results for row in rows], columns=COLUMNS)


def model_identity(model: Any) -> tuple[Path, str]:
    """The folder of ``model`` (a name or folder; None: the default) and its checkpoint's
    SHA-256, which names the study's ``replays/`` subfolder."""
    folder = Path(choose_model(model).path)
    return folder, file_sha256(checkpoint_path(folder, None, "checkpoint_final.pth"))


def replay_case(
    study_folder: str, case_id: str, model_sha: str, plugin: ModelPlugin | None = None
) -> list[dict[str, Any]]:
    """Replay one case (see :func:`replay_study`) with ``plugin``'s model, by default this Dask
    worker's; never raises."""
    start = time.perf_counter()
    try:
        plugin = worker_model() if plugin is None else plugin
        return _replay_case(StudyFolder(study_folder), case_id, model_sha, start, plugin)
    except Exception as error:  # one bad case fails its row, not the run
        status = f"{type(error).__name__}: {error}"
        return [_row(case_id, None, None, None, None, start, model_sha, status)]


def _replay_case(
    study: StudyFolder, case_id: str, model_sha: str, start: float, plugin: ModelPlugin
) -> list[dict[str, Any]]:
    log_file = study.prompts_path(case_id)
    log_bytes = log_file.read_bytes()
    log = read(log_file)
    autozoom = bool(log["model"].get("autozoom"))
    made_by = {
        "prompt_log_sha256": hashlib.sha256(log_bytes).hexdigest(),
        "model_sha256": model_sha,
        "settings": plugin.settings(autozoom),
    }
    target = inside(study.folder, "replays", model_sha, f"{check_case_id(case_id)}.nii.gz")
    marker = target.with_name(f"{case_id}.json")
    done = _read_marker(marker)
    if target.is_file() and all(done.get(key) == value for key, value in made_by.items()):
        return [dict(row, status="skipped") for row in done["rows"]]
    remove_staging_leftovers(target)  # a worker killed mid-write on an earlier try
    image = read_image(study.image_path(case_id))
    precision = log["model"].get("precision")  # compute as the annotation did
    annotation = Annotation(image, session=plugin.session(autozoom, precision))
    try:
        annotation.replay_log(log)
        labels = np.asarray(annotation.labels)  # a study's cases are images in memory
    finally:
        annotation.close()
    write_labels(labels, target, like=image)
    saved = _saved_labels(study, case_id)
    voxel_ml = float(np.prod(image.spacing_mm)) / 1000.0
    rows = []
    ids = sorted(obj["id"] for obj in log["objects"])
    # a log with its record replays to the same ids; an older one numbers its objects from 1
    replayed = ids if "record" in log else list(range(1, len(ids) + 1))
    for new_id, object_id in zip(replayed, ids, strict=True):
        mask = labels == new_id
        dice = None if saved is None else protocol_dice(mask, saved == object_id)
        voxels = int(mask.sum())
        rows.append(
            _row(case_id, object_id, voxels, voxels * voxel_ml, dice, start, model_sha, "ok")
        )
    write_json(marker, {**made_by, "rows": rows})
    return rows


def _has_log(study: StudyFolder, case_id: str) -> bool:
    """Whether the case has a saved log; True when that cannot be told (a case folder leading
    outside the study, a damaged manifest), so its task fails its own row saying why."""
    try:
        return study.saved(case_id) is not None
    except (ValueError, OSError):
        return True


def _read_marker(marker: Path) -> dict[str, Any]:
    try:
        value = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) and isinstance(value.get("rows"), list) else {}


def _saved_labels(study: StudyFolder, case_id: str) -> np.ndarray | None:
    path = study.labels_path(case_id)
    return read_image(path).array if path.is_file() else None


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
    seconds = time.perf_counter() - start if start else None
    values = [case, object_id, voxels, volume_ml, dice, seconds, model_sha]
    return dict(zip(COLUMNS, [*values, status], strict=True))
