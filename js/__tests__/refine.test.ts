import { describe, expect, it } from "vitest";
import { alignRegion, covers, neededStride, refineWant, tileMatrix, visibleRegion } from "../refine";
import { TileLoader } from "../tiles";
import { IDENTITY_VIEW, type PlaneParams, type ViewState, voxelToScreen, zoomAbout } from "../transform";
import type { Axis, GetSliceMsg, PlaneRegion, SliceReply, Vec3 } from "../types";

// A 2048 x 40 plane (axis 2) in an 800 x 400 view: 0.39 CSS px per voxel at fit, sent at stride 2.
const shape: Vec3 = [2048, 40, 30];
const spacing: Vec3 = [1, 1, 1];

function params(axis: Axis = 2, view: ViewState = IDENTITY_VIEW): PlaneParams {
  return { axis, shape, spacingMm: spacing, width: 800, height: 400, view };
}

function zoomed(factor: number, axis: Axis = 2): PlaneParams {
  const at = params(axis);
  return params(axis, zoomAbout(at, 400, 200, factor));
}

describe("which stride a zoom needs", () => {
  it("is the coarsest whose elements span at most a device pixel", () => {
    expect(neededStride(params(), 1)).toBe(2); // 0.39 px per voxel
    expect(neededStride(params(), 2)).toBe(1); // a 2x screen shows every voxel at fit
    expect(neededStride(zoomed(4), 1)).toBe(1);
    expect(neededStride(zoomed(0.25), 1)).toBe(10);
  });

  it("asks for nothing while the coarse slice is fine enough", () => {
    expect(refineWant(params(), 2, 1)).toBeNull();
    expect(refineWant(zoomed(4), 1, 1)).toBeNull(); // an image sent at full resolution
    expect(refineWant(zoomed(4), 2, 1)?.stride).toBe(1);
    expect(refineWant(zoomed(2), 4, 1)?.stride).toBe(1);
    expect(refineWant(params(), 4, 1)?.stride).toBe(2);
  });
});

describe("the region a zoomed view asks for", () => {
  it("is the whole plane at fit and the middle when zoomed about the centre", () => {
    expect(visibleRegion(params())).toEqual([
      [0, 2048],
      [0, 40],
    ]);
    const [[u0, u1], [v0, v1]] = visibleRegion(zoomed(4)) as PlaneRegion;
    expect(u0).toBeGreaterThanOrEqual(768 - 1);
    expect(u1).toBeLessThanOrEqual(1280 + 1);
    expect([v0, v1]).toEqual([0, 40]); // the plane is only 40 tall: all of it still shows
  });

  it("is padded, clamped to the plane and aligned to the stride", () => {
    const want = refineWant(zoomed(8), 4, 1);
    expect(want).not.toBeNull();
    const { stride, region, visible } = want!;
    expect(covers(region, visible)).toBe(true);
    expect(region[0][1] - region[0][0]).toBeGreaterThan(visible[0][1] - visible[0][0]);
    for (const [k, [lo, hi]] of region.entries()) {
      expect(lo % stride).toBe(0);
      expect(lo).toBeGreaterThanOrEqual(0);
      expect(hi).toBeLessThanOrEqual([2048, 40][k]);
    }
    expect(
      alignRegion(
        [
          [7, 50],
          [10, 11],
        ],
        3,
      ),
    ).toEqual([
      [6, 50],
      [9, 11],
    ]);
  });

  it("is nothing when the plane is panned off screen", () => {
    expect(visibleRegion(params(2, { zoom: 4, panX: 1e5, panY: 0 }))).toBeNull();
    expect(refineWant(params(2, { zoom: 4, panX: 1e5, panY: 0 }), 2, 1)).toBeNull();
  });
});

describe("where a tile goes on screen", () => {
  const apply = (m: number[], x: number, y: number) => [m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]];

  for (const axis of [0, 1, 2] as Axis[]) {
    it(`puts element (p, q) over voxel (u0 + p s, v0 + q s) along axis ${axis}`, () => {
      const at = zoomed(3, axis);
      const region: PlaneRegion = [
        [6, 20],
        [3, 12],
      ];
      for (const stride of [1, 3]) {
        const matrix = tileMatrix(at, region);
        for (const [p, q] of [
          [0, 0],
          [2, 1],
          [4, 3],
        ]) {
          // the element's first voxel is the CSS px [q s, q s + 1) x [p s, p s + 1) of the tile
          const [x, y] = apply(matrix, q * stride + 0.5, p * stride + 0.5);
          const [wantX, wantY] = voxelToScreen(at, [6 + p * stride, 3 + q * stride]);
          expect(x).toBeCloseTo(wantX, 6);
          expect(y).toBeCloseTo(wantY, 6);
        }
      }
    });
  }
});

describe("TileLoader", () => {
  const want = (stride: number, region: PlaneRegion, visible: PlaneRegion = region) => ({ stride, region, visible });
  const reply = (msg: GetSliceMsg, region: PlaneRegion, stride = msg.stride ?? 1): SliceReply => ({
    type: "slice",
    axis: msg.axis,
    index: msg.index,
    request_id: msg.request_id,
    dtype: "uint8",
    shape: [Math.ceil((region[0][1] - region[0][0]) / stride), Math.ceil((region[1][1] - region[1][0]) / stride)],
    encoding: "raw",
    stride,
    region,
  });
  const bytes = (r: SliceReply) => new Uint8Array(r.shape[0] * r.shape[1]).buffer;

  function loader(maxTiles = 4) {
    const sent: GetSliceMsg[] = [];
    let id = 0;
    const tiles = new TileLoader({ send: (msg) => sent.push(msg), nextRequestId: () => ++id, maxTiles });
    return { tiles, sent };
  }
  const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

  it("asks once for a region, keeps the tile and answers coarser or smaller wants from it", async () => {
    const { tiles, sent } = loader();
    const region: PlaneRegion = [
      [100, 300],
      [0, 40],
    ];
    tiles.request(2, 15, want(1, region));
    tiles.request(
      2,
      15,
      want(1, region, [
        [150, 250],
        [0, 40],
      ]),
    ); // in flight already
    expect(sent).toEqual([{ type: "get_slice", axis: 2, index: 15, request_id: 1, stride: 1, region }]);
    const r = reply(sent[0], region);
    expect(tiles.handleReply(r, [bytes(r)])).toBe(true);
    await flush();
    expect(tiles.find(2, 15)?.region).toEqual(region);
    tiles.request(
      2,
      15,
      want(2, [
        [100, 200],
        [0, 40],
      ]),
    );
    expect(sent).toHaveLength(1);
    // another slice, a finer stride or a region outside the tile: a new request each
    tiles.request(2, 16, want(1, region));
    tiles.request(
      2,
      15,
      want(1, [
        [250, 400],
        [0, 40],
      ]),
    );
    expect(sent.map((msg) => [msg.index, msg.region?.[0]])).toEqual([
      [15, [100, 300]],
      [16, [100, 300]],
      [15, [250, 400]],
    ]);
    expect(tiles.find(2, 16)).toBeUndefined(); // stale tiles of other slices never answer
  });

  it("keeps only the last few tiles and remembers the stride asked", async () => {
    const { tiles, sent } = loader(2);
    for (const index of [1, 2, 3]) {
      tiles.request(
        2,
        index,
        want(1, [
          [0, 10],
          [0, 10],
        ]),
      );
      const r = reply(
        sent[sent.length - 1],
        [
          [0, 10],
          [0, 10],
        ],
        2,
      ); // the kernel coarsened it
      tiles.handleReply(r, [bytes(r)]);
    }
    await flush();
    expect(tiles.find(2, 1)).toBeUndefined();
    expect(tiles.find(2, 3)).toMatchObject({ stride: 2, asked: 1 });
    tiles.request(
      2,
      3,
      want(1, [
        [0, 10],
        [0, 10],
      ]),
    ); // answered: no loop asking again
    expect(sent).toHaveLength(3);
    expect(tiles.received.map((record) => record.index)).toEqual([1, 2, 3]);
  });

  it("ignores other replies, forgets failed requests and drops tiles after clear", async () => {
    const { tiles, sent } = loader();
    const region: PlaneRegion = [
      [0, 4],
      [0, 4],
    ];
    expect(tiles.handleReply(reply({ type: "get_slice", axis: 2, index: 0, request_id: 99 }, region), [])).toBe(false);
    tiles.request(2, 0, want(1, region));
    expect(tiles.handleError(1)).toBe(true);
    tiles.request(2, 0, want(1, region));
    expect(sent).toHaveLength(2);
    const r = reply(sent[1], region);
    expect(() => tiles.handleReply({ ...r, region: undefined }, [bytes(r)])).toThrow(/needs one buffer and a region/);
    tiles.request(2, 0, want(1, region));
    const late = reply(sent[2], region);
    tiles.handleReply(late, [bytes(late)]);
    tiles.clear();
    await flush();
    expect(tiles.find(2, 0)).toBeUndefined();
  });
});
