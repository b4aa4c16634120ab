/**
 * Virtual DOM → real DOM for the panels (summary, rewrite), patched in place: a changed section keeps its elements and only
 * their attributes and text change, so a slider being dragged or a number being typed is never replaced while
 * steps stream in. Text goes in as text nodes and attributes through setAttribute: nothing the model produced is
 * ever parsed as HTML. Attributes a custom element sets on itself (vscode-button's role, tabindex) are left alone.
 */
import { toHtml, type Section, type VChild, type VNode } from './vdom';

const SVG_NS = 'http://www.w3.org/2000/svg';
/** The attributes we set on each element (so we remove only ours). */
const OURS = new WeakMap<Element, Set<string>>();

export function build(n: VChild, inSvg = false): Node {
  if (typeof n === 'string') return document.createTextNode(n);
  const svg = inSvg || n.svg === true;
  const el = svg ? document.createElementNS(SVG_NS, n.tag) : document.createElement(n.tag);
  for (const [k, v] of Object.entries(n.attrs)) el.setAttribute(k, v);
  OURS.set(el, new Set(Object.keys(n.attrs)));
  for (const c of n.children) el.append(build(c, svg));
  return el;
}

const sameKind = (node: Node, n: VNode) =>
  node instanceof Element && node.localName === n.tag && (node.getAttribute('data-key') ?? undefined) === n.attrs['data-key'];

/** Brings `node` in line with `n`; returns the node now in its place (a new one when the kind differs). */
export function morph(node: Node, n: VChild, inSvg = false): Node {
  if (typeof n === 'string') {
    if (node.nodeType === Node.TEXT_NODE) {
      if ((node as Text).data !== n) (node as Text).data = n;
      return node;
    }
    const t = build(n);
    (node as ChildNode).replaceWith(t);
    return t;
  }
  if (!sameKind(node, n)) {
    const el = build(n, inSvg);
    (node as ChildNode).replaceWith(el);
    return el;
  }
  const el = node as Element;
  const svg = inSvg || n.svg === true;
  const focused = el === document.activeElement;
  const oldValue = el.getAttribute('value');
  const ours = OURS.get(el) ?? new Set<string>();
  for (const k of ours) if (!(k in n.attrs)) el.removeAttribute(k);
  for (const [k, v] of Object.entries(n.attrs)) if (el.getAttribute(k) !== v) el.setAttribute(k, v);
  OURS.set(el, new Set(Object.keys(n.attrs)));
  // A field's live value: follow the model unless the user is editing it (focused, and changed since we set it).
  if (el instanceof HTMLInputElement && n.attrs.value !== undefined && el.value !== n.attrs.value && (!focused || el.value === oldValue))
    el.value = n.attrs.value;
  morphChildren(el, n.children, svg);
  if (el instanceof HTMLSelectElement && !focused) {
    const want = n.children.find((c): c is VNode => typeof c !== 'string' && c.attrs.selected !== undefined)?.attrs.value;
    if (want !== undefined && el.value !== want) el.value = want;
  }
  return el;
}

const sameChild = (node: Node, c: VChild) => (typeof c === 'string' ? node.nodeType === Node.TEXT_NODE : sameKind(node, c));

/**
 * Brings `el`'s children in line with `want`. When a child comes or goes (the timeline's "live" badge, its block
 * slider), the children that match at both ends are kept and only the middle is rebuilt, so a slider next to
 * them is not replaced under the pointer in the middle of a drag.
 */
function morphChildren(el: Element, want: readonly VChild[], svg: boolean): void {
  const kids = [...el.childNodes];
  let pre = 0;
  let suf = 0;
  if (kids.length === want.length) pre = kids.length;
  else {
    while (pre < kids.length && pre < want.length && sameChild(kids[pre]!, want[pre]!)) pre++;
    while (suf < kids.length - pre && suf < want.length - pre && sameChild(kids[kids.length - 1 - suf]!, want[want.length - 1 - suf]!)) suf++;
  }
  for (let i = 0; i < pre; i++) morph(kids[i]!, want[i]!, svg);
  for (let i = 1; i <= suf; i++) morph(kids[kids.length - i]!, want[want.length - i]!, svg);
  const anchor = suf ? kids[kids.length - suf]! : null;
  for (const k of kids.slice(pre, kids.length - suf)) k.remove();
  for (const c of want.slice(pre, want.length - suf)) el.insertBefore(build(c, svg), anchor);
}

/**
 * Brings `root`'s children in line with `sections` (one element per section, in order), touching a section only
 * when its markup changed, and puts keyboard focus back on the element with the same `data-key` if it was replaced.
 */
export function patchSections(root: HTMLElement, sections: readonly Section[], rendered: Map<string, { html: string; el: Element }>): void {
  const focused = (document.activeElement as HTMLElement | null)?.closest<HTMLElement>('[data-key]');
  const focusKey = focused && root.contains(focused) ? focused.dataset.key : undefined;
  const keep = new Set(sections.map((x) => x.key));
  for (const [key, r] of rendered) {
    if (!keep.has(key)) {
      r.el.remove();
      rendered.delete(key);
    }
  }
  let prev: Element | null = null;
  for (const section of sections) {
    const html = toHtml(section.node);
    let r = rendered.get(section.key);
    if (!r) {
      const el = build(section.node) as Element;
      el.setAttribute('data-section', section.key);
      r = { html, el };
      rendered.set(section.key, r);
    } else if (r.html !== html) {
      const el = morph(r.el, section.node) as Element;
      el.setAttribute('data-section', section.key);
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
  if (focusKey && !(focused && focused.isConnected && root.contains(focused))) {
    const target = root.querySelector<HTMLElement & { updateComplete?: Promise<unknown> }>(`[data-key="${CSS.escape(focusKey)}"]`);
    // A fresh custom element (vscode-button) takes focus only once Lit has rendered it and set its tabindex.
    if (target?.updateComplete) void target.updateComplete.then(() => target.focus());
    else target?.focus();
  }
}
