// An order form generated from an offering's input schema, checked as the person types.
//
// Each field is drawn from its schema: enums as a segmented choice or a select, booleans
// as a checkbox, objects as groups, arrays as lists with add and remove, defaults filled
// in, the first example as the placeholder. The values are validated as the platform
// validates command-line text (`schema.js`, text mode), so an integer field holding `3`
// is the integer 3 and the messages are the API's own. A field shows its message once it
// has been touched; the whole form once submitted. When the platform still refuses the
// order, its 422 answer is shown at the fields it names.

import { h, inlineCode } from './dom.js';
import { humanize, valueText } from './format.js';
import { compile, validate } from './schema.js';

let forms = 0;

/** The location of an error or a field as one key: `["body","tags",0]` → `tags\u0000 0`. */
const keyOf = (path) => path.join('\u0000');

/**
 * Builds the form. Returns `{element, value(), check(showAll), showServerErrors(detail),
 * onSubmit(handler), setBusy(busy, label)}`; `value()` is the order body once valid.
 */
export function orderForm(schemaJson, { submitLabel = 'Place order' } = {}) {
  const id = `form${++forms}`;
  const root = compile(schemaJson);
  let showAll = false;
  let serverErrors = [];
  let registry = new Map();
  const shown = new Map(); // node → message on display

  const summary = h('div', { class: 'form-summary', hidden: true, role: 'alert', tabindex: '-1' });
  const fields = h('div', { class: 'form-fields' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-lg' }, submitLabel);
  const status = h('span', { class: 'form-status', role: 'status' });
  const element = h('form', { class: 'order-form', novalidate: true },
    summary, fields, h('div', { class: 'form-actions' }, submit, status));

  const top = objectNode(root, [], true, true);
  fields.append(top.el);
  reindex();

  function reindex() {
    registry = new Map();
    const walk = (node) => {
      registry.set(keyOf(node.path), node);
      if (node.kind === 'object') node.children.forEach((c) => walk(c.node));
      if (node.kind === 'array') node.items.forEach((item) => walk(item.node));
    };
    walk(top);
  }

  // Building fields ---------------------------------------------------------------------

  function fieldId(path) {
    return `${id}-${path.map((p) => String(p).replace(/[^A-Za-z0-9_-]/g, '_')).join('-') || 'root'}`;
  }

  function build(schema, path, required, inArray) {
    if (schema.ty === 'object') return objectNode(schema, path, required, false);
    if (schema.ty === 'array') return arrayNode(schema, path, required);
    return leafNode(schema, path, required, inArray);
  }

  function labelText(schema, path) {
    const name = path[path.length - 1];
    if (schema.title) return schema.title;
    return typeof name === 'number' ? `Item ${name + 1}` : humanize(name ?? 'Input');
  }

  function objectNode(schema, path, required, isRoot) {
    const node = { kind: 'object', schema, path, required, children: [], touched: false };
    node.errorEl = h('p', { class: 'field-error', id: `${fieldId(path)}-error`, hidden: true });
    const body = h('div', { class: isRoot ? 'fields' : 'fields nested' });
    for (const p of schema.properties) {
      const child = build(p.schema, [...path, p.name], p.required, false);
      node.children.push({ name: p.name, node: child });
      body.append(child.el);
    }
    if (isRoot) {
      node.el = h('div', null, node.errorEl, body);
    } else {
      node.el = h('fieldset', { class: 'field group' },
        h('legend', null, labelText(schema, path), required ? null : h('span', { class: 'optional' }, 'Optional')),
        schema.description ? h('p', { class: 'help' }, inlineCode(schema.description)) : null,
        node.errorEl, body);
    }
    return node;
  }

  function arrayNode(schema, path, required) {
    const node = { kind: 'array', schema, path, required, items: [], touched: false };
    const list = h('ol', { class: 'array-items' });
    node.errorEl = h('p', { class: 'field-error', id: `${fieldId(path)}-error`, hidden: true });
    const itemSchema = schema.items || compile({});
    const itemTitle = itemSchema.title || 'item';
    const add = h('button', { type: 'button', class: 'btn btn-secondary btn-sm' }, `Add ${itemTitle.toLowerCase()}`);
    const addItem = (initial) => {
      const item = { node: null, row: null };
      const index = node.items.length;
      item.node = build(itemSchema, [...path, index], true, true);
      if (initial !== undefined) setValue(item.node, initial);
      const remove = h('button', {
        type: 'button',
        class: 'btn btn-ghost btn-sm',
        'aria-label': `Remove ${itemTitle.toLowerCase()} ${index + 1}`,
        on: {
          click: () => {
            const at = node.items.indexOf(item);
            node.items.splice(at, 1);
            renumber();
            node.touched = true;
            changed();
          },
        },
      }, 'Remove');
      item.row = h('li', { class: 'array-item' }, item.node.el, remove);
      node.items.push(item);
      list.append(item.row);
    };
    // Paths follow positions, so after a removal the rows are rebuilt with their values.
    const renumber = () => {
      const values = node.items.map((item) => rawValue(item.node));
      node.items = [];
      list.replaceChildren();
      values.forEach((v) => addItem(v));
    };
    add.addEventListener('click', () => {
      addItem(undefined);
      node.touched = true;
      changed();
      node.items[node.items.length - 1].node.el.querySelector('input,select,textarea')?.focus();
    });
    if (schema.hasDefault && Array.isArray(schema.default)) schema.default.forEach((v) => addItem(v));
    node.add = add;
    node.el = h('fieldset', { class: 'field group array' },
      h('legend', null, labelText(schema, path), required ? null : h('span', { class: 'optional' }, 'Optional')),
      schema.description ? h('p', { class: 'help' }, inlineCode(schema.description)) : null,
      list, h('div', { class: 'array-actions' }, add), node.errorEl);
    return node;
  }

  function leafNode(schema, path, required, inArray) {
    const node = { kind: 'leaf', schema, path, required, touched: false };
    const fid = fieldId(path);
    const helpId = `${fid}-help`;
    const errorId = `${fid}-error`;
    node.errorEl = h('p', { class: 'field-error', id: errorId, hidden: true });
    const describedBy = [schema.description ? helpId : null, errorId].filter(Boolean).join(' ');
    const placeholder = schema.examples.length ? `e.g. ${valueText(schema.examples[0])}` : undefined;
    // The field's path as its name (`owner.email`, `tags.0`): what a script would send.
    const name = path.join('.');
    const hint = hintOf(schema);
    let control;
    let counter = null;

    if (schema.hasConst) {
      control = h('input', { id: fid, name, class: 'input', value: valueText(schema.constant), readOnly: true, 'aria-describedby': describedBy });
      // A fixed value: sent when the order must carry it; an optional one is left out.
      node.read = () => (required || inArray ? schema.constant : undefined);
      node.set = () => {};
    } else if (schema.choices && schema.choices.length) {
      const segmented = schema.choices.length <= 4 && schema.choices.every((c) => valueText(c).length <= 18);
      if (segmented) {
        const radios = schema.choices.map((c, i) => h('input', {
          type: 'radio', name, id: `${fid}-${i}`, value: String(i),
          checked: schema.hasDefault && valueText(c) === valueText(schema.default),
        }));
        control = h('div', { class: 'segmented', role: 'radiogroup', id: fid, 'aria-describedby': describedBy },
          radios.map((r, i) => h('label', { class: 'segment', for: r.id }, r, h('span', null, valueText(schema.choices[i])))));
        node.read = () => {
          const on = radios.findIndex((r) => r.checked);
          return on < 0 ? (inArray ? '' : undefined) : schema.choices[on];
        };
        node.set = (v) => radios.forEach((r, i) => { r.checked = valueText(schema.choices[i]) === valueText(v); });
        node.focusTarget = () => radios.find((r) => r.checked) || radios[0];
      } else {
        const options = [h('option', { value: '' }, schema.hasDefault ? '' : 'Choose…')];
        if (schema.hasDefault) options.length = 0;
        schema.choices.forEach((c, i) => options.push(h('option', { value: String(i) }, valueText(c))));
        control = h('select', { id: fid, name, class: 'input select', 'aria-describedby': describedBy }, options);
        node.read = () => (control.value === '' ? (inArray ? '' : undefined) : schema.choices[Number(control.value)]);
        node.set = (v) => {
          const i = schema.choices.findIndex((c) => valueText(c) === valueText(v));
          control.value = i < 0 ? '' : String(i);
        };
        if (schema.hasDefault) node.set(schema.default);
      }
    } else if (schema.ty === 'boolean' && (schema.hasDefault || required)) {
      const box = h('input', { type: 'checkbox', id: fid, name, checked: schema.default === true, 'aria-describedby': describedBy });
      control = h('label', { class: 'check', for: fid }, box, h('span', null, labelText(schema, path)));
      node.read = () => box.checked;
      node.set = (v) => { box.checked = v === true; };
      node.focusTarget = () => box;
    } else if (schema.ty === 'boolean') {
      control = h('select', { id: fid, name, class: 'input select', 'aria-describedby': describedBy },
        h('option', { value: '' }, 'Not set'), h('option', { value: 'true' }, 'Yes'), h('option', { value: 'false' }, 'No'));
      node.read = () => (control.value === '' ? (inArray ? '' : undefined) : control.value === 'true');
      node.set = (v) => { control.value = v === true ? 'true' : v === false ? 'false' : ''; };
    } else {
      const long = schema.ty === 'string' && !schema.format && schema.maxLength !== undefined && schema.maxLength > 256;
      const type = schema.format === 'email' ? 'email' : schema.format === 'uri' ? 'url' : 'text';
      const inputmode = schema.ty === 'integer' ? 'numeric' : schema.ty === 'number' ? 'decimal' : undefined;
      control = long
        ? h('textarea', { id: fid, name, class: 'input textarea', rows: '4', placeholder, 'aria-describedby': describedBy })
        : h('input', {
          id: fid, name, class: ['input', schema.ty === 'integer' || schema.ty === 'number' ? 'input-number' : null],
          type, inputmode, placeholder, autocomplete: 'off', spellcheck: 'false', 'aria-describedby': describedBy,
        });
      node.read = () => (control.value === '' ? (inArray ? '' : undefined) : control.value);
      node.set = (v) => { control.value = v === undefined ? '' : valueText(v); };
      if (schema.hasDefault) node.set(schema.default);
      if (schema.ty === 'string' && schema.maxLength !== undefined && schema.maxLength <= 256) {
        counter = h('span', { class: 'counter', 'aria-hidden': 'true' });
        const count = () => {
          const n = [...control.value].length;
          counter.textContent = `${n}/${schema.maxLength}`;
          counter.classList.toggle('over', n > schema.maxLength);
          // Only while there is something to count: an empty form stays quiet.
          counter.hidden = n === 0;
        };
        control.addEventListener('input', count);
        count();
      }
    }
    node.control = control;
    const touch = () => {
      node.touched = true;
      serverErrors = serverErrors.filter((e) => !keyOf(e.loc.slice(1)).startsWith(keyOf(path)));
    };
    control.addEventListener('input', () => { touch(); changed(); });
    control.addEventListener('change', () => { touch(); changed(); });
    control.addEventListener('focusout', (e) => {
      if (control.contains(e.relatedTarget)) return;
      node.touched = true;
      changed();
    });

    const label = labelText(schema, path);
    const isCheck = schema.ty === 'boolean' && (schema.hasDefault || required) && !schema.choices;
    node.el = h('div', { class: ['field', `field-${schema.ty || 'any'}`] },
      h('div', { class: 'field-head' },
        isCheck ? null : h(control.tagName === 'DIV' ? 'span' : 'label', { class: 'label', for: control.tagName === 'DIV' ? undefined : fid, id: `${fid}-label` }, label),
        required && !schema.hasDefault ? null : h('span', { class: 'optional' }, 'Optional'),
        counter),
      schema.description ? h('p', { class: 'help', id: helpId }, inlineCode(schema.description)) : null,
      h('div', { class: 'control' }, control, hint ? h('span', { class: 'hint' }, hint) : null),
      node.errorEl);
    if (control.tagName === 'DIV') control.setAttribute('aria-labelledby', `${fid}-label`);
    return node;
  }

  // Values ------------------------------------------------------------------------------

  /** The node's value for validation (text mode); undefined leaves the field out. */
  function rawValue(node) {
    if (node.kind === 'leaf') return node.read();
    if (node.kind === 'array') {
      if (!node.items.length) return node.required || node.touched ? [] : undefined;
      return node.items.map((item) => {
        const v = rawValue(item.node);
        return v === undefined ? {} : v;
      });
    }
    const out = {};
    for (const c of node.children) {
      const v = rawValue(c.node);
      if (v !== undefined) out[c.name] = v;
    }
    const top = node.path.length === 0;
    return !top && !node.required && Object.keys(out).length === 0 ? undefined : out;
  }

  function setValue(node, v) {
    if (node.kind === 'leaf') node.set(v);
    else if (node.kind === 'object' && v && typeof v === 'object') {
      node.children.forEach((c) => { if (c.name in v) setValue(c.node, v[c.name]); });
    }
  }

  // Messages ----------------------------------------------------------------------------

  /** The drawn node an error location belongs to: the deepest one on its path. */
  function nodeFor(loc) {
    const path = loc.slice(1);
    for (let n = path.length; n >= 0; n--) {
      const node = registry.get(keyOf(path.slice(0, n)));
      if (node) return node;
    }
    return top;
  }

  function display(errors) {
    const next = new Map();
    for (const e of errors) {
      const node = nodeFor(e.loc);
      if (next.has(node)) continue;
      const visible = showAll || node.touched || e.server;
      if (visible && node !== top) next.set(node, e.msg);
    }
    for (const [node] of shown) {
      if (!next.has(node)) mark(node, null);
    }
    for (const [node, msg] of next) {
      if (shown.get(node) !== msg) mark(node, msg);
    }
    shown.clear();
    for (const [k, v] of next) shown.set(k, v);
    // The summary lists every problem after a submit, with links to the fields.
    const unplaced = errors.filter((e) => nodeFor(e.loc) === top);
    if (showAll && (next.size || unplaced.length)) {
      const count = next.size + unplaced.length;
      summary.replaceChildren(
        h('strong', null, `${count} ${count === 1 ? 'thing needs' : 'things need'} your attention`),
        h('ul', null,
          [...next].map(([node, msg]) => h('li', null, h('a', {
            href: `#${fieldId(node.path)}`,
            on: { click: (ev) => { ev.preventDefault(); focus(node); } },
          }, labelText(node.schema, node.path)), `: ${msg}`)),
          unplaced.map((e) => h('li', null, `${e.loc.slice(1).join('.') || 'Order'}: ${e.msg}`))));
      summary.hidden = false;
    } else {
      summary.hidden = true;
    }
  }

  function mark(node, msg) {
    node.errorEl.textContent = msg || '';
    node.errorEl.hidden = !msg;
    node.el.classList.toggle('invalid', !!msg);
    const input = node.kind === 'leaf' ? node.control : null;
    if (input) input.setAttribute('aria-invalid', msg ? 'true' : 'false');
  }

  function focus(node) {
    const target = node.focusTarget?.() || node.el.querySelector('input,select,textarea,button');
    target?.focus();
    node.el.scrollIntoView({ block: 'center', behavior: 'smooth' });
  }

  let last = { ok: true, value: {} };
  let listeners = [];

  /** Validates now; `all` shows every message (a submit). */
  function check(all = false) {
    if (all) showAll = true;
    reindex();
    last = validate(root, rawValue(top), 'text');
    const errors = last.ok ? [] : last.errors;
    const server = serverErrors.filter((s) => !errors.some((e) => nodeFor(e.loc) === nodeFor(s.loc)));
    display([...errors, ...server]);
    return last.ok && server.length === 0;
  }

  let scheduled = false;
  function changed() {
    // One validation per frame however fast the typing.
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(() => {
      scheduled = false;
      check();
      listeners.forEach((fn) => fn());
    });
  }

  const handlers = [];
  element.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!check(true)) {
      const first = [...shown.keys()][0];
      if (first) focus(first);
      else summary.focus();
      return;
    }
    handlers.forEach((fn) => fn(last.value));
  });

  check();

  return {
    element,
    /** The validated body (defaults filled in), or null while it has problems. */
    value: () => (check() ? last.value : null),
    check,
    /** Shows the platform's 422 `detail` at the fields it names. */
    showServerErrors(detail) {
      serverErrors = detail.map((e) => ({ ...e, loc: Array.isArray(e.loc) ? e.loc : ['body'], server: true }));
      showAll = true;
      check(true);
      const first = [...shown.keys()][0];
      if (first) focus(first);
      else summary.focus();
    },
    onSubmit(fn) {
      handlers.push(fn);
    },
    onChange(fn) {
      listeners.push(fn);
    },
    setBusy(busy, text = '') {
      submit.disabled = busy;
      status.textContent = text;
      element.classList.toggle('busy', busy);
    },
    dispose() {
      listeners = [];
    },
  };
}

/** A short line under a field: its range, for numbers and lengths. */
function hintOf(schema) {
  if (schema.ty === 'integer' || schema.ty === 'number') {
    const lo = schema.minimum ?? schema.exclusiveMinimum;
    const hi = schema.maximum ?? schema.exclusiveMaximum;
    if (lo !== undefined && hi !== undefined) return `${lo} to ${hi}`;
    if (lo !== undefined) return `At least ${lo}`;
    if (hi !== undefined) return `At most ${hi}`;
  }
  return null;
}
