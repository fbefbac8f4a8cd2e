// A step's log, streamed live: `GET .../log?step=ID&follow=true` answers NDJSON, one entry
// per line, and keeps the stream open until the step ends.
//
// Lines are appended in batches (one DOM write per network chunk, however many lines it
// holds), the view keeps the newest 5,000 lines so a chatty step cannot exhaust the tab,
// and it follows the end only while the reader is at the bottom: scrolling up to read
// stops the jumping.

import { seg, streamJsonLines } from './api.js';
import { h } from './dom.js';

const MAX_LINES = 5000;

export class LogView {
  constructor() {
    this.lines = h('div', { class: 'log-lines', role: 'log', 'aria-live': 'off', tabindex: '0' });
    this.state = h('span', { class: 'log-state' });
    this.title = h('span', { class: 'log-title' }, 'Logs');
    this.element = h('section', { class: 'log-panel', 'aria-label': 'Step log' },
      h('header', { class: 'log-head' }, this.title, this.state), this.lines);
    this.controller = null;
    this.count = 0;
    this.batch = null;
  }

  /** Streams the log of `step` (a node id; none = every step of the run). */
  show(namespace, run, step, label) {
    this.stop();
    this.controller = new AbortController();
    const signal = this.controller.signal;
    this.title.textContent = label ? `Logs · ${label}` : 'Logs';
    this.lines.replaceChildren();
    this.count = 0;
    this.setState('live', 'Live');
    this.whole = !step;
    const q = new URLSearchParams({ follow: 'true' });
    if (step) q.set('step', step);
    const path = `/api/v1/namespaces/${seg(namespace)}/workflows/${seg(run)}/log?${q}`;
    streamJsonLines(path, {
      signal,
      onEntry: (entry) => this.add(entry),
      onBatch: () => this.flush(),
    }).then(() => {
      if (signal.aborted) return;
      this.flush();
      if (this.count === 0) this.lines.append(h('div', { class: 'log-empty' }, 'This step wrote nothing.'));
      this.setState('done', 'Complete');
    }).catch((e) => {
      if (signal.aborted) return;
      this.flush();
      this.lines.append(h('div', { class: 'log-line stream-system' }, e.message));
      this.setState('error', 'Stopped');
    });
  }

  /** A message instead of a log (a node that has none). */
  message(label, text) {
    this.stop();
    this.title.textContent = label ? `Logs · ${label}` : 'Logs';
    this.lines.replaceChildren(h('div', { class: 'log-empty' }, text));
    this.setState('', '');
  }

  setState(kind, text) {
    this.state.className = `log-state ${kind}`;
    this.state.textContent = text;
  }

  add(entry) {
    if (!this.batch) this.batch = document.createDocumentFragment();
    const stream = entry.stream || 'stdout';
    const prefix = this.whole && entry.nodeName ? h('span', { class: 'log-step' }, entry.nodeName.split('.').pop()) : null;
    this.batch.append(h('div', { class: ['log-line', `stream-${stream}`] }, prefix, entry.text ?? ''));
    this.count += 1;
  }

  flush() {
    if (!this.batch) return;
    const box = this.lines;
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 24;
    box.append(this.batch);
    this.batch = null;
    const extra = box.childElementCount - MAX_LINES;
    for (let i = 0; i < extra; i++) box.firstElementChild.remove();
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  stop() {
    this.controller?.abort();
    this.controller = null;
  }
}
