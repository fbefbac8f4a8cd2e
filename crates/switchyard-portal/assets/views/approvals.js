// The approval inbox: orders waiting for a decision, each with what its run prepared (the
// plan) above the decision, so an approver reads before approving.
//
// Orders the signed-in person placed are listed apart with why they cannot decide on them;
// the list refreshes every few seconds, but an order being decided on is never redrawn
// under the approver's hands.

import { get } from '../api.js';
import { empty, facts, h, loading, pageHeader, pill, put, shortId } from '../dom.js';
import { age, humanize, valueText, when } from '../format.js';
import { poll } from '../live.js';
import { BASE } from '../router.js';
import { decisionPanel, planView } from './approval.js';

export default async function approvals({ main, signal, ctx }) {
  ctx.setTitle('Approvals');
  const me = ctx.me();
  const list = h('div', { class: 'inbox' });
  const own = h('div', { class: 'inbox' });
  const ownSection = h('section', { class: 'inbox-section', hidden: true },
    h('h2', { class: 'section-title' }, 'Your orders waiting for someone else'), own);
  put(main,
    pageHeader('Approvals', 'Orders waiting for a decision. Read what the run prepared, then approve or reject with a comment.'),
    list, ownSection);
  put(list, loading());
  const catalog = await ctx.catalog();
  const offerings = new Map(catalog.map((o) => [`${o.namespace}/${o.name}`, o]));
  const cards = new Map(); // order id → card element, kept while the order waits

  function card(order, offering) {
    const props = offering?.input?.properties || {};
    const href = `${BASE}/orders/${encodeURIComponent(order.id)}`;
    const mine = order.requester === me.name;
    const el = h('article', { class: ['card', 'approval', mine ? 'mine' : null], dataset: { order: order.id } },
      h('header', { class: 'card-head' },
        h('div', null,
          h('h3', { class: 'card-title' }, h('a', { href }, offering?.title || order.offering)),
          h('p', { class: 'muted small' }, 'Order ', shortId(order.id), ` · by ${order.requester} · `,
            h('span', { title: when(order.createdAt) }, `${age(order.createdAt)} ago`))),
        pill(order.phase)),
      facts(Object.entries(order.input || {}).map(([k, v]) => [props[k]?.title || humanize(k), valueText(v)])),
      planView(order, { compact: true }),
      mine
        ? h('p', { class: 'muted small mine-note' }, 'You placed this order: someone else with an approving role decides on it.')
        : decisionPanel(order, {
        me, offering, signal,
        onDecided: () => {
          ctx.refreshInbox();
          el.classList.add('decided');
        },
      }));
    return el;
  }

  async function load() {
    const waiting = (await get('/api/v1/orders?phase=WaitingForApproval&limit=500', { signal })).items || [];
    const ids = new Set(waiting.map((o) => o.id));
    // Orders no longer waiting leave the list (unless just decided here: the result stays
    // visible until the next visit).
    for (const [id, el] of cards) {
      if (!ids.has(id) && !el.classList.contains('decided')) {
        el.remove();
        cards.delete(id);
      }
    }
    for (const order of waiting) {
      if (cards.has(order.id)) continue;
      const offering = offerings.get(`${order.namespace}/${order.offering}`) || null;
      const el = card(order, offering);
      cards.set(order.id, el);
      (order.requester === me.name ? own : list).append(el);
    }
    const others = [...cards.values()].filter((el) => !el.classList.contains('mine'));
    list.querySelector('.loading')?.remove();
    list.querySelector('.load-error')?.remove();
    list.querySelector('.empty')?.remove();
    if (!others.length) list.append(empty('Nothing waits for your decision.', 'New orders that need an approval appear here by themselves.'));
    ownSection.hidden = own.childElementCount === 0;
    return true;
  }
  poll(load, {
    interval: 5000,
    signal,
    onError: (e) => {
      list.querySelector('.loading')?.remove();
      list.querySelector('.load-error')?.remove();
      list.prepend(h('p', { class: 'field-error load-error' }, `The list could not be refreshed: ${e.message}`));
    },
  });
}
