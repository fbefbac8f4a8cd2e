//! Go's `strconv` parsing: integers (`ParseInt`, `ParseUint`, `Atoi`), floats (`ParseFloat`)
//! and quoted literals (`Unquote`, `UnquoteChar`), as number and string literals in templates
//! and sprig's conversions (`int`, `float64`, `atoi`) use them.

/// Go's `underscoreOK`: underscores only between digits, or between a base prefix and a digit.
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if !b.is_empty() && (b[0] == b'-' || b[0] == b'+') {
        i = 1;
    }
    // '^' start, '0' digit or prefix, '_' underscore, '!' anything else.
    let mut saw = b'^';
    let mut hex = false;
    if b.len() >= i + 2 && b[i] == b'0' && matches!(b[i + 1] | 0x20, b'b' | b'o' | b'x') {
        hex = b[i + 1] | 0x20 == b'x';
        i += 2;
        saw = b'0';
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && (c | 0x20).is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Why an integer did not parse.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum IntError {
    Syntax,
    Range,
}

/// Go's `strconv.ParseUint(s, base, 64)`; base 0 reads a `0x`, `0o`, `0b` or `0` prefix and
/// allows underscores.
pub(crate) fn parse_uint(s: &str, base: u32) -> Result<u64, IntError> {
    if s.is_empty() {
        return Err(IntError::Syntax);
    }
    let base0 = base == 0;
    let original = s;
    let (base, digits) = if base0 {
        let b = s.as_bytes();
        if b[0] == b'0' {
            if b.len() >= 3 && matches!(b[1] | 0x20, b'b' | b'o' | b'x') {
                let base = match b[1] | 0x20 {
                    b'b' => 2,
                    b'o' => 8,
                    _ => 16,
                };
                (base, &s[2..])
            } else {
                (8, &s[1..])
            }
        } else {
            (10, s)
        }
    } else {
        (base, s)
    };
    let mut n: u64 = 0;
    let mut underscores = false;
    let mut overflow = false;
    for c in digits.chars() {
        if c == '_' && base0 {
            underscores = true;
            continue;
        }
        let d = c.to_digit(36).ok_or(IntError::Syntax)?;
        if d >= base {
            return Err(IntError::Syntax);
        }
        match n
            .checked_mul(u64::from(base))
            .and_then(|n| n.checked_add(u64::from(d)))
        {
            Some(v) => n = v,
            None => overflow = true,
        }
    }
    if underscores && !underscore_ok(original) {
        return Err(IntError::Syntax);
    }
    if overflow {
        return Err(IntError::Range);
    }
    Ok(n)
}

/// Go's `strconv.ParseInt(s, base, 64)`.
pub(crate) fn parse_int(s: &str, base: u32) -> Result<i64, IntError> {
    if s.is_empty() {
        return Err(IntError::Syntax);
    }
    let (neg, rest) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let un = parse_uint(rest, base)?;
    let cutoff = 1u64 << 63;
    if !neg && un >= cutoff {
        return Err(IntError::Range);
    }
    if neg && un > cutoff {
        return Err(IntError::Range);
    }
    Ok(if neg {
        (un as i64).wrapping_neg()
    } else {
        un as i64
    })
}

/// Go's `strconv.Atoi`: base 10 with an optional sign, no underscores.
pub(crate) fn atoi(s: &str) -> Option<i64> {
    parse_int(s, 10).ok()
}

/// Go's `strconv.ParseFloat(s, 64)`: decimal and hexadecimal (`0x1.8p3`) forms, underscores
/// between digits, `Inf`/`Infinity`/`NaN` in any case. Out-of-range values are errors in Go;
/// here they are `None` too.
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    if let Some(v) = special_float(s) {
        return Some(v);
    }
    let b = s.as_bytes();
    let mut i = 0;
    let neg = match b.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    let hex = b.len() >= i + 2 && b[i] == b'0' && b[i + 1] | 0x20 == b'x';
    // Validate the shape: digits, one point, an exponent with digits.
    let mut j = if hex { i + 2 } else { i };
    let mut saw_digits = false;
    let mut saw_point = false;
    let mut underscores = false;
    while j < b.len() {
        let c = b[j];
        if c == b'_' {
            underscores = true;
        } else if c == b'.' {
            if saw_point {
                return None;
            }
            saw_point = true;
        } else if c.is_ascii_digit() || (hex && (c | 0x20).is_ascii_hexdigit()) {
            saw_digits = true;
        } else {
            break;
        }
        j += 1;
    }
    if !saw_digits {
        return None;
    }
    let mantissa_end = j;
    let mut exp: i64 = 0;
    let exp_char = if hex { b'p' } else { b'e' };
    if j < b.len() && b[j] | 0x20 == exp_char {
        j += 1;
        let mut esign = 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            if b[j] == b'-' {
                esign = -1;
            }
            j += 1;
        }
        let start = j;
        while j < b.len() && (b[j].is_ascii_digit() || b[j] == b'_') {
            if b[j] == b'_' {
                underscores = true;
            } else if exp < 100_000 {
                exp = exp * 10 + i64::from(b[j] - b'0');
            }
            j += 1;
        }
        if j == start {
            return None;
        }
        exp *= esign;
    } else if hex {
        // A hexadecimal mantissa needs a 'p' exponent.
        return None;
    }
    if j != b.len() {
        return None;
    }
    if underscores && !underscore_ok(s) {
        return None;
    }
    let value = if hex {
        hex_float(&s[i + 2..mantissa_end], exp)?
    } else {
        let cleaned: String = s[i..].chars().filter(|c| *c != '_').collect();
        cleaned.parse::<f64>().ok()?
    };
    if value.is_infinite() {
        return None; // Go: value out of range
    }
    Some(if neg { -value } else { value })
}

fn special_float(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let (sign, body) = match lower.as_bytes().first() {
        Some(b'+') => (1.0, &lower[1..]),
        Some(b'-') => (-1.0, &lower[1..]),
        _ => (1.0, lower.as_str()),
    };
    if body == "inf" || body == "infinity" {
        return Some(sign * f64::INFINITY);
    }
    if lower == "nan" {
        return Some(f64::NAN);
    }
    None
}

/// A hexadecimal mantissa (`1.8`, underscores allowed) times 2^exp, correctly rounded.
fn hex_float(mantissa: &str, exp: i64) -> Option<f64> {
    let mut mant: u128 = 0;
    let mut e2: i64 = exp;
    let mut sticky = false;
    let mut after_point = false;
    for c in mantissa.chars() {
        match c {
            '_' => {}
            '.' => after_point = true,
            c => {
                let d = u128::from(c.to_digit(16)?);
                if mant >> 120 == 0 {
                    mant = mant * 16 + d;
                    if after_point {
                        e2 -= 4;
                    }
                } else {
                    // Out of room: the digit only decides rounding.
                    sticky |= d != 0;
                    if !after_point {
                        e2 += 4;
                    }
                }
            }
        }
    }
    if mant == 0 {
        return Some(0.0);
    }
    let nbits = 128 - i64::from(mant.leading_zeros());
    // Exponent of the leading bit.
    let top = nbits - 1 + e2;
    if top > 1023 {
        return Some(f64::INFINITY);
    }
    // Bits of precision available: 53, fewer for subnormals.
    let precision = if top >= -1022 { 53 } else { 53 - (-1022 - top) };
    if precision <= 0 {
        // Below half the smallest subnormal, or exactly representable only as zero or the
        // smallest subnormal.
        let half = precision == 0 && (mant.count_ones() > 1 || sticky);
        return Some(if half { f64::from_bits(1) } else { 0.0 });
    }
    let drop = (nbits - precision).max(0);
    let mut m = mant >> drop;
    let mut exp_out = e2 + drop;
    if drop > 0 {
        let dropped = mant & ((1u128 << drop) - 1);
        let half = 1u128 << (drop - 1);
        if dropped > half || (dropped == half && (sticky || m & 1 == 1)) {
            m += 1;
        }
    }
    if m >> 53 != 0 {
        m >>= 1;
        exp_out += 1;
    }
    // m < 2^53 and the result is representable, so scaling in steps is exact.
    let mut v = m as f64;
    let mut k = exp_out;
    while k > 0 {
        let step = k.min(1000);
        v *= 2f64.powi(step as i32);
        k -= step;
    }
    while k < 0 {
        let step = k.max(-1000);
        v *= 2f64.powi(step as i32);
        k -= step;
    }
    Some(v)
}

/// One character of a Go quoted literal (Go's `strconv.UnquoteChar`): its value, whether it is
/// a raw byte (`\xNN`, `\NNN`) rather than a character, and how many bytes of input it used.
/// Escapes: `\a \b \f \n \r \t \v \\`, the quote itself, `\NNN` octal, `\xNN`, `\uNNNN`,
/// `\UNNNNNNNN`.
fn unquote_char(s: &str, quote: char) -> Option<(u32, bool, usize)> {
    let mut chars = s.chars();
    let c = chars.next()?;
    if c == quote && (quote == '\'' || quote == '"') {
        return None;
    }
    if c != '\\' {
        return Some((c as u32, false, c.len_utf8()));
    }
    let e = chars.next()?;
    let simple = match e {
        'a' => Some(0x07),
        'b' => Some(0x08),
        'f' => Some(0x0c),
        'n' => Some(0x0a),
        'r' => Some(0x0d),
        't' => Some(0x09),
        'v' => Some(0x0b),
        '\\' => Some(0x5c),
        '\'' | '"' if e == quote => Some(e as u32),
        _ => None,
    };
    if let Some(v) = simple {
        return Some((v, false, 2));
    }
    match e {
        'x' | 'u' | 'U' => {
            let n = match e {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let hex = s.get(2..2 + n)?;
            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            let v = u32::from_str_radix(hex, 16).ok()?;
            if e == 'x' {
                return Some((v, true, 2 + n));
            }
            char::from_u32(v)?;
            Some((v, false, 2 + n))
        }
        '0'..='7' => {
            let digits = s.as_bytes().get(1..4)?;
            let mut v: u32 = 0;
            for d in digits {
                if !(b'0'..=b'7').contains(d) {
                    return None;
                }
                v = v * 8 + u32::from(d - b'0');
            }
            if v > 255 {
                return None;
            }
            Some((v, true, 4))
        }
        _ => None,
    }
}

/// Go's `strconv.Unquote` for `"..."` and `` `...` `` literals. Byte escapes that do not form
/// UTF-8 (`"\xff"`) become U+FFFD: strings here are always UTF-8.
pub(crate) fn unquote(lit: &str) -> Option<String> {
    let b = lit.as_bytes();
    if b.len() < 2 {
        return None;
    }
    match (b[0], b[b.len() - 1]) {
        (b'`', b'`') => {
            let inner = &lit[1..lit.len() - 1];
            if inner.contains('`') {
                return None;
            }
            // Carriage returns are dropped from raw strings.
            Some(inner.replace('\r', ""))
        }
        (b'"', b'"') => {
            let inner = &lit[1..lit.len() - 1];
            if inner.contains('\n') {
                return None;
            }
            let mut out: Vec<u8> = Vec::with_capacity(inner.len());
            let mut rest = inner;
            while !rest.is_empty() {
                let (v, is_byte, used) = unquote_char(rest, '"')?;
                if is_byte {
                    out.push(v as u8);
                } else {
                    let c = char::from_u32(v)?;
                    let mut tmp = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
                rest = &rest[used..];
            }
            Some(String::from_utf8_lossy(&out).into_owned())
        }
        _ => None,
    }
}

/// A character constant `'a'`, `'\n'`, `'\u00e9'`, `'\xff'`: its value.
pub(crate) fn unquote_rune(lit: &str) -> Option<u32> {
    let inner = lit.strip_prefix('\'')?;
    let (v, _, used) = unquote_char(inner, '\'')?;
    (&inner[used..] == "'").then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_follow_strconv() {
        assert_eq!(parse_int("42", 0), Ok(42));
        assert_eq!(parse_int("-0x1F", 0), Ok(-31));
        assert_eq!(parse_int("0o17", 0), Ok(15));
        assert_eq!(parse_int("017", 0), Ok(15));
        assert_eq!(parse_int("0b101", 0), Ok(5));
        assert_eq!(parse_int("1_000", 0), Ok(1000));
        assert_eq!(parse_int("1__0", 0), Err(IntError::Syntax));
        assert_eq!(parse_int("1_000", 10), Err(IntError::Syntax));
        assert_eq!(parse_int("08", 0), Err(IntError::Syntax));
        assert_eq!(parse_int("9223372036854775807", 0), Ok(i64::MAX));
        assert_eq!(parse_int("-9223372036854775808", 0), Ok(i64::MIN));
        assert_eq!(parse_int("9223372036854775808", 0), Err(IntError::Range));
        assert_eq!(parse_uint("18446744073709551615", 0), Ok(u64::MAX));
        assert_eq!(parse_uint("-1", 0), Err(IntError::Syntax));
        assert_eq!(parse_int("", 0), Err(IntError::Syntax));
        assert_eq!(atoi("+12"), Some(12));
        assert_eq!(atoi("0x10"), None);
    }

    #[test]
    fn floats_follow_strconv() {
        assert_eq!(parse_float("1.5"), Some(1.5));
        assert_eq!(parse_float(".5"), Some(0.5));
        assert_eq!(parse_float("5."), Some(5.0));
        assert_eq!(parse_float("-1e3"), Some(-1000.0));
        assert_eq!(parse_float("1_000.5"), Some(1000.5));
        assert_eq!(parse_float("0x1.8p1"), Some(3.0));
        assert_eq!(parse_float("0x1p-1074"), Some(f64::from_bits(1)));
        assert_eq!(parse_float("0x1.fffffffffffff8p0"), Some(2.0));
        assert_eq!(parse_float("0x1"), None);
        assert_eq!(parse_float("Inf"), Some(f64::INFINITY));
        assert_eq!(parse_float("-infinity"), Some(f64::NEG_INFINITY));
        assert!(parse_float("NaN").is_some_and(f64::is_nan));
        assert_eq!(parse_float("1e400"), None);
        assert_eq!(parse_float("abc"), None);
        assert_eq!(parse_float("1e"), None);
        assert_eq!(parse_float(""), None);
    }

    #[test]
    fn literals_unquote_like_go() {
        assert_eq!(unquote(r#""a\tb\"c\\""#).as_deref(), Some("a\tb\"c\\"));
        assert_eq!(
            unquote(r#""\u00e9\U0001F600\x41\101""#).as_deref(),
            Some("é😀AA")
        );
        assert_eq!(unquote(r#""\xff""#).as_deref(), Some("\u{FFFD}"));
        assert_eq!(unquote("`a\\n\r`").as_deref(), Some("a\\n"));
        assert_eq!(unquote(r#""\q""#), None);
        assert_eq!(unquote(r#""\'""#), None);
        assert_eq!(unquote_rune("'a'"), Some(97));
        assert_eq!(unquote_rune(r"'\n'"), Some(10));
        assert_eq!(unquote_rune(r"'\''"), Some(39));
        assert_eq!(unquote_rune("'é'"), Some(0xe9));
        assert_eq!(unquote_rune(r"'\xff'"), Some(255));
        assert_eq!(unquote_rune(r"'\377'"), Some(255));
        assert_eq!(unquote_rune("'ab'"), None);
    }
}
