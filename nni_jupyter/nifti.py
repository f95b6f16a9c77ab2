"""NIfTI header checks moved to :mod:`nni_jupyter.io.nifti`; these names stay importable here."""

from __future__ import annotations

from .io.nifti import Claim, check_complete, is_nifti, read_claim

__all__ = ["Claim", "check_complete", "is_nifti", "read_claim"]
