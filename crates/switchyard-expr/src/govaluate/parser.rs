//! govaluate's stage planner, as a tree of nodes.
//!
//! govaluate plans right-recursively and then mirrors runs of equal precedence so that they
//! evaluate left to right; that is the same as precedence climbing with each run of one level
//! kept as a left-to-right chain, which is what this planner does (a chain is evaluated
//! iteratively, so a long `a && b && ...` costs no stack, and a parenthesis costs a few
//! frames, not one per precedence level). Precedence, loosest first: `,` < `?` `:` `??` < `||` < `&&` <
//! comparators (`== != > >= < <= =~ !~ in`) < `& | ^` < `<< >>` < `+ -` < `* / %` < `**` <
//! prefixes (`- ! ~`). Two of govaluate's quirks are kept on purpose: the planner stops at the
//! first token it cannot continue with and ignores the rest (`(1) 2` is `1`), and a
//! parenthesised group consumes the token after its contents as its closing parenthesis.

use super::lexer::{Kind, Token, TokenValue};
use super::{Value, eval::Val};
use crate::Error;

/// Binary operators, in govaluate's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Separate,
    TernaryTrue,
    TernaryFalse,
    Coalesce,
    Or,
    And,
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    Req,
    Nreq,
    In,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    Plus,
    Minus,
    Multiply,
    Divide,
    Modulus,
    Exponent,
}

impl BinOp {
    /// govaluate's `OperatorSymbol.String()` (note: equality prints as `=`).
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinOp::Separate => ",",
            BinOp::TernaryTrue => "?",
            BinOp::TernaryFalse => ":",
            BinOp::Coalesce => "??",
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "=",
            BinOp::Neq => "!=",
            BinOp::Gt => ">",
            BinOp::Gte => ">=",
            BinOp::Lt => "<",
            BinOp::Lte => "<=",
            BinOp::Req => "=~",
            BinOp::Nreq => "!~",
            BinOp::In => "in",
            BinOp::BitAnd => "&",
            BinOp::BitOr => "|",
            BinOp::BitXor => "^",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::Plus => "+",
            BinOp::Minus => "-",
            BinOp::Multiply => "*",
            BinOp::Divide => "/",
            BinOp::Modulus => "%",
            BinOp::Exponent => "**",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrefixOp {
    Negate,
    Invert,
    BitNot,
}

impl PrefixOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            PrefixOp::Negate => "-",
            PrefixOp::Invert => "!",
            PrefixOp::BitNot => "~",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub(crate) op: BinOp,
    pub(crate) position: usize,
    pub(crate) right: Option<Node>,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Literal(Val),
    Param {
        name: String,
        position: usize,
    },
    Accessor {
        parts: Vec<String>,
        args: Option<Box<Node>>,
        position: usize,
    },
    Group(Option<Box<Node>>),
    Prefix {
        op: PrefixOp,
        operand: Option<Box<Node>>,
        position: usize,
    },
    Chain {
        first: Option<Box<Node>>,
        rest: Vec<Link>,
    },
}

/// govaluate's precedence of a binary operator token, loosest (0) to tightest (9).
fn binary_operator(token: &Token) -> Option<(u8, BinOp)> {
    let symbol = token.symbol()?;
    Some(match (token.kind, symbol) {
        (Kind::Separator, ",") => (0, BinOp::Separate),
        (Kind::Ternary, "?") => (1, BinOp::TernaryTrue),
        (Kind::Ternary, ":") => (1, BinOp::TernaryFalse),
        (Kind::Ternary, "??") => (1, BinOp::Coalesce),
        (Kind::LogicalOp, "||") => (2, BinOp::Or),
        (Kind::LogicalOp, "&&") => (3, BinOp::And),
        (Kind::Comparator, "==") => (4, BinOp::Eq),
        (Kind::Comparator, "!=") => (4, BinOp::Neq),
        (Kind::Comparator, ">") => (4, BinOp::Gt),
        (Kind::Comparator, ">=") => (4, BinOp::Gte),
        (Kind::Comparator, "<") => (4, BinOp::Lt),
        (Kind::Comparator, "<=") => (4, BinOp::Lte),
        (Kind::Comparator, "=~") => (4, BinOp::Req),
        (Kind::Comparator, "!~") => (4, BinOp::Nreq),
        (Kind::Comparator, "in") => (4, BinOp::In),
        (Kind::Modifier, "&") => (5, BinOp::BitAnd),
        (Kind::Modifier, "|") => (5, BinOp::BitOr),
        (Kind::Modifier, "^") => (5, BinOp::BitXor),
        (Kind::Modifier, "<<") => (6, BinOp::Shl),
        (Kind::Modifier, ">>") => (6, BinOp::Shr),
        (Kind::Modifier, "+") => (7, BinOp::Plus),
        (Kind::Modifier, "-") => (7, BinOp::Minus),
        (Kind::Modifier, "*") => (8, BinOp::Multiply),
        (Kind::Modifier, "/") => (8, BinOp::Divide),
        (Kind::Modifier, "%") => (8, BinOp::Modulus),
        (Kind::Modifier, "**") => (9, BinOp::Exponent),
        _ => return None,
    })
}

struct Planner<'t> {
    tokens: &'t [Token],
    index: usize,
}

/// Plans `tokens` (already checked by the grammar) into a tree; `None` for an empty plan.
pub(crate) fn plan(tokens: &[Token]) -> Result<Option<Node>, Error> {
    Planner { tokens, index: 0 }.plan_tokens()
}

impl Planner<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.index)
    }

    fn next(&mut self) -> Option<&Token> {
        let token = self.tokens.get(self.index);
        if token.is_some() {
            self.index += 1;
        }
        token
    }

    fn plan_tokens(&mut self) -> Result<Option<Node>, Error> {
        if self.peek().is_none() {
            return Ok(None);
        }
        self.plan_binary(0)
    }

    /// Precedence climbing: operators of precedence `min` and tighter. Operators of one level
    /// in a row form one chain, evaluated left to right without recursion.
    fn plan_binary(&mut self, min: u8) -> Result<Option<Node>, Error> {
        let mut left = self.plan_accessor()?;
        let mut chain: Option<(u8, Vec<Link>)> = None;
        while let Some((level, op)) = self.peek().and_then(binary_operator) {
            if level < min {
                break;
            }
            let position = self.peek().map_or(0, |t| t.position);
            self.index += 1;
            let right = self.plan_binary(level + 1)?;
            let link = Link {
                op,
                position,
                right,
            };
            match &mut chain {
                Some((chain_level, rest)) if *chain_level == level => rest.push(link),
                _ => {
                    if let Some((_, rest)) = chain.take() {
                        left = Some(Node::Chain {
                            first: left.map(Box::new),
                            rest,
                        });
                    }
                    chain = Some((level, vec![link]));
                }
            }
        }
        Ok(match chain {
            Some((_, rest)) => Some(Node::Chain {
                first: left.map(Box::new),
                rest,
            }),
            None => left,
        })
    }

    fn plan_accessor(&mut self) -> Result<Option<Node>, Error> {
        let Some(token) = self.peek() else {
            return Ok(None);
        };
        let TokenValue::Path(parts) = &token.value else {
            return self.plan_value();
        };
        let parts = parts.clone();
        let position = token.position;
        self.index += 1;
        // An accessor followed by a parenthesis is a method call; its arguments are planned as
        // a whole expression, as govaluate does.
        let args = match self.peek() {
            Some(next) if next.kind == Kind::Clause => self.plan_tokens()?.map(Box::new),
            _ => None,
        };
        Ok(Some(Node::Accessor {
            parts,
            args,
            position,
        }))
    }

    fn plan_value(&mut self) -> Result<Option<Node>, Error> {
        let Some(token) = self.next() else {
            return Ok(None);
        };
        let position = token.position;
        let node = match (&token.kind, &token.value) {
            (Kind::Clause, _) => {
                let inner = self.plan_tokens()?;
                // govaluate skips the next token as the closing parenthesis, whatever it is.
                self.next();
                Node::Group(inner.map(Box::new))
            }
            (Kind::ClauseClose, _) => {
                // An empty group `()` or a dangling operator before `)`: nothing to plan.
                self.index -= 1;
                return Ok(None);
            }
            (Kind::Prefix, TokenValue::Text(symbol)) => {
                let op = match symbol.as_str() {
                    "-" => PrefixOp::Negate,
                    "!" => PrefixOp::Invert,
                    _ => PrefixOp::BitNot,
                };
                let operand = self.plan_accessor()?.map(Box::new);
                Node::Prefix {
                    op,
                    operand,
                    position,
                }
            }
            (Kind::Variable, TokenValue::Text(name)) => Node::Param {
                name: name.clone(),
                position,
            },
            (Kind::Numeric, TokenValue::Number(n)) => Node::Literal(Val::Plain(Value::Number(*n))),
            (Kind::Time, TokenValue::Time(seconds, _)) => {
                Node::Literal(Val::Plain(Value::Number(*seconds)))
            }
            (Kind::String, TokenValue::Text(s)) => {
                Node::Literal(Val::Plain(Value::String(s.clone())))
            }
            (Kind::Boolean, TokenValue::Bool(b)) => Node::Literal(Val::Plain(Value::Bool(*b))),
            (Kind::Pattern, TokenValue::Pattern(re, source)) => {
                Node::Literal(Val::Pattern(re.clone(), source.clone()))
            }
            (kind, value) => {
                let shown = value.go_v();
                return Err(Error::syntax(
                    format!(
                        "Unable to plan token kind: '{}', value: '{shown}'",
                        kind.name()
                    ),
                    Some(position),
                ));
            }
        };
        Ok(Some(node))
    }
}
