"""What makes a model reproducible: its id, the hub snapshot it came from, its checkpoint's hash."""

from __future__ import annotations

import re
from pathlib import Path

from ..core.files import file_sha256
from .layout import CHECKPOINT

_COMMIT = re.compile(r"[0-9a-f]{40}")


def snapshot_commit(folder: str | Path) -> str | None:
    """The hub commit ``folder``'s files were downloaded at, or None where no hub said.

    Read from what huggingface_hub leaves: a folder inside the hub cache sits in
    ``snapshots/<commit>/``; a folder downloaded with ``local_dir`` (the store, ours or the
    reference's) has ``<local_dir>/.cache/huggingface/download/<path>/plans.json.metadata``,
    whose first line is the commit.
    """
    folder = Path(folder).absolute()
    if folder.parent.parent.name == "snapshots" and _COMMIT.fullmatch(folder.parent.name):
        return folder.parent.name
    for parent in folder.parents:
        relative = folder.relative_to(parent)
        metadata = parent / ".cache" / "huggingface" / "download" / relative / "plans.json.metadata"
        if metadata.is_file():
            first = metadata.read_text(encoding="utf-8").split("\n", 1)[0].strip()
            return first if _COMMIT.fullmatch(first) else None
    return None


def provenance(
    folder: str | Path, model_id: str | None = None, checkpoint: str | Path | None = None
) -> dict[str, str | None]:
    """``{model_id, snapshot_commit, checkpoint_sha256}`` of a model folder.

    Parameters
    ----------
    folder
        A trained-model folder (``fold_0/checkpoint_final.pth`` hashed when present).
    model_id
        The id it was asked for by; default the folder's name.
    checkpoint
        The checkpoint file loaded; default ``fold_0/checkpoint_final.pth`` in ``folder``.
    """
    folder = Path(folder)
    checkpoint = folder / CHECKPOINT if checkpoint is None else Path(checkpoint)
    return {
        "model_id": model_id or folder.name,
        "snapshot_commit": snapshot_commit(folder),
        "checkpoint_sha256": file_sha256(checkpoint) if checkpoint.is_file() else None,
    }
