//! Reading sources: files, directories (recursively: `*.yaml`, `*.yml`, `*.json`, sorted,
//! hidden directories skipped) and `-` for standard input. Every failure is reported, each
//! as a diagnostic naming the file.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use switchyard_model::Diagnostic;

use crate::{Limits, STDIN_NAME, Source};

const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

/// Reads every path. Directories contribute their manifest files in sorted order; `-` reads
/// standard input.
pub fn read_sources(paths: &[PathBuf], limits: &Limits) -> Result<Vec<Source>, Vec<Diagnostic>> {
    read_sources_with_stdin(paths, limits, &mut io::stdin().lock())
}

/// [`read_sources`] with `stdin` standing in for standard input.
pub fn read_sources_with_stdin(
    paths: &[PathBuf],
    limits: &Limits,
    stdin: &mut dyn Read,
) -> Result<Vec<Source>, Vec<Diagnostic>> {
    let mut sources = Vec::new();
    let mut errors = Vec::new();
    let mut stdin_read = false;
    for path in paths {
        if path.as_os_str() == "-" {
            if stdin_read {
                errors.push(failure(
                    STDIN_NAME,
                    "standard input (`-`) is given more than once",
                ));
                continue;
            }
            stdin_read = true;
            match read_limited(&mut *stdin, STDIN_NAME, None, limits) {
                Ok(source) => sources.push(source),
                Err(e) => errors.push(e),
            }
            continue;
        }
        let name = path.display().to_string();
        match fs::metadata(path) {
            Err(e) => errors.push(failure(&name, &format!("cannot read: {}", io_message(&e)))),
            Ok(meta) if meta.is_dir() => {
                let files = walk(path, &mut errors);
                if files.is_empty() {
                    errors.push(failure(
                        &name,
                        "the directory contains no .yaml, .yml or .json files",
                    ));
                }
                for file in files {
                    match read_file(&file, limits) {
                        Ok(source) => sources.push(source),
                        Err(e) => errors.push(e),
                    }
                }
            }
            Ok(_) => match read_file(path, limits) {
                Ok(source) => sources.push(source),
                Err(e) => errors.push(e),
            },
        }
    }
    if errors.is_empty() {
        Ok(sources)
    } else {
        Err(errors)
    }
}

fn failure(name: &str, message: &str) -> Diagnostic {
    Diagnostic::error("", message).in_file(name)
}

fn io_message(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".to_owned(),
        io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => e.to_string(),
    }
}

/// Manifest files under `dir`, sorted; iterative, following symlinks once.
fn walk(dir: &Path, errors: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut visited = HashSet::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        if let Ok(canonical) = fs::canonicalize(&dir)
            && !visited.insert(canonical)
        {
            continue;
        }
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                let message = format!("cannot read directory: {}", io_message(&e));
                errors.push(failure(&dir.display().to_string(), &message));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    let message = format!("cannot read directory: {}", io_message(&e));
                    errors.push(failure(&dir.display().to_string(), &message));
                    continue;
                }
            };
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            let manifest = path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)));
            match fs::metadata(&path) {
                Ok(meta) if meta.is_dir() => {
                    if !hidden {
                        pending.push(path);
                    }
                }
                Ok(_) if manifest => files.push(path),
                Ok(_) => {}
                // A dangling symlink or a file that vanished: report it if it looks like a
                // manifest, ignore it otherwise.
                Err(e) if manifest => {
                    let message = format!("cannot read: {}", io_message(&e));
                    errors.push(failure(&path.display().to_string(), &message));
                }
                Err(_) => {}
            }
        }
    }
    files.sort();
    files
}

fn read_file(path: &Path, limits: &Limits) -> Result<Source, Diagnostic> {
    let name = path.display().to_string();
    let file = fs::File::open(path)
        .map_err(|e| failure(&name, &format!("cannot read: {}", io_message(&e))))?;
    let size = file.metadata().ok().map(|m| m.len());
    read_limited(file, &name, size, limits)
}

/// Reads at most `max_bytes` (plus one, to notice more) and checks the text is UTF-8.
fn read_limited(
    reader: impl Read,
    name: &str,
    size: Option<u64>,
    limits: &Limits,
) -> Result<Source, Diagnostic> {
    let max = limits.max_bytes;
    if let Some(size) = size
        && size > max as u64
    {
        return Err(too_large(name, Some(size), max));
    }
    let mut bytes = Vec::new();
    reader
        .take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| failure(name, &format!("cannot read: {}", io_message(&e))))?;
    if bytes.len() > max {
        return Err(too_large(name, None, max));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&valid[line_start..])
            .chars()
            .count()
            + 1;
        let at = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        failure(name, "is not valid UTF-8 text; manifests must be UTF-8").at(at(line), at(column))
    })?;
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    };
    Ok(Source {
        name: name.to_owned(),
        text,
    })
}

fn too_large(name: &str, size: Option<u64>, max: usize) -> Diagnostic {
    let size = size.map(|s| format!(" ({s} bytes)")).unwrap_or_default();
    failure(
        name,
        &format!("is larger than the limit of {max} bytes{size}"),
    )
}
