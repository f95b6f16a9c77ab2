"""DICOM-SEG with highdicom: one segment per object, referencing the source series' slices.

Frame ``k`` of the segmentation is slice ``k`` of the source series (axis 2 of the ``[X, Y, Z]``
array); a DICOM frame is ``rows x columns = y x x``, so frame ``k`` is ``labels[:, :, k].T``.
The source files are those :func:`nni_jupyter.read_image` recorded for the series
(:data:`nni_jupyter.io.dicom.SOURCE_FILES_KEY`), read again with pydicom for their identities.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..atomic import replace_atomically
from ..image import Image
from ..io.dicom import MISSING_SLICES_KEY, SOURCE_FILES_KEY
from .segments import PerObject, Segment, check_labels, require, segments

MANUFACTURER = "nni_jupyter"


def _source_files(like: Image) -> list[str]:
    files = like.metadata.get(SOURCE_FILES_KEY, "")
    if not files:
        raise ValueError(
            "write_dicom_seg needs like= an image read with nni_jupyter.read_image from a DICOM "
            "series folder (it references the series' files); this image has no source files"
        )
    if like.metadata.get(MISSING_SLICES_KEY):
        raise ValueError(
            "this series was read with allow_gaps=True: its inserted slices have no source file "
            "for a DICOM-SEG frame to reference; export NIfTI or OME-Zarr instead"
        )
    return files.split("\n")


def _description(hd: Any, segment: Segment, number: int, algorithm: Any) -> Any:
    tissue = hd.sr.CodedConcept("85756007", "SCT", "Tissue")
    description = hd.seg.SegmentDescription(
        segment_number=number,
        segment_label=segment.name,
        segmented_property_category=tissue,
        segmented_property_type=tissue,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
        algorithm_identification=algorithm,
        display_color=hd.color.CIELabColor.from_rgb(*segment.color),
    )
    description.SegmentDescription = f"label {segment.label}; class_id {segment.class_id}"
    return description


def write_dicom_seg(
    labels: Any,
    path: str | Path,
    like: Image,
    names: PerObject[str] = None,
    class_ids: PerObject[int] = None,
    colors: PerObject[Sequence[int]] = None,
    model: tuple[str, str] = ("nni_jupyter", __version__),
) -> Path:
    """Write a label map as a binary DICOM Segmentation of the series ``like`` was read from.

    Parameters
    ----------
    labels
        Label map ``[X, Y, Z]`` on ``like``'s grid: 0 = background, one segment per other value.
    path
        The ``.dcm`` file to write (atomically).
    like
        The :class:`nni_jupyter.Image` :func:`nni_jupyter.read_image` returned for a DICOM series
        folder; its files must still be there. Slices without SliceThickness are taken to be as
        thick as the slice spacing, as viewers take them (the files are not changed).
    names, class_ids, colors
        Per object: ``{label: value}`` or one value per label in order. A segment's label is its
        name, its description ``"label <label>; class_id <class id>"``, its display colour the
        RGB colour in CIELab.
    model
        ``(name, version)`` of the model, written as the segments' algorithm identification
        (algorithm type SEMIAUTOMATIC: prompted by a person; source ``nni_jupyter <version>``).

    Returns
    -------
    Path
        The file written. Segment ``n`` (1-based) is the ``n``-th object in label order.
    """
    hd, pydicom = require("dicom", "highdicom", "pydicom")
    labels = check_labels(labels)
    if labels.shape != like.shape:
        raise ValueError(f"labels shape {labels.shape} differs from the image's {like.shape}")
    found = segments(labels, names, class_ids, colors)
    if not found:
        raise ValueError("labels hold no object (all zero); a DICOM-SEG needs at least one")
    sources = [pydicom.dcmread(name) for name in _source_files(like)]
    for source in sources:
        if not source.get("SliceThickness"):
            # as viewers do: a slice is as thick as the spacing between slices (in memory only)
            source.SliceThickness = like.spacing_mm[2]
    algorithm = hd.AlgorithmIdentificationSequence(
        name=model[0],
        family=pydicom.sr.codedict.codes.cid7162.ArtificialIntelligence,
        version=model[1],
        source=f"nni_jupyter {__version__}",
    )
    # segment n is the n-th object: renumber so segment numbers run 1..N without gaps
    numbers = np.zeros(int(labels.max()) + 1, np.uint16)
    numbers[[s.label for s in found]] = np.arange(1, len(found) + 1)
    frames = numbers[labels].transpose(2, 1, 0)  # [z, y, x]: frame k is source slice k
    seg = hd.seg.Segmentation(
        source_images=sources,
        pixel_array=frames,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=[
            _description(hd, segment, n, algorithm) for n, segment in enumerate(found, 1)
        ],
        series_instance_uid=hd.UID(),
        series_number=1,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name=model[0],
        software_versions=f"nni_jupyter {__version__}",
        device_serial_number="none",
    )
    return replace_atomically(Path(path).expanduser(), lambda staged: seg.save_as(staged))
