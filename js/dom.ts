/**
 * Small DOM helpers for the widget's chrome: elements with attributes, icons, buttons.
 */
export type Attrs = Record<string, string | number | boolean | undefined>;

/** Create an element with attributes and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  children: (Node | string)[] = [],
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  element.append(...children);
  return element;
}

const ICON_PATHS: Record<string, string> = {
  point:
    '<circle cx="8" cy="8" r="2.6" fill="currentColor" stroke="none"/><path d="M8 1.5v3M8 11.5v3M1.5 8h3M11.5 8h3"/>',
  box: '<rect x="2.5" y="3.5" width="11" height="9" rx="1.2"/>',
  scribble: '<path d="M2 12c1.5-5 3-7 4.5-5.5S8 12 10 10s2.5-6 4-6"/>',
  lasso:
    '<path d="M6.2 11.6C3.6 11 2 9.4 2 7.4 2 4.9 4.7 3 8 3s6 1.9 6 4.4-2.7 4.4-6 4.4"/><path d="M6.5 11.5c-.8 1.2-.4 2.5 1 3"/>',
  undo: '<path d="M5.5 3.5 2.5 6.5l3 3"/><path d="M2.5 6.5h7a4 4 0 0 1 0 8H7"/>',
  redo: '<path d="m10.5 3.5 3 3-3 3"/><path d="M13.5 6.5h-7a4 4 0 0 0 0 8H9"/>',
  reset: '<path d="M2.8 8A5.2 5.2 0 1 0 4.3 4.3"/><path d="M2.5 1.8v3h3"/>',
  plus: '<path d="M8 2.5v11M2.5 8h11"/>',
  eye: '<path d="M1.5 8S4 3.5 8 3.5 14.5 8 14.5 8 12 12.5 8 12.5 1.5 8 1.5 8z"/><circle cx="8" cy="8" r="2"/>',
  outline: '<circle cx="8" cy="8" r="5.3" stroke-dasharray="2.2 1.8"/>',
  three: '<rect x="1.5" y="3" width="13" height="10" rx="1"/><path d="M5.8 3v10M10.2 3v10"/>',
  fit: '<path d="M2 6V2h4M10 2h4v4M14 10v4h-4M6 14H2v-4"/>',
  paint: '<path d="M10.5 2.5 13.5 5.5 7 12l-3-3z"/><path d="M4 9c-1.6.4-2.2 2-2.5 4.5 2.5-.3 4.1-.9 4.5-2.5"/>',
  erase:
    '<path d="M6 13.5h7.5"/><path d="m2.8 9.7 6.5-6.5a1.2 1.2 0 0 1 1.7 0l2.3 2.3a1.2 1.2 0 0 1 0 1.7L7.8 13.5H5.6z"/><path d="m6 6.5 4 4"/>',
  fill: '<path d="m7 2 5.5 5.5-4.8 4.8a1.4 1.4 0 0 1-2 0L2.2 8.8a1.4 1.4 0 0 1 0-2z"/><path d="M13.5 10.5s1.2 1.6 1.2 2.4a1.2 1.2 0 0 1-2.4 0c0-.8 1.2-2.4 1.2-2.4z" fill="currentColor"/>',
  edit: '<path d="M11 2.5 13.5 5 6 12.5 2.5 13.5 3.5 10z"/>',
};

export function icon(name: string): SVGElement {
  const wrapper = document.createElement("span");
  wrapper.innerHTML = `<svg class="nni-icon" viewBox="0 0 16 16" width="16" height="16" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">${ICON_PATHS[name]}</svg>`;
  return wrapper.firstElementChild as SVGElement;
}

export function button(
  testid: string,
  title: string,
  content: (Node | string)[],
  onClick: () => void,
  extra: Attrs = {},
): HTMLButtonElement {
  const element = h(
    "button",
    { type: "button", class: "nni-btn", title, "aria-label": title, "data-testid": testid, ...extra },
    content,
  );
  element.addEventListener("click", (event) => {
    event.preventDefault();
    onClick();
  });
  return element;
}
