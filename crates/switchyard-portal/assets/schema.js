// An offering's input schema (the platform's JSON Schema subset) and the checks an order's
// input goes through, ported from switchyard-catalog (schema.rs, validate.rs) so the form
// can say, while the person types, exactly what the API would answer: the same error
// types, locations and Pydantic-style messages, in the same order.
//
// The platform refuses a bad schema when the offering is applied, so a schema that reaches
// the portal is well formed; compiling here only reads it. Two places where JavaScript
// cannot match the platform exactly, both harmless because the platform checks every order
// again when it is placed: patterns use JavaScript's regular expressions (the syntax
// offerings use, `^[a-z][a-z0-9-]*$`, means the same in both; a pattern JavaScript cannot
// compile is left to the platform), and numbers are doubles (integers beyond 2^53 lose
// precision, and `10.0` in a schema prints as `10`).

import { checkFormat } from './formats.js';

/** Reads a schema as written (`offering.input`) into the rules validation applies. */
export function compile(json) {
  const s = {
    json,
    ty: typeof json?.type === 'string' ? json.type : null,
    title: json?.title,
    description: json?.description,
    examples: Array.isArray(json?.examples) ? json.examples : [],
    properties: [],
    hasConst: false,
    constant: undefined,
    choices: null,
    hasDefault: false,
    default: undefined,
    pattern: null,
    format: null,
    items: null,
    uniqueItems: false,
  };
  if (!json || typeof json !== 'object') return s;
  const applies = {
    string: ['pattern', 'minLength', 'maxLength', 'format'],
    integer: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'],
    number: ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'],
    object: ['properties', 'required'],
    array: ['items', 'minItems', 'maxItems', 'uniqueItems'],
  }[s.ty] || [];
  for (const key of applies) {
    const v = json[key];
    if (v === undefined) continue;
    if (key === 'pattern' && typeof v === 'string') {
      let regex = null;
      try {
        regex = new RegExp(v, 'u');
      } catch {
        regex = null;
      }
      s.pattern = { source: v, regex };
    } else if (key === 'properties' && v && typeof v === 'object') {
      for (const [name, sub] of Object.entries(v)) s.properties.push({ name, required: false, schema: compile(sub) });
    } else if (key === 'required' && Array.isArray(v)) {
      for (const name of v) {
        const p = s.properties.find((q) => q.name === name);
        if (p) p.required = true;
      }
    } else if (key === 'items' && v && typeof v === 'object' && !Array.isArray(v)) {
      s.items = compile(v);
    } else if (key === 'uniqueItems') {
      s.uniqueItems = v === true;
    } else if (typeof v === 'number') {
      s[key] = v;
    } else if (key === 'format' && typeof v === 'string') {
      s.format = v;
    }
  }
  // const, enum and default hold values of this schema: as the platform does, keep them as
  // validation normalizes them (nested defaults filled in).
  if ('const' in json) {
    const r = checkValue(s, json.const);
    if (r.ok) {
      s.hasConst = true;
      s.constant = r.value;
    }
  }
  if (Array.isArray(json.enum)) {
    s.choices = json.enum.map((v) => checkValue(s, v)).filter((r) => r.ok).map((r) => r.value);
  }
  if ('default' in json) {
    const r = checkValue(s, json.default);
    if (r.ok) {
      s.hasDefault = true;
      s.default = r.value;
    }
  }
  return s;
}

/**
 * Validates an order body. `mode` is `json` for a body as sent, or `text` for a form's
 * values: strings are then read as the type their field declares (`"3"` for an integer is
 * 3), as the platform reads `--set key=value` from the command line.
 *
 * Returns `{ok: true, value}` (the body as the order carries it: defaults filled in) or
 * `{ok: false, errors}` with FastAPI's `{type, loc, msg, input, ctx?}` entries.
 */
export function validate(schema, body, mode = 'json') {
  const loc = ['body'];
  if (body === null || body === undefined) {
    return { ok: false, errors: [error('missing', loc, 'Field required', body ?? null)] };
  }
  return run(schema, body, mode, loc);
}

function checkValue(schema, value) {
  return run(schema, value, 'json', []);
}

function run(schema, value, mode, loc) {
  const errors = [];
  const out = check(schema, value, mode, loc, errors);
  return out !== undefined && errors.length === 0 ? { ok: true, value: out } : { ok: false, errors };
}

function error(type, loc, msg, input, ctx) {
  const e = { type, loc: [...loc], msg, input };
  if (ctx !== undefined && ctx !== null) e.ctx = ctx;
  return e;
}

function jsonType(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v; // string, number, boolean, object
}

/** A number as the platform prints it (serde_json's `Display`). */
export function numberText(n) {
  return String(n).replace('e+', 'e');
}

/** How Pydantic quotes an expected value: strings in single quotes, the rest as JSON. */
function repr(v) {
  return typeof v === 'string' ? `'${v}'` : JSON.stringify(v);
}

/** `'a'`, `'a' or 'b'`, `'a', 'b' or 'c'`. */
function expected(values) {
  const shown = values.map(repr);
  if (shown.length <= 1) return shown.join('');
  return `${shown.slice(0, -1).join(', ')} or ${shown[shown.length - 1]}`;
}

const plural = (n) => (n === 1 ? '' : 's');

/** JSON equality with numbers compared by value (JavaScript numbers already are). */
export function jsonEqual(a, b) {
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && jsonEqual(a[k], b[k]));
  }
  return a === b;
}

/** A text equal for two values exactly when `jsonEqual` holds (keys sorted). */
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

const TYPE_ERRORS = {
  string: ['string_type', 'Input should be a valid string'],
  integer: ['int_type', 'Input should be a valid integer'],
  number: ['float_type', 'Input should be a valid number'],
  boolean: ['bool_type', 'Input should be a valid boolean'],
  object: ['model_attributes_type', 'Input should be a valid dictionary or object to extract fields from'],
  array: ['list_type', 'Input should be a valid list'],
};

function check(s, value, mode, loc, errors) {
  if (mode === 'text' && typeof value === 'string') {
    const read = coerce(s, value);
    if (read.error) {
      errors.push(error(read.error.type, loc, read.error.msg, value, read.error.ctx));
      return undefined;
    }
    value = read.value;
    mode = 'json';
  }
  const fail = (type, msg, ctx) => {
    errors.push(error(type, loc, msg, value, ctx));
    return undefined;
  };
  const t = jsonType(value);
  if (s.ty && !(s.ty === t || (s.ty === 'integer' && t === 'number'))) {
    const [type, msg] = TYPE_ERRORS[s.ty];
    return fail(type, msg);
  }
  if (s.ty === 'integer' && !Number.isInteger(value)) {
    return fail('int_from_float', 'Input should be a valid integer, got a number with a fractional part');
  }
  if (s.hasConst && !jsonEqual(value, s.constant)) {
    const want = repr(s.constant);
    return fail('literal_error', `Input should be ${want}`, { expected: want });
  }
  if (s.choices && !s.choices.some((c) => jsonEqual(value, c))) {
    const want = expected(s.choices);
    return fail('enum', `Input should be ${want}`, { expected: want });
  }
  if (s.ty === 'string') {
    const refusal = stringRules(s, value);
    if (refusal) return fail(refusal.type, refusal.msg, refusal.ctx);
  } else if (s.ty === 'integer' || s.ty === 'number') {
    const refusal = numberRules(s, value);
    if (refusal) return fail(refusal.type, refusal.msg, refusal.ctx);
  } else if (s.ty === 'object') {
    return object(s, value, mode, loc, errors);
  } else if (s.ty === 'array') {
    return array(s, value, mode, loc, errors);
  }
  return value;
}

function stringRules(s, text) {
  const chars = [...text].length;
  if (s.minLength !== undefined && chars < s.minLength) {
    return { type: 'string_too_short', msg: `String should have at least ${s.minLength} character${plural(s.minLength)}`, ctx: { min_length: s.minLength } };
  }
  if (s.maxLength !== undefined && chars > s.maxLength) {
    return { type: 'string_too_long', msg: `String should have at most ${s.maxLength} character${plural(s.maxLength)}`, ctx: { max_length: s.maxLength } };
  }
  if (s.pattern?.regex) {
    s.pattern.regex.lastIndex = 0;
    if (!s.pattern.regex.test(text)) {
      return { type: 'string_pattern_mismatch', msg: `String should match pattern '${s.pattern.source}'`, ctx: { pattern: s.pattern.source } };
    }
  }
  if (s.format) return checkFormat(s.format, text);
  return null;
}

function isMultipleOf(v, step) {
  if (Number.isSafeInteger(v) && Number.isSafeInteger(step)) return step !== 0 && v % step === 0;
  if (step === 0 || !Number.isFinite(v)) return false;
  const q = v / step;
  return Math.abs(q - Math.round(q)) <= 1e-9 * Math.max(Math.abs(q), 1);
}

// Pydantic's order: multiple_of, then the upper bounds, then the lower ones.
const BOUNDS = [
  ['maximum', 'le', 'less_than_equal', 'less than or equal to', (n, b) => n > b],
  ['exclusiveMaximum', 'lt', 'less_than', 'less than', (n, b) => n >= b],
  ['minimum', 'ge', 'greater_than_equal', 'greater than or equal to', (n, b) => n < b],
  ['exclusiveMinimum', 'gt', 'greater_than', 'greater than', (n, b) => n <= b],
];

function numberRules(s, n) {
  if (s.multipleOf !== undefined && !isMultipleOf(n, s.multipleOf)) {
    return { type: 'multiple_of', msg: `Input should be a multiple of ${numberText(s.multipleOf)}`, ctx: { multiple_of: s.multipleOf } };
  }
  for (const [keyword, key, type, words, bad] of BOUNDS) {
    const bound = s[keyword];
    if (bound !== undefined && bad(n, bound)) {
      return { type, msg: `Input should be ${words} ${numberText(bound)}`, ctx: { [key]: bound } };
    }
  }
  return null;
}

function object(s, map, mode, loc, errors) {
  const before = errors.length;
  const out = {};
  for (const p of s.properties) {
    loc.push(p.name);
    if (Object.prototype.hasOwnProperty.call(map, p.name)) {
      const v = check(p.schema, map[p.name], mode, loc, errors);
      if (v !== undefined) out[p.name] = v;
    } else if (p.schema.hasDefault) {
      out[p.name] = p.schema.default;
    } else if (p.required) {
      // Pydantic shows the object the field is missing from.
      errors.push(error('missing', loc, 'Field required', map));
    }
    loc.pop();
  }
  for (const [k, v] of Object.entries(map)) {
    if (!s.properties.some((p) => p.name === k)) {
      errors.push(error('extra_forbidden', [...loc, k], 'Extra inputs are not permitted', v));
    }
  }
  return errors.length === before ? out : undefined;
}

function array(s, items, mode, loc, errors) {
  const before = errors.length;
  const n = items.length;
  if (s.minItems !== undefined && n < s.minItems) {
    errors.push(error('too_short', loc,
      `List should have at least ${s.minItems} item${plural(s.minItems)} after validation, not ${n}`, items,
      { field_type: 'List', min_length: s.minItems, actual_length: n }));
  }
  if (s.maxItems !== undefined && n > s.maxItems) {
    errors.push(error('too_long', loc,
      `List should have at most ${s.maxItems} item${plural(s.maxItems)} after validation, not ${n}`, items,
      { field_type: 'List', max_length: s.maxItems, actual_length: n }));
  }
  const out = [];
  let itemsOk = true;
  items.forEach((item, i) => {
    if (!s.items) {
      out.push(item);
      return;
    }
    loc.push(i);
    const v = check(s.items, item, mode, loc, errors);
    if (v === undefined) itemsOk = false;
    else out.push(v);
    loc.pop();
  });
  // Duplicates are judged on the validated items (so 3 and 3.0 are one value).
  if (s.uniqueItems && itemsOk) {
    const seen = new Map();
    out.forEach((v, i) => {
      const key = canonical(v);
      if (seen.has(key)) {
        const reason = `List should have unique items, this item repeats item ${seen.get(key)}`;
        errors.push(error('value_error', [...loc, i], `Value error, ${reason}`, v, { error: reason }));
      } else {
        seen.set(key, i);
      }
    });
  }
  return errors.length === before ? out : undefined;
}

// Reading form text as the type a field declares, as the platform reads command-line text.

function coerce(s, text) {
  switch (s.ty) {
    case 'string':
      return { value: text };
    case 'integer': {
      const v = readInteger(text);
      return v === null
        ? { error: { type: 'int_parsing', msg: 'Input should be a valid integer, unable to parse string as an integer' } }
        : { value: v };
    }
    case 'number':
      return readNumber(text);
    case 'boolean': {
      const v = readBool(text);
      return v === null
        ? { error: { type: 'bool_parsing', msg: 'Input should be a valid boolean, unable to interpret input' } }
        : { value: v };
    }
    case 'object':
    case 'array':
      try {
        return { value: JSON.parse(text) };
      } catch (e) {
        return { error: { type: 'json_invalid', msg: `Invalid JSON: ${e.message}`, ctx: { error: e.message } } };
      }
    default:
      return { value: untyped(s, text) };
  }
}

/** A field without a type: the text if const/enum accept it, else the text as JSON if that
 *  parses (and is accepted), else the text. */
function untyped(s, text) {
  const restricted = s.hasConst || s.choices !== null;
  const accepts = (v) => (!s.hasConst || jsonEqual(v, s.constant)) && (s.choices === null || s.choices.some((c) => jsonEqual(v, c)));
  if (restricted && accepts(text)) return text;
  try {
    const v = JSON.parse(text);
    if (!restricted || accepts(v)) return v;
  } catch {
    // Not JSON: the text itself.
  }
  return text;
}

// Rust's `str::trim` (Unicode White_Space at both ends).
const trim = (t) => t.replace(/^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/gu, '');

/** Integer text as Pydantic reads it: optional sign, digits, optionally `.0…`. */
function readInteger(text) {
  const t = trim(text);
  let negative = false;
  let digits = t;
  if (t.startsWith('-')) {
    negative = true;
    digits = t.slice(1);
  } else if (t.startsWith('+')) {
    digits = t.slice(1);
  }
  const dot = digits.indexOf('.');
  if (dot >= 0) {
    if (!/^0*$/.test(digits.slice(dot + 1))) return null;
    digits = digits.slice(0, dot);
  }
  if (!/^[0-9]+$/.test(digits)) return null;
  const n = Number(digits.replace(/^0+(?=.)/, ''));
  return negative ? -n || 0 : n;
}

// Rust's `f64::from_str`: decimal or scientific notation, `inf`, `infinity`, `nan`.
const FLOAT = /^[+-]?(?:inf|infinity|nan|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)$/i;

function readNumber(text) {
  const n = readInteger(text);
  if (n !== null && !text.includes('.')) return { value: n };
  const t = trim(text);
  if (!FLOAT.test(t)) {
    return { error: { type: 'float_parsing', msg: 'Input should be a valid number, unable to parse string as a number' } };
  }
  const f = /n/i.test(t.replace(/e/gi, '')) ? NaN : Number(t);
  if (!Number.isFinite(f)) {
    // JSON has no infinities or NaN, so the order could not carry one.
    return { error: { type: 'finite_number', msg: 'Input should be a finite number' } };
  }
  return { value: f };
}

function readBool(text) {
  const t = trim(text).toLowerCase();
  if (['true', 't', 'yes', 'y', 'on', '1'].includes(t)) return true;
  if (['false', 'f', 'no', 'n', 'off', '0'].includes(t)) return false;
  return null;
}
