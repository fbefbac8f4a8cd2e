//! Reading sources: files, directories, stdin, and every failure reported with its file.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use switchyard_manifest::{Limits, Source, read_sources, read_sources_with_stdin};

fn write(root: &Path, name: &str, bytes: &[u8]) {
    let path = root.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// Source names relative to `root`.
fn names(root: &Path, sources: &[Source]) -> Vec<String> {
    sources
        .iter()
        .map(|s| {
            s.name
                .strip_prefix(&root.display().to_string())
                .unwrap_or(&s.name)
                .trim_start_matches('/')
                .to_owned()
        })
        .collect()
}

#[test]
fn directories_are_read_recursively_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for name in [
        "b.yaml",
        "a.yml",
        "c.JSON",
        "notes.txt",
        "sub/d.yaml",
        "sub/deeper/e.yaml",
        ".hidden/f.yaml",
        "sub/.git/g.yaml",
        ".h.yaml",
    ] {
        write(root, name, format!("# {name}\n").as_bytes());
    }
    let sources = read_sources(&[root.to_path_buf()], &Limits::default()).unwrap();
    assert_eq!(
        names(root, &sources),
        [
            ".h.yaml",
            "a.yml",
            "b.yaml",
            "c.JSON",
            "sub/d.yaml",
            "sub/deeper/e.yaml"
        ]
    );
    assert_eq!(sources[1].text, "# a.yml\n");

    // A file named explicitly is read whatever its extension; paths keep their order.
    let paths = [root.join("notes.txt"), root.join("b.yaml")];
    let sources = read_sources(&paths, &Limits::default()).unwrap();
    assert_eq!(names(root, &sources), ["notes.txt", "b.yaml"]);
}

#[test]
fn every_failure_is_reported_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "good.yaml", b"a: 1\n");
    write(root, "latin1.yaml", b"a: 1\nb: caf\xe9\n");
    write(root, "big.yaml", &[b'#'; 100]);
    fs::create_dir(root.join("empty")).unwrap();
    // Dangling symlinks: reported when they look like manifests, ignored otherwise.
    fs::create_dir(root.join("links")).unwrap();
    std::os::unix::fs::symlink(root.join("nowhere"), root.join("links/gone.yaml")).unwrap();
    std::os::unix::fs::symlink(root.join("nowhere"), root.join("links/gone.txt")).unwrap();
    write(root, "links/ok.yaml", b"a: 1\n");
    let paths: Vec<PathBuf> = [
        "good.yaml",
        "missing.yaml",
        "latin1.yaml",
        "big.yaml",
        "empty",
        "links",
    ]
    .iter()
    .map(|p| root.join(p))
    .collect();
    let limits = Limits {
        max_bytes: 64,
        ..Limits::default()
    };
    let errors = read_sources(&paths, &limits).unwrap_err();
    let rendered: Vec<String> = errors
        .iter()
        .map(|d| d.to_string().replace(&format!("{}/", root.display()), ""))
        .collect();
    assert_eq!(
        rendered,
        [
            "missing.yaml: error: cannot read: no such file or directory",
            "latin1.yaml:2:7: error: is not valid UTF-8 text; manifests must be UTF-8",
            "big.yaml: error: is larger than the limit of 64 bytes (100 bytes)",
            "empty: error: the directory contains no .yaml, .yml or .json files",
            "links/gone.yaml: error: cannot read: no such file or directory",
        ]
    );
}

#[test]
fn dash_reads_standard_input_once() {
    let limits = Limits::default();
    let paths = [PathBuf::from("-")];
    let mut stdin = Cursor::new(b"\xef\xbb\xbfkind: ConfigMap\n".to_vec());
    let sources = read_sources_with_stdin(&paths, &limits, &mut stdin).unwrap();
    assert_eq!(sources, [Source::new("<stdin>", "kind: ConfigMap\n")]);
    let out = switchyard_manifest::load(&sources, &limits);
    let rendered: Vec<String> = out.diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(
        rendered,
        ["<stdin>:1:1: error: missing `apiVersion`; every manifest needs `apiVersion` and `kind`"]
    );

    let twice = [PathBuf::from("-"), PathBuf::from("-")];
    let errors =
        read_sources_with_stdin(&twice, &limits, &mut Cursor::new(Vec::new())).unwrap_err();
    let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        rendered,
        ["<stdin>: error: standard input (`-`) is given more than once"]
    );

    let small = Limits {
        max_bytes: 4,
        ..Limits::default()
    };
    let errors =
        read_sources_with_stdin(&paths, &small, &mut Cursor::new(b"a: 1\n".to_vec())).unwrap_err();
    let rendered: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        rendered,
        ["<stdin>: error: is larger than the limit of 4 bytes"]
    );
}
