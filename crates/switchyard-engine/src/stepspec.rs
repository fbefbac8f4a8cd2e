//! Turning a resolved container or script template into a [`StepSpec`]: the command and
//! arguments (Kubernetes `$(VAR)` expansion, `$$` escaping), the environment, the script
//! source, the output parameter files and the time limit.
//!
//! Every input parameter also reaches the process as an environment variable named
//! `INPUT_PARAMETER_<NAME>` (the name upper-cased, every character other than a letter or
//! digit replaced by `_`; see [`crate::naming::input_env_name`]), so a script can read
//! parameters as data instead of having them pasted into its source. A variable of the same
//! name in the container's `env` wins.

use std::collections::BTreeMap;
use std::time::Duration;

use switchyard_model::workflow::{Container, Inputs, Template};

use crate::naming::{expand_k8s_vars, input_env_name};
use crate::state::{Library, SecretEnvRef};
use crate::step::{OutputCapture, StepSpec};

/// What [`build`] needs.
pub(crate) struct Request<'a> {
    pub step_id: String,
    pub run: &'a str,
    /// The template with its body substituted.
    pub template: &'a Template,
    /// The container to run (the template's, a script's, or one of a container set).
    pub container: &'a Container,
    pub inputs: &'a Inputs,
    pub timeout: Option<Duration>,
    /// The run's library: ConfigMap data, and the host commands that stand in for image
    /// entrypoints.
    pub library: &'a Library,
}

/// A step and the Secret-backed variables the shell must add to its environment.
pub(crate) struct Built {
    pub spec: StepSpec,
    pub secret_env: Vec<SecretEnvRef>,
}

/// An environment under construction: setting a name again replaces its value in place.
#[derive(Default)]
struct Env(Vec<(String, String)>);

impl Env {
    fn set(&mut self, name: String, value: String) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 = value,
            None => self.0.push((name, value)),
        }
    }

    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
}

pub(crate) fn build(r: Request<'_>) -> Result<Built, String> {
    let name = crate::exec::template_label(r.template.name());
    let c = r.container;
    // Kubernetes: without a `command` the image's entrypoint runs, followed by `args`. The
    // stand-in's words are the image's, not the manifest's: no `$(VAR)` expansion in them.
    let entrypoint = if c.command.is_empty() {
        Some(image_entrypoint(r.library, c.image.as_deref()).map_err(|e| format!("{name}: {e}"))?)
    } else {
        None
    };
    let mut env = Env::default();
    let mut secret_env = Vec::new();
    for p in &r.inputs.parameters {
        if let Some(v) = &p.value {
            env.set(input_env_name(&p.name), v.0.clone());
        }
    }
    for from in &c.env_from {
        let prefix = from.prefix.clone().unwrap_or_default();
        if let Some(cm) = &from.config_map_ref {
            match r.library.config_maps.get(&cm.name) {
                Some(data) => {
                    for (k, v) in data {
                        env.set(format!("{prefix}{k}"), v.clone());
                    }
                }
                None if cm.optional == Some(true) => {}
                None => {
                    return Err(format!(
                        "{name}: envFrom: ConfigMap `{}` not found",
                        cm.name
                    ));
                }
            }
        }
        if let Some(s) = &from.secret_ref {
            secret_env.push(SecretEnvRef {
                name: prefix.clone(),
                secret: s.name.clone(),
                key: None,
                optional: s.optional == Some(true),
            });
        }
    }
    for e in &c.env {
        if let Some(source) = &e.value_from {
            if let Some(cm) = &source.config_map_key_ref {
                match r
                    .library
                    .config_maps
                    .get(&cm.name)
                    .and_then(|d| d.get(&cm.key))
                {
                    Some(v) => env.set(e.name.clone(), v.clone()),
                    None if cm.is_optional() => {}
                    None => {
                        return Err(format!(
                            "{name}: env `{}`: key `{}` of ConfigMap `{}` not found",
                            e.name, cm.key, cm.name
                        ));
                    }
                }
            } else if let Some(s) = &source.secret_key_ref {
                secret_env.push(SecretEnvRef {
                    name: e.name.clone(),
                    secret: s.name.clone(),
                    key: Some(s.key.clone()),
                    optional: s.is_optional(),
                });
            } else {
                return Err(format!(
                    "{name}: env `{}`: only `configMapKeyRef` and `secretKeyRef` are supported \
                     by the local executor",
                    e.name
                ));
            }
            continue;
        }
        let raw = e.value.clone().unwrap_or_default();
        let value = expand_k8s_vars(&raw, &|n| env.get(n));
        env.set(e.name.clone(), value);
    }
    let lookup = |n: &str| env.get(n);
    let command = match entrypoint {
        Some(entrypoint) => entrypoint.to_vec(),
        None => c
            .command
            .iter()
            .map(|s| expand_k8s_vars(s, &lookup))
            .collect(),
    };
    let args = c.args.iter().map(|s| expand_k8s_vars(s, &lookup)).collect();
    let output_paths = r
        .template
        .outputs
        .parameters
        .iter()
        .filter_map(|p| {
            p.value_from
                .as_ref()
                .and_then(|f| f.path.clone())
                .map(|path| (p.name.clone(), path))
        })
        .collect();
    let script_source = r.template.script.as_ref().map(|s| s.source.clone());
    Ok(Built {
        spec: StepSpec {
            id: r.step_id,
            run: r.run.to_string(),
            image: c.image.clone(),
            command,
            args,
            env: env.0,
            working_dir: c.working_dir.clone(),
            script_source,
            files: BTreeMap::new(),
            output_paths,
            timeout: r.timeout,
            capture: OutputCapture::default(),
        },
        secret_env,
    })
}

/// The host command that stands in for the entrypoint of a container's image, for a
/// container without a `command`.
pub(crate) fn image_entrypoint<'a>(
    library: &'a Library,
    image: Option<&str>,
) -> Result<&'a [String], String> {
    let Some(image) = image.filter(|i| !i.trim().is_empty()) else {
        return Err("the container has neither a `command` nor an `image`: set `command`".into());
    };
    match library.image_entrypoint(image) {
        Some([]) => Err(format!(
            "the container has no `command` and image `{image}` is mapped to an empty host \
             command: map it to a program to run"
        )),
        Some(entrypoint) => Ok(entrypoint),
        None => Err(format!(
            "the container has no `command`, and the local executor cannot run the entrypoint \
             of image `{image}`: set `command`, or map the image to a host command with \
             --image-entrypoint"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(v: serde_json::Value) -> Template {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn builds_env_command_and_outputs() {
        let t = template(json!({
            "name": "t",
            "outputs": {"parameters": [{"name": "out", "valueFrom": {"path": "/tmp/out"}}]},
            "container": {
                "image": "alpine",
                "command": ["sh", "-c"],
                "args": ["echo $(GREETING) $$(GREETING) $(NOPE) $(INPUT_PARAMETER_WHO)"],
                "env": [
                    {"name": "NAME", "value": "world"},
                    {"name": "GREETING", "value": "hello $(NAME)"},
                    {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}},
                    {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
                    {"name": "INPUT_PARAMETER_WHO", "value": "overridden"}
                ],
                "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "cfg"}}, {"secretRef": {"name": "all"}}],
                "workingDir": "/work"
            }
        }));
        let inputs: Inputs = serde_json::from_value(
            json!({"parameters": [{"name": "who", "value": "data; rm -rf /"}]}),
        )
        .unwrap();
        let library = Library {
            config_maps: BTreeMap::from([(
                "cfg".to_string(),
                BTreeMap::from([("mode".to_string(), "fast".to_string())]),
            )]),
            ..Library::default()
        };
        let c = t.main_container().unwrap();
        let built = build(Request {
            step_id: "wf-1".into(),
            run: "wf",
            template: &t,
            container: &c,
            inputs: &inputs,
            timeout: Some(Duration::from_secs(5)),
            library: &library,
        })
        .unwrap();
        let s = built.spec;
        assert_eq!(s.command, ["sh", "-c"]);
        assert_eq!(s.args, ["echo hello world $(GREETING) $(NOPE) overridden"]);
        let env: Vec<(&str, &str)> = s
            .env
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        assert_eq!(
            env,
            [
                ("INPUT_PARAMETER_WHO", "overridden"),
                ("CFG_mode", "fast"),
                ("NAME", "world"),
                ("GREETING", "hello world"),
                ("MODE", "fast"),
            ]
        );
        assert_eq!(
            s.output_paths,
            BTreeMap::from([("out".into(), "/tmp/out".into())])
        );
        assert_eq!(s.working_dir.as_deref(), Some("/work"));
        assert_eq!(s.image.as_deref(), Some("alpine"));
        assert_eq!(s.timeout, Some(Duration::from_secs(5)));
        assert_eq!(
            built.secret_env,
            [
                SecretEnvRef {
                    name: "".into(),
                    secret: "all".into(),
                    key: None,
                    optional: false
                },
                SecretEnvRef {
                    name: "TOKEN".into(),
                    secret: "creds".into(),
                    key: Some("token".into()),
                    optional: false
                },
            ]
        );
    }

    #[test]
    fn refuses_what_it_cannot_run() {
        let library = Library {
            image_entrypoints: BTreeMap::from([("hollow".to_string(), Vec::new())]),
            ..Library::default()
        };
        let inputs = Inputs::default();
        let cases = [
            (
                json!({"name": "a", "container": {"image": "alpine"}}),
                "template `a`: the container has no `command`, and the local executor cannot run \
                 the entrypoint of image `alpine`: set `command`, or map the image to a host \
                 command with --image-entrypoint",
            ),
            (
                json!({"name": "a", "container": {"args": ["x"]}}),
                "the container has neither a `command` nor an `image`",
            ),
            (
                json!({"name": "a", "container": {"image": "hollow:1"}}),
                "image `hollow:1` is mapped to an empty host command",
            ),
            (
                json!({"name": "b", "container": {"image": "x", "command": ["x"], "env": [{"name": "M", "valueFrom": {"configMapKeyRef": {"name": "none", "key": "k"}}}]}}),
                "key `k` of ConfigMap `none` not found",
            ),
            (
                json!({"name": "c", "container": {"image": "x", "command": ["x"], "envFrom": [{"configMapRef": {"name": "gone"}}]}}),
                "ConfigMap `gone` not found",
            ),
        ];
        for (t, want) in cases {
            let t = template(t);
            let c = t.main_container().unwrap();
            let err = build(Request {
                step_id: "s".into(),
                run: "wf",
                template: &t,
                container: &c,
                inputs: &inputs,
                timeout: None,
                library: &library,
            })
            .err()
            .unwrap();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn scripts_carry_their_source() {
        let t = template(
            json!({"name": "s", "script": {"image": "python", "command": ["python"], "source": "print(1)"}}),
        );
        let c = t.main_container().unwrap();
        let built = build(Request {
            step_id: "s".into(),
            run: "wf",
            template: &t,
            container: &c,
            inputs: &Inputs::default(),
            timeout: None,
            library: &Library::default(),
        })
        .unwrap();
        assert_eq!(built.spec.command, ["python"]);
        assert_eq!(built.spec.script_source.as_deref(), Some("print(1)"));
    }

    #[test]
    fn a_container_without_command_runs_its_image_entrypoint_with_its_args() {
        let library = Library {
            image_entrypoints: BTreeMap::from([
                (
                    "argoproj/argosay".to_string(),
                    strings(&["/opt/switchyard", "__argosay", "$(GREETING)"]),
                ),
                ("alpine:3.19".to_string(), strings(&["busybox-3.19"])),
            ]),
            ..Library::default()
        };
        let build_with = |container: serde_json::Value| {
            let t = template(json!({"name": "t", "container": container}));
            let c = t.main_container().unwrap();
            build(Request {
                step_id: "s".into(),
                run: "wf",
                template: &t,
                container: &c,
                inputs: &Inputs::default(),
                timeout: None,
                library: &library,
            })
            .map(|b| (b.spec.command, b.spec.args))
        };
        // The manifest's args are expanded; the stand-in's words are taken as they are.
        assert_eq!(
            build_with(json!({
                "image": "docker.io/argoproj/argosay:v2",
                "args": ["echo", "$(GREETING)"],
                "env": [{"name": "GREETING", "value": "hi"}]
            })),
            Ok((
                strings(&["/opt/switchyard", "__argosay", "$(GREETING)"]),
                strings(&["echo", "hi"])
            ))
        );
        assert_eq!(
            build_with(json!({"image": "alpine:3.19"})),
            Ok((strings(&["busybox-3.19"]), Vec::new()))
        );
        // A command of its own wins over the image's.
        assert_eq!(
            build_with(json!({"image": "argoproj/argosay:v2", "command": ["cat"], "args": ["f"]})),
            Ok((strings(&["cat"]), strings(&["f"])))
        );
        // Another tag of a repository mapped only with a tag is not the same image.
        let err = build_with(json!({"image": "alpine:3.20", "args": ["ls"]})).unwrap_err();
        assert!(err.contains("image `alpine:3.20`"), "{err}");
    }

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }
}
