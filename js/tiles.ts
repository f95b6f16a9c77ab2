/**
 * Refined tiles of a zoomed view: `get_slice` requests with a `stride` and a `region`, their
 * replies decoded, and the last few tiles kept (memory bounded). The coarse slices stay with the
 * `SliceLoader`; a view draws a tile over its coarse slice (`refine.ts` says what to ask for).
 */
import { type TileWant, covers } from "./refine";
import { type Slice, decodeSlice } from "./slices";
import type { Axis, GetSliceMsg, PlaneRegion, SliceReply } from "./types";

/** A refined part of one slice: element (p, q) is the voxel (u0 + p * stride, v0 + q * stride). */
export interface Tile extends Slice {
  region: PlaneRegion;
  /** The stride asked for (the kernel may have served a coarser one: `stride`). */
  asked: number;
}

/** What the browser tests read: the tiles that arrived. */
export interface TileRecord {
  axis: Axis;
  index: number;
  stride: number;
  asked: number;
  region: PlaneRegion;
}

export interface TileLoaderOptions {
  send: (msg: GetSliceMsg) => void;
  nextRequestId: () => number;
  /** Tiles kept (the latest). */
  maxTiles?: number;
  /** A reply that could not be decoded. */
  error?: (message: string) => void;
}

interface TileRequest {
  axis: Axis;
  index: number;
  stride: number;
  region: PlaneRegion;
}

const RECORDS_KEPT = 32;

/** Whether a tile (or a request) of slice `index` along `axis` answers `want`. */
function answers(tile: TileRequest & { asked?: number }, axis: Axis, index: number, want: TileWant): boolean {
  const asked = tile.asked ?? tile.stride;
  return tile.axis === axis && tile.index === index && asked <= want.stride && covers(tile.region, want.visible);
}

export class TileLoader {
  /** Request-to-tile log, newest last (for the browser tests). */
  readonly received: TileRecord[] = [];
  private readonly tiles: Tile[] = [];
  private readonly requests = new Map<number, TileRequest>();
  private readonly listeners = new Set<(tile: Tile) => void>();
  private readonly options: Required<TileLoaderOptions>;
  /** Bumped by `clear`: a tile still inflating from before is dropped when it lands. */
  private generation = 0;

  constructor(options: TileLoaderOptions) {
    this.options = { maxTiles: 4, error: () => {}, ...options };
  }

  /** Listen for arriving tiles; returns the unsubscribe function. */
  onTile(listener: (tile: Tile) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The newest kept tile of slice `index` along `axis` that answers `want` (any when omitted). */
  find(axis: Axis, index: number, want?: TileWant): Tile | undefined {
    for (let k = this.tiles.length - 1; k >= 0; k--) {
      const tile = this.tiles[k];
      if (want ? answers(tile, axis, index, want) : tile.axis === axis && tile.index === index) return tile;
    }
    return undefined;
  }

  /** Ask for `want` of slice `index` along `axis`, unless a kept tile or a request answers it. */
  request(axis: Axis, index: number, want: TileWant): void {
    if (this.find(axis, index, want)) return;
    for (const pending of this.requests.values()) if (answers(pending, axis, index, want)) return;
    const requestId = this.options.nextRequestId();
    this.requests.set(requestId, { axis, index, stride: want.stride, region: want.region });
    this.options.send({
      type: "get_slice",
      axis,
      index,
      request_id: requestId,
      stride: want.stride,
      region: want.region,
    });
  }

  /** Handle a `slice` reply; returns false when it was not for a tile. */
  handleReply(reply: SliceReply, buffers: readonly (DataView | ArrayBuffer)[]): boolean {
    const request = this.requests.get(reply.request_id);
    if (!request) return false;
    this.requests.delete(reply.request_id);
    if (buffers.length !== 1 || !reply.region) {
      throw new Error(`a tile reply needs one buffer and a region; got ${buffers.length} and ${reply.region}`);
    }
    const { region } = reply;
    const generation = this.generation;
    decodeSlice(reply, buffers[0]).then(
      (slice) => generation === this.generation && this.store({ ...slice, region, asked: request.stride }),
      (error: Error) => this.options.error(`Could not decode a refined tile of slice ${reply.index}: ${error.message}`),
    );
    return true;
  }

  /** Handle an `error` reply; returns false when the request was not a tile's. */
  handleError(requestId: number): boolean {
    return this.requests.delete(requestId);
  }

  /** Forget every tile and request (the volume changed). */
  clear(): void {
    this.generation++;
    this.tiles.length = 0;
    this.requests.clear();
  }

  private store(tile: Tile): void {
    this.tiles.push(tile);
    if (this.tiles.length > this.options.maxTiles) this.tiles.shift();
    const { axis, index, stride, asked, region } = tile;
    this.received.push({ axis, index, stride, asked, region });
    if (this.received.length > RECORDS_KEPT) this.received.shift();
    for (const listener of this.listeners) listener(tile);
  }
}
