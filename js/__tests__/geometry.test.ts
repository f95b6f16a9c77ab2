import { describe, expect, it } from "vitest";
import {
  closeRing,
  distanceToPolyline,
  dropClosePoints,
  lassoPolygon,
  openRing,
  polygonArea,
  scribblePolyline,
  simplifyPolyline,
} from "../geometry";
import type { PlanePoint } from "../types";

function circle(centre: PlanePoint, radius: number, count: number): PlanePoint[] {
  return Array.from({ length: count }, (_, k) => {
    const angle = (2 * Math.PI * k) / count;
    return [centre[0] + radius * Math.cos(angle), centre[1] + radius * Math.sin(angle)];
  });
}

describe("polylines", () => {
  it("measures the distance to a polyline", () => {
    const line: PlanePoint[] = [
      [0, 0],
      [3, 0],
      [3, 4],
    ];
    expect(distanceToPolyline([1, 2], line)).toBe(2);
    expect(distanceToPolyline([5, 5], line)).toBeCloseTo(Math.hypot(2, 1));
    expect(distanceToPolyline([1, 1], [[0, 0]])).toBeCloseTo(Math.SQRT2);
  });

  it("drops close points and keeps the last one", () => {
    const kept = dropClosePoints(
      [
        [0, 0],
        [0.1, 0],
        [0.2, 0],
        [1, 0],
        [1.05, 0],
      ],
      0.5,
    );
    expect(kept).toEqual([
      [0, 0],
      [1.05, 0],
    ]);
  });

  it("simplifies within the tolerance and keeps the ends", () => {
    const wiggly: PlanePoint[] = Array.from({ length: 200 }, (_, k) => [k / 10, 0.2 * Math.sin(k)]);
    const simple = simplifyPolyline(wiggly, 0.5);
    expect(simple).toEqual([wiggly[0], wiggly[199]]);
    const corner: PlanePoint[] = [
      [0, 0],
      [1, 0.01],
      [2, 0],
      [2, 1],
      [2, 2],
    ];
    const kept = simplifyPolyline(corner, 0.1);
    expect(kept).toEqual([
      [0, 0],
      [2, 0],
      [2, 2],
    ]);
    for (const point of corner) expect(distanceToPolyline(point, kept)).toBeLessThanOrEqual(0.1);
  });

  it("keeps every dropped point within tolerance on a random walk", () => {
    let state = 5;
    const next = () => (state = (state * 16807) % 2147483647) / 2147483647;
    const walk: PlanePoint[] = [[0, 0]];
    for (let k = 0; k < 500; k++) {
      const [p, q] = walk[walk.length - 1];
      walk.push([p + next() - 0.3, q + next() - 0.5]);
    }
    const simple = simplifyPolyline(walk, 0.75);
    expect(simple.length).toBeLessThan(walk.length / 3);
    for (const point of walk) expect(distanceToPolyline(point, simple)).toBeLessThanOrEqual(0.75 + 1e-9);
  });
});

describe("polygons", () => {
  const square: PlanePoint[] = [
    [0, 0],
    [4, 0],
    [4, 4],
    [0, 4],
  ];

  it("opens and closes rings", () => {
    expect(closeRing(square)).toEqual([...square, [0, 0]]);
    expect(openRing(closeRing(square))).toEqual(square);
    expect(
      openRing([
        [1, 1],
        [1, 1],
      ]),
    ).toEqual([[1, 1]]);
  });

  it("computes signed area", () => {
    expect(polygonArea(square)).toBe(16);
    expect(polygonArea([...square].reverse())).toBe(-16);
    expect(polygonArea(closeRing(square))).toBe(16);
  });
});

describe("lasso", () => {
  it("turns a hand-drawn loop into a simplified open polygon with the same area", () => {
    const path = circle([20, 20], 8, 400);
    path.push([path[0][0] + 0.01, path[0][1]]); // the user ends near the start
    const polygon = lassoPolygon(path) as PlanePoint[];
    expect(polygon.length).toBeGreaterThanOrEqual(8);
    expect(polygon.length).toBeLessThan(60);
    expect(Math.abs(polygonArea(polygon)) / (Math.PI * 64)).toBeGreaterThan(0.98);
    expect(polygon[0]).not.toEqual(polygon[polygon.length - 1]);
  });

  it("rejects slips: a line, a dot, a tiny loop", () => {
    expect(
      lassoPolygon([
        [0, 0],
        [5, 0],
        [10, 0],
      ]),
    ).toBeNull();
    expect(lassoPolygon([[3, 3]])).toBeNull();
    expect(lassoPolygon(circle([5, 5], 0.3, 20))).toBeNull();
  });
});

describe("scribble", () => {
  it("keeps a dot as one vertex and simplifies a straight stroke to its ends", () => {
    expect(
      scribblePolyline([
        [2, 3],
        [2.01, 3],
      ]),
    ).toEqual([[2, 3]]);
    const stroke: PlanePoint[] = Array.from({ length: 50 }, (_, k) => [k * 0.2, 5]);
    expect(scribblePolyline(stroke)).toEqual([
      [0, 5],
      [49 * 0.2, 5],
    ]);
  });
});
