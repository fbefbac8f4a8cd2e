//! Capturing a step's output: splitting streams into lines, the per-stream log cap with a
//! notice of what was dropped, and `outputs.result` as Argo computes it (stdout with one
//! trailing newline removed, then only the last `max_result_bytes` kept).
//!
//! Pure and synchronous, so every rule is tested without processes.

use std::io::{self, Write};
use std::time::Duration;

use chrono::{DateTime, Utc};
use switchyard_engine::{LogLine, LogStream};

/// Longest line kept as one log line; longer runs without a newline are split.
pub(crate) const MAX_LINE_BYTES: usize = 64 * 1024;

/// Splits a byte stream into lines at `\n` (and every [`MAX_LINE_BYTES`]).
#[derive(Debug, Default)]
pub(crate) struct LineSplitter {
    pending: Vec<u8>,
}

impl LineSplitter {
    /// Feeds bytes; returns the complete lines they finish, without their `\n` (or `\r\n`).
    pub fn feed(&mut self, mut bytes: &[u8]) -> Vec<String> {
        let mut lines = Vec::new();
        while !bytes.is_empty() {
            let room = MAX_LINE_BYTES - self.pending.len();
            match bytes.iter().take(room).position(|b| *b == b'\n') {
                Some(at) => {
                    self.pending.extend_from_slice(&bytes[..at]);
                    lines.push(self.take());
                    bytes = &bytes[at + 1..];
                }
                None if bytes.len() >= room => {
                    self.pending.extend_from_slice(&bytes[..room]);
                    lines.push(self.take());
                    bytes = &bytes[room..];
                }
                None => {
                    self.pending.extend_from_slice(bytes);
                    bytes = &[];
                }
            }
        }
        lines
    }

    /// The last line when the stream did not end with a newline.
    pub fn finish(&mut self) -> Option<String> {
        (!self.pending.is_empty()).then(|| self.take())
    }

    fn take(&mut self) -> String {
        let mut line = std::mem::take(&mut self.pending);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        String::from_utf8_lossy(&line).into_owned()
    }
}

/// The end of stdout, enough to compute `outputs.result`.
#[derive(Debug)]
pub(crate) struct ResultTail {
    buf: Vec<u8>,
    keep: usize,
}

impl ResultTail {
    pub fn new(max_result_bytes: usize) -> Self {
        ResultTail {
            buf: Vec::new(),
            // One more than the limit, for the trailing newline that is trimmed.
            keep: max_result_bytes.saturating_add(1),
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() > self.keep.saturating_mul(2).max(64 * 1024) {
            let cut = self.buf.len() - self.keep;
            self.buf.drain(..cut);
        }
    }

    /// Argo's rule: remove a single trailing `\n`, then keep only the last `max_result_bytes`
    /// bytes. A cut that lands inside a UTF-8 character drops that character's remains;
    /// bytes that are not UTF-8 become U+FFFD.
    pub fn finish(&self) -> String {
        let max = self.keep - 1;
        let mut bytes = &self.buf[..];
        if let Some(rest) = bytes.strip_suffix(b"\n") {
            bytes = rest;
        }
        let mut start = bytes.len().saturating_sub(max);
        if start > 0 {
            while start < bytes.len() && (bytes[start] & 0b1100_0000) == 0b1000_0000 {
                start += 1;
            }
        }
        String::from_utf8_lossy(&bytes[start..]).into_owned()
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct StreamCount {
    kept: u64,
    dropped_bytes: u64,
    dropped_lines: u64,
}

/// Writes [`LogLine`]s as JSON lines, capping each of stdout and stderr at `max_bytes` (a line
/// costs its length plus one for the newline). The first dropped line of a stream is
/// announced; [`LogSink::finish`] says how much was dropped in all.
pub(crate) struct LogSink<W> {
    out: W,
    max_bytes: u64,
    stdout: StreamCount,
    stderr: StreamCount,
    lines: usize,
    error: Option<io::Error>,
}

impl<W: Write> LogSink<W> {
    pub fn new(out: W, max_bytes: usize) -> Self {
        LogSink {
            out,
            max_bytes: u64::try_from(max_bytes).unwrap_or(u64::MAX),
            stdout: StreamCount::default(),
            stderr: StreamCount::default(),
            lines: 0,
            error: None,
        }
    }

    /// Lines written so far.
    #[cfg(test)]
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// The first write error, if any (the sink keeps going so the step is not disturbed).
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }

    pub fn system(&mut self, text: impl Into<String>) {
        self.write(&LogLine {
            time: Utc::now(),
            stream: LogStream::System,
            text: text.into(),
        });
    }

    pub fn push(&mut self, stream: LogStream, text: String) {
        self.push_at(Utc::now(), stream, text);
    }

    pub fn push_at(&mut self, time: DateTime<Utc>, stream: LogStream, text: String) {
        let max = self.max_bytes;
        let count = match stream {
            LogStream::Stdout => &mut self.stdout,
            LogStream::Stderr => &mut self.stderr,
            LogStream::System => {
                self.write(&LogLine { time, stream, text });
                return;
            }
        };
        let cost = u64::try_from(text.len())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        if count.dropped_lines == 0 && count.kept.saturating_add(cost) <= max {
            count.kept += cost;
            self.write(&LogLine { time, stream, text });
            return;
        }
        let first = count.dropped_lines == 0;
        count.dropped_lines += 1;
        count.dropped_bytes = count.dropped_bytes.saturating_add(cost);
        if first {
            let name = stream_name(stream);
            self.system(format!(
                "{name} exceeded the log limit of {max} bytes; further {name} lines are dropped"
            ));
        }
    }

    /// Writes the summary of dropped lines, then flushes.
    pub fn finish(&mut self) {
        for stream in [LogStream::Stdout, LogStream::Stderr] {
            let count = match stream {
                LogStream::Stdout => self.stdout,
                _ => self.stderr,
            };
            if count.dropped_lines > 0 {
                self.system(format!(
                    "{}: {} dropped ({} bytes) beyond the log limit of {} bytes",
                    stream_name(stream),
                    plural(count.dropped_lines, "line"),
                    count.dropped_bytes,
                    self.max_bytes
                ));
            }
        }
        if let Err(err) = self.out.flush() {
            self.error.get_or_insert(err);
        }
    }

    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.out
    }

    pub fn get_ref(&self) -> &W {
        &self.out
    }

    fn write(&mut self, line: &LogLine) {
        let mut bytes = match serde_json::to_vec(line) {
            Ok(bytes) => bytes,
            Err(err) => {
                self.error.get_or_insert(io::Error::other(err));
                return;
            }
        };
        bytes.push(b'\n');
        // One write per line, so a reader never sees two lines interleaved.
        match self.out.write_all(&bytes) {
            Ok(()) => self.lines += 1,
            Err(err) => {
                self.error.get_or_insert(err);
            }
        }
    }
}

fn stream_name(stream: LogStream) -> &'static str {
    match stream {
        LogStream::Stdout => "stdout",
        LogStream::Stderr => "stderr",
        LogStream::System => "system",
    }
}

pub(crate) fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `5s`, `1500ms`, `2m30s`: durations in messages.
pub(crate) fn human_duration(d: Duration) -> String {
    let secs = d.as_secs();
    if d.subsec_nanos() != 0 {
        if secs == 0 && d.subsec_nanos().is_multiple_of(1_000_000) {
            return format!("{}ms", d.as_millis());
        }
        return format!("{d:?}");
    }
    match (secs / 3600, secs % 3600 / 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, s) => format!("{h}h{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines() {
        let long = "x".repeat(MAX_LINE_BYTES + 3);
        // (chunks fed, complete lines, the unterminated rest)
        type Case<'a> = (Vec<&'a [u8]>, Vec<String>, Option<&'a str>);
        let cases: Vec<Case<'_>> = vec![
            (vec![b"a\nb\n"], vec!["a".into(), "b".into()], None),
            (vec![b"a", b"b\nc"], vec!["ab".into()], Some("c")),
            (vec![b"crlf\r\n"], vec!["crlf".into()], None),
            (vec![b"\n\n"], vec![String::new(), String::new()], None),
            (vec![b"bad \xff\n"], vec!["bad \u{fffd}".into()], None),
            (
                vec![long.as_bytes(), b"\n"],
                vec!["x".repeat(MAX_LINE_BYTES), "xxx".into()],
                None,
            ),
            (vec![b""], vec![], None),
        ];
        for (chunks, lines, rest) in cases {
            let mut splitter = LineSplitter::default();
            let mut got = Vec::new();
            for chunk in &chunks {
                got.extend(splitter.feed(chunk));
            }
            assert_eq!(got, lines, "{chunks:?}");
            assert_eq!(splitter.finish().as_deref(), rest, "{chunks:?}");
        }
    }

    #[test]
    fn result_is_trimmed_and_capped_like_argo() {
        let cases: &[(&[&str], usize, &str)] = &[
            (&["hello\n"], 256, "hello"),
            (&["hello"], 256, "hello"),
            (&["a\n\n"], 256, "a\n"),
            (&["\n"], 256, ""),
            (&[""], 256, ""),
            (&["  spaced  \n"], 256, "  spaced  "),
            (&["abcdefgh\n"], 4, "efgh"),
            (&["abcd", "efgh"], 4, "efgh"),
            (&["abcd\n"], 4, "abcd"),
            (&["abcd\n"], 0, ""),
            // A cut inside "é" (2 bytes) drops its second byte.
            (&["xéyz"], 3, "yz"),
            (&["xéyz"], 4, "éyz"),
        ];
        for (chunks, max, expected) in cases {
            let mut tail = ResultTail::new(*max);
            for chunk in *chunks {
                tail.feed(chunk.as_bytes());
            }
            assert_eq!(tail.finish(), *expected, "{chunks:?} max {max}");
        }
    }

    #[test]
    fn result_tail_keeps_the_end_of_long_output() {
        let mut tail = ResultTail::new(5);
        for i in 0..100_000 {
            tail.feed(format!("{i}\n").as_bytes());
        }
        assert_eq!(tail.finish(), "99999");
    }

    fn texts(bytes: &[u8]) -> Vec<(LogStream, String)> {
        bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let line: LogLine = serde_json::from_slice(l).unwrap();
                (line.stream, line.text)
            })
            .collect()
    }

    #[test]
    fn log_cap_per_stream_with_notices() {
        use LogStream::{Stderr, Stdout, System};
        let mut sink = LogSink::new(Vec::new(), 10);
        for _ in 0..5 {
            sink.push(Stdout, "aaaa".into());
        }
        sink.push(Stderr, "e".into());
        sink.push(Stdout, "b".into());
        sink.finish();
        assert_eq!(sink.lines(), 5);
        let expected = vec![
            (Stdout, "aaaa".to_owned()),
            (Stdout, "aaaa".to_owned()),
            (
                System,
                "stdout exceeded the log limit of 10 bytes; further stdout lines are dropped"
                    .to_owned(),
            ),
            (Stderr, "e".to_owned()),
            (
                System,
                "stdout: 4 lines dropped (17 bytes) beyond the log limit of 10 bytes".to_owned(),
            ),
        ];
        assert_eq!(texts(&sink.into_inner()), expected);
    }

    #[test]
    fn log_without_drops_has_no_notice() {
        let mut sink = LogSink::new(Vec::new(), 100);
        sink.push(LogStream::Stdout, "a".into());
        sink.system("note");
        sink.finish();
        let expected = vec![
            (LogStream::Stdout, "a".to_owned()),
            (LogStream::System, "note".to_owned()),
        ];
        assert_eq!(texts(&sink.into_inner()), expected);
    }

    #[test]
    fn durations() {
        let cases = [
            (Duration::from_secs(0), "0s"),
            (Duration::from_secs(5), "5s"),
            (Duration::from_secs(60), "1m"),
            (Duration::from_secs(150), "2m30s"),
            (Duration::from_secs(7200), "2h"),
            (Duration::from_secs(3725), "1h2m5s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(250), "250ms"),
        ];
        for (d, expected) in cases {
            assert_eq!(human_duration(d), expected, "{d:?}");
        }
    }
}
