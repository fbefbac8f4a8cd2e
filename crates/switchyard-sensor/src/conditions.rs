//! A trigger's `conditions`: `&&`, `||` and parentheses over dependency names, all
//! dependencies joined by `&&` when absent (Argo's `getDependencyExpression`).
//!
//! Argo evaluates the expression with govaluate after rewriting it through expr, so `!` and
//! result suffixes (`d1.Succeeded`) never work there; here they are refused when the sensor is
//! compiled. The fingerprint is the expression in a canonical form (fully parenthesized, spaces
//! normalized), so pending events are purged when the meaning changes, not the spacing, and a
//! trigger without `conditions` is purged when dependencies are added or removed.

use switchyard_model::logic::BoolExpr;

use crate::problem::Problems;

/// A compiled condition.
#[derive(Debug, Clone)]
pub(crate) struct Conditions {
    expr: BoolExpr,
    /// The dependencies it names, in order of first appearance (Argo processes an event's
    /// dependencies in this order).
    pub(crate) dependencies: Vec<String>,
    /// The canonical form, recorded in the state.
    pub(crate) canonical: String,
}

impl Conditions {
    /// Compiles `text` (or the default over `all`), checking that every name is one of `all`.
    pub(crate) fn compile(
        text: Option<&str>,
        all: &[String],
        path: &str,
        problems: &mut Problems,
    ) -> Option<Conditions> {
        let text = text.map(str::trim).filter(|t| !t.is_empty());
        let expr = match text {
            None => {
                let mut names = all.iter();
                let first = operand(names.next()?);
                names.fold(first, |acc, name| {
                    BoolExpr::And(Box::new(acc), Box::new(operand(name)))
                })
            }
            Some(text) => match BoolExpr::parse(text) {
                Ok(expr) => expr,
                Err(e) => {
                    problems.error(path, format!("cannot parse `{text}`: {e}"));
                    return None;
                }
            },
        };
        let mut ok = true;
        if has_not(&expr) {
            problems.error(
                path,
                "`!` is not supported in conditions: a trigger waits for events, it cannot wait for their absence",
            );
            ok = false;
        }
        let mut dependencies: Vec<String> = Vec::new();
        for (name, result, offset) in expr.operands() {
            if let Some(result) = result {
                problems.error(
                    path,
                    format!(
                        "conditions name dependencies; `{name}.{result}` (at character {}) has a suffix",
                        offset + 1
                    ),
                );
                ok = false;
            } else if !all.iter().any(|d| d == name) {
                problems.error(
                    path,
                    format!(
                        "`{name}` (at character {}) is not a dependency of this sensor; dependencies are {}",
                        offset + 1,
                        all.iter()
                            .map(|d| format!("`{d}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                ok = false;
            } else if !dependencies.iter().any(|d| d == name) {
                dependencies.push(name.to_owned());
            }
        }
        if !ok {
            return None;
        }
        Some(Conditions {
            canonical: canonical(&expr),
            expr,
            dependencies,
        })
    }

    /// Whether the expression holds when exactly the dependencies for which `has` is true have
    /// an event.
    pub(crate) fn holds(&self, has: &dyn Fn(&str) -> bool) -> bool {
        self.expr.eval(&mut |name, _| has(name))
    }
}

fn operand(name: &str) -> BoolExpr {
    BoolExpr::Operand {
        name: name.to_owned(),
        result: None,
        offset: 0,
    }
}

fn has_not(expr: &BoolExpr) -> bool {
    match expr {
        BoolExpr::Operand { .. } => false,
        BoolExpr::Not(_) => true,
        BoolExpr::And(a, b) | BoolExpr::Or(a, b) => has_not(a) || has_not(b),
    }
}

/// Fully parenthesized text: `((a && b) || c)`.
fn canonical(expr: &BoolExpr) -> String {
    match expr {
        BoolExpr::Operand { name, .. } => name.clone(),
        BoolExpr::Not(x) => format!("!{}", canonical(x)),
        BoolExpr::And(a, b) => format!("({} && {})", canonical(a), canonical(b)),
        BoolExpr::Or(a, b) => format!("({} || {})", canonical(a), canonical(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps() -> Vec<String> {
        ["d1", "d2", "d3"].map(String::from).to_vec()
    }

    #[test]
    fn compiles_defaults_and_expressions() {
        let mut p = Problems::default();
        let all = Conditions::compile(None, &deps(), "c", &mut p).unwrap();
        assert_eq!(all.canonical, "((d1 && d2) && d3)");
        assert_eq!(all.dependencies, deps());
        let c = Conditions::compile(Some(" d3 ||(d1&&d2) "), &deps(), "c", &mut p).unwrap();
        assert_eq!(c.canonical, "(d3 || (d1 && d2))");
        assert_eq!(c.dependencies, ["d3", "d1", "d2"]);
        assert!(c.holds(&|n| n == "d3"));
        assert!(c.holds(&|n| n != "d3"));
        assert!(!c.holds(&|n| n == "d1"));
        assert!(p.errors.is_empty());
    }

    #[test]
    fn refuses_what_argo_cannot_run() {
        for (text, message) in [
            ("d1 && !d2", "`!` is not supported"),
            ("d1.Succeeded", "has a suffix"),
            ("d1 && d9", "`d9` (at character 7) is not a dependency"),
            ("d1 &&", "cannot parse `d1 &&`"),
        ] {
            let mut p = Problems::default();
            assert!(Conditions::compile(Some(text), &deps(), "c", &mut p).is_none());
            assert!(
                p.errors.iter().any(|e| e.message.contains(message)),
                "{text}: {:?}",
                p.errors
            );
        }
    }
}
