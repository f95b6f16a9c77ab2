"""Synthetic data: CT-like phantoms with ground-truth labels, for demos, tests and training."""

from __future__ import annotations

from .phantom import LABEL_NAMES, LABEL_VALUES, ORGAN_LABELS, TRAINING_SEED_START, phantom

__all__ = ["LABEL_NAMES", "LABEL_VALUES", "ORGAN_LABELS", "TRAINING_SEED_START", "phantom"]
