//! The lexer: template text to tokens, following Go's `text/template/parse` lexer.
//!
//! Text outside `{{ }}` becomes text tokens, already trimmed where an action has a trim marker
//! (`{{- ` trims the whitespace before it, ` -}}` the whitespace after it; the marker needs an
//! ASCII space next to it, so `{{-3}}` is the number -3). Comments (`{{/* */}}`, possibly with
//! trim markers) produce no token. Inside actions, spaces are tokens (they separate arguments),
//! and newlines are spaces, as in Go 1.16 and later.
//!
//! The lexer runs over the whole input up front; an error becomes the last token, so the parser
//! reports the first problem in source order, as Go's on-demand lexer does.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    Block,
    Break,
    Continue,
    Define,
    Else,
    End,
    If,
    Nil,
    Range,
    Template,
    With,
}

impl Keyword {
    fn from_word(word: &str) -> Option<Keyword> {
        Some(match word {
            "block" => Keyword::Block,
            "break" => Keyword::Break,
            "continue" => Keyword::Continue,
            "define" => Keyword::Define,
            "else" => Keyword::Else,
            "end" => Keyword::End,
            "if" => Keyword::If,
            "nil" => Keyword::Nil,
            "range" => Keyword::Range,
            "template" => Keyword::Template,
            "with" => Keyword::With,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    LeftDelim,
    RightDelim,
    Space,
    Pipe,
    LeftParen,
    RightParen,
    /// `:=`
    Declare,
    /// `=`
    Assign,
    /// Any other printable ASCII character, such as `,`.
    Char,
    CharConstant,
    Number,
    Complex,
    String,
    RawString,
    Bool,
    /// `.name`
    Field,
    Identifier,
    /// `$` or `$name`
    Variable,
    /// `.`
    Dot,
    Keyword(Keyword),
    Eof,
    /// A lexing error; `val` is the message.
    Error,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub kind: Kind,
    /// Byte offset of the token in the template text.
    pub pos: usize,
    /// The token's text (for `Text`, after trimming; for `Error`, the message).
    pub val: String,
}

impl fmt::Display for Token {
    /// How Go's parser names a token in "unexpected ..." messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Eof => f.write_str("EOF"),
            Kind::Error => f.write_str(&self.val),
            Kind::Keyword(_) | Kind::Dot => write!(f, "<{}>", self.val),
            _ if self.val.len() > 10 => {
                let head: String = self.val.chars().take(10).collect();
                write!(f, "{}...", crate::gofmt::quote(&head))
            }
            _ => f.write_str(&crate::gofmt::quote(&self.val)),
        }
    }
}

const SPACE_CHARS: &[char] = &[' ', '\t', '\r', '\n'];

fn is_space(c: char) -> bool {
    SPACE_CHARS.contains(&c)
}

fn is_alphanumeric(c: char) -> bool {
    c == '_' || c.is_alphabetic() || c.is_numeric()
}

/// Go's `%#U`: `U+0041 'A'`.
pub(crate) fn char_name(c: char) -> String {
    if crate::gofmt::is_print(c) {
        format!("U+{:04X} '{c}'", c as u32)
    } else {
        format!("U+{:04X}", c as u32)
    }
}

fn has_left_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == b'-' && is_space(b[1] as char)
}

fn has_right_trim_marker(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && is_space(b[0] as char) && b[1] == b'-'
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    tokens: Vec<Token>,
    paren_depth: i64,
    action_start: usize,
}

/// Tokenizes a whole template. The last token is `Eof` or `Error`.
pub(crate) fn lex(input: &str) -> Vec<Token> {
    let mut l = Lexer {
        input,
        pos: 0,
        tokens: Vec::new(),
        paren_depth: 0,
        action_start: 0,
    };
    l.run();
    l.tokens
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.input[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn emit(&mut self, kind: Kind, start: usize) {
        self.tokens.push(Token {
            kind,
            pos: start,
            val: self.input[start..self.pos].to_string(),
        });
    }

    fn error(&mut self, pos: usize, message: String) {
        self.tokens.push(Token {
            kind: Kind::Error,
            pos,
            val: message,
        });
    }

    fn run(&mut self) {
        loop {
            let more = self.lex_text();
            if !more {
                return;
            }
            if !self.lex_action() {
                return;
            }
        }
    }

    /// Text up to the next action. Returns false at the end of input or after an error.
    fn lex_text(&mut self) -> bool {
        loop {
            let Some(x) = self.rest().find("{{") else {
                if self.pos < self.input.len() {
                    let start = self.pos;
                    self.pos = self.input.len();
                    self.emit(Kind::Text, start);
                }
                self.tokens.push(Token {
                    kind: Kind::Eof,
                    pos: self.input.len(),
                    val: String::new(),
                });
                return false;
            };
            let delim = self.pos + x;
            let after_delim = delim + 2;
            let trim = has_left_trim_marker(&self.input[after_delim..]);
            let mut text = &self.input[self.pos..delim];
            if trim {
                text = text.trim_end_matches(SPACE_CHARS);
            }
            if !text.is_empty() {
                self.tokens.push(Token {
                    kind: Kind::Text,
                    pos: self.pos,
                    val: text.to_string(),
                });
            }
            let after_marker = after_delim + if trim { 2 } else { 0 };
            if self.input[after_marker..].starts_with("/*") {
                // A comment: no token; it may trim the text after it.
                let body = after_marker + 2;
                let Some(end) = self.input[body..].find("*/") else {
                    self.error(delim, "unclosed comment".to_string());
                    return false;
                };
                self.pos = body + end + 2;
                let Some(trim_after) = self.at_right_delim() else {
                    self.error(delim, "comment ends before closing delimiter".to_string());
                    return false;
                };
                self.pos += if trim_after { 4 } else { 2 };
                if trim_after {
                    self.skip_leading_space();
                }
                continue;
            }
            self.tokens.push(Token {
                kind: Kind::LeftDelim,
                pos: delim,
                val: "{{".to_string(),
            });
            self.pos = after_marker;
            self.action_start = delim;
            self.paren_depth = 0;
            return true;
        }
    }

    fn skip_leading_space(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start_matches(SPACE_CHARS).len();
    }

    /// Whether the input is at a right delimiter: `Some(true)` with a trim marker (` -}}`),
    /// `Some(false)` without.
    fn at_right_delim(&self) -> Option<bool> {
        let rest = self.rest();
        if has_right_trim_marker(rest) && rest[2..].starts_with("}}") {
            return Some(true);
        }
        if rest.starts_with("}}") {
            return Some(false);
        }
        None
    }

    fn lex_right_delim(&mut self, trim: bool) {
        if trim {
            self.pos += 2;
        }
        let start = self.pos;
        self.pos += 2;
        self.emit(Kind::RightDelim, start);
        if trim {
            self.skip_leading_space();
        }
    }

    /// The inside of one action, through its right delimiter. Returns false after an error.
    fn lex_action(&mut self) -> bool {
        loop {
            if let Some(trim) = self.at_right_delim() {
                if self.paren_depth == 0 {
                    self.lex_right_delim(trim);
                    return true;
                }
                self.error(self.pos, "unclosed left paren".to_string());
                return false;
            }
            let start = self.pos;
            let Some(c) = self.peek() else {
                self.error(self.action_start, "unclosed action".to_string());
                return false;
            };
            let ok = match c {
                c if is_space(c) => self.lex_space(),
                '=' => {
                    self.pos += 1;
                    self.emit(Kind::Assign, start);
                    true
                }
                ':' => {
                    self.pos += 1;
                    if self.peek() == Some('=') {
                        self.pos += 1;
                        self.emit(Kind::Declare, start);
                        true
                    } else {
                        self.error(start, "expected :=".to_string());
                        false
                    }
                }
                '|' => {
                    self.pos += 1;
                    self.emit(Kind::Pipe, start);
                    true
                }
                '"' => self.lex_quote(),
                '`' => self.lex_raw_quote(),
                '\'' => self.lex_char(),
                '$' => {
                    self.pos += 1;
                    self.lex_field_or_variable(Kind::Variable, start)
                }
                '.' => {
                    // ".field", or a number such as ".5".
                    let next = self.input.as_bytes().get(self.pos + 1).copied();
                    if next.is_some_and(|b| b.is_ascii_digit()) {
                        self.lex_number()
                    } else {
                        self.pos += 1;
                        self.lex_field_or_variable(Kind::Field, start)
                    }
                }
                '+' | '-' | '0'..='9' => self.lex_number(),
                c if is_alphanumeric(c) => self.lex_identifier(),
                '(' => {
                    self.pos += 1;
                    self.paren_depth += 1;
                    self.emit(Kind::LeftParen, start);
                    true
                }
                ')' => {
                    self.pos += 1;
                    self.paren_depth -= 1;
                    if self.paren_depth < 0 {
                        self.error(start, "unexpected right paren".to_string());
                        false
                    } else {
                        self.emit(Kind::RightParen, start);
                        true
                    }
                }
                c if c.is_ascii() && !c.is_ascii_control() => {
                    self.pos += 1;
                    self.emit(Kind::Char, start);
                    true
                }
                c => {
                    self.error(
                        start,
                        format!("unrecognized character in action: {}", char_name(c)),
                    );
                    false
                }
            };
            if !ok {
                return false;
            }
        }
    }

    /// A run of spaces. A trim-marked right delimiter starts with a space, so the last space
    /// before ` -}}` is left for the delimiter.
    fn lex_space(&mut self) -> bool {
        let start = self.pos;
        let mut count = 0;
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
            count += 1;
        }
        let before_last = self.pos - 1;
        if has_right_trim_marker(&self.input[before_last..])
            && self.input[before_last + 2..].starts_with("}}")
        {
            self.pos = before_last;
            if count == 1 {
                return true; // the delimiter comes next
            }
        }
        self.emit(Kind::Space, start);
        true
    }

    /// Whether the next character may follow an identifier, field or variable.
    fn at_terminator(&self) -> bool {
        match self.peek() {
            None => true,
            Some(c) if is_space(c) => true,
            Some('.' | ',' | '|' | ':' | ')' | '(') => true,
            Some(_) => self.rest().starts_with("}}"),
        }
    }

    fn lex_identifier(&mut self) -> bool {
        let start = self.pos;
        while let Some(c) = self.peek().filter(|c| is_alphanumeric(*c)) {
            self.pos += c.len_utf8();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or(' ');
            self.error(start, format!("bad character {}", char_name(c)));
            return false;
        }
        let word = &self.input[start..self.pos];
        let kind = if let Some(k) = Keyword::from_word(word) {
            Kind::Keyword(k)
        } else if word == "true" || word == "false" {
            Kind::Bool
        } else {
            Kind::Identifier
        };
        self.emit(kind, start);
        true
    }

    /// After `.` or `$`: a bare `.`/`$` when a terminator follows, else the name.
    fn lex_field_or_variable(&mut self, kind: Kind, start: usize) -> bool {
        if self.at_terminator() {
            let kind = if kind == Kind::Field { Kind::Dot } else { kind };
            self.emit(kind, start);
            return true;
        }
        while let Some(c) = self.peek().filter(|c| is_alphanumeric(*c)) {
            self.pos += c.len_utf8();
        }
        if !self.at_terminator() {
            let c = self.peek().unwrap_or(' ');
            self.error(start, format!("bad character {}", char_name(c)));
            return false;
        }
        self.emit(kind, start);
        true
    }

    fn lex_quoted(&mut self, quote: char, what: &str, kind: Kind) -> bool {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.peek() {
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c) if c != '\n' => self.pos += c.len_utf8(),
                        _ => {
                            self.error(start, format!("unterminated {what}"));
                            return false;
                        }
                    }
                }
                None | Some('\n') => {
                    self.error(start, format!("unterminated {what}"));
                    return false;
                }
                Some(c) => {
                    self.pos += c.len_utf8();
                    if c == quote {
                        break;
                    }
                }
            }
        }
        self.emit(kind, start);
        true
    }

    fn lex_quote(&mut self) -> bool {
        self.lex_quoted('"', "quoted string", Kind::String)
    }

    fn lex_char(&mut self) -> bool {
        self.lex_quoted('\'', "character constant", Kind::CharConstant)
    }

    fn lex_raw_quote(&mut self) -> bool {
        let start = self.pos;
        match self.input[start + 1..].find('`') {
            Some(end) => {
                self.pos = start + 1 + end + 1;
                self.emit(Kind::RawString, start);
                true
            }
            None => {
                self.error(start, "unterminated raw quoted string".to_string());
                false
            }
        }
    }

    fn accept(&mut self, valid: &str) -> bool {
        match self.peek() {
            Some(c) if valid.contains(c) => {
                self.pos += c.len_utf8();
                true
            }
            _ => false,
        }
    }

    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }

    /// Go's number scanner: sign, base prefix, digits with `_`, fraction, exponent, `i`. It
    /// accepts some invalid numbers; the parser rejects those.
    fn scan_number(&mut self) -> bool {
        self.accept("+-");
        let mut digits = "0123456789_";
        if self.accept("0") {
            if self.accept("xX") {
                digits = "0123456789abcdefABCDEF_";
            } else if self.accept("oO") {
                digits = "01234567_";
            } else if self.accept("bB") {
                digits = "01_";
            }
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if digits.len() == 11 && self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        if digits.len() == 23 && self.accept("pP") {
            self.accept("+-");
            self.accept_run("0123456789_");
        }
        self.accept("i");
        if let Some(c) = self.peek().filter(|c| is_alphanumeric(*c)) {
            self.pos += c.len_utf8();
            return false;
        }
        true
    }

    fn lex_number(&mut self) -> bool {
        let start = self.pos;
        if !self.scan_number() {
            let text = crate::gofmt::quote(&self.input[start..self.pos]);
            self.error(start, format!("bad number syntax: {text}"));
            return false;
        }
        if matches!(self.peek(), Some('+' | '-')) {
            // Complex: 1+2i, no spaces, ending in 'i'.
            if !self.scan_number() || !self.input[..self.pos].ends_with('i') {
                let text = crate::gofmt::quote(&self.input[start..self.pos]);
                self.error(start, format!("bad number syntax: {text}"));
                return false;
            }
            self.emit(Kind::Complex, start);
            return true;
        }
        self.emit(Kind::Number, start);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Kind, String)> {
        lex(src).into_iter().map(|t| (t.kind, t.val)).collect()
    }

    #[test]
    fn text_and_actions() {
        use Kind::*;
        assert_eq!(
            kinds("a {{ .Input.x | f \"s\" 1 }} b"),
            vec![
                (Text, "a ".into()),
                (LeftDelim, "{{".into()),
                (Space, " ".into()),
                (Field, ".Input".into()),
                (Field, ".x".into()),
                (Space, " ".into()),
                (Pipe, "|".into()),
                (Space, " ".into()),
                (Identifier, "f".into()),
                (Space, " ".into()),
                (String, "\"s\"".into()),
                (Space, " ".into()),
                (Number, "1".into()),
                (Space, " ".into()),
                (RightDelim, "}}".into()),
                (Text, " b".into()),
                (Eof, "".into()),
            ]
        );
    }

    #[test]
    fn trim_markers_and_comments() {
        use Kind::*;
        assert_eq!(
            kinds("a  \n{{- 1 -}}\n  b {{/* c */}} d {{- /* c */ -}} e"),
            vec![
                (Text, "a".into()),
                (LeftDelim, "{{".into()),
                (Number, "1".into()),
                (RightDelim, "}}".into()),
                (Text, "b ".into()),
                (Text, " d".into()),
                (Text, "e".into()),
                (Eof, "".into()),
            ]
        );
        // Without a space the minus belongs to a number.
        assert_eq!(kinds("{{-3}}")[1], (Number, "-3".into()));
    }

    #[test]
    fn variables_keywords_and_declarations() {
        use Kind::*;
        let toks = kinds("{{range $i, $v := .}}{{end}}");
        assert_eq!(toks[1], (Keyword(super::Keyword::Range), "range".into()));
        assert_eq!(toks[3], (Variable, "$i".into()));
        assert_eq!(toks[4], (Char, ",".into()));
        assert_eq!(toks[8], (Declare, ":=".into()));
        assert_eq!(toks[10], (Dot, ".".into()));
    }

    #[test]
    fn errors_end_the_token_stream() {
        for (src, msg) in [
            ("{{ .x ", "unclosed action"),
            ("{{ \"abc }}", "unterminated quoted string"),
            ("{{ `abc }}", "unterminated raw quoted string"),
            ("{{ (1 }}", "unclosed left paren"),
            ("{{ 1) }}", "unexpected right paren"),
            ("{{ 3x }}", "bad number syntax: \"3x\""),
            ("{{ a# }}", "bad character U+0023 '#'"),
            ("{{ : }}", "expected :="),
            ("{{/* x }}", "unclosed comment"),
            ("{{/* x */ }}", "comment ends before closing delimiter"),
            ("{{ \u{1} }}", "unrecognized character in action: U+0001"),
        ] {
            let toks = lex(src);
            let last = toks.last().unwrap();
            assert_eq!(last.kind, Kind::Error, "{src}");
            assert_eq!(last.val, msg, "{src}");
        }
    }
}
