/**
 * anywidget entry for nni_jupyter's Segmenter. anywidget calls the default export once per widget
 * model, so its closure holds that model's `Store`: `initialize` (once per model) makes it, and
 * `render` (once per displayed view) mounts a `Panel` on it and returns the panel's cleanup. Two
 * outputs of one `seg` thus share one label volume and one kernel link. Nothing lives in module
 * scope, which front ends may share between widgets.
 */
import type { Initialize, Render } from "@anywidget/types";
import "./widget.css";
import { Panel } from "./panel";
import { Store } from "./store";
import type { WidgetTraits } from "./types";

export interface SegmenterWidget {
  initialize: Initialize<WidgetTraits>;
  render: Render<WidgetTraits>;
}

/** The lifecycle of one Segmenter model in the browser. */
export default function segmenterWidget(): SegmenterWidget {
  let store: Store | null = null;
  return {
    initialize({ model }) {
      const own = new Store(model);
      store = own;
      return () => {
        own.dispose();
        if (store === own) store = null;
      };
    },
    render({ model, el }) {
      // A front end that never calls `initialize` still gets one store, made by the first view.
      store ??= new Store(model);
      const panel = new Panel(store, model, el);
      return () => panel.dispose();
    },
  };
}
