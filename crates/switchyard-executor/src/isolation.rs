//! A private `/tmp` per step, so parallel steps that write fixed paths such as
//! `/tmp/hello_world.txt` (as Argo examples do; in Kubernetes every pod has its own) do not
//! overwrite each other.
//!
//! The shim moves itself into a new mount namespace (as root: `CLONE_NEWNS`; otherwise a new
//! user namespace too, mapping the caller's uid and gid to themselves), makes every mount
//! private so nothing leaks back to the host, and bind-mounts the step's `tmp/` over `/tmp`.
//! The step and the shim's later reads of output files then see that `/tmp`. This must run
//! while the shim is still single-threaded (the kernel refuses a new user namespace to a
//! multi-threaded process).
//!
//! When that is impossible (no permission, not Linux, or the step directory itself lies under
//! `/tmp` and would disappear behind the mount) the step runs with the shared `/tmp`, `TMPDIR`
//! points at its own `tmp/`, and the step's log says so.

use std::path::Path;

/// What the shim achieved for the step's `/tmp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tmp {
    /// `/tmp` is the step's own directory.
    Private,
    /// `/tmp` is the machine's; the reason it could not be private.
    Shared(String),
}

impl Tmp {
    /// The System log line for a shared `/tmp`.
    pub fn warning(&self) -> Option<String> {
        match self {
            Tmp::Private => None,
            Tmp::Shared(why) => Some(format!(
                "warning: {why}; fixed /tmp paths are shared between steps \
                 (TMPDIR points at the step's own directory)"
            )),
        }
    }
}

/// Opens `program` when it is an absolute path under `/tmp`, which the private `/tmp` is about
/// to hide (e.g. a `switchyard` binary built in a checkout under `/tmp`, standing in for an
/// image's entrypoint). The step is then started through the open file; this works for
/// compiled programs, not for `#!` scripts, whose interpreter needs the path.
pub(crate) fn hold_program_under_tmp(program: &str) -> Option<std::fs::File> {
    let path = Path::new(program);
    if !path.is_absolute() {
        return None;
    }
    let real = std::fs::canonicalize(path).ok()?;
    real.starts_with("/tmp")
        .then(|| std::fs::File::open(&real).ok())
        .flatten()
}

/// Gives this process a private `/tmp` backed by `tmp_dir` (inside `step_dir`).
pub(crate) fn private_tmp(step_dir: &Path, tmp_dir: &Path) -> Tmp {
    let step_dir = std::fs::canonicalize(step_dir).unwrap_or_else(|_| step_dir.to_path_buf());
    if step_dir.starts_with("/tmp") {
        return Tmp::Shared(format!(
            "/tmp cannot be private because the step directory {} is under /tmp",
            step_dir.display()
        ));
    }
    imp::private_tmp(tmp_dir)
}

#[cfg(target_os = "linux")]
mod imp {
    use std::path::Path;

    use nix::mount::{MsFlags, mount};
    use nix::sched::{CloneFlags, unshare};
    use nix::unistd::{getgid, getuid};

    use super::Tmp;

    pub(super) fn private_tmp(tmp_dir: &Path) -> Tmp {
        match enter(tmp_dir) {
            Ok(()) => Tmp::Private,
            Err(why) => Tmp::Shared(format!("/tmp cannot be private: {why}")),
        }
    }

    fn enter(tmp_dir: &Path) -> Result<(), String> {
        let (uid, gid) = (getuid(), getgid());
        if uid.is_root() {
            unshare(CloneFlags::CLONE_NEWNS)
                .map_err(|e| format!("cannot create a mount namespace ({e})"))?;
        } else {
            unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS).map_err(|e| {
                format!("cannot create a user and mount namespace ({e}); unprivileged user namespaces may be disabled")
            })?;
            let write = |file: &str, text: String| {
                std::fs::write(file, text).map_err(|e| format!("cannot write {file} ({e})"))
            };
            write("/proc/self/setgroups", "deny".to_owned())?;
            write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
            write("/proc/self/gid_map", format!("{gid} {gid} 1"))?;
        }
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(|e| format!("cannot make the mounts private ({e})"))?;
        mount(
            Some(tmp_dir),
            "/tmp",
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| format!("cannot bind-mount {} over /tmp ({e})", tmp_dir.display()))
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::path::Path;

    use super::Tmp;

    pub(super) fn private_tmp(_tmp_dir: &Path) -> Tmp {
        Tmp::Shared("/tmp cannot be private: mount namespaces need Linux".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_dir_under_tmp_is_refused_before_any_namespace_change() {
        let got = private_tmp(
            Path::new("/tmp/x/run/step"),
            Path::new("/tmp/x/run/step/tmp"),
        );
        assert_eq!(
            got,
            Tmp::Shared(
                "/tmp cannot be private because the step directory /tmp/x/run/step is under /tmp"
                    .to_owned()
            )
        );
        assert_eq!(
            got.warning().as_deref(),
            Some(
                "warning: /tmp cannot be private because the step directory /tmp/x/run/step is \
                 under /tmp; fixed /tmp paths are shared between steps (TMPDIR points at the \
                 step's own directory)"
            )
        );
    }
}
