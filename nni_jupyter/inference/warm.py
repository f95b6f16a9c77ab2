"""Compile the network on a thread while the eager one answers the clicks.

``torch.compile`` makes nnInteractive v1.0 about twice as fast on a CUDA GPU (and, with frozen
weights, a third faster in bfloat16 on a CPU), but the first call compiles for half a minute to a
minute. Nobody should wait that long for their first mask, so a
:class:`CompilingRunner` runs the eager network until the session's warm-up thread has compiled
the network and run it once on an input of the patch's shape, in the session's precision; from
then on it runs the compiled one. When compiling fails (no compiler, an unsupported operation), it
warns once and stays eager: compiling is an optimisation, never a requirement.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

#: The states of a :class:`CompilingRunner`, in order (``"failed"`` ends it instead of ``ready``).
WAITING, COMPILING, READY, FAILED = "waiting", "compiling", "ready", "failed"


class CompilingRunner(nn.Module):
    """``network``, eager until its compiled twin is ready.

    Parameters
    ----------
    network
        The eager network (kept as is, so its parameters are shared with the compiled one).
    compile_fn
        Makes the compiled module (``torch.compile`` by default; tests pass their own).
    """

    def __init__(
        self,
        network: nn.Module,
        compile_fn: Callable[[nn.Module], Callable[..., Any]] | None = None,
    ):
        super().__init__()
        self.network = network
        self._compile_fn = compile_fn or torch.compile
        self._compiled: Callable[..., Any] | None = None
        self._lock = threading.Lock()
        self._done = threading.Event()
        self.state = WAITING
        self.error: BaseException | None = None

    def forward(self, x: torch.Tensor) -> Any:
        compiled = self._compiled  # set once, when the warm-up call succeeded
        if compiled is not None:
            return compiled(x)
        return self.network(x)

    @property
    def ready(self) -> bool:
        """Whether calls now go to the compiled network."""
        return self._compiled is not None

    def compile_now(
        self,
        example: torch.Tensor,
        context: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
    ) -> bool:
        """Compile, and warm the compiled network up on ``example`` inside ``context()``
        (inference mode and the session's autocast, as the prompts run); from then on calls go
        to it. Runs on the caller's thread (a session's warm-up thread); returns False when
        compiling had already started (sessions share a network) or failed."""
        with self._lock:
            if self.state != WAITING:
                return False
            self.state = COMPILING
        try:
            compiled = self._compile_fn(self.network)
            with context(), _compile_options(example.device):  # compiles on this first call
                # a copy made inside the context: an inference tensor in inference mode, as
                # the prompts' inputs are (else their first call would compile again)
                compiled(example.clone())
            if example.device.type == "cuda":
                torch.cuda.synchronize(example.device)
            self._compiled = compiled
            self.state = READY
        except Exception as error:  # noqa: BLE001 - any failure means: stay eager
            self.error = error
            self.state = FAILED
            warnings.warn(
                f"compiling the network failed, so it keeps running uncompiled: {error}",
                stacklevel=2,
            )
        finally:
            self._done.set()
        return self.state == READY

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until compiling has ended (ready or failed); False on timeout or when it was
        never started."""
        if self.state == WAITING:
            return False
        return self._done.wait(timeout)


def _compile_options(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """Inductor settings while the first call compiles: on a CPU, frozen weights (constants
    that oneDNN prepacks, with norms and activations fused around them): a third off a bfloat16
    pass of nnInteractive v1.0, where compiling without them gains nothing."""
    if device.type != "cpu":
        return contextlib.nullcontext()
    from torch._inductor import config

    frozen: contextlib.AbstractContextManager[Any] = config.patch(freezing=True)
    return frozen


def compiling_runner(runner: nn.Module) -> CompilingRunner | None:
    """The :class:`CompilingRunner` inside ``runner`` (itself, or what a wrapper such as
    :class:`~.precision.Autocast` holds as ``network``), or None."""
    found: Any = runner
    while isinstance(found, nn.Module):
        if isinstance(found, CompilingRunner):
            return found
        found = getattr(found, "network", None)
    return None
