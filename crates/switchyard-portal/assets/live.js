// Keeping a page current without reloading it: polling and following streams, each tied to
// the page's AbortSignal so leaving the page stops them.
//
// Polls never overlap (the next starts once the previous answered), pause while the tab is
// hidden (nobody is looking; the server is spared), and back off after errors.

import { streamEvents } from './api.js';

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Resolves once the tab is visible (or the signal aborts). */
function visible(signal) {
  if (!document.hidden) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (document.hidden && !signal?.aborted) return;
      document.removeEventListener('visibilitychange', done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    document.addEventListener('visibilitychange', done);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Calls `load` now and then every `interval` ms until `signal` aborts or `load` returns
 * `false` (nothing left to watch). Errors go to `onError` and the wait doubles, up to 30s.
 */
export async function poll(load, { interval, signal, onError }) {
  let wait = interval;
  while (!signal.aborted) {
    try {
      const more = await load();
      wait = interval;
      if (more === false) return;
    } catch (e) {
      if (signal.aborted) return;
      onError?.(e);
      wait = Math.min(wait * 2, 30_000);
    }
    await sleep(wait, signal);
    await visible(signal);
  }
}

/**
 * Follows a server-sent event stream, reconnecting after a drop until `isDone()` says the
 * thing watched is finished (the server ends an order's stream when the order is).
 */
export async function follow(path, { signal, onEvent, isDone, onError }) {
  let wait = 1000;
  while (!signal.aborted) {
    try {
      await streamEvents(path, {
        signal,
        onEvent: (type, data) => {
          wait = 1000;
          onEvent(type, data);
        },
      });
      if (isDone()) return;
    } catch (e) {
      if (signal.aborted) return;
      onError?.(e);
      if (e?.status === 401 || e?.status === 403 || e?.status === 404) return;
    }
    await sleep(wait, signal);
    wait = Math.min(wait * 2, 15_000);
  }
}

/** Calls `fn` every second until the signal aborts (running durations, ages). */
export function everySecond(fn, signal) {
  const timer = setInterval(fn, 1000);
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}
