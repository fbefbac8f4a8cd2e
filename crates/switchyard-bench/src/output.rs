//! What every report shares: the machine it ran on, the outcome of each mode (measured,
//! skipped with the reason, or failed with the error), tables and the JSON file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use comfy_table::{CellAlignment, ContentArrangement, Table};
use serde::Serialize;

use crate::backend::Mode;

/// The machine a report was measured on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: Option<String>,
    pub memory_mib: Option<u64>,
    /// The 1-minute load average when the report was started: the machine is shared, and a
    /// load above the CPU count means the measurement competed with other work.
    pub load_average: Option<f64>,
}

impl Machine {
    pub fn here() -> Machine {
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: std::fs::read_to_string("/proc/cpuinfo")
                .ok()
                .and_then(|t| cpu_model(&t)),
            memory_mib: std::fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|t| memory_mib(&t)),
            load_average: load_average(),
        }
    }

    /// `2 CPUs (Intel Xeon), 23.4 GiB`.
    pub fn describe(&self) -> String {
        let mut text = format!("{} CPUs", self.cpus);
        if let Some(model) = &self.cpu_model {
            text.push_str(&format!(" ({model})"));
        }
        if let Some(mib) = self.memory_mib {
            text.push_str(&format!(", {:.1} GiB", mib as f64 / 1024.0));
        }
        if let Some(load) = self.load_average {
            text.push_str(&format!(", load average {load:.1} at the start"));
        }
        text
    }
}

/// The 1-minute load average now.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The first `model name` of `/proc/cpuinfo`.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

/// `MemTotal` of `/proc/meminfo`, in MiB.
fn memory_mib(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|line| {
        let kib: u64 = line
            .strip_prefix("MemTotal:")?
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()?;
        Some(kib / 1024)
    })
}

/// One mode of a benchmark: its figures, or why there are none.
#[derive(Debug, Clone, Serialize)]
pub struct ModeOutcome<T> {
    pub mode: Mode,
    /// Why the mode was not run (a service it needs is unreachable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Why the measurement failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<T>,
}

impl<T> ModeOutcome<T> {
    pub fn of(mode: Mode, result: Result<T>) -> ModeOutcome<T> {
        match result {
            Ok(r) => ModeOutcome {
                mode,
                skipped: None,
                error: None,
                result: Some(r),
            },
            Err(e) => ModeOutcome {
                mode,
                skipped: None,
                error: Some(format!("{e:#}")),
                result: None,
            },
        }
    }

    pub fn skipped(mode: Mode, why: String) -> ModeOutcome<T> {
        ModeOutcome {
            mode,
            skipped: Some(why),
            error: None,
            result: None,
        }
    }

    /// A line for a mode without figures: `embedded: skipped (...)`; `None` when measured.
    pub fn missing_line(&self) -> Option<String> {
        match (&self.skipped, &self.error) {
            (Some(why), _) => Some(format!("{}: skipped ({why})", self.mode.name())),
            (None, Some(e)) => Some(format!("{}: failed: {e}", self.mode.name())),
            (None, None) => None,
        }
    }
}

/// Whether any mode failed (skipped modes do not count).
pub fn any_failed<T>(modes: &[ModeOutcome<T>]) -> bool {
    modes.iter().any(|m| m.error.is_some())
}

/// Writes `value` as pretty JSON to `path`, creating its directory.
pub fn write_json<T: Serialize>(value: &T, path: &Path) -> Result<PathBuf> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the directory of {}", path.display()))?;
    }
    let text = serde_json::to_string_pretty(value).context("serializing the report")?;
    std::fs::write(path, text + "\n")
        .with_context(|| format!("writing the report to {}", path.display()))?;
    Ok(path.to_path_buf())
}

/// A table with `header`, every column but the first aligned right.
pub fn table(header: &[&str]) -> Table {
    table_left(header, 1)
}

/// A table with `header`, its first `left` columns aligned left and the others right.
pub fn table_left(header: &[&str], left: usize) -> Table {
    let mut t = Table::new();
    t.load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    for i in left.max(1)..header.len() {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// `12.3 ms`, or `-`.
pub fn ms(value: Option<f64>) -> String {
    value.map_or("-".into(), |v| {
        if v < 10.0 {
            format!("{v:.2} ms")
        } else {
            format!("{v:.1} ms")
        }
    })
}

/// `12,345` (a rate or a count, rounded).
pub fn count(value: f64) -> String {
    if !value.is_finite() {
        return "-".into();
    }
    let digits = format!("{:.0}", value.abs());
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if value < 0.0 && digits != "0" {
        grouped.insert(0, '-');
    }
    grouped
}

/// `45%` of one core.
pub fn cores(value: Option<f64>) -> String {
    value
        .filter(|v| v.is_finite())
        .map_or("-".into(), |v| format!("{:.0}%", v * 100.0))
}

/// `met` / `not met`.
pub fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "not met" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_facts_come_from_proc() {
        let cpuinfo = "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) Processor\n";
        assert_eq!(
            cpu_model(cpuinfo).as_deref(),
            Some("Intel(R) Xeon(R) Processor")
        );
        assert_eq!(cpu_model("processor: 0\n"), None);
        assert_eq!(
            memory_mib("MemTotal:       24568732 kB\nMemFree: 1 kB\n"),
            Some(23992)
        );
        let m = Machine {
            cpus: 2,
            cpu_model: Some("X".into()),
            memory_mib: Some(2048),
            load_average: Some(3.26),
        };
        assert_eq!(
            m.describe(),
            "2 CPUs (X), 2.0 GiB, load average 3.3 at the start"
        );
        assert!(load_average().is_some());
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(count(25_000.4), "25,000");
        assert_eq!(count(999.0), "999");
        assert_eq!(count(1_234_567.0), "1,234,567");
        assert_eq!(count(-1500.0), "-1,500");
        assert_eq!(count(f64::NAN), "-");
        assert_eq!(ms(Some(1.234)), "1.23 ms");
        assert_eq!(ms(Some(25.0)), "25.0 ms");
        assert_eq!(ms(None), "-");
        assert_eq!(cores(Some(0.456)), "46%");
        assert_eq!(cores(None), "-");
    }

    #[test]
    fn a_mode_without_figures_says_why() {
        let skipped: ModeOutcome<u8> =
            ModeOutcome::skipped(Mode::Distributed, "NATS is unreachable".into());
        assert_eq!(
            skipped.missing_line().as_deref(),
            Some("distributed: skipped (NATS is unreachable)")
        );
        let failed: ModeOutcome<u8> = ModeOutcome::of(Mode::Embedded, Err(anyhow::anyhow!("boom")));
        assert_eq!(
            failed.missing_line().as_deref(),
            Some("embedded: failed: boom")
        );
        assert!(any_failed(&[failed]));
        assert!(!any_failed(&[skipped]));
        assert_eq!(ModeOutcome::of(Mode::Embedded, Ok(1)).missing_line(), None);
    }
}
