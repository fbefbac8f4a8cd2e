// Sensors: their dependencies, their triggers, and what each trigger still waits for (the
// dependencies already satisfied by a saved event, from the Sensor's status).

import { get } from '../api.js';
import { empty, h, loading, notice, pageHeader, pill, put, shortId } from '../dom.js';
import { age, when } from '../format.js';
import { poll } from '../live.js';
import { BASE } from '../router.js';

/** The kind of a trigger template (`argoWorkflow`, `http`, `log`, `k8s`). */
function triggerKind(template) {
  return Object.keys(template || {}).find((k) => !['name', 'conditions', 'conditionsReset'].includes(k)) || 'trigger';
}

/** The dependencies a trigger needs: those its conditions name, or all of them. */
function needed(template, dependencies) {
  const names = dependencies.map((d) => d.name);
  if (!template?.conditions) return names;
  return names.filter((n) => new RegExp(`(^|[^A-Za-z0-9_-])${n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^A-Za-z0-9_-])`).test(template.conditions));
}

function sensorCard(s) {
  const m = s.metadata || {};
  const spec = s.spec || {};
  const st = s.status || {};
  const deps = spec.dependencies || [];
  const pending = st.pendingDependencies || {};
  const id = `${m.namespace}/${m.name}`;
  return h('article', { class: 'card sensor', id },
    h('header', { class: 'card-head' },
      h('div', null,
        h('h2', { class: 'card-title' }, m.name),
        h('p', { class: 'muted small' }, `${m.namespace} · `, h('a', { href: `${BASE}/events?sensor=${encodeURIComponent(m.name)}` }, 'recent events'), ' · ',
          h('a', { href: `${BASE}/runs?sensor=${encodeURIComponent(m.name)}` }, 'runs'))),
      pill(st.phase || 'Pending')),
    st.message ? notice(st.phase === 'Failed' ? 'error' : 'info', null, st.message) : null,
    h('div', { class: 'sensor-grid' },
      h('section', null,
        h('h3', { class: 'detail-title' }, 'Dependencies'),
        h('ul', { class: 'plain' }, deps.map((d) => h('li', null,
          h('span', { class: 'strong' }, d.name), h('span', { class: 'muted' }, ` ← ${d.eventSourceName}/${d.eventName}`),
          d.filters ? h('span', { class: 'chip' }, 'filtered') : null, d.transform ? h('span', { class: 'chip' }, 'transformed') : null)))),
      h('section', null,
        h('h3', { class: 'detail-title' }, 'Triggers'),
        h('ul', { class: 'plain' }, (spec.triggers || []).map((t) => {
          const tpl = t.template || {};
          const want = needed(tpl, deps);
          const have = pending[tpl.name] || [];
          const haveNames = new Set(have.map((p) => p.dependency));
          const waitingFor = want.filter((n) => !haveNames.has(n));
          return h('li', { class: 'trigger' },
            h('div', null, h('span', { class: 'strong' }, tpl.name), h('span', { class: 'chip' }, triggerKind(tpl)),
              tpl.conditions ? h('span', { class: 'muted small mono' }, ` when ${tpl.conditions}`) : null),
            have.length
              ? h('div', { class: 'pending' },
                h('p', { class: 'small' }, pill('pending', 'Partly satisfied'), ` waiting for ${waitingFor.join(', ') || 'its conditions'}`),
                h('ul', { class: 'plain small' }, have.map((p) => h('li', null,
                  h('span', { class: 'strong' }, p.dependency), ' satisfied by event ', shortId(p.eventId),
                  h('span', { class: 'muted', title: when(p.since) }, ` ${age(p.since)} ago`)))))
              : h('p', { class: 'muted small' }, want.length > 1 ? `Fires when ${want.join(' and ')} have events.` : 'Fires on every matching event.'));
        })))));
}

export default async function sensors({ main, signal, ctx }) {
  ctx.setTitle('Sensors');
  const list = h('div', { class: 'stack' });
  put(main, pageHeader('Sensors', 'Sensors turn events into runs. Each trigger shows what it still waits for.'), list);
  put(list, loading());
  poll(async () => {
    const items = (await get('/api/v1/sensors', { signal })).items || [];
    put(list, items.length ? items.map(sensorCard) : empty('No sensors.', 'Apply a Sensor manifest to connect events to runs.'));
    if (location.hash) document.getElementById(decodeURIComponent(location.hash.slice(1)))?.classList.add('highlight');
    return true;
  }, { interval: 5000, signal, onError: (e) => put(list, h('p', { class: 'field-error' }, e.message)) });
}
