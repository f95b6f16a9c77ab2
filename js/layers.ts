/**
 * Canvas plumbing for a slice view: slice-resolution layers (grey image, mask overlay) scaled up
 * pixelated, the vector layer's context in CSS pixels, and the three-view crosshair.
 */
import { type PlaneParams, planeAxes, planeShape, voxelToScreen } from "./transform";
import type { Vec3 } from "./types";

/**
 * A layer drawn at slice resolution (one canvas pixel per voxel, in the slice's memory order:
 * column = q, row = p) and put on the stage by a CSS transform (`layerMatrix`), pixelated. A new
 * slice costs one straight `putImageData` of its own size; zoom or pan only moves the layer.
 */
export class SliceLayer {
  readonly canvas: HTMLCanvasElement;
  private image: ImageData | null = null;
  private stride = 1;

  constructor(name: string) {
    this.canvas = document.createElement("canvas");
    this.canvas.className = `nni-layer nni-${name}-canvas`;
    this.canvas.dataset.testid = `nni-${name}-canvas`;
    this.canvas.width = 1;
    this.canvas.height = 1;
    this.show(false);
  }

  /**
   * Resize to `width` (n_q) x `height` (n_p) if needed; `fill` writes every pixel (RGBA words).
   * Each pixel covers `stride` x `stride` voxels (a slice sent at the displayed resolution).
   * Returns true when the size changed (the layer must be placed again).
   */
  paint(width: number, height: number, fill: (pixels: Uint32Array) => void, stride = 1): boolean {
    const ctx = this.canvas.getContext("2d") as CanvasRenderingContext2D;
    const resized = !this.image || this.image.width !== width || this.image.height !== height || this.stride !== stride;
    if (resized) {
      this.stride = stride;
      this.canvas.width = width;
      this.canvas.height = height;
      this.canvas.style.width = `${width * stride}px`;
      this.canvas.style.height = `${height * stride}px`;
      this.image = ctx.createImageData(width, height);
    }
    const image = this.image as ImageData;
    fill(new Uint32Array(image.data.buffer));
    ctx.putImageData(image, 0, 0);
    return resized;
  }

  /** Put the layer on the stage with a CSS matrix from `layerMatrix`. */
  place(matrix: readonly number[]): void {
    this.canvas.style.transform = `matrix(${matrix.join(", ")})`;
  }

  show(visible: boolean): void {
    this.canvas.style.visibility = visible ? "visible" : "hidden";
  }
}

/** A display canvas's context, cleared, drawing in CSS px, without smoothing. */
export function clearedContext(canvas: HTMLCanvasElement, cssWidth: number): CanvasRenderingContext2D {
  const ctx = canvas.getContext("2d") as CanvasRenderingContext2D;
  const ratio = canvas.width / cssWidth;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.imageSmoothingEnabled = false;
  return ctx;
}

/** Per-axis colours of the crosshair lines (x, y, z). */
export const CROSSHAIR_COLOURS = ["#f87171", "#4ade80", "#60a5fa"];

/** Dashed lines where the other two views' slices cut this one. */
export function drawCrosshair(ctx: CanvasRenderingContext2D, params: PlaneParams, sliceIndex: Vec3): void {
  const [p, q] = planeAxes(params.axis);
  const [nP, nQ] = planeShape(params.axis, params.shape);
  const [x0, y0] = voxelToScreen(params, [-0.5, -0.5]);
  const [x1, y1] = voxelToScreen(params, [nP - 0.5, nQ - 0.5]);
  const [xp] = voxelToScreen(params, [sliceIndex[p], 0]);
  const [, yq] = voxelToScreen(params, [0, sliceIndex[q]]);
  ctx.save();
  ctx.lineWidth = 1;
  ctx.globalAlpha = 0.6;
  ctx.setLineDash([4, 4]);
  ctx.strokeStyle = CROSSHAIR_COLOURS[p];
  ctx.beginPath();
  ctx.moveTo(xp, y0);
  ctx.lineTo(xp, y1);
  ctx.stroke();
  ctx.strokeStyle = CROSSHAIR_COLOURS[q];
  ctx.beginPath();
  ctx.moveTo(x0, yq);
  ctx.lineTo(x1, yq);
  ctx.stroke();
  ctx.restore();
}
