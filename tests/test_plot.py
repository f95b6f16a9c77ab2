"""nni_jupyter.plot figures rendered to PNG, checked pixel by pixel."""

from __future__ import annotations

import io

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="needs the [plot] extra: pip install nni_jupyter[plot]")

from nni_jupyter.plot import as_label_map, dice_curve, label_color, overview  # noqa: E402


def _png_pixels(figure) -> np.ndarray:
    """RGB pixels (0..255) of the figure saved as PNG, read back."""
    import matplotlib.image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=60)
    buffer.seek(0)
    return (matplotlib.image.imread(buffer, format="png")[..., :3] * 255).round().astype(int)


def _count_color(pixels: np.ndarray, rgb: tuple[float, float, float], tol: int = 6) -> int:
    target = np.round(np.asarray(rgb) * 255).astype(int)
    return int((np.abs(pixels - target).max(axis=-1) <= tol).sum())


def _scene() -> tuple[np.ndarray, np.ndarray]:
    image = np.zeros((40, 36, 30), np.float32)
    labels = np.zeros(image.shape, np.uint16)
    labels[5:15, 6:16, 4:12] = 1
    labels[22:34, 18:30, 14:26] = 2
    return image, labels


def test_overview_shows_each_label_in_its_colour() -> None:
    image, labels = _scene()
    pixels = _png_pixels(overview(image, labels, alpha=1.0))
    assert _count_color(pixels, label_color(1)) > 50
    assert _count_color(pixels, label_color(2)) > 50
    assert _count_color(pixels, label_color(3)) == 0


def test_overview_without_labels_has_no_overlay_colour() -> None:
    image, _ = _scene()
    image[:] = np.linspace(0, 1, image.shape[0])[:, None, None]
    pixels = _png_pixels(overview(image))
    assert _count_color(pixels, label_color(1)) == 0
    assert _count_color(pixels, label_color(2)) == 0


def test_overview_overlay_blends_over_the_image() -> None:
    image, labels = _scene()
    pixels = _png_pixels(overview(image, labels == 1, alpha=0.5))
    # Over a black image, 50% of the overlay colour.
    assert _count_color(pixels, tuple(0.5 * c for c in label_color(1)), tol=8) > 50


def test_overview_layout_and_spacing_aspect() -> None:
    image, labels = _scene()
    figure = overview(image, labels, spacing_mm=(1.0, 1.0, 3.0), slices_per_axis=4)
    axes = figure.axes
    assert len(axes) == 12
    assert [ax.get_title().split(" = ")[0] for ax in axes[::4]] == ["x", "y", "z"]
    # Slices across x show (y, z): a z voxel is 3 times as tall as a y voxel is wide.
    assert axes[0].get_aspect() == pytest.approx(3.0)
    assert axes[8].get_aspect() == pytest.approx(1.0)
    # Slices are chosen inside the labelled extent along each axis.
    x_indices = [int(ax.get_title().split(" = ")[1]) for ax in axes[:4]]
    assert all(5 <= index < 34 for index in x_indices)


def test_overview_accepts_masks_image_objects_and_session_input() -> None:
    image, labels = _scene()
    masks = [labels == 1, labels == 2]
    np.testing.assert_array_equal(as_label_map(masks, image.shape), labels)
    np.testing.assert_array_equal(as_label_map({"a": masks[0], "b": masks[1]}, image.shape), labels)
    figure = overview(image[None], masks)
    assert len(figure.axes) == 15
    with pytest.raises(ValueError, match="differs from the image"):
        overview(image, labels[:-1])
    with pytest.raises(ValueError, match="3-D"):
        overview(image[0])


def test_dice_curve_from_sequences_and_dicts() -> None:
    per_object = [[0.5, 0.7, 0.8, 0.85], [0.3, 0.6, 0.9]]
    figure = dice_curve(per_object)
    ax = figure.axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"object 1", "object 2", "mean"}
    np.testing.assert_allclose(lines["mean"].get_ydata(), [0.4, 0.65, 0.85, 0.875])
    np.testing.assert_array_equal(lines["mean"].get_xdata(), [1, 2, 3, 4])

    as_dicts = [{"name": "liver", "dice": per_object[0]}, {"name": "kidney", "dice": per_object[1]}]
    labels = {line.get_label() for line in dice_curve(as_dicts).axes[0].get_lines()}
    assert labels == {"liver", "kidney", "mean"}
    by_name = {"liver": per_object[0]}
    (line,) = dice_curve(by_name).axes[0].get_lines()
    assert line.get_label() == "liver"


def test_dice_curve_renders_and_rejects_empty_results() -> None:
    pixels = _png_pixels(dice_curve({"dice": [0.2, 0.9]}))
    assert _count_color(pixels, (0.0, 0.0, 0.0), tol=30) > 20  # the black mean curve
    with pytest.raises(ValueError, match="no 'dice'"):
        dice_curve([{"score": [1.0]}])
    with pytest.raises(ValueError, match="no Dice values"):
        dice_curve([[]])


def test_figures_reach_notebook_outputs_as_png() -> None:
    """What nbconvert/HTML keeps: the figure as an image/png output, shown once."""
    nbformat = pytest.importorskip("nbformat", reason="needs nbformat (the [test] extra)")
    nbclient = pytest.importorskip("nbclient", reason="needs nbclient (the [test] extra)")
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    code = (
        f"import sys; sys.path.insert(0, {str(repo)!r})\n"
        "import numpy as np\n"
        "from nni_jupyter.plot import overview\n"
        "labels = np.zeros((20, 20, 20), np.uint16); labels[5:10, 5:10, 5:10] = 1\n"
        "overview(np.random.rand(20, 20, 20), labels)"
    )
    # The second cell also activates pyplot's inline backend: still one image, not two.
    with_pyplot = "import matplotlib.pyplot as plt\nfrom nni_jupyter.plot import dice_curve\n"
    with_pyplot += "dice_curve([[0.5, 0.8], [0.4, 0.9]])"
    cells = [nbformat.v4.new_code_cell(code), nbformat.v4.new_code_cell(with_pyplot)]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    for cell in notebook.cells:
        images = [output for output in cell.outputs if "image/png" in output.get("data", {})]
        assert len(images) == 1, cell.outputs
