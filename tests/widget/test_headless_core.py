"""The numpy-only core and the headless annotation work where torch and anywidget are absent.

A child process blocks both imports (``sys.modules[name] = None`` makes ``import name`` fail as
in a venv without the package) and then reads a prompt log, maps voxels to millimetres and
measures saved labels: what a study server or a lightweight reader needs.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from nni_jupyter.annotation import Annotation

CHILD = """
import json
import sys
for name in ("torch", "anywidget", "ipywidgets"):
    sys.modules[name] = None
import numpy as np
import nni_jupyter.annotation as annotation
from nni_jupyter.annotation.log import Geometry
from nni_jupyter.core.regions import nonzero_bbox
from nni_jupyter.measurements import measure

log = annotation.read_log(sys.argv[1])
items = [entry["item"]["kind"] for entry in log["record"]]
geometry = Geometry(tuple(log["image"]["shape"]), tuple(log["image"]["spacing_mm"]))
labels = np.load(sys.argv[2])
rows = measure(labels, log["image"]["spacing_mm"], as_dataframe=False)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "anywidget")
                and sys.modules[m])
print(json.dumps({"items": items, "mm": geometry.world([1, 2, 3]), "bbox": nonzero_bbox(labels),
                  "voxels": rows[0]["voxels"], "loaded": loaded}))
"""


def test_a_log_geometry_and_measurements_need_neither_torch_nor_anywidget(
    image, make_session, tmp_path
):
    annotation = Annotation(image, session=make_session(), spacing=(0.5, 0.5, 2.0))
    try:
        annotation.add_point((20, 18, 16))
        annotation.save_log(tmp_path / "log.json")
        labels = np.asarray(annotation.labels)
    finally:
        annotation.close()
    np.save(tmp_path / "labels.npy", labels)
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "log.json"), str(tmp_path / "labels.npy")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["items"] == ["prompt"]
    assert found["mm"] == [0.5, 1.0, 6.0]
    assert found["bbox"] == [[int(a.min()), int(a.max()) + 1] for a in np.nonzero(labels)]
    assert found["voxels"] == int(np.count_nonzero(labels)) > 0
    assert found["loaded"] == []
