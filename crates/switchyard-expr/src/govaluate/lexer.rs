//! govaluate's lexer and its token grammar, reproduced rule for rule.
//!
//! govaluate lexes with a handful of quirks that decide what Argo accepts, so they are kept:
//! a string starting with `"` ends at the next `'` or `"`; a backslash escapes any character
//! (also inside identifiers and numbers); a symbol is the longest run of characters that are
//! not letters, digits, brackets, parentheses, quotes or spaces (`a==-1` is the invalid token
//! `==-`); `-` is a prefix only where the grammar allows a prefix; a quoted string that parses
//! as a date becomes a TIME token (its Unix seconds); an identifier with a dot is an ACCESSOR
//! and every part after the first must start with an upper-case letter.

use super::time;
use crate::{Error, compile_regex, one_line};

/// Token kinds, with govaluate's names (used verbatim in its messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Unknown,
    Prefix,
    Numeric,
    Boolean,
    String,
    Pattern,
    Time,
    Variable,
    Separator,
    Accessor,
    Comparator,
    LogicalOp,
    Modifier,
    Clause,
    ClauseClose,
    Ternary,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Unknown => "UNKNOWN",
            Kind::Prefix => "PREFIX",
            Kind::Numeric => "NUMERIC",
            Kind::Boolean => "BOOLEAN",
            Kind::String => "STRING",
            Kind::Pattern => "PATTERN",
            Kind::Time => "TIME",
            Kind::Variable => "VARIABLE",
            Kind::Separator => "SEPARATOR",
            Kind::Accessor => "ACCESSOR",
            Kind::Comparator => "COMPARATOR",
            Kind::LogicalOp => "LOGICALOP",
            Kind::Modifier => "MODIFIER",
            Kind::Clause => "CLAUSE",
            Kind::ClauseClose => "CLAUSE_CLOSE",
            Kind::Ternary => "TERNARY",
        }
    }

    /// The kinds that may follow this one (govaluate's `validLexerStates`).
    fn next_kinds(self) -> &'static [Kind] {
        use Kind::*;
        match self {
            Unknown => &[
                Prefix, Numeric, Boolean, Variable, Pattern, Accessor, String, Time, Clause,
            ],
            Clause => &[
                Prefix,
                Numeric,
                Boolean,
                Variable,
                Pattern,
                Accessor,
                String,
                Time,
                Clause,
                ClauseClose,
            ],
            ClauseClose => &[
                Comparator,
                Modifier,
                Numeric,
                Boolean,
                Variable,
                String,
                Pattern,
                Time,
                Clause,
                ClauseClose,
                LogicalOp,
                Ternary,
                Separator,
            ],
            Numeric | Boolean | String | Variable => &[
                Modifier,
                Comparator,
                LogicalOp,
                ClauseClose,
                Ternary,
                Separator,
            ],
            Time | Pattern => &[Modifier, Comparator, LogicalOp, ClauseClose, Separator],
            Modifier => &[
                Prefix,
                Numeric,
                Variable,
                Accessor,
                String,
                Boolean,
                Clause,
                ClauseClose,
            ],
            Comparator => &[
                Prefix,
                Numeric,
                Boolean,
                Variable,
                Accessor,
                String,
                Time,
                Clause,
                ClauseClose,
                Pattern,
            ],
            LogicalOp => &[
                Prefix,
                Numeric,
                Boolean,
                Variable,
                Accessor,
                String,
                Time,
                Clause,
                ClauseClose,
            ],
            Prefix => &[Numeric, Boolean, Variable, Accessor, Clause, ClauseClose],
            Ternary => &[
                Prefix, Numeric, Boolean, String, Time, Variable, Accessor, Clause, Separator,
            ],
            Accessor => &[
                Clause,
                Modifier,
                Comparator,
                LogicalOp,
                ClauseClose,
                Ternary,
                Separator,
            ],
            Separator => &[
                Prefix, Numeric, Boolean, String, Time, Variable, Accessor, Clause,
            ],
        }
    }

    fn can_transition_to(self, next: Kind) -> bool {
        self.next_kinds().contains(&next)
    }

    /// Whether an expression may end after this kind.
    fn is_eof(self) -> bool {
        use Kind::*;
        matches!(
            self,
            ClauseClose | Numeric | Boolean | String | Time | Pattern | Variable | Accessor
        )
    }
}

/// A token's value.
#[derive(Debug, Clone)]
pub(crate) enum TokenValue {
    Number(f64),
    Bool(bool),
    /// STRING, VARIABLE (the name), and operator symbols.
    Text(String),
    /// Unix seconds and Go's `%v` of the parsed time (for messages).
    Time(f64, String),
    /// ACCESSOR parts.
    Path(Vec<String>),
    /// A compiled `=~` / `!~` pattern and its source.
    Pattern(regex::Regex, String),
    Open,
    Close,
}

impl TokenValue {
    /// Go's `%v` of the token value, as govaluate prints it in grammar errors.
    pub(crate) fn go_v(&self) -> String {
        match self {
            TokenValue::Number(n) => crate::gofmt::float_v(*n),
            TokenValue::Bool(b) => b.to_string(),
            TokenValue::Text(s) => s.clone(),
            TokenValue::Time(_, shown) => shown.clone(),
            TokenValue::Path(parts) => format!("[{}]", parts.join(" ")),
            TokenValue::Pattern(_, source) => source.clone(),
            // govaluate stores the parenthesis as a rune, which `%v` prints as a number.
            TokenValue::Open => "40".to_string(),
            TokenValue::Close => "41".to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) kind: Kind,
    pub(crate) value: TokenValue,
    /// 1-based character offset of the token's first character.
    pub(crate) position: usize,
}

impl Token {
    pub(crate) fn symbol(&self) -> Option<&str> {
        match &self.value {
            TokenValue::Text(s) => Some(s),
            _ => None,
        }
    }
}

struct Stream {
    chars: Vec<char>,
    pos: usize,
}

impl Stream {
    fn can_read(&self) -> bool {
        self.pos < self.chars.len()
    }

    fn read(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn rewind(&mut self, n: usize) {
        self.pos = self.pos.saturating_sub(n);
    }

    /// govaluate's `readUntilFalse`: returns the text and whether the condition (or a breaking
    /// space) ended it, as opposed to the end of input.
    fn read_until_false(
        &mut self,
        include_whitespace: bool,
        break_whitespace: bool,
        condition: fn(char) -> bool,
    ) -> (String, bool) {
        let mut buf = String::new();
        while let Some(c) = self.read() {
            if c == '\\' {
                // A backslash escapes anything; at the very end there is nothing to escape.
                match self.read() {
                    Some(escaped) => {
                        buf.push(escaped);
                        continue;
                    }
                    None => return (buf, false),
                }
            }
            if c.is_whitespace() {
                if break_whitespace && !buf.is_empty() {
                    return (buf, true);
                }
                if !include_whitespace {
                    continue;
                }
            }
            if condition(c) {
                buf.push(c);
            } else {
                self.rewind(1);
                return (buf, true);
            }
        }
        (buf, false)
    }

    /// govaluate's `readTokenUntilFalse`: re-reads the current character, then reads on.
    fn read_token_until_false(&mut self, condition: fn(char) -> bool) -> String {
        self.rewind(1);
        self.read_until_false(false, true, condition).0
    }
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}

fn is_numeric(c: char) -> bool {
    is_digit(c) || c == '.'
}

fn is_hex_digit(c: char) -> bool {
    c.is_ascii_hexdigit()
}

fn is_not_quote(c: char) -> bool {
    c != '\'' && c != '"'
}

fn is_not_alphanumeric(c: char) -> bool {
    !(is_digit(c) || c.is_alphabetic() || matches!(c, '(' | ')' | '[' | ']') || !is_not_quote(c))
}

fn is_variable_name(c: char) -> bool {
    c.is_alphabetic() || is_digit(c) || c == '_' || c == '.'
}

fn is_not_closing_bracket(c: char) -> bool {
    c != ']'
}

const PREFIX_SYMBOLS: &[&str] = &["-", "!", "~"];
const MODIFIER_SYMBOLS: &[&str] = &["+", "-", "*", "/", "%", "**", "&", "|", "^", ">>", "<<"];
const LOGICAL_SYMBOLS: &[&str] = &["&&", "||"];
const COMPARATOR_SYMBOLS: &[&str] = &["==", "!=", ">", ">=", "<", "<=", "=~", "!~", "in"];
const TERNARY_SYMBOLS: &[&str] = &["?", ":", "??"];

/// Lexes `expression` into tokens, rejecting nesting deeper than `max_depth` parentheses before
/// anything recursive runs. Mirrors govaluate's `parseTokens` (including the balance check).
pub(crate) fn lex(expression: &str, max_depth: usize) -> Result<Vec<Token>, Error> {
    let mut stream = Stream {
        chars: expression.chars().collect(),
        pos: 0,
    };
    let mut tokens: Vec<Token> = Vec::new();
    let mut state = Kind::Unknown;
    let mut depth = 0usize;
    while stream.can_read() {
        let Some(token) = read_token(&mut stream, state)? else {
            break;
        };
        match token.kind {
            Kind::Clause => {
                depth += 1;
                if depth > max_depth {
                    return Err(Error::TooDeep {
                        max: max_depth,
                        position: token.position,
                    });
                }
            }
            Kind::ClauseClose => depth = depth.saturating_sub(1),
            _ => {}
        }
        state = token.kind;
        tokens.push(token);
    }
    check_balance(&tokens)?;
    Ok(tokens)
}

fn read_token(stream: &mut Stream, state: Kind) -> Result<Option<Token>, Error> {
    while let Some(c) = stream.read() {
        if c.is_whitespace() {
            continue;
        }
        let position = stream.pos; // 1-based offset of `c`
        let token = |kind, value| {
            Ok(Some(Token {
                kind,
                value,
                position,
            }))
        };

        if is_numeric(c) {
            if c == '0' && stream.can_read() {
                let next = stream.read();
                if next == Some('x') && stream.can_read() {
                    let (hex, _) = stream.read_until_false(false, true, is_hex_digit);
                    return match u64::from_str_radix(&hex, 16) {
                        Ok(n) => token(Kind::Numeric, TokenValue::Number(n as f64)),
                        Err(_) => Err(Error::syntax(
                            format!("Unable to parse hex value '{hex}' to uint64"),
                            Some(position),
                        )),
                    };
                }
                stream.rewind(1);
            }
            let text = stream.read_token_until_false(is_numeric);
            return match text.parse::<f64>() {
                Ok(n) if n.is_finite() => token(Kind::Numeric, TokenValue::Number(n)),
                _ => Err(Error::syntax(
                    format!("Unable to parse numeric value '{text}' to float64"),
                    Some(position),
                )),
            };
        }

        if c == ',' {
            return token(Kind::Separator, TokenValue::Text(",".to_string()));
        }

        if c == '[' {
            let (name, completed) = stream.read_until_false(true, false, is_not_closing_bracket);
            if !completed {
                return Err(Error::syntax("Unclosed parameter bracket", Some(position)));
            }
            stream.read(); // the closing bracket
            return token(Kind::Variable, TokenValue::Text(name));
        }

        if c.is_alphabetic() {
            let text = stream.read_token_until_false(is_variable_name);
            let (kind, value) = match text.as_str() {
                "true" => (Kind::Boolean, TokenValue::Bool(true)),
                "false" => (Kind::Boolean, TokenValue::Bool(false)),
                "in" | "IN" => (Kind::Comparator, TokenValue::Text("in".to_string())),
                _ => (Kind::Variable, TokenValue::Text(text.clone())),
            };
            if let Some(dot) = text.find('.')
                && dot > 0
            {
                if text.ends_with('.') {
                    return Err(Error::syntax(
                        format!("Hanging accessor on token '{text}'"),
                        Some(position),
                    ));
                }
                let parts: Vec<String> = text.split('.').map(str::to_string).collect();
                for part in parts.iter().skip(1) {
                    if let Some(first) = part.chars().next()
                        && first.to_uppercase().next() != Some(first)
                    {
                        return Err(Error::syntax(
                            format!("Unable to access unexported field '{part}' in token '{text}'"),
                            Some(position),
                        ));
                    }
                }
                return token(Kind::Accessor, TokenValue::Path(parts));
            }
            return token(kind, value);
        }

        if !is_not_quote(c) {
            let (text, completed) = stream.read_until_false(true, false, is_not_quote);
            if !completed {
                return Err(Error::syntax("Unclosed string literal", Some(position)));
            }
            stream.read(); // the closing quote
            if let Some((seconds, shown)) = time::parse(&text) {
                return token(Kind::Time, TokenValue::Time(seconds, shown));
            }
            return token(Kind::String, TokenValue::Text(text));
        }

        if c == '(' {
            return token(Kind::Clause, TokenValue::Open);
        }
        if c == ')' {
            return token(Kind::ClauseClose, TokenValue::Close);
        }

        let symbol = stream.read_token_until_false(is_not_alphanumeric);
        let s = symbol.as_str();
        let kind = if state.can_transition_to(Kind::Prefix) && PREFIX_SYMBOLS.contains(&s) {
            Kind::Prefix
        } else if MODIFIER_SYMBOLS.contains(&s) {
            Kind::Modifier
        } else if LOGICAL_SYMBOLS.contains(&s) {
            Kind::LogicalOp
        } else if COMPARATOR_SYMBOLS.contains(&s) {
            Kind::Comparator
        } else if TERNARY_SYMBOLS.contains(&s) {
            Kind::Ternary
        } else {
            return Err(Error::syntax(
                format!("Invalid token: '{symbol}'"),
                Some(position),
            ));
        };
        return token(kind, TokenValue::Text(symbol));
    }
    Ok(None)
}

fn check_balance(tokens: &[Token]) -> Result<(), Error> {
    let mut parens: i64 = 0;
    for token in tokens {
        match token.kind {
            Kind::Clause => parens += 1,
            Kind::ClauseClose => parens -= 1,
            _ => {}
        }
    }
    if parens != 0 {
        return Err(Error::syntax("Unbalanced parenthesis", None));
    }
    Ok(())
}

/// govaluate's `checkExpressionSyntax`: every token must be allowed after the previous one and
/// the last token must be allowed to end an expression.
pub(crate) fn check_syntax(tokens: &[Token]) -> Result<(), Error> {
    let mut state = Kind::Unknown;
    let mut last: Option<&Token> = None;
    for token in tokens {
        if !state.can_transition_to(token.kind) {
            if let Some(previous) = last
                && previous.kind == Kind::Variable
                && token.kind == Kind::Clause
            {
                return Err(Error::syntax(
                    format!("Undefined function {}", previous.value.go_v()),
                    Some(previous.position),
                ));
            }
            let previous = last.map_or_else(|| "<nil>".to_string(), |t| t.value.go_v());
            return Err(Error::syntax(
                format!(
                    "Cannot transition token types from {} [{}] to {} [{}]",
                    state.name(),
                    previous,
                    token.kind.name(),
                    token.value.go_v()
                ),
                Some(token.position),
            ));
        }
        state = token.kind;
        last = Some(token);
    }
    if !state.is_eof() {
        return Err(Error::syntax(
            "Unexpected end of expression",
            last.map(|t| t.position),
        ));
    }
    Ok(())
}

/// govaluate's `optimizeTokens`: a STRING right after `=~` or `!~` is compiled once, here.
pub(crate) fn compile_patterns(tokens: &mut [Token]) -> Result<(), Error> {
    for i in 0..tokens.len() {
        let is_regex_op =
            tokens[i].kind == Kind::Comparator && matches!(tokens[i].symbol(), Some("=~" | "!~"));
        if !is_regex_op {
            continue;
        }
        let Some(next) = tokens.get_mut(i + 1) else {
            continue;
        };
        if next.kind != Kind::String {
            continue;
        }
        let source = match &next.value {
            TokenValue::Text(s) => s.clone(),
            _ => continue,
        };
        match compile_regex(&source) {
            Ok(re) => {
                next.kind = Kind::Pattern;
                next.value = TokenValue::Pattern(re, source);
            }
            Err(e) => {
                return Err(Error::syntax(
                    format!("error parsing regexp '{source}': {}", one_line(&e)),
                    Some(next.position),
                ));
            }
        }
    }
    Ok(())
}
