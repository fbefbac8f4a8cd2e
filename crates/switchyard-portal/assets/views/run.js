// A run, live: its graph (every node coloured by phase, clocks running), the selected
// node's details (inputs, outputs, exit code, attempts) and its log streaming, and the
// actions the signed-in person may take (resume, stop, retry).
//
// The run is polled (once a second, every two for large runs) while it is not finished;
// each answer goes to the graph, which redraws only the nodes that changed. Runs started
// by an order send approvers to the order's page: approving there records the comment
// and applies the rule that nobody approves their own order, which resuming the run
// directly would not.

import { ApiError, get, put as apiPut, seg } from '../api.js';
import { facts, h, inlineCode, loading, notice, pageHeader, pill, put, shortId } from '../dom.js';
import { age, elapsed, finished, valueText, when } from '../format.js';
import { RunGraph } from '../graph.js';
import { everySecond, poll, sleep } from '../live.js';
import { LogView } from '../logs.js';
import { BASE, setQuery } from '../router.js';
import * as session from '../session.js';

/** Whether the run waits at an approval gate (a suspend node that is running). */
function waitingNodes(wf) {
  return Object.values(wf.status?.nodes || {}).filter((n) => n.type === 'Suspend' && n.phase === 'Running');
}

function runPhase(wf) {
  return wf.status?.phase || 'Pending';
}

/** The node worth showing first: the one asked for, else a running step, else the last one. */
function initialNode(wf, asked) {
  const nodes = Object.values(wf.status?.nodes || {});
  if (asked && nodes.some((n) => n.id === asked)) return asked;
  const steps = nodes.filter((n) => n.type === 'Pod' || n.type === 'Container');
  const running = steps.find((n) => n.phase === 'Running');
  if (running) return running.id;
  const waiting = nodes.find((n) => n.type === 'Suspend' && n.phase === 'Running');
  if (waiting) return waiting.id;
  const last = steps.sort((a, b) => String(b.startedAt).localeCompare(String(a.startedAt)))[0];
  return last?.id || wf.metadata?.name;
}

function params(list) {
  if (!list?.length) return null;
  return h('table', { class: 'table compact params' },
    h('tbody', null, list.map((p) => h('tr', null,
      h('th', { scope: 'row' }, p.name),
      h('td', null, h('code', { class: 'param-value' }, valueText(p.value ?? p.default ?? '')))))));
}

export default async function runView({ main, params: route, query, signal, ctx }) {
  const { namespace, name } = route;
  const path = `/api/v1/namespaces/${seg(namespace)}/workflows/${seg(name)}`;
  put(main, loading());
  let wf = await get(path, { signal });
  ctx.setTitle(name);

  const headPill = h('span');
  const actions = h('div', { class: 'run-actions' });
  const actionError = h('div');
  const origin = h('div');
  const summary = h('div', { class: 'card run-summary' });
  const graphBox = h('div', { class: 'graph-box', tabindex: '0', 'aria-label': 'Run graph: select a node to see its details and log' });
  const detail = h('div', { class: 'node-detail' });
  const logs = new LogView();
  const graph = new RunGraph(graphBox, { onSelect: (id) => select(id) });
  const zoom = (f, label) => h('button', { type: 'button', class: 'btn btn-ghost btn-sm', 'aria-label': label, on: { click: () => graph.zoom(f) } }, label);
  const template = wf.spec?.workflowTemplateRef?.name;

  put(main,
    h('a', { class: 'back', href: `${BASE}/runs` }, '← Runs'),
    pageHeader(name, [namespace, template ? `from template ${template}` : null].filter(Boolean).join(' · '), headPill, actions),
    actionError,
    origin,
    summary,
    h('div', { class: 'run-layout' },
      h('section', { class: 'card graph-card' },
        h('header', { class: 'card-head' },
          h('h2', { class: 'card-title' }, 'Graph'),
          h('div', { class: 'graph-tools' },
            h('span', { class: 'legend' },
              ['ok', 'run', 'wait', 'bad', 'idle'].map((t) => h('span', { class: `legend-item tone-${t}` },
                h('span', { class: 'dot' }), { ok: 'Succeeded', run: 'Running', wait: 'Waiting', bad: 'Failed', idle: 'Pending' }[t]))),
            zoom(1 / 1.25, '−'), zoom(1.25, '+'), zoom(0, 'Fit'))),
        graphBox),
      h('aside', { class: 'card node-card' }, detail)),
    logs.element);

  let selected = null;
  let orderOf = null;

  // Where the run came from: a run started for an order carries the order's id among its
  // events, and the order is where it is approved.
  const events = (wf.metadata?.annotations?.['events.switchyard.dev/events'] || '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const id of events) {
    try {
      orderOf = await get(`/api/v1/orders/${seg(id)}`, { signal });
      break;
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
    }
  }
  const sensor = wf.metadata?.labels?.['events.switchyard.dev/sensor'];

  function drawOrigin() {
    const waiting = waitingNodes(wf).length > 0;
    if (orderOf) {
      const href = `${BASE}/orders/${encodeURIComponent(orderOf.id)}`;
      put(origin, notice(waiting ? 'warn' : 'info',
        waiting ? 'This run waits for approval of its order.' : null,
        h('span', null, 'Started by order ', h('a', { href }, shortId(orderOf.id)), ` (${orderOf.offering}, placed by ${orderOf.requester}). `),
        waiting ? h('a', { href, class: 'strong' }, 'Approve or reject it on the order\'s page →') : null));
    } else if (sensor) {
      put(origin, notice('info', null, `Started by sensor ${sensor}.`));
    } else {
      put(origin);
    }
  }

  function runPill() {
    return waitingNodes(wf).length && !finished(runPhase(wf)) ? pill('Waiting', 'Waiting for approval') : pill(runPhase(wf));
  }

  function drawSummary() {
    const st = wf.status || {};
    const args = wf.spec?.arguments?.parameters || [];
    put(summary, facts([
      ['Phase', runPill()],
      ['Progress', st.progress],
      ['Started', st.startedAt ? h('span', { title: when(st.startedAt) }, `${age(st.startedAt)} ago`) : 'Not yet'],
      ['Duration', h('span', { class: 'run-duration' }, elapsed(st.startedAt, st.finishedAt))],
      ['Parameters', args.length ? args.map((p) => h('span', { class: 'chip' }, `${p.name}=${valueText(p.value)}`)) : null, true],
      ['Message', st.message],
    ]));
    put(headPill, runPill());
  }

  function drawActions() {
    const phase = runPhase(wf);
    const buttons = [];
    const waiting = waitingNodes(wf);
    if (waiting.length && !orderOf && session.hasRole('approver')) {
      buttons.push(['Resume', 'btn-success', 'resume', {}, `Resume ${name}? Its waiting steps (${waiting.map((n) => n.displayName).join(', ')}) go on.`]);
    }
    if (!finished(phase) && session.hasRole('admin')) {
      buttons.push(['Stop', 'btn-danger', 'stop', {}, `Stop ${name}? Running steps are stopped; exit handlers still run.`]);
    }
    if ((phase === 'Failed' || phase === 'Error') && session.hasRole('admin')) {
      buttons.push(['Retry', 'btn-primary', 'retry', {}, `Retry ${name} from its failed steps?`]);
    }
    put(actions, buttons.map(([label, cls, action, body, question]) => h('button', {
      type: 'button', class: ['btn', cls], dataset: { action },
      on: { click: () => act(label, action, body, question) },
    }, label)));
  }

  async function act(label, action, body, question) {
    // A confirmation in the page (a <dialog>), not the browser's own prompt.
    const dialog = h('dialog', { class: 'dialog' });
    const message = h('input', { class: 'input', placeholder: 'A note kept with the run (optional)' });
    const ok = h('button', { type: 'submit', class: 'btn btn-primary', value: 'ok' }, label);
    put(dialog, h('form', { method: 'dialog' },
      h('h2', null, `${label} this run?`), h('p', null, question),
      action === 'retry' ? null : message,
      h('div', { class: 'dialog-actions' }, h('button', { type: 'submit', class: 'btn btn-secondary', value: 'cancel' }, 'Cancel'), ok)));
    document.body.append(dialog);
    dialog.showModal();
    const answer = await new Promise((resolve) => dialog.addEventListener('close', () => resolve(dialog.returnValue), { once: true }));
    dialog.remove();
    if (answer !== 'ok') return;
    const request = { ...body };
    if (message.value.trim() && action !== 'retry') request.message = message.value.trim();
    try {
      wf = await apiPut(`${path}/${action}`, request, { signal });
      put(actionError);
      refresh();
      watch();
    } catch (e) {
      if (signal.aborted) return;
      put(actionError, notice('error', `${label} was refused.`, inlineCode(e.message)));
    }
  }

  function drawDetail() {
    const nodes = wf.status?.nodes || {};
    const n = nodes[selected];
    if (!n) {
      put(detail, h('p', { class: 'muted' }, 'Select a node in the graph to see its details and log.'));
      return;
    }
    const parent = Object.values(nodes).find((p) => (p.children || []).includes(n.id));
    const attempts = n.type === 'Retry' ? (n.children || []).length : null;
    const attempt = parent?.type === 'Retry' ? `${(parent.children || []).indexOf(n.id) + 1} of ${(parent.children || []).length}` : null;
    const waiting = n.type === 'Suspend' && n.phase === 'Running';
    put(detail,
      h('header', { class: 'node-head' },
        h('h2', { class: 'card-title' }, n.displayName || n.name),
        pill(waiting ? 'Waiting' : n.phase, waiting ? 'Waiting for approval' : null)),
      facts([
        ['Type', n.type],
        ['Template', n.templateName],
        ['Started', n.startedAt ? when(n.startedAt) : null],
        ['Finished', n.finishedAt ? when(n.finishedAt) : null],
        ['Duration', n.startedAt ? h('span', { class: 'node-duration' }, elapsed(n.startedAt, n.finishedAt)) : null],
        ['Exit code', n.outputs?.exitCode],
        ['Attempts', attempts],
        ['Attempt', attempt],
        ['Message', n.message],
        ['Resumed by', n.resumedBy],
        ['Resume note', n.resumeMessage],
        ['Node id', h('span', { class: 'mono small' }, n.id)],
      ]),
      waiting && orderOf ? notice('warn', 'Waiting for approval.', h('a', { href: `${BASE}/orders/${encodeURIComponent(orderOf.id)}` }, 'Decide on the order\'s page')) : null,
      n.inputs?.parameters?.length ? [h('h3', { class: 'detail-title' }, 'Inputs'), params(n.inputs.parameters)] : null,
      n.outputs?.parameters?.length ? [h('h3', { class: 'detail-title' }, 'Outputs'), params(n.outputs.parameters)] : null,
      n.outputs?.result ? [h('h3', { class: 'detail-title' }, 'Result'), h('pre', { class: 'output small' }, n.outputs.result)] : null);
  }

  let detailKey = '';
  let logFor = '';
  function select(id, { user = true } = {}) {
    selected = id;
    graph.select(id);
    if (user) setQuery({ node: id });
    detailKey = '';
    refreshDetail();
  }

  function refreshDetail() {
    const n = wf.status?.nodes?.[selected];
    const key = JSON.stringify(n || null);
    if (key === detailKey) return;
    detailKey = key;
    drawDetail();
    // The log: a step's own, every step's for the run itself, none for junctions and gates.
    const logKey = `${selected}|${n?.type}|${n?.startedAt ? 'started' : 'pending'}`;
    if (logKey === logFor) return;
    logFor = logKey;
    if (!n) return;
    const step = n.type === 'Pod' || n.type === 'Container';
    if (step && !n.startedAt) logs.message(n.displayName, 'This step has not started yet; its log appears here when it does.');
    else if (step) logs.show(namespace, name, n.id, n.displayName);
    else if (n.id === wf.metadata?.name) logs.show(namespace, name, null, 'every step');
    else if (n.type === 'Suspend') logs.message(n.displayName, 'An approval gate writes no log: it waits for a decision.');
    else if (n.type === 'Retry') logs.message(n.displayName, 'Each attempt has its own log: select one of the attempts after this node.');
    else logs.message(n.displayName, 'This node groups other nodes: select one of its steps to see its log.');
  }

  function refresh() {
    graph.update(wf.status?.nodes || {});
    drawSummary();
    drawActions();
    drawOrigin();
    refreshDetail();
  }

  refresh();
  select(initialNode(wf, query.get('node')), { user: false });
  requestAnimationFrame(() => {
    if (selected) graph.reveal(selected);
  });

  everySecond(() => {
    graph.tick();
    const st = wf.status || {};
    const d = summary.querySelector('.run-duration');
    if (d && st.startedAt && !st.finishedAt) d.textContent = elapsed(st.startedAt, null);
    const nd = detail.querySelector('.node-duration');
    const n = wf.status?.nodes?.[selected];
    if (nd && n?.startedAt && !n.finishedAt) nd.textContent = elapsed(n.startedAt, null);
  }, signal);

  let watching = false;
  async function watch() {
    if (watching) return;
    watching = true;
    const big = Object.keys(wf.status?.nodes || {}).length > 200;
    await poll(async () => {
      const next = await get(path, { signal });
      wf = next;
      refresh();
      return !finished(runPhase(wf));
    }, { interval: big ? 2000 : 1000, signal, onError: () => {} });
    watching = false;
  }
  if (!finished(runPhase(wf))) watch();
  // A finished run can still be retried by someone else: look again now and then.
  (async () => {
    while (!signal.aborted) {
      await sleep(15_000, signal);
      if (!watching && !signal.aborted) {
        try {
          const next = await get(path, { signal });
          if (next.metadata?.resourceVersion !== wf.metadata?.resourceVersion) {
            wf = next;
            refresh();
            if (!finished(runPhase(wf))) watch();
          }
        } catch {
          // The next look will tell.
        }
      }
    }
  })();
  signal.addEventListener('abort', () => logs.stop(), { once: true });
}
