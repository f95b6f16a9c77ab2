"""A Dask worker replays a study with the headless annotation core: it never imports a widget
(anywidget, ipywidgets or nni_jupyter.widget), so cluster workers need neither."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from _tiny_model import demo_or_tiny_model

import nni_jupyter as nj
from nni_jupyter.annotation import Annotation
from nni_jupyter.inference import nnInteractiveInferenceSession

distributed = pytest.importorskip(
    "distributed", reason="the [cluster] extra (dask, distributed) is not installed"
)

WIDGET_MODULES = ("anywidget", "ipywidgets", "nni_jupyter.widget", "nni_jupyter.study.desk")


def widget_modules() -> list[str]:
    """The widget modules this process has imported."""
    return sorted(m for m in sys.modules if m.startswith(WIDGET_MODULES))


def test_a_replay_task_imports_no_widget(tmp_path: Path) -> None:
    model = demo_or_tiny_model(tmp_path / "model", "Apache-2.0")
    volume = nj.data.phantom((40, 40, 32), seed=1)[0]
    image = nj.write_image(volume, tmp_path / "ct_001.nii.gz")
    study = nj.Study(tmp_path / "study")
    study.add_case("ct_001", image)
    session = nnInteractiveInferenceSession(
        device="cpu", do_autozoom=False, enable_undo=False, precision="fp32"
    )
    session.initialize_from_trained_model_folder(str(model))
    annotation = Annotation(nj.read_image(image), session=session)
    try:
        annotation.add_point((20, 20, 16))
        study.save("ct_001", annotation)
        saved = np.asarray(annotation.labels)
    finally:
        annotation.close()
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        distributed.Client(cluster) as client,
    ):  # fmt: skip
        rows = study.replay(model=model, client=client, progress=False)
        imported = list(client.run(widget_modules).values())
    assert list(rows["status"]) == ["ok"] and rows["dice_vs_saved"].iloc[0] == 1.0
    assert saved.any()
    assert imported == [[]]
