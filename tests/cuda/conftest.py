"""Fixtures of the CUDA tests: the parity tests' model and image (``tests/_parity_models.py``)."""

from _parity_models import phantom_image, tiny_model  # noqa: F401
