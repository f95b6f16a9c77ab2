"""An optional CPU runner: the network exported to OpenVINO (``pip install nni_jupyter[openvino]``).

On the CPUs measured so far OpenVINO runs nnInteractive's network several times faster than
torch: it fuses each convolution with its instance norm and activation and keeps one blocked
memory layout from the first layer to the last, in bfloat16 where the CPU computes it (AMX,
AVX512-BF16) or float32. On this project's Xeon (AMX) a v1.0-shaped pass at 192^3 took 3.4 s in
OpenVINO bf16 against 12.8 s in torch bf16 channels-last and 31.7 s in torch fp32
(``python bench/levers.py --full --patch 192 --openvino``).

It is one more candidate of ``precision="auto"`` (:mod:`.tuning`), judged like the others: on
the loaded network, masks agreeing with float32's, kept only where it is faster. Exporting traces
the network once on a small probe (seconds for the demo model, about ten for v1.0: on a thread,
while the prompts run in torch) and keeps the exported graph in the tuning cache folder under a
digest of the weights, so later sessions read it in a fraction of a second. The graph is then
fixed to the network's patch: every input of a session has that shape (others run in torch).

``NNI_JUPYTER_OPENVINO=0`` turns it off (the test suite does, except for its own tests).

Exports run on the measuring thread, a daemon: a script may end meanwhile. OpenVINO's threads
must not be torn down under a running call, so an interpreter that exits waits for the OpenVINO
work in progress (an export takes seconds) and starts none after that.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
import warnings
import weakref
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .precision import BF16, FP16, FP32

ENV = "NNI_JUPYTER_OPENVINO"
BACKEND = "openvino"
#: OpenVINO's name of each precision (its ``INFERENCE_PRECISION_HINT``).
HINTS = {FP32: "f32", BF16: "bf16", FP16: "f16"}


#: The longest an exiting interpreter waits for OpenVINO work in progress (seconds).
EXIT_WAIT_S = 300.0

_WORK = threading.Condition()
_RUNNING = [0]
_EXITING = threading.Event()


_DEPTH = threading.local()


@contextlib.contextmanager
def working() -> Iterator[None]:
    """Hold OpenVINO work in progress: an exiting interpreter waits for it to end. Refused
    (``RuntimeError``) once the interpreter exits, except inside work already held."""
    depth = getattr(_DEPTH, "value", 0)
    if depth:
        _DEPTH.value = depth + 1
        try:
            yield
        finally:
            _DEPTH.value = depth
        return
    _wait_at_exit()
    with _WORK:
        if _EXITING.is_set():
            raise RuntimeError("the Python interpreter is exiting: no OpenVINO work starts now")
        _RUNNING[0] += 1
    _DEPTH.value = 1
    try:
        yield
    finally:
        _DEPTH.value = 0
        with _WORK:
            _RUNNING[0] -= 1
            _WORK.notify_all()


@cache
def _wait_at_exit() -> None:
    """Register the wait once, after OpenVINO is imported: exit handlers run last registered
    first, so the wait comes before OpenVINO's own clean-up."""
    import openvino  # noqa: F401

    atexit.register(_wait_for_work)


def _wait_for_work() -> None:
    _EXITING.set()
    with _WORK:
        _WORK.wait_for(lambda: _RUNNING[0] == 0, timeout=EXIT_WAIT_S)


def available() -> bool:
    """Whether OpenVINO is installed and not turned off (``NNI_JUPYTER_OPENVINO=0``)."""
    if os.environ.get(ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def version() -> str:
    """OpenVINO's version (a measurement is cached per version)."""
    import openvino

    return str(openvino.__version__)


@cache
def _core() -> Any:
    import openvino

    return openvino.Core()


_DIGESTS: weakref.WeakKeyDictionary[nn.Module, str] = weakref.WeakKeyDictionary()


def weights_digest(network: nn.Module) -> str:
    """A SHA-256 of the network's parameters and buffers (names, shapes, values), whatever their
    memory layout: the exported graph holds the weights, so it is filed under them."""
    found = _DIGESTS.get(network)
    if found is not None:
        return found
    digest = hashlib.sha256()
    for name, tensor in network.state_dict().items():
        values = tensor.detach().to("cpu", torch.float32).contiguous()
        digest.update(f"{name}{list(values.shape)}".encode())
        digest.update(values.numpy())  # the buffer itself: no copy of v1.0's 400 MB
    _DIGESTS[network] = digest.hexdigest()[:24]
    return _DIGESTS[network]


def export(network: nn.Module, example: torch.Tensor, folder: Path) -> Path:
    """The network exported to OpenVINO's format in ``folder`` (``<digest>/network.xml``),
    traced on ``example`` (a small input: any later shape works); exported once per weights.
    Written into a temporary folder and renamed, so a killed export leaves nothing half done.
    A folder that cannot be written (a read-only home) gives way to the temporary folder."""
    target = folder / weights_digest(network)
    xml = target / "network.xml"
    if xml.is_file():
        return xml
    import openvino

    try:
        folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".export-", dir=folder))
    except OSError:  # a read-only cache (a shared home): this machine's temporary folder
        if folder.parent == Path(tempfile.gettempdir()):
            raise
        return export(network, example, Path(tempfile.gettempdir()) / "nni_jupyter_openvino")
    try:
        with working(), warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's remarks on Python control flow
            model = openvino.convert_model(network, example_input=example)
        openvino.save_model(model, staging / "network.xml", compress_to_fp16=False)
        try:
            staging.rename(target)
        except OSError:  # another process exported the same weights first
            if not xml.is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return xml


class OpenVinoRunner(nn.Module):
    """Runs the exported network for inputs of one shape, returning float32 logits as torch
    does; inputs of another shape run ``fallback`` (the torch network). One pass at a time."""

    def __init__(self, compiled: Any, shape: Sequence[int], precision: str, fallback: nn.Module):
        super().__init__()
        self.shape = tuple(int(n) for n in shape)
        self.precision = precision
        self.fallback = fallback
        self._request = compiled.create_infer_request()
        self._lock = threading.Lock()

    def forward(self, tensor: torch.Tensor) -> torch.Tensor:
        """The network's logits for ``tensor``."""
        if tuple(tensor.shape) != self.shape:
            result: torch.Tensor = self.fallback(tensor)
            return result
        values = np.ascontiguousarray(tensor.detach().to("cpu", torch.float32).numpy())
        with self._lock, working():
            logits = self._request.infer({0: values})[0]
            return torch.from_numpy(np.array(logits, dtype=np.float32))


def compile_runner(
    xml: Path, shape: Sequence[int], precision: str, threads: int, fallback: nn.Module
) -> OpenVinoRunner:
    """The exported network at ``xml`` compiled for inputs of ``shape`` in ``precision`` on
    ``threads`` CPU threads (what torch runs with); raises where OpenVINO cannot."""
    with working():
        core = _core()
        model = core.read_model(str(xml))
        model.reshape({0: list(shape)})
        compiled = core.compile_model(
            model,
            "CPU",
            {
                "INFERENCE_PRECISION_HINT": HINTS[precision],
                "INFERENCE_NUM_THREADS": max(1, threads),
                "PERFORMANCE_HINT": "LATENCY",
            },
        )
        return OpenVinoRunner(compiled, shape, precision, fallback)


_RUNNERS: weakref.WeakKeyDictionary[nn.Module, dict[str, OpenVinoRunner]] = (
    weakref.WeakKeyDictionary()
)


def keep(network: nn.Module, runner: OpenVinoRunner) -> None:
    """Make ``runner`` the one :func:`runner_of` gives for ``network`` in its precision."""
    _RUNNERS.setdefault(network, {})[runner.precision] = runner


def runner_of(network: nn.Module, precision: str) -> OpenVinoRunner:
    """The runner :func:`keep` made for ``network`` in ``precision``."""
    try:
        return _RUNNERS[network][precision]
    except KeyError:
        raise RuntimeError(
            f"no OpenVINO runner in {precision} was built for this network; the measurement "
            "of precision='auto' builds it"
        ) from None
