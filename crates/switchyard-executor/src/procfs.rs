//! Telling whether a process we started is still the same process: its pid plus the kernel's
//! start time from `/proc/<pid>/stat`, so a pid recycled after a reboot or a long pause is
//! never mistaken for our step.

use std::fs;

/// What `/proc/<pid>/stat` says about a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// Field 3: `R`, `S`, `D`, `Z` (zombie: exited, not yet reaped), `X`, ...
    pub state: char,
    /// Field 22: the time the process started after boot, in clock ticks.
    pub start_time: u64,
}

/// Parses the text of `/proc/<pid>/stat`. The second field (the command name in parentheses)
/// may itself contain spaces and parentheses, so the fields are counted after the last `)`.
pub(crate) fn parse_stat(text: &str) -> Option<ProcStat> {
    let after_comm = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // fields[0] is field 3 (state), so field 22 is fields[19].
    let state = fields.first()?.chars().next()?;
    let start_time = fields.get(19)?.parse().ok()?;
    Some(ProcStat { state, start_time })
}

/// Reads `/proc/<pid>/stat`; `None` when the process does not exist (or /proc is unavailable).
pub(crate) fn stat(pid: u32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_stat(&text)
}

/// The kernel's start time of `pid`, if it exists.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    stat(pid).map(|s| s.start_time)
}

/// Whether `pid` is running and is the process that started at `start_time`. A zombie (exited,
/// waiting to be reaped) does not count as running.
pub(crate) fn is_alive(pid: u32, start_time: u64) -> bool {
    match stat(pid) {
        Some(stat) => stat.start_time == start_time && !matches!(stat.state, 'Z' | 'X' | 'x'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_lines() {
        let tail = "0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 123456 1000 10";
        let cases = [
            (format!("42 (sleep) S 1 42 42 {tail}"), Some(('S', 123456))),
            (format!("42 (a b) c) Z 1 42 42 {tail}"), Some(('Z', 123456))),
            (format!("42 ((x)) R 1 42 42 {tail}"), Some(('R', 123456))),
            ("42 (sleep) S 1 42".to_owned(), None),
            ("garbage".to_owned(), None),
            (
                format!("42 (sleep) S 1 42 42 {}", tail.replace("123456", "x")),
                None,
            ),
        ];
        for (text, expected) in cases {
            let got = parse_stat(&text).map(|s| (s.state, s.start_time));
            assert_eq!(got, expected, "{text}");
        }
    }

    #[test]
    fn this_process_is_alive_only_with_its_own_start_time() {
        let pid = std::process::id();
        let start = start_time(pid).unwrap();
        assert!(is_alive(pid, start));
        assert!(!is_alive(pid, start + 1));
    }
}
