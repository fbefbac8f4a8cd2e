//! Go's `fmt` printing (`Sprint`, `Sprintln`, `Sprintf`) and `strconv` formatting, over
//! [`Value`]s.
//!
//! Template output is Go's `fmt.Fprint` of each action's value, and `printf` is `fmt.Sprintf`, so
//! this module follows Go's rules: `%v` of a `float64` is the shortest representation in `%g`
//! style with exponent threshold 6 (`1e+06`), maps print as `map[k:v]` with sorted keys, slices as
//! `[a b]`, a verb that does not fit the operand prints `%!d(string=abc)`, missing and extra
//! operands print `%!d(MISSING)` and `%!(EXTRA int=1)`. Widths, precisions, flags (`+-# 0`),
//! `*` and explicit argument indexes (`%[2]d`) are supported.
//!
//! Deviation: `%p` (an address) prints as a bad verb; addresses are not deterministic.
//!
//! All output goes to a [`Buf`] with a size limit, because a short format (`%1000000d`) can ask
//! for far more text than its input.

use crate::value::{Elem, Value};

/// A string buffer that refuses to grow past a limit. Once a write would exceed the limit the
/// buffer is marked as overflowed and ignores further writes; the caller turns that into an error.
pub(crate) struct Buf {
    s: String,
    limit: usize,
    overflow: bool,
}

impl Buf {
    pub fn new(limit: usize) -> Buf {
        Buf {
            s: String::new(),
            limit,
            overflow: false,
        }
    }

    pub fn push_str(&mut self, s: &str) {
        if self.overflow {
            return;
        }
        if self.s.len() + s.len() > self.limit {
            self.overflow = true;
            return;
        }
        self.s.push_str(s);
    }

    pub fn push(&mut self, c: char) {
        let mut tmp = [0u8; 4];
        self.push_str(c.encode_utf8(&mut tmp));
    }

    /// Appends `n` copies of an ASCII byte.
    fn repeat(&mut self, c: u8, n: usize) {
        if self.overflow || n == 0 {
            return;
        }
        if self.s.len().saturating_add(n) > self.limit {
            self.overflow = true;
            return;
        }
        self.s.extend(std::iter::repeat_n(c as char, n));
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.s.len()
    }

    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    #[cfg(test)]
    pub fn as_str(&self) -> &str {
        &self.s
    }

    pub fn into_string(self) -> String {
        self.s
    }
}

/// The flags, width and precision of one verb.
#[derive(Clone, Copy, Default)]
struct Spec {
    wid: usize,
    wid_present: bool,
    prec: usize,
    prec_present: bool,
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    // `%+v` and `%#v` are formats of their own: the flags move here.
    plus_v: bool,
    sharp_v: bool,
}

/// Go rejects widths and precisions above a million.
const TOO_LARGE: usize = 1_000_000;

struct Printer<'b> {
    buf: &'b mut Buf,
    f: Spec,
}

const LDIGITS: &[u8; 17] = b"0123456789abcdefx";
const UDIGITS: &[u8; 17] = b"0123456789ABCDEFX";

impl Printer<'_> {
    fn write_padding(&mut self, n: usize) {
        // Zero padding is allowed only to the left.
        let c = if self.f.zero && !self.f.minus {
            b'0'
        } else {
            b' '
        };
        self.buf.repeat(c, n);
    }

    fn pad(&mut self, s: &str) {
        if !self.f.wid_present || self.f.wid == 0 {
            self.buf.push_str(s);
            return;
        }
        let width = self.f.wid.saturating_sub(s.chars().count());
        if !self.f.minus {
            self.write_padding(width);
            self.buf.push_str(s);
        } else {
            self.buf.push_str(s);
            self.write_padding(width);
        }
    }

    fn fmt_boolean(&mut self, v: bool) {
        self.pad(if v { "true" } else { "false" });
    }

    /// `U+0078`, or with `#` `U+0078 'x'`.
    fn fmt_unicode(&mut self, u: u64) {
        let prec = if self.f.prec_present && self.f.prec > 4 {
            self.f.prec
        } else {
            4
        };
        let mut s = format!("U+{u:0prec$X}");
        if self.f.sharp
            && let Some(c) = u32::try_from(u).ok().and_then(char::from_u32)
            && is_print(c)
        {
            s.push_str(" '");
            s.push(c);
            s.push('\'');
        }
        let old_zero = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = old_zero;
    }

    fn fmt_integer(&mut self, u: u64, base: u64, signed: bool, verb: char, digits: &[u8; 17]) {
        let negative = signed && (u as i64) < 0;
        let mut u = if negative {
            (u as i64).unsigned_abs()
        } else {
            u
        };
        // Two ways to ask for leading zeros: %.3d or %03d. With both, the zero flag is ignored.
        let mut prec = 0usize;
        if self.f.prec_present {
            prec = self.f.prec;
            // Precision 0 and value 0 means "print nothing" but the padding.
            if prec == 0 && u == 0 {
                let old_zero = self.f.zero;
                self.f.zero = false;
                self.write_padding(self.f.wid);
                self.f.zero = old_zero;
                return;
            }
        } else if self.f.zero && !self.f.minus && self.f.wid_present {
            prec = self.f.wid;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1); // leave room for the sign
            }
        }
        // Digits right to left, then reversed.
        let mut rev: Vec<u8> = Vec::with_capacity(24);
        loop {
            rev.push(digits[(u % base) as usize]);
            u /= base;
            if u == 0 {
                break;
            }
        }
        while rev.len() < prec {
            rev.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => rev.extend_from_slice(b"b0"),
                8 if rev.last() != Some(&b'0') => rev.push(b'0'),
                16 => {
                    rev.push(digits[16]);
                    rev.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            rev.extend_from_slice(b"o0");
        }
        if negative {
            rev.push(b'-');
        } else if self.f.plus {
            rev.push(b'+');
        } else if self.f.space {
            rev.push(b' ');
        }
        rev.reverse();
        let s = String::from_utf8(rev).unwrap_or_default();
        // Left padding with zeros was handled above as precision.
        let old_zero = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = old_zero;
    }

    fn truncate_string<'s>(&self, s: &'s str) -> &'s str {
        if self.f.prec_present
            && let Some((i, _)) = s.char_indices().nth(self.f.prec)
        {
            return &s[..i];
        }
        s
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate_string(s);
        self.pad(s);
    }

    /// A string as the hexadecimal encoding of its bytes (`%x`, `% x`, `%#x`).
    fn fmt_sx(&mut self, s: &str, digits: &[u8; 17]) {
        let bytes = s.as_bytes();
        let length = if self.f.prec_present {
            self.f.prec.min(bytes.len())
        } else {
            bytes.len()
        };
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if self.f.wid_present {
                self.write_padding(self.f.wid);
            }
            return;
        }
        if self.f.wid_present && self.f.wid > width && !self.f.minus {
            self.write_padding(self.f.wid - width);
        }
        let mut out = String::with_capacity(width);
        if self.f.sharp {
            out.push('0');
            out.push(digits[16] as char);
        }
        for (i, &c) in bytes[..length].iter().enumerate() {
            if self.f.space && i > 0 {
                out.push(' ');
                if self.f.sharp {
                    out.push('0');
                    out.push(digits[16] as char);
                }
            }
            out.push(digits[(c >> 4) as usize] as char);
            out.push(digits[(c & 0xF) as usize] as char);
        }
        self.buf.push_str(&out);
        if self.f.wid_present && self.f.wid > width && self.f.minus {
            self.write_padding(self.f.wid - width);
        }
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate_string(s);
        if self.f.sharp && can_backquote(s) {
            self.pad(&format!("`{s}`"));
        } else {
            let q = quote_with(s, '"', self.f.plus);
            self.pad(&q);
        }
    }

    fn fmt_c(&mut self, c: u64) {
        let ch = rune_or_replacement(c);
        let mut tmp = [0u8; 4];
        self.pad(ch.encode_utf8(&mut tmp));
    }

    fn fmt_qc(&mut self, c: u64) {
        let ch = rune_or_replacement(c);
        let q = quote_with(ch.encode_utf8(&mut [0u8; 4]), '\'', self.f.plus);
        self.pad(&q);
    }

    /// `fmt`'s float formatting over `strconv.FormatFloat` text: sign, `+`/space flags, zero
    /// padding after the sign, `#` keeping the decimal point and trailing zeros.
    fn fmt_float(&mut self, v: f64, verb: char, default_prec: i64) {
        let prec = if self.f.prec_present {
            self.f.prec as i64
        } else {
            default_prec
        };
        let formatted = format_float(v, verb, prec);
        // Reserve a leading sign position.
        let mut num: Vec<u8> = Vec::with_capacity(formatted.len() + 1);
        if formatted.starts_with('-') || formatted.starts_with('+') {
            num.extend_from_slice(formatted.as_bytes());
        } else {
            num.push(b'+');
            num.extend_from_slice(formatted.as_bytes());
        }
        if self.f.space && num[0] == b'+' && !self.f.plus {
            num[0] = b' ';
        }
        // Infinities and NaN are not padded with zeros.
        if num.get(1) == Some(&b'I') || num.get(1) == Some(&b'N') {
            let old_zero = self.f.zero;
            self.f.zero = false;
            if num[1] == b'N' && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad(&String::from_utf8_lossy(&num));
            self.f.zero = old_zero;
            return;
        }
        if self.f.sharp && verb != 'b' {
            let mut digits: i64 = match verb {
                'v' | 'g' | 'G' | 'x' => {
                    if prec == -1 {
                        6
                    } else {
                        prec
                    }
                }
                _ => 0,
            };
            let mut tail: Vec<u8> = Vec::new();
            let mut has_point = false;
            let mut saw_nonzero = false;
            let mut i = 1;
            while i < num.len() {
                match num[i] {
                    b'.' => has_point = true,
                    b'p' | b'P' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                        break;
                    }
                    b'e' | b'E' if verb != 'x' && verb != 'X' => {
                        tail.extend_from_slice(&num[i..]);
                        num.truncate(i);
                        break;
                    }
                    c => {
                        if c != b'0' {
                            saw_nonzero = true;
                        }
                        if saw_nonzero {
                            digits -= 1;
                        }
                    }
                }
                i += 1;
            }
            if !has_point {
                // A lone leading zero counts once.
                if num.len() == 2 && num[1] == b'0' {
                    digits -= 1;
                }
                num.push(b'.');
            }
            while digits > 0 {
                num.push(b'0');
                digits -= 1;
            }
            num.extend_from_slice(&tail);
        }
        let s = String::from_utf8_lossy(&num).into_owned();
        if self.f.plus || num[0] != b'+' {
            // With zero padding the sign goes before the zeros.
            if self.f.zero && !self.f.minus && self.f.wid_present && self.f.wid > num.len() {
                self.buf.push_str(&s[..1]);
                self.write_padding(self.f.wid - num.len());
                self.buf.push_str(&s[1..]);
                return;
            }
            self.pad(&s);
            return;
        }
        self.pad(&s[1..]);
    }

    // ---- pp level: verbs against operand types ----

    fn bad_verb(&mut self, verb: char, value: Option<&Value>) {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        match value {
            Some(v) if !matches!(v, Value::Nil) => {
                self.buf.push_str(v.type_name());
                self.buf.push('=');
                self.print_value(v, 'v', 0);
            }
            _ => self.buf.push_str("<nil>"),
        }
        self.buf.push(')');
    }

    fn fmt_bool(&mut self, v: &Value, b: bool, verb: char) {
        match verb {
            't' | 'v' => self.fmt_boolean(b),
            _ => self.bad_verb(verb, Some(v)),
        }
    }

    fn fmt_int(&mut self, v: &Value, u: u64, signed: bool, verb: char) {
        match verb {
            'v' => {
                if self.f.sharp_v && !signed {
                    let sharp = self.f.sharp;
                    self.f.sharp = true;
                    self.fmt_integer(u, 16, false, 'v', LDIGITS);
                    self.f.sharp = sharp;
                } else {
                    self.fmt_integer(u, 10, signed, verb, LDIGITS);
                }
            }
            'd' => self.fmt_integer(u, 10, signed, verb, LDIGITS),
            'b' => self.fmt_integer(u, 2, signed, verb, LDIGITS),
            'o' | 'O' => self.fmt_integer(u, 8, signed, verb, LDIGITS),
            'x' => self.fmt_integer(u, 16, signed, verb, LDIGITS),
            'X' => self.fmt_integer(u, 16, signed, verb, UDIGITS),
            'c' => self.fmt_c(u),
            'q' => self.fmt_qc(u),
            'U' => self.fmt_unicode(u),
            _ => self.bad_verb(verb, Some(v)),
        }
    }

    fn fmt_float_verb(&mut self, v: &Value, f: f64, verb: char) {
        match verb {
            'v' => self.fmt_float(f, 'g', -1),
            'b' | 'g' | 'G' | 'x' | 'X' => self.fmt_float(f, verb, -1),
            'f' | 'e' | 'E' => self.fmt_float(f, verb, 6),
            'F' => self.fmt_float(f, 'f', 6),
            _ => self.bad_verb(verb, Some(v)),
        }
    }

    fn fmt_string(&mut self, v: &Value, s: &str, verb: char) {
        match verb {
            'v' => {
                if self.f.sharp_v {
                    self.fmt_q(s);
                } else {
                    self.fmt_s(s);
                }
            }
            's' => self.fmt_s(s),
            'x' => self.fmt_sx(s, LDIGITS),
            'X' => self.fmt_sx(s, UDIGITS),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb, Some(v)),
        }
    }

    /// Go's `printArg`: one operand at the top level.
    fn print_arg(&mut self, v: &Value, verb: char) {
        if matches!(v, Value::Nil) {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, None),
            }
            return;
        }
        match verb {
            'T' => {
                self.fmt_s(v.type_name());
                return;
            }
            'p' => {
                self.bad_verb(verb, Some(v));
                return;
            }
            _ => {}
        }
        self.print_value(v, verb, 0);
    }

    /// Go's `printValue`: an operand or an element of one.
    fn print_value(&mut self, v: &Value, verb: char, depth: usize) {
        if self.buf.overflowed() {
            return;
        }
        match v {
            Value::Nil => {
                // Only reachable for a nil element; elements print through `print_elem`.
                if depth == 0 {
                    self.buf.push_str("<invalid reflect.Value>");
                } else if verb == 'v' {
                    self.buf.push_str("<nil>");
                } else {
                    self.bad_verb(verb, None);
                }
            }
            Value::Bool(b) => self.fmt_bool(v, *b, verb),
            Value::Int(i) | Value::Int64(i) => self.fmt_int(v, *i as u64, true, verb),
            Value::Byte(b) => self.fmt_int(v, u64::from(*b), false, verb),
            Value::Float(f) => self.fmt_float_verb(v, *f, verb),
            Value::Str(s) => self.fmt_string(v, s, verb),
            Value::List(l) => {
                if self.f.sharp_v {
                    self.buf.push_str(v.type_name());
                    self.buf.push('{');
                    for (i, item) in l.items.iter().enumerate() {
                        if i > 0 {
                            self.buf.push_str(", ");
                        }
                        self.print_elem(item, l.elem, verb, depth);
                    }
                    self.buf.push('}');
                } else {
                    self.buf.push('[');
                    for (i, item) in l.items.iter().enumerate() {
                        if i > 0 {
                            self.buf.push(' ');
                        }
                        self.print_elem(item, l.elem, verb, depth);
                    }
                    self.buf.push(']');
                }
            }
            Value::Map(m) => {
                if self.f.sharp_v {
                    self.buf.push_str(v.type_name());
                    self.buf.push('{');
                } else {
                    self.buf.push_str("map[");
                }
                for (i, (k, item)) in m.entries.iter().enumerate() {
                    if i > 0 {
                        if self.f.sharp_v {
                            self.buf.push_str(", ");
                        } else {
                            self.buf.push(' ');
                        }
                    }
                    let key = Value::str(k.as_str());
                    self.print_value(&key, verb, depth + 1);
                    self.buf.push(':');
                    self.print_elem(item, m.elem, verb, depth);
                }
                self.buf.push(if self.f.sharp_v { '}' } else { ']' });
            }
        }
    }

    /// An element of a container. Elements of `interface{}` containers are interfaces: a nil one
    /// prints `<nil>` whatever the verb.
    fn print_elem(&mut self, item: &Value, elem: Elem, verb: char, depth: usize) {
        if elem == Elem::Any && matches!(item, Value::Nil) {
            if self.f.sharp_v {
                self.buf.push_str("interface {}(nil)");
            } else {
                self.buf.push_str("<nil>");
            }
            return;
        }
        self.print_value(item, verb, depth + 1);
    }
}

fn rune_or_replacement(c: u64) -> char {
    u32::try_from(c)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or('\u{FFFD}')
}

/// Go's `fmt.Sprint`: operands in their default format, with a space between two operands when
/// neither is a string.
pub(crate) fn sprint(buf: &mut Buf, args: &[Value]) {
    let mut prev_string = false;
    for (i, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Value::Str(_));
        if i > 0 && !is_string && !prev_string {
            buf.push(' ');
        }
        Printer {
            buf: &mut *buf,
            f: Spec::default(),
        }
        .print_arg(arg, 'v');
        prev_string = is_string;
    }
}

/// Go's `fmt.Sprintln`: operands separated by spaces, then a newline.
pub(crate) fn sprintln(buf: &mut Buf, args: &[Value]) {
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            buf.push(' ');
        }
        Printer {
            buf: &mut *buf,
            f: Spec::default(),
        }
        .print_arg(arg, 'v');
    }
    buf.push('\n');
}

/// Parses a decimal number at `s[start..end]`; `None` for the number when there is none or it is
/// too large (then the whole rest is consumed, as Go does).
fn parse_num(s: &[u8], start: usize, end: usize) -> (Option<usize>, usize) {
    let mut num = 0usize;
    let mut i = start;
    let mut any = false;
    while i < end && s[i].is_ascii_digit() {
        if num > TOO_LARGE {
            return (None, end);
        }
        num = num * 10 + usize::from(s[i] - b'0');
        any = true;
        i += 1;
    }
    (any.then_some(num), i)
}

/// An operand used as a `*` width or precision: it must be an integer within ±1e6.
fn int_from_arg(args: &[Value], arg_num: usize) -> (Option<i64>, usize) {
    let Some(arg) = args.get(arg_num) else {
        return (None, arg_num);
    };
    let n = match arg {
        Value::Int(i) | Value::Int64(i) => Some(*i),
        Value::Byte(b) => Some(i64::from(*b)),
        _ => None,
    };
    let n = n.filter(|n| n.unsigned_abs() <= TOO_LARGE as u64);
    (n, arg_num + 1)
}

/// An explicit argument index `[n]` at `format[i..]`: the zero-based index, the bytes it takes,
/// and whether it parsed.
fn parse_arg_number(format: &[u8]) -> (usize, usize, bool) {
    if format.len() < 3 {
        return (0, 1, false);
    }
    for i in 1..format.len() {
        if format[i] == b']' {
            let (num, newi) = parse_num(format, 1, i);
            return match num {
                Some(n) if newi == i && n >= 1 => (n - 1, i + 1, true),
                Some(_) if newi == i => (usize::MAX, i + 1, true),
                _ => (0, i + 1, false),
            };
        }
    }
    (0, 1, false)
}

/// Go's `fmt.Sprintf`.
pub(crate) fn sprintf(buf: &mut Buf, format: &str, args: &[Value]) {
    let fmt = format.as_bytes();
    let end = fmt.len();
    let mut arg_num = 0usize;
    let mut reordered = false;
    let mut i = 0usize;
    'verbs: while i < end {
        if buf.overflowed() {
            return;
        }
        let mut good_arg_num = true;
        let last = i;
        while i < end && fmt[i] != b'%' {
            i += 1;
        }
        if i > last {
            buf.push_str(&format[last..i]);
        }
        if i >= end {
            break;
        }
        i += 1; // the '%'
        let mut f = Spec::default();
        // Flags.
        while i < end {
            match fmt[i] {
                b'#' => f.sharp = true,
                b'0' => f.zero = true,
                b'+' => f.plus = true,
                b'-' => f.minus = true,
                b' ' => f.space = true,
                _ => break,
            }
            i += 1;
        }
        // Argument index, then width.
        let mut after_index;
        let mut arg_index = |i: usize, arg_num: usize, good: &mut bool| -> (usize, usize, bool) {
            if i >= end || fmt[i] != b'[' {
                return (arg_num, i, false);
            }
            reordered = true;
            let (index, wid, ok) = parse_arg_number(&fmt[i..]);
            if ok && index < args.len() {
                return (index, i + wid, true);
            }
            *good = false;
            (arg_num, i + wid, ok)
        };
        (arg_num, i, after_index) = arg_index(i, arg_num, &mut good_arg_num);
        if i < end && fmt[i] == b'*' {
            i += 1;
            let (w, next) = int_from_arg(args, arg_num);
            arg_num = next;
            match w {
                Some(w) => {
                    f.wid_present = true;
                    if w < 0 {
                        f.minus = true;
                        f.zero = false;
                    }
                    f.wid = w.unsigned_abs() as usize;
                }
                None => buf.push_str("%!(BADWIDTH)"),
            }
            after_index = false;
        } else {
            let (w, next) = parse_num(fmt, i, end);
            i = next;
            if let Some(w) = w {
                f.wid = w;
                f.wid_present = true;
                if after_index {
                    good_arg_num = false; // "%[3]2d"
                }
            }
        }
        // Precision.
        if i + 1 < end && fmt[i] == b'.' {
            i += 1;
            if after_index {
                good_arg_num = false; // "%[3].2d"
            }
            (arg_num, i, after_index) = arg_index(i, arg_num, &mut good_arg_num);
            if i < end && fmt[i] == b'*' {
                i += 1;
                let (p, next) = int_from_arg(args, arg_num);
                arg_num = next;
                match p {
                    // A negative precision makes no sense; Go drops it and says BADPREC.
                    Some(p) if p >= 0 => {
                        f.prec = p as usize;
                        f.prec_present = true;
                    }
                    _ => buf.push_str("%!(BADPREC)"),
                }
                after_index = false;
            } else {
                let (p, next) = parse_num(fmt, i, end);
                i = next;
                f.prec = p.unwrap_or(0);
                f.prec_present = true;
            }
        }
        if !after_index {
            (arg_num, i, after_index) = arg_index(i, arg_num, &mut good_arg_num);
        }
        let _ = after_index;
        if i >= end {
            buf.push_str("%!(NOVERB)");
            break;
        }
        let Some(verb) = format[i..].chars().next() else {
            break;
        };
        i += verb.len_utf8();
        match verb {
            '%' => buf.push('%'),
            _ if !good_arg_num => {
                buf.push_str("%!");
                buf.push(verb);
                buf.push_str("(BADINDEX)");
            }
            _ if arg_num >= args.len() => {
                buf.push_str("%!");
                buf.push(verb);
                buf.push_str("(MISSING)");
            }
            _ => {
                if verb == 'v' {
                    f.sharp_v = f.sharp;
                    f.sharp = false;
                    f.plus_v = f.plus;
                    f.plus = false;
                }
                let mut p = Printer { buf: &mut *buf, f };
                if verb == 'w' {
                    // %w is for Errorf only.
                    p.bad_verb(verb, Some(&args[arg_num]));
                } else {
                    p.print_arg(&args[arg_num], verb);
                }
                arg_num += 1;
                continue 'verbs;
            }
        }
    }
    if !reordered && arg_num < args.len() {
        buf.push_str("%!(EXTRA ");
        for (k, arg) in args[arg_num..].iter().enumerate() {
            if k > 0 {
                buf.push_str(", ");
            }
            if matches!(arg, Value::Nil) {
                buf.push_str("<nil>");
            } else {
                buf.push_str(arg.type_name());
                buf.push('=');
                Printer {
                    buf: &mut *buf,
                    f: Spec::default(),
                }
                .print_arg(arg, 'v');
            }
        }
        buf.push(')');
    }
}

/// `fmt.Sprint` of one value into a fresh string (sprig's `toString`).
pub(crate) fn to_string(v: &Value, limit: usize) -> Result<String, String> {
    if let Value::Str(s) = v {
        return Ok(s.to_string());
    }
    let mut buf = Buf::new(limit);
    sprint(&mut buf, std::slice::from_ref(v));
    if buf.overflowed() {
        return Err(format!("result exceeds {limit} bytes"));
    }
    Ok(buf.into_string())
}

// ---- strconv ----

/// Shortest decimal digits (no trailing zeros) and decimal point position of a finite,
/// non-negative float: the value is `0.DIGITS × 10^dp`. Zero has no digits.
fn shortest_digits(abs: f64) -> (Vec<u8>, i32) {
    if abs == 0.0 {
        return (Vec::new(), 0);
    }
    split_exp(&format!("{abs:e}"))
}

/// `sig` significant digits, correctly rounded (half to even on exact ties, like Go).
fn rounded_digits(abs: f64, sig: usize) -> (Vec<u8>, i32) {
    if abs == 0.0 {
        return (Vec::new(), 0);
    }
    let (mut digits, dp) = split_exp(&format!("{:.*e}", sig.saturating_sub(1), abs));
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    (digits, dp)
}

/// Splits Rust's `d.ddde<exp>` into digits (trailing zeros removed) and decimal point position.
fn split_exp(s: &str) -> (Vec<u8>, i32) {
    let (mantissa, exp) = s.split_once('e').unwrap_or((s, "0"));
    let mut digits: Vec<u8> = mantissa.bytes().filter(|c| *c != b'.').collect();
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    if digits == b"0" {
        digits.clear();
    }
    let exp: i32 = exp.parse().unwrap_or(0);
    (digits, exp + 1)
}

fn fmt_e(out: &mut String, digits: &[u8], dp: i32, prec: usize, ch: char) {
    out.push(digits.first().map_or('0', |d| *d as char));
    if prec > 0 {
        out.push('.');
        let avail = digits.len().saturating_sub(1).min(prec);
        for d in &digits[1..1 + avail] {
            out.push(*d as char);
        }
        out.extend(std::iter::repeat_n('0', prec - avail));
    }
    out.push(ch);
    let exp = if digits.is_empty() { 0 } else { dp - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    let e = exp.unsigned_abs();
    if e < 10 {
        out.push('0');
    }
    out.push_str(&e.to_string());
}

fn fmt_f(out: &mut String, digits: &[u8], dp: i32, prec: usize) {
    if dp > 0 {
        let dp = dp as usize;
        let m = digits.len().min(dp);
        out.extend(digits[..m].iter().map(|d| *d as char));
        out.extend(std::iter::repeat_n('0', dp - m));
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 0..prec as i64 {
            let j = i64::from(dp) + i;
            let c = if j >= 0 && (j as usize) < digits.len() {
                digits[j as usize] as char
            } else {
                '0'
            };
            out.push(c);
        }
    }
}

/// Go's `strconv.FormatFloat(v, fmt, prec, 64)` for `fmt` in `b e E f g G x X`; `prec < 0`
/// asks for the shortest representation that reads back exactly.
pub(crate) fn format_float(v: f64, fmt: char, prec: i64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let neg = v.is_sign_negative();
    let abs = v.abs();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    match fmt {
        'b' => {
            let bits = v.to_bits();
            let exp_bits = ((bits >> 52) & 0x7ff) as i64;
            let mut mant = bits & ((1u64 << 52) - 1);
            let exp = if exp_bits == 0 {
                1
            } else {
                mant |= 1u64 << 52;
                exp_bits
            } - 1023
                - 52;
            out.push_str(&mant.to_string());
            out.push('p');
            if exp >= 0 {
                out.push('+');
            }
            out.push_str(&exp.to_string());
        }
        'x' | 'X' => fmt_x(&mut out, abs, prec, fmt),
        'e' | 'E' => {
            if prec < 0 {
                let (digits, dp) = shortest_digits(abs);
                fmt_e(&mut out, &digits, dp, digits.len().saturating_sub(1), fmt);
            } else {
                let s = format!("{:.*e}", prec as usize, abs);
                let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
                out.push_str(mantissa);
                out.push(fmt);
                let exp: i32 = exp.parse().unwrap_or(0);
                out.push(if exp < 0 { '-' } else { '+' });
                if exp.unsigned_abs() < 10 {
                    out.push('0');
                }
                out.push_str(&exp.unsigned_abs().to_string());
            }
        }
        'f' => {
            if prec < 0 {
                let (digits, dp) = shortest_digits(abs);
                let decimals = (digits.len() as i32 - dp).max(0) as usize;
                fmt_f(&mut out, &digits, dp, decimals);
            } else {
                out.push_str(&format!("{:.*}", prec as usize, abs));
            }
        }
        _ => {
            // 'g' / 'G': %e for large or small exponents, %f otherwise.
            let shortest = prec < 0;
            let (digits, dp) = if shortest {
                shortest_digits(abs)
            } else {
                rounded_digits(abs, (prec as usize).max(1))
            };
            let nd = digits.len() as i64;
            let dp64 = i64::from(dp);
            let mut p = if shortest { nd } else { prec.max(1) };
            let mut eprec = p;
            if eprec > nd && nd >= dp64 {
                eprec = nd;
            }
            // The shortest form switches to %e from exponent 6 on (Go's `1e+06`).
            if shortest {
                eprec = 6;
            }
            let exp = dp64 - 1;
            let ech = if fmt == 'G' { 'E' } else { 'e' };
            if exp < -4 || exp >= eprec {
                if p > nd {
                    p = nd;
                }
                fmt_e(&mut out, &digits, dp, (p - 1).max(0) as usize, ech);
            } else {
                if p > dp64 {
                    p = nd;
                }
                fmt_f(&mut out, &digits, dp, (p - dp64).max(0) as usize);
            }
        }
    }
    out
}

/// `%x` of a float: `0x1.8p+01`, shortest or rounded to `prec` hex digits.
fn fmt_x(out: &mut String, abs: f64, prec: i64, fmt: char) {
    let bits = abs.to_bits();
    let exp_bits = ((bits >> 52) & 0x7ff) as i64;
    let mut mant = bits & ((1u64 << 52) - 1);
    let mut exp = if exp_bits == 0 {
        1
    } else {
        mant |= 1u64 << 52;
        exp_bits
    } - 1023;
    if mant == 0 {
        exp = 0;
    }
    // Put the leading 1 (if any) at bit 60.
    mant <<= 60 - 52;
    while mant != 0 && mant & (1u64 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if (0..15).contains(&prec) {
        let shift = (prec * 4) as u32;
        let extra = (mant << shift) & ((1u64 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1u64 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1u64 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex: &[u8; 17] = if fmt == 'X' { UDIGITS } else { LDIGITS };
    out.push('0');
    out.push(fmt);
    out.push((b'0' + ((mant >> 60) & 1) as u8) as char);
    mant <<= 4; // drop the leading digit
    if prec < 0 && mant != 0 {
        out.push('.');
        while mant != 0 {
            out.push(hex[((mant >> 60) & 15) as usize] as char);
            mant <<= 4;
        }
    } else if prec > 0 {
        out.push('.');
        for _ in 0..prec {
            out.push(hex[((mant >> 60) & 15) as usize] as char);
            mant <<= 4;
        }
    }
    out.push(if fmt == 'X' { 'P' } else { 'p' });
    out.push(if exp < 0 { '-' } else { '+' });
    let e = exp.unsigned_abs();
    if e < 10 {
        out.push('0');
    }
    out.push_str(&e.to_string());
}

/// Go's `unicode.IsPrint`, approximated without Unicode tables: control, format, private-use and
/// non-ASCII space characters are not printable. Unassigned code points count as printable.
pub(crate) fn is_print(c: char) -> bool {
    let u = c as u32;
    if u < 0x20 || u == 0x7f || (0x80..=0x9f).contains(&u) {
        return false;
    }
    if u < 0x80 {
        return true;
    }
    const NOT_PRINT: &[(u32, u32)] = &[
        (0x00A0, 0x00A0),
        (0x00AD, 0x00AD),
        (0x0600, 0x0605),
        (0x061C, 0x061C),
        (0x06DD, 0x06DD),
        (0x070F, 0x070F),
        (0x0890, 0x0891),
        (0x08E2, 0x08E2),
        (0x1680, 0x1680),
        (0x180E, 0x180E),
        (0x2000, 0x200F),
        (0x2028, 0x202F),
        (0x205F, 0x2064),
        (0x2066, 0x206F),
        (0x3000, 0x3000),
        (0xD800, 0xF8FF),
        (0xFEFF, 0xFEFF),
        (0xFFF9, 0xFFFB),
        (0x110BD, 0x110BD),
        (0x110CD, 0x110CD),
        (0x13430, 0x1343F),
        (0x1BCA0, 0x1BCA3),
        (0x1D173, 0x1D17A),
        (0xE0001, 0xE0001),
        (0xE0020, 0xE007F),
        (0xF0000, 0x10FFFF),
    ];
    if u & 0xFFFE == 0xFFFE {
        return false; // noncharacters U+xFFFE, U+xFFFF
    }
    !NOT_PRINT.iter().any(|(lo, hi)| (*lo..=*hi).contains(&u))
}

/// Go's `strconv.Quote` (`quote = '"'`), `QuoteRune` (`'\''`) and their `ToASCII` forms.
pub(crate) fn quote_with(s: &str, quote: char, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        if c == quote || c == '\\' {
            out.push('\\');
            out.push(c);
            continue;
        }
        if ascii_only {
            if (c as u32) < 0x80 && is_print(c) {
                out.push(c);
                continue;
            }
        } else if is_print(c) {
            out.push(c);
            continue;
        }
        match c {
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push(quote);
    out
}

/// Go's `strconv.Quote`.
pub(crate) fn quote(s: &str) -> String {
    quote_with(s, '"', false)
}

/// Go's `strconv.CanBackquote`.
fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| !((c < ' ' && c != '\t') || c == '`' || c == '\u{7f}' || c == '\u{feff}'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Elem;
    use std::collections::BTreeMap;

    fn sf(format: &str, args: &[Value]) -> String {
        let mut b = Buf::new(1 << 20);
        sprintf(&mut b, format, args);
        b.into_string()
    }

    fn s(x: &str) -> Value {
        Value::str(x)
    }

    #[test]
    fn floats_follow_go_formats() {
        let cases: &[(f64, char, i64, &str)] = &[
            (1.0, 'g', -1, "1"),
            (1.5, 'g', -1, "1.5"),
            (1e6, 'g', -1, "1e+06"),
            (123456.0, 'g', -1, "123456"),
            (1e21, 'g', -1, "1e+21"),
            (1e-5, 'g', -1, "1e-05"),
            (0.0001, 'g', -1, "0.0001"),
            (0.0, 'g', -1, "0"),
            (-0.0, 'g', -1, "-0"),
            (2.71349, 'f', 2, "2.71"),
            (2.5, 'f', 0, "2"),
            (0.125, 'f', 2, "0.12"),
            (1234.5678, 'e', 3, "1.235e+03"),
            (0.0, 'e', 6, "0.000000e+00"),
            (1e100, 'e', 2, "1.00e+100"),
            (1234.0, 'g', 3, "1.23e+03"),
            (1.0, 'g', 3, "1"),
            (1.5, 'g', 3, "1.5"),
            (0.00001234, 'g', 2, "1.2e-05"),
            (100.0, 'g', 2, "1e+02"),
            (1.0, 'x', -1, "0x1p+00"),
            (3.0, 'x', -1, "0x1.8p+01"),
            (1.0, 'b', -1, "4503599627370496p-52"),
            (f64::NAN, 'g', -1, "NaN"),
            (f64::NEG_INFINITY, 'f', 2, "-Inf"),
        ];
        for (v, fmt, prec, want) in cases {
            assert_eq!(format_float(*v, *fmt, *prec), *want, "{v} {fmt} {prec}");
        }
    }

    #[test]
    fn printf_verbs_flags_and_errors() {
        let cases: Vec<(&str, Vec<Value>, &str)> = vec![
            ("%d", vec![Value::Int(42)], "42"),
            (
                "%5d|%-5d|%05d",
                vec![Value::Int(42), Value::Int(42), Value::Int(-42)],
                "   42|42   |-0042",
            ),
            (
                "%x %X %o %b %#x %#o",
                vec![
                    Value::Int(255),
                    Value::Int(255),
                    Value::Int(8),
                    Value::Int(5),
                    Value::Int(255),
                    Value::Int(8),
                ],
                "ff FF 10 101 0xff 010",
            ),
            ("%+d % d", vec![Value::Int(5), Value::Int(5)], "+5  5"),
            ("%.3d", vec![Value::Int(7)], "007"),
            (
                "%c %q %U %#U",
                vec![
                    Value::Int(65),
                    Value::Int(65),
                    Value::Int(0x41),
                    Value::Int(0x41),
                ],
                "A 'A' U+0041 U+0041 'A'",
            ),
            (
                "%s|%10s|%-10s|%.2s",
                vec![s("abc"), s("abc"), s("abc"), s("abc")],
                "abc|       abc|abc       |ab",
            ),
            (
                "%q %+q %#q",
                vec![s("a\"b\n"), s("é"), s("x`y")],
                "\"a\\\"b\\n\" \"\\u00e9\" \"x`y\"",
            ),
            (
                "%x % X %#x",
                vec![s("hi"), s("hi"), s("hi")],
                "6869 68 69 0x6869",
            ),
            (
                "%v %s",
                vec![Value::Bool(true), Value::Bool(false)],
                "true %!s(bool=false)",
            ),
            (
                "%f %.2f %8.3f %-8.1f|",
                vec![
                    Value::Float(1.5),
                    Value::Float(2.345),
                    Value::Float(3.14169),
                    Value::Float(2.0),
                ],
                "1.500000 2.35    3.142 2.0     |",
            ),
            (
                "%e %E %g %G",
                vec![
                    Value::Float(123456.789),
                    Value::Float(0.000123),
                    Value::Float(1e21),
                    Value::Float(1e-7),
                ],
                "1.234568e+05 1.230000E-04 1e+21 1E-07",
            ),
            (
                "%+.1f %08.2f % .1f",
                vec![Value::Float(2.0), Value::Float(-3.5), Value::Float(1.0)],
                "+2.0 -0003.50  1.0",
            ),
            (
                "%#g %#.3x",
                vec![Value::Float(1.0), Value::Float(1.0)],
                "1.00000 0x1.000p+00",
            ),
            ("%v", vec![Value::Float(3.0)], "3"),
            ("%d", vec![Value::Float(3.0)], "%!d(float64=3)"),
            ("%s", vec![Value::Int(5)], "%!s(int=5)"),
            ("%d", vec![s("x")], "%!d(string=x)"),
            ("%d", vec![Value::Nil], "%!d(<nil>)"),
            ("%v %s", vec![Value::Nil, Value::Nil], "<nil> %!s(<nil>)"),
            ("%d %d", vec![Value::Int(1)], "1 %!d(MISSING)"),
            (
                "%d",
                vec![Value::Int(1), s("x"), Value::Nil],
                "1%!(EXTRA string=x, <nil>)",
            ),
            ("100%%", vec![], "100%"),
            ("%", vec![], "%!(NOVERB)"),
            ("%z", vec![Value::Int(1)], "%!z(int=1)"),
            (
                "%T %T %T",
                vec![Value::Float(1.0), s(""), Value::Nil],
                "float64 string <nil>",
            ),
            (
                "%*d|%-*d",
                vec![Value::Int(4), Value::Int(7), Value::Int(3), Value::Int(7)],
                "   7|7  ",
            ),
            ("%.*f", vec![Value::Int(1), Value::Float(2.25)], "2.2"),
            ("%*d", vec![s("x"), Value::Int(7)], "%!(BADWIDTH)7"),
            ("%[2]d %[1]d", vec![Value::Int(1), Value::Int(2)], "2 1"),
            ("%[3]d", vec![Value::Int(1)], "%!d(BADINDEX)"),
            ("%[1]d %d", vec![Value::Int(1), Value::Int(2)], "1 2"),
            ("%05s", vec![s("ab")], "000ab"),
            ("%.0d|%3.0d|", vec![Value::Int(0), Value::Int(0)], "|   |"),
            ("%x", vec![Value::Int(-255)], "-ff"),
            ("%08.3f", vec![Value::Float(f64::INFINITY)], "    +Inf"),
            (
                "%5.1f|%-5v|",
                vec![Value::Float(f64::NAN), Value::Bool(true)],
                "  NaN|true |",
            ),
        ];
        for (format, args, want) in cases {
            assert_eq!(sf(format, &args), want, "{format}");
        }
    }

    #[test]
    fn containers_print_like_go() {
        let list = Value::list(
            vec![Value::Float(1.0), s("a"), Value::Nil, Value::Bool(true)],
            Elem::Any,
        )
        .unwrap();
        let mut m = BTreeMap::new();
        m.insert("b".to_string(), Value::Float(2.5));
        m.insert("a".to_string(), list.clone());
        let map = Value::map(m, Elem::Any).unwrap();
        assert_eq!(sf("%v", std::slice::from_ref(&list)), "[1 a <nil> true]");
        assert_eq!(
            sf("%v", std::slice::from_ref(&map)),
            "map[a:[1 a <nil> true] b:2.5]"
        );
        assert_eq!(
            sf("%d", std::slice::from_ref(&list)),
            "[%!d(float64=1) %!d(string=a) <nil> %!d(bool=true)]"
        );
        assert_eq!(
            sf("%q", &[Value::strings(["x".to_string(), "y".to_string()])]),
            "[\"x\" \"y\"]"
        );
        assert_eq!(
            sf("%#v", std::slice::from_ref(&map)),
            "map[string]interface {}{\"a\":[]interface {}{1, \"a\", interface {}(nil), true}, \"b\":2.5}"
        );
        assert_eq!(
            sf(
                "%3v",
                &[Value::list(vec![Value::Int(1), Value::Int(2)], Elem::Any).unwrap()]
            ),
            "[  1   2]"
        );
    }

    #[test]
    fn sprint_spaces_only_between_non_strings() {
        let mut b = Buf::new(100);
        sprint(
            &mut b,
            &[
                Value::Int(1),
                Value::Int(2),
                s("a"),
                Value::Int(3),
                s("b"),
                s("c"),
                Value::Nil,
            ],
        );
        assert_eq!(b.as_str(), "1 2a3bc<nil>");
        let mut b = Buf::new(100);
        sprintln(&mut b, &[s("a"), s("b"), Value::Float(0.5)]);
        assert_eq!(b.as_str(), "a b 0.5\n");
    }

    #[test]
    fn buffer_refuses_to_grow_past_its_limit() {
        let mut b = Buf::new(10);
        sprintf(&mut b, "%1000000d", &[Value::Int(1)]);
        assert!(b.overflowed());
        assert!(b.len() <= 10);
    }

    #[test]
    fn quoting_escapes_non_printable_characters() {
        assert_eq!(
            quote("a\u{0}b\u{a0}\u{1F600}\u{feff}"),
            "\"a\\x00b\\u00a0\u{1F600}\\ufeff\""
        );
        assert_eq!(quote_with("é😀", '"', true), "\"\\u00e9\\U0001f600\"");
        assert_eq!(quote_with("'", '\'', false), "'\\''");
    }
}
