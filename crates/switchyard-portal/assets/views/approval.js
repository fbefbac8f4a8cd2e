// What an approver needs to decide, shared by the order page and the approval inbox: the
// outputs of the steps that ran before the approval gate (the plan), and the decision
// itself with its required comment.
//
// The platform refuses an approval from the person who placed the order and from anyone
// without an approving role (403 with a message). The panel says so before anyone tries,
// and still shows the platform's message if it refuses anyway.

import { post, seg } from '../api.js';
import { h, inlineCode, notice } from '../dom.js';

/** Steps with output worth reading before deciding: those that finished and said something. */
export function planSteps(order) {
  const out = [];
  for (const run of order.runs || []) {
    for (const step of run.steps || []) {
      const result = step.outputs?.result;
      if (step.phase === 'Succeeded' && typeof result === 'string' && result.trim()) {
        out.push({ run: run.name, name: step.name, result, summary: (step.outputs.parameters || []).find((p) => p.name === 'summary')?.value });
      }
    }
  }
  return out;
}

/** The output of each such step, as a card each. */
export function planView(order, { compact = false } = {}) {
  const steps = planSteps(order);
  if (!steps.length) return null;
  return h('div', { class: 'plans' }, steps.map((s) => h('section', { class: ['plan', compact ? 'compact' : null] },
    h('header', { class: 'plan-head' },
      h('span', { class: 'plan-name' }, `Output of ${s.name}`),
      s.summary ? h('span', { class: 'plan-summary' }, s.summary) : null),
    h('pre', { class: 'output', tabindex: '0' }, s.result))));
}

/**
 * The decision panel for an order waiting for approval, or null. `offering` is the catalog
 * entry (its `mayApprove` says whether the caller holds an approving role); `onDecided`
 * gets the order as the platform answers after the decision.
 */
export function decisionPanel(order, { me, offering, onDecided, signal }) {
  if (order.phase !== 'WaitingForApproval') return null;
  const mine = order.requester === me.name;
  const roles = offering?.access?.approve || ['approver'];
  const allowed = !mine && (offering ? offering.mayApprove : true);
  const id = `decision-${order.id}`;
  const comment = h('textarea', {
    id: `${id}-comment`, class: 'input textarea', rows: '3', disabled: !allowed,
    placeholder: allowed ? 'What you checked, or why not' : '', 'aria-describedby': `${id}-hint`,
  });
  const hint = h('p', { class: 'help', id: `${id}-hint` }, 'A comment is required: say why. It is kept with the order.');
  const failure = h('div', { class: 'decision-error', role: 'alert', hidden: true });
  const approve = h('button', { type: 'button', class: 'btn btn-success', disabled: true, dataset: { decision: 'approve' } }, 'Approve');
  const reject = h('button', { type: 'button', class: 'btn btn-danger', disabled: true, dataset: { decision: 'reject' } }, 'Reject');
  const sync = () => {
    const ok = allowed && comment.value.trim() !== '';
    approve.disabled = !ok;
    reject.disabled = !ok;
  };
  comment.addEventListener('input', sync);

  const decide = async (verb) => {
    const text = comment.value.trim();
    approve.disabled = true;
    reject.disabled = true;
    failure.hidden = true;
    try {
      const updated = await post(`/api/v1/orders/${seg(order.id)}/${verb}`, { comment: text }, { signal });
      panel.replaceChildren(notice('success', verb === 'approve' ? 'Approved.' : 'Rejected.',
        verb === 'approve' ? 'The run goes on from the approval step.' : 'The run is stopped.'));
      onDecided?.(updated);
    } catch (e) {
      if (signal?.aborted) return;
      failure.replaceChildren(h('strong', null, 'The platform refused: '), ...inlineCode(e.message));
      failure.hidden = false;
      sync();
    }
  };
  approve.addEventListener('click', () => decide('approve'));
  reject.addEventListener('click', () => decide('reject'));

  let why = null;
  if (mine) {
    why = notice('warn', 'You placed this order, so you cannot approve it.',
      `Someone else with the role ${roles.join(' or ')} must decide. The platform refuses a requester's own approval.`);
  } else if (!allowed) {
    why = notice('info', 'You cannot decide on this order.',
      `Approving orders of ${offering?.title || order.offering} needs one of the roles ${roles.join(', ')}; you have ${me.roles.join(', ') || 'none'}.`);
  }
  const panel = h('section', { class: 'decision', 'aria-label': 'Decision' },
    why,
    h('label', { class: 'label', for: comment.id }, 'Comment'),
    comment, hint,
    h('div', { class: 'decision-actions' }, approve, reject),
    failure);
  return panel;
}
