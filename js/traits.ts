/**
 * The Segmenter's synced traits as the browser reads and writes them.
 */
import type { AnyModel } from "@anywidget/types";
import { TRAIT_NAMES, type TraitName } from "./contract.gen";
import type { WidgetTraits } from "./types";

export type Model = AnyModel<WidgetTraits>;

/**
 * Set a trait and send it at once. Never set without saving: the kernel echoes every update,
 * and the echo of an earlier send would overwrite a newer value held back locally (the view
 * jumped back while scrolling). ipywidgets itself holds sends back while one is in flight and
 * drops echoes older than the newest send.
 */
export function saveTrait<K extends keyof WidgetTraits>(model: Model, name: K, value: WidgetTraits[K]): void {
  model.set(name, value);
  model.save_changes();
}

/** Every synced trait's value now. */
export function readTraits(model: Model): WidgetTraits {
  return Object.fromEntries(TRAIT_NAMES.map((name) => [name, model.get(name)])) as unknown as WidgetTraits;
}

/** Call `callback` when any of `names` changes; returns the unsubscribe function. */
export function onTraits(model: Model, names: readonly TraitName[], callback: () => void): () => void {
  for (const name of names) model.on(`change:${name}`, callback);
  return () => names.forEach((name) => model.off(`change:${name}`, callback));
}
