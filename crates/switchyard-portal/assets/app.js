// The portal's entry point: the shell (navigation, who is signed in), the routes, and what
// every page shares (the catalog, the signed-in person, the approval count).

import { ApiError, SIGNED_OUT, get } from './api.js';
import { h, notice, put } from './dom.js';
import { poll } from './live.js';
import { BASE, match, navigate, route, start } from './router.js';
import * as session from './session.js';
import approvals from './views/approvals.js';
import catalog from './views/catalog.js';
import events from './views/events.js';
import eventsources from './views/eventsources.js';
import orderForm from './views/order-form.js';
import order from './views/order.js';
import orders from './views/orders.js';
import run from './views/run.js';
import runs from './views/runs.js';
import sensors from './views/sensors.js';
import signin from './views/signin.js';

const root = document.getElementById('app');

route('/', () => navigate(`${BASE}/catalog`, { replace: true }));
route('/signin', signin);
route('/catalog', catalog);
route('/catalog/:namespace/:name', orderForm);
route('/orders', orders);
route('/orders/:id', order);
route('/approvals', approvals);
route('/runs', runs);
route('/runs/:namespace/:name', run);
route('/events', events);
route('/sensors', sensors);
route('/eventsources', eventsources);

// Navigation: what each section is for, in the order people use them.
const NAV = [
  ['Self-service', [
    ['catalog', 'Catalog'],
    ['orders', 'My orders'],
    ['approvals', 'Approvals'],
  ]],
  ['Platform', [
    ['runs', 'Runs'],
    ['events', 'Events'],
    ['sensors', 'Sensors'],
    ['eventsources', 'Event sources'],
  ]],
];

let shell = null;
let catalogPromise = null;

/** What every view gets besides its parameters. */
const ctx = {
  me: () => session.principal(),
  /** The catalog (`GET /api/v1/catalog` items), fetched once per sign-in unless refreshed. */
  catalog({ refresh = false } = {}) {
    if (!catalogPromise || refresh) {
      catalogPromise = get('/api/v1/catalog').then((c) => c.items || []);
      catalogPromise.catch(() => { catalogPromise = null; });
    }
    return catalogPromise;
  },
  /** The offering an order was placed through, from the catalog. */
  async offeringOf(orderView) {
    const items = await ctx.catalog();
    return items.find((o) => o.name === orderView.offering && o.namespace === orderView.namespace) || null;
  },
  setTitle(title) {
    document.title = title ? `${title} · Switchyard` : 'Switchyard';
  },
  /** Counts the approvals waiting for the signed-in person again (after a decision). */
  refreshInbox: () => inboxCount(),
};

function buildShell() {
  const me = session.principal();
  const links = new Map();
  const nav = h('nav', { class: 'nav', 'aria-label': 'Main' }, NAV.map(([section, items]) => h('div', { class: 'nav-section' },
    h('p', { class: 'nav-label' }, section),
    h('ul', null, items.map(([path, label]) => {
      const badge = path === 'approvals' ? h('span', { class: 'badge', hidden: true, 'aria-label': 'waiting for you' }) : null;
      const a = h('a', { href: `${BASE}/${path}`, class: 'nav-link', dataset: { section: path } }, h('span', null, label), badge);
      links.set(path, a);
      return h('li', null, a);
    })))));
  const signOut = h('button', { type: 'button', class: 'btn btn-ghost btn-sm signout' }, 'Sign out');
  signOut.addEventListener('click', () => {
    session.signOut();
    teardown();
    navigate(`${BASE}/signin?signedout=1`);
  });
  const user = h('div', { class: 'user' },
    h('div', { class: 'avatar', 'aria-hidden': 'true' }, (me.name || '?').slice(0, 1).toUpperCase()),
    h('div', { class: 'user-text' },
      h('span', { class: 'user-name', id: 'whoami' }, me.name),
      h('span', { class: 'user-roles' }, me.roles.join(', ') || 'no roles')));
  const main = h('main', { class: 'main', id: 'main', tabindex: '-1' });
  const aside = h('aside', { class: 'sidebar' },
    h('a', { class: 'brand', href: `${BASE}/catalog` },
      h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), h('span', null, 'Switchyard')),
    nav,
    h('div', { class: 'sidebar-foot' }, user,
      h('div', { class: 'sidebar-links' }, signOut, h('a', { class: 'docs-link', href: '/docs', target: '_blank', rel: 'noopener' }, 'API docs'))));
  put(root, h('div', { class: 'layout' }, aside, main));
  const controller = new AbortController();
  shell = { main, links, badge: links.get('approvals').querySelector('.badge'), controller };
  poll(inboxCount, { interval: 20_000, signal: controller.signal, onError: () => {} });
}

function teardown() {
  shell?.controller.abort();
  shell = null;
  catalogPromise = null;
  put(root);
}

/** Orders waiting for the signed-in person's decision: the badge next to Approvals. */
async function inboxCount() {
  if (!shell) return false;
  const me = session.principal();
  const [waiting, offerings] = await Promise.all([
    get('/api/v1/orders?phase=WaitingForApproval&limit=500'),
    ctx.catalog(),
  ]);
  const approvable = new Set(offerings.filter((o) => o.mayApprove).map((o) => `${o.namespace}/${o.name}`));
  const n = (waiting.items || []).filter((o) => o.requester !== me.name && approvable.has(`${o.namespace}/${o.offering}`)).length;
  if (!shell) return false;
  shell.badge.textContent = String(n);
  shell.badge.hidden = n === 0;
  return true;
}

async function ensureSignedIn(signal) {
  if (session.principal()) return true;
  try {
    session.setPrincipal(await get('/api/v1/whoami', { signal }));
    return true;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return false;
    throw e;
  }
}

async function show(location, signal) {
  const found = match(location.pathname);
  const query = new URLSearchParams(location.search);
  if (found?.path === '/signin') {
    // Signed in already (a bookmark, the back button): straight on to where they were going.
    if (session.token() && !query.has('expired') && (await ensureSignedIn(signal).catch(() => false))) {
      const next = query.get('next');
      navigate(next && next.startsWith(`${BASE}/`) && !next.startsWith(`${BASE}/signin`) ? next : `${BASE}/catalog`, { replace: true });
      return;
    }
    teardown();
    ctx.setTitle('Sign in');
    await found.view({ main: root, params: {}, query, signal, ctx });
    return;
  }
  const back = encodeURIComponent(location.pathname + location.search);
  if (!session.token() || !(await ensureSignedIn(signal))) {
    // A refused token has already sent the page to sign in, saying why (SIGNED_OUT).
    if (!signal.aborted) navigate(`${BASE}/signin?next=${back}`, { replace: true });
    return;
  }
  if (signal.aborted) return;
  if (!shell) buildShell();
  const section = found?.path.split('/')[1] || '';
  for (const [path, a] of shell.links) {
    const here = path === section;
    a.classList.toggle('active', here);
    if (here) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const main = shell.main;
  put(main);
  window.scrollTo(0, 0);
  if (!found) {
    ctx.setTitle('Not found');
    put(main, notice('error', 'There is no such page in the portal.', h('a', { href: `${BASE}/catalog` }, 'Go to the catalog')));
    return;
  }
  try {
    await found.view({ main, params: found.params, query, signal, ctx });
  } catch (e) {
    if (signal.aborted || e?.name === 'AbortError') return;
    put(main, notice('error', 'This page could not be shown.', e.message || String(e)));
  }
}

window.addEventListener(SIGNED_OUT, (e) => {
  if (!session.token()) return;
  session.signOut();
  teardown();
  const back = encodeURIComponent(location.pathname + location.search);
  navigate(`${BASE}/signin?expired=${encodeURIComponent(e.detail || '')}&next=${back}`, { replace: true });
});

start(show);
