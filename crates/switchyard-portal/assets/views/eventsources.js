// Event sources: each one's events (a webhook's endpoints, a calendar's schedule) and the
// problems the platform reports for them (a port in use, a missing secret).

import { get } from '../api.js';
import { empty, h, loading, notice, pageHeader, pill, put } from '../dom.js';
import { poll } from '../live.js';
import { BASE } from '../router.js';

// Fields of an EventSource spec that are not kinds of event.
const NOT_KINDS = new Set(['eventBusName', 'service', 'template', 'replicas']);

/** One event of a kind, in a line: where it listens, or when it fires. */
function describe(kind, e) {
  if (kind === 'webhook') return `${e.method || 'POST'} :${e.port}${e.endpoint || '/'}`;
  if (kind === 'calendar') {
    const when = e.schedule ? `cron ${e.schedule}` : e.interval ? `every ${e.interval}` : 'calendar';
    return `${when}${e.timezone ? ` (${e.timezone})` : ''}`;
  }
  return Object.entries(e || {}).filter(([, v]) => typeof v === 'string').slice(0, 3).map(([k, v]) => `${k}: ${v}`).join(' · ');
}

function sourceCard(es) {
  const m = es.metadata || {};
  const spec = es.spec || {};
  const st = es.status || {};
  const problems = new Map((st.problems || []).map((p) => [p.event, p.message]));
  const rows = [];
  for (const [kind, events] of Object.entries(spec)) {
    if (NOT_KINDS.has(kind) || !events || typeof events !== 'object') continue;
    for (const [name, e] of Object.entries(events)) {
      rows.push(h('tr', null,
        h('td', null, h('span', { class: 'strong' }, name)),
        h('td', null, h('span', { class: 'chip' }, kind)),
        h('td', { class: 'mono small' }, describe(kind, e)),
        h('td', null, problems.has(name) ? pill('Degraded', 'Not served') : pill('Running', 'Served'),
          problems.has(name) ? h('div', { class: 'small field-error' }, problems.get(name)) : null)));
    }
  }
  return h('article', { class: 'card' },
    h('header', { class: 'card-head' },
      h('div', null,
        h('h2', { class: 'card-title' }, m.name),
        h('p', { class: 'muted small' }, `${m.namespace} · bus ${spec.eventBusName || 'default'} · `,
          h('a', { href: `${BASE}/events?source=${encodeURIComponent(m.name)}` }, 'recent events'))),
      pill(st.phase || 'Pending')),
    st.phase === 'Degraded' ? notice('warn', 'Some events are not served.', 'See each event below for why.') : null,
    rows.length
      ? h('table', { class: 'table compact' },
        h('thead', null, h('tr', null, ['Event', 'Kind', 'Listens / fires', 'State'].map((t) => h('th', null, t)))),
        h('tbody', null, rows))
      : h('p', { class: 'muted' }, 'No events declared.'));
}

export default async function eventsources({ main, signal, ctx }) {
  ctx.setTitle('Event sources');
  const list = h('div', { class: 'stack' });
  put(main, pageHeader('Event sources', 'Where events come from: webhooks, schedules and the orders placed through the catalog.'), list);
  put(list, loading());
  poll(async () => {
    const items = (await get('/api/v1/eventsources', { signal })).items || [];
    put(list, items.length ? items.map(sourceCard) : empty('No event sources.', 'Apply an EventSource manifest to receive events.'));
    return true;
  }, { interval: 10_000, signal, onError: (e) => put(list, h('p', { class: 'field-error' }, e.message)) });
}
