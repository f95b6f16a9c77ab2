"""The simulated-user protocol over an nnU-Net raw dataset folder, one Dask task per case.

The folder follows the field's convention::

    DatasetNNN_Name/dataset.json            channel_names, labels, file_ending (numTraining)
    DatasetNNN_Name/imagesTr/<case>_0000<file_ending>
    DatasetNNN_Name/labelsTr/<case><file_ending>

Every connected component of every foreground label (with at least ``min_voxels`` voxels) is an
object; :func:`~nni_jupyter.evaluation.protocol.evaluate_object` runs on it and each interaction
becomes a row. The model loads once per worker (:mod:`nni_jupyter.cluster`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..io import read_image
from ..weights import choose_model
from .protocol import FIRST_PROMPTS, MAX_INTERACTIONS, NOC_THRESHOLDS, evaluate_object, iter_objects

COLUMNS = ["case", "label", "label_value", "object", "step", "prompt", "dice", "seconds", "status"]
DATASET_FILE = "dataset.json"


@dataclass(frozen=True)
class Dataset:
    """A checked nnU-Net raw dataset: its folder, foreground labels, file ending and cases."""

    folder: Path
    labels: dict[str, int]
    file_ending: str
    cases: list[str]

    def image_path(self, case: str) -> Path:
        """The case's (single) image channel."""
        return self.folder / "imagesTr" / f"{case}_0000{self.file_ending}"

    def labels_path(self, case: str) -> Path:
        """The case's label map."""
        return self.folder / "labelsTr" / f"{case}{self.file_ending}"


def read_dataset(folder: str | os.PathLike[str]) -> Dataset:
    """Check an nnU-Net raw dataset folder (see the module docstring) and list its cases.

    Raises
    ------
    FileNotFoundError
        A missing ``dataset.json``, ``labelsTr/`` or case image.
    ValueError
        A ``dataset.json`` field that is missing or malformed (named with the file), several
        image channels (nnInteractive takes one), or a case count other than ``numTraining``.
    """
    root = Path(folder).expanduser()
    file = root / DATASET_FILE
    if not file.is_file():
        raise FileNotFoundError(
            f"{file} does not exist; an nnU-Net raw dataset folder holds dataset.json, imagesTr/ "
            "and labelsTr/"
        )
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ValueError(f"{file}: not valid JSON ({error})") from error
    if not isinstance(meta, dict):
        raise ValueError(f"{file}: expected a JSON object")
    labels, ending = _labels(file, meta.get("labels")), meta.get("file_ending")
    channels = meta.get("channel_names")
    if not isinstance(channels, dict) or "0" not in channels:
        raise ValueError(
            f'{file}: field channel_names: expected {{"0": "<name>"}}; got {channels!r}'
        )
    if len(channels) != 1:
        raise ValueError(
            f"{file}: field channel_names: nnInteractive takes one image channel; got {channels}"
        )
    if not isinstance(ending, str) or not ending.startswith(".") or "/" in ending:
        raise ValueError(f'{file}: field file_ending: expected e.g. ".nii.gz"; got {ending!r}')
    if not (root / "labelsTr").is_dir():
        raise FileNotFoundError(f"{root / 'labelsTr'} does not exist")
    cases = sorted(p.name[: -len(ending)] for p in (root / "labelsTr").glob(f"*{ending}"))
    dataset = Dataset(root, labels, ending, cases)
    for case in cases:
        if not dataset.image_path(case).is_file():
            raise FileNotFoundError(
                f"case {case}: {dataset.image_path(case)} does not exist (labelsTr has its labels)"
            )
    expected = meta.get("numTraining")
    if expected is not None and expected != len(cases):
        raise ValueError(
            f"{file}: field numTraining says {expected} cases; labelsTr holds {len(cases)}"
        )
    return dataset


def _labels(file: Path, labels: Any) -> dict[str, int]:
    """The foreground labels ``{name: value}`` of ``dataset.json``'s ``labels`` field."""
    if not isinstance(labels, dict) or labels.get("background") != 0:
        raise ValueError(
            f'{file}: field labels: expected {{"background": 0, "<name>": <value>, ...}}; '
            f"got {labels!r}"
        )
    for name, value in labels.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
            raise ValueError(
                f"{file}: field labels.{name}: expected an integer label value 0..65535 "
                f"(region lists are not supported); got {value!r}"
            )
    return {name: value for name, value in labels.items() if value != 0}


def run_dataset(
    folder: str | os.PathLike[str],
    model: Any = None,
    client: Any = None,
    *,
    first_prompt: str = "point",
    max_interactions: int = MAX_INTERACTIONS,
    stop_at: float | None = max(NOC_THRESHOLDS),
    min_voxels: int = 1000,
    autozoom: bool = True,
    device: Any = "auto",
    progress: bool = True,
) -> Any:
    """Run the simulated-user protocol on every case of an nnU-Net raw dataset folder.

    Parameters
    ----------
    folder
        The dataset folder (``dataset.json``, ``imagesTr/``, ``labelsTr/``); checked first.
    model
        A model name or folder as for :class:`nni_jupyter.Segmenter` (None: the default).
    client
        A ``dask.distributed.Client``; None starts an embedded ``LocalCluster`` on 127.0.0.1.
    first_prompt, max_interactions, stop_at
        As for :func:`~nni_jupyter.evaluation.protocol.evaluate_object`.
    min_voxels
        Connected components smaller than this are not evaluated.
    autozoom, device, progress
        The session's AutoZoom, the workers' device, and a progress bar.

    Returns
    -------
    pandas.DataFrame
        One row per interaction: case, label (name), label_value, object (component number
        within the label, from 1), step (1 = the first prompt), prompt (its kind), dice after
        it, seconds it took, status (``"ok"``, or the error with the other columns empty).
    """
    import pandas as pd

    from ..cluster import run_per_case  # needs the [cluster] extra: says so when missing

    if first_prompt not in FIRST_PROMPTS:
        raise ValueError(f"first_prompt must be one of {FIRST_PROMPTS}; got {first_prompt!r}")
    dataset = read_dataset(folder)
    settings = dict(
        first_prompt=first_prompt,
        max_interactions=max_interactions,
        stop_at=stop_at,
        min_voxels=min_voxels,
        autozoom=autozoom,
    )
    results = run_per_case(
        evaluate_case,
        [(dataset, case, settings) for case in dataset.cases],
        [f"evaluate-{case}-{time.time_ns()}" for case in dataset.cases],
        model_folder=str(choose_model(model).path),
        device=device,
        client=client,
        progress=progress,
        failed=lambda index, error: [_error_row(dataset.cases[index], error)],
    )
    return pd.DataFrame([row for rows in results for row in rows], columns=COLUMNS)


def evaluate_case(dataset: Dataset, case: str, settings: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the protocol on one case on this Dask worker (see :func:`run_dataset`); never raises."""
    try:
        return _evaluate_case(dataset, case, settings)
    except Exception as error:  # one bad case fails its row, not the run
        return [_error_row(case, f"{type(error).__name__}: {error}")]


def _evaluate_case(dataset: Dataset, case: str, settings: dict[str, Any]) -> list[dict[str, Any]]:
    from ..cluster import worker_model  # on a Dask worker: the [cluster] extra is there

    image = read_image(dataset.image_path(case)).array
    labels = read_image(dataset.labels_path(case)).array
    if labels.shape != image.shape:
        raise ValueError(f"labels have shape {labels.shape}, the image {image.shape}")
    session = _Timed(worker_model().session(settings["autozoom"]))
    buffer = np.zeros(image.shape, np.uint8)
    session.set_image(image[None])
    session.set_target_buffer(buffer)
    rows = []
    for name, value in dataset.labels.items():
        for number, (_, truth) in enumerate(
            iter_objects(labels, [value], settings["min_voxels"]), start=1
        ):
            session.seconds.clear()
            result = evaluate_object(
                session,
                buffer,
                truth,
                settings["first_prompt"],
                max_interactions=settings["max_interactions"],
                stop_at=settings["stop_at"],
            )
            # one Dice and one timed call per interaction
            steps = zip(result.dice, session.seconds, strict=True)
            for step, (dice, seconds) in enumerate(steps, start=1):
                prompt = settings["first_prompt"] if step == 1 else "point"
                values = [case, name, value, number, step, prompt, dice, seconds, "ok"]
                rows.append(dict(zip(COLUMNS, values, strict=True)))
    return rows


class _Timed:
    """A session whose ``add_*_interaction`` calls are timed into ``seconds``, one per call."""

    def __init__(self, session: Any):
        self._session = session
        self.seconds: list[float] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._session, name)
        if not (name.startswith("add_") and name.endswith("_interaction")):
            return method

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds.append(time.perf_counter() - start)

        return timed


def _error_row(case: str, status: str) -> dict[str, Any]:
    return {**dict.fromkeys(COLUMNS), "case": case, "status": status}
