"""Where the bundled demo model lies in the installed package.

A fact at the bottom of the layers: the model search (:mod:`nni_jupyter.weights`), the inference
benchmark and the demo trainer (:mod:`nni_jupyter.demo`) read it here, so none imports another
for it.
"""

from __future__ import annotations

from pathlib import Path

#: The bundled demo model's folder, in the official nnInteractive layout.
BUNDLED_MODEL_FOLDER = Path(__file__).resolve().parent / "demo" / "model"


def demo_model_path() -> Path:
    """Folder of the bundled demo model, in the official nnInteractive layout.

    Load it like the real weights::

        session.initialize_from_trained_model_folder(str(demo_model_path()))

    Returns
    -------
    pathlib.Path
        ``.../nni_jupyter/demo/model`` (``plans.json``, ``dataset.json``, ``inference_info.json``,
        ``LICENSE``, ``fold_0/checkpoint_final.pth``).
    """
    return BUNDLED_MODEL_FOLDER
