// Every workflow run, newest first, filtered by namespace, phase, what started it and
// name; the filters live in the URL so a filtered list can be shared.

import { get } from '../api.js';
import { empty, h, loading, pageHeader, pill, put } from '../dom.js';
import { age, elapsed, when } from '../format.js';
import { everySecond, poll } from '../live.js';
import { BASE, setQuery } from '../router.js';

const PHASES = [['', 'Any phase'], ['Running', 'Running'], ['Waiting', 'Waiting for approval'], ['Succeeded', 'Succeeded'], ['Failed', 'Failed or error']];

function phaseOf(run) {
  const phase = run.status?.phase || 'Pending';
  const waiting = phase === 'Running' && Object.values(run.status?.nodes || {}).some((n) => n.type === 'Suspend' && n.phase === 'Running');
  return waiting ? 'Waiting' : phase;
}

export default async function runs({ main, query: q, signal, ctx }) {
  ctx.setTitle('Runs');
  const filters = { ns: q.get('ns') || '', phase: q.get('phase') || '', sensor: q.get('sensor') || '', q: q.get('q') || '' };
  const nsSelect = h('select', { class: 'input select input-sm', 'aria-label': 'Namespace' }, h('option', { value: '' }, 'All namespaces'));
  const sensorSelect = h('select', { class: 'input select input-sm', 'aria-label': 'Started by' }, h('option', { value: '' }, 'Started by anything'));
  const phaseSelect = h('select', { class: 'input select input-sm', 'aria-label': 'Phase' },
    PHASES.map(([v, label]) => h('option', { value: v, selected: v === filters.phase }, label)));
  const search = h('input', { class: 'input input-sm', type: 'search', placeholder: 'Name contains…', value: filters.q, 'aria-label': 'Name contains' });
  const count = h('span', { class: 'muted small' });
  const table = h('div');
  let items = [];

  const onFilter = () => {
    filters.ns = nsSelect.value;
    filters.phase = phaseSelect.value;
    filters.sensor = sensorSelect.value;
    filters.q = search.value.trim();
    setQuery(filters);
    draw();
  };
  for (const el of [nsSelect, phaseSelect, sensorSelect]) el.addEventListener('change', onFilter);
  search.addEventListener('input', onFilter);

  put(main,
    pageHeader('Runs', 'Workflow runs across namespaces: started by orders, sensors, schedules or by hand.'),
    h('div', { class: 'toolbar' }, nsSelect, sensorSelect, phaseSelect, search, count),
    table);
  put(table, loading());

  function options(select, values, current) {
    const have = new Set([...select.options].map((o) => o.value));
    for (const v of values) if (!have.has(v)) select.append(h('option', { value: v }, v));
    select.value = current;
  }

  function draw() {
    const wanted = items.filter((r) => {
      const phase = phaseOf(r);
      if (filters.ns && r.metadata?.namespace !== filters.ns) return false;
      if (filters.sensor && r.metadata?.labels?.['events.switchyard.dev/sensor'] !== filters.sensor) return false;
      if (filters.q && !String(r.metadata?.name).includes(filters.q)) return false;
      if (filters.phase === 'Failed') return phase === 'Failed' || phase === 'Error';
      return !filters.phase || phase === filters.phase;
    });
    count.textContent = `${wanted.length} of ${items.length}`;
    if (!wanted.length) {
      put(table, empty(items.length ? 'No run matches these filters.' : 'No runs yet.', items.length ? null : 'Runs appear here when orders, sensors or schedules start them.'));
      return;
    }
    put(table, h('table', { class: 'table' },
      h('thead', null, h('tr', null, ['Name', 'Namespace', 'Phase', 'Progress', 'Started', 'Duration', 'Started by'].map((t) => h('th', null, t)))),
      h('tbody', null, wanted.map((r) => {
        const m = r.metadata || {};
        const st = r.status || {};
        const phase = phaseOf(r);
        return h('tr', null,
          h('td', null, h('a', { class: 'strong mono', href: `${BASE}/runs/${encodeURIComponent(m.namespace)}/${encodeURIComponent(m.name)}` }, m.name)),
          h('td', { class: 'muted' }, m.namespace),
          h('td', null, pill(phase, phase === 'Waiting' ? 'Waiting for approval' : null)),
          h('td', { class: 'num' }, st.progress || ''),
          h('td', { title: when(st.startedAt || m.creationTimestamp) }, `${age(st.startedAt || m.creationTimestamp)} ago`),
          h('td', { class: 'num', dataset: { started: st.startedAt || '', finished: st.finishedAt || '' } }, elapsed(st.startedAt, st.finishedAt)),
          h('td', { class: 'muted' }, m.labels?.['events.switchyard.dev/sensor'] ? `sensor ${m.labels['events.switchyard.dev/sensor']}` : m.labels?.['workflows.argoproj.io/cron-workflow'] ? `cron ${m.labels['workflows.argoproj.io/cron-workflow']}` : 'submitted'));
      }))));
  }

  everySecond(() => {
    for (const el of table.querySelectorAll('[data-started]')) {
      if (el.dataset.started && !el.dataset.finished) el.textContent = elapsed(el.dataset.started, null);
    }
  }, signal);

  poll(async () => {
    const list = await get('/api/v1/workflows', { signal });
    items = (list.items || []).sort((a, b) =>
      String(b.metadata?.creationTimestamp).localeCompare(String(a.metadata?.creationTimestamp)) || String(b.metadata?.name).localeCompare(String(a.metadata?.name)));
    options(nsSelect, [...new Set(items.map((r) => r.metadata?.namespace))].sort(), filters.ns);
    options(sensorSelect, [...new Set(items.map((r) => r.metadata?.labels?.['events.switchyard.dev/sensor']).filter(Boolean))].sort(), filters.sensor);
    draw();
    return true;
  }, { interval: 5000, signal, onError: (e) => put(table, h('p', { class: 'field-error' }, e.message)) });
}
