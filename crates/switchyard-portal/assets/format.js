// Times, durations and phases as people read them. Pure functions: no DOM, no clock unless
// one is passed (`now`), so the same input always reads the same.

/** Milliseconds since the epoch of an RFC 3339 time (nanoseconds are cut to milliseconds,
 *  which `Date.parse` reads everywhere); NaN for anything else. */
export function parseTime(ts) {
  if (typeof ts !== 'string' || ts === '') return NaN;
  return Date.parse(ts.replace(/(\.\d{3})\d+/, '$1'));
}

/** kubectl's AGE: `42s`, `5m`, `3h`, `2d`. */
export function age(ts, now = Date.now()) {
  const t = parseTime(ts);
  if (Number.isNaN(t)) return '';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** `0.4s`, `12s`, `3m 05s`, `2h 04m`, `3d 4h`. */
export function duration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const pad = (n) => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor(s / 3600) % 24}h`;
}

/** How long something ran: start to finish, or to `now` while it runs. */
export function elapsed(startedAt, finishedAt, now = Date.now()) {
  const start = parseTime(startedAt);
  if (Number.isNaN(start)) return '';
  const end = finishedAt ? parseTime(finishedAt) : now;
  return duration(end - start);
}

/** A time as the reader's locale writes it, for titles and details. */
export function when(ts) {
  const t = parseTime(ts);
  return Number.isNaN(t) ? '' : new Date(t).toLocaleString();
}

// The colour family of every phase the API reports (orders, runs, nodes, sensors, event
// sources, firings), so one status reads the same everywhere.
const TONES = {
  Succeeded: 'ok', done: 'ok', matched: 'ok', Running: 'run', Accepted: 'idle', Pending: 'idle',
  pending: 'wait', WaitingForApproval: 'wait', Waiting: 'wait', Degraded: 'wait', filtered: 'skip',
  Failed: 'bad', Error: 'bad', dead: 'bad', failed: 'bad', Deleted: 'skip', Skipped: 'skip', Omitted: 'skip',
};

export function tone(phase) {
  return TONES[phase] || 'idle';
}

/** `WaitingForApproval` → `Waiting for approval`. */
export function phaseLabel(phase) {
  if (!phase) return 'Pending';
  const words = String(phase).replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Whether an order or run phase is final. */
export function finished(phase) {
  return ['Succeeded', 'Failed', 'Error', 'Deleted'].includes(phase);
}

/** `requester_email` → `Requester email`. */
export function humanize(name) {
  const words = String(name).replace(/[_-]+/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2').trim().toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A value from an order's input as one line of text. */
export function valueText(v) {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}
