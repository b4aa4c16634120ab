/**
 * Virtual DOM → real DOM, and a keyed patch that replaces only the sections whose markup changed. Text goes in as
 * text nodes and attributes through setAttribute: nothing the model or a file produced is ever parsed as HTML.
 */
import { toHtml, type VChild } from './vdom';
import type { Section } from './view';

const SVG_NS = 'http://www.w3.org/2000/svg';

export function toDom(n: VChild, inSvg = false): Node {
  if (typeof n === 'string') return document.createTextNode(n);
  const svg = inSvg || n.svg === true;
  const el = svg ? document.createElementNS(SVG_NS, n.tag) : document.createElement(n.tag);
  for (const [k, v] of Object.entries(n.attrs)) el.setAttribute(k, v);
  for (const c of n.children) el.append(toDom(c, svg));
  return el;
}

/**
 * Brings `root`'s children in line with `sections` (one element per section, in order), rebuilding a section
 * only when its markup changed, and puts keyboard focus back on the element with the same `data-key`.
 */
export function patchSections(root: HTMLElement, sections: readonly Section[], rendered: Map<string, { html: string; el: Element }>): void {
  const focused = (document.activeElement as HTMLElement | null)?.closest<HTMLElement>('[data-key]');
  const focusKey = focused && root.contains(focused) ? focused.dataset.key : undefined;
  let lostFocus = false;
  const keep = new Set(sections.map((s) => s.key));
  for (const [key, r] of rendered) {
    if (!keep.has(key)) {
      if (focused && r.el.contains(focused)) lostFocus = true;
      r.el.remove();
      rendered.delete(key);
    }
  }
  let prev: Element | null = null;
  for (const section of sections) {
    const html = toHtml(section.node);
    let r = rendered.get(section.key);
    if (!r || r.html !== html) {
      const el = toDom(section.node) as Element;
      el.setAttribute('data-section', section.key);
      if (r) {
        if (focused && r.el.contains(focused)) lostFocus = true;
        r.el.replaceWith(el);
      }
      r = { html, el };
      rendered.set(section.key, r);
    }
    const want: Element | null = prev ? prev.nextElementSibling : root.firstElementChild;
    if (want !== r.el) {
      if (prev) prev.after(r.el);
      else root.prepend(r.el);
    }
    prev = r.el;
  }
  // Lit-based buttons set their tabindex after the first render: focus once they have rendered.
  if (lostFocus && focusKey) restoreFocus(root, focusKey);
}

/** Focuses the element with `data-key`, after a custom element (e.g. vscode-button) has finished rendering. */
function restoreFocus(root: ParentNode, key: string): void {
  const el = root.querySelector<HTMLElement & { updateComplete?: Promise<unknown> }>(`[data-key="${CSS.escape(key)}"]`);
  if (!el) return;
  el.focus();
  if (el.updateComplete) void el.updateComplete.then(() => el.focus());
  else requestAnimationFrame(() => el.focus());
}
