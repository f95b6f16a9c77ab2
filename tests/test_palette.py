"""One palette: an object has the same colour in the widget, the overview plot and the 3-D view."""

from __future__ import annotations

import pytest

from nni_jupyter.annotation.objects import ObjectStore
from nni_jupyter.palette import PALETTE, object_color
from nni_jupyter.plot import label_color
from nni_jupyter.surfaces import _hex_color


def test_widget_plot_and_3d_colours_agree():
    store = ObjectStore((4, 4, 4))
    for _ in range(len(PALETTE) + 2):
        with store.step("new_object"):
            store.create()
    for object_id, info in store.objects.items():
        rgb = object_color(object_id)
        assert info.color == rgb
        assert tuple(round(channel * 255) for channel in label_color(object_id)) == rgb
        assert _hex_color(object_id) == "#{:02x}{:02x}{:02x}".format(*rgb)


def test_colours_cycle_and_background_has_none():
    assert object_color(len(PALETTE) + 1) == object_color(1) == PALETTE[0]
    assert len(set(PALETTE)) == len(PALETTE)
    with pytest.raises(ValueError, match="start at 1"):
        object_color(0)
