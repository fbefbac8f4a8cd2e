//! `switchyard __argosay`: the stand-in for the entrypoint of `argoproj/argosay`, run as the
//! real binary (arguments reach it as they are, its exit code is the command's).

#![allow(clippy::unwrap_used)]

const BIN: &str = env!("CARGO_BIN_EXE_switchyard");

fn argosay(args: &[&str]) -> assert_cmd::assert::Assert {
    assert_cmd::Command::new(BIN)
        .arg("__argosay")
        .args(args)
        .env_remove("SWITCHYARD_LOG_FORMAT")
        .assert()
}

#[test]
fn echo_prints_its_words_as_they_are() {
    argosay(&[]).success().stdout("hello argo\n").stderr("");
    argosay(&["echo", "--help -n"])
        .success()
        .stdout("--help -n\n")
        .stderr("");
    argosay(&["echo", "--server"])
        .success()
        .stdout("--server\n");
}

#[test]
fn echo_to_a_file_then_cat_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out/value.txt");
    let file = file.to_str().unwrap();
    argosay(&["echo", "real-value", file]).success().stdout("");
    argosay(&["cat", file]).success().stdout("real-value\n");
}

#[test]
fn exit_codes_pass_through() {
    argosay(&["exit", "3"]).code(3).stdout("").stderr("");
    argosay(&["--help"])
        .code(1)
        .stderr(predicates::str::starts_with(
            "argosay: unknown command `--help`",
        ));
}
