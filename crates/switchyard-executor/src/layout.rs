//! The files in a step's scratch directory and their formats: the contract between the
//! runner (in the Switchyard process) and the step's supervisor (the shim), which may outlive
//! it.
//!
//! ```text
//! <root>/<run>/<step id>/      mode 0700
//!   step.json    what to run (StepFile), written by the runner before the shim starts
//!   handle.json  the StepHandle, written by the runner once the shim is running
//!   shim.json    the shim's pid and start time, written by the shim first thing (covers a
//!                crash of the runner between spawning the shim and writing handle.json)
//!   child.json   the step process's pid and start time, written by the shim after spawning it
//!   stop         why and how gently to stop (StopRequest), written by the runner before SIGTERM
//!   log.jsonl    one LogLine per line, appended by the shim
//!   result.json  the StepResult, written atomically by the shim as its last act
//!   shim.log     the shim's own stdout and stderr
//!   script       a script template's source
//!   work/        the step's working directory
//!   tmp/         the step's private /tmp (or its TMPDIR when /tmp cannot be private)
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_engine::{StepSpec, StopReason};

/// The paths of one step's scratch directory.
#[derive(Debug, Clone)]
pub(crate) struct StepDir {
    pub root: PathBuf,
}

impl StepDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StepDir { root: root.into() }
    }
    pub fn step_file(&self) -> PathBuf {
        self.root.join("step.json")
    }
    pub fn handle_file(&self) -> PathBuf {
        self.root.join("handle.json")
    }
    pub fn shim_file(&self) -> PathBuf {
        self.root.join("shim.json")
    }
    pub fn child_file(&self) -> PathBuf {
        self.root.join("child.json")
    }
    pub fn stop_file(&self) -> PathBuf {
        self.root.join("stop")
    }
    pub fn log_file(&self) -> PathBuf {
        self.root.join("log.jsonl")
    }
    pub fn result_file(&self) -> PathBuf {
        self.root.join("result.json")
    }
    pub fn shim_log(&self) -> PathBuf {
        self.root.join("shim.log")
    }
    pub fn script_file(&self) -> PathBuf {
        self.root.join("script")
    }
    pub fn work_dir(&self) -> PathBuf {
        self.root.join("work")
    }
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }
}

/// `step.json`: the step as the engine described it, plus what the runner resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StepFile {
    pub spec: StepSpec,
    /// The step's working directory (absolute).
    pub work_dir: PathBuf,
    /// The script file appended to argv, for script templates.
    pub script: Option<PathBuf>,
    /// How long a step that timed out gets between SIGTERM and SIGKILL.
    pub grace: Duration,
}

/// `shim.json` and `child.json`: a process and the kernel's start time for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProcessFile {
    pub pid: u32,
    pub start_time: u64,
    pub started_at: DateTime<Utc>,
}

/// `stop`: why the runner stops the step and how long the step gets after SIGTERM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StopRequest {
    pub reason: StopReason,
    pub grace: Duration,
}

/// Creates a directory (and its parents) with mode 0700.
pub(crate) fn create_private_dir(path: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

/// Writes `bytes` to `path` so that a reader sees either the old file or the whole new one,
/// and the new one survives a crash: temp file, fsync, rename, fsync of the directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    File::open(dir)?.sync_all()
}

/// Writes `value` as JSON with [`write_atomic`].
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    write_atomic(path, &bytes)
}

/// Reads a JSON file; `Ok(None)` when it does not exist.
pub(crate) fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> io::Result<Option<T>> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))
}

/// Encodes a run name or step id as one safe path component: ASCII letters, digits, `-`,
/// `_` and `.` stay; everything else (and a leading `.`) becomes `%XX`, so `..`, `/` and NUL
/// can never leave the runner's root, and different ids never share a directory.
pub(crate) fn path_component(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, byte) in name.bytes().enumerate() {
        let keep = byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' || byte == b'.';
        if keep && !(i == 0 && byte == b'.') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_components() {
        let cases = [
            ("hello-x7k2p", "hello-x7k2p"),
            ("hello-x7k2p.steps[0].a_b", "hello-x7k2p.steps%5B0%5D.a_b"),
            ("default/wf", "default%2Fwf"),
            ("..", "%2E."),
            (".hidden", "%2Ehidden"),
            ("", "%00"),
            ("a b", "a%20b"),
            ("a\0b", "a%00b"),
            ("é", "%C3%A9"),
            ("50%", "50%25"),
        ];
        for (input, expected) in cases {
            assert_eq!(path_component(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("result.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec!["result.json".to_owned()]);
    }

    #[test]
    fn read_json_missing_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let got: Option<StopRequest> = read_json(&dir.path().join("stop")).unwrap();
        assert_eq!(got, None);
    }
}
