"""nni_jupyter's own nnInteractive inference backend (PyTorch; no nnunetv2 at run time)."""

from __future__ import annotations

from .devices import pick_device
from .session import InferenceSession, nnInteractiveInferenceSession

__all__ = ["InferenceSession", "nnInteractiveInferenceSession", "pick_device"]
