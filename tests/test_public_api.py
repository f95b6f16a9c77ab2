"""The public namespace: every name users import resolves, and type checkers see the same names
(``__init__.pyi``) with the objects they stand for."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import nni_jupyter as nj

STUB = Path(nj.__file__).with_suffix(".pyi")


def stub_names() -> dict[str, tuple[str, str]]:
    """Public name -> (module, attribute) as the stub imports it."""
    names = {}
    for node in ast.parse(STUB.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                module = f"nni_jupyter.{node.module}" if node.module else "nni_jupyter"
                names[alias.asname or alias.name] = (module, alias.name)
    return names


def test_the_stub_declares_exactly_the_public_names():
    assert set(stub_names()) == set(nj.__all__)
    declared = next(
        node.value
        for node in ast.parse(STUB.read_text()).body
        if isinstance(node, ast.Assign) and node.targets[0].id == "__all__"  # type: ignore[attr-defined]
    )
    assert sorted(ast.literal_eval(declared)) == sorted(nj.__all__)


def test_every_public_name_is_what_the_stub_says_it_is():
    for name, (module, attribute) in stub_names().items():
        value = getattr(nj, name)
        expected = getattr(importlib.import_module(module), attribute)
        assert value is expected, name


def test_names_users_had_before_keep_working():
    """Names and submodules of earlier releases (nothing removed without a warning)."""
    kept = {
        "Segmenter", "Prompt", "Image", "Study", "read_image", "write_image", "write_mask",
        "write_labels", "load_session", "download_weights", "find_model", "demo_model_path",
        "read_prompt_log", "measure", "view3d", "live_view3d", "InferenceSession",
        "nnInteractiveInferenceSession", "pick_device", "write_dicom_seg", "write_ome_zarr",
        "write_labels_table", "check_server", "remote_session", "widget", "inference", "io",
    }  # fmt: skip
    assert kept <= set(nj.__all__)
    assert nj.widget.Prompt is nj.Prompt and nj.annotation.Prompt is nj.Prompt


def test_modules_that_moved_out_of_the_widget_still_import_with_a_warning():
    import pytest

    from nni_jupyter.annotation import memory

    with pytest.warns(FutureWarning, match="nni_jupyter.widget.memory moved to"):
        from nni_jupyter.widget import memory as old
    assert old is memory
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        nj.widget.nothing  # noqa: B018
