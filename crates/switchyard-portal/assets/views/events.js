// Recent events as sensors consumed them: what each dependency made of the event (matched,
// filtered out, failed) and what it triggered (a run started, a trigger retried or given
// up), with links to the runs and orders involved.

import { get, query } from '../api.js';
import { empty, h, loading, pageHeader, pill, put, shortId } from '../dom.js';
import { age, when } from '../format.js';
import { poll } from '../live.js';
import { BASE, setQuery } from '../router.js';

/** `workflow ns/name` in a firing's detail, as a link to the run. */
function firingDetail(detail) {
  const m = /^workflow ([a-z0-9-]+)\/([^\s]+)$/.exec(detail || '');
  if (!m) return detail ? h('span', { class: 'muted' }, detail) : null;
  return h('a', { class: 'mono', href: `${BASE}/runs/${encodeURIComponent(m[1])}/${encodeURIComponent(m[2])}` }, `${m[1]}/${m[2]}`);
}

export default async function events({ main, query: q, signal, ctx }) {
  ctx.setTitle('Events');
  const filters = { source: q.get('source') || '', sensor: q.get('sensor') || '' };
  const source = h('input', { class: 'input input-sm', placeholder: 'Event source', value: filters.source, 'aria-label': 'Event source' });
  const sensor = h('input', { class: 'input input-sm', placeholder: 'Sensor', value: filters.sensor, 'aria-label': 'Sensor' });
  const table = h('div');
  let timer = null;
  const onFilter = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      filters.source = source.value.trim();
      filters.sensor = sensor.value.trim();
      setQuery(filters);
      load().catch((e) => put(table, h('p', { class: 'field-error' }, e.message)));
    }, 250);
  };
  source.addEventListener('input', onFilter);
  sensor.addEventListener('input', onFilter);
  put(main,
    pageHeader('Events', 'What arrived on the event bus, what each sensor made of it, and what that triggered.'),
    h('div', { class: 'toolbar' }, source, sensor),
    table);
  put(table, loading());

  let orders = new Set();
  async function load() {
    const [list, recent] = await Promise.all([
      get(`/api/v1/events${query({ ...filters, limit: 100 })}`, { signal }),
      get('/api/v1/orders?limit=500', { signal }).catch(() => ({ items: [] })),
    ]);
    orders = new Set((recent.items || []).map((o) => o.id));
    const items = list.items || [];
    if (!items.length) {
      put(table, empty('No events yet.', 'Events appear when a webhook is called, a schedule ticks or an order is placed.'));
      return true;
    }
    put(table, h('table', { class: 'table events' },
      h('thead', null, h('tr', null, ['When', 'Event', 'Sensor', 'Dependencies', 'Triggered'].map((t) => h('th', null, t)))),
      h('tbody', null, items.map((e) => {
        const deps = e.outcome?.dependencies || [];
        return h('tr', null,
          h('td', { title: when(e.at), class: 'nowrap' }, `${age(e.at)} ago`),
          h('td', null,
            h('div', { class: 'strong' }, `${e.eventSource}/${e.eventName}`),
            h('div', { class: 'small' }, orders.has(e.eventId)
              ? h('a', { href: `${BASE}/orders/${encodeURIComponent(e.eventId)}` }, 'order ', shortId(e.eventId))
              : shortId(e.eventId))),
          h('td', null, h('a', { href: `${BASE}/sensors#${encodeURIComponent(`${e.sensor.namespace}/${e.sensor.name}`)}` }, e.sensor.name),
            h('div', { class: 'muted small' }, e.sensor.namespace)),
          h('td', null, deps.length
            ? deps.map((d) => h('div', { class: 'dep' }, pill(d.result, `${d.name}: ${d.result}`), d.reason ? h('span', { class: 'muted small' }, ` ${d.reason}`) : null))
            : h('span', { class: 'muted' }, '—'),
            e.outcome?.duplicate ? h('div', { class: 'muted small' }, 'seen before: nothing changed') : null),
          h('td', null, (e.firings || []).length
            ? e.firings.map((f) => h('div', { class: 'firing' },
              pill(f.status, `${f.trigger}: ${f.status}`), ' ', firingDetail(f.detail),
              f.attempts > 1 ? h('span', { class: 'muted small' }, ` after ${f.attempts} attempts`) : null))
            : h('span', { class: 'muted' }, 'nothing yet')));
      }))));
    return true;
  }
  poll(load, { interval: 5000, signal, onError: (e) => put(table, h('p', { class: 'field-error' }, e.message)) });
}
