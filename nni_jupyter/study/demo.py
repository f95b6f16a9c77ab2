"""A small study of synthetic CT phantoms, to try the study desk offline (notebook 06)."""

from __future__ import annotations

import os

from ..data import phantom
from ..image import Image
from ..io import write_image
from .study import Study

#: Seeds of the demo cases' phantoms (held out from the demo model's training seeds).
FIRST_SEED = 41


def demo_study(
    folder: str | os.PathLike[str],
    cases: int = 3,
    shape: tuple[int, int, int] = (64, 64, 48),
    spacing_mm: tuple[float, float, float] = (0.8, 0.8, 2.5),
) -> Study:
    """A study in ``folder`` of ``cases`` phantom CTs, ``case_001`` ... (images in
    ``<folder>/images/``, so the folder holds everything and can move).

    Opening an existing demo study again keeps its work: images already written are not
    rewritten, cases already added stay as they are.
    """
    study = Study(folder)
    images = study.folder / "images"
    images.mkdir(exist_ok=True)
    for k in range(cases):
        case_id = f"case_{k + 1:03d}"
        path = images / f"{case_id}.nii.gz"
        if not path.exists():
            volume, _ = phantom(shape, seed=FIRST_SEED + k)
            write_image(Image(volume, spacing_mm), path)
        study.add_case(case_id, path)
    return study
