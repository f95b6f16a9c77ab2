"""The bundled demo model: a small nnInteractive checkpoint trained on synthetic phantoms."""

from __future__ import annotations

from pathlib import Path

_MODEL_FOLDER = Path(__file__).resolve().parent / "model"


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
    return _MODEL_FOLDER


__all__ = ["demo_model_path"]
