//! `argosay`: what the entrypoint of Argo's test image `argoproj/argosay:v2` does, for the
//! many Argo examples that run that image with `args` only. `switchyard __argosay ARGS...`
//! calls [`argosay_main`]; the server maps the image to that command ([`ARGOSAY_IMAGES`],
//! [`argosay_entrypoint`]). No shell is involved.
//!
//! Commands (no arguments, or an empty first one, is `echo`):
//! - `echo` prints `hello argo`; `echo TEXT` prints TEXT; `echo TEXT FILE` writes TEXT and a
//!   newline to FILE, creating its parent directories.
//! - `cat FILE...` copies each file to stdout.
//! - `sleep DURATION` waits: a Go duration (`1s`, `100ms`, `1h30m`) or a `sleep(1)` one (`5`,
//!   `0.5`, `2m`, `1d`).
//! - `exit [CODE]` exits with CODE (default 0), modulo 256 as a shell does.
//! - `assert_contains FILE TEXT` prints the lines of FILE that contain TEXT (each line of a
//!   multi-line TEXT is an alternative, as for `grep -F`) and fails when there is none.
//!
//! Exit codes: 0 success; 1 an unknown command, a failed read or write, or an assertion that
//! did not hold; 2 wrong arguments or an unreadable file in `assert_contains` (as `grep`).
//! Messages go to stderr, prefixed `argosay: `.
//!
//! Differences from the image: the image's `sh FILE` (run a shell script) is refused, because
//! no shell is used (set the container's `command` to `[sh, FILE]` instead); `echo` prints
//! its text as it is, where the image's shell `echo` may read backslash escapes; `cat` copies
//! every file named, not only the first; extra arguments are an error, not ignored.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::time::Duration;

/// Images whose entrypoint [`argosay_entrypoint`] stands in for, as keys of the engine's
/// `Library::image_entrypoints` (without a tag, so every tag of the repository uses it).
pub const ARGOSAY_IMAGES: &[&str] = &["argoproj/argosay"];

/// The programs of the `argosay` images that this executable provides when started under
/// their name ([`crate::ImageTools`]).
pub const ARGOSAY_TOOLS: &[&str] = &["argosay", "cowsay"];

/// The host command for the argosay images: `<switchyard_binary> __argosay` (the step's
/// `args` follow it). A path that is not valid UTF-8 is converted lossily.
pub fn argosay_entrypoint(switchyard_binary: &Path) -> Vec<String> {
    vec![
        switchyard_binary.to_string_lossy().into_owned(),
        "__argosay".to_owned(),
    ]
}

/// Runs argosay with `args` (the words after `__argosay`) on this process's stdout and
/// stderr, and returns the exit code (0 to 255).
pub fn argosay_main(args: Vec<String>) -> i32 {
    let stdout = io::stdout();
    let stderr = io::stderr();
    run(
        &args,
        &mut stdout.lock(),
        &mut stderr.lock(),
        &mut std::thread::sleep,
    )
}

const USAGE: &str = "usage: argosay [echo [TEXT [FILE]] | cat FILE... | sleep DURATION | \
                     exit [CODE] | assert_contains FILE TEXT]";

/// Why argosay stopped early: the exit code and the message for stderr.
#[derive(Debug, PartialEq, Eq)]
struct Failure {
    code: i32,
    message: String,
}

impl Failure {
    fn failed(message: String) -> Self {
        Failure { code: 1, message }
    }

    fn usage(message: String) -> Self {
        Failure { code: 2, message }
    }
}

/// [`argosay_main`] with its output, error stream and clock passed in.
fn run(
    args: &[String],
    out: &mut dyn Write,
    err: &mut dyn Write,
    sleep: &mut dyn FnMut(Duration),
) -> i32 {
    let result = say(args, out, sleep).and_then(|code| {
        out.flush()
            .map(|()| code)
            .map_err(|e| Failure::failed(format!("cannot write to stdout: {e}")))
    });
    match result {
        Ok(code) => code,
        Err(failure) => {
            // Nothing is left to tell if stderr itself cannot be written.
            let _ = writeln!(err, "argosay: {}", failure.message);
            failure.code
        }
    }
}

fn say(
    args: &[String],
    out: &mut dyn Write,
    sleep: &mut dyn FnMut(Duration),
) -> Result<i32, Failure> {
    let Some((command, rest)) = args.split_first() else {
        return echo(&[], out);
    };
    match command.as_str() {
        "" => echo(&[], out),
        "echo" => echo(rest, out),
        "cat" => cat(rest, out),
        "sleep" => match rest {
            [duration] => {
                sleep(parse_sleep(duration).map_err(Failure::usage)?);
                Ok(0)
            }
            _ => Err(Failure::usage("usage: argosay sleep DURATION".into())),
        },
        "exit" => exit(rest),
        "assert_contains" => assert_contains(rest, out),
        "sh" => Err(Failure::failed(
            "`sh FILE` (running a shell script) is not supported here: set the container's \
             `command` to `[sh, FILE]` instead"
                .into(),
        )),
        other => Err(Failure::failed(format!(
            "unknown command `{other}`\n{USAGE}"
        ))),
    }
}

fn stdout_error(e: io::Error) -> Failure {
    Failure::failed(format!("cannot write to stdout: {e}"))
}

fn echo(args: &[String], out: &mut dyn Write) -> Result<i32, Failure> {
    match args {
        [] => writeln!(out, "hello argo").map_err(stdout_error)?,
        [text] => writeln!(out, "{text}").map_err(stdout_error)?,
        [text, file] => {
            let path = Path::new(file);
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent).map_err(|e| {
                    Failure::failed(format!(
                        "cannot create directory `{}`: {e}",
                        parent.display()
                    ))
                })?;
            }
            fs::write(path, format!("{text}\n"))
                .map_err(|e| Failure::failed(format!("cannot write `{file}`: {e}")))?;
        }
        _ => {
            return Err(Failure::usage(format!(
                "echo takes at most 2 arguments (TEXT and FILE), got {}: quote TEXT as one \
                 argument",
                args.len()
            )));
        }
    }
    Ok(0)
}

fn cat(files: &[String], out: &mut dyn Write) -> Result<i32, Failure> {
    if files.is_empty() {
        return Err(Failure::usage("usage: argosay cat FILE...".into()));
    }
    for file in files {
        let mut f = fs::File::open(file)
            .map_err(|e| Failure::failed(format!("cannot read `{file}`: {e}")))?;
        io::copy(&mut f, out)
            .map_err(|e| Failure::failed(format!("cannot copy `{file}` to stdout: {e}")))?;
    }
    Ok(0)
}

fn exit(args: &[String]) -> Result<i32, Failure> {
    match args {
        [] => Ok(0),
        [code] => code
            .trim()
            .parse::<i64>()
            .map(|c| i32::try_from(c.rem_euclid(256)).unwrap_or(1))
            .map_err(|_| Failure::usage(format!("exit code `{code}` is not an integer"))),
        _ => Err(Failure::usage("usage: argosay exit [CODE]".into())),
    }
}

fn assert_contains(args: &[String], out: &mut dyn Write) -> Result<i32, Failure> {
    let [file, text] = args else {
        return Err(Failure::usage(
            "usage: argosay assert_contains FILE TEXT".into(),
        ));
    };
    let data = fs::read(file).map_err(|e| Failure::usage(format!("cannot read `{file}`: {e}")))?;
    let data = String::from_utf8_lossy(&data);
    let patterns: Vec<&str> = text.split('\n').collect();
    let mut found = false;
    for line in data.lines() {
        if patterns.iter().any(|p| line.contains(p)) {
            found = true;
            writeln!(out, "{line}").map_err(stdout_error)?;
        }
    }
    if found {
        Ok(0)
    } else {
        Err(Failure::failed(format!(
            "`{file}` does not contain `{text}`"
        )))
    }
}

/// A `sleep(1)` duration (a non-negative decimal number of seconds, or of minutes, hours or
/// days with the suffix `m`, `h` or `d`), else a Go duration (`100ms`, `1h30m`).
fn parse_sleep(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, seconds_per_unit) = match t.char_indices().last() {
        Some((i, 's')) => (&t[..i], 1.0),
        Some((i, 'm')) => (&t[..i], 60.0),
        Some((i, 'h')) => (&t[..i], 3600.0),
        Some((i, 'd')) => (&t[..i], 86_400.0),
        _ => (t, 1.0),
    };
    let decimal = !number.is_empty()
        && number.chars().all(|c| c.is_ascii_digit() || c == '.')
        && number.chars().any(|c| c.is_ascii_digit());
    if decimal && let Ok(n) = number.parse::<f64>() {
        return Duration::try_from_secs_f64(n * seconds_per_unit)
            .map_err(|_| format!("duration `{text}` is too long"));
    }
    switchyard_engine::naming::parse_duration(t).map_err(|_| {
        format!(
            "invalid duration `{text}`: give seconds (`5`, `0.5`) or a duration such as `1s`, \
             `100ms`, `2m`, `1h30m` or `1d`"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What one run did: exit code, stdout, stderr, and the sleeps it asked for.
    struct Outcome {
        code: i32,
        out: String,
        err: String,
        slept: Vec<Duration>,
    }

    fn argosay(args: &[&str]) -> Outcome {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let mut out = Vec::new();
        let mut err = Vec::new();
        let mut slept = Vec::new();
        let code = run(&args, &mut out, &mut err, &mut |d| slept.push(d));
        Outcome {
            code,
            out: String::from_utf8(out).unwrap(),
            err: String::from_utf8(err).unwrap(),
            slept,
        }
    }

    fn path_arg(path: &Path) -> String {
        path.to_str().unwrap().to_owned()
    }

    #[test]
    fn no_command_or_an_empty_one_says_hello() {
        let cases: [&[&str]; 3] = [&[], &[""], &["", "ignored"]];
        for args in cases {
            let o = argosay(args);
            assert_eq!(
                (o.code, o.out.as_str(), o.err.as_str()),
                (0, "hello argo\n", "")
            );
        }
    }

    #[test]
    fn echo_prints_its_text_or_writes_it_to_a_file() {
        let o = argosay(&["echo"]);
        assert_eq!((o.code, o.out.as_str()), (0, "hello argo\n"));
        let o = argosay(&["echo", "-n not a flag \\n"]);
        assert_eq!((o.code, o.out.as_str()), (0, "-n not a flag \\n\n"));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("deep/er/out.txt");
        let o = argosay(&["echo", "real-value", &path_arg(&file)]);
        assert_eq!((o.code, o.out.as_str(), o.err.as_str()), (0, "", ""));
        assert_eq!(fs::read_to_string(&file).unwrap(), "real-value\n");
        // Writing again replaces the content.
        let o = argosay(&["echo", "second", &path_arg(&file)]);
        assert_eq!(o.code, 0);
        assert_eq!(fs::read_to_string(&file).unwrap(), "second\n");
    }

    #[test]
    fn echo_refuses_extra_arguments_and_reports_write_failures() {
        let o = argosay(&["echo", "a", "b", "c"]);
        assert_eq!(o.code, 2);
        assert!(
            o.err.contains("echo takes at most 2 arguments"),
            "{}",
            o.err
        );

        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        fs::write(&blocker, "x").unwrap();
        let o = argosay(&["echo", "v", &path_arg(&blocker.join("sub/out"))]);
        assert_eq!(o.code, 1);
        assert!(
            o.err.starts_with("argosay: cannot create directory `"),
            "{}",
            o.err
        );
    }

    #[test]
    fn cat_copies_every_file_and_fails_on_a_missing_one() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        fs::write(&a, "one\n").unwrap();
        fs::write(&b, "two").unwrap();
        let o = argosay(&["cat", &path_arg(&a), &path_arg(&b)]);
        assert_eq!(
            (o.code, o.out.as_str(), o.err.as_str()),
            (0, "one\ntwo", "")
        );

        let missing = path_arg(&dir.path().join("missing"));
        let o = argosay(&["cat", &missing]);
        assert_eq!(o.code, 1);
        assert!(
            o.err
                .starts_with(&format!("argosay: cannot read `{missing}`: ")),
            "{}",
            o.err
        );
        assert_eq!(argosay(&["cat"]).code, 2);
    }

    #[test]
    fn sleep_waits_for_go_and_sleep1_durations() {
        let cases = [
            ("1s", Duration::from_secs(1)),
            ("100ms", Duration::from_millis(100)),
            ("1h30m", Duration::from_secs(5400)),
            ("2s", Duration::from_secs(2)),
            ("5", Duration::from_secs(5)),
            ("0.5", Duration::from_millis(500)),
            ("2m", Duration::from_secs(120)),
            ("1.5h", Duration::from_secs(5400)),
            ("1d", Duration::from_secs(86_400)),
            ("0", Duration::ZERO),
        ];
        for (text, want) in cases {
            let o = argosay(&["sleep", text]);
            assert_eq!(
                (o.code, o.slept, o.err),
                (0, vec![want], String::new()),
                "{text}"
            );
        }
        for bad in ["garbage", "-1s", "1x", "s", ".", ""] {
            let o = argosay(&["sleep", bad]);
            assert_eq!(o.code, 2, "{bad}");
            assert!(o.slept.is_empty(), "{bad}");
            assert!(o.err.contains("invalid duration"), "{bad}: {}", o.err);
        }
        assert_eq!(argosay(&["sleep"]).code, 2);
        assert_eq!(argosay(&["sleep", "1", "2"]).code, 2);
    }

    #[test]
    fn sleep_really_sleeps() {
        let args = vec!["sleep".to_owned(), "1ms".to_owned()];
        let mut err = Vec::new();
        let code = run(&args, &mut io::sink(), &mut err, &mut std::thread::sleep);
        assert_eq!((code, err.len()), (0, 0));
    }

    #[test]
    fn exit_ends_with_the_code_given() {
        let cases: [(&[&str], i32); 7] = [
            (&["exit"], 0),
            (&["exit", "0"], 0),
            (&["exit", "1"], 1),
            (&["exit", "42"], 42),
            (&["exit", "256"], 0),
            (&["exit", "257"], 1),
            (&["exit", "-1"], 255),
        ];
        for (args, want) in cases {
            let o = argosay(args);
            assert_eq!(
                (o.code, o.out, o.err),
                (want, String::new(), String::new()),
                "{args:?}"
            );
        }
        let o = argosay(&["exit", "one"]);
        assert_eq!(o.code, 2);
        assert_eq!(o.err, "argosay: exit code `one` is not an integer\n");
        assert_eq!(argosay(&["exit", "1", "2"]).code, 2);
    }

    #[test]
    fn assert_contains_prints_matching_lines_or_fails() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        fs::write(&file, "alpha\nbeta gamma\ndelta\n").unwrap();
        let f = path_arg(&file);

        let o = argosay(&["assert_contains", &f, "gamma"]);
        assert_eq!((o.code, o.out.as_str()), (0, "beta gamma\n"));
        let o = argosay(&["assert_contains", &f, "alpha\ndelta"]);
        assert_eq!((o.code, o.out.as_str()), (0, "alpha\ndelta\n"));

        let o = argosay(&["assert_contains", &f, "omega"]);
        assert_eq!((o.code, o.out.as_str()), (1, ""));
        assert_eq!(o.err, format!("argosay: `{f}` does not contain `omega`\n"));

        let o = argosay(&["assert_contains", &path_arg(&dir.path().join("none")), "x"]);
        assert_eq!(o.code, 2);
        assert!(o.err.contains("cannot read"), "{}", o.err);
        assert_eq!(argosay(&["assert_contains", &f]).code, 2);
    }

    #[test]
    fn unknown_commands_and_sh_are_refused() {
        let o = argosay(&["garbage", "x"]);
        assert_eq!((o.code, o.out.as_str()), (1, ""));
        assert_eq!(
            o.err,
            format!("argosay: unknown command `garbage`\n{USAGE}\n")
        );
        let o = argosay(&["sh", "script.sh"]);
        assert_eq!(o.code, 1);
        assert!(
            o.err
                .contains("set the container's `command` to `[sh, FILE]`"),
            "{}",
            o.err
        );
    }

    #[test]
    fn the_entrypoint_runs_the_hidden_subcommand() {
        assert_eq!(
            argosay_entrypoint(Path::new("/opt/bin/switchyard")),
            ["/opt/bin/switchyard", "__argosay"]
        );
        assert_eq!(ARGOSAY_IMAGES, ["argoproj/argosay"]);
    }
}
