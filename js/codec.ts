/**
 * Mask patch decoding (PROTOCOL.md `mask_patch`, encoding "packbits-deflate") and its
 * application to the browser's label volume.
 */
import type { Bbox, LabelArray, Vec3 } from "./types";

/**
 * Inflate zlib (RFC 1950) bytes with the platform's DecompressionStream, writing to it and reading
 * from it directly (a Blob and a Response around it cost more than the inflating, per slice).
 */
export async function inflateZlib(data: Uint8Array): Promise<Uint8Array> {
  const stream = new DecompressionStream("deflate");
  const writer = stream.writable.getWriter();
  // A corrupt input fails the reader below; these promises would only repeat that error.
  writer.write(data as Uint8Array<ArrayBuffer>).catch(() => {});
  writer.close().catch(() => {});
  const reader = stream.readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.byteLength;
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/**
 * Unpack bits as numpy's `packbits(..., bitorder="little")` packs them: bit k of the output is
 * `(packed[k >> 3] >> (k & 7)) & 1`.
 */
export function unpackBitsLittle(packed: Uint8Array, count: number): Uint8Array {
  if (packed.length * 8 < count) {
    throw new Error(`mask patch too short: ${packed.length} bytes hold ${packed.length * 8} bits, expected ${count}`);
  }
  const out = new Uint8Array(count);
  const full = count >> 3;
  for (let byte = 0; byte < full; byte++) {
    const value = packed[byte];
    if (value === 0) continue;
    const base = byte << 3;
    for (let bit = 0; bit < 8; bit++) out[base + bit] = (value >> bit) & 1;
  }
  for (let k = full << 3; k < count; k++) out[k] = (packed[k >> 3] >> (k & 7)) & 1;
  return out;
}

/** Number of voxels inside a half-open bbox. */
export function bboxVoxels(bbox: Bbox): number {
  return bbox.reduce((n, [lo, hi]) => n * Math.max(0, hi - lo), 1);
}

/** Check that `bbox` is a valid half-open box inside `shape`, with a readable error otherwise. */
export function validateBbox(bbox: Bbox, shape: Vec3): void {
  for (let axis = 0; axis < 3; axis++) {
    const [lo, hi] = bbox[axis];
    if (!(Number.isInteger(lo) && Number.isInteger(hi) && lo >= 0 && lo <= hi && hi <= shape[axis])) {
      throw new Error(
        `mask patch bbox ${JSON.stringify(bbox)} is not a half-open box inside shape ${JSON.stringify(shape)}`,
      );
    }
  }
}

/** Decode a "packbits-deflate" buffer into a 0/1 crop of `bboxVoxels(bbox)` bytes, C order. */
export async function decodeMaskPatch(buffer: Uint8Array, bbox: Bbox): Promise<Uint8Array> {
  const packed = await inflateZlib(buffer);
  return unpackBitsLittle(packed, bboxVoxels(bbox));
}

/**
 * Write a decoded crop into the label volume (C order, index `(x * Y + y) * Z + z`):
 * inside `bbox`, bit 1 -> `id`; bit 0 where the label is `id` -> 0; other labels stay.
 * Returns the number of voxels that changed.
 */
export function applyMaskPatch(labels: LabelArray, shape: Vec3, bbox: Bbox, id: number, crop: Uint8Array): number {
  validateBbox(bbox, shape);
  const [[x0, x1], [y0, y1], [z0, z1]] = bbox;
  const [, sizeY, sizeZ] = shape;
  const width = z1 - z0;
  let source = 0;
  let changed = 0;
  for (let x = x0; x < x1; x++) {
    for (let y = y0; y < y1; y++) {
      let target = (x * sizeY + y) * sizeZ + z0;
      for (let k = 0; k < width; k++, target++, source++) {
        const current = labels[target];
        if (crop[source]) {
          if (current !== id) {
            labels[target] = id;
            changed++;
          }
        } else if (current === id) {
          labels[target] = 0;
          changed++;
        }
      }
    }
  }
  return changed;
}

/** Decode a patch buffer and apply it; returns the number of changed voxels. */
export async function decodeAndApplyPatch(
  labels: LabelArray,
  shape: Vec3,
  bbox: Bbox,
  id: number,
  buffer: Uint8Array,
): Promise<number> {
  validateBbox(bbox, shape);
  const crop = await decodeMaskPatch(buffer, bbox);
  return applyMaskPatch(labels, shape, bbox, id, crop);
}

/** View any DataView / ArrayBuffer / typed array as bytes without copying. */
export function asBytes(buffer: DataView | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
