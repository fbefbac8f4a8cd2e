// My orders (or everyone's): what was ordered, where it stands, how old it is.

import { get, query } from '../api.js';
import { empty, h, loading, pageHeader, pill, put, shortId } from '../dom.js';
import { age, valueText, when } from '../format.js';
import { everySecond, poll } from '../live.js';
import { BASE, setQuery } from '../router.js';

const PHASES = ['', 'Accepted', 'Running', 'WaitingForApproval', 'Succeeded', 'Failed'];

/** The few input values that tell orders apart (requester fields are in their own column). */
function summary(input) {
  return Object.entries(input || {})
    .filter(([k]) => !k.startsWith('requester'))
    .slice(0, 3)
    .map(([, v]) => valueText(v))
    .join(' · ');
}

export default async function orders({ main, query: q, signal, ctx }) {
  ctx.setTitle('My orders');
  const me = ctx.me();
  let everyone = q.get('all') === '1';
  let phase = q.get('phase') || '';
  const table = h('div');
  const tabs = h('div', { class: 'tabs', role: 'tablist' });
  const phaseSelect = h('select', { class: 'input select input-sm', 'aria-label': 'Phase' },
    PHASES.map((p) => h('option', { value: p, selected: p === phase }, p ? p.replace(/([a-z])([A-Z])/g, '$1 $2') : 'Any phase')));
  const drawTabs = () => put(tabs, [['Mine', false], ['Everyone', true]].map(([label, all]) => h('button', {
    type: 'button', role: 'tab', class: ['tab', all === everyone ? 'active' : null], 'aria-selected': String(all === everyone),
    on: { click: () => { everyone = all; setQuery({ all: all ? '1' : '' }); drawTabs(); refresh(); } },
  }, label)));
  drawTabs();
  phaseSelect.addEventListener('change', () => { phase = phaseSelect.value; setQuery({ phase }); refresh(); });
  const catalog = await ctx.catalog();
  const titles = new Map(catalog.map((o) => [`${o.namespace}/${o.name}`, o.title]));

  put(main,
    pageHeader('Orders', 'Everything ordered through the platform, newest first.',
      h('a', { class: 'btn btn-primary', href: `${BASE}/catalog` }, 'New order')),
    h('div', { class: 'toolbar' }, tabs, phaseSelect),
    table);
  put(table, loading());

  let generation = 0;
  async function load() {
    const mine = ++generation;
    const list = await get(`/api/v1/orders${query({ requester: everyone ? '' : me.name, phase, limit: 200 })}`, { signal });
    if (mine !== generation) return true;
    const items = list.items || [];
    if (!items.length) {
      put(table, empty(everyone ? 'No orders match.' : 'You have not ordered anything yet.',
        everyone ? 'Try another phase.' : 'Pick an offering in the catalog to place your first order.'));
      return true;
    }
    put(table, h('table', { class: 'table' },
      h('thead', null, h('tr', null,
        ['Order', 'Details', 'Phase', everyone ? 'Requester' : null, 'Age', 'Run'].filter(Boolean).map((t) => h('th', null, t)))),
      h('tbody', null, items.map((o) => {
        const run = (o.runs || [])[0];
        const href = `${BASE}/orders/${encodeURIComponent(o.id)}`;
        return h('tr', { class: 'row-link' },
          h('td', null, h('a', { href, class: 'strong' }, titles.get(`${o.namespace}/${o.offering}`) || o.offering), h('div', { class: 'muted small' }, shortId(o.id))),
          h('td', { class: 'muted' }, summary(o.input)),
          h('td', null, pill(o.phase)),
          everyone ? h('td', null, o.requester) : null,
          h('td', { title: when(o.createdAt), dataset: { age: o.createdAt } }, age(o.createdAt)),
          h('td', null, run ? h('a', { href: `${BASE}/runs/${encodeURIComponent(run.namespace)}/${encodeURIComponent(run.name)}`, class: 'mono small' }, run.name) : h('span', { class: 'muted' }, '—')));
      }))));
    // Keep polling while something can still change.
    return true;
  }
  function refresh() {
    put(table, loading());
    load().catch(() => {});
  }
  everySecond(() => {
    for (const el of table.querySelectorAll('[data-age]')) el.textContent = age(el.dataset.age);
  }, signal);
  poll(load, { interval: 5000, signal, onError: (e) => put(table, h('p', { class: 'field-error' }, e.message)) });
}
