import { deflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import {
  applyMaskPatch,
  bboxVoxels,
  decodeAndApplyPatch,
  decodeMaskPatch,
  inflateZlib,
  unpackBitsLittle,
} from "../codec";
import { MAX_OBJECT_ID, PALETTE } from "../contract.gen";
import { LabelVolume } from "../labels";
import { colourTable, labelSlice, paletteColor, renderOverlay } from "../overlay";
import type { Bbox, Vec3 } from "../types";

/** numpy's packbits(bits, bitorder="little"), written independently of the code under test. */
function packBitsLittle(bits: Uint8Array): Uint8Array {
  const packed = new Uint8Array(Math.ceil(bits.length / 8));
  bits.forEach((bit, k) => {
    if (bit) packed[Math.floor(k / 8)] |= 1 << (k % 8);
  });
  return packed;
}

function encodePatch(crop: Uint8Array): Uint8Array {
  return new Uint8Array(deflateSync(packBitsLittle(crop)));
}

/** Deterministic pseudo-random numbers (mulberry32). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const index = (shape: Vec3, x: number, y: number, z: number) => (x * shape[1] + y) * shape[2] + z;

describe("unpackBitsLittle", () => {
  it("reads bit k from byte k >> 3, least significant bit first", () => {
    expect([...unpackBitsLittle(new Uint8Array([0b00000101, 0b1]), 10)]).toEqual([1, 0, 1, 0, 0, 0, 0, 0, 1, 0]);
  });

  it("rejects a buffer with too few bits", () => {
    expect(() => unpackBitsLittle(new Uint8Array(1), 9)).toThrow(/too short/);
  });

  it("round-trips random bit strings of every length up to 40", () => {
    const next = random(1);
    for (let length = 0; length <= 40; length++) {
      const bits = Uint8Array.from({ length }, () => (next() < 0.5 ? 1 : 0));
      expect(unpackBitsLittle(packBitsLittle(bits), length)).toEqual(bits);
    }
  });
});

describe("decodeMaskPatch", () => {
  it("inflates zlib from node exactly", async () => {
    const data = Uint8Array.from({ length: 5000 }, (_, k) => (k * 7) % 251);
    expect(await inflateZlib(new Uint8Array(deflateSync(data)))).toEqual(data);
  });

  it("round-trips random crops with odd sizes exactly", async () => {
    const next = random(7);
    for (let trial = 0; trial < 20; trial++) {
      const bbox: Bbox = [
        [2, 2 + 1 + Math.floor(next() * 9)],
        [0, 1 + Math.floor(next() * 7)],
        [3, 3 + 1 + Math.floor(next() * 13)],
      ];
      const crop = Uint8Array.from({ length: bboxVoxels(bbox) }, () => (next() < 0.3 ? 1 : 0));
      expect(await decodeMaskPatch(encodePatch(crop), bbox)).toEqual(crop);
    }
  });

  it("decodes an empty bbox to nothing", async () => {
    const bbox: Bbox = [
      [1, 1],
      [0, 4],
      [0, 4],
    ];
    expect((await decodeMaskPatch(encodePatch(new Uint8Array(0)), bbox)).length).toBe(0);
  });
});

describe("applyMaskPatch", () => {
  const shape: Vec3 = [6, 5, 7];

  it("sets bit-1 voxels to the id, clears only that id's bit-0 voxels, leaves the outside alone", async () => {
    const labels = new Uint8Array(shape[0] * shape[1] * shape[2]);
    labels[index(shape, 1, 1, 1)] = 3; // object 3 inside the bbox, bit 0: cleared
    labels[index(shape, 1, 1, 2)] = 5; // another object inside the bbox, bit 0: kept
    labels[index(shape, 2, 2, 2)] = 5; // another object, bit 1: overwritten
    labels[index(shape, 0, 0, 0)] = 3; // object 3 outside the bbox: kept
    const bbox: Bbox = [
      [1, 4],
      [1, 3],
      [1, 6],
    ];
    const crop = new Uint8Array(bboxVoxels(bbox));
    const at = (x: number, y: number, z: number) => ((x - 1) * 2 + (y - 1)) * 5 + (z - 1);
    crop[at(2, 2, 2)] = 1;
    crop[at(3, 1, 5)] = 1;

    const changed = await decodeAndApplyPatch(labels, shape, bbox, 3, encodePatch(crop));

    expect(changed).toBe(3);
    expect(labels[index(shape, 1, 1, 1)]).toBe(0);
    expect(labels[index(shape, 1, 1, 2)]).toBe(5);
    expect(labels[index(shape, 2, 2, 2)]).toBe(3);
    expect(labels[index(shape, 3, 1, 5)]).toBe(3);
    expect(labels[index(shape, 0, 0, 0)]).toBe(3);
    expect(labels.reduce((n, v) => n + (v === 3 ? 1 : 0), 0)).toBe(3);
  });

  it("reproduces a random volume mask from a patch of its bbox", async () => {
    const next = random(11);
    const big: Vec3 = [9, 8, 10];
    const labels = new Uint8Array(big[0] * big[1] * big[2]);
    const truth = new Uint8Array(labels.length);
    const bbox: Bbox = [
      [2, 7],
      [1, 8],
      [0, 9],
    ];
    const crop = new Uint8Array(bboxVoxels(bbox));
    let k = 0;
    for (let x = 2; x < 7; x++)
      for (let y = 1; y < 8; y++)
        for (let z = 0; z < 9; z++, k++) {
          crop[k] = next() < 0.5 ? 1 : 0;
          truth[index(big, x, y, z)] = crop[k] ? 2 : 0;
        }
    await decodeAndApplyPatch(labels, big, bbox, 2, encodePatch(crop));
    expect(labels).toEqual(truth);
    // a second patch that empties the object restores the background
    await decodeAndApplyPatch(labels, big, bbox, 2, encodePatch(new Uint8Array(crop.length)));
    expect(labels.every((value) => value === 0)).toBe(true);
  });

  it("rejects a bbox outside the volume with a readable message", () => {
    const labels = new Uint8Array(shape[0] * shape[1] * shape[2]);
    expect(() =>
      applyMaskPatch(
        labels,
        shape,
        [
          [0, 7],
          [0, 1],
          [0, 1],
        ],
        1,
        new Uint8Array(7),
      ),
    ).toThrow(/not a half-open box inside shape \[6,5,7\]/);
  });
});

describe("LabelVolume with more than 255 objects", () => {
  const shape: Vec3 = [2, 3, 4];
  const patch = (object: number, bbox: Bbox, crop: number[]) =>
    [
      { type: "mask_patch" as const, object, bbox, encoding: "packbits-deflate", request_id: null },
      new DataView(encodePatch(Uint8Array.from(crop)).buffer),
    ] as const;

  it("keeps bytes until an id above 255 arrives, then widens without losing labels", async () => {
    const labels = new LabelVolume(shape);
    await labels.patch(
      ...patch(
        7,
        [
          [0, 1],
          [0, 1],
          [0, 2],
        ],
        [1, 1],
      ),
    );
    expect(labels.volume).toBeInstanceOf(Uint8Array);
    await labels.patch(
      ...patch(
        300,
        [
          [1, 2],
          [2, 3],
          [3, 4],
        ],
        [1],
      ),
    );
    expect(labels.volume).toBeInstanceOf(Uint16Array);
    expect([labels.volume[0], labels.volume[1], labels.volume[23]]).toEqual([7, 7, 300]);
    await labels.patch(
      ...patch(
        300,
        [
          [1, 2],
          [2, 3],
          [3, 4],
        ],
        [0],
      ),
    );
    expect(labels.volume[23]).toBe(0);
    await expect(
      labels.patch(
        ...patch(
          MAX_OBJECT_ID + 1,
          [
            [0, 1],
            [0, 1],
            [0, 1],
          ],
          [1],
        ),
      ),
    ).rejects.toThrow(`outside 1..${MAX_OBJECT_ID}`);
  });

  it("draws ids above 255 in their own colours, cycling the palette", () => {
    const slice = labelSlice(Uint16Array.from([0, 300, 300, 256]), [1, 2, 2], 0, 0);
    expect(slice).toBeInstanceOf(Uint16Array);
    const objects = [
      { id: 300, name: "a", color: [1, 2, 3] as [number, number, number], class_id: 1, visible: true, voxels: 2 },
    ];
    const table = colourTable(objects, new Set(), { opacity: 1, outline: false, show: true }, 65536);
    const out = new Uint32Array(4);
    expect(renderOverlay(slice, 2, 2, table, out)).toBe(3);
    expect(out[1] & 0xffffff).toBe((3 << 16) | (2 << 8) | 1);
    const [r, g, b] = paletteColor(256);
    expect(paletteColor(256)).toEqual(PALETTE[255 % PALETTE.length]);
    expect(out[3] & 0xffffff).toBe((b << 16) | (g << 8) | r);
  });
});
