//! `nodeSelector` on the one node steps run on: a pod whose selector the node's labels
//! satisfy starts; another one waits `Pending` with the scheduler's message until the
//! workflow deadline, a template `timeout`, stop or terminate ends it. Pure state-machine
//! tests: no processes, no clock.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Run, strings};
use serde_json::json;
use switchyard_engine::{Command, Library, NodePhase, StopReason, restart_actions};

const UNSCHEDULABLE: &str = "Unschedulable: 0/1 nodes are available: 1 node(s) didn't match \
     Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not \
     helpful for scheduling.";

/// A Linux amd64 machine called `builder`, as a kubelet labels it.
fn linux_amd64() -> Library {
    Library {
        node_labels: [
            ("beta.kubernetes.io/arch", "amd64"),
            ("beta.kubernetes.io/os", "linux"),
            ("kubernetes.io/arch", "amd64"),
            ("kubernetes.io/hostname", "builder"),
            ("kubernetes.io/os", "linux"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        ..Library::default()
    }
}

fn echo(name: &str, selector: serde_json::Value) -> serde_json::Value {
    json!({"name": name, "nodeSelector": selector,
           "container": {"image": "alpine", "command": ["echo", name]}})
}

fn one_pod(selector: serde_json::Value) -> serde_json::Value {
    json!({"entrypoint": "main", "templates": [echo("main", selector)]})
}

#[test]
fn a_pod_whose_selector_the_node_satisfies_starts() {
    let (mut run, a) = Run::start_with(
        one_pod(json!({"kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64"})),
        linux_amd64(),
    );
    assert_eq!(a, strings(&["start wf"]));
    assert_eq!(
        run.run("wf", 0, "main\n", 1),
        strings(&["cleanup wf", "finished Succeeded"])
    );
}

#[test]
fn a_pod_the_node_cannot_take_waits_pending_and_is_never_started() {
    let (mut run, a) = Run::start_with(
        one_pod(json!({"beta.kubernetes.io/arch": "no-such-arch"})),
        linux_amd64(),
    );
    assert_eq!(a, Vec::<String>::new());
    assert_eq!(
        run.nodes(),
        vec![format!("wf Pod Pending ({UNSCHEDULABLE})")]
    );
    assert!(run.st.node_by_name("wf").unwrap().step.is_none());
    assert_eq!(run.wf_phase(), "Running");
    assert_eq!(run.st.status.progress, "0/1");
    // Nothing wakes it and nothing moves it.
    assert!(run.st.timers.is_empty());
    assert_eq!(run.tick(3600), Vec::<String>::new());
    assert_eq!(run.phase("wf"), NodePhase::Pending);
    assert!(restart_actions(&run.st).is_empty());
    // A label with the right key but another value does not do either.
    let (run, a) = Run::start_with(
        one_pod(json!({"kubernetes.io/os": "windows"})),
        linux_amd64(),
    );
    assert_eq!(a, Vec::<String>::new());
    assert_eq!(run.message("wf").as_deref(), Some(UNSCHEDULABLE));
}

/// Argo's `timeouts-workflow.yaml`: sleeps next to pods no node takes, under a deadline.
fn timeouts_workflow() -> serde_json::Value {
    json!({
        "activeDeadlineSeconds": 30,
        "entrypoint": "bunch-of-sleeps",
        "templates": [
            {"name": "bunch-of-sleeps", "steps": [[
                {"name": "sleep-one-day", "template": "sleep", "withItems": [1, 2]},
                {"name": "unschedulable", "template": "unschedulable", "withItems": [1, 2]}
            ]]},
            {"name": "sleep", "container": {"image": "busybox", "command": ["sleep", "1d"]}},
            // No command, on an image with no known entrypoint: it never runs, so submit
            // takes it.
            {"name": "unschedulable", "nodeSelector": {"beta.kubernetes.io/arch": "no-such-arch"},
             "container": {"image": "alpine:3.23"}}
        ]
    })
}

#[test]
fn the_workflow_deadline_fails_the_waiting_pods_as_argo_does() {
    let (mut run, a) = Run::start_with(timeouts_workflow(), linux_amd64());
    assert_eq!(
        a,
        strings(&[
            "start wf[0].sleep-one-day(0:1)",
            "start wf[0].sleep-one-day(1:2)",
            "wake 30"
        ])
    );
    run.started("wf[0].sleep-one-day(0:1)", 1);
    run.started("wf[0].sleep-one-day(1:2)", 1);
    assert_eq!(run.tick(29), Vec::<String>::new());
    assert_eq!(
        run.tick(30),
        // In the order of their node ids.
        strings(&[
            "stop wf[0].sleep-one-day(1:2) Deadline",
            "stop wf[0].sleep-one-day(0:1) Deadline"
        ])
    );
    assert_eq!(
        run.phase("wf[0].unschedulable(0:1)"),
        NodePhase::Failed,
        "{:#?}",
        run.nodes()
    );
    run.stopped("wf[0].sleep-one-day(0:1)", StopReason::Deadline, 31);
    assert_eq!(
        run.stopped("wf[0].sleep-one-day(1:2)", StopReason::Deadline, 31),
        strings(&["cleanup wf[0].sleep-one-day(1:2)", "finished Failed"])
    );
    let failed = |name: &str| format!("{name} Pod Failed (Step exceeded its deadline)");
    let child = format!("child '{}' failed", run.id("wf[0].sleep-one-day(0:1)"));
    assert_eq!(
        run.nodes(),
        vec![
            format!("wf Steps Failed ({child})"),
            format!("wf[0] StepGroup Failed ({child})"),
            failed("wf[0].sleep-one-day(0:1)"),
            failed("wf[0].sleep-one-day(1:2)"),
            failed("wf[0].unschedulable(0:1)"),
            failed("wf[0].unschedulable(1:2)"),
        ]
    );
    assert_eq!(run.wf_phase(), "Failed");
    assert_eq!(run.st.status.message.as_deref(), Some(child.as_str()));
}

#[test]
fn a_waiting_pod_survives_a_restart_and_still_meets_its_deadline() {
    let spec = json!({
        "activeDeadlineSeconds": 30,
        "entrypoint": "main",
        "templates": [echo("main", json!({"disk": "ssd"}))]
    });
    let (mut run, a) = Run::start_with(spec, linux_amd64());
    assert_eq!(a, strings(&["wake 30"]));
    // What the shell stores and loads back.
    let stored = serde_json::to_string(&run.st).unwrap();
    run.st = serde_json::from_str(&stored).unwrap();
    assert_eq!(run.st.library, linux_amd64());
    let again: Vec<String> = restart_actions(&run.st)
        .iter()
        .map(|a| run.describe(a))
        .collect();
    assert_eq!(again, strings(&["wake 30"]));
    assert_eq!(run.tick(12), Vec::<String>::new());
    assert_eq!(run.message("wf").as_deref(), Some(UNSCHEDULABLE));
    assert_eq!(run.tick(30), strings(&["finished Failed"]));
    assert_eq!(
        run.nodes(),
        strings(&["wf Pod Failed (Step exceeded its deadline)"])
    );
    assert_eq!(
        run.st.status.message.as_deref(),
        Some("Step exceeded its deadline")
    );
}

#[test]
fn stop_and_terminate_end_a_run_that_waits_for_a_node() {
    for (cmd, strategy) in [
        (
            Command::Stop {
                by: "ops".into(),
                message: None,
            },
            "Stop",
        ),
        (
            Command::Terminate {
                by: "ops".into(),
                message: None,
            },
            "Terminate",
        ),
    ] {
        let (mut run, _) = Run::start_with(
            json!({
                "entrypoint": "main",
                "onExit": "bye",
                "templates": [
                    {"name": "main", "steps": [[{"name": "gpu", "template": "gpu"}]]},
                    echo("gpu", json!({"nvidia.com/gpu.present": "true"})),
                    echo("bye", json!({}))
                ]
            }),
            linux_amd64(),
        );
        assert_eq!(run.message("wf[0].gpu").as_deref(), Some(UNSCHEDULABLE));
        let stopped = format!("Stopped with strategy '{strategy}'");
        let a = run.cmd(cmd, 5);
        assert_eq!(
            run.nodes()
                .into_iter()
                .filter(|n| n.starts_with("wf[0].gpu"))
                .collect::<Vec<_>>(),
            vec![format!("wf[0].gpu Pod Failed ({stopped})")]
        );
        if strategy == "Stop" {
            // The exit handler still runs (its pod fits).
            assert_eq!(a, strings(&["start wf.onExit"]));
            assert_eq!(
                run.run("wf.onExit", 0, "", 6),
                strings(&["cleanup wf.onExit", "finished Failed"])
            );
        } else {
            assert_eq!(a, strings(&["finished Failed"]));
            assert!(run.st.node_by_name("wf.onExit").is_none());
        }
        assert_eq!(run.st.status.message.as_deref(), Some(stopped.as_str()));
    }
}

#[test]
fn the_template_selector_replaces_the_workflows_and_the_boundarys() {
    let selector_of = |spec: serde_json::Value| {
        let (run, a) = Run::start_with(spec, linux_amd64());
        (a.iter().any(|a| a.starts_with("start ")), run)
    };
    // The template's own selector is the whole of it: the workflow's does not add to it.
    let (started, _) = selector_of(json!({
        "nodeSelector": {"disk": "ssd"},
        "entrypoint": "main",
        "templates": [echo("main", json!({"kubernetes.io/os": "linux"}))]
    }));
    assert!(started);
    // Without one, the workflow's applies.
    let (started, run) = selector_of(json!({
        "nodeSelector": {"disk": "ssd"},
        "entrypoint": "main",
        "templates": [echo("main", json!({}))]
    }));
    assert!(!started);
    assert_eq!(run.message("wf").as_deref(), Some(UNSCHEDULABLE));
    // The steps template a pod runs in comes before the workflow.
    let steps = |boundary: serde_json::Value, leaf: serde_json::Value| {
        json!({
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "entrypoint": "main",
            "templates": [
                {"name": "main", "nodeSelector": boundary,
                 "steps": [[{"name": "a", "template": "leaf"}]]},
                echo("leaf", leaf)
            ]
        })
    };
    let (started, run) = selector_of(steps(json!({"kubernetes.io/os": "windows"}), json!({})));
    assert!(!started);
    assert_eq!(run.message("wf[0].a").as_deref(), Some(UNSCHEDULABLE));
    let (started, _) = selector_of(steps(
        json!({"kubernetes.io/os": "windows"}),
        json!({"kubernetes.io/arch": "amd64"}),
    ));
    assert!(started);
    let (started, _) = selector_of(steps(json!({}), json!({})));
    assert!(started);
    // The same for a DAG.
    let (started, run) = selector_of(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "nodeSelector": {"kubernetes.io/hostname": "other"},
             "dag": {"tasks": [{"name": "a", "template": "leaf"}]}},
            echo("leaf", json!({}))
        ]
    }));
    assert!(!started);
    assert_eq!(run.message("wf.a").as_deref(), Some(UNSCHEDULABLE));
}

#[test]
fn template_defaults_merge_into_the_templates_selector_key_by_key() {
    let spec = |defaults: serde_json::Value| {
        json!({
            "templateDefaults": {"nodeSelector": defaults},
            "entrypoint": "main",
            "templates": [echo("main", json!({"kubernetes.io/os": "linux"}))]
        })
    };
    let (_, a) = Run::start_with(spec(json!({"kubernetes.io/arch": "amd64"})), linux_amd64());
    assert_eq!(a, strings(&["start wf"]));
    let (run, a) = Run::start_with(spec(json!({"kubernetes.io/arch": "arm64"})), linux_amd64());
    assert_eq!(a, Vec::<String>::new());
    assert_eq!(run.message("wf").as_deref(), Some(UNSCHEDULABLE));
    // The template's own value of a key wins over the default's.
    let (_, a) = Run::start_with(spec(json!({"kubernetes.io/os": "windows"})), linux_amd64());
    assert_eq!(a, strings(&["start wf"]));
}

#[test]
fn selectors_are_substituted_before_they_are_matched() {
    let spec = |arch: &str| {
        json!({
            "arguments": {"parameters": [{"name": "arch", "value": arch}]},
            "entrypoint": "main",
            "templates": [
                {"name": "main", "inputs": {"parameters": [{"name": "arch"}]},
                 "nodeSelector": {"beta.kubernetes.io/arch": "{{inputs.parameters.arch}}"},
                 "container": {"image": "alpine", "command": ["uname", "-a"]}}
            ],
        })
    };
    let with_args = |arch: &str| {
        let mut s = spec(arch);
        s["templates"][0]["inputs"]["parameters"][0]["value"] =
            json!("{{workflow.parameters.arch}}");
        s
    };
    let (_, a) = Run::start_with(with_args("amd64"), linux_amd64());
    assert_eq!(a, strings(&["start wf"]));
    let (run, a) = Run::start_with(with_args("arm64"), linux_amd64());
    assert_eq!(a, Vec::<String>::new());
    assert_eq!(run.message("wf").as_deref(), Some(UNSCHEDULABLE));
    // The workflow's own selector sees the workflow's parameters.
    let workflow_level = |arch: &str| {
        json!({
            "arguments": {"parameters": [{"name": "arch", "value": arch}]},
            "nodeSelector": {"kubernetes.io/arch": "{{workflow.parameters.arch}}"},
            "entrypoint": "main",
            "templates": [echo("main", json!({}))]
        })
    };
    let (_, a) = Run::start_with(workflow_level("amd64"), linux_amd64());
    assert_eq!(a, strings(&["start wf"]));
    let (_, a) = Run::start_with(workflow_level("s390x"), linux_amd64());
    assert_eq!(a, Vec::<String>::new());
}

#[test]
fn a_template_timeout_counts_the_time_spent_pending_and_active_deadline_does_not() {
    for field in ["timeout", "pendingTimeout"] {
        let mut tmpl = echo("main", json!({"disk": "ssd"}));
        tmpl[field] = json!("10s");
        let (mut run, a) = Run::start_with(
            json!({"entrypoint": "main", "templates": [tmpl]}),
            linux_amd64(),
        );
        assert_eq!(a, strings(&["wake 10"]), "{field}");
        assert_eq!(run.tick(9), Vec::<String>::new());
        assert_eq!(run.tick(10), strings(&["finished Failed"]), "{field}");
        assert_eq!(run.nodes(), strings(&["wf Pod Failed (timeout)"]));
        assert_eq!(run.st.status.message.as_deref(), Some("timeout"));
    }
    // The earlier of the two.
    let mut tmpl = echo("main", json!({"disk": "ssd"}));
    tmpl["timeout"] = json!("1m");
    tmpl["pendingTimeout"] = json!("20s");
    let (_, a) = Run::start_with(
        json!({"entrypoint": "main", "templates": [tmpl]}),
        linux_amd64(),
    );
    assert_eq!(a, strings(&["wake 20"]));
    // Kubernetes counts a pod's activeDeadlineSeconds from its start on a node.
    let mut tmpl = echo("main", json!({"disk": "ssd"}));
    tmpl["activeDeadlineSeconds"] = json!(10);
    let (mut run, a) = Run::start_with(
        json!({"entrypoint": "main", "templates": [tmpl]}),
        linux_amd64(),
    );
    assert_eq!(a, Vec::<String>::new());
    assert_eq!(run.tick(600), Vec::<String>::new());
    assert_eq!(run.phase("wf"), NodePhase::Pending);
}

#[test]
fn a_container_set_the_node_cannot_take_waits_without_its_containers() {
    let (mut run, a) = Run::start_with(
        json!({
            "activeDeadlineSeconds": 30,
            "entrypoint": "main",
            "templates": [{"name": "main", "nodeSelector": {"kubernetes.io/os": "windows"},
                "containerSet": {"containers": [
                    {"name": "a", "image": "alpine", "command": ["true"]},
                    {"name": "main", "image": "alpine", "command": ["true"], "dependencies": ["a"]}
                ]}}]
        }),
        linux_amd64(),
    );
    assert_eq!(a, strings(&["wake 30"]));
    assert_eq!(
        run.nodes(),
        vec![format!("wf Pod Pending ({UNSCHEDULABLE})")]
    );
    assert_eq!(run.tick(30), strings(&["finished Failed"]));
    assert_eq!(
        run.nodes(),
        strings(&["wf Pod Failed (Step exceeded its deadline)"])
    );
}

#[test]
fn submit_takes_a_pod_that_cannot_run_here_only_if_no_node_takes_it() {
    let spec = |selector: serde_json::Value| {
        json!({"entrypoint": "main", "templates": [
            {"name": "main", "nodeSelector": selector, "container": {"image": "alpine:3.23"}}
        ]})
    };
    let submit = |spec: serde_json::Value| {
        switchyard_engine::submit(
            "wf",
            "default",
            "u",
            &common::workflow(spec),
            linux_amd64(),
            common::t(0),
        )
    };
    assert!(submit(spec(json!({"beta.kubernetes.io/arch": "no-such-arch"}))).is_ok());
    let err = submit(spec(json!({"beta.kubernetes.io/arch": "amd64"}))).unwrap_err();
    assert_eq!(err.problems().len(), 1);
    assert_eq!(
        err.problems()[0].path,
        "spec.templates[0].container.command"
    );
    // A selector known only when the run substitutes it is judged then.
    assert!(submit(spec(json!({"kubernetes.io/arch": "{{workflow.name}}"}))).is_err());
}

#[test]
fn in_a_dag_the_deadline_fails_the_waiting_task_and_omits_what_depends_on_it() {
    let (mut run, a) = Run::start_with(
        json!({
            "activeDeadlineSeconds": 30,
            "entrypoint": "main",
            "templates": [
                {"name": "main", "dag": {"tasks": [
                    {"name": "gpu", "template": "gpu"},
                    {"name": "cpu", "template": "cpu"},
                    {"name": "after", "template": "cpu", "depends": "gpu && cpu"}
                ]}},
                echo("gpu", json!({"nvidia.com/gpu.present": "true"})),
                echo("cpu", json!({}))
            ]
        }),
        linux_amd64(),
    );
    assert_eq!(a, strings(&["start wf.cpu", "wake 30"]));
    assert_eq!(run.run("wf.cpu", 0, "", 2), strings(&["cleanup wf.cpu"]));
    assert_eq!(run.message("wf.gpu").as_deref(), Some(UNSCHEDULABLE));
    assert_eq!(run.tick(30), strings(&["finished Failed"]));
    assert_eq!(
        run.nodes(),
        strings(&[
            "wf DAG Failed",
            "wf.after Skipped Omitted (omitted: depends condition not met)",
            "wf.cpu Pod Succeeded",
            "wf.gpu Pod Failed (Step exceeded its deadline)",
        ])
    );
}
