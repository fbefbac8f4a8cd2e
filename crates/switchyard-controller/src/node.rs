//! The labels of the one node Switchyard runs steps on (this machine), as a kubelet sets them
//! on its Node: what pods' `nodeSelector`s are matched against (see
//! [`ControllerConfig::node_labels`](crate::ControllerConfig::node_labels)).

use std::collections::BTreeMap;

/// The well-known labels a kubelet puts on its Node, for this host: `kubernetes.io/arch` and
/// `kubernetes.io/os` with Go's names for the architecture and the OS (`amd64`, `arm64`,
/// `linux`, ...), their deprecated `beta.kubernetes.io/` twins, which kubelets still set and
/// older manifests still select on, and `kubernetes.io/hostname`, the host name in lower
/// case. The host name is left out when it cannot be read.
///
/// Operators add their own labels on top (`switchyard up --node-label KEY=VALUE`).
pub fn host_node_labels() -> BTreeMap<String, String> {
    let arch = go_arch(std::env::consts::ARCH, cfg!(target_endian = "little"));
    let os = go_os(std::env::consts::OS);
    let mut labels = BTreeMap::new();
    for prefix in ["kubernetes.io", "beta.kubernetes.io"] {
        labels.insert(format!("{prefix}/arch"), arch.to_string());
        labels.insert(format!("{prefix}/os"), os.to_string());
    }
    if let Some(host) = host_name() {
        labels.insert("kubernetes.io/hostname".to_string(), host);
    }
    labels
}

/// Go's `GOARCH` for a Rust `target_arch`; the endianness tells `mips64` from `mips64le` and
/// `ppc64` from `ppc64le`. Architectures Go has no other name for keep Rust's.
fn go_arch(rust_arch: &str, little_endian: bool) -> &str {
    match (rust_arch, little_endian) {
        ("x86_64", _) => "amd64",
        ("x86", _) => "386",
        ("aarch64", _) => "arm64",
        ("loongarch64", _) => "loong64",
        ("mips", true) => "mipsle",
        ("mips64", true) => "mips64le",
        ("powerpc", _) => "ppc",
        ("powerpc64", true) => "ppc64le",
        ("powerpc64", false) => "ppc64",
        ("wasm32", _) => "wasm",
        (other, _) => other,
    }
}

/// Go's `GOOS` for a Rust `target_os` (they differ only for macOS).
fn go_os(rust_os: &str) -> &str {
    match rust_os {
        "macos" => "darwin",
        other => other,
    }
}

/// The host name as the kubelet takes it (`os.Hostname`, trimmed, in lower case): Go reads
/// it from the kernel on Linux; `/etc/hostname` stands in where there is no `/proc`.
pub fn host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|text| text.trim().to_lowercase())
        .find(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architectures_and_systems_get_gos_names() {
        let cases = [
            ("x86_64", true, "amd64"),
            ("aarch64", true, "arm64"),
            ("x86", true, "386"),
            ("arm", true, "arm"),
            ("riscv64", true, "riscv64"),
            ("s390x", false, "s390x"),
            ("powerpc64", true, "ppc64le"),
            ("powerpc64", false, "ppc64"),
            ("mips64", true, "mips64le"),
            ("mips64", false, "mips64"),
            ("loongarch64", true, "loong64"),
        ];
        for (rust, little, go) in cases {
            assert_eq!(go_arch(rust, little), go, "{rust}");
        }
        assert_eq!(go_os("linux"), "linux");
        assert_eq!(go_os("macos"), "darwin");
        assert_eq!(go_os("windows"), "windows");
    }

    #[test]
    fn the_host_is_labelled_as_a_kubelet_labels_its_node() {
        let labels = host_node_labels();
        let arch = go_arch(std::env::consts::ARCH, cfg!(target_endian = "little"));
        assert_eq!(labels["kubernetes.io/arch"], arch);
        assert_eq!(labels["beta.kubernetes.io/arch"], arch);
        assert_eq!(labels["kubernetes.io/os"], go_os(std::env::consts::OS));
        assert_eq!(labels["beta.kubernetes.io/os"], go_os(std::env::consts::OS));
        if let Some(host) = labels.get("kubernetes.io/hostname") {
            assert!(!host.is_empty());
            assert_eq!(host, &host.to_lowercase());
            assert_eq!(host, host.trim());
        }
        assert!(labels.len() == 4 || labels.len() == 5, "{labels:?}");
    }
}
