import { describe, expect, it } from "vitest";
import {
  IDENTITY_VIEW,
  type PlaneParams,
  imageRect,
  insidePlane,
  nearestIndex,
  pixelsPerVoxel,
  planeAxes,
  planeToVolume,
  layerMatrix,
  screenToVoxel,
  voxelToScreen,
  zoomAbout,
} from "../transform";
import type { Axis, Vec3 } from "../types";

const AXES: Axis[] = [0, 1, 2];
const shape: Vec3 = [64, 48, 30];
const spacing: Vec3 = [0.8, 0.8, 2.5];

function params(axis: Axis, view = IDENTITY_VIEW, width = 400, height = 300): PlaneParams {
  return { axis, shape, spacingMm: spacing, width, height, view };
}

describe("plane axes", () => {
  it("follows PROTOCOL.md: axis 0 -> (y, z), 1 -> (x, z), 2 -> (x, y)", () => {
    expect(planeAxes(0)).toEqual([1, 2]);
    expect(planeAxes(1)).toEqual([0, 2]);
    expect(planeAxes(2)).toEqual([0, 1]);
  });

  it("maps in-plane indices to volume voxels", () => {
    for (const axis of AXES) {
      const voxel = planeToVolume(axis, 7, 3, 5);
      expect(voxel[axis]).toBe(7);
      const [p, q] = planeAxes(axis);
      expect([voxel[p], voxel[q]]).toEqual([3, 5]);
    }
  });
});

describe("screen <-> voxel", () => {
  const views = [
    IDENTITY_VIEW,
    { zoom: 2.5, panX: 0, panY: 0 },
    { zoom: 1, panX: 37, panY: -12 },
    { zoom: 0.4, panX: -80, panY: 55.5 },
    { zoom: 7, panX: 130, panY: 9 },
  ];

  it("round-trips for every axis, zoom and pan", () => {
    for (const axis of AXES)
      for (const view of views)
        for (const point of [
          [0, 0],
          [10.25, 3.5],
          [-0.5, 29.4],
          [40, 12],
        ] as [number, number][]) {
          const p = params(axis, view);
          const [x, y] = voxelToScreen(p, point);
          const back = screenToVoxel(p, x, y);
          expect(back[0]).toBeCloseTo(point[0], 9);
          expect(back[1]).toBeCloseTo(point[1], 9);
        }
  });

  it("puts the slice centre at the viewport centre plus pan", () => {
    for (const axis of AXES) {
      const p = params(axis, { zoom: 3, panX: 11, panY: -7 });
      const n = [shape[planeAxes(axis)[0]], shape[planeAxes(axis)[1]]];
      const [x, y] = voxelToScreen(p, [(n[0] - 1) / 2, (n[1] - 1) / 2]);
      expect(x).toBeCloseTo(200 + 11);
      expect(y).toBeCloseTo(150 - 7);
    }
  });

  it("fits the slice to the viewport with the aspect from spacing", () => {
    // axis 0: p = y (48 x 0.8 mm = 38.4 mm), q = z (30 x 2.5 mm = 75 mm); height limits: 300 / 75 = 4 px/mm
    const [scaleP, scaleQ] = pixelsPerVoxel(params(0));
    expect(scaleP).toBeCloseTo(4 * 0.8);
    expect(scaleQ).toBeCloseTo(4 * 2.5);
    // axis 2: p = x (51.2 mm), q = y (38.4 mm); width limits: 400 / 51.2 px/mm, square voxels
    const [sx, sy] = pixelsPerVoxel(params(2));
    expect(sx).toBeCloseTo((400 / 51.2) * 0.8);
    expect(sy).toBeCloseTo(sx);
    // zoom multiplies both
    const [zx, zy] = pixelsPerVoxel(params(0, { zoom: 2, panX: 0, panY: 0 }));
    expect(zx).toBeCloseTo(2 * scaleP);
    expect(zy).toBeCloseTo(2 * scaleQ);
  });

  it("draws q downward for axis 2 and upward (z up) for axes 0 and 1", () => {
    for (const axis of AXES) {
      const p = params(axis);
      const [, yLow] = voxelToScreen(p, [0, 0]);
      const [, yHigh] = voxelToScreen(p, [0, 5]);
      if (axis === 2) expect(yHigh).toBeGreaterThan(yLow);
      else expect(yHigh).toBeLessThan(yLow);
      const [xLow] = voxelToScreen(p, [0, 0]);
      const [xHigh] = voxelToScreen(p, [5, 0]);
      expect(xHigh).toBeGreaterThan(xLow);
    }
  });

  it("knows where the corners of the image are", () => {
    for (const axis of AXES)
      for (const view of views) {
        const p = params(axis, view);
        const rect = imageRect(p);
        const [nP, nQ] = [shape[planeAxes(axis)[0]], shape[planeAxes(axis)[1]]];
        // top-left corner of the image is voxel edge (-0.5, -0.5) for axis 2, (-0.5, nQ - 0.5) otherwise
        const topLeft = screenToVoxel(p, rect.x, rect.y);
        expect(topLeft[0]).toBeCloseTo(-0.5);
        expect(topLeft[1]).toBeCloseTo(axis === 2 ? -0.5 : nQ - 0.5);
        const bottomRight = screenToVoxel(p, rect.x + rect.width, rect.y + rect.height);
        expect(bottomRight[0]).toBeCloseTo(nP - 0.5);
        expect(bottomRight[1]).toBeCloseTo(axis === 2 ? nQ - 0.5 : -0.5);
      }
  });

  it("puts layer pixel (column q, row p) over voxel (p, q) on screen", () => {
    for (const axis of AXES)
      for (const view of views) {
        const p = params(axis, view);
        const [a, b, c, d, e, f] = layerMatrix(p);
        const apply = (u: number, v: number) => [a * u + c * v + e, b * u + d * v + f];
        for (const [vp, vq] of [
          [0, 0],
          [3, 7],
          [20, 11],
        ]) {
          const [x, y] = apply(vq + 0.5, vp + 0.5);
          const [ex, ey] = voxelToScreen(p, [vp, vq]);
          expect(x).toBeCloseTo(ex, 9);
          expect(y).toBeCloseTo(ey, 9);
        }
        // the layer's corners are the slice's voxel edges
        const [nP, nQ] = [shape[planeAxes(axis)[0]], shape[planeAxes(axis)[1]]];
        const [x0, y0] = apply(0, 0);
        expect(screenToVoxel(p, x0, y0)[0]).toBeCloseTo(-0.5);
        expect(screenToVoxel(p, x0, y0)[1]).toBeCloseTo(-0.5);
        const [x1, y1] = apply(nQ, nP);
        expect(screenToVoxel(p, x1, y1)[0]).toBeCloseTo(nP - 0.5);
        expect(screenToVoxel(p, x1, y1)[1]).toBeCloseTo(nQ - 0.5);
      }
  });
});

describe("zoomAbout", () => {
  it("keeps the voxel under the cursor fixed, for every axis", () => {
    for (const axis of AXES) {
      const before = params(axis, { zoom: 1.5, panX: 20, panY: -10 });
      const cursor: [number, number] = [123, 77];
      const voxel = screenToVoxel(before, ...cursor);
      const after = { ...before, view: zoomAbout(before, cursor[0], cursor[1], 1.7) };
      expect(after.view.zoom).toBeCloseTo(1.5 * 1.7);
      const same = screenToVoxel(after, ...cursor);
      expect(same[0]).toBeCloseTo(voxel[0], 9);
      expect(same[1]).toBeCloseTo(voxel[1], 9);
    }
  });

  it("clamps the zoom", () => {
    const p = params(2);
    expect(zoomAbout(p, 0, 0, 1e6).zoom).toBe(64);
    expect(zoomAbout(p, 0, 0, 1e-6).zoom).toBe(0.25);
  });
});

describe("indices", () => {
  it("rounds to the nearest voxel and clamps", () => {
    expect(nearestIndex(3.49, 10)).toBe(3);
    expect(nearestIndex(3.5, 10)).toBe(4);
    expect(nearestIndex(-0.4, 10)).toBe(0);
    expect(nearestIndex(12, 10)).toBe(9);
  });

  it("knows when a point is over the slice", () => {
    expect(insidePlane(2, shape, [-0.5, 0])).toBe(true);
    expect(insidePlane(2, shape, [-0.51, 0])).toBe(false);
    expect(insidePlane(2, shape, [63.4, 47.4])).toBe(true);
    expect(insidePlane(2, shape, [63.5, 0])).toBe(false);
    expect(insidePlane(0, shape, [47, 29.49])).toBe(true);
    expect(insidePlane(0, shape, [47, 29.5])).toBe(false);
  });
});
