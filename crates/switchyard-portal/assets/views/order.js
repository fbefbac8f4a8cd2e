// One order, live: `GET /api/v1/orders/{id}/events` streams the order each time it changes
// (server-sent events read through fetch, with the bearer token), and each part of the
// page is redrawn only when its own data changed, so a comment being typed in the
// decision panel survives every update.

import { get, seg } from '../api.js';
import { facts, h, inlineCode, loading, notice, pageHeader, pill, put, shortId } from '../dom.js';
import { age, elapsed, finished, humanize, valueText, when } from '../format.js';
import { everySecond, follow } from '../live.js';
import { BASE, setQuery } from '../router.js';
import { decisionPanel, planView } from './approval.js';

/** A slot that redraws only when the key of its data changes. */
function slot(tag = 'div', props = null) {
  const el = h(tag, props);
  let last;
  return {
    el,
    set(key, draw) {
      if (key === last) return;
      last = key;
      el.replaceChildren(...[draw()].flat(Infinity).filter(Boolean));
    },
  };
}

/** Where the order stands: placed, run started, approval, done. */
function progress(order) {
  const runs = order.runs || [];
  const steps = runs.flatMap((r) => r.steps || []);
  const gate = steps.find((s) => s.type === 'Suspend');
  const rejected = (order.approvals || []).some((a) => a.decision === 'rejected');
  const failed = order.phase === 'Failed';
  const list = [['Placed', 'done', h('span', { dataset: { age: order.createdAt } }, `${age(order.createdAt)} ago`)]];
  list.push(['Run started', runs.length ? 'done' : failed ? 'bad' : 'current', runs[0] ? runs[0].name : order.event?.published ? 'waiting for a sensor' : '']);
  if (gate || order.approvals?.length) {
    const decided = (order.approvals || [])[0];
    const state = rejected ? 'bad' : order.phase === 'WaitingForApproval' ? 'wait' : gate?.phase === 'Succeeded' || decided ? 'done' : 'todo';
    list.push(['Approval', state, decided ? `${decided.decision} by ${decided.by}` : state === 'wait' ? 'waiting for an approver' : '']);
  }
  list.push([failed ? 'Failed' : 'Done', order.phase === 'Succeeded' ? 'done' : failed ? 'bad' : 'todo', order.phase === 'Succeeded' || failed ? '' : '']);
  return h('ol', { class: 'stepper', 'aria-label': 'Progress' }, list.map(([label, state, detail]) => h('li', { class: `step-${state}` },
    h('span', { class: 'step-track' }, h('span', { class: 'step-dot', 'aria-hidden': 'true' }, state === 'done' ? '✓' : state === 'bad' ? '✕' : '')),
    h('span', { class: 'step-label' }, label),
    detail ? h('span', { class: 'step-detail' }, detail) : null)));
}

function runCard(run) {
  const href = `${BASE}/runs/${encodeURIComponent(run.namespace)}/${encodeURIComponent(run.name)}`;
  const rows = (run.steps || []).map((s) => h('tr', null,
    h('td', null, h('a', { href: `${href}?node=${encodeURIComponent(s.id)}` }, s.name)),
    h('td', null, pill(s.type === 'Suspend' && s.phase === 'Running' ? 'Waiting' : s.phase, s.type === 'Suspend' && s.phase === 'Running' ? 'Waiting for approval' : null)),
    h('td', { class: 'num', dataset: { started: s.startedAt || '', finished: s.finishedAt || '' } }, elapsed(s.startedAt, s.finishedAt)),
    h('td', { class: 'muted' }, s.outputs?.exitCode !== undefined ? `exit ${s.outputs.exitCode}` : s.type === 'Suspend' ? 'approval gate' : '')));
  return h('section', { class: 'card run-card' },
    h('header', { class: 'card-head' },
      h('div', null,
        h('h3', { class: 'card-title' }, h('a', { href }, run.name)),
        h('p', { class: 'muted small' }, [run.namespace, run.progress ? `${run.progress} steps` : null, run.startedAt ? `started ${age(run.startedAt)} ago` : null].filter(Boolean).join(' · '))),
      h('div', { class: 'card-head-right' }, pill(run.phase), h('a', { class: 'btn btn-secondary btn-sm', href }, 'Open run'))),
    run.message ? h('p', { class: 'run-message' }, run.message) : null,
    rows.length
      ? h('table', { class: 'table compact' },
        h('thead', null, h('tr', null, h('th', null, 'Step'), h('th', null, 'Phase'), h('th', { class: 'num' }, 'Duration'), h('th', null, ''))),
        h('tbody', null, rows))
      : h('p', { class: 'muted small' }, 'No steps yet.'));
}

export default async function orderView({ main, params, query, signal, ctx }) {
  put(main, loading());
  let order = await get(`/api/v1/orders/${seg(params.id)}`, { signal });
  const offering = await ctx.offeringOf(order);
  const me = ctx.me();
  const title = offering?.title || order.offering;
  ctx.setTitle(`${title} order`);
  const props = offering?.input?.properties || {};

  const headPill = slot('div', { class: 'order-phase' });
  const stepper = slot('div');
  const message = slot('div');
  const decision = h('div', { class: 'decision-slot' });
  const plan = slot('div');
  const runs = slot('div', { class: 'runs' });
  const history = slot('div');
  let panelFor = null;

  // The welcome is for the moment of placing: the address loses it, so a reload does not
  // say it again.
  if (query.has('placed')) setQuery({ placed: '' });
  const placed = query.has('placed')
    ? notice('success', 'Your order is placed.', 'This page follows it live: no need to reload.')
    : null;
  const live = h('span', { class: 'live-indicator', title: 'Updates arrive as they happen' }, 'Live');

  put(main,
    h('a', { class: 'back', href: `${BASE}/orders` }, '← My orders'),
    pageHeader(title, h('span', null, 'Order ', shortId(order.id), ` · placed by ${order.requester} `, h('span', { dataset: { age: order.createdAt } }, `${age(order.createdAt)} ago`)), live, headPill.el),
    placed,
    stepper.el,
    message.el,
    h('div', { class: 'order-layout' },
      h('div', { class: 'order-main' }, decision, plan.el, runs.el),
      h('aside', { class: 'order-aside' },
        h('section', { class: 'card' }, h('h2', { class: 'card-title' }, 'What was ordered'),
          facts(Object.entries(order.input || {}).map(([k, v]) => [props[k]?.title || humanize(k), valueText(v)]))),
        h('section', { class: 'card' }, h('h2', { class: 'card-title' }, 'Event'),
          facts([
            ['Raised on', `${order.event?.source}/${order.event?.name}`],
            ['Offering', `${order.namespace}/${order.offering}`],
            ['Placed', when(order.createdAt)],
          ])),
        history.el)));

  const update = (o) => {
    order = o;
    headPill.set(o.phase, () => pill(o.phase));
    stepper.set(JSON.stringify([o.phase, o.runs?.length, o.approvals, (o.runs || []).map((r) => (r.steps || []).map((s) => s.phase))]), () => progress(o));
    message.set(o.message || '', () => (o.message ? notice(o.phase === 'Failed' ? 'error' : 'info', null, inlineCode(o.message)) : null));
    if (placed) placed.hidden = finished(o.phase);
    // The decision panel is made once per waiting period and left alone while the order
    // waits, so typing is never interrupted.
    if (o.phase === 'WaitingForApproval' && panelFor !== o.id) {
      panelFor = o.id;
      put(decision, h('section', { class: 'card decision-card' },
        h('h2', { class: 'card-title' }, 'Waiting for approval'),
        h('p', { class: 'muted' }, 'Read what the run prepared, then approve to go on or reject to stop it.'),
        planView(o),
        decisionPanel(o, { me, offering, signal, onDecided: (updated) => { update(updated); ctx.refreshInbox(); } })));
    } else if (o.phase !== 'WaitingForApproval' && panelFor) {
      panelFor = null;
      put(decision);
    }
    // While the order waits, its plan is inside the decision card, above the buttons.
    plan.set(o.phase === 'WaitingForApproval' ? 'in-decision' : JSON.stringify(o.runs?.map((r) => r.steps?.map((s) => [s.name, s.phase, s.outputs?.result]))),
      () => (o.phase === 'WaitingForApproval' ? null : planView(o)));
    runs.set(JSON.stringify(o.runs), () => (o.runs?.length
      ? o.runs.map(runCard)
      : h('section', { class: 'card' }, h('p', { class: 'muted' }, 'No run yet: the order\'s event is on its way to the sensors.'))));
    history.set(JSON.stringify(o.approvals), () => (o.approvals?.length
      ? h('section', { class: 'card' }, h('h2', { class: 'card-title' }, 'Decisions'),
        h('ul', { class: 'decisions' }, o.approvals.map((a) => h('li', null,
          pill(a.decision === 'approved' ? 'Succeeded' : 'Failed', a.decision === 'approved' ? 'Approved' : 'Rejected'),
          h('span', null, ` by ${a.by} `), h('span', { class: 'muted small', title: when(a.at) }, `${age(a.at)} ago`),
          h('blockquote', null, a.comment)))))
      : null));
    live.hidden = finished(o.phase);
  };
  update(order);

  // Clocks: ages and running durations move on between updates.
  everySecond(() => {
    for (const el of main.querySelectorAll('[data-age]')) el.textContent = `${age(el.dataset.age)} ago`;
    for (const el of main.querySelectorAll('[data-started]')) {
      if (el.dataset.started && !el.dataset.finished) el.textContent = elapsed(el.dataset.started, null);
    }
  }, signal);

  if (!finished(order.phase)) {
    follow(`/api/v1/orders/${seg(order.id)}/events`, {
      signal,
      onEvent: (type, data) => {
        if (type === 'order') update(JSON.parse(data));
      },
      isDone: () => finished(order.phase),
    });
  }
}
