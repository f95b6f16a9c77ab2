/**
 * What the browser sends for a stroke, pinned in tests/widget/gesture_fixture.json.
 *
 * The browser does not rasterize: it captures a pointer path in in-plane voxel coordinates, turns
 * it into prompt vertices (clamping, simplification, rounding) and sends them; the kernel turns
 * vertices into voxels. This test replays each fixture path through the real gesture and link code
 * and checks the message equals the fixture's; tests/widget/test_gesture_fixture.py feeds the same
 * messages to the kernel and checks the voxels. A change on either side fails one of the two.
 * After an intended change: `UPDATE_GESTURE_FIXTURE=1 npm test`, then the same for that pytest.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { LabelVolume } from "../labels";
import { KernelLink } from "../link";
import { SliceLoader } from "../slices";
import { extendGesture, finishGesture, startGesture } from "../gestures";
import { nearestIndex, planeShape, planeToVolume } from "../transform";
import type { Axis, OutgoingMsg, PlanePoint, Tool, Vec3 } from "../types";

const FIXTURE = new URL("../../tests/widget/gesture_fixture.json", import.meta.url);
const UPDATE = process.env.UPDATE_GESTURE_FIXTURE === "1";

interface GestureCase {
  name: string;
  tool: Tool;
  positive: boolean;
  axis: Axis;
  index: number;
  shape: Vec3;
  thickness: Vec3;
  /** Captured pointer positions, in-plane voxel coordinates (the input). */
  path: PlanePoint[];
  /** The `prompt` message the browser sends, without its `request_id`. */
  message?: Record<string, unknown>;
  /** The voxel the browser's cursor readout names under each sent vertex. */
  cursor_voxels?: Vec3[];
  /** The voxels the kernel rasterizes (written by the pytest). */
  voxels?: string[];
}

/** The wire message the browser sends for a captured path, through the real KernelLink. */
function sentMessage(gesture: GestureCase): Record<string, unknown> | null {
  const [first, ...rest] = gesture.path;
  const captured = startGesture(gesture.tool, gesture.positive, gesture.axis, gesture.index, gesture.shape, first);
  if (!captured) return null;
  for (const point of rest) extendGesture(captured, point);
  const { prompt } = finishGesture(captured, gesture.shape);
  if (!prompt) return null;
  const sent: OutgoingMsg[] = [];
  const send = (msg: OutgoingMsg) => sent.push(msg);
  const loader = new SliceLoader({ send, nextRequestId: () => 1 });
  const link = new KernelLink(send, loader, new LabelVolume(gesture.shape), {
    error: (message) => {
      throw new Error(message);
    },
    pendingChanged: () => {},
  });
  link.submit(prompt);
  const { request_id: _, ...message } = sent[0] as Extract<OutgoingMsg, { type: "prompt" }>;
  return message;
}

/** The cursor readout's voxel for each vertex (the pointer's nearest voxel on the slice). */
function cursorVoxels(gesture: GestureCase, vertices: PlanePoint[]): Vec3[] {
  const [nP, nQ] = planeShape(gesture.axis, gesture.shape);
  return vertices.map(([p, q]) => planeToVolume(gesture.axis, gesture.index, nearestIndex(p, nP), nearestIndex(q, nQ)));
}

/** One case per line, as the pytest writes it, so either side can update its own fields. */
function writeFixture(cases: GestureCase[]): void {
  writeFileSync(FIXTURE, `[\n${cases.map((c) => JSON.stringify(c)).join(",\n")}\n]\n`);
}

const cases = JSON.parse(readFileSync(FIXTURE, "utf8")) as GestureCase[];

describe("strokes drawn in the browser (tests/widget/gesture_fixture.json)", () => {
  it("covers each tool on each axis", () => {
    for (const tool of ["point", "box", "scribble", "lasso"]) {
      const axes = new Set(cases.filter((c) => c.tool === tool).map((c) => c.axis));
      expect([...axes].sort()).toEqual([0, 1, 2]);
    }
  });

  for (const gesture of cases) {
    it(`sends the pinned message: ${gesture.name}`, () => {
      const message = sentMessage(gesture);
      expect(message, "every fixture path must make a prompt").not.toBeNull();
      const vertices = (message as { vertices: PlanePoint[] }).vertices;
      if (UPDATE) {
        gesture.message = message as Record<string, unknown>;
        gesture.cursor_voxels = cursorVoxels(gesture, vertices);
        return;
      }
      expect(message).toEqual(gesture.message);
      expect(cursorVoxels(gesture, vertices)).toEqual(gesture.cursor_voxels);
    });
  }

  if (UPDATE) it("writes the updated fixture", () => writeFixture(cases));
});
