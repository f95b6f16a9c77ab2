/**
 * Mask overlay: the label slice under the view, coloured per object, with opacity, outline mode
 * and show/hide. Pixels are written at slice resolution; the view scales them up pixelated.
 */
import { PALETTE } from "./contract.gen";
import type { Axis, LabelArray, ObjectInfo, Vec3 } from "./types";
import { planeShape } from "./transform";

/** The colour of object `id` when the kernel has not sent one (yet): the kernel's palette. */
export function paletteColor(id: number): [number, number, number] {
  return PALETTE[(Math.max(1, id) - 1) % PALETTE.length];
}

export interface OverlayStyle {
  /** 0..1 fill opacity. */
  opacity: number;
  /** Only draw object boundaries. */
  outline: boolean;
  /** All masks on/off. */
  show: boolean;
}

/**
 * RGBA colour per label (index 0..size-1: 256 for byte labels, 65536 for 16-bit ones) as
 * little-endian Uint32 `[r, g, b, a]` bytes, fill and edge variants; 0 means transparent
 * (background, hidden objects, masks off). Ids without an object entry get the palette colour.
 */
export function colourTable(
  objects: readonly ObjectInfo[],
  hidden: ReadonlySet<number>,
  style: OverlayStyle,
  size = 256,
): { fill: Uint32Array; edge: Uint32Array } {
  const fill = new Uint32Array(size);
  const edge = new Uint32Array(size);
  if (!style.show) return { fill, edge };
  const opacity = Math.min(1, Math.max(0, style.opacity));
  const fillAlpha = style.outline ? 0 : Math.round(opacity * 255);
  // Edges a little stronger than the fill, so touching objects stay apart; opacity 0 hides fills.
  const edgeOpacity = style.outline ? Math.max(0.85, opacity) : opacity > 0 ? Math.min(1, opacity + 0.35) : 0;
  const edgeAlpha = Math.round(edgeOpacity * 255);
  const known = new Map(objects.map((object) => [object.id, object]));
  for (let id = 1; id < size; id++) {
    const object = known.get(id);
    if (object && (!object.visible || hidden.has(id))) continue;
    if (!object && hidden.has(id)) continue;
    const [r, g, b] = object?.color ?? paletteColor(id);
    const rgb = (b << 16) | (g << 8) | r;
    fill[id] = fillAlpha > 0 ? ((fillAlpha << 24) | rgb) >>> 0 : 0;
    edge[id] = edgeAlpha > 0 ? ((edgeAlpha << 24) | rgb) >>> 0 : 0;
  }
  return { fill, edge };
}

/** The labels of slice `index` along `axis`, `[n_p, n_q]` C order, from the C-order label volume. */
export function labelSlice(labels: LabelArray, shape: Vec3, axis: Axis, index: number, out?: LabelArray): LabelArray {
  const [, sizeY, sizeZ] = shape;
  const [nP, nQ] = planeShape(axis, shape);
  const reusable = out && out.length === nP * nQ && out.constructor === labels.constructor;
  const slice = reusable ? out : labels instanceof Uint16Array ? new Uint16Array(nP * nQ) : new Uint8Array(nP * nQ);
  if (axis === 0) {
    slice.set(labels.subarray(index * sizeY * sizeZ, (index + 1) * sizeY * sizeZ));
  } else if (axis === 1) {
    for (let x = 0; x < nP; x++) {
      const start = (x * sizeY + index) * sizeZ;
      slice.set(labels.subarray(start, start + sizeZ), x * nQ);
    }
  } else {
    let target = 0;
    for (let x = 0; x < nP; x++) {
      for (let y = 0; y < nQ; y++) slice[target++] = labels[(x * sizeY + y) * sizeZ + index];
    }
  }
  return slice;
}

/**
 * Colour a label slice `[n_p, n_q]` into RGBA pixels in the same C order (the image layer's).
 * A voxel is an edge when a 4-neighbour in the slice has another label. Returns the number of
 * labelled voxels drawn.
 */
export function renderOverlay(
  slice: LabelArray,
  nP: number,
  nQ: number,
  colours: { fill: Uint32Array; edge: Uint32Array },
  out: Uint32Array,
): number {
  out.fill(0);
  let drawn = 0;
  for (let p = 0; p < nP; p++) {
    for (let q = 0; q < nQ; q++) {
      const source = p * nQ + q;
      const label = slice[source];
      if (label === 0) continue;
      const isEdge =
        p === 0 ||
        p === nP - 1 ||
        q === 0 ||
        q === nQ - 1 ||
        slice[source - nQ] !== label ||
        slice[source + nQ] !== label ||
        slice[source - 1] !== label ||
        slice[source + 1] !== label;
      const colour = isEdge ? colours.edge[label] : colours.fill[label];
      if (colour === 0) continue;
      out[source] = colour;
      drawn++;
    }
  }
  return drawn;
}
