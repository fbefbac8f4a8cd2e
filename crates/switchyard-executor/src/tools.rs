//! Host programs that stand in for the programs inside an image.
//!
//! Images are recorded, not pulled, so a step runs the host's programs. Some manifests call
//! programs that only the image has: `sh -c "cowsay hello"` in `argoproj/argosay:v1`, or
//! `command: [/argosay]` by its path in `argoproj/argosay:v2`. An [`ImageTools`] entry names
//! a directory of host programs for an image: for the steps of that image the directory comes
//! first on `PATH`, and an absolute `command` whose file name is in the directory (`/argosay`,
//! `/usr/local/bin/argosay`) runs the directory's program instead.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use switchyard_engine::StepSpec;
use switchyard_engine::state::image_parts;

/// The programs of an image, as a directory of host programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageTools {
    /// The image, matched like an image entrypoint: by repository (Docker Hub's `docker.io/`
    /// and `library/` prefixes ignored), and by tag or digest only when this names one.
    pub image: String,
    /// The directory of programs (absolute).
    pub dir: PathBuf,
}

impl ImageTools {
    /// Whether a step's image is this one.
    pub fn matches(&self, image: &str) -> bool {
        let (repository, version) = image_parts(&self.image);
        let (step_repository, step_version) = image_parts(image);
        repository == step_repository && (version.is_empty() || version == step_version)
    }

    /// The directory's program standing in for `program`, when `program` is an absolute path
    /// whose file name the directory has.
    fn stand_in(&self, program: &str) -> Option<PathBuf> {
        let path = Path::new(program);
        if !path.is_absolute() {
            return None;
        }
        let candidate = self.dir.join(path.file_name()?);
        candidate.is_file().then_some(candidate)
    }
}

/// Creates (or refreshes) `dir` holding one entry per name for `program`: a program that
/// acts by the name it is started under, as `switchyard` does for `argosay` and `cowsay`.
/// Entries are symbolic links, except when `program` is under `/tmp`: a step's private `/tmp`
/// would hide the link's target, so the entries are hard links then (copies when `dir` is on
/// another file system).
pub fn link_tools(dir: &Path, program: &Path, names: &[&str]) -> io::Result<ImageTools> {
    fs::create_dir_all(dir)?;
    let program = fs::canonicalize(program).unwrap_or_else(|_| program.to_path_buf());
    let hidden_by_private_tmp = program.starts_with("/tmp");
    // With copies, the first is the one copy: later entries are hard links to it.
    let mut copied: Option<std::path::PathBuf> = None;
    for name in names {
        let entry = dir.join(name);
        if hidden_by_private_tmp {
            if same_file(&entry, &program) {
                continue;
            }
            remove_if_present(&entry)?;
            if fs::hard_link(&program, &entry).is_err() {
                match &copied {
                    Some(copy) if fs::hard_link(copy, &entry).is_ok() => {}
                    _ => {
                        fs::copy(&program, &entry).map_err(|e| {
                            io::Error::new(
                                e.kind(),
                                format!(
                                    "copying {} to {}: {e}",
                                    program.display(),
                                    entry.display()
                                ),
                            )
                        })?;
                        copied = Some(entry.clone());
                    }
                }
            }
        } else {
            match fs::read_link(&entry) {
                Ok(target) if target == program => continue,
                _ => remove_if_present(&entry)?,
            }
            std::os::unix::fs::symlink(&program, &entry)?;
        }
    }
    Ok(ImageTools {
        image: String::new(),
        dir: dir.to_path_buf(),
    })
}

/// Whether `a` is the very file `b` (a hard link to it), not following a link at `a`.
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::symlink_metadata(a), fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
        _ => Ok(()),
    }
}

/// The step as it runs here: for the first entry of `tools` matching the step's image, its
/// directory first on `PATH` (before the step's own `env`, so a `PATH` the manifest sets
/// wins) and an absolute `command` the directory stands in for replaced.
pub(crate) fn with_tools(tools: &[ImageTools], spec: &StepSpec, host_path: &str) -> StepSpec {
    let mut spec = spec.clone();
    let Some(image) = spec.image.as_deref() else {
        return spec;
    };
    let Some(entry) = tools.iter().find(|t| t.matches(image)) else {
        return spec;
    };
    if let Some(program) = spec.command.first_mut()
        && let Some(stand_in) = entry.stand_in(program)
    {
        *program = stand_in.to_string_lossy().into_owned();
    }
    let dir = entry.dir.to_string_lossy();
    let path = if host_path.is_empty() {
        dir.into_owned()
    } else {
        format!("{dir}:{host_path}")
    };
    spec.env.insert(0, ("PATH".to_owned(), path));
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(image: &str, command: &[&str]) -> StepSpec {
        StepSpec {
            id: "s".into(),
            run: "r".into(),
            image: Some(image.into()),
            command: command.iter().map(|s| s.to_string()).collect(),
            args: vec![],
            env: vec![("PATH".into(), "/mine".into())],
            working_dir: None,
            script_source: None,
            files: Default::default(),
            output_paths: Default::default(),
            timeout: None,
            capture: switchyard_engine::OutputCapture {
                max_result_bytes: 10,
                max_log_bytes: 10,
            },
        }
    }

    #[test]
    fn images_match_by_repository_and_by_tag_only_when_named() {
        let tools = ImageTools {
            image: "argoproj/argosay".into(),
            dir: "/t".into(),
        };
        assert!(tools.matches("argoproj/argosay:v2"));
        assert!(tools.matches("docker.io/argoproj/argosay@sha256:00"));
        assert!(!tools.matches("argoproj/argosay-other:v2"));
        let tagged = ImageTools {
            image: "alpine:3.23".into(),
            dir: "/t".into(),
        };
        assert!(tagged.matches("docker.io/library/alpine:3.23"));
        assert!(!tagged.matches("alpine:3.22"));
    }

    #[test]
    fn a_matching_step_gets_the_directory_on_path_and_its_in_image_paths_replaced() {
        let root = tempfile::tempdir().unwrap();
        let program = root.path().join("program");
        fs::write(&program, "").unwrap();
        let mut tools =
            link_tools(&root.path().join("bin"), &program, &["argosay", "cowsay"]).expect("links");
        // Linking again is idempotent.
        link_tools(&root.path().join("bin"), &program, &["argosay"]).unwrap();
        tools.image = "argoproj/argosay".into();
        let dir = tools.dir.to_string_lossy().into_owned();
        // A program under /tmp gets hard links, which a private /tmp cannot hide.
        let entry = tools.dir.join("argosay");
        let is_link = fs::symlink_metadata(&entry)
            .unwrap()
            .file_type()
            .is_symlink();
        let canonical = fs::canonicalize(&program).unwrap();
        assert_eq!(is_link, !canonical.starts_with("/tmp"));
        assert!(same_file(&entry, &canonical) || is_link);

        let step = with_tools(
            std::slice::from_ref(&tools),
            &spec("argoproj/argosay:v2", &["/argosay"]),
            "/usr/bin",
        );
        assert_eq!(step.command, [format!("{dir}/argosay")]);
        assert_eq!(step.env[0], ("PATH".into(), format!("{dir}:/usr/bin")));
        assert_eq!(
            step.env[1],
            ("PATH".into(), "/mine".into()),
            "the manifest's PATH wins"
        );

        // Programs the directory does not have, relative names and other images are left alone.
        for (image, command) in [
            ("argoproj/argosay:v2", "/bin/sh"),
            ("argoproj/argosay:v2", "argosay"),
            ("alpine", "/argosay"),
        ] {
            let step = with_tools(
                std::slice::from_ref(&tools),
                &spec(image, &[command]),
                "/usr/bin",
            );
            assert_eq!(step.command, [command]);
        }
        assert_eq!(
            with_tools(&[tools], &spec("alpine", &["sh"]), "/usr/bin")
                .env
                .len(),
            1
        );
    }
}
