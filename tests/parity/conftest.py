"""Fixtures of the parity tests (defined in ``tests/_parity_models.py``)."""

from _parity_models import phantom_image, tiny_model  # noqa: F401
