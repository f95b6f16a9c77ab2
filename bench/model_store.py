"""How fast a missing model is refused offline: ours against the reference's model_management.

An empty store (a temporary ``NNINTERACTIVE_MODEL_DIR``), no old locations, and the hub either
switched off (``HF_HUB_OFFLINE=1``) or unreachable (a closed port on 127.0.0.1: what an
air-gapped hub's kernel meets). For each, the seconds until ``nj.download_weights()`` raises
(its message names ``<store>/models/<id>/``) and until the reference's
``ensure_model_available(get_default_model_id())`` does (needs the parity extra). No network.

Run: ``python bench/model_store.py``.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import huggingface_hub.constants as constants

from nni_jupyter import weights

CLOSED = "http://127.0.0.1:9"


def seconds_to_fail(call: Callable[[], object]) -> tuple[float, str]:
    start = time.perf_counter()
    try:
        call()
    except Exception as error:  # the refusal is what is timed
        return time.perf_counter() - start, f"{type(error).__name__}: {error}"
    raise RuntimeError("the model was found; expected an empty store")


def reference_call() -> Callable[[], object] | None:
    try:
        from nnInteractive import model_management as reference
    except ImportError:
        return None
    return lambda: reference.ensure_model_available(reference.get_default_model_id())


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="nni-store-"))
    os.environ[weights.STORE_ENV] = str(root)
    os.environ["HF_HOME"] = str(root / "hf_home")
    os.environ.pop(weights.MODEL_DIR_ENV, None)
    weights.legacy.LOCAL_MODEL_DIR = root / "nni_cache"
    for how in ("HF_HUB_OFFLINE=1", "hub unreachable"):
        offline = how.startswith("HF_HUB_OFFLINE")
        os.environ["HF_HUB_OFFLINE"] = "1" if offline else "0"
        constants.HF_HUB_OFFLINE = offline
        constants.ENDPOINT = CLOSED
        constants.HUGGINGFACE_CO_URL_TEMPLATE = CLOSED + "/{repo_id}/resolve/{revision}/{filename}"
        ours, message = seconds_to_fail(lambda: weights.download_weights())
        named = f"{root / 'models' / weights.DEFAULT_MODEL}/" in message
        line = f"{how:18s} ours {ours:6.3f} s (names <store>/models/<id>/: {named})"
        call = reference_call()
        if call is not None:
            theirs, _ = seconds_to_fail(call)
            line += f"  reference {theirs:6.3f} s  ours/reference {ours / theirs:.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
