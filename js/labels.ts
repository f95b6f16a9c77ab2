/**
 * The browser's label volume (PROTOCOL.md `labels_reset` / `mask_patch`): a C-order array of
 * object ids, updated by patches applied strictly in arrival order. It holds bytes, as the
 * kernel's owner map does, until a patch names an id above 255; then it widens to 16 bits.
 */
import { asBytes, decodeAndApplyPatch } from "./codec";
import { MAX_OBJECT_ID } from "./contract.gen";
import type { Bbox, LabelArray, MaskPatchMsg, Vec3 } from "./types";

export type LabelListener = (bbox: Bbox | null) => void;

export class LabelVolume {
  volume: LabelArray;
  /** True until a patch sets a voxel: views skip drawing an empty overlay. */
  empty = true;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<LabelListener>();

  constructor(public shape: Vec3) {
    this.volume = new Uint8Array(shape[0] * shape[1] * shape[2]);
  }

  /** Listen for changes (`bbox` null = everything); returns the unsubscribe function. */
  onChange(listener: LabelListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Run `task` after every earlier queued update (patch decoding is asynchronous). */
  enqueue<T>(task: () => T | Promise<T>): Promise<T> {
    const next = this.chain.then(task);
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Reallocate for a new volume shape (all labels cleared). */
  resize(shape: Vec3): void {
    this.enqueue(() => {
      this.shape = shape;
      this.volume = new Uint8Array(shape[0] * shape[1] * shape[2]);
      this.empty = true;
      this.emit(null);
    });
  }

  /** Clear every label (before the kernel re-sends them as patches). */
  reset(): Promise<void> {
    return this.enqueue(() => {
      this.volume.fill(0);
      this.empty = true;
      this.emit(null);
    });
  }

  /** Decode and apply a patch in order; resolves to the number of voxels changed. */
  patch(msg: MaskPatchMsg, buffer: DataView | ArrayBuffer): Promise<number> {
    if (msg.encoding !== "packbits-deflate") {
      return Promise.reject(
        new Error(`mask patch encoding ${JSON.stringify(msg.encoding)} is not supported; expected "packbits-deflate"`),
      );
    }
    if (!Number.isInteger(msg.object) || msg.object < 1 || msg.object > MAX_OBJECT_ID) {
      return Promise.reject(new Error(`mask patch object id ${msg.object} is outside 1..${MAX_OBJECT_ID}`));
    }
    const bytes = asBytes(buffer).slice();
    return this.enqueue(async () => {
      if (msg.object > 255 && this.volume instanceof Uint8Array) this.volume = Uint16Array.from(this.volume);
      const changed = await decodeAndApplyPatch(this.volume, this.shape, msg.bbox, msg.object, bytes);
      if (changed > 0) {
        this.empty = false;
        this.emit(msg.bbox);
      }
      return changed;
    });
  }

  /** Voxels inside `bbox` were written directly (a stroke drawn at once): tell the views. */
  touched(bbox: Bbox): void {
    this.empty = false;
    this.emit(bbox);
  }

  private emit(bbox: Bbox | null): void {
    for (const listener of this.listeners) listener(bbox);
  }
}
