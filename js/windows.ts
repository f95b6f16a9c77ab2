/**
 * Window/level in the browser: presets, the auto-percentile window, right-drag adjustment, and
 * mapping a slice's intensities to grey pixels. No kernel round trip.
 */
import { WINDOW_PRESETS } from "./contract.gen";
import type { SliceArray } from "./slices";
import type { IntensityStats } from "./types";

/** `[level, width]` as in the `window` trait. */
export type WindowLevel = [number, number];

const MIN_WIDTH = 1e-6;

/** The window a preset gives for an image with these statistics. */
export function presetWindow(presetId: string, stats: IntensityStats | null | undefined): WindowLevel {
  const preset = WINDOW_PRESETS.find((candidate) => candidate.id === presetId);
  if (preset?.window) return [preset.window[0], preset.window[1]];
  if (!stats) return [0.5, 1];
  if (presetId === "full") return fromRange(stats.min, stats.max);
  return autoWindow(stats);
}

/**
 * The auto-percentile window (0.5th to 99.5th percentile, as the kernel's default window; 1st to
 * 99th when those coincide), good for MRI and unknown images.
 */
export function autoWindow(stats: IntensityStats): WindowLevel {
  if (stats.p995 > stats.p005) return fromRange(stats.p005, stats.p995);
  if (stats.p99 > stats.p01) return fromRange(stats.p01, stats.p99);
  if (stats.max > stats.min) return fromRange(stats.min, stats.max);
  return [stats.min, 1];
}

function fromRange(low: number, high: number): WindowLevel {
  return [(low + high) / 2, Math.max(MIN_WIDTH, high - low)];
}

/** The preset whose window equals `window` (for showing it as selected), or null. */
export function matchingPreset(window: WindowLevel, stats: IntensityStats | null | undefined): string | null {
  for (const preset of WINDOW_PRESETS) {
    const candidate = presetWindow(preset.id, stats);
    if (Math.abs(candidate[0] - window[0]) < 1e-6 && Math.abs(candidate[1] - window[1]) < 1e-6) return preset.id;
  }
  return null;
}

/**
 * Window after a right-drag of (dx, dy) CSS px: right widens, down raises the level (as in most
 * radiology viewers). Sensitivity scales with the image's intensity range.
 */
export function dragWindow(
  start: WindowLevel,
  dx: number,
  dy: number,
  stats: IntensityStats | null | undefined,
): WindowLevel {
  const range = stats && stats.max > stats.min ? stats.max - stats.min : Math.max(1, start[1]);
  const perPixel = range / 400;
  return [start[0] + dy * perPixel, Math.max(MIN_WIDTH, start[1] + dx * perPixel)];
}

/** Offset and length of a grey look-up table indexed by value, for 8- and 16-bit integer slices. */
const LUT_RANGES = new Map<string, [number, number]>([
  ["Uint8Array", [0, 256]],
  ["Int8Array", [-128, 256]],
  ["Uint16Array", [0, 65536]],
  ["Int16Array", [-32768, 65536]],
]);

/** The grey level (0..255) of `value` in `window`, as an opaque RGBA word (little-endian). */
function greyPixel(value: number, low: number, scale: number): number {
  let grey = (value - low) * scale;
  grey = grey <= 0 ? 0 : grey >= 255 ? 255 : grey | 0;
  return 0xff000000 | (grey << 16) | (grey << 8) | grey;
}

/** Per-value pixels of one window for one integer type: rebuilt only when either changes. */
let lut: { key: string; table: Uint32Array; offset: number } | null = null;

function lookupTable(type: string, low: number, scale: number): { table: Uint32Array; offset: number } | null {
  const range = LUT_RANGES.get(type);
  if (!range) return null;
  const key = `${type}:${low}:${scale}`;
  if (lut?.key !== key) {
    const [first, length] = range;
    const table = lut?.table.length === length ? lut.table : new Uint32Array(length);
    for (let k = 0; k < length; k++) table[k] = greyPixel(first + k, low, scale);
    lut = { key, table, offset: -first };
  }
  return lut;
}

/**
 * Write a slice as opaque grey RGBA pixels (little-endian words), in the slice's own C order
 * (`p * n_q + q`), the order of the view's image layer. 8- and 16-bit integer slices go through a
 * look-up table (one load per pixel while scrolling); other types are mapped value by value.
 */
export function windowSlice(data: SliceArray, window: WindowLevel, out: Uint32Array): void {
  const [level, width] = window;
  const low = level - width / 2;
  const scale = 255 / Math.max(width, MIN_WIDTH);
  const count = Math.min(data.length, out.length);
  const table = lookupTable(data.constructor.name, low, scale);
  if (table) {
    const { table: pixels, offset } = table;
    for (let k = 0; k < count; k++) out[k] = pixels[data[k] + offset];
    return;
  }
  for (let k = 0; k < count; k++) out[k] = greyPixel(data[k], low, scale);
}
