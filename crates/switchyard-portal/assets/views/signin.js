// Sign in with an API token. The token is checked with `GET /api/v1/whoami` before it is
// kept, so a mistyped token is refused here, with the platform's own reason.

import { ApiError, get } from '../api.js';
import { h, notice, put } from '../dom.js';
import { BASE, navigate } from '../router.js';
import * as session from '../session.js';

export default async function signin({ main, query }) {
  const input = h('input', {
    id: 'token', name: 'token', type: 'password', class: 'input input-lg', autocomplete: 'current-password',
    placeholder: 'syd_…', required: true, spellcheck: 'false', 'aria-describedby': 'token-help token-error',
  });
  const error = h('p', { class: 'field-error', id: 'token-error', hidden: true, role: 'alert' });
  const button = h('button', { type: 'submit', class: 'btn btn-primary btn-lg btn-block' }, 'Sign in');
  const reason = query.get('expired');
  const banner = reason !== null
    ? notice('warn', 'Please sign in again.', reason || 'The platform no longer accepts the token this tab used.')
    : query.has('signedout') ? notice('info', 'You are signed out.', 'The token is forgotten by this tab.') : null;
  const form = h('form', { class: 'signin-form', novalidate: true },
    h('div', { class: 'field' },
      h('div', { class: 'field-head' }, h('label', { class: 'label', for: 'token' }, 'API token')),
      h('p', { class: 'help', id: 'token-help' },
        'Your platform team issues tokens (', h('code', null, 'switchyard token create NAME --role orderer'),
        '). It stays in this tab only and is sent to the platform API, nowhere else.'),
      h('div', { class: 'control' }, input),
      error),
    button);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) {
      error.textContent = 'Paste your API token.';
      error.hidden = false;
      input.focus();
      return;
    }
    button.disabled = true;
    button.textContent = 'Checking…';
    try {
      const me = await get('/api/v1/whoami', { token });
      session.signIn(token, me);
      const next = query.get('next');
      navigate(next && next.startsWith(`${BASE}/`) && !next.startsWith(`${BASE}/signin`) ? next : `${BASE}/catalog`, { replace: true });
    } catch (err) {
      error.textContent = err instanceof ApiError && err.status === 401
        ? `The platform does not accept this token: ${err.message}`
        : err.message;
      error.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      button.disabled = false;
      button.textContent = 'Sign in';
      input.focus();
    }
  });

  put(main, h('div', { class: 'signin' },
    h('div', { class: 'signin-card' },
      h('div', { class: 'brand brand-dark' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }), h('span', null, 'Switchyard')),
      h('h1', null, 'Sign in to the platform'),
      h('p', { class: 'subtitle' }, 'Order environments, deployments and changes, approve what waits for you, and follow every run live.'),
      banner,
      form),
    h('p', { class: 'signin-foot' }, 'Prefer a script? The same API is documented at ', h('a', { href: '/docs' }, '/docs'), '.')));
  input.focus();
}
