//! The one error type of the crate, with the template position it is about.

/// What went wrong, in broad terms; the message says exactly what.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The template text is not valid (Go reports these from `Parse`), including a function that is
    /// not on the allowlist.
    Syntax,
    /// An action failed while rendering (Go reports these from `Execute`): a wrong argument type, a
    /// failing function, an undefined template.
    Execution,
    /// A safety cap was reached: output size, work budget, nesting or template call depth, size of the
    /// template or of the data.
    Limit,
}

/// A parse or render error, located in the template text.
///
/// Displays as `template:LINE:COL: message`. Lines and columns are 1-based; the column counts
/// characters (not bytes) from the start of the line. Execution errors name the action they are
/// about, the way Go does: `template:1:4: executing at <.Input.n>: error calling eq: incompatible
/// types for comparison: float64 and int`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template:{line}:{col}: {message}")]
pub struct TemplateError {
    line: usize,
    col: usize,
    kind: ErrorKind,
    message: String,
}

impl TemplateError {
    pub(crate) fn at(
        source: &str,
        pos: usize,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> Self {
        let (line, col) = line_col(source, pos);
        TemplateError {
            line,
            col,
            kind,
            message: message.into(),
        }
    }

    /// The 1-based line of the template text the error is about.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The 1-based column (in characters) of the template text the error is about.
    pub fn col(&self) -> usize {
        self.col
    }

    /// The broad kind of the error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The message without the `template:LINE:COL: ` prefix.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The 1-based line and character column of byte offset `pos` in `source`.
fn line_col(source: &str, pos: usize) -> (usize, usize) {
    let mut pos = pos.min(source.len());
    while !source.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &source[..pos];
    let line = 1 + before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = 1 + before[line_start..].chars().count();
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let src = "ab\ncdé{{x}}";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 1), (1, 2));
        assert_eq!(line_col(src, 3), (2, 1));
        // "é" is two bytes; the column after it counts it once.
        assert_eq!(line_col(src, 7), (2, 4));
        // Past the end or inside a character is clamped to a boundary.
        assert_eq!(line_col(src, 6), (2, 3));
        assert_eq!(line_col(src, 999), (2, 9));
    }

    #[test]
    fn display_has_the_location_prefix() {
        let e = TemplateError::at("x\n {{", 3, ErrorKind::Syntax, "unclosed action");
        assert_eq!(e.to_string(), "template:2:2: unclosed action");
        assert_eq!((e.line(), e.col()), (2, 2));
        assert_eq!(e.kind(), ErrorKind::Syntax);
        assert_eq!(e.message(), "unclosed action");
    }
}
