//! The parser: tokens to a tree, following Go's `text/template/parse` grammar and messages.
//!
//! ```text
//! template  = { text | action }
//! action    = "{{" ( pipeline | if | range | with | define | template | block | break | continue ) "}}"
//! pipeline  = [ decls ( ":=" | "=" ) ] command { "|" command }
//! command   = operand { space operand }
//! operand   = term { .Field }
//! term      = literal | function | "." | .Field | $var | "(" pipeline ")"
//! ```
//!
//! As in Go, functions and variables are checked here: an unknown function (anything off the
//! allowlist) or an undeclared variable is a syntax error. Unlike Go, nesting of control
//! structures and parentheses is capped ([`MAX_NESTING`]) so that parsing and rendering cannot
//! exhaust the stack.

use std::collections::HashMap;
use std::fmt;

use crate::error::{ErrorKind, TemplateError};
use crate::funcs::{self, FuncDef};
use crate::lex::{self, Keyword, Kind, Token};
use crate::num;

/// The deepest nesting of control structures and parentheses a template may have.
pub(crate) const MAX_NESTING: usize = 64;

/// The name of the top-level template. Argo Events names it `param`, so a template can (only
/// pointlessly) invoke itself with `{{template "param" .}}`.
pub(crate) const ROOT_NAME: &str = "param";

pub(crate) type Pos = usize;

#[derive(Debug)]
pub(crate) enum Node {
    Text(String),
    Action(Pipe),
    If(Branch),
    Range(Branch),
    With(Branch),
    Template {
        pos: Pos,
        name: String,
        pipe: Option<Pipe>,
    },
    Break,
    Continue,
}

/// The shared shape of `if`, `range` and `with`.
#[derive(Debug)]
pub(crate) struct Branch {
    pub pipe: Pipe,
    pub list: Vec<Node>,
    pub else_list: Option<Vec<Node>>,
}

#[derive(Debug)]
pub(crate) struct Pipe {
    pub pos: Pos,
    pub decl: Vec<String>,
    pub is_assign: bool,
    pub cmds: Vec<Command>,
}

#[derive(Debug)]
pub(crate) struct Command {
    pub pos: Pos,
    pub args: Vec<Operand>,
}

#[derive(Debug)]
pub(crate) enum Operand {
    /// `.a.b`
    Field {
        pos: Pos,
        idents: Vec<String>,
    },
    /// `$x` or `$x.a.b`
    Variable {
        pos: Pos,
        name: String,
        fields: Vec<String>,
    },
    /// `(pipeline).a.b` or `func.a`
    Chain {
        pos: Pos,
        base: Box<Operand>,
        fields: Vec<String>,
    },
    Func {
        pos: Pos,
        def: &'static FuncDef,
    },
    Dot(Pos),
    Nil(Pos),
    Bool(Pos, bool),
    Number(Box<Number>),
    Str {
        pos: Pos,
        quoted: String,
        text: String,
    },
    Pipe(Box<Pipe>),
}

/// A number literal and the types it can be read as (Go's `NumberNode`).
#[derive(Debug)]
pub(crate) struct Number {
    pub pos: Pos,
    pub text: String,
    pub int: Option<i64>,
    pub uint: Option<u64>,
    pub float: Option<f64>,
}

impl Operand {
    pub fn pos(&self) -> Pos {
        match self {
            Operand::Field { pos, .. }
            | Operand::Variable { pos, .. }
            | Operand::Chain { pos, .. }
            | Operand::Func { pos, .. }
            | Operand::Dot(pos)
            | Operand::Nil(pos)
            | Operand::Bool(pos, _)
            | Operand::Str { pos, .. } => *pos,
            Operand::Number(n) => n.pos,
            Operand::Pipe(p) => p.pos,
        }
    }
}

// Go's `String()` of nodes, used in "unexpected", "expected" and "executing at <...>" messages.

impl fmt::Display for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.decl.is_empty() {
            f.write_str(&self.decl.join(", "))?;
            f.write_str(if self.is_assign { " = " } else { " := " })?;
        }
        for (i, c) in self.cmds.iter().enumerate() {
            if i > 0 {
                f.write_str(" | ")?;
            }
            write!(f, "{c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match a {
                Operand::Pipe(p) => write!(f, "({p})")?,
                a => write!(f, "{a}")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Field { idents, .. } => {
                for i in idents {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Operand::Variable { name, fields, .. } => {
                f.write_str(name)?;
                for i in fields {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Operand::Chain { base, fields, .. } => {
                match base.as_ref() {
                    Operand::Pipe(p) => write!(f, "({p})")?,
                    b => write!(f, "{b}")?,
                }
                for i in fields {
                    write!(f, ".{i}")?;
                }
                Ok(())
            }
            Operand::Func { def, .. } => f.write_str(def.name),
            Operand::Dot(_) => f.write_str("."),
            Operand::Nil(_) => f.write_str("nil"),
            Operand::Bool(_, b) => write!(f, "{b}"),
            Operand::Number(n) => f.write_str(&n.text),
            Operand::Str { quoted, .. } => f.write_str(quoted),
            Operand::Pipe(p) => write!(f, "{p}"),
        }
    }
}

/// A parsed template: the top-level list and the named templates (`define`, `block`).
#[derive(Debug)]
pub(crate) struct Tree {
    pub root: Vec<Node>,
    pub defs: HashMap<String, Vec<Node>>,
}

impl Tree {
    /// The body of a named template (the top level is [`ROOT_NAME`]).
    pub fn lookup(&self, name: &str) -> Option<&[Node]> {
        if let Some(body) = self.defs.get(name) {
            return Some(body);
        }
        (name == ROOT_NAME).then_some(self.root.as_slice())
    }
}

struct ParseError {
    pos: Pos,
    kind: ErrorKind,
    message: String,
}

type PResult<T> = Result<T, ParseError>;

/// What `textOrAction` found: a node, or the `{{end}}`/`{{else}}` that closes a list.
enum Item {
    Node(Node),
    End(Pos),
    Else(Pos),
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
    /// Position of the last token read, for errors not about a particular token.
    last_pos: Pos,
    vars: Vec<String>,
    range_depth: usize,
    nesting: usize,
    defs: HashMap<String, Vec<Node>>,
}

/// Parses a template.
pub(crate) fn parse(source: &str) -> Result<Tree, TemplateError> {
    let mut p = Parser {
        toks: lex::lex(source),
        i: 0,
        last_pos: 0,
        vars: vec!["$".to_string()],
        range_depth: 0,
        nesting: 0,
        defs: HashMap::new(),
    };
    match p.parse_top() {
        Ok(root) => {
            let mut defs = std::mem::take(&mut p.defs);
            // Go adds the top-level tree last: a non-empty definition of the same name conflicts.
            if let Some(existing) = defs.get(ROOT_NAME)
                && !is_empty_tree(existing)
                && !is_empty_tree(&root)
            {
                return Err(TemplateError::at(
                    source,
                    0,
                    ErrorKind::Syntax,
                    format!(
                        "multiple definition of template {}",
                        crate::gofmt::quote(ROOT_NAME)
                    ),
                ));
            }
            if defs.get(ROOT_NAME).is_some_and(|d| is_empty_tree(d)) {
                defs.remove(ROOT_NAME);
            }
            Ok(Tree { root, defs })
        }
        Err(e) => Err(TemplateError::at(source, e.pos, e.kind, e.message)),
    }
}

/// Go's `IsEmptyTree`: only whitespace text.
fn is_empty_tree(nodes: &[Node]) -> bool {
    nodes.iter().all(|n| match n {
        Node::Text(t) => t.trim().is_empty(),
        _ => false,
    })
}

impl Parser {
    fn error<T>(&self, message: impl Into<String>) -> PResult<T> {
        Err(ParseError {
            pos: self.last_pos,
            kind: ErrorKind::Syntax,
            message: message.into(),
        })
    }

    fn error_at<T>(&self, pos: Pos, message: impl Into<String>) -> PResult<T> {
        Err(ParseError {
            pos,
            kind: ErrorKind::Syntax,
            message: message.into(),
        })
    }

    /// The next token. Past the end it keeps returning the last one (EOF or an error), but the
    /// index still advances so that `backup` always undoes exactly one `next`.
    fn next(&mut self) -> Token {
        let t = self.toks[self.i.min(self.toks.len() - 1)].clone();
        self.i += 1;
        self.last_pos = t.pos;
        t
    }

    fn backup(&mut self) {
        self.i -= 1;
    }

    fn peek(&self) -> &Token {
        &self.toks[self.i.min(self.toks.len() - 1)]
    }

    fn next_non_space(&mut self) -> Token {
        loop {
            let t = self.next();
            if t.kind != Kind::Space {
                return t;
            }
        }
    }

    /// The next non-space token, left unread (the spaces before it are consumed).
    fn peek_non_space(&mut self) -> Token {
        let t = self.next_non_space();
        self.backup();
        t
    }

    /// Go's `unexpected`: a lexing error reports itself, anything else is "unexpected X in Y".
    fn unexpected<T>(&self, token: &Token, context: &str) -> PResult<T> {
        if token.kind == Kind::Error {
            return self.error_at(token.pos, token.val.clone());
        }
        self.error_at(token.pos, format!("unexpected {token} in {context}"))
    }

    fn expect(&mut self, kind: Kind, context: &str) -> PResult<Token> {
        let t = self.next_non_space();
        if t.kind != kind {
            return self.unexpected(&t, context);
        }
        Ok(t)
    }

    fn enter(&mut self, pos: Pos) -> PResult<()> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(ParseError {
                pos,
                kind: ErrorKind::Limit,
                message: format!("template nesting deeper than {MAX_NESTING} levels"),
            });
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.nesting -= 1;
    }

    /// The top level: like an item list, plus `{{define}}`, running to the end of input.
    fn parse_top(&mut self) -> PResult<Vec<Node>> {
        let mut root = Vec::new();
        while self.peek().kind != Kind::Eof {
            if self.peek().kind == Kind::LeftDelim {
                let mark = self.i;
                self.next();
                if self.next_non_space().kind == Kind::Keyword(Keyword::Define) {
                    self.parse_definition()?;
                    continue;
                }
                self.i = mark;
            }
            match self.text_or_action()? {
                Item::Node(n) => root.push(n),
                Item::End(pos) => return self.error_at(pos, "unexpected {{end}}"),
                Item::Else(pos) => return self.error_at(pos, "unexpected {{else}}"),
            }
        }
        Ok(root)
    }

    /// Parses `{{define "name"}} ... {{end}}` (after `define`) into the definitions.
    fn parse_definition(&mut self) -> PResult<()> {
        const CONTEXT: &str = "define clause";
        let name_tok = self.next_non_space();
        if name_tok.kind != Kind::String && name_tok.kind != Kind::RawString {
            return self.unexpected(&name_tok, CONTEXT);
        }
        let Some(name) = num::unquote(&name_tok.val) else {
            return self.error_at(name_tok.pos, "invalid syntax in template name");
        };
        self.expect(Kind::RightDelim, CONTEXT)?;
        let body = self.in_new_tree(|p| {
            let (list, end) = p.item_list()?;
            match end {
                Item::End(_) => Ok(list),
                Item::Else(pos) => p.error_at(pos, format!("unexpected {{{{else}}}} in {CONTEXT}")),
                Item::Node(_) => unreachable_item(p),
            }
        })?;
        self.add_tree(name, body, name_tok.pos)
    }

    /// Runs `f` as the parse of a separate template: its own variables, outside any range.
    fn in_new_tree<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        let vars = std::mem::replace(&mut self.vars, vec!["$".to_string()]);
        let range_depth = std::mem::replace(&mut self.range_depth, 0);
        let out = f(self);
        self.vars = vars;
        self.range_depth = range_depth;
        out
    }

    /// Go's `add`: a definition replaces an empty one; two non-empty ones conflict.
    fn add_tree(&mut self, name: String, body: Vec<Node>, pos: Pos) -> PResult<()> {
        match self.defs.get(&name) {
            Some(existing) if !is_empty_tree(existing) => {
                if !is_empty_tree(&body) {
                    return self.error_at(
                        pos,
                        format!(
                            "multiple definition of template {}",
                            crate::gofmt::quote(&name)
                        ),
                    );
                }
            }
            _ => {
                self.defs.insert(name, body);
            }
        }
        Ok(())
    }

    /// Nodes up to an `{{end}}` or `{{else}}`, which is returned separately.
    fn item_list(&mut self) -> PResult<(Vec<Node>, Item)> {
        let mut list = Vec::new();
        while self.peek_non_space().kind != Kind::Eof {
            match self.text_or_action()? {
                Item::Node(n) => list.push(n),
                end => return Ok((list, end)),
            }
        }
        self.error("unexpected EOF")
    }

    fn text_or_action(&mut self) -> PResult<Item> {
        let t = self.next_non_space();
        match t.kind {
            Kind::Text => Ok(Item::Node(Node::Text(t.val))),
            Kind::LeftDelim => self.action(),
            _ => self.unexpected(&t, "input"),
        }
    }

    fn action(&mut self) -> PResult<Item> {
        let t = self.next_non_space();
        match t.kind {
            Kind::Keyword(Keyword::Block) => return self.block_control().map(Item::Node),
            Kind::Keyword(Keyword::Break) => {
                return self
                    .loop_control("{{break}}", t.pos)
                    .map(|()| Item::Node(Node::Break));
            }
            Kind::Keyword(Keyword::Continue) => {
                return self
                    .loop_control("{{continue}}", t.pos)
                    .map(|()| Item::Node(Node::Continue));
            }
            Kind::Keyword(Keyword::Else) => return self.else_control(t.pos),
            Kind::Keyword(Keyword::End) => {
                self.expect(Kind::RightDelim, "end")?;
                return Ok(Item::End(t.pos));
            }
            Kind::Keyword(Keyword::If) => {
                return self.branch("if").map(|b| Item::Node(Node::If(b)));
            }
            Kind::Keyword(Keyword::Range) => {
                return self.branch("range").map(|b| Item::Node(Node::Range(b)));
            }
            Kind::Keyword(Keyword::With) => {
                return self.branch("with").map(|b| Item::Node(Node::With(b)));
            }
            Kind::Keyword(Keyword::Template) => return self.template_control().map(Item::Node),
            _ => {}
        }
        self.backup();
        // Variables declared by an action persist until the enclosing {{end}}.
        let pipe = self.pipeline("command", Kind::RightDelim)?;
        Ok(Item::Node(Node::Action(pipe)))
    }

    fn loop_control(&mut self, what: &str, pos: Pos) -> PResult<()> {
        let t = self.next_non_space();
        if t.kind != Kind::RightDelim {
            return self.unexpected(&t, what);
        }
        if self.range_depth == 0 {
            return self.error_at(pos, format!("{what} outside {{{{range}}}}"));
        }
        Ok(())
    }

    fn else_control(&mut self, pos: Pos) -> PResult<Item> {
        // "{{else if ...}}" and "{{else with ...}}" leave the keyword to be read by the caller.
        let peek = self.peek_non_space();
        if matches!(
            peek.kind,
            Kind::Keyword(Keyword::If) | Kind::Keyword(Keyword::With)
        ) {
            return Ok(Item::Else(pos));
        }
        self.expect(Kind::RightDelim, "else")?;
        Ok(Item::Else(pos))
    }

    /// `if`, `range` or `with`: pipeline, list, optional else list, end.
    fn branch(&mut self, context: &str) -> PResult<Branch> {
        let vars_len = self.vars.len();
        let start = self.peek_non_space().pos;
        self.enter(start)?;
        let result = self.branch_inner(context);
        self.leave();
        self.vars.truncate(vars_len);
        result
    }

    fn branch_inner(&mut self, context: &str) -> PResult<Branch> {
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let listed = self.item_list();
        if context == "range" {
            self.range_depth -= 1;
        }
        let (list, next) = listed?;
        let else_list = match next {
            Item::End(_) => None,
            Item::Else(_) => {
                let kw = self.peek().kind.clone();
                if context == "if" && kw == Kind::Keyword(Keyword::If) {
                    // {{else if b}} is {{else}}{{if b}}...{{end}}{{end}} with the last end implied.
                    self.next();
                    Some(vec![Node::If(self.branch("if")?)])
                } else if context == "with" && kw == Kind::Keyword(Keyword::With) {
                    self.next();
                    Some(vec![Node::With(self.branch("with")?)])
                } else {
                    let (else_list, end) = self.item_list()?;
                    match end {
                        Item::End(_) => Some(else_list),
                        Item::Else(pos) => {
                            return self.error_at(pos, "expected end; found {{else}}");
                        }
                        Item::Node(_) => return unreachable_item(self),
                    }
                }
            }
            Item::Node(_) => return unreachable_item(self),
        };
        Ok(Branch {
            pipe,
            list,
            else_list,
        })
    }

    fn template_name(&mut self, context: &str) -> PResult<(String, Pos)> {
        let t = self.next_non_space();
        match t.kind {
            Kind::String | Kind::RawString => match num::unquote(&t.val) {
                Some(name) => Ok((name, t.pos)),
                None => self.error_at(t.pos, "invalid syntax in template name"),
            },
            _ => self.unexpected(&t, context),
        }
    }

    fn template_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "template clause";
        let (name, pos) = self.template_name(CONTEXT)?;
        let pipe = if self.next_non_space().kind != Kind::RightDelim {
            self.backup();
            Some(self.pipeline(CONTEXT, Kind::RightDelim)?)
        } else {
            None
        };
        Ok(Node::Template { pos, name, pipe })
    }

    /// `{{block "name" pipeline}} body {{end}}`: defines the template and invokes it.
    fn block_control(&mut self) -> PResult<Node> {
        const CONTEXT: &str = "block clause";
        let (name, pos) = self.template_name(CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, Kind::RightDelim)?;
        self.enter(pos)?;
        let body = self.in_new_tree(|p| {
            let (list, end) = p.item_list()?;
            match end {
                Item::End(_) => Ok(list),
                Item::Else(pos) => p.error_at(pos, format!("unexpected {{{{else}}}} in {CONTEXT}")),
                Item::Node(_) => unreachable_item(p),
            }
        });
        self.leave();
        self.add_tree(name.clone(), body?, pos)?;
        Ok(Node::Template {
            pos,
            name,
            pipe: Some(pipe),
        })
    }

    /// declarations? command ("|" command)*, up to `end` (a right delimiter or paren).
    fn pipeline(&mut self, context: &str, end: Kind) -> PResult<Pipe> {
        let start = self.peek_non_space();
        let mut pipe = Pipe {
            pos: start.pos,
            decl: Vec::new(),
            is_assign: false,
            cmds: Vec::new(),
        };
        'decls: loop {
            if self.peek_non_space().kind != Kind::Variable {
                break;
            }
            let mark = self.i;
            let v = self.next();
            let next = self.peek_non_space();
            match next.kind {
                Kind::Assign | Kind::Declare => {
                    pipe.is_assign = next.kind == Kind::Assign;
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                }
                Kind::Char if next.val == "," => {
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().kind {
                            Kind::Variable | Kind::RightDelim | Kind::RightParen => {
                                continue 'decls; // the second variable of a range
                            }
                            _ => return self.error("range can only initialize variables"),
                        }
                    }
                    return self.error(format!("too many declarations in {context}"));
                }
                _ => {
                    // Not a declaration: the variable is the start of a command.
                    self.i = mark;
                }
            }
            break;
        }
        loop {
            let t = self.next_non_space();
            if t.kind == end {
                self.check_pipeline(&pipe, context)?;
                return Ok(pipe);
            }
            match t.kind {
                Kind::Bool
                | Kind::CharConstant
                | Kind::Complex
                | Kind::Dot
                | Kind::Field
                | Kind::Identifier
                | Kind::Number
                | Kind::Keyword(Keyword::Nil)
                | Kind::RawString
                | Kind::String
                | Kind::Variable
                | Kind::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&t, context),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return self.error(format!("missing value for {context}"));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args[0],
                Operand::Bool(..)
                    | Operand::Dot(_)
                    | Operand::Nil(_)
                    | Operand::Number(_)
                    | Operand::Str { .. }
            ) {
                return self.error_at(
                    c.pos,
                    format!("non executable command in pipeline stage {}", i + 1),
                );
            }
        }
        Ok(())
    }

    /// Space-separated operands up to a pipe (consumed) or a right delimiter/paren (left).
    fn command(&mut self) -> PResult<Command> {
        let pos = self.peek_non_space().pos;
        let mut args = Vec::new();
        loop {
            self.peek_non_space();
            if let Some(op) = self.operand()? {
                args.push(op);
            }
            let t = self.next();
            match t.kind {
                Kind::Space => continue,
                Kind::RightDelim | Kind::RightParen => self.backup(),
                Kind::Pipe => {}
                _ => return self.unexpected(&t, "operand"),
            }
            break;
        }
        if args.is_empty() {
            return self.error("empty command");
        }
        Ok(Command { pos, args })
    }

    /// A term followed by any number of `.Field`s.
    fn operand(&mut self) -> PResult<Option<Operand>> {
        let Some(term) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != Kind::Field {
            return Ok(Some(term));
        }
        let chain_pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().kind == Kind::Field {
            let t = self.next();
            fields.push(t.val[1..].to_string());
        }
        Ok(Some(match term {
            Operand::Field { pos, mut idents } => {
                idents.extend(fields);
                Operand::Field { pos, idents }
            }
            Operand::Variable {
                pos,
                name,
                fields: mut own,
            } => {
                own.extend(fields);
                Operand::Variable {
                    pos,
                    name,
                    fields: own,
                }
            }
            t @ (Operand::Bool(..)
            | Operand::Str { .. }
            | Operand::Number(_)
            | Operand::Nil(_)
            | Operand::Dot(_)) => {
                return self.error_at(
                    chain_pos,
                    format!(
                        "unexpected . after term {}",
                        crate::gofmt::quote(&t.to_string())
                    ),
                );
            }
            base => Operand::Chain {
                pos: chain_pos,
                base: Box::new(base),
                fields,
            },
        }))
    }

    fn term(&mut self) -> PResult<Option<Operand>> {
        let t = self.next_non_space();
        Ok(Some(match t.kind {
            Kind::Identifier => match funcs::lookup(&t.val) {
                Ok(def) => Operand::Func { pos: t.pos, def },
                Err(message) => return self.error_at(t.pos, message),
            },
            Kind::Dot => Operand::Dot(t.pos),
            Kind::Keyword(Keyword::Nil) => Operand::Nil(t.pos),
            Kind::Variable => {
                if !self.vars.contains(&t.val) {
                    return self.error_at(
                        t.pos,
                        format!("undefined variable {}", crate::gofmt::quote(&t.val)),
                    );
                }
                Operand::Variable {
                    pos: t.pos,
                    name: t.val,
                    fields: Vec::new(),
                }
            }
            Kind::Field => Operand::Field {
                pos: t.pos,
                idents: vec![t.val[1..].to_string()],
            },
            Kind::Bool => Operand::Bool(t.pos, t.val == "true"),
            Kind::CharConstant | Kind::Number => Operand::Number(Box::new(self.number(&t)?)),
            Kind::Complex => {
                return self.error_at(t.pos, "complex number constants are not supported");
            }
            Kind::LeftParen => {
                self.enter(t.pos)?;
                let pipe = self.pipeline("parenthesized pipeline", Kind::RightParen);
                self.leave();
                Operand::Pipe(Box::new(pipe?))
            }
            Kind::String | Kind::RawString => match num::unquote(&t.val) {
                Some(text) => Operand::Str {
                    pos: t.pos,
                    quoted: t.val,
                    text,
                },
                None => {
                    return self
                        .error_at(t.pos, format!("invalid syntax in string literal {}", t.val));
                }
            },
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }

    /// Go's `newNumber`: which of int, uint and float the literal can be.
    fn number(&self, t: &Token) -> PResult<Number> {
        let text = t.val.as_str();
        let mut n = Number {
            pos: t.pos,
            text: t.val.clone(),
            int: None,
            uint: None,
            float: None,
        };
        if t.kind == Kind::CharConstant {
            let Some(r) = num::unquote_rune(text) else {
                return self.error_at(t.pos, format!("malformed character constant: {text}"));
            };
            n.int = Some(i64::from(r));
            n.uint = Some(u64::from(r));
            n.float = Some(f64::from(r));
            return Ok(n);
        }
        if text.ends_with('i') {
            return self.error_at(t.pos, "complex number constants are not supported");
        }
        let u = num::parse_uint(text, 0);
        if let Ok(u) = u {
            n.uint = Some(u);
        }
        if let Ok(i) = num::parse_int(text, 0) {
            n.int = Some(i);
            if i == 0 {
                n.uint = Some(0); // -0
            }
        }
        if let Some(i) = n.int {
            n.float = Some(i as f64);
        } else if let Some(u) = n.uint {
            n.float = Some(u as f64);
        } else if let Some(f) = num::parse_float(text) {
            if !text.contains(['.', 'e', 'E', 'p', 'P']) {
                return self.error_at(
                    t.pos,
                    format!("integer overflow: {}", crate::gofmt::quote(text)),
                );
            }
            n.float = Some(f);
            // A float that is integral is also an int (1e3), within range.
            if f.fract() == 0.0
                && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&f)
            {
                n.int = Some(f as i64);
            }
            if f.fract() == 0.0 && (0.0..1.844_674_407_370_955_2e19).contains(&f) {
                n.uint = Some(f as u64);
            }
        }
        if n.int.is_none() && n.uint.is_none() && n.float.is_none() {
            return self.error_at(
                t.pos,
                format!("illegal number syntax: {}", crate::gofmt::quote(text)),
            );
        }
        Ok(n)
    }
}

fn unreachable_item<T>(p: &Parser) -> PResult<T> {
    // item_list returns only End or Else as its terminator.
    p.error("internal error: unexpected list terminator")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(src: &str) -> String {
        match parse(src) {
            Ok(_) => panic!("{src}: parsed"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn node_strings_match_go() {
        let t =
            parse(r#"{{ $x := .a.b | printf "%d" (len $x.c) | print 1.50 nil true . }}"#).unwrap();
        let Node::Action(p) = &t.root[0] else {
            panic!()
        };
        assert_eq!(
            p.to_string(),
            r#"$x := .a.b | printf "%d" (len $x.c) | print 1.50 nil true ."#
        );
    }

    #[test]
    fn syntax_errors_have_go_messages_and_positions() {
        let cases = [
            ("{{ .x", "template:1:1: unclosed action"),
            ("a\n  {{ end }}", "template:2:6: unexpected {{end}}"),
            ("{{if .x}}", "template:1:10: unexpected EOF"),
            (
                "{{ nope 1 }}",
                "template:1:4: function \"nope\" is not available",
            ),
            (
                "{{ env \"HOME\" }}",
                "template:1:4: function \"env\" is not available: it reads the environment",
            ),
            ("{{ $y }}", "template:1:4: undefined variable \"$y\""),
            ("{{ break }}", "template:1:4: {{break}} outside {{range}}"),
            ("{{ }}", "template:1:4: missing value for command"),
            (
                "{{ 1 | 2 }}",
                "template:1:8: non executable command in pipeline stage 2",
            ),
            (
                "{{ \"a\".b }}",
                "template:1:7: unexpected . after term \"\\\"a\\\"\"",
            ),
            (
                "{{ 1i }}",
                "template:1:4: complex number constants are not supported",
            ),
            (
                "{{ 99999999999999999999 }}",
                "template:1:4: integer overflow: \"99999999999999999999\"",
            ),
            (
                "{{ \"\\q\" }}",
                "template:1:4: invalid syntax in string literal \"\\q\"",
            ),
            ("{{ else }}", "template:1:4: unexpected {{else}}"),
            (
                "{{ if 1 }}{{ else }}{{ else }}{{ end }}",
                "template:1:24: expected end; found {{else}}",
            ),
            (
                "{{range $a, $b, $c := .}}{{end}}",
                "template:1:15: too many declarations in range",
            ),
            ("{{ .x ) }}", "template:1:7: unexpected right paren"),
            ("{{ .x | | }}", "template:1:9: unexpected \"|\" in command"),
            (
                "{{define \"a\"}}x{{end}}{{define \"a\"}}y{{end}}",
                "template:1:32: multiple definition of template \"a\"",
            ),
        ];
        for (src, want) in cases {
            assert_eq!(err(src), want, "{src}");
        }
    }

    #[test]
    fn nesting_is_capped() {
        let deep = format!(
            "{}{}",
            "{{if 1}}".repeat(MAX_NESTING + 1),
            "{{end}}".repeat(MAX_NESTING + 1)
        );
        let e = parse(&deep).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Limit);
        let parens = format!(
            "{{{{ {}1{} }}}}",
            "(".repeat(MAX_NESTING + 1),
            ")".repeat(MAX_NESTING + 1)
        );
        assert_eq!(parse(&parens).unwrap_err().kind(), ErrorKind::Limit);
        let ok = format!(
            "{}{}",
            "{{if 1}}".repeat(MAX_NESTING),
            "{{end}}".repeat(MAX_NESTING)
        );
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn numbers_know_their_types() {
        let t = parse("{{ print 1 1.5 1e3 0x10 'a' -7 }}").unwrap();
        let Node::Action(p) = &t.root[0] else {
            panic!()
        };
        let nums: Vec<(Option<i64>, Option<f64>)> = p.cmds[0].args[1..]
            .iter()
            .map(|a| match a {
                Operand::Number(n) => (n.int, n.float),
                _ => panic!(),
            })
            .collect();
        assert_eq!(
            nums,
            vec![
                (Some(1), Some(1.0)),
                (None, Some(1.5)),
                (Some(1000), Some(1000.0)),
                (Some(16), Some(16.0)),
                (Some(97), Some(97.0)),
                (Some(-7), Some(-7.0)),
            ]
        );
    }
}
