"""What a trained-model folder holds: the official nnInteractive layout."""

from __future__ import annotations

from pathlib import Path

#: The checkpoint file of a model folder's first fold.
CHECKPOINT = Path("fold_0") / "checkpoint_final.pth"


def is_model_folder(folder: str | Path) -> bool:
    """True when ``folder`` has the trained-model layout: ``plans.json`` and a ``fold_*`` folder."""
    folder = Path(folder)
    return (folder / "plans.json").is_file() and any(
        child.is_dir() and child.name.startswith("fold_") for child in folder.glob("fold_*")
    )


def read_license(folder: str | Path) -> str | None:
    """First non-empty line of ``folder/LICENSE``, or None when the folder has no LICENSE file."""
    path = Path(folder) / "LICENSE"
    if not path.is_file():
        return None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            return line.strip()
    return None
