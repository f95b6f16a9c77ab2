"""Which model the Segmenter loads, the session it runs in, and the status line it shows.

Where weights come from is decided by :func:`nni_jupyter.weights.choose_model`, the one search;
new places to look belong there.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nni_jupyter import weights
from nni_jupyter.weights import ModelChoice

if TYPE_CHECKING:
    from nni_jupyter.inference.api import Session

#: Above this many parameters a model is "full size": slow on CPU (v1.0 has about 102 million).
FULL_SIZE_PARAMETERS = 20_000_000


def create_session(choice: ModelChoice, device: Any = None, precision: str = "auto") -> Session:
    """Create nni_jupyter's inference session on ``device`` (default: the best one) in
    ``precision`` with ``choice`` loaded; non-demo weights print their licence."""
    return weights.load_session(
        choice.path,
        device="auto" if device is None else device,
        precision=precision,
        download=False,
        show_license=None if choice.is_demo else print,
        torch_n_threads=os.cpu_count() or 1,
        enable_undo=False,  # the Segmenter keeps its own multi-object history
    )


def load_model(
    session: Session | None, model: str | Path | None, device: Any, precision: str = "auto"
) -> tuple[Session, str]:
    """The Segmenter's session and model name: a new session (in ``precision``) when ``session``
    is None, the given one loaded with ``model`` when it has none yet (or ``model`` is named),
    else as it is."""
    if session is None:
        choice = weights.choose_model(model)
        session = create_session(choice, device, precision)
    elif model is not None or needs_model(session):
        initialize = getattr(session, "initialize_from_trained_model_folder", None)
        if initialize is None:
            raise TypeError(
                f"a {type(session).__name__} cannot load a model folder; pass model=None to use "
                "the model it serves"
            )
        choice = weights.choose_model(model)
        initialize(str(choice.path))
    else:
        return session, str(getattr(session, "model_name", "custom session"))
    print(
        f"nni_jupyter: {choice.name} model from {choice.path} on "
        f"{getattr(session, 'device', '?')}; licence: {getattr(session, 'license', None)}"
    )
    return session, choice.name


def needs_model(session: Session) -> bool:
    """True when ``session`` is a local session whose network has not been loaded yet."""
    return hasattr(session, "network") and session.network is None


def model_info(session: Session, name: str) -> dict[str, str]:
    """Return the status line ``{name, license, device, precision, performance, warning}``
    for a loaded ``session`` (precision and performance empty where the backend does not say;
    performance: the precision chosen and why, and the threads), with the model's
    provenance: ``id`` (the model store's id), ``commit`` (the hub snapshot it was downloaded
    at) and ``checkpoint_sha256``, each empty where unknown (a folder of one's own, a remote
    session)."""
    device = str(getattr(session, "device", "remote"))
    network = getattr(session, "network", None)
    parameters = sum(p.numel() for p in network.parameters()) if network is not None else 0
    warning = ""
    if device.startswith("cpu") and (
        parameters > FULL_SIZE_PARAMETERS or weights.is_official_id(name)
    ):
        warning = (
            f"{name} runs on the CPU: expect tens of seconds per prompt. Use a GPU kernel or "
            "nni_jupyter's remote session for interactive speed."
        )
    elif name == weights.DEMO_MODEL:
        warning = weights.DEMO_NOTICE[0].upper() + weights.DEMO_NOTICE[1:]
    checkpoint = getattr(getattr(session, "model", None), "checkpoint", None)
    origin = (
        weights.provenance(Path(checkpoint).parent.parent, name, checkpoint) if checkpoint else {}
    )
    return {
        "name": name,
        "id": name if weights.is_official_id(name) else "",
        "commit": str(origin.get("snapshot_commit") or ""),
        "checkpoint_sha256": str(origin.get("checkpoint_sha256") or ""),
        "license": str(getattr(session, "license", None) or "unknown"),
        "device": device,
        "precision": str(getattr(session, "precision", None) or ""),
        "performance": str(getattr(session, "performance", None) or ""),
        "warning": warning,
    }


def follow_performance(session: Session, listener: Callable[[str], None]) -> None:
    """Call the bound method ``listener`` with the session's new ``performance`` line whenever
    its measured choice changes, possibly from a background thread (sessions that do not say,
    remote ones for example, never call it). The session holds ``listener`` weakly: a session
    used again later does not keep an earlier annotation alive."""
    add = getattr(session, "add_performance_listener", None)
    if add is None:
        return
    method = weakref.WeakMethod(listener)

    def heard(performance: str) -> None:
        alive = method()
        if alive is not None:
            alive(performance)

    add(heard)


def supported_tools(session: Session) -> list[str]:
    """Return the gesture tools the session's model supports (all four when it does not say)."""
    supported = getattr(session, "supported_interactions", None) or {}
    if not supported:
        return ["point", "box", "scribble", "lasso"]
    tools = []
    for tool, keys in (
        ("point", ("points",)),
        ("box", ("bbox2d", "bbox3d")),
        ("scribble", ("scribble",)),
        ("lasso", ("lasso",)),
    ):
        if any(supported.get(key, False) for key in keys):
            tools.append(tool)
    return tools


def scribble_thickness(session: Session) -> list[int]:
    """Return the session's preferred scribble thickness per axis (default 2 voxels)."""
    value = getattr(session, "preferred_scribble_thickness", None)
    if value is None:
        return [2, 2, 2]
    if not isinstance(value, (list, tuple)):
        value = [value] * 3
    return [max(1, int(round(float(v)))) for v in value]
