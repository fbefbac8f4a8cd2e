// The catalog: every offering, what it does, and whether the signed-in person may order it.

import { h, empty, inlineCode, loading, pageHeader, put } from '../dom.js';
import { BASE } from '../router.js';

/** The first paragraph of a description, for a card. */
function lead(text) {
  return String(text || '').split(/\n\s*\n/)[0].replace(/\s*\n\s*/g, ' ').trim();
}

export default async function catalog({ main, ctx }) {
  ctx.setTitle('Catalog');
  put(main, pageHeader('Catalog', 'What the platform offers. Pick one to order it; the form checks your input as you type.'), loading());
  const items = await ctx.catalog({ refresh: true });
  if (!items.length) {
    put(main, pageHeader('Catalog'), empty('The catalog is empty.', 'Platform engineers add offerings with `switchyard apply`.'));
    return;
  }
  const cards = items.map((o) => {
    const fields = Object.keys(o.input?.properties || {}).length;
    const href = `${BASE}/catalog/${encodeURIComponent(o.namespace)}/${encodeURIComponent(o.name)}`;
    const action = o.mayOrder
      ? h('a', { class: 'btn btn-primary', href }, 'Order')
      : h('span', { class: 'muted small' }, `Ordering needs the role ${o.access.order.join(' or ')}`);
    return h('article', { class: ['card', 'offering', o.mayOrder ? null : 'disabled'] },
      h('div', { class: 'offering-top' },
        h('span', { class: 'offering-icon', 'aria-hidden': 'true' }, (o.title || o.name).slice(0, 1).toUpperCase()),
        h('div', null,
          h('h2', { class: 'card-title' }, o.mayOrder ? h('a', { href }, o.title) : o.title),
          h('p', { class: 'muted small mono' }, `POST ${o.route}`))),
      h('p', { class: 'offering-text' }, inlineCode(lead(o.description))),
      h('div', { class: 'offering-foot' },
        h('span', { class: 'muted small' },
          `${fields} field${fields === 1 ? '' : 's'} · approved by ${o.access.approve.join(' or ')}`),
        action));
  });
  put(main,
    pageHeader('Catalog', 'What the platform offers. Pick one to order it; the form checks your input as you type.'),
    h('div', { class: 'card-grid' }, cards));
}
