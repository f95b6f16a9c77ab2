/**
 * Slice transport in the browser: an LRU cache bounded by bytes, and a loader that asks the
 * kernel for slices (`get_slice`) with the visible ones first and neighbours prefetched in the
 * direction of travel, with a bounded number of requests in flight. Deflated slices are inflated
 * off the main thread's critical path (the platform's DecompressionStream).
 */
import { asBytes, inflateZlib } from "./codec";
import type { Axis, GetSliceMsg, SliceDtype, SliceReply } from "./types";

export type SliceArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Int32Array | Uint32Array | Float32Array;

export interface Slice {
  axis: Axis;
  index: number;
  dtype: SliceDtype;
  /** `[n_p, n_q]`; element (p, q) is at `p * n_q + q`. */
  shape: [number, number];
  /** Element (p, q) is the voxel (p * stride, q * stride) of the plane (1: full resolution). */
  stride: number;
  data: SliceArray;
}

const ARRAY_TYPES: Record<
  SliceDtype,
  { new (buffer: ArrayBuffer, offset: number, length: number): SliceArray; BYTES_PER_ELEMENT: number }
> = {
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
};

/** Wrap a slice reply's buffer in the typed array its dtype names (copying only if misaligned). */
export function sliceFromReply(reply: SliceReply, buffer: DataView | ArrayBuffer): Slice {
  const ArrayType = ARRAY_TYPES[reply.dtype];
  if (!ArrayType)
    throw new Error(`slice dtype ${JSON.stringify(reply.dtype)} is not one of ${Object.keys(ARRAY_TYPES).join(", ")}`);
  const [nP, nQ] = reply.shape;
  const stride = reply.stride ?? 1;
  if (!Number.isInteger(stride) || stride < 1) throw new Error(`slice stride ${stride} is not a positive integer`);
  const view = buffer instanceof ArrayBuffer ? new DataView(buffer) : buffer;
  const expected = nP * nQ * ArrayType.BYTES_PER_ELEMENT;
  if (view.byteLength !== expected) {
    throw new Error(`slice buffer has ${view.byteLength} bytes; ${reply.dtype} [${nP}, ${nQ}] needs ${expected}`);
  }
  let source = view.buffer as ArrayBuffer;
  let offset = view.byteOffset;
  if (offset % ArrayType.BYTES_PER_ELEMENT !== 0) {
    source = source.slice(offset, offset + expected);
    offset = 0;
  }
  return {
    axis: reply.axis,
    index: reply.index,
    dtype: reply.dtype,
    shape: [nP, nQ],
    stride,
    data: new ArrayType(source, offset, nP * nQ),
  };
}

/** Decode a slice reply in any encoding (PROTOCOL.md `slice`): inflate if deflated, then wrap. */
export async function decodeSlice(reply: SliceReply, buffer: DataView | ArrayBuffer): Promise<Slice> {
  const encoding = reply.encoding ?? "raw";
  if (encoding === "raw") return sliceFromReply(reply, buffer);
  if (encoding !== "deflate") throw new Error(`slice encoding ${JSON.stringify(encoding)} is not raw or deflate`);
  const bytes = await inflateZlib(asBytes(buffer));
  return sliceFromReply(reply, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

/** Least-recently-used map whose total size (by `sizeOf`) stays under `maxBytes`. */
export class LruCache<K, V> {
  private readonly entries = new Map<K, V>();
  private total = 0;

  constructor(
    readonly maxBytes: number,
    private readonly sizeOf: (value: V) => number,
  ) {}

  get bytes(): number {
    return this.total;
  }

  get size(): number {
    return this.entries.size;
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }

  /** The value, marked as most recently used. */
  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: V): void {
    this.delete(key);
    this.entries.set(key, value);
    this.total += this.sizeOf(value);
    for (const [oldest, old] of this.entries) {
      if (this.total <= this.maxBytes || oldest === key) break;
      this.entries.delete(oldest);
      this.total -= this.sizeOf(old);
    }
  }

  delete(key: K): boolean {
    const value = this.entries.get(key);
    if (value === undefined) return false;
    this.entries.delete(key);
    this.total -= this.sizeOf(value);
    return true;
  }

  clear(): void {
    this.entries.clear();
    this.total = 0;
  }
}

export interface SliceLoaderOptions {
  /** Send a message to the kernel (`model.send`). */
  send: (msg: GetSliceMsg) => void;
  /** A fresh request id for each message. */
  nextRequestId: () => number;
  /** Cache budget, bytes. */
  maxBytes?: number;
  /** Slices in flight at once (asked for and not yet in the cache). */
  maxInFlight?: number;
  /** Most slices one request asks for (a run of neighbours: one message instead of many). */
  maxPerRequest?: number;
  /** Slices prefetched ahead of the direction of travel (and a quarter as many behind). */
  prefetchAhead?: number;
  /** Requests with no reply after this many ms are forgotten (and may be sent again). */
  requestTimeoutMs?: number;
  /** Clock, ms. */
  now?: () => number;
  /** A reply that could not be decoded (after the fact, for deflated ones). */
  error?: (message: string) => void;
}

interface Focus {
  index: number;
  size: number;
  direction: number;
}

interface Request {
  /** Keys of the request's slices not yet in the cache. */
  keys: Set<string>;
  sentAt: number;
}

const sliceKey = (axis: Axis, index: number): string => `${axis}:${index}`;

/**
 * Loads slices on demand. Views call `focus(axis, index, size, direction, view)` when they show a slice;
 * `onSlice` listeners hear about every slice that arrives. Neighbours are asked for in runs (one
 * `get_slice` with `count`), each run leading away from the shown slice.
 */
export class SliceLoader {
  readonly cache: LruCache<string, Slice>;
  /** Request-to-reply times of the latest slices, ms (for benchmarks). */
  readonly roundTripsMs: number[] = [];
  private readonly requests = new Map<number, Request>();
  private readonly inFlightKeys = new Set<string>();
  private readonly focuses = new Map<Axis, Focus>();
  /** Who shows each focused axis: every view of one model shares this loader. */
  private readonly focusOwners = new Map<Axis, Set<object>>();
  private readonly listeners = new Set<(slice: Slice) => void>();
  private readonly options: Required<SliceLoaderOptions>;
  /** Bumped by `clear`: a slice still inflating from before is dropped when it lands. */
  private generation = 0;

  constructor(options: SliceLoaderOptions) {
    this.options = {
      maxBytes: 192 * 1024 * 1024,
      maxInFlight: 48,
      maxPerRequest: 8,
      prefetchAhead: 64,
      requestTimeoutMs: 30_000,
      now: () => performance.now(),
      error: () => {},
      ...options,
    };
    this.cache = new LruCache(this.options.maxBytes, (slice) => slice.data.byteLength);
  }

  /** The cached slice, if any. */
  get(axis: Axis, index: number): Slice | undefined {
    return this.cache.get(sliceKey(axis, index));
  }

  /** Listen for arriving slices; returns the unsubscribe function. */
  onSlice(listener: (slice: Slice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * A view shows slice `index` of `size` along `axis`, moving in `direction` (+1, -1 or 0).
   * Requests it if needed, then its neighbours.
   */
  focus(axis: Axis, index: number, size: number, direction = 0, owner: object = this): void {
    this.focuses.set(axis, { index, size, direction: Math.sign(direction) });
    const owners = this.focusOwners.get(axis) ?? new Set<object>();
    this.focusOwners.set(axis, owners.add(owner));
    this.pump();
  }

  /** `owner` no longer shows `axis` (a view went away): prefetching stops when no view does. */
  unfocus(axis: Axis, owner: object = this): void {
    const owners = this.focusOwners.get(axis);
    owners?.delete(owner);
    if (owners && owners.size > 0) return;
    this.focuses.delete(axis);
    this.focusOwners.delete(axis);
  }

  /** Forget everything cached (the volume changed). */
  clear(): void {
    this.generation++;
    this.cache.clear();
    this.requests.clear();
    this.inFlightKeys.clear();
  }

  /**
   * Handle a `slice` reply (one buffer per slice); returns false when none of it was ours. A raw
   * slice is cached at once; a deflated one when it has been inflated (in flight until then).
   * Throws on a reply whose buffers do not fit its count, dtype and shape.
   */
  handleReply(reply: SliceReply, buffers: readonly (DataView | ArrayBuffer)[]): boolean {
    const request = this.requests.get(reply.request_id);
    if (!request) return false;
    const count = reply.count ?? 1;
    const step = reply.step ?? 1;
    if (buffers.length !== count) {
      this.settle(reply.request_id);
      throw new Error(`a slice reply for ${count} slices came with ${buffers.length} buffers`);
    }
    let ours = false;
    for (let k = 0; k < count; k++) {
      const one: SliceReply = { ...reply, index: reply.index + k * step, count: 1 };
      const key = sliceKey(one.axis, one.index);
      if (!request.keys.has(key)) continue;
      ours = true;
      this.receive(one, buffers[k], key, request.sentAt);
    }
    return ours;
  }

  private receive(reply: SliceReply, buffer: DataView | ArrayBuffer, key: string, sentAt: number): void {
    if (reply.encoding === undefined || reply.encoding === "raw") {
      this.settle(reply.request_id, key);
      this.store(sentAt, sliceFromReply(reply, buffer));
      return;
    }
    const generation = this.generation;
    decodeSlice(reply, buffer).then(
      (slice) => {
        if (generation !== this.generation) return;
        this.settle(reply.request_id, key);
        this.store(sentAt, slice);
      },
      (error: Error) => {
        if (generation !== this.generation) return;
        this.settle(reply.request_id, key);
        this.options.error(`Could not decode slice ${reply.index} of axis ${reply.axis}: ${error.message}`);
        this.pump();
      },
    );
  }

  /** Handle an `error` reply; returns false when the request was not ours. */
  handleError(requestId: number): boolean {
    if (!this.requests.has(requestId)) return false;
    this.settle(requestId);
    this.pump();
    return true;
  }

  /** Slices in the order they should be fetched now: every focus's own slice, then neighbours. */
  wanted(): [Axis, number][] {
    const order: [Axis, number][] = [];
    const plans = [...this.focuses].map(([axis, focus]) => ({
      axis,
      steps: neighbourSteps(focus, this.options.prefetchAhead),
    }));
    for (const { axis, steps } of plans) order.push([axis, steps[0]]);
    const longest = Math.max(0, ...plans.map((plan) => plan.steps.length));
    for (let k = 1; k < longest; k++) {
      for (const { axis, steps } of plans) if (k < steps.length) order.push([axis, steps[k]]);
    }
    return order;
  }

  private store(sentAt: number, slice: Slice): void {
    this.roundTripsMs.push(this.options.now() - sentAt);
    if (this.roundTripsMs.length > 256) this.roundTripsMs.shift();
    this.cache.set(sliceKey(slice.axis, slice.index), slice);
    for (const listener of this.listeners) listener(slice);
    this.pump();
  }

  /** Forget slice `key` of a request (every slice of it when `key` is omitted). */
  private settle(requestId: number, key?: string): void {
    const request = this.requests.get(requestId);
    if (!request) return;
    for (const done of key === undefined ? [...request.keys] : [key]) {
      request.keys.delete(done);
      this.inFlightKeys.delete(done);
    }
    if (request.keys.size === 0) this.requests.delete(requestId);
  }

  private expireStale(): void {
    const now = this.options.now();
    for (const [requestId, request] of this.requests) {
      if (now - request.sentAt > this.options.requestTimeoutMs) this.settle(requestId);
    }
  }

  private missing(key: string): boolean {
    return !this.cache.has(key) && !this.inFlightKeys.has(key);
  }

  private pump(): void {
    this.expireStale();
    const { maxInFlight, maxPerRequest } = this.options;
    const wanted = this.wanted();
    const wantedKeys = new Set(wanted.map(([axis, index]) => sliceKey(axis, index)));
    for (const [axis, index] of wanted) {
      const room = Math.min(maxPerRequest, maxInFlight - this.inFlightKeys.size);
      if (room <= 0) return;
      if (!this.missing(sliceKey(axis, index))) continue;
      // The shown slice travels alone (nothing to wait for); a run of neighbours leads away from
      // it, ahead in the travel direction or behind.
      const focus = this.focuses.get(axis) as Focus;
      const step = Math.sign(index - focus.index) as -1 | 0 | 1;
      const keys = new Set([sliceKey(axis, index)]);
      for (let next = index + step; step !== 0 && keys.size < room; next += step) {
        const key = sliceKey(axis, next);
        if (!wantedKeys.has(key) || !this.missing(key)) break;
        keys.add(key);
      }
      // As the view moves, the far end of the window gains one slice a step: wait there until a
      // whole run is wanted rather than send a message per slice.
      const after = index + keys.size * step;
      const openEnded = after >= 0 && after < focus.size && !wantedKeys.has(sliceKey(axis, after));
      const far = Math.abs(index - focus.index) > this.options.prefetchAhead / 2;
      if (step !== 0 && openEnded && far && keys.size < maxPerRequest) continue;
      const requestId = this.options.nextRequestId();
      this.requests.set(requestId, { keys, sentAt: this.options.now() });
      keys.forEach((key) => this.inFlightKeys.add(key));
      const msg: GetSliceMsg = { type: "get_slice", axis, index, request_id: requestId };
      if (keys.size > 1) Object.assign(msg, { count: keys.size, step });
      this.options.send(msg);
    }
  }
}

/** The focus index, then neighbours: `ahead` in the direction of travel, half as many behind. */
export function neighbourSteps(focus: Focus, ahead: number): number[] {
  const { index, size, direction } = focus;
  const forward = direction === 0 ? Math.ceil(ahead / 2) : ahead;
  const backward = direction === 0 ? Math.ceil(ahead / 2) : Math.ceil(ahead / 4);
  const sign = direction === 0 ? 1 : direction;
  const steps: number[] = [index];
  for (let k = 1; k <= Math.max(forward, backward); k++) {
    if (k <= forward) steps.push(index + sign * k);
    if (k <= backward) steps.push(index - sign * k);
  }
  return steps.filter((step) => step >= 0 && step < size);
}
