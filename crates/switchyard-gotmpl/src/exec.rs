//! The executor: walks a parsed tree over a value, following Go's `text/template/exec.go`.
//!
//! Go's typing rules that matter for output and errors are kept: a pipeline's value loses its
//! interface wrapper, but a field chain still knows whether a receiver came out of an
//! `interface{}` container (so `.Input.name.x` on a string says `can't evaluate field x in type
//! interface {}`, and a JSON `null` in the middle of a chain is a nil-pointer error while a
//! missing key just gives `<no value>`); `and`/`or` short-circuit; arguments are checked against
//! the function's Go signature before the call.
//!
//! Every node and loop iteration spends from a work budget, functions spend in proportion to the
//! data they walk, the output is capped, and nesting (lists, pipelines, template calls) is capped
//! at run time so that no template recurses without bound.

use crate::Limits;
use crate::error::{ErrorKind, TemplateError};
use crate::funcs::{Call, Ctx, FuncDef, Ty, is_limit_message};
use crate::gofmt::{self, Buf};
use crate::parse::{Branch, Command, Node, Number, Operand, Pipe, Pos, ROOT_NAME, Tree};
use crate::value::{Elem, Value, from_json};

/// A value together with whether it sits in an `interface{}` slot (an element of a JSON object
/// or array), which decides how a field access on it fails.
#[derive(Clone)]
struct Slot {
    v: Value,
    iface: bool,
}

impl Slot {
    fn concrete(v: Value) -> Slot {
        Slot { v, iface: false }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

/// The node being evaluated, for error messages (Go's `state.at`).
#[derive(Clone, Copy)]
enum At<'t> {
    Start,
    Action(&'t Pipe),
    Pipe(&'t Pipe),
    Command(&'t Command),
    Operand(&'t Operand),
    Branch(&'static str, &'t Branch),
    Template(Pos, &'t str, Option<&'t Pipe>),
}

impl At<'_> {
    fn pos(&self) -> Pos {
        match self {
            At::Start => 0,
            At::Action(p) | At::Pipe(p) => p.pos,
            At::Command(c) => c.pos,
            At::Operand(o) => o.pos(),
            At::Branch(_, b) => b.pipe.pos,
            At::Template(pos, _, _) => *pos,
        }
    }

    /// How Go prints the node in "executing ... at <...>". Control structures show only their
    /// opening action.
    fn context(&self) -> String {
        match self {
            At::Start => String::new(),
            At::Action(p) => format!("{{{{{p}}}}}"),
            At::Pipe(p) => p.to_string(),
            At::Command(c) => c.to_string(),
            At::Operand(o) => o.to_string(),
            At::Branch(kw, b) => format!("{{{{{kw} {}}}}}", b.pipe),
            At::Template(_, name, pipe) => match pipe {
                Some(p) => format!("{{{{template {} {p}}}}}", gofmt::quote(name)),
                None => format!("{{{{template {}}}}}", gofmt::quote(name)),
            },
        }
    }
}

struct Fail<'t> {
    kind: ErrorKind,
    at: At<'t>,
    template: &'t str,
    message: String,
}

type R<'t, T> = Result<T, Fail<'t>>;

struct State<'t> {
    tree: &'t Tree,
    out: Buf,
    max_output: usize,
    vars: Vec<(&'t str, Slot)>,
    ctx: Ctx,
    depth: usize,
    max_depth: usize,
    calls: usize,
    max_calls: usize,
    /// The template being executed, for messages.
    template: &'t str,
    node: At<'t>,
}

/// Renders a parsed template over `root`.
pub(crate) fn execute(
    tree: &Tree,
    source: &str,
    root: &serde_json::Value,
    limits: &Limits,
) -> Result<String, TemplateError> {
    let root = from_json(root).map_err(|m| TemplateError::at(source, 0, ErrorKind::Limit, m))?;
    let mut st = State {
        tree,
        out: Buf::new(limits.max_output_bytes),
        max_output: limits.max_output_bytes,
        vars: Vec::new(),
        ctx: Ctx::new(limits.max_output_bytes, limits.max_steps),
        depth: 0,
        max_depth: limits.max_depth,
        calls: 0,
        max_calls: limits.max_template_calls,
        template: ROOT_NAME,
        node: At::Start,
    };
    let dot = Slot::concrete(root);
    st.vars.push(("$", dot.clone()));
    match st.walk_list(&dot, &tree.root) {
        Ok(_) => Ok(st.out.into_string()),
        Err(f) => {
            let message = match f.at {
                At::Start => f.message,
                at => format!(
                    "executing {} at <{}>: {}",
                    gofmt::quote(f.template),
                    at.context(),
                    f.message
                ),
            };
            Err(TemplateError::at(source, f.at.pos(), f.kind, message))
        }
    }
}

impl<'t> State<'t> {
    fn fail<T>(&self, message: impl Into<String>) -> R<'t, T> {
        Err(Fail {
            kind: ErrorKind::Execution,
            at: self.node,
            template: self.template,
            message: message.into(),
        })
    }

    fn limit<T>(&self, message: impl Into<String>) -> R<'t, T> {
        Err(Fail {
            kind: ErrorKind::Limit,
            at: self.node,
            template: self.template,
            message: message.into(),
        })
    }

    fn step(&mut self, n: u64) -> R<'t, ()> {
        match self.ctx.charge(n) {
            Ok(()) => Ok(()),
            Err(m) => self.limit(m),
        }
    }

    fn enter(&mut self) -> R<'t, ()> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return self.limit(format!(
                "execution nested deeper than {} levels",
                self.max_depth
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn check_output(&self) -> R<'t, ()> {
        if self.out.overflowed() {
            return self.limit(format!("output exceeds {} bytes", self.max_output));
        }
        Ok(())
    }

    fn write(&mut self, s: &str) -> R<'t, ()> {
        self.step(1 + s.len() as u64 / 64)?;
        self.out.push_str(s);
        self.check_output()
    }

    /// Prints an action's value the way `fmt.Fprint` does; no value prints `<no value>`.
    fn print(&mut self, v: &Value) -> R<'t, ()> {
        if matches!(v, Value::Nil) {
            return self.write("<no value>");
        }
        self.step(v.weight())?;
        gofmt::sprint(&mut self.out, std::slice::from_ref(v));
        self.check_output()
    }

    fn walk_list(&mut self, dot: &Slot, nodes: &'t [Node]) -> R<'t, Flow> {
        self.enter()?;
        for node in nodes {
            self.step(1)?;
            let flow = self.walk(dot, node)?;
            if flow != Flow::Normal {
                self.leave();
                return Ok(flow);
            }
        }
        self.leave();
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &Slot, node: &'t Node) -> R<'t, Flow> {
        match node {
            Node::Text(t) => self.write(t)?,
            Node::Action(pipe) => {
                self.node = At::Action(pipe);
                let v = self.eval_pipeline(dot, pipe)?;
                // An action that declares variables prints nothing.
                if pipe.decl.is_empty() {
                    self.node = At::Action(pipe);
                    self.print(&v)?;
                }
            }
            Node::If(b) => return self.walk_if_with(dot, b, false),
            Node::With(b) => return self.walk_if_with(dot, b, true),
            Node::Range(b) => return self.walk_range(dot, b),
            Node::Template { pos, name, pipe } => {
                self.walk_template(dot, *pos, name, pipe.as_ref())?;
            }
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn walk_if_with(&mut self, dot: &Slot, b: &'t Branch, with: bool) -> R<'t, Flow> {
        self.node = At::Branch(if with { "with" } else { "if" }, b);
        let mark = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let flow = if val.truth() {
            if with {
                self.walk_list(&Slot::concrete(val), &b.list)?
            } else {
                self.walk_list(dot, &b.list)?
            }
        } else if let Some(else_list) = &b.else_list {
            self.walk_list(dot, else_list)?
        } else {
            Flow::Normal
        };
        self.vars.truncate(mark);
        Ok(flow)
    }

    fn walk_range(&mut self, dot: &Slot, b: &'t Branch) -> R<'t, Flow> {
        self.node = At::Branch("range", b);
        let mark_outer = self.vars.len();
        let val = self.eval_pipeline(dot, &b.pipe)?;
        let mark = self.vars.len();
        let mut ran = false;
        match &val {
            Value::Int(_) | Value::Int64(_) | Value::Byte(_) => {
                if b.pipe.decl.len() > 1 {
                    self.node = At::Branch("range", b);
                    let shown = gofmt::to_string(&val, 64).unwrap_or_default();
                    return self.fail(format!(
                        "can't use {shown} to iterate over more than one variable"
                    ));
                }
                let n = match val {
                    Value::Byte(x) => i64::from(x),
                    Value::Int(x) | Value::Int64(x) => x,
                    _ => 0,
                };
                for i in 0..n.max(0) {
                    ran = true;
                    let elem = match val {
                        Value::Byte(_) => Value::Byte(i as u8),
                        Value::Int64(_) => Value::Int64(i),
                        _ => Value::Int(i),
                    };
                    let flow =
                        self.iteration(b, mark, Slot::concrete(Value::Nil), Slot::concrete(elem))?;
                    if flow == Flow::Break {
                        break;
                    }
                }
            }
            Value::List(l) => {
                for (i, item) in l.items.iter().enumerate() {
                    ran = true;
                    let elem = Slot {
                        v: item.clone(),
                        iface: l.elem == Elem::Any,
                    };
                    let flow =
                        self.iteration(b, mark, Slot::concrete(Value::Int(i as i64)), elem)?;
                    if flow == Flow::Break {
                        break;
                    }
                }
            }
            Value::Map(m) => {
                // Sorted key order, as Go's fmtsort gives for string keys.
                for (k, item) in &m.entries {
                    ran = true;
                    let elem = Slot {
                        v: item.clone(),
                        iface: m.elem == Elem::Any,
                    };
                    let flow =
                        self.iteration(b, mark, Slot::concrete(Value::str(k.as_str())), elem)?;
                    if flow == Flow::Break {
                        break;
                    }
                }
            }
            // Nothing to iterate: like an empty map.
            Value::Nil => {}
            other => {
                self.node = At::Branch("range", b);
                let shown = gofmt::to_string(other, 256).unwrap_or_default();
                return self.fail(format!("range can't iterate over {shown}"));
            }
        }
        if !ran && let Some(else_list) = &b.else_list {
            self.walk_list(dot, else_list)?;
        }
        self.vars.truncate(mark_outer);
        Ok(Flow::Normal)
    }

    /// One pass of a range body with its variables set: `$v`, or `$i, $v`.
    fn iteration(&mut self, b: &'t Branch, mark: usize, index: Slot, elem: Slot) -> R<'t, Flow> {
        self.step(1)?;
        let decl = &b.pipe.decl;
        if !decl.is_empty() {
            if b.pipe.is_assign {
                if decl.len() > 1 {
                    self.set_var(&decl[0], index.clone())?;
                } else {
                    self.set_var(&decl[0], elem.clone())?;
                }
            } else {
                let n = self.vars.len();
                self.vars[n - 1].1 = elem.clone();
            }
        }
        if decl.len() > 1 {
            if b.pipe.is_assign {
                self.set_var(&decl[1], elem.clone())?;
            } else {
                let n = self.vars.len();
                self.vars[n - 2].1 = index;
            }
        }
        let flow = self.walk_list(&elem, &b.list)?;
        self.vars.truncate(mark);
        Ok(flow)
    }

    fn walk_template(
        &mut self,
        dot: &Slot,
        pos: Pos,
        name: &'t str,
        pipe: Option<&'t Pipe>,
    ) -> R<'t, ()> {
        self.node = At::Template(pos, name, pipe);
        let Some(body) = self.tree.lookup(name) else {
            return self.fail(format!("template {} not defined", gofmt::quote(name)));
        };
        if self.calls >= self.max_calls {
            return self.limit(format!(
                "exceeded maximum template depth ({})",
                self.max_calls
            ));
        }
        // Variables declared by the pipeline belong to the caller.
        let new_dot = match pipe {
            Some(p) => self.eval_pipeline(dot, p)?,
            None => Value::Nil,
        };
        let dot = Slot::concrete(new_dot);
        // No dynamic scoping: the callee sees only `$`.
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$", dot.clone())]);
        let saved_template = std::mem::replace(&mut self.template, name);
        self.calls += 1;
        let result = self.walk_list(&dot, body);
        self.calls -= 1;
        self.template = saved_template;
        self.vars = saved_vars;
        result.map(|_| ())
    }

    fn set_var(&mut self, name: &str, v: Slot) -> R<'t, ()> {
        match self.vars.iter_mut().rev().find(|(n, _)| *n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => self.fail(format!("undefined variable: {name}")),
        }
    }

    fn var_value(&self, name: &str) -> R<'t, Slot> {
        match self.vars.iter().rev().find(|(n, _)| *n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => self.fail(format!("undefined variable: {name}")),
        }
    }

    fn eval_pipeline(&mut self, dot: &Slot, pipe: &'t Pipe) -> R<'t, Value> {
        self.enter()?;
        self.node = At::Pipe(pipe);
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.eval_command(dot, cmd, value)?);
        }
        let value = value.unwrap_or(Value::Nil);
        for name in &pipe.decl {
            if pipe.is_assign {
                self.set_var(name, Slot::concrete(value.clone()))?;
            } else {
                self.vars.push((name, Slot::concrete(value.clone())));
            }
        }
        self.leave();
        Ok(value)
    }

    fn not_a_function(&self, cmd: &'t Command, fin: &Option<Value>) -> R<'t, ()> {
        if cmd.args.len() > 1 || fin.is_some() {
            return self.fail(format!(
                "can't give argument to non-function {}",
                cmd.args[0]
            ));
        }
        Ok(())
    }

    /// One command of a pipeline; `fin` is the previous command's value, passed as the last
    /// argument.
    fn eval_command(&mut self, dot: &Slot, cmd: &'t Command, fin: Option<Value>) -> R<'t, Value> {
        let first = &cmd.args[0];
        let has_args = cmd.args.len() > 1 || fin.is_some();
        match first {
            Operand::Field { idents, .. } => {
                self.node = At::Operand(first);
                return self.eval_field_chain(dot.clone(), idents, has_args);
            }
            Operand::Chain { base, fields, .. } => {
                self.node = At::Operand(first);
                let receiver = self.eval_chain_base(dot, first, base)?;
                return self.eval_field_chain(receiver, fields, has_args);
            }
            Operand::Func { def, .. } => {
                self.node = At::Operand(first);
                return self.eval_call(dot, def, At::Command(cmd), &cmd.args[1..], fin);
            }
            Operand::Pipe(p) => {
                self.not_a_function(cmd, &fin)?;
                return self.eval_pipeline(dot, p);
            }
            Operand::Variable { name, fields, .. } => {
                self.node = At::Operand(first);
                let slot = self.var_value(name)?;
                if fields.is_empty() {
                    self.not_a_function(cmd, &fin)?;
                    return Ok(slot.v);
                }
                return self.eval_field_chain(slot, fields, has_args);
            }
            _ => {}
        }
        self.node = At::Operand(first);
        self.not_a_function(cmd, &fin)?;
        match first {
            Operand::Bool(_, b) => Ok(Value::Bool(*b)),
            Operand::Dot(_) => Ok(dot.v.clone()),
            Operand::Nil(_) => self.fail("nil is not a command"),
            Operand::Number(n) => self.ideal_constant(n),
            Operand::Str { text, .. } => Ok(Value::str(text.as_str())),
            _ => self.fail(format!("can't evaluate command {first}")),
        }
    }

    fn eval_chain_base(
        &mut self,
        dot: &Slot,
        chain: &'t Operand,
        base: &'t Operand,
    ) -> R<'t, Slot> {
        if matches!(base, Operand::Nil(_)) {
            return self.fail(format!("indirection through explicit nil in {chain}"));
        }
        let v = self.eval_arg(dot, None, base)?;
        Ok(Slot::concrete(v))
    }

    /// `.a.b.c` from `receiver`; only the last field may be given arguments (and then fails,
    /// as there are no methods).
    fn eval_field_chain(
        &mut self,
        receiver: Slot,
        idents: &'t [String],
        has_args: bool,
    ) -> R<'t, Value> {
        let mut recv = receiver;
        for (i, ident) in idents.iter().enumerate() {
            let last = i + 1 == idents.len();
            recv = self.eval_field(ident, last && has_args, recv)?;
        }
        Ok(recv.v)
    }

    fn eval_field(&mut self, ident: &str, has_args: bool, recv: Slot) -> R<'t, Slot> {
        match &recv.v {
            // A missing value has no fields: the result is missing too.
            Value::Nil if !recv.iface => Ok(Slot::concrete(Value::Nil)),
            Value::Nil => self.fail(format!("nil pointer evaluating interface {{}}.{ident}")),
            Value::Map(m) => {
                if has_args {
                    return self.fail(format!("{ident} is not a method but has arguments"));
                }
                Ok(match m.entries.get(ident) {
                    Some(v) => Slot {
                        v: v.clone(),
                        iface: m.elem == Elem::Any,
                    },
                    None => Slot::concrete(Value::Nil),
                })
            }
            other => {
                let ty = if recv.iface {
                    "interface {}"
                } else {
                    other.type_name()
                };
                self.fail(format!("can't evaluate field {ident} in type {ty}"))
            }
        }
    }

    fn eval_call(
        &mut self,
        dot: &Slot,
        def: &'static FuncDef,
        at_call: At<'t>,
        args: &'t [Operand],
        fin: Option<Value>,
    ) -> R<'t, Value> {
        let name = def.name;
        let num_in = args.len() + usize::from(fin.is_some());
        let num_fixed = def.params.len();
        if def.variadic.is_some() {
            if num_in < num_fixed {
                return self.fail(format!(
                    "wrong number of args for {name}: want at least {num_fixed} got {}",
                    args.len()
                ));
            }
        } else if num_in != num_fixed {
            return self.fail(format!(
                "wrong number of args for {name}: want {num_fixed} got {num_in}"
            ));
        }
        let imp = match def.call {
            Call::And | Call::Or => {
                // Stop at the first argument that decides the result.
                let decisive = matches!(def.call, Call::Or);
                let mut v = Value::Nil;
                for a in args {
                    v = self.eval_arg(dot, Some(Ty::Reflect), a)?;
                    if v.truth() == decisive {
                        return Ok(v);
                    }
                }
                if let Some(f) = fin {
                    v = f;
                }
                return Ok(v);
            }
            Call::Plain(imp) => imp,
        };
        let mut argv = Vec::with_capacity(num_in);
        for (i, a) in args.iter().enumerate() {
            let ty = def
                .params
                .get(i)
                .copied()
                .or(def.variadic)
                .unwrap_or(Ty::Any);
            argv.push(self.eval_arg(dot, Some(ty), a)?);
        }
        if let Some(f) = fin {
            let ty = if def.variadic.is_some() && num_in > num_fixed {
                def.variadic
            } else {
                def.params.get(num_in - 1).copied()
            };
            argv.push(self.validate(f, ty)?);
        }
        let mut cost = 1u64;
        if def.scans {
            cost = argv.iter().fold(cost, |c, a| c.saturating_add(a.weight()));
        }
        self.step(cost)?;
        self.node = at_call;
        match imp(&mut self.ctx, &argv) {
            Ok(v) => {
                self.step(v.shallow_weight())?;
                Ok(v)
            }
            Err(message) if self.ctx.budget_exhausted => self.limit(message),
            Err(message) if is_limit_message(&message) => {
                self.limit(format!("error calling {name}: {message}"))
            }
            Err(message) => self.fail(format!("error calling {name}: {message}")),
        }
    }

    /// An argument, evaluated and checked against the parameter type (`None`: untyped, for the
    /// base of a chain).
    fn eval_arg(&mut self, dot: &Slot, ty: Option<Ty>, op: &'t Operand) -> R<'t, Value> {
        self.node = At::Operand(op);
        match op {
            Operand::Dot(_) => self.validate(dot.v.clone(), ty),
            Operand::Nil(_) => match ty {
                Some(t) if !t.takes_nil() => {
                    self.fail(format!("cannot assign nil to {}", t.go_name()))
                }
                _ => Ok(Value::Nil),
            },
            Operand::Field { idents, .. } => {
                let v = self.eval_field_chain(dot.clone(), idents, false)?;
                self.validate(v, ty)
            }
            Operand::Variable { name, fields, .. } => {
                let slot = self.var_value(name)?;
                let v = if fields.is_empty() {
                    slot.v
                } else {
                    self.eval_field_chain(slot, fields, false)?
                };
                self.validate(v, ty)
            }
            Operand::Pipe(p) => {
                let v = self.eval_pipeline(dot, p)?;
                self.validate(v, ty)
            }
            Operand::Func { def, .. } => {
                let v = self.eval_call(dot, def, At::Operand(op), &[], None)?;
                self.validate(v, ty)
            }
            Operand::Chain { base, fields, .. } => {
                let receiver = self.eval_chain_base(dot, op, base)?;
                self.node = At::Operand(op);
                let v = self.eval_field_chain(receiver, fields, false)?;
                self.validate(v, ty)
            }
            Operand::Bool(_, b) => match ty {
                None | Some(Ty::Any | Ty::Reflect | Ty::Bool) => Ok(Value::Bool(*b)),
                Some(t) => self.literal_mismatch(t, op),
            },
            Operand::Str { text, .. } => match ty {
                None | Some(Ty::Any | Ty::Reflect | Ty::Str) => Ok(Value::str(text.as_str())),
                Some(t) => self.literal_mismatch(t, op),
            },
            Operand::Number(n) => match ty {
                None | Some(Ty::Any | Ty::Reflect) => self.ideal_constant(n),
                Some(Ty::Int) => match n.int {
                    Some(i) => Ok(Value::Int(i)),
                    None => self.literal_mismatch(Ty::Int, op),
                },
                Some(Ty::Float) => match n.float {
                    Some(f) => Ok(Value::Float(f)),
                    None => self.literal_mismatch(Ty::Float, op),
                },
                Some(t) => self.literal_mismatch(t, op),
            },
        }
    }

    fn literal_mismatch<T>(&self, ty: Ty, op: &Operand) -> R<'t, T> {
        match ty {
            Ty::Bool => self.fail(format!("expected bool; found {op}")),
            Ty::Str => self.fail(format!("expected string; found {op}")),
            Ty::Int => self.fail(format!("expected integer; found {op}")),
            Ty::Float => self.fail(format!("expected float; found {op}")),
            _ => self.fail(format!(
                "can't handle {op} for arg of type {}",
                ty.go_name()
            )),
        }
    }

    /// Go's `validateType`: the value must have exactly the parameter's type.
    fn validate(&self, v: Value, ty: Option<Ty>) -> R<'t, Value> {
        let Some(ty) = ty else { return Ok(v) };
        if matches!(ty, Ty::Any | Ty::Reflect) {
            return Ok(v);
        }
        if matches!(v, Value::Nil) {
            if ty.takes_nil() {
                return Ok(v);
            }
            return self.fail(format!("invalid value; expected {}", ty.go_name()));
        }
        let ok = match (ty, &v) {
            (Ty::Str, Value::Str(_))
            | (Ty::Int, Value::Int(_))
            | (Ty::Float, Value::Float(_))
            | (Ty::Bool, Value::Bool(_)) => true,
            (Ty::Map, Value::Map(m)) => m.elem == Elem::Any,
            _ => false,
        };
        if ok {
            Ok(v)
        } else {
            self.fail(format!(
                "wrong type for value; expected {}; got {}",
                ty.go_name(),
                v.type_name()
            ))
        }
    }

    /// A number literal where no type is expected: float64 if it is written like a float,
    /// otherwise int.
    fn ideal_constant(&self, n: &Number) -> R<'t, Value> {
        let text = n.text.as_str();
        let hex_int = text.len() > 2
            && text.starts_with('0')
            && matches!(text.as_bytes()[1], b'x' | b'X')
            && !text.contains(['p', 'P']);
        let rune = text.starts_with('\'');
        if let Some(f) = n.float
            && !hex_int
            && !rune
            && text.contains(['.', 'e', 'E', 'p', 'P'])
        {
            return Ok(Value::Float(f));
        }
        if let Some(i) = n.int {
            return Ok(Value::Int(i));
        }
        self.fail(format!("{text} overflows int"))
    }
}
