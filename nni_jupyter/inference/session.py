"""``nnInteractiveInferenceSession``: the reference's public API, orchestrating the modules here.

Model loading lives in :mod:`.checkpoint`, image statistics in :mod:`.preprocess`, prompt encoding
and decay in :mod:`.channels`, windows and the border test in :mod:`.autozoom`, one prediction in
:mod:`.prediction`, refinement in :mod:`.refine`, undo in :mod:`.history`, :mod:`.state` and
:mod:`.undo`, input checks in :mod:`.validation`.

Where this deliberately differs from nnInteractive 2.6.0:

- bad input raises ``ValueError`` before anything changes (a point outside the image, an empty or
  multi-slice scribble or lasso, a box outside the image), where the reference ignores or accepts
  it; scribble and lasso masks are binarised (``!= 0``);
- undo is multi-level and there is ``redo``; ``reset_interactions`` also drops queued prompts;
- the network is built from ``plans.json`` alone (the checkpoint's trainer class is not imported);
- the image is kept in its own dtype and z-scored per crop; its mean and std are computed in
  float64 (the reference's float32 mean can differ in the last bit);
- interactions are stored in sparse tiles instead of a dense float16 volume; the target buffer
  and an initial segmentation may be a :class:`~nni_jupyter.volumes.SparseVolume` (for images
  larger than memory), written chunk by chunk;
- a refinement box whose margin leaves no core (patches under 49 voxels) covers its centre voxel
  instead of failing;
- on a CPU, ``precision="auto"`` (the default) measures which precision, memory layout and
  compile setting run fastest on this machine with masks that agree with float32's
  (:mod:`.tuning`; bfloat16 keeps the segmentation layers in float32), and, where the
  ``openvino`` extra is installed, whether the network exported to OpenVINO runs faster still
  (:mod:`.openvino_backend`); ``precision="fp32"`` gives the reference's float32 numbers.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from ..volumes.lazy import LazyVolume
from ..volumes.sparse import SparseVolume
from . import autotune, devices, timing, validation
from . import precision as precisions
from .autozoom import InputBuilder, predict, prompt_center_and_zoom
from .candidates import runner_for
from .channels import Decay, box_region, mask_values, point_stamp
from .checkpoint import LoadedModel
from .cpus import usable_cpus
from .history import History
from .prediction import PredictionRun
from .preprocess import PreprocessedImage, preprocess_image
from .regions import Bbox, clip_bbox, nonzero_bbox, to_local, to_slices
from .shared import SharedNetwork, dummy_input, load_shared
from .state import SegmentationState, as_target_tensor, zero_target
from .store import InteractionStore
from .tuning import Choice
from .undo import UndoRedoMixin
from .warm import compiling_runner

STORAGE_OPTIONS = ("auto", "tensor", "blosc2")


class _Ready(NamedTuple):
    """What a prompt works with once a model and an image are set."""

    model: LoadedModel
    image: PreprocessedImage
    state: SegmentationState
    decay: Decay
    builder: InputBuilder
    runner: torch.nn.Module


class nnInteractiveInferenceSession(UndoRedoMixin):  # noqa: N801 - the reference's name, kept for drop-in use
    """Promptable 3-D segmentation with an nnInteractive checkpoint.

    Parameters
    ----------
    device
        Compute device, or ``"auto"`` (CUDA > MPS > CPU).
    use_torch_compile
        Compile the network: ``"auto"`` (default) on CUDA only, or ``True``/``False``. It
        compiles on a thread after loading (about half a minute for nnInteractive v1.0) while
        the eager network answers the prompts; then the compiled one does (about twice as fast
        on a GPU). If compiling fails, a warning says why and the eager network stays.
    verbose
        Print progress.
    torch_n_threads
        CPU threads for torch (capped at the CPUs this process may use: its affinity mask
        and cgroup quota, not the node's core count).
    do_autozoom
        Zoom out when a prediction runs into its window's border.
    use_pinned_memory
        Stage host-to-GPU copies in page-locked memory (CUDA only).
    interactions_storage
        Accepted for compatibility with nnInteractive 2.x (``"auto"``, ``"tensor"``,
        ``"blosc2"``); interactions are always kept in sparse tiles here.
    enable_undo, max_undo_steps, max_undo_bytes
        Multi-level undo/redo and its bounds.
    optimize_cpu_graph
        Experimental, off by default: on CPU, trace and freeze the network so oneDNN prepacks
        its convolutions. The first two predictions are slow (TorchScript profiles), the gain
        afterwards is small and not always there, and loading costs extra memory.
    print_license
        Print the model's licence when a model loads (``load_session`` and the Segmenter show
        their own notice instead).
    precision
        Precision of the network's forward passes: ``"auto"`` (float16 autocast on CUDA, as
        nnInteractive; on a CPU the fastest of float32, bfloat16 and float16, contiguous or
        channels-last, compiled or not as ``use_torch_compile`` allows, in torch or exported
        to OpenVINO where it is installed, measured once per machine and cached:
        :mod:`.tuning`; float32 elsewhere), or ``"fp32"`` (the parity
        mode: the reference's numbers on CPU), ``"bf16"`` (CPU, CUDA), ``"fp16"`` (CUDA, MPS)
        to force one. The attribute ``precision`` holds the one in use, ``tuning`` the
        measured choice and ``performance`` a line saying why.
    """

    #: A prompt that fails (an error, an interrupt, out of memory) leaves the session as it was
    #: before it, so a caller need not restart it from the masks (the remote engine does not).
    keeps_state_on_failure = True

    def __init__(
        self,
        device: torch.device | str = "auto",
        use_torch_compile: bool | str = "auto",
        verbose: bool = False,
        torch_n_threads: int = 8,
        do_autozoom: bool = True,
        use_pinned_memory: bool = True,
        interactions_storage: str = "auto",
        enable_undo: bool = True,
        max_undo_steps: int = 32,
        max_undo_bytes: int = 512 * 1024**2,
        optimize_cpu_graph: bool = False,
        print_license: bool = True,
        precision: str = precisions.AUTO,
    ):
        if interactions_storage not in STORAGE_OPTIONS:
            raise ValueError(
                f"interactions_storage must be one of {STORAGE_OPTIONS}; "
                f"got {interactions_storage!r}"
            )
        self.device = devices.pick_device(device)
        self.precision = precisions.resolve(precision, self.device)
        self.precision_setting = precision
        #: Whether ``precision="auto"`` is measured here (on a CPU: :mod:`.tuning`); the
        #: network runs in fp32 until the choice is known, then as :attr:`tuning` says.
        self.measures_precision = autotune.applies(precision, self.device) and not (
            optimize_cpu_graph  # the traced graph is its own experiment: not measured against
        )
        if self.measures_precision:
            self.precision = precisions.FP32
        #: The measured choice (``tuning.reason`` says why), None until known.
        self.tuning: Choice | None = None
        self._tuner: autotune.Tuner | None = None
        self._performance_listeners: list[Callable[[str], None]] = []
        devices.configure_backend(self.device)
        self.torch_n_threads = devices.configure_threads(torch_n_threads)
        self.cpu_budget = usable_cpus()
        self.compile_setting = devices.check_compile_setting(use_torch_compile)
        #: Whether the network compiles (known for ``"auto"`` once a model is loaded).
        self.use_torch_compile = devices.wants_compile(self.compile_setting, self.device)
        self._warming: threading.Thread | None = None
        self._tuning: threading.Thread | None = None
        self._compiling: threading.Thread | None = None
        self.verbose = verbose
        self.print_license = print_license
        self.do_autozoom = bool(do_autozoom)
        self.use_pinned_memory = devices.uses_pinned_memory(self.device, use_pinned_memory)
        self.interactions_storage = interactions_storage
        self.supports_undo = bool(enable_undo)
        self.optimize_cpu_graph = bool(optimize_cpu_graph)
        self.history = History(max_undo_steps, max_undo_bytes)
        self.network: torch.nn.Module | None = None
        self._runner: torch.nn.Module | None = None
        self._shared: SharedNetwork | None = None
        self.model: LoadedModel | None = None
        self.license: str | None = None
        self.preferred_scribble_thickness: list[int] = [2, 2, 2]
        self.supported_interactions: dict[str, bool] = {}
        self.refinement_rng: Any = None
        self._image: PreprocessedImage | None = None
        self._state: SegmentationState | None = None
        self._builder: InputBuilder | None = None
        self._decay: Decay | None = None
        self._queue: list[tuple[list[int], float]] = []
        self.target_buffer: np.ndarray | torch.Tensor | SparseVolume | None = None
        self.original_image_shape: tuple[int, ...] | None = None
        self.last_changed_bbox: Bbox | None = None

    # ------------------------------------------------------------------ model
    def initialize_from_trained_model_folder(
        self,
        model_training_output_dir: str | Path,
        use_fold: int | str | None = None,
        checkpoint_name: str = "checkpoint_final.pth",
    ) -> None:
        """Load a trained model folder (official nnInteractive layout) and warm the network up.

        Parameters
        ----------
        model_training_output_dir
            Folder with ``plans.json``, ``dataset.json``, ``inference_info.json`` and ``fold_*``.
        use_fold
            Fold to load; None requires exactly one ``fold_*`` folder; ``"all"`` is allowed.
        checkpoint_name
            Checkpoint file inside the fold folder.
        """
        shared = load_shared(
            model_training_output_dir,
            use_fold,
            checkpoint_name,
            self.device,
            False if self.measures_precision else self.compile_setting,
            self.optimize_cpu_graph,
            precisions.AUTO if self.measures_precision else self.precision,
        )
        model = shared.model
        self.use_torch_compile = shared.compiles
        if self._image is not None and self._image.num_channels != model.num_image_channels:
            raise ValueError(
                f"the image set earlier has {self._image.num_channels} channel(s) but the model "
                f"takes {model.num_image_channels}; call set_image again after loading"
            )
        self._shared = shared  # keeps the shared network alive as long as this session
        self.model = model
        # ``network`` stays the nn.Module (parameters countable); ``_runner`` is what runs.
        self.network = shared.network
        self._runner = precisions.Autocast(
            shared.runner, self.device, self.precision, eager=shared.network
        )
        self.license = model.license
        self.preferred_scribble_thickness = list(model.settings.preferred_scribble_thickness)
        self.supported_interactions = dict(model.settings.supported_interactions)
        if self.print_license:
            print("=" * 80 + f"\nModel license:\n{self.license}\n" + "=" * 80)
        if self.measures_precision:  # cached or cheap: chosen here; else on a thread
            channels = model.num_image_channels + model.settings.num_interaction_channels
            self._tuner = autotune.Tuner(
                shared.network, model.patch_size, channels, self.device, self.compile_setting
            )
            self._tuning = self._tuner.start(self._use_choice)
        if self._warming_pays():  # not a daemon: it is short, and exiting mid-pass aborts
            self._warming = threading.Thread(target=self._warm_up, name="nni_jupyter-warmup")
            self._warming.start()
        elif self._cheap_on_cpu():  # the first pass builds the CPU kernels: do it here, briefly
            self.warmup()
        if self._image is not None:
            self._start_image_state()

    @property
    def interaction_decay(self) -> float | None:
        """Weight a prompt keeps per newer prompt (from the model folder)."""
        return None if self.model is None else self.model.settings.interaction_decay

    @property
    def patch_size(self) -> list[int] | None:
        """The network's patch size."""
        return None if self.model is None else list(self.model.patch_size)

    def warmup(self) -> None:
        """One dummy forward pass where it pays: on CUDA (the cuDNN autotuning) or when
        compiling, loading runs it on a thread of its own, then compiles the network when
        compiling, so prompts never wait for either (they run the eager network meanwhile;
        :meth:`wait_until_warm` waits for both); a cheap CPU network runs it while loading."""
        if self.model is None or self._runner is None:
            raise RuntimeError(
                "warmup() needs a loaded model; call initialize_from_trained_model_folder"
            )
        if not (self._warming_pays() or self._cheap_on_cpu()):
            return
        with devices.inference(self.device):
            predict(self._runner, dummy_input(self.model, self.device)[0])

    def _use_choice(self, choice: Choice) -> None:
        """Run the network as the measured ``choice`` says, from the next prompt on."""
        if self.network is None:
            return
        self.tuning = choice
        self.use_torch_compile = choice.candidate.compiled
        self._runner = runner_for(self.network, self.device, choice.candidate)
        self.precision = choice.candidate.precision
        said = self.performance
        for listener in list(self._performance_listeners):
            listener(said)

    def add_performance_listener(self, listener: Callable[[str], None]) -> None:
        """Call ``listener`` with :attr:`performance` whenever it changes after loading (the
        measured choice arrives, a compiled or OpenVINO runner is judged). It may be called from
        a background thread."""
        self._performance_listeners.append(listener)

    @property
    def performance(self) -> str:
        """What the status line says about speed: the precision chosen and why, and the
        threads (``"bf16 channels-last: 2.3x fp32 on this CPU (measured); 2 threads (2 CPUs:
        affinity)"``)."""
        measuring = self._tuning is not None and self._tuning.is_alive()
        said = autotune.describe(self.tuning, self.precision, measuring, self.precision_setting)
        if self.device.type != "cpu":
            return said
        return f"{said}; {self.cpu_budget.describe(self.torch_n_threads)}"

    def _warm_up(self) -> None:
        if self.device.type == "cuda":  # cuDNN's autotuning; a CPU goes straight to compiling
            self.warmup()
        compiling = None if self._runner is None else compiling_runner(self._runner)
        if compiling is None or self.model is None:
            return
        example = dummy_input(self.model, self.device)

        def context() -> contextlib.ExitStack:
            stack = contextlib.ExitStack()
            stack.enter_context(devices.inference(self.device))
            stack.enter_context(precisions.autocast(self.device, self.precision))
            return stack

        # a daemon: a script may end before a half-minute compile does
        self._compiling = threading.Thread(
            target=compiling.compile_now,
            args=(example, context),
            name="nni_jupyter-compile",
            daemon=True,
        )
        self._compiling.start()

    def _warming_pays(self) -> bool:
        """A warm-up thread: on CUDA (cuDNN autotuning) and when compiling."""
        return self.model is not None and (self.device.type == "cuda" or self.use_torch_compile)

    def _cheap_on_cpu(self) -> bool:
        """A CPU network whose pass is cheap: its first pass (building the CPU kernels) takes
        several times the next, so loading runs it (a fraction of a second for the demo model).
        nnInteractive v1.0 is not: a pass takes 20 s or more, and its first costs little more."""
        if self.model is None or self.device.type != "cpu":
            return False
        cost = devices.forward_cost(self.model.network, self.model.patch_size)
        return cost <= devices.CHEAP_FORWARD

    def wait_until_warm(self, timeout: float | None = None) -> bool:
        """Wait for the warm-up (and compiling) started at loading; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for attribute in ("_tuning", "_warming", "_compiling"):
            thread = getattr(self, attribute)  # the compile thread starts after the warm-up
            if thread is None:
                continue
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                return False
        return True

    @property
    def compiled(self) -> bool:
        """Whether prompts now run the compiled network."""
        compiling = None if self._runner is None else compiling_runner(self._runner)
        return compiling is not None and compiling.ready

    # ------------------------------------------------------------------ image and buffer
    def set_image(
        self,
        image: np.ndarray | torch.Tensor | LazyVolume,
        image_properties: dict[str, Any] | None = None,
    ) -> None:
        """Set the image ``[1, X, Y, Z]`` in raw intensities (spacing in ``image_properties`` is
        accepted and unused, as in nnInteractive). Clears prompts, history and target buffer.

        A :class:`~nni_jupyter.volumes.LazyVolume` (Zarr, Dask, memory map) is not copied: its
        statistics are streamed once and each prompt reads only the regions it needs."""
        channels = None if self.model is None else self.model.num_image_channels
        checked = validation.check_image(image, channels)
        with timing.span("preprocess"):
            preprocessed = preprocess_image(checked)
        self._image = preprocessed
        self.original_image_shape = tuple(image.shape)
        self.target_buffer = None
        self._state = None
        self._start_image_state()

    def _start_image_state(self) -> None:
        self.history.clear()
        self._queue = []
        self.last_changed_bbox = None
        if self.model is None or self._image is None:
            return
        settings = self.model.settings
        store = InteractionStore(settings.num_interaction_channels, self._image.spatial_shape)
        prev_channel = settings.channel_mapping["prev_seg"]
        self._state = SegmentationState(store, prev_channel, self.history)
        if self.target_buffer is not None:
            self._state.target = as_target_tensor(self.target_buffer)
        self._decay = Decay(settings.interaction_decay)
        dilate = [
            channel
            for key in ("points", "scribble")
            if settings.supported_interactions.get(key) and key in settings.channel_mapping
            for channel in settings.channel_mapping[key]
        ]
        self._builder = InputBuilder(
            self._image,
            store,
            self._decay,
            prev_channel,
            tuple(sorted(set(dilate))),
            list(self.model.patch_size),
            self.device,
            self.use_pinned_memory,
        )

    #: Target buffers and initial segmentations may be a SparseVolume (the Segmenter checks this).
    accepts_sparse = True

    def set_target_buffer(self, target_buffer: np.ndarray | torch.Tensor | SparseVolume) -> None:
        """Set the 3-D array (numpy or torch, any device, or a writable
        :class:`~nni_jupyter.volumes.SparseVolume`) that predictions are written into."""
        shape = None if self._image is None else self._image.spatial_shape
        validation.check_target_buffer(target_buffer, shape)
        self.target_buffer = target_buffer
        if self._state is not None:
            self._state.target = as_target_tensor(target_buffer)

    def set_do_autozoom(self, do_autozoom: bool) -> None:
        """Switch AutoZoom on or off."""
        self.do_autozoom = bool(do_autozoom)

    def reset_interactions(self) -> None:
        """Forget every prompt and the initial segmentation, zero the target buffer, clear undo."""
        self.history.clear()
        self._queue = []
        if self._state is not None:
            self._state.store.clear()
            if self._state.target is not None:
                zero_target(self._state.target)
        elif self.target_buffer is not None:
            zero_target(as_target_tensor(self.target_buffer))
        if self._decay is not None:
            self._decay.reset()
        self.last_changed_bbox = None

    # ------------------------------------------------------------------ prompts
    def _ready(self) -> _Ready:
        validation.check_ready(self.model is not None, self._image is not None)
        parts = (self.model, self._image, self._state, self._decay, self._builder, self._runner)
        model, image, state, decay, builder, runner = parts
        if (
            model is None
            or image is None
            or state is None
            or decay is None
            or builder is None
            or runner is None
        ):
            named = zip(_Ready._fields, parts, strict=True)
            missing = [name for name, part in named if part is None]
            raise RuntimeError(
                f"the session lacks its {missing} although a model and an image are set; "
                "call set_image(image) again"
            )
        return _Ready(model, image, state, decay, builder, runner)

    def _channels(self, ready: _Ready, key: str, include: bool) -> int:
        positive, negative = ready.model.settings.channel_mapping[key]
        return int(positive) if include else int(negative)

    def _supports(self, key: str, override: bool) -> bool:
        return override or bool(self.supported_interactions.get(key, False))

    def add_point_interaction(
        self,
        coordinates: Any,
        include_interaction: bool,
        run_prediction: bool = True,
        override_capability_checks: bool = False,
    ) -> Bbox | None:
        """Add a point at voxel ``(x, y, z)``; positive when ``include_interaction``. Returns the
        half-open bbox the prediction wrote, or None without one (as every ``add_*``)."""
        ready = self._ready()
        shape = ready.image.spatial_shape
        validation.check_supported("point", self._supports("points", override_capability_checks))
        center = validation.check_point(coordinates, shape)
        channel = self._channels(ready, "points", include_interaction)
        with self._step():
            with timing.span("encode"):
                self._queue.append((center, 1))
                self._advance_decay(ready)
                stamp = point_stamp(
                    center, shape, ready.model.settings.point_radius, ready.decay.intensity
                )
                if stamp is not None:
                    ready.state.max_channel(channel, *stamp)
            return self._predict(ready) if run_prediction else None

    def add_bbox_interaction(
        self,
        bbox_coords: Any,
        include_interaction: bool,
        run_prediction: bool = True,
        override_capability_checks: bool = False,
    ) -> Bbox | None:
        """Add a half-open box ``[[x0, x1], [y0, y1], [z0, z1]]`` (2-D: one axis one voxel
        thick); returns the bbox written, or None."""
        ready = self._ready()
        shape = ready.image.spatial_shape
        sizes = validation.check_box(
            bbox_coords,
            shape,
            bbox3d=self._supports("bbox3d", override_capability_checks),
            bbox2d=self._supports("bbox2d", override_capability_checks),
        )
        kind = "bbox2d" if 1 in sizes and self._supports("bbox2d", False) else "bbox3d"
        channel = self._channels(ready, kind, include_interaction)
        region = box_region(bbox_coords, shape)
        with self._step():
            with timing.span("encode"):
                self._queue.append(prompt_center_and_zoom(region, ready.model.patch_size))
                self._advance_decay(ready)
                values = torch.full(
                    [hi - lo for lo, hi in region], ready.decay.intensity, dtype=torch.float16
                )
                ready.state.write_channel(channel, region, values)
            return self._predict(ready) if run_prediction else None

    def add_scribble_interaction(
        self,
        scribble_image: Any,
        include_interaction: bool,
        run_prediction: bool = True,
        override_capability_checks: bool = False,
        interaction_bbox: Any = None,
    ) -> Bbox | None:
        """Add a scribble: a 0/1 mask on one slice, full-volume or a crop at ``interaction_bbox``;
        returns the bbox written, or None."""
        options = (run_prediction, override_capability_checks, interaction_bbox)
        return self._add_mask_prompt("scribble", scribble_image, include_interaction, *options)

    def add_lasso_interaction(
        self,
        lasso_image: Any,
        include_interaction: bool,
        run_prediction: bool = True,
        override_capability_checks: bool = False,
        interaction_bbox: Any = None,
    ) -> Bbox | None:
        """Add a lasso: a filled closed contour on one slice, full-volume or a crop (as for
        :meth:`add_scribble_interaction`); returns the bbox written, or None."""
        options = (run_prediction, override_capability_checks, interaction_bbox)
        return self._add_mask_prompt("lasso", lasso_image, include_interaction, *options)

    def _add_mask_prompt(
        self, key: str, mask: Any, include: bool, run_prediction: bool, override: bool, bbox: Any
    ) -> Bbox | None:
        ready = self._ready()
        validation.check_supported(key, self._supports(key, override))
        tensor, placement, extent = validation.check_mask_prompt(
            mask, key, ready.image.spatial_shape, bbox
        )
        channel = self._channels(ready, key, include)
        with self._step():
            with timing.span("encode"):
                self._queue.append(prompt_center_and_zoom(extent, ready.model.patch_size))
                self._advance_decay(ready)
                local = to_slices(to_local(extent, placement))
                values = mask_values(tensor[local], ready.decay.intensity)
                ready.state.max_channel(channel, extent, values)
            return self._predict(ready) if run_prediction else None

    def add_initial_seg_interaction(
        self,
        initial_seg: Any,
        run_prediction: bool = False,
        override_capability_checks: bool = False,
    ) -> Bbox | None:
        """Start from an existing segmentation: clears prompts, writes it into the target buffer
        and the previous-segmentation channel; with ``run_prediction`` refines the whole object.
        ``initial_seg`` may be a :class:`~nni_jupyter.volumes.SparseVolume`: it is then written
        chunk by chunk, never made dense (unless the target buffer is).

        Returns
        -------
        list or None
            The half-open bbox written by the refinement, or None without one.
        """
        ready = self._ready()
        state, shape = ready.state, ready.image.spatial_shape
        supported = override_capability_checks or ready.model.settings.supports_initial_label
        validation.check_supported("initial segmentation", supported)
        seg = validation.check_initial_seg(initial_seg, shape)
        whole = [[0, s] for s in shape]
        with self._step():
            state.clear_interactions()
            ready.decay.reset()
            self._queue.clear()
            if isinstance(seg, SparseVolume):
                state.write_sparse_segmentation(seg)
                extent = seg.nonzero_bbox()
            else:
                state.write_channel(state.prev_channel, whole, seg.to(torch.float16))
                state.write_target(whole, seg)
                extent = nonzero_bbox(seg)
            if not run_prediction or extent is None:
                return None
            self._queue.append(prompt_center_and_zoom(extent, ready.model.patch_size))
            return self._predict(ready, force_full_refine=True)

    def _advance_decay(self, ready: _Ready) -> None:
        factor = ready.decay.advance()
        if factor is not None:
            prev = ready.state.prev_channel
            channels = [c for c in range(ready.state.store.num_channels) if c != prev]
            ready.state.scale_channels(channels, factor)

    # ------------------------------------------------------------------ prediction
    def _predict(self, ready: _Ready, force_full_refine: bool = False) -> Bbox | None:
        """Predict around the last queued prompt; return the written bbox (clipped) or None."""
        if not self._queue:
            return None
        center, zoom = self._queue[-1]
        run = PredictionRun(
            ready.builder,
            ready.runner,
            ready.state,
            self.device,
            self.refinement_rng,
            self.verbose,
        )
        written = run.predict(center, zoom, self.do_autozoom, force_full_refine)
        self._queue.clear()
        clipped = clip_bbox(written, ready.image.spatial_shape)
        self.last_changed_bbox = clipped
        return clipped


#: Short name used across nni_jupyter.
InferenceSession = nnInteractiveInferenceSession
