// Building page elements from data.
//
// Everything the API returns goes into the page as text nodes or as attributes set one by
// one, never parsed as markup: order fields are typed by whoever placed the order and logs
// are written by whatever ran, so neither may ever become markup or script. The page's
// Content-Security-Policy forbids inline script and style too, which is why nothing here
// sets a `style` attribute (classes carry every look).

import { phaseLabel, tone } from './format.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

// Properties set as DOM properties rather than attributes (their attribute forms only set
// the initial state, which a re-render would not update).
const PROPERTIES = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'required', 'readOnly', 'open']);

function apply(el, props) {
  for (const [key, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false && !PROPERTIES.has(key)) continue;
    if (key === 'class') {
      el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    } else if (key === 'text') {
      el.textContent = String(v);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (key === 'on') {
      for (const [event, handler] of Object.entries(v)) el.addEventListener(event, handler);
    } else if (key === 'style') {
      // Inline styles are refused by the page's policy; a class says the same thing.
      throw new Error('inline styles are not allowed: use a class');
    } else if (PROPERTIES.has(key)) {
      el[key] = v;
    } else {
      el.setAttribute(key, v === true ? '' : String(v));
    }
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An HTML element: `h('a', {href, class}, 'text', child, [more])`. */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  apply(el, props);
  append(el, children);
  return el;
}

/** An SVG element, attributes set as given. */
export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (key === 'on') {
      for (const [event, handler] of Object.entries(v)) el.addEventListener(event, handler);
    } else {
      el.setAttribute(key, String(v));
    }
  }
  append(el, children);
  return el;
}

/** Replaces an element's content. */
export function put(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A status pill: a coloured dot and the phase in words. */
export function pill(phase, text) {
  return h('span', { class: ['pill', `tone-${tone(phase)}`], title: phase || 'Pending' },
    h('span', { class: 'dot', 'aria-hidden': 'true' }), text || phaseLabel(phase));
}

/** Text with `code` spans (offering descriptions use backticks) as paragraphs. */
export function prose(text) {
  const paragraphs = String(text || '').split(/\n\s*\n/).map((p) => p.trim()).filter(Boolean);
  return paragraphs.map((p) => h('p', null, inlineCode(p.replace(/\s*\n\s*/g, ' '))));
}

/** One line with `code` spans. */
export function inlineCode(text) {
  return String(text).split(/(`[^`]+`)/).map((part) =>
    part.startsWith('`') && part.endsWith('`') && part.length > 2 ? h('code', null, part.slice(1, -1)) : part);
}

/** A page header: title, subtitle, and actions on the right. */
export function pageHeader(title, subtitle, ...actions) {
  return h('header', { class: 'page-header' },
    h('div', { class: 'page-heading' },
      h('h1', null, title),
      subtitle ? h('p', { class: 'subtitle' }, subtitle) : null),
    actions.length ? h('div', { class: 'page-actions' }, actions) : null);
}

/** A message box: `kind` is info, success, warn or error. */
export function notice(kind, title, ...body) {
  return h('div', { class: ['notice', `notice-${kind}`], role: kind === 'error' ? 'alert' : 'status' },
    title ? h('strong', { class: 'notice-title' }, title) : null,
    body.length ? h('div', { class: 'notice-body' }, body) : null);
}

/** What a list shows when it has nothing. */
export function empty(title, text) {
  return h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, title), text ? h('p', null, text) : null);
}

/** A placeholder while the first answer is on its way. */
export function loading(text = 'Loading…') {
  return h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

/** A definition list from `[label, value, wide?]` (pairs with an empty value are left out;
 *  a wide one takes a whole row). */
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v, wide]) => h('div', { class: ['fact', wide ? 'wide' : null] }, h('dt', null, k), h('dd', null, v))));
}

/** A link inside the portal (the router turns its clicks into page changes). */
export function link(href, ...children) {
  return h('a', { href }, children);
}

/** A short form of a long id, the whole id on hover. */
export function shortId(id) {
  const s = String(id || '');
  return h('span', { class: 'mono', title: s }, s.length > 13 ? `${s.slice(0, 8)}…${s.slice(-4)}` : s);
}
