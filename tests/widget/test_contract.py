"""The kernel/browser contract: js/contract.gen.ts and PROTOCOL.md agree with the Python side."""

from __future__ import annotations

import re
from pathlib import Path

from nni_jupyter.annotation.prompts import BROWSER_COMMANDS
from nni_jupyter.widget import contract
from nni_jupyter.widget.segmenter import Segmenter

PROTOCOL = Path(contract.__file__).with_name("PROTOCOL.md")
REGENERATE = "run `python -m nni_jupyter.widget.contract` and commit js/contract.gen.ts"


def _table_names(heading: str) -> list[str]:
    """The first column (a `name`) of the table under a PROTOCOL.md heading or lead-in line."""
    text = PROTOCOL.read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    rows = re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)
    table_end = section.index("\n\n", section.index("|---"))
    return [name for name in rows if section.index(f"| `{name}` |") < table_end]


def test_generated_typescript_is_up_to_date():
    committed = contract.TYPESCRIPT_PATH.read_text(encoding="utf-8")
    assert committed == contract.typescript(), f"js/contract.gen.ts is stale: {REGENERATE}"


def test_generated_typescript_holds_the_python_values():
    text = contract.typescript()
    for name in (*contract.synced_traits(), *BROWSER_COMMANDS):
        assert f'"{name}"' in text
    assert "[230, 159, 0]," in text  # the palette's first colour, RGB 0..255
    assert '{ id: "lung", label: "Lung", group: "CT", window: [-600, 1500] }' in text


def test_synced_traits_are_the_segmenters_own_in_order():
    traits = contract.synced_traits()
    assert traits[:3] == ("shape", "spacing_mm", "image_dtype")
    assert set(traits) == set(Segmenter.class_own_traits(sync=True))
    assert "layout" not in traits  # ipywidgets' own trait is not part of the protocol


def test_protocol_trait_table_names_the_synced_traits():
    assert _table_names("## Synced traits") == list(contract.synced_traits())


def test_protocol_command_table_names_the_browser_commands():
    assert _table_names('`{"type": "command"') == list(BROWSER_COMMANDS)


def test_main_writes_the_file(tmp_path):
    target = tmp_path / "contract.gen.ts"
    contract.main([str(target)])
    assert target.read_text(encoding="utf-8") == contract.typescript()
