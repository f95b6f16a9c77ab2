"""Types of the names ``nni_jupyter`` loads on first use (see ``__init__.py``)."""

from . import (
    annotation as annotation,
)
from . import (
    data as data,
)
from . import (
    demo as demo,
)
from . import (
    evaluation as evaluation,
)
from . import (
    exports as exports,
)
from . import (
    inference as inference,
)
from . import (
    io as io,
)
from . import (
    plot as plot,
)
from . import (
    remote as remote,
)
from . import (
    study as study,
)
from . import (
    weights as weights,
)
from . import (
    widget as widget,
)
from ._version import __version__ as __version__
from .annotation import Annotation as Annotation
from .annotation.log import read as read_prompt_log
from .demo import demo_model_path as demo_model_path
from .exports import (
    write_dicom_seg as write_dicom_seg,
)
from .exports import (
    write_labels_table as write_labels_table,
)
from .exports import (
    write_ome_zarr as write_ome_zarr,
)
from .image import Image as Image
from .inference import (
    InferenceSession as InferenceSession,
)
from .inference import (
    nnInteractiveInferenceSession as nnInteractiveInferenceSession,
)
from .inference import (
    pick_device as pick_device,
)
from .inference.benchmark import benchmark_device as benchmark_device
from .io import (
    read_image as read_image,
)
from .io import (
    write_image as write_image,
)
from .io import (
    write_labels as write_labels,
)
from .io import (
    write_mask as write_mask,
)
from .measurements import measure as measure
from .remote import check_server as check_server
from .remote import remote_session as remote_session
from .study import Study as Study
from .surfaces import live_view3d as live_view3d
from .surfaces import view3d as view3d
from .weights import (
    download_weights as download_weights,
)
from .weights import (
    find_model as find_model,
)
from .weights import (
    list_models as list_models,
)
from .weights import (
    load_session as load_session,
)
from .widget import Prompt as Prompt
from .widget import Segmenter as Segmenter

__all__ = [
    "Annotation",
    "Image",
    "InferenceSession",
    "Prompt",
    "Segmenter",
    "Study",
    "__version__",
    "annotation",
    "benchmark_device",
    "check_server",
    "data",
    "demo",
    "demo_model_path",
    "download_weights",
    "evaluation",
    "exports",
    "find_model",
    "inference",
    "io",
    "list_models",
    "live_view3d",
    "load_session",
    "measure",
    "nnInteractiveInferenceSession",
    "pick_device",
    "plot",
    "read_image",
    "read_prompt_log",
    "remote",
    "remote_session",
    "study",
    "view3d",
    "weights",
    "widget",
    "write_dicom_seg",
    "write_image",
    "write_labels",
    "write_labels_table",
    "write_mask",
    "write_ome_zarr",
]
