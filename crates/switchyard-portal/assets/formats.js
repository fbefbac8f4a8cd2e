// The string formats an offering's input may name (`format: email`), checked with the same
// rules and the same words as the platform (switchyard-catalog's format.rs), so a message
// shown while typing is the message the API would answer with.
//
// Where the Rust code counts bytes (`len()` of UTF-8 text) this code counts UTF-8 bytes too,
// and where it walks characters this walks code points, so non-ASCII input gets the same
// verdict on both sides.

const encoder = new TextEncoder();
const utf8Length = (s) => encoder.encode(s).length;

// Rust's char::is_whitespace (Unicode White_Space) and char::is_alphanumeric.
const WHITESPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
const ALPHANUMERIC = /^[\p{Alphabetic}\p{N}]$/u;
const CONTROL = /^\p{Cc}$/u;

/** Rust's `{:?}` of a char: quoted, with escapes for quotes, backslashes and the unprintable. */
function charDebug(c) {
  const escapes = { '\t': '\\t', '\r': '\\r', '\n': '\\n', '\\': '\\\\', "'": "\\'", '\0': '\\0' };
  if (escapes[c]) return `'${escapes[c]}'`;
  if (/^[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}]$/u.test(c) || (c !== ' ' && /^\p{Zs}$/u.test(c))) {
    return `'\\u{${c.codePointAt(0).toString(16)}}'`;
  }
  return `'${c}'`;
}

function email(text) {
  if (WHITESPACE.test(text)) return 'The email address must not contain spaces.';
  const parts = text.split('@');
  if (parts.length !== 2) {
    return text.includes('@')
      ? 'The email address is not valid. It must have exactly one @-sign.'
      : 'An email address must have an @-sign.';
  }
  const [local, domain] = parts;
  if (local === '') return 'There must be something before the @-sign.';
  if (domain === '') return 'There must be something after the @-sign.';
  if (domain.startsWith('.')) return 'An email address cannot have a period immediately after the @-sign.';
  if (domain.endsWith('.')) return 'An email address cannot end with a period.';
  if (domain.includes('..')) return 'An email address cannot have two periods in a row.';
  if (!domain.includes('.')) return 'The part after the @-sign is not valid. It should have a period.';
  for (const c of domain) {
    if (!(ALPHANUMERIC.test(c) || c === '-' || c === '.')) {
      return `The part after the @-sign contains invalid characters: '${c}'.`;
    }
  }
  return null;
}

function hostname(text) {
  if (text === '') return 'it is empty';
  const bytes = utf8Length(text);
  if (bytes > 253) return `it is ${bytes} characters long; the limit is 253`;
  for (const label of text.split('.')) {
    if (label === '') return 'it has an empty label (two periods in a row, or one at an end)';
    if (utf8Length(label) > 63) return `the label '${label}' is longer than 63 characters`;
    for (const c of label) {
      if (!(/^[A-Za-z0-9-]$/.test(c))) {
        return `the label '${label}' contains '${c}'; labels are letters, digits and hyphens`;
      }
    }
    if (label.startsWith('-') || label.endsWith('-')) return `the label '${label}' starts or ends with a hyphen`;
  }
  return null;
}

function uri(text) {
  if (text === '') return 'input is empty';
  const colon = text.indexOf(':');
  const scheme = colon < 0 ? '' : text.slice(0, colon);
  if (colon < 0 || !/^[A-Za-z][A-Za-z0-9+.-]*$/.test(scheme)) return 'relative URL without a base';
  const rest = text.slice(colon + 1);
  for (const c of rest) {
    if (WHITESPACE.test(c) || CONTROL.test(c) || '"<>\\^`{|}'.includes(c)) return `invalid character ${charDebug(c)}`;
  }
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '%' && !(/^[0-9A-Fa-f]{2}$/.test(rest.slice(i + 1, i + 3)))) return 'invalid percent-encoding';
  }
  if (rest.startsWith('//')) {
    const authority = rest.slice(2).split(/[/?#]/)[0];
    const at = authority.lastIndexOf('@');
    const hostPort = at < 0 ? authority : authority.slice(at + 1);
    let host;
    let port;
    if (hostPort.startsWith('[')) {
      const close = hostPort.indexOf(']');
      if (close < 0) return 'invalid IPv6 address';
      host = hostPort.slice(0, close);
      const after = hostPort.slice(close + 1);
      port = after.startsWith(':') ? after.slice(1) : null;
    } else {
      const last = hostPort.lastIndexOf(':');
      host = last < 0 ? hostPort : hostPort.slice(0, last);
      port = last < 0 ? null : hostPort.slice(last + 1);
    }
    if (host === '') return 'empty host';
    if (port !== null && !(port === '' || (/^[0-9]+$/.test(port) && Number(port) <= 65535))) return 'invalid port number';
  }
  return null;
}

function uuid(text) {
  const chars = [...text];
  if (chars.length !== 36) {
    return `invalid length: expected 36 characters (8-4-4-4-12 hexadecimal digits), found ${chars.length}`;
  }
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i];
    const hyphenHere = i === 8 || i === 13 || i === 18 || i === 23;
    if (hyphenHere && c !== '-') return `invalid group separator: expected \`-\` at position ${i + 1}, found \`${c}\``;
    if (!hyphenHere && !/^[0-9A-Fa-f]$/.test(c)) {
      return `invalid character: expected a hexadecimal digit at position ${i + 1}, found \`${c}\``;
    }
  }
  return null;
}

// Dates and times are read over UTF-8 bytes, as the platform reads them.
const isDigit = (b) => b >= 0x30 && b <= 0x39;

function digits(bytes, at, n) {
  if (at + n > bytes.length) return null;
  let value = 0;
  for (let i = at; i < at + n; i++) {
    if (!isDigit(bytes[i])) return null;
    value = value * 10 + (bytes[i] - 0x30);
  }
  return value;
}

class Refused extends Error {}

function expect(bytes, at, ch, error) {
  if (bytes[at] !== ch.charCodeAt(0)) throw new Refused(error);
  return at + 1;
}

/** `YYYY-MM-DD` at `at`; returns where it ends. */
function date(bytes, at) {
  if (bytes.length - at < 10) throw new Refused('input is too short');
  const year = digits(bytes, at, 4);
  if (year === null) throw new Refused('invalid character in year');
  at = expect(bytes, at + 4, '-', 'invalid date separator, expected `-`');
  const month = digits(bytes, at, 2);
  if (month === null) throw new Refused('invalid character in month');
  at = expect(bytes, at + 2, '-', 'invalid date separator, expected `-`');
  const day = digits(bytes, at, 2);
  if (day === null) throw new Refused('invalid character in day');
  at += 2;
  if (month < 1 || month > 12) throw new Refused('month value is outside expected range of 1-12');
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
  if (day === 0 || day > days) throw new Refused('day value is outside expected range');
  return at;
}

/** `hh:mm:ss[.fraction]` at `at`; returns where it ends. */
function time(bytes, at) {
  if (bytes.length - at < 8) throw new Refused('input is too short');
  const hour = digits(bytes, at, 2);
  if (hour === null) throw new Refused('invalid character in hour');
  at = expect(bytes, at + 2, ':', 'invalid time separator, expected `:`');
  const minute = digits(bytes, at, 2);
  if (minute === null) throw new Refused('invalid character in minute');
  at = expect(bytes, at + 2, ':', 'invalid time separator, expected `:`');
  const second = digits(bytes, at, 2);
  if (second === null) throw new Refused('invalid character in second');
  at += 2;
  if (hour > 23) throw new Refused('hour value is outside expected range of 0-23');
  if (minute > 59) throw new Refused('minute value is outside expected range of 0-59');
  if (second > 60) throw new Refused('second value is outside expected range of 0-60');
  if (bytes[at] === 0x2e) {
    let n = 0;
    while (isDigit(bytes[at + 1 + n])) n++;
    if (n === 0) throw new Refused('invalid character in second fraction');
    at += 1 + n;
  }
  return at;
}

function dateRefusal(error) {
  return { type: 'date_parsing', msg: `Input should be a valid date in the format YYYY-MM-DD, ${error}`, ctx: { error } };
}

function datetimeRefusal(error) {
  return { type: 'datetime_parsing', msg: `Input should be a valid datetime, ${error}`, ctx: { error } };
}

function checkDate(text) {
  const bytes = encoder.encode(text);
  try {
    const end = date(bytes, 0);
    return end === bytes.length ? null : dateRefusal('input is too long');
  } catch (e) {
    if (e instanceof Refused) return dateRefusal(e.message);
    throw e;
  }
}

function checkDateTime(text) {
  const bytes = encoder.encode(text);
  let at;
  try {
    at = date(bytes, 0);
  } catch (e) {
    if (e instanceof Refused) return datetimeRefusal(e.message);
    throw e;
  }
  if (bytes[at] !== 0x54 && bytes[at] !== 0x74) {
    return datetimeRefusal(at === bytes.length ? 'input is too short' : 'invalid datetime separator, expected `T`');
  }
  try {
    at = time(bytes, at + 1);
  } catch (e) {
    if (e instanceof Refused) return datetimeRefusal(e.message);
    throw e;
  }
  if (at === bytes.length) return { type: 'timezone_aware', msg: 'Input should have timezone info', ctx: null };
  const b = bytes[at];
  if (b === 0x5a || b === 0x7a) {
    at += 1;
  } else if (b === 0x2b || b === 0x2d) {
    const hour = digits(bytes, at + 1, 2);
    if (hour === null) return datetimeRefusal('invalid character in timezone offset');
    if (bytes[at + 3] !== 0x3a) return datetimeRefusal('invalid timezone offset separator, expected `:`');
    const minute = digits(bytes, at + 4, 2);
    if (minute === null) return datetimeRefusal('invalid character in timezone offset');
    if (hour > 23 || minute > 59) return datetimeRefusal('timezone offset is outside expected range of -23:59 to +23:59');
    at += 6;
  } else {
    return datetimeRefusal('invalid timezone sign');
  }
  if (at !== bytes.length) return datetimeRefusal('unexpected extra characters at the end of the input');
  return null;
}

/** The formats the platform supports. */
export const FORMATS = ['email', 'uri', 'date', 'date-time', 'uuid', 'hostname'];

/** Why `text` is not of `format` (`{type, msg, ctx}`), or null when it is. */
export function checkFormat(format, text) {
  switch (format) {
    case 'email': {
      const reason = email(text);
      return reason && { type: 'value_error', msg: `value is not a valid email address: ${reason}`, ctx: { reason } };
    }
    case 'hostname': {
      const reason = hostname(text);
      return reason && { type: 'value_error', msg: `value is not a valid hostname: ${reason}`, ctx: { reason } };
    }
    case 'uri': {
      const error = uri(text);
      return error && { type: 'url_parsing', msg: `Input should be a valid URL, ${error}`, ctx: { error } };
    }
    case 'uuid': {
      const error = uuid(text);
      return error && { type: 'uuid_parsing', msg: `Input should be a valid UUID, ${error}`, ctx: { error } };
    }
    case 'date':
      return checkDate(text);
    case 'date-time':
      return checkDateTime(text);
    default:
      // A format this portal does not know: the platform still checks it at submit.
      return null;
  }
}
