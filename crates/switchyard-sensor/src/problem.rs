//! What `compile` reports: a problem with a sensor manifest, located by its JSON path.

use std::fmt;

use switchyard_model::Diagnostic;

/// One thing wrong with (or worth knowing about) a Sensor, at a path such as
/// `spec.dependencies[1].filters.data[0].value[0]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Object path inside the Sensor document (`spec.triggers[0].template.conditions`).
    pub path: String,
    /// What is wrong, in a sentence that says how to fix it where we know.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The problem as an error diagnostic (no file position: the caller's loader can locate
    /// the path in the document).
    pub fn to_error(&self) -> Diagnostic {
        Diagnostic::error(self.path.clone(), self.message.clone())
    }

    /// The problem as a warning diagnostic.
    pub fn to_warning(&self) -> Diagnostic {
        Diagnostic::warning(self.path.clone(), self.message.clone())
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Collects problems while compiling, with path helpers.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    pub(crate) errors: Vec<Problem>,
    pub(crate) warnings: Vec<Problem>,
}

impl Problems {
    pub(crate) fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(Problem::new(path, message));
    }

    pub(crate) fn warning(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.warnings.push(Problem::new(path, message));
    }
}

/// `base.key` (or `key` when `base` is empty).
pub(crate) fn key(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_owned()
    } else {
        format!("{base}.{key}")
    }
}

/// `base[index]`.
pub(crate) fn index(base: &str, index: usize) -> String {
    format!("{base}[{index}]")
}
