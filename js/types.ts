/**
 * Shared types for the browser side, mirroring nni_jupyter/widget/PROTOCOL.md.
 * Change PROTOCOL.md first, then this file and nni_jupyter/widget/messages.py together. Names and
 * constants both sides share (traits, commands, tools) come from the kernel via `contract.gen.ts`.
 */
import type { CommandName, EditTool, TraitName, Tool } from "./contract.gen";

export { EDIT_TOOLS, TOOLS, type CommandName, type EditTool, type Tool } from "./contract.gen";

/** A tool of the toolbar: a prompt gesture or a hand edit drawn on a slice. */
export type AnyTool = Tool | EditTool;
/** Edits made from Python only (3-D clean-ups): they appear in the prompt list. */
export type VolumeEdit = "fill_holes" | "keep_largest" | "remove_small" | "dilate" | "erode";

/** Volume axis index: 0 = x, 1 = y, 2 = z (the array's axis order). */
export type Axis = 0 | 1 | 2;
export type Vec3 = [number, number, number];
/** Half-open bbox `[[x0, x1], [y0, y1], [z0, z1]]`. */
export type Bbox = [[number, number], [number, number], [number, number]];
/** In-plane continuous voxel coordinate `[p, q]` (centre of voxel k is at k). */
export type PlanePoint = [number, number];
/** A C-order label volume or slice of object ids: bytes until an id above 255 arrives. */
export type LabelArray = Uint8Array | Uint16Array;

export type Layout = "single" | "three";

export type SliceDtype = "uint8" | "int8" | "uint16" | "int16" | "int32" | "uint32" | "float32";

export interface IntensityStats {
  min: number;
  max: number;
  p01: number;
  p99: number;
  p005: number;
  p995: number;
}

export interface ObjectInfo {
  id: number;
  name: string;
  color: [number, number, number];
  class_id: number | null;
  visible: boolean;
  voxels: number;
}

/** One live prompt of the active object (trait `prompt_list`, PROTOCOL.md). */
export interface PromptRow {
  /** Its place among the object's prompts: what `remove_prompt` names. */
  index: number;
  /** Its place in the kernel's log: guards `remove_prompt` against a stale list. */
  sequence: number;
  kind: AnyTool | VolumeEdit | "mask";
  positive: boolean;
  /** The plane it lies on, or null (a point or a box over the volume). */
  axis: Axis | null;
  slice: number | null;
  /** How to outline it: a gesture or edit tool (or "none") and voxel positions `[x, y, z]`. */
  draw: AnyTool | "none";
  points: Vec3[];
  /** Edits only: a brush's radius `[rp, rq]` in voxels, a clean-up's mm or mL (else null). */
  radius?: [number, number] | null;
  amount?: number | null;
  /** The `slice_index` to go to; null keeps that axis. */
  focus: [number | null, number | null, number | null];
}

/** The status line (trait `model_info`): strings, "" where unknown. */
export interface ModelInfo {
  name: string;
  /** The model store's id, the hub snapshot it was downloaded at and its checkpoint's hash. */
  id: string;
  commit: string;
  checkpoint_sha256: string;
  license: string;
  device: string;
  precision: string;
  /** The precision chosen and why, and the threads; follows the session's measured choice. */
  performance: string;
  warning: string;
}

/** The synced traits of the Segmenter widget. */
export interface WidgetTraits {
  shape: Vec3;
  spacing_mm: Vec3;
  image_dtype: SliceDtype;
  intensity_stats: IntensityStats;
  axis: Axis;
  slice_index: Vec3;
  /** Named `view_layout` because ipywidgets' DOMWidget already syncs a `layout` trait. */
  view_layout: Layout;
  tool: AnyTool;
  /** The brush radius for paint and erase, in `brush_unit`. */
  brush_radius: number;
  brush_unit: "voxel" | "mm";
  positive: boolean;
  /** `[level, width]` */
  window: [number, number];
  objects: ObjectInfo[];
  active_object: number;
  opacity: number;
  outline: boolean;
  show_masks: boolean;
  busy: boolean;
  pending: number;
  error: string;
  model_info: ModelInfo;
  supported_tools: Tool[];
  scribble_thickness: Vec3;
  overlap: "lock" | "overwrite";
  /** Increments whenever any mask changes. */
  labels_version: number;
  prompt_list: PromptRow[];
}

/** Compiles only while `WidgetTraits` names exactly the kernel's synced traits. */
export type WidgetTraitsMatchKernel = IsTrue<SameUnion<keyof WidgetTraits, TraitName>>;
type SameUnion<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type IsTrue<T extends true> = T;

// ---- browser -> kernel -------------------------------------------------------------------------

export interface GetSliceMsg {
  type: "get_slice";
  axis: Axis;
  index: number;
  request_id: number;
  /** Slices asked for (1 when absent, at most MAX_SLICES_PER_REQUEST), `step` (+1 or -1) apart. */
  count?: number;
  step?: 1 | -1;
  /** A zoomed view's refinement: every `stride`-th voxel (the kernel may coarsen it)... */
  stride?: number;
  /** ...of this in-plane region `[[u0, u1], [v0, v1]]` (half-open, voxels) of one slice. */
  region?: PlaneRegion;
}

/** Half-open in-plane region `[[u0, u1], [v0, v1]]` along the slice's axes (p, q), in voxels. */
export type PlaneRegion = [[number, number], [number, number]];

export interface GetLabelsMsg {
  type: "get_labels";
  request_id: number;
}

export interface PromptMsg {
  type: "prompt";
  tool: AnyTool;
  /** Paint and erase: the brush radius in voxels along the plane's axes. */
  radius?: [number, number];
  /** Edits: the object the browser shows active. */
  object?: number;
  positive: boolean;
  axis: Axis;
  index: number;
  vertices: PlanePoint[];
  request_id: number;
}

export interface CommandMsg {
  type: "command";
  name: CommandName;
  request_id: number;
  /** For `select_object` and `delete_object`. */
  object?: number;
  /** Optional for `new_object`. */
  object_name?: string;
  class_id?: number;
  /** For `remove_prompt`: the row's `index` and `sequence`. */
  index?: number;
  sequence?: number;
}

export type OutgoingMsg = GetSliceMsg | GetLabelsMsg | PromptMsg | CommandMsg;

// ---- kernel -> browser -------------------------------------------------------------------------
// `request_id` is null on messages caused by a Python call rather than by a browser message.

export interface SliceReply {
  type: "slice";
  axis: Axis;
  index: number;
  request_id: number;
  dtype: SliceDtype;
  /** `[n_p, n_q]` */
  shape: [number, number];
  /** How every buffer is encoded: the raw bytes, or zlib (RFC 1950) of them. Absent means raw. */
  encoding?: SliceEncoding;
  /** Slices in the reply (one buffer each): `index`, `index + step`, ... (absent: 1 and +1). */
  count?: number;
  step?: 1 | -1;
  /** Every `stride`-th voxel of the plane along both its axes (a big lazy image shown at the
   * displayed resolution); absent: 1, full resolution. */
  stride?: number;
  /** The region served (its starts multiples of `stride`) when the request named one. */
  region?: PlaneRegion;
}

export type SliceEncoding = "raw" | "deflate";

export interface LabelsResetMsg {
  type: "labels_reset";
  request_id: number | null;
}

export interface MaskPatchMsg {
  type: "mask_patch";
  object: number;
  bbox: Bbox;
  encoding: "packbits-deflate";
  request_id: number | null;
}

export interface DoneMsg {
  type: "done";
  request_id: number | null;
  bbox: Bbox | null;
  /** Seconds spent inside the inference session (model time). */
  compute_s?: number;
}

export interface ErrorMsg {
  type: "error";
  request_id: number | null;
  message: string;
}

export type IncomingMsg = SliceReply | LabelsResetMsg | MaskPatchMsg | DoneMsg | ErrorMsg;
