//! What a scenario reports: checks against their pass criteria, figures, findings, and how to
//! reproduce it; printed as a table and written as JSON.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;
use serde_json::Value;

/// How a scenario ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every check passed.
    Pass,
    /// A check failed: a finding.
    Fail,
    /// It could not run here (a service or permission is missing); `note` says why.
    Skipped,
    /// The harness itself failed; `note` says how.
    Error,
}

/// One pass criterion and what was observed.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub expected: String,
    pub observed: String,
    pub pass: bool,
}

/// One scenario's result.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    /// `T1` ... `T8`.
    pub id: String,
    /// The subcommand (`kill`, `phases`, ...).
    pub name: String,
    pub outcome: Outcome,
    pub seconds: f64,
    /// The command that reproduces it (seed included).
    pub reproduce: String,
    pub checks: Vec<Check>,
    /// Measured figures (counts, times, memory).
    pub figures: BTreeMap<String, Value>,
    /// What the product does that a reader should know (bugs, limits, behaviour).
    pub findings: Vec<String>,
    /// Why it was skipped or errored.
    pub note: Option<String>,
}

impl ScenarioReport {
    pub fn new(id: &str, name: &str, reproduce: String) -> ScenarioReport {
        ScenarioReport {
            id: id.to_owned(),
            name: name.to_owned(),
            outcome: Outcome::Pass,
            seconds: 0.0,
            reproduce,
            checks: Vec::new(),
            figures: BTreeMap::new(),
            findings: Vec::new(),
            note: None,
        }
    }

    /// Records a check; returns whether it passed.
    pub fn check(
        &mut self,
        name: &str,
        expected: impl Into<String>,
        observed: impl Into<String>,
        pass: bool,
    ) -> bool {
        self.checks.push(Check {
            name: name.to_owned(),
            expected: expected.into(),
            observed: observed.into(),
            pass,
        });
        pass
    }

    /// A count that must be zero, with up to a few examples of what was counted.
    pub fn check_zero<T: std::fmt::Display>(&mut self, name: &str, items: &[T]) -> bool {
        let observed = if items.is_empty() {
            "0".to_owned()
        } else {
            let shown: Vec<String> = items.iter().take(5).map(ToString::to_string).collect();
            let more = if items.len() > 5 { ", ..." } else { "" };
            format!("{} ({}{more})", items.len(), shown.join(", "))
        };
        self.check(name, "0", observed, items.is_empty())
    }

    pub fn figure(&mut self, name: &str, value: impl Serialize) {
        self.figures.insert(
            name.to_owned(),
            serde_json::to_value(value).unwrap_or(Value::Null),
        );
    }

    pub fn finding(&mut self, text: impl Into<String>) {
        self.findings.push(text.into());
    }

    /// Sets the outcome from the checks (unless skipped or errored).
    pub fn conclude(&mut self, seconds: f64) {
        self.seconds = seconds;
        if matches!(self.outcome, Outcome::Pass | Outcome::Fail) {
            self.outcome = if self.checks.iter().all(|c| c.pass) {
                Outcome::Pass
            } else {
                Outcome::Fail
            };
        }
    }

    pub fn skipped(mut self, why: impl Into<String>) -> ScenarioReport {
        self.outcome = Outcome::Skipped;
        self.note = Some(why.into());
        self
    }

    pub fn errored(mut self, why: impl Into<String>) -> ScenarioReport {
        self.outcome = Outcome::Error;
        self.note = Some(why.into());
        self
    }

    /// The failed checks, one line each.
    pub fn failures(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| !c.pass)
            .map(|c| {
                format!(
                    "{} {}: expected {}, observed {}",
                    self.id, c.name, c.expected, c.observed
                )
            })
            .collect()
    }
}

/// The machine a run was made on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
}

impl Machine {
    pub fn here() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|m| m.trim().to_owned())
            .unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kb: f64 = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model,
            memory_gib: (mem_kb / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
        }
    }
}

/// Everything one invocation reports.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub started_at: String,
    pub machine: Machine,
    pub switchyard: String,
    pub seed: u64,
    pub short: bool,
    pub scenarios: Vec<ScenarioReport>,
}

impl Report {
    /// The tables printed on stdout: one row per check, then the figures and findings.
    pub fn render(&self) -> String {
        let mut table = Table::new();
        table
            .load_style(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(160)
            .set_header(["#", "scenario", "check", "expected", "observed", "pass"]);
        for s in &self.scenarios {
            if s.checks.is_empty() {
                table.add_row([
                    s.id.clone(),
                    s.name.clone(),
                    format!("{:?}", s.outcome).to_lowercase(),
                    String::new(),
                    s.note.clone().unwrap_or_default(),
                    String::new(),
                ]);
            }
            for c in &s.checks {
                table.add_row([
                    s.id.clone(),
                    s.name.clone(),
                    c.name.clone(),
                    c.expected.clone(),
                    c.observed.clone(),
                    if c.pass { "yes" } else { "NO" }.to_owned(),
                ]);
            }
        }
        let mut out = format!(
            "switchyard-chaos: seed {}{}, {} CPUs ({}), {} GiB, kernel {}\n",
            self.seed,
            if self.short { ", short" } else { "" },
            self.machine.cpus,
            self.machine.cpu_model,
            self.machine.memory_gib,
            self.machine.kernel
        );
        out.push_str(&table.to_string());
        out.push('\n');
        for s in &self.scenarios {
            out.push_str(&format!(
                "\n{} {}: {} in {:.1} s — reproduce: {}\n",
                s.id,
                s.name,
                format!("{:?}", s.outcome).to_uppercase(),
                s.seconds,
                s.reproduce
            ));
            if let Some(note) = &s.note {
                out.push_str(&format!("  note: {note}\n"));
            }
            for (k, v) in &s.figures {
                out.push_str(&format!("  {k}: {}\n", compact(v)));
            }
            for f in &s.findings {
                out.push_str(&format!("  finding: {f}\n"));
            }
        }
        out
    }

    /// Writes the report as pretty JSON, creating the directory.
    pub fn write_json(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(self).context("serializing the report")?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }
}

/// A figure on one line, long lists shortened.
fn compact(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 300 {
        let cut: String = text.chars().take(300).collect();
        format!("{cut}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outcome_follows_the_checks() {
        let mut r = ScenarioReport::new("T1", "kill", "x".into());
        r.check("a", "0", "0", true);
        r.conclude(1.0);
        assert_eq!(r.outcome, Outcome::Pass);
        assert!(!r.check_zero("lost", &["u-1", "u-2"]));
        r.conclude(1.0);
        assert_eq!(r.outcome, Outcome::Fail);
        assert_eq!(r.checks[1].observed, "2 (u-1, u-2)");
        assert_eq!(r.failures(), ["T1 lost: expected 0, observed 2 (u-1, u-2)"]);
        let skipped = ScenarioReport::new("T3", "bus-outage", "y".into()).skipped("no NATS");
        assert_eq!(skipped.outcome, Outcome::Skipped);
    }
}
