//! Log lines: splitting the NDJSON stream of the log route into lines, and printing each
//! [`LogEntry`] the way `argo logs` does (the step's name, then the text), pure.

use std::collections::HashMap;

use switchyard_api::LogEntry;
use switchyard_engine::{NodeType, RunStatus};

use crate::view::{CYAN, DIM, GREEN, Paint, YELLOW};

/// The longest line the CLI accepts from the log stream: the runner caps log lines well
/// below this, so a longer one means a broken stream.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Splits bytes that arrive in arbitrary chunks into lines (`\n`, optional `\r`), skipping
/// blank lines.
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Adds a chunk and returns the lines it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<String>, String> {
        let mut lines = Vec::new();
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|b| *b == b'\n') {
            self.partial.extend_from_slice(&rest[..end]);
            rest = &rest[end + 1..];
            if let Some(line) = self.take() {
                lines.push(line);
            }
        }
        self.partial.extend_from_slice(rest);
        if self.partial.len() > MAX_LINE_BYTES {
            return Err(format!(
                "a line of the log stream is longer than {MAX_LINE_BYTES} bytes"
            ));
        }
        Ok(lines)
    }

    /// The last line, if the stream did not end with a newline.
    pub fn finish(&mut self) -> Option<String> {
        self.take()
    }

    fn take(&mut self) -> Option<String> {
        let mut bytes = std::mem::take(&mut self.partial);
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        let line = String::from_utf8_lossy(&bytes).into_owned();
        (!line.trim().is_empty()).then_some(line)
    }
}

/// How log lines are printed.
#[derive(Debug, Clone, Copy)]
pub struct LogStyle {
    /// Start each line with the step's display name.
    pub prefix: bool,
    /// Put the time each line was read before its text.
    pub timestamps: bool,
    pub paint: Paint,
}

/// Prints [`LogEntry`]s: knows the display names of the run's steps and pads them to the
/// longest, so the text of every step starts in the same column.
#[derive(Debug)]
pub struct LogPrinter {
    style: LogStyle,
    names: HashMap<String, String>,
    width: usize,
}

const PALETTE: [u8; 5] = [GREEN, YELLOW, 34, 35, CYAN];

impl LogPrinter {
    pub fn new(style: LogStyle) -> LogPrinter {
        LogPrinter {
            style,
            names: HashMap::new(),
            width: 0,
        }
    }

    /// Learns the display names of the steps of `status`.
    pub fn learn(&mut self, status: &RunStatus) {
        for node in status.nodes.values() {
            if matches!(node.node_type, NodeType::Pod | NodeType::Container) {
                self.width = self.width.max(node.display_name.chars().count());
                self.names
                    .insert(node.id.clone(), node.display_name.clone());
            }
        }
    }

    /// Whether the step `node_id` has a known display name.
    pub fn knows(&self, node_id: &str) -> bool {
        self.names.contains_key(node_id)
    }

    /// One entry as a line, without the newline.
    pub fn format(&mut self, entry: &LogEntry) -> String {
        let paint = self.style.paint;
        let mut line = String::new();
        if self.style.prefix {
            let name = self
                .names
                .get(&entry.node_id)
                .cloned()
                .unwrap_or_else(|| entry.node_name.clone());
            let chars = name.chars().count();
            self.width = self.width.max(chars);
            let color =
                PALETTE[(switchyard_engine::naming::fnv1a_32(&name) as usize) % PALETTE.len()];
            line.push_str(&paint.paint(&format!("{name}:"), Some(color)));
            line.extend(std::iter::repeat_n(' ', self.width - chars + 1));
        }
        if self.style.timestamps {
            line.push_str(&entry.time);
            line.push(' ');
        }
        if entry.stream == "system" {
            line.push_str(&paint.paint(&format!("[{}]", entry.text), Some(DIM)));
        } else {
            line.push_str(&entry.text);
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splits_lines_across_chunks() {
        let mut s = LineSplitter::default();
        assert_eq!(s.push(b"{\"a\"").unwrap(), Vec::<String>::new());
        assert_eq!(
            s.push(b":1}\n{\"b\":2}\r\n\n{\"c\"").unwrap(),
            ["{\"a\":1}", "{\"b\":2}"]
        );
        assert_eq!(s.push(b":3}").unwrap(), Vec::<String>::new());
        assert_eq!(s.finish().as_deref(), Some("{\"c\":3}"));
        assert_eq!(s.finish(), None);
        // A multi-byte character split between chunks survives.
        let text = "{\"t\":\"é\"}\n".as_bytes();
        let (a, b) = text.split_at(7);
        assert!(s.push(a).unwrap().is_empty());
        assert_eq!(s.push(b).unwrap(), ["{\"t\":\"é\"}"]);
    }

    #[test]
    fn refuses_endless_lines() {
        let mut s = LineSplitter::default();
        let chunk = vec![b'x'; 1024 * 1024];
        let mut result = Ok(Vec::new());
        for _ in 0..=16 {
            result = s.push(&chunk);
            if result.is_err() {
                break;
            }
        }
        assert!(result.unwrap_err().contains("longer than"));
    }

    fn entry(id: &str, name: &str, stream: &str, text: &str) -> LogEntry {
        LogEntry {
            node_id: id.into(),
            node_name: name.into(),
            time: "2026-06-01T12:00:00.000000001Z".into(),
            stream: stream.into(),
            text: text.into(),
        }
    }

    fn status() -> RunStatus {
        serde_json::from_value(json!({
            "phase": "Running", "progress": "0/2",
            "nodes": {
                "wf": {"id": "wf", "name": "wf", "displayName": "wf", "type": "Steps",
                       "phase": "Running", "startedAt": "2026-06-01T12:00:00Z"},
                "wf-1": {"id": "wf-1", "name": "wf[0].build", "displayName": "build", "type": "Pod",
                         "phase": "Running", "startedAt": "2026-06-01T12:00:00Z"},
                "wf-2": {"id": "wf-2", "name": "wf[0].test-all", "displayName": "test-all", "type": "Pod",
                         "phase": "Running", "startedAt": "2026-06-01T12:00:00Z"}
            }
        }))
        .unwrap()
    }

    #[test]
    fn prefixes_pad_display_names() {
        let style = LogStyle {
            prefix: true,
            timestamps: false,
            paint: Paint::NONE,
        };
        let mut p = LogPrinter::new(style);
        p.learn(&status());
        assert!(p.knows("wf-1") && !p.knows("wf") && !p.knows("wf-9"));
        let cases = [
            (
                entry("wf-1", "wf[0].build", "stdout", "compiling"),
                "build:    compiling",
            ),
            (
                entry("wf-2", "wf[0].test-all", "stderr", "warning: slow"),
                "test-all: warning: slow",
            ),
            (
                entry("wf-1", "wf[0].build", "system", "stopped: timeout"),
                "build:    [stopped: timeout]",
            ),
            // A step the printer does not know yet: its full node name, and the column widens.
            (
                entry("wf-9", "wf[1].deploy-everything", "stdout", "ok"),
                "wf[1].deploy-everything: ok",
            ),
            (
                entry("wf-1", "wf[0].build", "stdout", "done"),
                "build:                   done",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(p.format(&e), want);
        }
    }

    #[test]
    fn timestamps_and_no_prefix() {
        let mut p = LogPrinter::new(LogStyle {
            prefix: false,
            timestamps: true,
            paint: Paint::NONE,
        });
        p.learn(&status());
        assert_eq!(
            p.format(&entry("wf-1", "wf[0].build", "stdout", "  indented ")),
            "2026-06-01T12:00:00.000000001Z   indented "
        );
        let mut p = LogPrinter::new(LogStyle {
            prefix: false,
            timestamps: false,
            paint: Paint::NONE,
        });
        assert_eq!(
            p.format(&entry("x", "y", "system", "log truncated")),
            "[log truncated]"
        );
    }

    #[test]
    fn colors_only_when_asked() {
        let mut p = LogPrinter::new(LogStyle {
            prefix: true,
            timestamps: false,
            paint: Paint { enabled: true },
        });
        p.learn(&status());
        let line = p.format(&entry("wf-1", "wf[0].build", "system", "stopped"));
        assert!(line.starts_with("\x1b["), "{line:?}");
        assert!(line.contains("build:\x1b[0m"), "{line:?}");
        assert!(line.ends_with("\x1b[2m[stopped]\x1b[0m"), "{line:?}");
    }
}
