"""huggingface_hub, imported only where a download or a hub-cache look-up needs it (extra
``[hub]``), and the hub's settings read from the environment at each call."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_TRUE = {"1", "ON", "YES", "TRUE"}


def hub_module() -> Any:
    """The ``huggingface_hub`` module, or an ImportError saying how to install it."""
    try:
        import huggingface_hub
    except ImportError as error:
        raise ImportError(
            "downloading nnInteractive weights needs huggingface_hub; "
            "install it with: pip install nni_jupyter[hub]"
        ) from error
    return huggingface_hub


def hub_cache_dir() -> Path:
    """The Hugging Face cache folder (``HF_HUB_CACHE``, ``HF_HOME/hub``, else the hub's own)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    hub_module()  # a clear ImportError when the [hub] extra is missing
    from huggingface_hub import constants  # not an attribute of the package until imported

    return Path(constants.HF_HUB_CACHE)


def offline() -> bool:
    """True when ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) is set now, or when
    huggingface_hub read it so at import."""
    value = os.environ.get("HF_HUB_OFFLINE", "") or os.environ.get("TRANSFORMERS_OFFLINE", "")
    if value.strip().upper() in _TRUE:
        return True
    try:
        from huggingface_hub import constants
    except ImportError:  # no hub client: nothing to download with, which callers report
        return False
    return bool(constants.is_offline_mode())
