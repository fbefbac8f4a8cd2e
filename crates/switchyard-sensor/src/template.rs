//! Go templates of a sensor (`dataTemplate`, `contextTemplate`, a data filter's `template`),
//! parsed once with `switchyard-gotmpl` and rendered over Argo's root `{"Input": ..}`.

use serde_json::Value;
use switchyard_gotmpl::{NO_VALUE, Template};

/// A parsed template.
#[derive(Debug)]
pub(crate) struct Tpl(Template);

impl Tpl {
    /// Parses template text; the message carries the line and column.
    pub(crate) fn parse(source: &str) -> Result<Tpl, String> {
        Template::parse(source).map(Tpl).map_err(|e| e.to_string())
    }

    /// Renders over `{"Input": input}`. As in Argo, an empty output or `<no value>` is a failure
    /// (the caller falls back to a key or a default where Argo does).
    pub(crate) fn render_input(&self, input: Value) -> Result<String, String> {
        let out = self
            .0
            .render(&switchyard_gotmpl::input_root(input))
            .map_err(|e| e.to_string())?;
        if out.is_empty() || out == NO_VALUE {
            return Err(format!(
                "template evaluated to empty string or no value: '{}'",
                self.0.source()
            ));
        }
        Ok(out)
    }
}
