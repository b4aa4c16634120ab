/**
 * A tiny virtual DOM shared by the panels: each view is a pure function from state to these nodes, so tests check it as data
 * or as an HTML string without a browser, and `dom.ts` turns it into real elements. Attribute values and text are
 * data, never markup (the HTML form escapes them; the DOM form uses setAttribute / text nodes).
 */

export interface VNode {
  tag: string;
  attrs: Record<string, string>;
  children: VChild[];
  /** Created in the SVG namespace. */
  svg?: true;
}
export type VChild = VNode | string;

/** One top-level part of a panel, patched as a unit (see morph.ts). */
export interface Section {
  key: string;
  node: VNode;
}
type AttrValue = string | number | boolean | undefined | null;
type ChildArg = VChild | false | undefined | null | ChildArg[];

function build(tag: string, attrs: Record<string, AttrValue>, children: ChildArg[], svg: boolean): VNode {
  const a: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    a[k] = v === true ? '' : String(v);
  }
  const kids: VChild[] = [];
  const add = (c: ChildArg) => {
    if (c === false || c === undefined || c === null) return;
    if (Array.isArray(c)) c.forEach(add);
    else if (c !== '') kids.push(c);
  };
  children.forEach(add);
  return { tag, attrs: a, children: kids, ...(svg && { svg: true as const }) };
}

/** An HTML element. `false`/`undefined` attributes and children are left out; `true` is an empty attribute. */
export const h = (tag: string, attrs: Record<string, AttrValue> = {}, ...children: ChildArg[]): VNode => build(tag, attrs, children, false);
/** An SVG element. */
export const s = (tag: string, attrs: Record<string, AttrValue> = {}, ...children: ChildArg[]): VNode => build(tag, attrs, children, true);

const escapeText = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escapeAttr = (t: string) => escapeText(t).replace(/"/g, '&quot;');
const VOID = new Set(['input', 'br', 'hr', 'img', 'meta', 'link']);

export function toHtml(n: VChild): string {
  if (typeof n === 'string') return escapeText(n);
  const attrs = Object.entries(n.attrs)
    .map(([k, v]) => (v === '' ? ` ${k}` : ` ${k}="${escapeAttr(v)}"`))
    .join('');
  if (VOID.has(n.tag)) return `<${n.tag}${attrs}>`;
  return `<${n.tag}${attrs}>${n.children.map(toHtml).join('')}</${n.tag}>`;
}

/** All text of a node, as a screen reader would read it without attributes. */
export function textOf(n: VChild): string {
  return typeof n === 'string' ? n : n.children.map(textOf).join('');
}

/** Depth-first search for nodes matching `pred`. */
export function findAll(n: VChild, pred: (v: VNode) => boolean, out: VNode[] = []): VNode[] {
  if (typeof n === 'string') return out;
  if (pred(n)) out.push(n);
  for (const c of n.children) findAll(c, pred, out);
  return out;
}

/**
 * A data table: one header row of column titles (`scope="col"`), then one row per item from its cells. The summary
 * panel's α sweep and the collaborate panel's privacy ledger are this shape.
 */
export function dataTable(cls: string, columns: readonly string[], rows: readonly (readonly ChildArg[])[]): VNode {
  return h(
    'table',
    { class: cls },
    h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, ...rows.map((cells) => h('tr', {}, ...cells))),
  );
}
