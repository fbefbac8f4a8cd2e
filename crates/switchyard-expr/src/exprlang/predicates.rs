//! expr-lang's predicate functions, re-implemented so that they run within the budget.
//!
//! Same names, arguments and results as expr-lang's builtins (`all`, `any`, `one`, `none`,
//! `map`, `filter`, `find`, `findIndex`, `findLast`, `findLastIndex`, `count`, `sum`,
//! `groupBy`, `sortBy`); the predicate sees the element as `#` and its position as `#index`.
//! Every run of a predicate, every element copied into it and every value it returns is
//! charged to [`super::budget`]. `reduce` is refused (its accumulator can double on every step).

use std::cmp::Ordering;

use expr::{Context, ContextProvider, Environment, Program, Value as V};

use super::budget;

fn fail(message: impl Into<String>) -> expr::Error {
    expr::Error::ExprError(message.into())
}

/// The predicate's scope: `#` and `#index` over the caller's variables.
struct Scope<'p> {
    parent: &'p dyn ContextProvider,
    item: V,
    index: V,
}

impl ContextProvider for Scope<'_> {
    fn get(&self, key: &str) -> Option<&V> {
        match key {
            "#" => Some(&self.item),
            "#index" => Some(&self.index),
            _ => self.parent.get(key),
        }
    }

    fn to_context(&self) -> Context {
        let mut context = self.parent.to_context();
        context.insert("#", self.item.clone());
        context.insert("#index", self.index.clone());
        context
    }

    fn environment(&self) -> Context {
        self.parent.environment()
    }
}

struct Call<'c, 'e> {
    name: &'static str,
    items: &'c [V],
    predicate: Option<&'c Program>,
    ctx: &'c dyn ContextProvider,
    env: &'c Environment<'e>,
}

impl Call<'_, '_> {
    fn run(&self, index: usize) -> Result<V, expr::Error> {
        let Some(predicate) = self.predicate else {
            return Err(fail(format!("{}() requires a predicate", self.name)));
        };
        let item = self.items.get(index).cloned().unwrap_or(V::Nil);
        budget::charge_run()?;
        budget::charge_bytes(budget::size_of(&item))?;
        let scope = Scope {
            parent: self.ctx,
            item,
            index: V::Integer(index as i64),
        };
        self.env.run(predicate, &scope)
    }

    fn test(&self, index: usize) -> Result<bool, expr::Error> {
        match self.run(index)? {
            V::Bool(b) => Ok(b),
            other => Err(fail(format!(
                "{}() predicate must return a boolean, got {other}",
                self.name
            ))),
        }
    }
}

fn call<'c, 'e>(
    name: &'static str,
    args: &'c [V],
    predicate: Option<&'c Program>,
    ctx: &'c dyn ContextProvider,
    env: &'c Environment<'e>,
    max_args: usize,
) -> Result<Call<'c, 'e>, expr::Error> {
    if args.is_empty() || args.len() > max_args {
        return Err(fail(format!(
            "{name}() takes an array{} and a predicate",
            if max_args > 1 { " (and an order)" } else { "" }
        )));
    }
    let V::Array(items) = &args[0] else {
        return Err(fail(format!(
            "{name}() takes an array as the first argument"
        )));
    };
    Ok(Call {
        name,
        items,
        predicate,
        ctx,
        env,
    })
}

fn produced(value: V) -> Result<V, expr::Error> {
    budget::charge_bytes(budget::size_of(&value))?;
    Ok(value)
}

/// Registers the budgeted predicate functions on `env`, replacing expr-lang's.
pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_function("all", |c| {
        let p = call("all", &c.args, c.predicate, c.ctx, c.env, 1)?;
        for i in 0..p.items.len() {
            if !p.test(i)? {
                return Ok(V::Bool(false));
            }
        }
        Ok(V::Bool(true))
    });
    env.add_function("any", |c| {
        let p = call("any", &c.args, c.predicate, c.ctx, c.env, 1)?;
        for i in 0..p.items.len() {
            if p.test(i)? {
                return Ok(V::Bool(true));
            }
        }
        Ok(V::Bool(false))
    });
    env.add_function("none", |c| {
        let p = call("none", &c.args, c.predicate, c.ctx, c.env, 1)?;
        for i in 0..p.items.len() {
            if p.test(i)? {
                return Ok(V::Bool(false));
            }
        }
        Ok(V::Bool(true))
    });
    env.add_function("one", |c| {
        let p = call("one", &c.args, c.predicate, c.ctx, c.env, 1)?;
        let mut found = false;
        for i in 0..p.items.len() {
            if p.test(i)? {
                if found {
                    return Ok(V::Bool(false));
                }
                found = true;
            }
        }
        Ok(V::Bool(found))
    });
    env.add_function("map", |c| {
        let p = call("map", &c.args, c.predicate, c.ctx, c.env, 1)?;
        let mut out = Vec::with_capacity(p.items.len());
        for i in 0..p.items.len() {
            out.push(produced(p.run(i)?)?);
        }
        Ok(V::Array(out))
    });
    env.add_function("filter", |c| {
        let p = call("filter", &c.args, c.predicate, c.ctx, c.env, 1)?;
        let mut out = Vec::new();
        for (i, item) in p.items.iter().enumerate() {
            if p.test(i)? {
                out.push(produced(item.clone())?);
            }
        }
        Ok(V::Array(out))
    });
    env.add_function("find", |c| {
        let p = call("find", &c.args, c.predicate, c.ctx, c.env, 1)?;
        for (i, item) in p.items.iter().enumerate() {
            if p.test(i)? {
                return Ok(item.clone());
            }
        }
        Ok(V::Nil)
    });
    env.add_function("findIndex", |c| {
        let p = call("findIndex", &c.args, c.predicate, c.ctx, c.env, 1)?;
        for i in 0..p.items.len() {
            if p.test(i)? {
                return Ok(V::Integer(i as i64));
            }
        }
        Ok(V::Integer(-1))
    });
    env.add_function("findLast", |c| {
        let p = call("findLast", &c.args, c.predicate, c.ctx, c.env, 1)?;
        for (i, item) in p.items.iter().enumerate().rev() {
            if p.test(i)? {
                return Ok(item.clone());
            }
        }
        Ok(V::Nil)
    });
    env.add_function("findLastIndex", |c| {
        let p = call("findLastIndex", &c.args, c.predicate, c.ctx, c.env, 1)?;
        for i in (0..p.items.len()).rev() {
            if p.test(i)? {
                return Ok(V::Integer(i as i64));
            }
        }
        Ok(V::Integer(-1))
    });
    env.add_function("count", |c| {
        let p = call("count", &c.args, c.predicate, c.ctx, c.env, 1)?;
        let mut count = 0i64;
        for (i, item) in p.items.iter().enumerate() {
            let yes = match p.predicate {
                Some(_) => p.test(i)?,
                None => match item {
                    V::Bool(b) => *b,
                    _ => return Err(fail("count() without a predicate requires booleans")),
                },
            };
            count += i64::from(yes);
        }
        Ok(V::Integer(count))
    });
    env.add_function("sum", |c| {
        let p = call("sum", &c.args, c.predicate, c.ctx, c.env, 1)?;
        let mut total = V::Integer(0);
        for (i, item) in p.items.iter().enumerate() {
            let value = match p.predicate {
                Some(_) => p.run(i)?,
                None => item.clone(),
            };
            total = match (total, value) {
                (V::Integer(a), V::Integer(b)) => V::Integer(a.wrapping_add(b)),
                (V::Integer(a), V::Float(b)) => V::Float(a as f64 + b),
                (V::Float(a), V::Integer(b)) => V::Float(a + b as f64),
                (V::Float(a), V::Float(b)) => V::Float(a + b),
                _ => return Err(fail("sum() values must be numbers")),
            };
        }
        Ok(total)
    });
    env.add_function("groupBy", |c| {
        let p = call("groupBy", &c.args, c.predicate, c.ctx, c.env, 1)?;
        let mut groups: Vec<(V, Vec<V>)> = Vec::new();
        for (i, item) in p.items.iter().enumerate() {
            let key = p.run(i)?;
            if !matches!(
                key,
                V::Nil | V::Bool(_) | V::Integer(_) | V::Float(_) | V::String(_)
            ) {
                return Err(fail("groupBy() predicate returned a non-comparable key"));
            }
            let item = produced(item.clone())?;
            match groups.iter_mut().find(|(k, _)| keys_equal(k, &key)) {
                Some((_, group)) => group.push(item),
                None => groups.push((key, vec![item])),
            }
        }
        Ok(V::KeyedMap(
            groups
                .into_iter()
                .map(|(k, group)| (k, V::Array(group)))
                .collect(),
        ))
    });
    env.add_function("sortBy", |c| {
        let p = call("sortBy", &c.args, c.predicate, c.ctx, c.env, 2)?;
        let descending = match c.args.get(1) {
            None => false,
            Some(V::String(s)) if s == "asc" => false,
            Some(V::String(s)) if s == "desc" => true,
            Some(_) => return Err(fail("sortBy() second argument must be \"asc\" or \"desc\"")),
        };
        let mut keyed = Vec::with_capacity(p.items.len());
        for (i, item) in p.items.iter().enumerate() {
            keyed.push((p.run(i)?, produced(item.clone())?));
        }
        let numbers = keyed
            .iter()
            .all(|(k, _)| matches!(k, V::Integer(_)) || matches!(k, V::Float(f) if !f.is_nan()));
        let strings = keyed.iter().all(|(k, _)| matches!(k, V::String(_)));
        if !numbers && !strings {
            return Err(fail(
                "sortBy() values must all be numbers or all be strings",
            ));
        }
        keyed.sort_by(|(a, _), (b, _)| {
            let order = compare(a, b);
            if descending { order.reverse() } else { order }
        });
        Ok(V::Array(keyed.into_iter().map(|(_, v)| v).collect()))
    });
}

fn number(v: &V) -> Option<f64> {
    match v {
        V::Integer(i) => Some(*i as f64),
        V::Float(f) => Some(*f),
        _ => None,
    }
}

fn keys_equal(a: &V, b: &V) -> bool {
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn compare(a: &V, b: &V) -> Ordering {
    match (a, b) {
        (V::Integer(x), V::Integer(y)) => x.cmp(y),
        (V::String(x), V::String(y)) => x.cmp(y),
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
            _ => Ordering::Equal,
        },
    }
}
