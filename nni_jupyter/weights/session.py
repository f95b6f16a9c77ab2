"""Load a model into nni_jupyter's inference session, with its licence notice."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .layout import read_license
from .search import DEFAULT_MODEL, DEMO_MODEL, resolve_model

if TYPE_CHECKING:
    from nni_jupyter.inference import nnInteractiveInferenceSession

#: Licence of the official weights (the code is Apache-2.0).
OFFICIAL_LICENSE = "CC BY-NC-SA 4.0"
_LICENSE_URL = "https://creativecommons.org/licenses/by-nc-sa/4.0/"
#: What users are told when the bundled demo model serves them (load message and status line).
DEMO_NOTICE = (
    "small demo model (1.6 M parameters, trained on synthetic volumes only): fine for trying the "
    "tools, not for real work. For real images get nnInteractive v1.0: "
    'nj.download_weights("nnInteractive_v1.0") (about 400 MB, needs pip install '
    "'nni_jupyter[hub]')."
)


def load_session(
    model: str | Path = DEFAULT_MODEL,
    device: Any = "auto",
    *,
    download: bool = True,
    show_license: Callable[[str], None] | None = print,
    precision: str = "auto",
    **session_kwargs: Any,
) -> nnInteractiveInferenceSession:
    """Build nni_jupyter's inference session with a model loaded, ready for ``set_image``.

    Parameters
    ----------
    model
        A model id such as ``"nnInteractive_v1.0"`` (found locally, see
        :func:`nni_jupyter.weights.find_model`, or downloaded into nnInteractive's store),
        ``"demo"`` (the bundled demo model), or the path of a trained-model folder.
    device
        ``"auto"`` (CUDA, then MPS, then CPU), or a device string / ``torch.device``.
    download
        Allow downloading official weights that are not on this machine.
    show_license
        Called with a licence notice when weights load, or with ``DEMO_NOTICE`` for the demo
        model (default ``print``); None to stay silent. The official weights are
        CC BY-NC-SA 4.0: non-commercial use only.
    precision
        Network precision: ``"auto"`` (fp16 on CUDA, bf16 on CPUs with native bf16, else fp32),
        ``"fp32"`` (the reference's numbers), ``"bf16"`` or ``"fp16"``.
    **session_kwargs
        Passed to :class:`nni_jupyter.inference.nnInteractiveInferenceSession`
        (e.g. ``do_autozoom``, ``verbose``, ``torch_n_threads``).

    Returns
    -------
    nni_jupyter.inference.nnInteractiveInferenceSession
        The initialised session.
    """
    folder = resolve_model(model, download=download)
    from nni_jupyter.inference import nnInteractiveInferenceSession, pick_device

    # the session's own licence banner would repeat the notice below
    session_kwargs.setdefault("print_license", False)
    session = nnInteractiveInferenceSession(
        device=pick_device(device), precision=precision, **session_kwargs
    )
    session.initialize_from_trained_model_folder(str(folder))
    if show_license is not None and model == DEMO_MODEL:
        show_license(f"nni_jupyter: {DEMO_NOTICE}")
    elif show_license is not None:
        show_license(license_notice(folder, getattr(session, "license", None)))
    return session


def license_notice(folder: str | Path, license_id: str | None = None) -> str:
    """The one-paragraph licence notice shown when weights from ``folder`` load."""
    license_id = license_id or read_license(folder) or "unknown (the folder has no LICENSE file)"
    notice = f"Model weights {Path(folder).name}: licence {license_id}."
    if OFFICIAL_LICENSE in license_id:
        notice += (
            f" Non-commercial use only, share alike, with attribution ({_LICENSE_URL}). "
            "nni_jupyter's code is Apache-2.0."
        )
    return notice
