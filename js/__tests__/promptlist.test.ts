import { describe, expect, it } from "vitest";
import { rowLabel, rowOutline, rowTarget } from "../promptlist";
import type { PromptRow } from "../types";

/** Rows as the kernel's `record.prompt_rows` writes them. */
const lasso: PromptRow = {
  index: 0,
  sequence: 3,
  kind: "lasso",
  positive: false,
  axis: 0,
  slice: 30,
  draw: "lasso",
  points: [
    [30, 5, 5],
    [30, 30, 6],
    [30, 20, 25],
  ],
  focus: [30, null, null],
};
const point: PromptRow = {
  index: 1,
  sequence: 7,
  kind: "point",
  positive: true,
  axis: null,
  slice: null,
  draw: "point",
  points: [[20, 18, 16.4]],
  focus: [20, 18, 16],
};
const volumeBox: PromptRow = {
  index: 2,
  sequence: 9,
  kind: "box",
  positive: true,
  axis: 2,
  slice: 4,
  draw: "box",
  points: [
    [2, 2, 4],
    [11, 11, 4],
  ],
  focus: [6, 6, 4],
};

describe("prompt list rows", () => {
  it("say polarity, kind and where the prompt lies (slices 1-based, as the captions)", () => {
    expect(rowLabel(lasso)).toBe("− Lasso · x 31");
    expect(rowLabel(point)).toBe("+ Point · 20, 18, 16");
    expect(rowLabel(volumeBox)).toBe("+ Box · z 5");
    expect(rowLabel({ ...volumeBox, kind: "mask", axis: null, slice: null })).toBe("+ Mask");
  });

  it("go to the prompt's slice, keeping the axes it does not fix", () => {
    expect(rowTarget(lasso, [1, 2, 3])).toEqual({ axis: 0, sliceIndex: [30, 2, 3] });
    expect(rowTarget(point, [1, 2, 3])).toEqual({ axis: null, sliceIndex: [20, 18, 16] });
  });

  it("outline the prompt in the plane it was drawn on, solid on its slice and ghosted elsewhere", () => {
    expect(rowOutline(lasso, 0, 30)).toEqual({
      tool: "lasso",
      positive: false,
      path: [
        [5, 5],
        [30, 6],
        [20, 25],
      ],
      onSlice: true,
    });
    expect(rowOutline(lasso, 0, 29)?.onSlice).toBe(false);
    expect(rowOutline(lasso, 2, 30)).toBeNull(); // drawn along x: edge-on in a z view
    expect(rowOutline(volumeBox, 1, 4)).toBeNull();
    expect(rowOutline(volumeBox, 2, 4)?.path).toEqual([
      [2, 2],
      [11, 11],
    ]);
  });

  it("outline a point in every view, on the slice its rounded position lies on", () => {
    expect(rowOutline(point, 2, 16)).toMatchObject({ tool: "point", path: [[20, 18]], onSlice: true });
    expect(rowOutline(point, 2, 17)?.onSlice).toBe(false);
    expect(rowOutline(point, 0, 20)).toMatchObject({ path: [[18, 16.4]], onSlice: true });
  });
});
