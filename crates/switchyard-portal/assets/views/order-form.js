// Ordering one offering: the form generated from its input schema, posted to the
// offering's own route (`POST /environments`), exactly as a script would post it.

import { ApiError, post } from '../api.js';
import { h, loading, notice, pageHeader, prose, put } from '../dom.js';
import { orderForm } from '../form.js';
import { BASE, navigate } from '../router.js';

/** A random Idempotency-Key for this form: a double click or a retry after a dropped
 *  answer finds the first order instead of placing a second one. */
function idempotencyKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `portal-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

export default async function orderFormView({ main, params, ctx, signal }) {
  put(main, loading());
  const items = await ctx.catalog();
  const offering = items.find((o) => o.namespace === params.namespace && o.name === params.name);
  const back = h('a', { class: 'back', href: `${BASE}/catalog` }, '← Catalog');
  if (!offering) {
    ctx.setTitle('Not found');
    put(main, back, notice('error', `There is no offering ${params.namespace}/${params.name}.`, 'It may have been removed from the catalog.'));
    return;
  }
  ctx.setTitle(`Order ${offering.title}`);
  const banner = h('div', { class: 'banner-slot' });
  const aside = h('aside', { class: 'order-aside' },
    h('section', { class: 'card' },
      h('h2', { class: 'card-title' }, 'What happens next'),
      h('ol', { class: 'next-steps' },
        h('li', null, 'The platform checks your order again and records it.'),
        h('li', null, 'It becomes an event; a sensor starts the run that carries it out.'),
        h('li', null, `Where the run asks for approval, someone with the role ${offering.access.approve.join(' or ')} reviews it. Not you: nobody approves their own order.`),
        h('li', null, 'You follow every step live on the order\'s page.'))),
    h('section', { class: 'card' },
      h('h2', { class: 'card-title' }, 'For scripts'),
      h('p', { class: 'muted small' }, 'The same order over HTTP:'),
      h('pre', { class: 'snippet' }, [
        'curl -X POST \\',
        `  ${location.origin}${offering.route} \\`,
        '  -H "Authorization: Bearer $TOKEN" \\',
        "  -H 'content-type: application/json' \\",
        '  -d @order.json',
      ].join('\n'))));

  if (!offering.mayOrder) {
    put(main, back, pageHeader(offering.title),
      notice('warn', 'You cannot order this.', `Ordering ${offering.title} needs one of the roles ${offering.access.order.join(', ')}; you have ${ctx.me().roles.join(', ') || 'none'}.`));
    return;
  }

  const form = orderForm(offering.input);
  const key = idempotencyKey();
  form.onSubmit(async (body) => {
    put(banner);
    form.setBusy(true, 'Placing your order…');
    try {
      const order = await post(offering.route, body, { signal, headers: { 'Idempotency-Key': key } });
      navigate(`${BASE}/orders/${encodeURIComponent(order.id)}?placed=1`);
    } catch (e) {
      if (signal.aborted) return;
      form.setBusy(false);
      if (e instanceof ApiError && e.detail) {
        form.showServerErrors(e.detail);
      } else {
        put(banner, notice('error', 'The order was not placed.', e.message));
        banner.scrollIntoView({ block: 'center' });
      }
    }
  });

  put(main, back,
    pageHeader(offering.title, null),
    h('div', { class: 'order-layout' },
      h('div', { class: 'order-main' },
        h('section', { class: 'card' },
          h('div', { class: 'description' }, prose(offering.description)),
          banner,
          form.element)),
      aside));
}
