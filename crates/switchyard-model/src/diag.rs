//! Diagnostics: errors and warnings with a location (file, line, column) and an object path.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How serious a diagnostic is. Errors reject the document; warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One finding about user input, with everything needed to find it.
///
/// `line` and `column` are 1-based. `path` is the object path inside the document, in the
/// form `spec.templates[2].dag.tasks[0].depends` (empty for the document itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
}

impl Diagnostic {
    pub fn error(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, path, message)
    }

    pub fn warning(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, path, message)
    }

    pub fn new(severity: Severity, path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity,
            message: message.into(),
            file: None,
            line: None,
            column: None,
            path: path.into(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Sets the location (1-based line and column).
    pub fn at(mut self, line: u32, column: u32) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }
}

/// `file:line:column: error: path: message`, the shape compilers use, so editors can jump to it.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut wrote_location = false;
        if let Some(file) = &self.file {
            write!(f, "{file}")?;
            wrote_location = true;
        }
        if let Some(line) = self.line {
            if wrote_location {
                write!(f, ":")?;
            }
            write!(f, "{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
            wrote_location = true;
        }
        if wrote_location {
            write!(f, ": ")?;
        }
        match self.severity {
            Severity::Error => write!(f, "error: ")?,
            Severity::Warning => write!(f, "warning: ")?,
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_location_path_and_message() {
        let d = Diagnostic::error(
            "spec.templates[2].dag.tasks[0].depends",
            "task `x` does not exist",
        )
        .at(12, 9)
        .in_file("wf.yaml");
        assert_eq!(
            d.to_string(),
            "wf.yaml:12:9: error: spec.templates[2].dag.tasks[0].depends: task `x` does not exist"
        );
        let w = Diagnostic::warning("", "no location");
        assert_eq!(w.to_string(), "warning: no location");
    }
}
