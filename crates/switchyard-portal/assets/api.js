// The platform API, as the portal calls it: the same routes and bearer token a script uses.
//
// Every request goes through `call` so the token, JSON, and the two error shapes (the
// API's `{message, code}` and FastAPI's 422 `{detail: [...]}`) are handled in one place.
// Streams (server-sent events, NDJSON logs) are read with fetch() rather than EventSource:
// EventSource cannot send an Authorization header, fetch can, so no token ever has to go
// into a URL or a cookie.

import { token as sessionToken } from './session.js';

/** A failed call: `status` is 0 when the server could not be reached. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.body = body;
    /** FastAPI's field errors, for a 422. */
    this.detail = Array.isArray(body?.detail) ? body.detail : null;
  }
}

/** Fired on `window` when the API says the token is not (or no longer) valid. */
export const SIGNED_OUT = 'portal:signed-out';

function headers(extra, token) {
  const h = new Headers(extra || {});
  const t = token ?? sessionToken();
  if (t) h.set('Authorization', `Bearer ${t}`);
  return h;
}

async function failure(response, usedSessionToken) {
  const text = await response.text().catch(() => '');
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  let message = body?.message;
  if (!message && Array.isArray(body?.detail)) {
    const n = body.detail.length;
    message = `The platform refused it: ${n} problem${n === 1 ? '' : 's'}`;
  }
  if (!message) message = `${response.status} ${response.statusText || 'error'}`.trim();
  if (response.status === 401 && usedSessionToken) {
    window.dispatchEvent(new CustomEvent(SIGNED_OUT, { detail: message }));
  }
  return new ApiError(response.status, message, body);
}

function unreachable(e) {
  if (e?.name === 'AbortError') return e;
  return new ApiError(0, 'The platform cannot be reached. Check that it is running and try again.', null);
}

/**
 * One API call. `body` is sent as JSON; the answer's JSON is returned (null when empty).
 * `token` overrides the session's (signing in checks a token before keeping it).
 */
export async function call(method, path, { body, signal, token, headers: extra } = {}) {
  const h = headers(extra, token);
  if (body !== undefined) h.set('Content-Type', 'application/json');
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (e) {
    throw unreachable(e);
  }
  if (!response.ok) throw await failure(response, token === undefined);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export const get = (path, opts) => call('GET', path, opts);
export const post = (path, body, opts) => call('POST', path, { ...opts, body });
export const put = (path, body, opts) => call('PUT', path, { ...opts, body });

/** `?a=1&b=2` from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** A path segment, escaped. */
export const seg = encodeURIComponent;

async function open(path, signal) {
  let response;
  try {
    response = await fetch(path, { headers: headers(), signal, cache: 'no-store', credentials: 'omit' });
  } catch (e) {
    throw unreachable(e);
  }
  if (!response.ok) throw await failure(response, true);
  return response.body.pipeThrough(new TextDecoderStream()).getReader();
}

/** Reads text lines from a stream as they arrive (a line split across chunks is joined). */
async function lines(reader, onLine) {
  let rest = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    rest += value;
    let at;
    while ((at = rest.indexOf('\n')) >= 0) {
      const line = rest.slice(0, at).replace(/\r$/, '');
      rest = rest.slice(at + 1);
      onLine(line);
    }
  }
  if (rest) onLine(rest.replace(/\r$/, ''));
}

/**
 * Follows an NDJSON stream (a run's logs): calls `onEntry` with each parsed line, returns
 * when the server ends the stream. `onBatch` is called after each chunk so a viewer can
 * draw once per chunk rather than once per line.
 */
export async function streamJsonLines(path, { signal, onEntry, onBatch }) {
  const reader = await open(path, signal);
  let pending = 0;
  await lines({
    read: async () => {
      if (pending && onBatch) onBatch();
      pending = 0;
      return reader.read();
    },
  }, (line) => {
    if (!line.trim()) return;
    let entry;
    try {
      entry = JSON.parse(line);
    } catch {
      entry = { stream: 'system', text: line };
    }
    pending += 1;
    onEntry(entry);
  });
  if (pending && onBatch) onBatch();
}

/**
 * Follows a server-sent event stream (an order's progress): calls `onEvent(type, data)` for
 * each event, as the EventSource standard reads them; returns when the server ends it.
 */
export async function streamEvents(path, { signal, onEvent }) {
  const reader = await open(path, signal);
  let type = '';
  let data = [];
  await lines(reader, (line) => {
    if (line === '') {
      if (data.length) onEvent(type || 'message', data.join('\n'));
      type = '';
      data = [];
      return;
    }
    if (line.startsWith(':')) return; // a keep-alive comment
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
  });
}
