// Client-side routes under /ui. The server answers every /ui/ path with the same page, so
// any page can be bookmarked, shared or reloaded; here the path picks the view.
//
// Each page gets an AbortSignal that is aborted when the person leaves it: every request,
// stream, poll and timer the view starts is tied to it, so nothing of an old page keeps
// running (or draws into the new one).

export const BASE = '/ui';

const routes = [];
let current = null;
let render = null;

/** Registers `pattern` (`/orders/:id`) for `view(params)`. */
export function route(pattern, view) {
  const names = [];
  const source = pattern.split('/').map((part) => {
    if (part.startsWith(':')) {
      names.push(part.slice(1));
      return '([^/]+)';
    }
    return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }).join('/');
  routes.push({ regex: new RegExp(`^${source}/?$`), names, view });
}

/** The view and parameters for a location. */
export function match(pathname) {
  const path = pathname.startsWith(BASE) ? pathname.slice(BASE.length) || '/' : pathname;
  for (const r of routes) {
    const m = r.regex.exec(path);
    if (!m) continue;
    const params = {};
    r.names.forEach((name, i) => {
      params[name] = decodeURIComponent(m[i + 1]);
    });
    return { view: r.view, params, path };
  }
  return null;
}

/** Goes to `url` (a /ui path), adding to the history unless `replace`. */
export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  show();
}

/** Changes the query string of the current page without showing it again (filters). */
export function setQuery(params) {
  const url = new URL(location.href);
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') url.searchParams.delete(k);
    else url.searchParams.set(k, String(v));
  }
  history.replaceState(null, '', url);
}

function show() {
  current?.abort();
  current = new AbortController();
  render(location, current.signal);
}

/** Starts routing: `onRoute(location, signal)` draws each page. */
export function start(onRoute) {
  render = onRoute;
  window.addEventListener('popstate', show);
  // Links inside the portal change the page here; other links (the API docs, a new tab,
  // a download) keep their usual behaviour.
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest?.('a[href]');
    if (!a || a.target || a.hasAttribute('download')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || !url.pathname.startsWith(`${BASE}/`)) return;
    e.preventDefault();
    if (url.href !== location.href) navigate(url.pathname + url.search + url.hash);
  });
  show();
}
