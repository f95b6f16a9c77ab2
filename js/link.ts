/**
 * The conversation with the kernel for one widget model (shared by its views): request ids,
 * prompts in flight, and the routing of kernel messages to the slice loader and the label volume.
 * Keeps per-prompt timings for the benchmarks.
 */
import type { LabelVolume } from "./labels";
import type { SliceLoader } from "./slices";
import type { TileLoader } from "./tiles";
import type { Prompt } from "./gestures";
import type { CommandName, IncomingMsg, OutgoingMsg } from "./types";

/** Timings of one prompt (ms from `performance.now()`; `compute_s` from the kernel). */
export interface PromptStats {
  request_id: number;
  tool: string;
  sent_ms: number;
  done_ms?: number;
  drawn_ms?: number;
  compute_s?: number;
  /** Bytes of the prompt message sent (its JSON text). */
  sent_bytes?: number;
  /** Bytes of the mask patches this prompt brought back. */
  patch_bytes: number;
  /** Voxels of their bboxes (the raw uint8 size). */
  patch_voxels: number;
  error?: string;
}

export interface WidgetStats {
  rendered_ms: number;
  first_slice_ms?: number;
  prompts: PromptStats[];
  /** Request-to-reply times of the latest slices, ms. */
  slice_round_trips_ms: number[];
}

export interface LinkCallbacks {
  /** Something the user must see went wrong. */
  error(message: string): void;
  /** Prompts in flight changed (redraw their ghosts). */
  pendingChanged(): void;
}

const STATS_KEPT = 500;

export class KernelLink {
  readonly stats: WidgetStats;
  private readonly pending = new Map<number, { prompt: Prompt; stats: PromptStats; revert?: Promise<() => void> }>();
  private readonly commands = new Set<number>();
  // Another page showing the same kernel's widget hears the same messages: ids start at a random prefix.
  private lastRequestId = Math.floor(Math.random() * 1e6) * 1000;

  constructor(
    private readonly send: (msg: OutgoingMsg) => void,
    private readonly loader: SliceLoader,
    private readonly labels: LabelVolume,
    private readonly callbacks: LinkCallbacks,
    private readonly tiles?: TileLoader,
  ) {
    this.stats = { rendered_ms: performance.now(), prompts: [], slice_round_trips_ms: loader.roundTripsMs };
  }

  newRequestId(): number {
    return ++this.lastRequestId;
  }

  /** Ask for the full label state (on render, and when the volume changes). */
  requestLabels(): void {
    this.send({ type: "get_labels", request_id: this.newRequestId() });
  }

  /**
   * Send a prompt; `revert` (a stroke drawn at once into the labels) puts the labels back if the
   * kernel refuses it, while its patches replace the drawing when it succeeds.
   */
  submit(prompt: Prompt, revert?: Promise<() => void>): void {
    const request_id = this.newRequestId();
    const stats: PromptStats = {
      request_id,
      tool: prompt.tool,
      sent_ms: performance.now(),
      patch_bytes: 0,
      patch_voxels: 0,
    };
    this.pending.set(request_id, revert ? { prompt, stats, revert } : { prompt, stats });
    this.stats.prompts.push(stats);
    if (this.stats.prompts.length > STATS_KEPT) this.stats.prompts.shift();
    const msg: OutgoingMsg = { type: "prompt", ...prompt, request_id };
    stats.sent_bytes = JSON.stringify(msg).length;
    this.send(msg);
    this.callbacks.pendingChanged();
  }

  command(name: CommandName, object?: number): void {
    const request_id = this.newRequestId();
    this.commands.add(request_id);
    this.send(
      object === undefined ? { type: "command", name, request_id } : { type: "command", name, request_id, object },
    );
  }

  /** Remove prompt `index` of `object`, which must still be item `sequence` of the kernel's log. */
  removePrompt(object: number, index: number, sequence: number): void {
    const request_id = this.newRequestId();
    this.commands.add(request_id);
    this.send({ type: "command", name: "remove_prompt", request_id, object, index, sequence });
  }

  /** Prompts sent and not yet done. */
  pendingPrompts(): Prompt[] {
    return [...this.pending.values()].map((entry) => entry.prompt);
  }

  /** Handle one `msg:custom` message; a failure is reported, never thrown. */
  handle(msg: IncomingMsg, buffers: DataView[]): void {
    try {
      this.route(msg, buffers);
    } catch (error) {
      this.callbacks.error(`Could not handle a ${msg?.type ?? "kernel"} message: ${(error as Error).message}`);
    }
  }

  private route(msg: IncomingMsg, buffers: DataView[]): void {
    switch (msg.type) {
      case "slice":
        if (!this.loader.handleReply(msg, buffers)) this.tiles?.handleReply(msg, buffers);
        break;
      case "labels_reset":
        this.labels.reset();
        break;
      case "mask_patch": {
        const entry = msg.request_id === null ? undefined : this.pending.get(msg.request_id);
        if (entry) {
          entry.stats.patch_bytes += buffers[0]?.byteLength ?? 0;
          entry.stats.patch_voxels += msg.bbox.reduce((n, [lo, hi]) => n * (hi - lo), 1);
        }
        this.labels
          .patch(msg, buffers[0])
          .catch((error: Error) => this.callbacks.error(`Could not apply a mask update: ${error.message}`));
        break;
      }
      case "done": {
        const requestId = msg.request_id;
        // After the patches before it are applied (decoding is asynchronous).
        if (requestId !== null) this.labels.enqueue(() => this.finish(requestId, undefined, msg.compute_s));
        break;
      }
      case "error":
        // Errors never go unseen: ours, and those of no request (a malformed message, a Python call).
        if (msg.request_id === null) this.callbacks.error(msg.message);
        else if (
          this.loader.handleError(msg.request_id) ||
          this.tiles?.handleError(msg.request_id) ||
          this.pending.has(msg.request_id) ||
          this.commands.has(msg.request_id)
        ) {
          this.finish(msg.request_id, msg.message);
          this.callbacks.error(msg.message);
        }
        break;
    }
  }

  private finish(requestId: number, error?: string, computeS?: number): void {
    const entry = this.pending.get(requestId);
    this.pending.delete(requestId);
    this.commands.delete(requestId);
    if (entry) {
      entry.stats.done_ms = performance.now();
      if (computeS !== undefined) entry.stats.compute_s = computeS;
      if (error) {
        entry.stats.error = error;
        entry.revert?.then((undo) => undo());
      }
      // The overlay redraw was scheduled when the patches landed; this frame callback runs after it.
      requestAnimationFrame(() => (entry.stats.drawn_ms = performance.now()));
      this.callbacks.pendingChanged();
    }
  }
}
