//! Action-sequence tests of the engine: commands in, exact actions and node phases out.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Run, strings};
use serde_json::json;
use switchyard_engine::{Command, NodePhase};

fn echo(name: &str) -> serde_json::Value {
    json!({"name": name, "container": {"image": "alpine", "command": ["echo", name]}})
}

#[test]
fn hello_world() {
    let (mut run, a) = Run::start(json!({
        "entrypoint": "main",
        "templates": [{"name": "main", "container": {"image": "busybox", "command": ["echo"], "args": ["hello world"]}}]
    }));
    assert_eq!(a, strings(&["start wf"]));
    assert_eq!(run.nodes(), strings(&["wf Pod Pending"]));
    assert_eq!(run.spec("wf").command, ["echo"]);
    assert_eq!(run.spec("wf").args, ["hello world"]);
    assert_eq!(run.spec("wf").image.as_deref(), Some("busybox"));
    assert_eq!(run.spec("wf").id, "wf");
    assert_eq!(run.started("wf", 1), Vec::<String>::new());
    assert_eq!(run.nodes(), strings(&["wf Pod Running"]));
    assert_eq!(run.tick(2), Vec::<String>::new());
    assert_eq!(
        run.exited("wf", 0, "hello world", 3),
        strings(&["cleanup wf", "finished Succeeded"])
    );
    assert_eq!(run.nodes(), strings(&["wf Pod Succeeded"]));
    assert_eq!(run.wf_phase(), "Succeeded");
    assert_eq!(run.st.status.progress, "1/1");
    let root = run.st.root().unwrap();
    let outputs = root.outputs.as_ref().unwrap();
    assert_eq!(outputs.result.as_deref(), Some("hello world"));
    assert_eq!(outputs.exit_code.as_deref(), Some("0"));
    assert_eq!(run.st.status.finished_at, Some(common::t(3)));
    // Nothing more happens.
    assert_eq!(run.tick(10), Vec::<String>::new());
}

#[test]
fn steps_run_group_after_group() {
    let (mut run, a) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [
                [{"name": "a", "template": "echo"}],
                [{"name": "b1", "template": "echo"}, {"name": "b2", "template": "echo"}],
                [{"name": "c", "template": "echo"}]
            ]},
            {"name": "echo", "container": {"image": "alpine", "command": ["echo", "{{steps.name}}", "{{pod.name}}"]}}
        ]
    }));
    assert_eq!(a, strings(&["start wf[0].a"]));
    assert_eq!(
        run.spec("wf[0].a").command,
        [
            "echo",
            "a",
            &format!("wf-echo-{}", switchyard_engine::naming::fnv1a_32("wf[0].a"))
        ]
    );
    assert_eq!(
        run.run("wf[0].a", 0, "", 1),
        strings(&["cleanup wf[0].a", "start wf[1].b1", "start wf[1].b2"])
    );
    assert_eq!(
        run.run("wf[1].b2", 0, "", 2),
        strings(&["cleanup wf[1].b2"])
    );
    assert_eq!(
        run.run("wf[1].b1", 0, "", 3),
        strings(&["cleanup wf[1].b1", "start wf[2].c"])
    );
    assert_eq!(
        run.run("wf[2].c", 0, "", 4),
        strings(&["cleanup wf[2].c", "finished Succeeded"])
    );
    assert_eq!(
        run.nodes(),
        strings(&[
            "wf Steps Succeeded",
            "wf[0] StepGroup Succeeded",
            "wf[0].a Pod Succeeded",
            "wf[1] StepGroup Succeeded",
            "wf[1].b1 Pod Succeeded",
            "wf[1].b2 Pod Succeeded",
            "wf[2] StepGroup Succeeded",
            "wf[2].c Pod Succeeded",
        ])
    );
    // Argo's graph: groups hang under the previous group's steps.
    assert_eq!(run.children("wf"), strings(&["wf[0]"]));
    assert_eq!(run.children("wf[0]"), strings(&["wf[0].a"]));
    assert_eq!(run.children("wf[0].a"), strings(&["wf[1]"]));
    assert_eq!(run.children("wf[1]"), strings(&["wf[1].b1", "wf[1].b2"]));
    assert_eq!(run.children("wf[1].b1"), strings(&["wf[2]"]));
    assert_eq!(run.children("wf[1].b2"), strings(&["wf[2]"]));
    let root = run.st.root().unwrap();
    assert_eq!(root.outbound_nodes, vec![run.id("wf[2].c")]);
    let b1 = run.st.node_by_name("wf[1].b1").unwrap();
    assert_eq!(b1.display_name, "b1");
    assert_eq!(b1.boundary_id.as_deref(), Some("wf"));
    assert_eq!(b1.template_name.as_deref(), Some("echo"));
    assert_eq!(run.st.node_by_name("wf[1]").unwrap().display_name, "[1]");
    assert_eq!(run.st.status.progress, "4/4");
    assert_eq!(run.st.root().unwrap().progress.as_deref(), Some("4/4"));
}

fn diamond(extra: serde_json::Value) -> serde_json::Value {
    let mut dag = json!({"tasks": [
        {"name": "A", "template": "echo"},
        {"name": "B", "dependencies": ["A"], "template": "echo"},
        {"name": "C", "dependencies": ["A"], "template": "echo"},
        {"name": "D", "dependencies": ["B", "C"], "template": "echo"}
    ]});
    if let (Some(d), Some(e)) = (dag.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            d.insert(k.clone(), v.clone());
        }
    }
    json!({"entrypoint": "diamond", "templates": [{"name": "diamond", "dag": dag}, echo("echo")]})
}

#[test]
fn dag_diamond() {
    let (mut run, a) = Run::start(diamond(json!({})));
    assert_eq!(a, strings(&["start wf.A"]));
    assert_eq!(
        run.run("wf.A", 0, "", 1),
        strings(&["cleanup wf.A", "start wf.B", "start wf.C"])
    );
    assert_eq!(run.run("wf.C", 0, "", 2), strings(&["cleanup wf.C"]));
    assert_eq!(
        run.run("wf.B", 0, "", 3),
        strings(&["cleanup wf.B", "start wf.D"])
    );
    assert_eq!(
        run.run("wf.D", 0, "", 4),
        strings(&["cleanup wf.D", "finished Succeeded"])
    );
    assert_eq!(
        run.nodes(),
        strings(&[
            "wf DAG Succeeded",
            "wf.A Pod Succeeded",
            "wf.B Pod Succeeded",
            "wf.C Pod Succeeded",
            "wf.D Pod Succeeded",
        ])
    );
    assert_eq!(run.children("wf"), strings(&["wf.A"]));
    assert_eq!(run.children("wf.A"), strings(&["wf.B", "wf.C"]));
    assert_eq!(run.children("wf.B"), strings(&["wf.D"]));
    assert_eq!(run.children("wf.C"), strings(&["wf.D"]));
    assert_eq!(run.st.node_by_name("wf.D").unwrap().display_name, "D");
}

#[test]
fn dag_target_runs_only_what_the_target_needs() {
    let (mut run, a) = Run::start(diamond(json!({"target": "B"})));
    assert_eq!(a, strings(&["start wf.A"]));
    assert_eq!(
        run.run("wf.A", 0, "", 1),
        strings(&["cleanup wf.A", "start wf.B"])
    );
    assert_eq!(
        run.run("wf.B", 0, "", 2),
        strings(&["cleanup wf.B", "finished Succeeded"])
    );
    assert_eq!(
        run.nodes(),
        strings(&[
            "wf DAG Succeeded",
            "wf.A Pod Succeeded",
            "wf.B Pod Succeeded"
        ])
    );
}

#[test]
fn dag_depends_on_failure_omits_the_success_branch() {
    let (mut run, a) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "dag": {"tasks": [
                {"name": "A", "template": "echo"},
                {"name": "on-success", "depends": "A.Succeeded", "template": "echo"},
                {"name": "on-failure", "depends": "A.Failed", "template": "echo"},
                {"name": "either", "depends": "A.Succeeded || A.Failed", "template": "echo"}
            ]}},
            echo("echo")
        ]
    }));
    assert_eq!(a, strings(&["start wf.A"]));
    assert_eq!(
        run.run("wf.A", 1, "", 1),
        strings(&["cleanup wf.A", "start wf.either", "start wf.on-failure"])
    );
    assert_eq!(
        run.run("wf.either", 0, "", 2),
        strings(&["cleanup wf.either"])
    );
    // Omitted inherits the failed branch, so the DAG fails, as in Argo.
    assert_eq!(
        run.run("wf.on-failure", 0, "", 3),
        strings(&["cleanup wf.on-failure", "finished Failed"])
    );
    assert_eq!(
        run.nodes(),
        strings(&[
            "wf DAG Failed",
            "wf.A Pod Failed (Error (exit code 1))",
            "wf.either Pod Succeeded",
            "wf.on-failure Pod Succeeded",
            "wf.on-success Skipped Omitted (omitted: depends condition not met)",
        ])
    );
}

#[test]
fn when_false_skips_the_step() {
    let (mut run, a) = Run::start(json!({
        "entrypoint": "coinflip",
        "templates": [
            {"name": "coinflip", "steps": [
                [{"name": "flip-coin", "template": "flip-coin"}],
                [
                    {"name": "heads", "template": "heads", "when": "{{steps.flip-coin.outputs.result}} == heads"},
                    {"name": "tails", "template": "heads", "when": "{{steps.flip-coin.outputs.result}} == tails"}
                ]
            ]},
            {"name": "flip-coin", "script": {"image": "python", "command": ["python"], "source": "print('heads')"}},
            echo("heads")
        ]
    }));
    assert_eq!(a, strings(&["start wf[0].flip-coin"]));
    assert_eq!(
        run.spec("wf[0].flip-coin").script_source.as_deref(),
        Some("print('heads')")
    );
    assert_eq!(
        run.run("wf[0].flip-coin", 0, "heads", 1),
        strings(&["cleanup wf[0].flip-coin", "start wf[1].heads"])
    );
    assert_eq!(
        run.message("wf[1].tails").as_deref(),
        Some("when 'heads == tails' evaluated false")
    );
    assert_eq!(
        run.phase("wf[1].tails"),
        switchyard_engine::NodePhase::Skipped
    );
    assert_eq!(
        run.run("wf[1].heads", 0, "", 2),
        strings(&["cleanup wf[1].heads", "finished Succeeded"])
    );
    assert_eq!(run.st.status.progress, "2/2");
    assert_eq!(
        run.children("wf[1]"),
        strings(&["wf[1].heads", "wf[1].tails"])
    );
}

#[test]
fn loops_name_their_iterations_and_aggregate_outputs() {
    let (mut run, a) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [
                [{"name": "gen", "template": "gen"}],
                [
                    {"name": "items", "template": "show", "arguments": {"parameters": [{"name": "v", "value": "{{item.os}}-{{item.v}}"}]},
                     "withItems": [{"os": "debian", "v": 9}, {"os": "ubuntu", "v": 20}]},
                    {"name": "param", "template": "show", "arguments": {"parameters": [{"name": "v", "value": "{{item}}"}]},
                     "withParam": "{{steps.gen.outputs.result}}"},
                    {"name": "seq", "template": "show", "arguments": {"parameters": [{"name": "v", "value": "{{item}}"}]},
                     "withSequence": {"count": "2", "start": "3", "format": "n%02d"}},
                    {"name": "none", "template": "show", "arguments": {"parameters": [{"name": "v", "value": "{{item}}"}]},
                     "withParam": "[]"}
                ],
                [{"name": "sum", "template": "show", "arguments": {"parameters": [
                    {"name": "v", "value": "{{steps.param.outputs.result}} {{steps.seq.outputs.parameters.out}}"}
                ]}}]
            ]},
            {"name": "gen", "script": {"image": "python", "command": ["python"], "source": "print('[1, \"b\"]')"}},
            {"name": "show", "inputs": {"parameters": [{"name": "v"}]},
             "outputs": {"parameters": [{"name": "out", "valueFrom": {"path": "/tmp/out"}}]},
             "container": {"image": "alpine", "command": ["echo", "{{inputs.parameters.v}}"]}}
        ]
    }));
    assert_eq!(a, strings(&["start wf[0].gen"]));
    let a = run.run("wf[0].gen", 0, "[1, \"b\"]", 1);
    assert_eq!(
        a,
        strings(&[
            "cleanup wf[0].gen",
            "start wf[1].items(0:os:debian,v:9)",
            "start wf[1].items(1:os:ubuntu,v:20)",
            "start wf[1].param(0:1)",
            "start wf[1].param(1:b)",
            "start wf[1].seq(0:n03)",
            "start wf[1].seq(1:n04)",
        ])
    );
    assert_eq!(
        run.spec("wf[1].items(1:os:ubuntu,v:20)").command,
        ["echo", "ubuntu-20"]
    );
    assert_eq!(
        run.env("wf[1].param(1:b)", "INPUT_PARAMETER_V").as_deref(),
        Some("b")
    );
    assert_eq!(
        run.message("wf[1].none").as_deref(),
        Some("Skipped, empty params")
    );
    for (i, name) in [
        "wf[1].items(0:os:debian,v:9)",
        "wf[1].items(1:os:ubuntu,v:20)",
        "wf[1].param(1:b)",
        "wf[1].param(0:1)",
        "wf[1].seq(1:n04)",
    ]
    .iter()
    .enumerate()
    {
        let out = format!("o{i}");
        run.started(name, 2);
        run.exited_with(
            name,
            0,
            &format!("{{\"r\": {i}}}"),
            &[("out", Ok(out.as_str()))],
            2,
        );
    }
    let a = run.started("wf[1].seq(0:n03)", 3);
    assert!(a.is_empty());
    let a = run.exited_with("wf[1].seq(0:n03)", 0, "text", &[("out", Ok("first"))], 3);
    assert_eq!(a, strings(&["cleanup wf[1].seq(0:n03)", "start wf[2].sum"]));
    // Results in loop order (JSON results decoded, others kept as strings); one output
    // parameter aggregated as a list of values.
    assert_eq!(
        run.spec("wf[2].sum").command,
        ["echo", r#"[{"r":3},{"r":2}] ["first","o4"]"#]
    );
    run.started("wf[2].sum", 4);
    // A declared output the step did not write errors the step.
    assert_eq!(
        run.exited("wf[2].sum", 0, "", 4),
        strings(&["cleanup wf[2].sum", "finished Failed"])
    );
    assert_eq!(
        run.message("wf[2].sum").as_deref(),
        Some("output parameter `out`: the step did not write it")
    );
    assert_eq!(
        run.st.status.message.as_deref(),
        Some(format!("child '{}' failed", run.id("wf[2].sum")).as_str())
    );
}

#[test]
fn parameters_pass_through_results_and_output_files() {
    let (mut run, _) = Run::start(json!({
        "entrypoint": "main",
        "arguments": {"parameters": [{"name": "greeting", "value": "hi {{workflow.name}}"}]},
        "templates": [
            {"name": "main",
             "outputs": {"parameters": [{"name": "final", "valueFrom": {"parameter": "{{steps.consume.outputs.parameters.echoed}}"}, "globalName": "final-global"}]},
             "steps": [
                [{"name": "produce", "template": "produce"}],
                [{"name": "consume", "template": "consume", "arguments": {"parameters": [
                    {"name": "a", "value": "{{steps.produce.outputs.result}}"},
                    {"name": "b", "value": "{{steps.produce.outputs.parameters.file}}"},
                    {"name": "c", "value": "{{workflow.parameters.greeting}}/{{workflow.outputs.parameters.early}}"},
                    {"name": "d", "value": "{{= sprig.upper(steps.produce.outputs.parameters.file) }}"}
                ]}}]
            ]},
            {"name": "produce",
             "outputs": {"parameters": [{"name": "file", "valueFrom": {"path": "/tmp/file.txt"}, "globalName": "early"}]},
             "script": {"image": "python", "command": ["python"], "source": "print('{{workflow.name}}')"}},
            {"name": "consume",
             "inputs": {"parameters": [{"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "d"}, {"name": "e", "default": "{{workflow.namespace}}"}]},
             "outputs": {"parameters": [{"name": "echoed", "valueFrom": {"path": "/tmp/e", "default": "fallback"}}]},
             "container": {"image": "alpine", "command": ["echo"], "args": ["{{inputs.parameters.a}}|{{inputs.parameters.b}}|{{inputs.parameters.c}}|{{inputs.parameters.d}}|{{inputs.parameters.e}}"]}}
        ]
    }));
    // Template text is substituted; the workflow parameter's own text is data.
    assert_eq!(
        run.spec("wf[0].produce").script_source.as_deref(),
        Some("print('wf')")
    );
    assert_eq!(
        run.spec("wf[0].produce").output_paths,
        [("file".to_string(), "/tmp/file.txt".to_string())].into()
    );
    run.started("wf[0].produce", 1);
    // The step prints a tag: it stays data all the way.
    let a = run.exited_with(
        "wf[0].produce",
        0,
        "{{workflow.uid}}",
        &[("file", Ok("v1"))],
        2,
    );
    assert_eq!(
        a,
        strings(&["cleanup wf[0].produce", "start wf[1].consume"])
    );
    assert_eq!(
        run.spec("wf[1].consume").args,
        ["{{workflow.uid}}|v1|hi {{workflow.name}}/v1|V1|default"]
    );
    assert_eq!(
        run.env("wf[1].consume", "INPUT_PARAMETER_A").as_deref(),
        Some("{{workflow.uid}}")
    );
    run.started("wf[1].consume", 3);
    let a = run.exited_with(
        "wf[1].consume",
        0,
        "",
        &[("echoed", Err("no such file"))],
        4,
    );
    assert_eq!(a, strings(&["cleanup wf[1].consume", "finished Succeeded"]));
    let root = run.st.root().unwrap();
    let out = &root.outputs.as_ref().unwrap().parameters[0];
    assert_eq!(
        (out.name.as_str(), out.value.as_ref().unwrap().as_str()),
        ("final", "fallback")
    );
    let globals: Vec<(String, String)> = run
        .st
        .status
        .outputs
        .as_ref()
        .unwrap()
        .parameters
        .iter()
        .map(|p| (p.name.clone(), p.value.as_ref().unwrap().0.clone()))
        .collect();
    assert_eq!(
        globals,
        [("early", "v1"), ("final-global", "fallback")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let consume = run.st.node_by_name("wf[1].consume").unwrap();
    let inputs: Vec<(String, String)> = consume
        .inputs
        .as_ref()
        .unwrap()
        .parameters
        .iter()
        .map(|p| (p.name.clone(), p.value.as_ref().unwrap().0.clone()))
        .collect();
    assert_eq!(inputs[4], ("e".to_string(), "default".to_string()));
}

fn retrying(strategy: serde_json::Value) -> serde_json::Value {
    json!({
        "entrypoint": "main",
        "templates": [{"name": "main", "retryStrategy": strategy,
                       "container": {"image": "alpine", "command": ["sh", "-c", "exit 1"]}}]
    })
}

#[test]
fn retries_back_off_then_give_up() {
    let (mut run, a) = Run::start(retrying(json!({
        "limit": 2, "backoff": {"duration": "10s", "factor": 2}
    })));
    assert_eq!(a, strings(&["start wf(0)"]));
    assert_eq!(
        run.run("wf(0)", 1, "", 5),
        strings(&["cleanup wf(0)", "wake 15"])
    );
    assert_eq!(run.message("wf").as_deref(), Some("Backoff for 10 seconds"));
    assert_eq!(run.phase("wf"), switchyard_engine::NodePhase::Running);
    assert_eq!(run.tick(14), Vec::<String>::new());
    assert_eq!(run.tick(15), strings(&["start wf(1)"]));
    assert_eq!(run.message("wf"), None);
    assert_eq!(
        run.run("wf(1)", 1, "", 20),
        strings(&["cleanup wf(1)", "wake 40"])
    );
    assert_eq!(run.message("wf").as_deref(), Some("Backoff for 20 seconds"));
    assert_eq!(run.tick(40), strings(&["start wf(2)"]));
    assert_eq!(
        run.run("wf(2)", 1, "", 41),
        strings(&["cleanup wf(2)", "finished Failed"])
    );
    assert_eq!(
        run.nodes(),
        strings(&[
            "wf Retry Failed (No more retries left)",
            "wf(0) Pod Failed (Error (exit code 1))",
            "wf(1) Pod Failed (Error (exit code 1))",
            "wf(2) Pod Failed (Error (exit code 1))",
        ])
    );
    assert_eq!(
        run.st.status.message.as_deref(),
        Some("No more retries left")
    );
    assert!(
        run.st
            .node_by_name("wf(1)")
            .unwrap()
            .node_flag
            .unwrap()
            .retried
    );
}

#[test]
fn retry_succeeds_on_a_later_attempt_and_keeps_its_outputs() {
    let (mut run, a) = Run::start(retrying(json!({"limit": "3"})));
    assert_eq!(a, strings(&["start wf(0)"]));
    assert_eq!(
        run.run("wf(0)", 2, "", 1),
        strings(&["cleanup wf(0)", "start wf(1)"])
    );
    assert_eq!(
        run.run("wf(1)", 0, "ok", 2),
        strings(&["cleanup wf(1)", "finished Succeeded"])
    );
    let root = run.st.root().unwrap();
    assert_eq!(root.phase, switchyard_engine::NodePhase::Succeeded);
    assert_eq!(root.outputs.as_ref().unwrap().result.as_deref(), Some("ok"));
    assert_eq!(run.children("wf"), strings(&["wf(0)", "wf(1)"]));
}

#[test]
fn retry_policies_choose_what_is_retried() {
    // (policy, how the attempt ends, is it retried)
    let cases = [
        (None, "fail", true),
        (None, "error", false),
        (Some("OnFailure"), "fail", true),
        (Some("OnFailure"), "error", false),
        (Some("OnError"), "fail", false),
        (Some("OnError"), "error", true),
        (Some("Always"), "fail", true),
        (Some("Always"), "error", true),
        (Some("OnTransientError"), "error", false),
        (Some("OnTransientError"), "lost", true),
    ];
    for (policy, end, retried) in cases {
        let mut strategy = json!({"limit": 1});
        if let Some(p) = policy {
            strategy["retryPolicy"] = json!(p);
        }
        let (mut run, _) = Run::start(retrying(strategy));
        run.started("wf(0)", 1);
        let a = match end {
            "fail" => run.exited("wf(0)", 1, "", 2),
            "error" => run.cmd(
                switchyard_engine::Command::StartFailed {
                    node: run.id("wf(0)"),
                    error: "no such program".into(),
                },
                2,
            ),
            _ => run.recovered("wf(0)", switchyard_engine::Reattach::Lost("gone".into()), 2),
        };
        let want_start = a.contains(&"start wf(1)".to_string());
        assert_eq!(want_start, retried, "{policy:?} {end}: {a:?}");
        if !retried {
            assert!(
                a.iter().any(|x| x.starts_with("finished")),
                "{policy:?} {end}: {a:?}"
            );
        }
    }
}

#[test]
fn retry_expression_decides() {
    let (mut run, _) = Run::start(retrying(json!({
        "limit": 5, "expression": "asInt(lastRetry.exitCode) == 2 && lastRetry.status == 'Failed'"
    })));
    assert_eq!(
        run.run("wf(0)", 2, "", 1),
        strings(&["cleanup wf(0)", "start wf(1)"])
    );
    assert_eq!(
        run.run("wf(1)", 3, "", 2),
        strings(&["cleanup wf(1)", "finished Failed"])
    );
    assert_eq!(
        run.message("wf").as_deref(),
        Some("retryStrategy.expression evaluated to false")
    );
}

#[test]
fn retries_of_a_lost_step_say_so() {
    let (mut run, _) = Run::start(retrying(json!({"limit": 1, "retryPolicy": "Always"})));
    run.started("wf(0)", 1);
    let a = run.recovered(
        "wf(0)",
        switchyard_engine::Reattach::Lost("the scratch directory is gone".into()),
        5,
    );
    assert_eq!(a, strings(&["start wf(1)"]));
    assert_eq!(
        run.message("wf(0)").as_deref(),
        Some(
            "the step's process was lost while Switchyard was down: the scratch directory is gone"
        )
    );
    assert_eq!(run.phase("wf(0)"), switchyard_engine::NodePhase::Error);
    // Without a retry strategy the run errors with that message.
    let (mut run, _) = Run::start(json!({"entrypoint": "e", "templates": [echo("e")]}));
    run.started("wf", 1);
    let a = run.recovered(
        "wf",
        switchyard_engine::Reattach::Lost("machine rebooted".into()),
        2,
    );
    assert_eq!(a, strings(&["finished Error"]));
    assert_eq!(
        run.st.status.message.as_deref(),
        Some("the step's process was lost while Switchyard was down: machine rebooted")
    );
}

#[test]
fn recovered_running_waits_and_finished_counts_as_exit() {
    let (mut run, _) = Run::start(json!({"entrypoint": "e", "templates": [echo("e")]}));
    run.started("wf", 1);
    assert_eq!(
        run.recovered("wf", switchyard_engine::Reattach::Running, 2),
        Vec::<String>::new()
    );
    assert_eq!(run.phase("wf"), switchyard_engine::NodePhase::Running);
    let result = common::result(0, "done", 3);
    assert_eq!(
        run.recovered("wf", switchyard_engine::Reattach::Finished(result), 4),
        strings(&["cleanup wf", "finished Succeeded"])
    );
    assert_eq!(run.st.root().unwrap().finished_at, Some(common::t(3)));
}

#[test]
fn deep_recursion_is_refused_not_a_crash() {
    // A template that calls itself forever: Argo stops it at 150 levels.
    let (run, a) = Run::start(json!({
        "entrypoint": "loop",
        "templates": [{"name": "loop", "steps": [[{"name": "again", "template": "loop"}]]}]
    }));
    assert_eq!(a, strings(&["finished Failed"]));
    let deepest = run
        .st
        .status
        .nodes
        .values()
        .find(|n| {
            n.phase == switchyard_engine::NodePhase::Error
                && n.node_type == switchyard_engine::NodeType::Skipped
        })
        .unwrap();
    assert_eq!(
        deepest.message.as_deref(),
        Some("Maximum recursion depth exceeded: templates nest deeper than 150 levels")
    );
}

#[test]
fn template_timeout_stops_the_step() {
    let (mut run, a) = Run::start(json!({
        "entrypoint": "main",
        "templates": [{"name": "main", "timeout": "10s", "container": {"image": "alpine", "command": ["sleep", "60"]}}]
    }));
    assert_eq!(a, strings(&["start wf", "wake 10"]));
    assert_eq!(
        run.spec("wf").timeout,
        Some(std::time::Duration::from_secs(10))
    );
    assert_eq!(run.started("wf", 1), Vec::<String>::new());
    assert_eq!(run.tick(9), Vec::<String>::new());
    assert_eq!(run.tick(10), strings(&["stop wf Timeout"]));
    assert_eq!(run.tick(11), Vec::<String>::new());
    assert_eq!(
        run.stopped("wf", switchyard_engine::StopReason::Timeout, 12),
        strings(&["cleanup wf", "finished Failed"])
    );
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
fn a_timeout_before_the_start_is_acknowledged_stops_it_on_start() {
    let (mut run, _) = Run::start(json!({
        "entrypoint": "main",
        "templates": [{"name": "main", "timeout": "5", "container": {"image": "alpine", "command": ["sleep", "60"]}}]
    }));
    assert_eq!(run.tick(6), Vec::<String>::new());
    assert_eq!(run.started("wf", 7), strings(&["stop wf Timeout"]));
    assert_eq!(
        run.exited("wf", 143, "", 8),
        strings(&["cleanup wf", "finished Failed"])
    );
    assert_eq!(
        run.message("wf").as_deref(),
        Some("Step exceeded its deadline")
    );
}

#[test]
fn workflow_deadline_fails_running_and_new_steps() {
    let (mut run, a) = Run::start(json!({
        "entrypoint": "main",
        "activeDeadlineSeconds": 30,
        "templates": [
            {"name": "main", "steps": [[{"name": "slow", "template": "slow"}], [{"name": "next", "template": "slow"}]]},
            {"name": "slow", "container": {"image": "alpine", "command": ["sleep", "100"]}}
        ]
    }));
    assert_eq!(a, strings(&["start wf[0].slow", "wake 30"]));
    assert_eq!(
        run.spec("wf[0].slow").timeout,
        Some(std::time::Duration::from_secs(30))
    );
    run.started("wf[0].slow", 1);
    assert_eq!(run.tick(30), strings(&["stop wf[0].slow Deadline"]));
    assert_eq!(
        run.stopped("wf[0].slow", switchyard_engine::StopReason::Deadline, 31),
        strings(&["cleanup wf[0].slow", "finished Failed"])
    );
    assert_eq!(
        run.nodes(),
        strings(&[
            "wf Steps Failed (child 'wf-3764162521' failed)",
            "wf[0] StepGroup Failed (child 'wf-3764162521' failed)",
            "wf[0].slow Pod Failed (Step exceeded its deadline)",
        ])
    );
    assert_eq!(run.id("wf[0].slow"), "wf-3764162521");
}

#[test]
fn suspend_waits_for_resume_and_records_who() {
    let (mut run, a) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [[{"name": "approve", "template": "approve"}], [{"name": "apply", "template": "apply"}]]},
            {"name": "approve", "suspend": {}},
            echo("apply")
        ]
    }));
    assert_eq!(a, Vec::<String>::new());
    assert_eq!(run.nodes()[2], "wf[0].approve Suspend Running");
    assert_eq!(run.tick(1000), Vec::<String>::new());
    // Nothing to resume that matches.
    let err = run
        .try_cmd(
            switchyard_engine::Command::Resume {
                node_filter: Some("displayName=nope".into()),
                by: "alice".into(),
                message: None,
            },
            1001,
        )
        .unwrap_err();
    assert_eq!(
        err,
        "run `wf` has nothing to resume matching `displayName=nope`"
    );
    let a = run.cmd(
        switchyard_engine::Command::Resume {
            node_filter: Some("displayName=approve".into()),
            by: "alice".into(),
            message: Some("looks good".into()),
        },
        1002,
    );
    assert_eq!(a, strings(&["start wf[1].apply"]));
    let n = run.st.node_by_name("wf[0].approve").unwrap();
    assert_eq!(n.phase, switchyard_engine::NodePhase::Succeeded);
    assert_eq!(n.resumed_by.as_deref(), Some("alice"));
    assert_eq!(n.resume_message.as_deref(), Some("looks good"));
    assert_eq!(n.finished_at, Some(common::t(1002)));
    assert_eq!(run.run("wf[1].apply", 0, "", 1003)[1], "finished Succeeded");
}

#[test]
fn suspend_with_a_duration_resumes_itself() {
    let (mut run, a) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [[{"name": "wait", "template": "wait"}], [{"name": "after", "template": "after"}]]},
            {"name": "wait", "suspend": {"duration": "2m"}},
            echo("after")
        ]
    }));
    assert_eq!(a, strings(&["wake 120"]));
    assert_eq!(run.st.timers.len(), 1);
    assert_eq!(run.tick(119), Vec::<String>::new());
    assert_eq!(run.tick(120), strings(&["start wf[1].after"]));
    assert_eq!(
        run.phase("wf[0].wait"),
        switchyard_engine::NodePhase::Succeeded
    );
    assert!(run.st.timers.is_empty());
}

#[test]
fn workflow_suspend_holds_new_steps_until_resumed() {
    let (mut run, _) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [[{"name": "a", "template": "a"}], [{"name": "b", "template": "b"}]]},
            echo("a"), echo("b")
        ]
    }));
    assert_eq!(
        run.cmd(switchyard_engine::Command::Suspend, 1),
        Vec::<String>::new()
    );
    // The running step finishes; the next does not start.
    assert_eq!(run.run("wf[0].a", 0, "", 2), strings(&["cleanup wf[0].a"]));
    let a = run.cmd(
        switchyard_engine::Command::Resume {
            node_filter: None,
            by: "bob".into(),
            message: None,
        },
        3,
    );
    assert_eq!(a, strings(&["start wf[1].b"]));
}

#[test]
fn exit_handler_runs_after_failure_and_sees_the_status() {
    let (mut run, a) = Run::start(json!({
        "entrypoint": "main",
        "onExit": "exit-handler",
        "templates": [
            {"name": "main", "container": {"image": "alpine", "command": ["false"]}},
            {"name": "exit-handler", "steps": [[
                {"name": "notify", "template": "notify", "arguments": {"parameters": [
                    {"name": "status", "value": "{{workflow.status}}"},
                    {"name": "failures", "value": "{{workflow.failures}}"}
                ]}},
                {"name": "celebrate", "template": "notify", "when": "{{workflow.status}} == Succeeded",
                 "arguments": {"parameters": [{"name": "status", "value": "yay"}, {"name": "failures", "value": ""}]}}
            ]]},
            {"name": "notify", "inputs": {"parameters": [{"name": "status"}, {"name": "failures"}]},
             "container": {"image": "alpine", "command": ["echo", "{{inputs.parameters.status}}"]}}
        ]
    }));
    assert_eq!(a, strings(&["start wf"]));
    assert_eq!(
        run.run("wf", 1, "", 5),
        strings(&["cleanup wf", "start wf.onExit[0].notify"])
    );
    assert_eq!(run.spec("wf.onExit[0].notify").command, ["echo", "Failed"]);
    assert_eq!(
        run.env("wf.onExit[0].notify", "INPUT_PARAMETER_FAILURES")
            .unwrap(),
        r#""[{\"displayName\":\"wf\",\"message\":\"Error (exit code 1)\",\"templateName\":\"main\",\"phase\":\"Failed\",\"podName\":\"wf\",\"finishedAt\":\"2024-01-01T00:00:05Z\"}]""#
    );
    assert_eq!(
        run.message("wf.onExit[0].celebrate").as_deref(),
        Some("when 'Failed == Succeeded' evaluated false")
    );
    assert_eq!(
        run.run("wf.onExit[0].notify", 0, "", 6),
        strings(&["cleanup wf.onExit[0].notify", "finished Failed"])
    );
    assert_eq!(
        run.st.status.message.as_deref(),
        Some("Error (exit code 1)")
    );
    let exit = run.st.node_by_name("wf.onExit").unwrap();
    assert!(exit.node_flag.unwrap().hooked);
    assert!(exit.exit_handler);
}

#[test]
fn a_failed_exit_handler_fails_a_succeeded_run() {
    let (mut run, _) = Run::start(json!({
        "entrypoint": "main",
        "hooks": {"exit": {"template": "bye"}},
        "templates": [echo("main"), echo("bye")]
    }));
    assert_eq!(
        run.run("wf", 0, "", 1),
        strings(&["cleanup wf", "start wf.onExit"])
    );
    assert_eq!(
        run.run("wf.onExit", 3, "", 2),
        strings(&["cleanup wf.onExit", "finished Failed"])
    );
    assert_eq!(
        run.st.status.message.as_deref(),
        Some("Error (exit code 3)")
    );
}

#[test]
fn step_exit_handlers_see_the_step() {
    let (mut run, _) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [[{"name": "work", "template": "work",
                "hooks": {"exit": {"template": "report", "arguments": {"parameters": [{"name": "s", "value": "{{steps.work.status}}:{{steps.work.outputs.result}}"}]}}}}],
                [{"name": "after", "template": "work"}]]},
            echo("work"),
            {"name": "report", "inputs": {"parameters": [{"name": "s"}]}, "container": {"image": "a", "command": ["echo", "{{inputs.parameters.s}}"]}}
        ]
    }));
    assert_eq!(
        run.run("wf[0].work", 0, "out", 1),
        strings(&["cleanup wf[0].work", "start wf[0].work.onExit"])
    );
    assert_eq!(
        run.spec("wf[0].work.onExit").command,
        ["echo", "Succeeded:out"]
    );
    assert_eq!(run.children("wf[0].work"), strings(&["wf[0].work.onExit"]));
    // The next group waits for the exit handler.
    assert_eq!(
        run.run("wf[0].work.onExit", 0, "", 2),
        strings(&["cleanup wf[0].work.onExit", "start wf[1].after"])
    );
    assert_eq!(
        run.st
            .node_by_name("wf[0].work.onExit")
            .unwrap()
            .display_name,
        "work.onExit"
    );
}

#[test]
fn continue_on_failed_lets_the_steps_go_on() {
    let (mut run, _) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [
                [{"name": "a", "template": "e", "continueOn": {"failed": true}}, {"name": "b", "template": "e"}],
                [{"name": "c", "template": "e"}]
            ]},
            echo("e")
        ]
    }));
    assert_eq!(run.run("wf[0].a", 1, "", 1), strings(&["cleanup wf[0].a"]));
    assert_eq!(
        run.run("wf[0].b", 0, "", 2),
        strings(&["cleanup wf[0].b", "start wf[1].c"])
    );
    assert_eq!(
        run.run("wf[1].c", 0, "", 3),
        strings(&["cleanup wf[1].c", "finished Succeeded"])
    );
    assert_eq!(run.st.status.progress, "2/3");
    // Without continueOn the group fails once every step is done.
    let (mut run, _) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [[{"name": "a", "template": "e"}, {"name": "b", "template": "e"}], [{"name": "c", "template": "e"}]]},
            echo("e")
        ]
    }));
    assert_eq!(run.run("wf[0].a", 1, "", 1), strings(&["cleanup wf[0].a"]));
    assert_eq!(
        run.run("wf[0].b", 0, "", 2),
        strings(&["cleanup wf[0].b", "finished Failed"])
    );
}

#[test]
fn fail_fast_stops_starting_the_rest() {
    let (mut run, a) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "parallelism": 1, "failFast": true, "steps": [[
                {"name": "x", "template": "e", "withItems": [1, 2, 3]}
            ]]},
            echo("e")
        ]
    }));
    assert_eq!(a, strings(&["start wf[0].x(0:1)"]));
    assert_eq!(
        run.run("wf[0].x(0:1)", 0, "", 1),
        strings(&["cleanup wf[0].x(0:1)", "start wf[0].x(1:2)"])
    );
    assert_eq!(
        run.run("wf[0].x(1:2)", 1, "", 2),
        strings(&["cleanup wf[0].x(1:2)", "finished Failed"])
    );
    assert_eq!(
        run.nodes(),
        strings(&[
            "wf Steps Failed (template has failed or errored children and failFast enabled)",
            "wf[0] StepGroup Failed (template has failed or errored children and failFast enabled)",
            "wf[0].x(0:1) Pod Succeeded",
            "wf[0].x(1:2) Pod Failed (Error (exit code 1))",
        ])
    );
}

#[test]
fn parallelism_caps_running_steps() {
    let (mut run, a) = Run::start(json!({
        "entrypoint": "main",
        "parallelism": 2,
        "templates": [
            {"name": "main", "steps": [[{"name": "x", "template": "e", "withSequence": {"count": 5}}]]},
            echo("e")
        ]
    }));
    assert_eq!(a, strings(&["start wf[0].x(0:0)", "start wf[0].x(1:1)"]));
    assert_eq!(run.started("wf[0].x(0:0)", 1), Vec::<String>::new());
    assert_eq!(run.tick(2), Vec::<String>::new());
    assert_eq!(
        run.exited("wf[0].x(0:0)", 0, "", 3),
        strings(&["cleanup wf[0].x(0:0)", "start wf[0].x(2:2)"])
    );
    assert_eq!(
        run.run("wf[0].x(2:2)", 0, "", 4),
        strings(&["cleanup wf[0].x(2:2)", "start wf[0].x(3:3)"])
    );
    assert_eq!(
        run.run("wf[0].x(1:1)", 0, "", 5),
        strings(&["cleanup wf[0].x(1:1)", "start wf[0].x(4:4)"])
    );
    assert_eq!(
        run.run("wf[0].x(3:3)", 0, "", 6),
        strings(&["cleanup wf[0].x(3:3)"])
    );
    assert_eq!(
        run.run("wf[0].x(4:4)", 0, "", 7),
        strings(&["cleanup wf[0].x(4:4)", "finished Succeeded"])
    );
    // Never more than two outstanding starts.
    let mut outstanding = 0i32;
    let mut max = 0;
    for line in &run.log {
        if line.starts_with("start ") {
            outstanding += 1;
        } else if line.starts_with("cleanup ") {
            outstanding -= 1;
        }
        max = max.max(outstanding);
    }
    assert_eq!(max, 2);
}

#[test]
fn template_parallelism_caps_a_dag() {
    let (mut run, a) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "parallelism": 1, "dag": {"tasks": [
                {"name": "a", "template": "e"}, {"name": "b", "template": "e"}, {"name": "c", "template": "e", "depends": "a && b"}
            ]}},
            echo("e")
        ]
    }));
    assert_eq!(a, strings(&["start wf.a"]));
    assert_eq!(
        run.run("wf.a", 0, "", 1),
        strings(&["cleanup wf.a", "start wf.b"])
    );
    assert_eq!(
        run.run("wf.b", 0, "", 2),
        strings(&["cleanup wf.b", "start wf.c"])
    );
    assert_eq!(
        run.run("wf.c", 0, "", 3),
        strings(&["cleanup wf.c", "finished Succeeded"])
    );
}

fn stoppable() -> serde_json::Value {
    json!({
        "entrypoint": "main",
        "onExit": "bye",
        "templates": [
            {"name": "main", "steps": [[{"name": "work", "template": "work"}, {"name": "gate", "template": "gate"}]]},
            {"name": "work", "container": {"image": "a", "command": ["sleep", "100"]}},
            {"name": "gate", "suspend": {}},
            echo("bye")
        ]
    })
}

#[test]
fn stop_runs_exit_handlers_and_terminate_does_not() {
    let (mut run, _) = Run::start(stoppable());
    run.started("wf[0].work", 1);
    let a = run.cmd(
        switchyard_engine::Command::Stop {
            by: "ops".into(),
            message: None,
        },
        2,
    );
    assert_eq!(a, strings(&["stop wf[0].work Stopped"]));
    assert_eq!(
        run.message("wf[0].gate").as_deref(),
        Some("Stopped with strategy 'Stop'")
    );
    assert_eq!(
        run.stopped("wf[0].work", switchyard_engine::StopReason::Stopped, 3),
        strings(&["cleanup wf[0].work", "start wf.onExit"])
    );
    assert_eq!(
        run.message("wf[0].work").as_deref(),
        Some("workflow shutdown with strategy:  Stop")
    );
    assert_eq!(
        run.run("wf.onExit", 0, "", 4),
        strings(&["cleanup wf.onExit", "finished Failed"])
    );
    assert_eq!(
        run.st.status.message.as_deref(),
        Some("Stopped with strategy 'Stop'")
    );

    let (mut run, _) = Run::start(stoppable());
    run.started("wf[0].work", 1);
    let a = run.cmd(
        switchyard_engine::Command::Terminate {
            by: "ops".into(),
            message: None,
        },
        2,
    );
    assert_eq!(a, strings(&["stop wf[0].work Terminated"]));
    assert_eq!(
        run.stopped("wf[0].work", switchyard_engine::StopReason::Terminated, 3),
        strings(&["cleanup wf[0].work", "finished Failed"])
    );
    assert!(run.st.node_by_name("wf.onExit").is_none());
    assert_eq!(
        run.st.status.message.as_deref(),
        Some("Stopped with strategy 'Terminate'")
    );
    let err = run
        .try_cmd(
            switchyard_engine::Command::Stop {
                by: "ops".into(),
                message: None,
            },
            4,
        )
        .unwrap_err();
    assert_eq!(err, "run `wf` is Failed: it cannot be stopped");
}

#[test]
fn stopping_or_terminating_a_suspended_run_ends_it() {
    for (cmd, exit_handler_runs) in [
        (
            switchyard_engine::Command::Terminate {
                by: "ops".into(),
                message: None,
            },
            false,
        ),
        (
            switchyard_engine::Command::Stop {
                by: "ops".into(),
                message: None,
            },
            true,
        ),
    ] {
        let (mut run, _) = Run::start(stoppable());
        run.started("wf[0].work", 1);
        assert_eq!(
            run.cmd(switchyard_engine::Command::Suspend, 2),
            Vec::<String>::new()
        );
        let reason = match cmd {
            switchyard_engine::Command::Stop { .. } => switchyard_engine::StopReason::Stopped,
            _ => switchyard_engine::StopReason::Terminated,
        };
        run.cmd(cmd, 3);
        let after = run.stopped("wf[0].work", reason, 4);
        if exit_handler_runs {
            assert_eq!(after, strings(&["cleanup wf[0].work", "start wf.onExit"]));
            run.run("wf.onExit", 0, "", 5);
        } else {
            assert_eq!(after, strings(&["cleanup wf[0].work", "finished Failed"]));
        }
        assert_eq!(
            run.st.status.phase,
            switchyard_engine::WorkflowPhase::Failed
        );
        assert!(!run.st.suspended);
    }
}

#[test]
fn ticks_are_idempotent() {
    let (mut run, a) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "dag": {"tasks": [{"name": "x", "template": "e", "withItems": ["a", "b", "c"]}]}},
            echo("e")
        ]
    }));
    assert_eq!(a.len(), 3);
    let before = run.st.clone();
    assert_eq!(run.tick(5), Vec::<String>::new());
    assert_eq!(run.tick(5), Vec::<String>::new());
    assert_eq!(run.st, before);
}

/// What the engine keeps in memory between commands (an index of the nodes, DAGs followed
/// task by task, finished step groups) never changes what a command does: a copy of the run
/// read back from JSON before every command, with nothing in memory, does the same.
#[test]
fn what_the_engine_remembers_between_commands_never_changes_a_command() {
    let dag = json!({"name": "fan", "parallelism": 2, "dag": {"tasks": [
        {"name": "a", "template": "e", "continueOn": {"failed": true}},
        {"name": "b", "template": "e"},
        {"name": "c", "template": "e", "depends": "a.Succeeded"},
        {"name": "d", "template": "e", "depends": "a.Failed || b"},
        {"name": "w", "template": "e", "when": "1 == 2", "dependencies": ["b"]},
        {"name": "x", "template": "e", "dependencies": ["w"]},
        {"name": "y", "template": "e", "dependencies": ["x", "d"]},
        {"name": "z", "template": "e", "dependencies": ["y"]}
    ]}});
    let spec = json!({
        "entrypoint": "main",
        "parallelism": 3,
        "templates": [
            {"name": "main", "steps": [
                [{"name": "one", "template": "e"}],
                [{"name": "two", "template": "e"}, {"name": "three", "template": "e"}],
                [{"name": "four", "template": "e"}],
                [{"name": "fan", "template": "fan"}]
            ]},
            dag,
            echo("e")
        ]
    });
    let (mut kept, first) = Run::start(spec.clone());
    let (mut read_back, again) = Run::start(spec);
    assert_eq!(first, again);
    let mut queue: Vec<String> = first
        .iter()
        .filter_map(|a| a.strip_prefix("start ").map(str::to_string))
        .collect();
    let mut secs = 0;
    while !queue.is_empty() {
        let name = queue.remove(0);
        secs += 1;
        // `a` fails: `c` is omitted and `d` runs.
        let code = i32::from(name == "wf[3].fan.a");
        let json = serde_json::to_string(&read_back.st).unwrap();
        read_back.st = serde_json::from_str(&json).unwrap();
        let actions = kept.run(&name, code, "", secs);
        assert_eq!(read_back.run(&name, code, "", secs), actions, "{name}");
        assert_eq!(
            serde_json::to_value(&kept.st).unwrap(),
            serde_json::to_value(&read_back.st).unwrap(),
            "{name}"
        );
        queue.extend(
            actions
                .iter()
                .filter_map(|a| a.strip_prefix("start ").map(str::to_string)),
        );
    }
    assert!(kept.st.status.phase.is_finished());
    assert_eq!(kept.phase("wf[2].four"), NodePhase::Succeeded);
    assert_eq!(kept.phase("wf[3].fan.c"), NodePhase::Omitted);
    assert_eq!(kept.phase("wf[3].fan.d"), NodePhase::Succeeded);
    assert_eq!(kept.phase("wf[3].fan.w"), NodePhase::Skipped);
    assert_eq!(kept.phase("wf[3].fan.z"), NodePhase::Succeeded);
}

/// A command that fails changes nothing, even when it failed after changing some nodes.
#[test]
fn a_command_that_fails_half_way_changes_nothing() {
    let (mut run, _) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [[
                {"name": "a", "template": "approve"},
                {"name": "b", "template": "approve"}
            ]]},
            {"name": "approve", "suspend": {}, "outputs": {"parameters": [
                {"name": "ok", "valueFrom": {"supplied": {}}}
            ]}}
        ]
    }));
    let before = run.st.clone();
    // Both nodes match; `ok` is set on the first before `nope` fails the command.
    let err = run
        .try_cmd(
            Command::SetOutputs {
                node_filter: "templateName=approve".into(),
                parameters: vec![("ok".into(), "yes".into()), ("nope".into(), "x".into())],
                message: Some("set".into()),
            },
            5,
        )
        .unwrap_err();
    assert!(err.contains("nope"), "{err}");
    assert_eq!(run.st, before);
    assert_eq!(
        serde_json::to_value(&run.st).unwrap(),
        serde_json::to_value(&before).unwrap()
    );
}

#[test]
fn state_survives_a_serde_round_trip_mid_run() {
    let spec = json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [
                [{"name": "a", "template": "e", "withItems": ["x", "y"]}],
                [{"name": "wait", "template": "wait"}],
                [{"name": "b", "template": "retry"}]
            ]},
            echo("e"),
            {"name": "wait", "suspend": {"duration": "30"}},
            {"name": "retry", "retryStrategy": {"limit": 2, "backoff": {"duration": "5"}}, "container": {"image": "a", "command": ["false"]}}
        ]
    });
    // Drive one copy straight through, and another through JSON after each command.
    let (mut straight, _) = Run::start(spec.clone());
    let (mut persisted, _) = Run::start(spec);
    type Step = Box<dyn Fn(&mut Run) -> Vec<String>>;
    let script: Vec<Step> = vec![
        Box::new(|r| r.run("wf[0].a(0:x)", 0, "", 1)),
        Box::new(|r| r.run("wf[0].a(1:y)", 0, "", 2)),
        Box::new(|r| r.tick(20)),
        Box::new(|r| r.tick(32)),
        Box::new(|r| r.run("wf[2].b(0)", 1, "", 33)),
        Box::new(|r| r.tick(38)),
        Box::new(|r| r.run("wf[2].b(1)", 0, "", 40)),
    ];
    for step in script {
        let a = step(&mut straight);
        let json = serde_json::to_string(&persisted.st).unwrap();
        persisted.st = serde_json::from_str(&json).unwrap();
        let b = step(&mut persisted);
        assert_eq!(a, b);
        assert_eq!(straight.st, persisted.st);
    }
    assert_eq!(
        straight.log,
        strings(&[
            "start wf[0].a(0:x)",
            "start wf[0].a(1:y)",
            "cleanup wf[0].a(0:x)",
            "cleanup wf[0].a(1:y)",
            "wake 32",
            "start wf[2].b(0)",
            "cleanup wf[2].b(0)",
            "wake 38",
            "start wf[2].b(1)",
            "cleanup wf[2].b(1)",
            "finished Succeeded",
        ])
    );
}

#[test]
fn restart_asks_again_for_what_may_not_have_happened() {
    let (mut run, _) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [[{"name": "a", "template": "e"}, {"name": "b", "template": "e"}, {"name": "w", "template": "w"}]]},
            echo("e"),
            {"name": "w", "suspend": {"duration": "60"}}
        ]
    }));
    run.started("wf[0].a", 1);
    let actions = switchyard_engine::restart_actions(&run.st);
    let described: Vec<String> = actions.iter().map(|a| run.describe(a)).collect();
    assert_eq!(
        described,
        strings(&["reattach wf[0].a", "start wf[0].b", "wake 60"])
    );
    // A second report of the same start is harmless.
    assert_eq!(run.started("wf[0].a", 1), Vec::<String>::new());
}

fn submit_errors(spec: serde_json::Value, library: switchyard_engine::Library) -> Vec<String> {
    let wf = common::workflow(spec);
    switchyard_engine::submit("wf", "default", "u", &wf, library, common::t(0))
        .unwrap_err()
        .problems()
        .iter()
        .map(|p| p.to_string())
        .collect()
}

#[test]
fn submit_reports_every_problem_with_its_path() {
    let got = submit_errors(
        json!({
            "entrypoint": "main",
            "arguments": {"parameters": [
                {"name": "env", "value": "prod", "enum": ["dev", "staging"]},
                {"name": "region"}
            ]},
            "templates": [
                {"name": "main", "inputs": {"parameters": [{"name": "region"}, {"name": "missing"}]},
                 "steps": [[{"name": "k", "template": "kube"}, {"name": "g", "template": "ghost"},
                            {"name": "r", "templateRef": {"name": "lib", "template": "x"}}]]},
                {"name": "kube", "resource": {"action": "create", "manifest": "kind: ConfigMap"}},
                {"name": "call", "http": {"url": "http://example.invalid"}},
                {"name": "bare", "container": {"image": "alpine"}}
            ]
        }),
        switchyard_engine::Library::default(),
    );
    assert_eq!(
        got,
        strings(&[
            "spec.templates[0].steps[0][1].template: template `ghost` not found",
            "spec.templates[0].steps[0][2].templateRef: WorkflowTemplate `lib` not found",
            "spec.templates[1].resource: template `kube` is a `resource` template, which is not supported by the local executor",
            "spec.templates[2].http: template `call` is an `http` template, which is not supported by the local executor",
            "spec.templates[3].container.command: template `bare`: the container has no `command`, and the local executor cannot run the entrypoint of image `alpine`: set `command`, or map the image to a host command with --image-entrypoint",
            "spec.arguments.parameters[0].value: value `prod` of parameter `env` is not one of the allowed values: `dev`, `staging`",
            "spec.arguments.parameters[1]: parameter `region` has no value: give it one in the workflow's spec.arguments.parameters",
            "spec.templates[0].inputs.parameters[0]: inputs.parameters.region was not supplied: the entrypoint's inputs come from spec.arguments.parameters",
            "spec.templates[0].inputs.parameters[1]: inputs.parameters.missing was not supplied: the entrypoint's inputs come from spec.arguments.parameters",
        ])
    );
    let got = submit_errors(
        json!({"workflowTemplateRef": {"name": "nope"}}),
        switchyard_engine::Library::default(),
    );
    assert_eq!(
        got,
        strings(&["spec.workflowTemplateRef.name: WorkflowTemplate `nope` not found"])
    );
    let got = submit_errors(
        json!({"entrypoint": "x", "templates": []}),
        switchyard_engine::Library::default(),
    );
    assert_eq!(got, strings(&["spec.entrypoint: template `x` not found"]));
}

fn library() -> switchyard_engine::Library {
    let lib_spec: switchyard_model::workflow::WorkflowSpec = serde_json::from_value(json!({
        "entrypoint": "plan-and-apply",
        "arguments": {"parameters": [{"name": "region", "value": "eu-west-1", "enum": ["eu-west-1", "us-east-1"]}]},
        "templates": [
            {"name": "plan-and-apply", "inputs": {"parameters": [{"name": "region"}]}, "dag": {"tasks": [
                {"name": "plan", "template": "tf", "arguments": {"parameters": [{"name": "cmd", "value": "plan {{inputs.parameters.region}}"}]}},
                {"name": "apply", "depends": "plan", "template": "tf", "arguments": {"parameters": [{"name": "cmd", "value": "apply"}]}}
            ]}},
            {"name": "tf", "inputs": {"parameters": [{"name": "cmd"}]},
             "container": {"image": "hashicorp/terraform", "command": ["terraform"], "args": ["{{inputs.parameters.cmd}}", "{{workflow.mainEntrypoint}}"],
                           "env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}}]}}
        ]
    }))
    .unwrap();
    let mut lib = switchyard_engine::Library::default();
    lib.workflow_templates.insert("terraform".into(), lib_spec);
    lib.config_maps.insert(
        "settings".into(),
        [("mode".to_string(), "fast".to_string())].into(),
    );
    lib
}

#[test]
fn workflow_template_ref_runs_the_stored_template() {
    let wf = common::workflow(json!({
        "workflowTemplateRef": {"name": "terraform"},
        "arguments": {"parameters": [{"name": "region", "value": "us-east-1"}]}
    }));
    let refs = switchyard_engine::library_refs(&wf, &switchyard_engine::Library::default());
    assert_eq!(
        refs.into_iter().collect::<Vec<_>>(),
        vec![switchyard_engine::LibraryRef::WorkflowTemplate(
            "terraform".into()
        )]
    );
    assert!(switchyard_engine::library_refs(&wf, &library()).is_empty());
    let (mut run, a) = Run::start_with(
        json!({
            "workflowTemplateRef": {"name": "terraform"},
            "arguments": {"parameters": [{"name": "region", "value": "us-east-1"}]}
        }),
        library(),
    );
    assert_eq!(a, strings(&["start wf.plan"]));
    assert_eq!(
        run.spec("wf.plan").args,
        ["plan us-east-1", "plan-and-apply"]
    );
    assert_eq!(run.env("wf.plan", "MODE").as_deref(), Some("fast"));
    assert_eq!(
        run.run("wf.plan", 0, "", 1),
        strings(&["cleanup wf.plan", "start wf.apply"])
    );
    assert_eq!(
        run.run("wf.apply", 0, "", 2),
        strings(&["cleanup wf.apply", "finished Succeeded"])
    );
    // The enum of the template applies to the workflow's value.
    let got = submit_errors(
        json!({"workflowTemplateRef": {"name": "terraform"}, "arguments": {"parameters": [{"name": "region", "value": "mars"}]}}),
        library(),
    );
    assert_eq!(
        got,
        strings(&[
            "spec.arguments.parameters[0].value: value `mars` of parameter `region` is not one of the allowed values: `eu-west-1`, `us-east-1`"
        ])
    );
}

#[test]
fn template_ref_resolves_inside_the_referenced_template() {
    let (mut run, a) = Run::start_with(
        json!({
            "entrypoint": "main",
            "templates": [{"name": "main", "steps": [[{"name": "provision", "templateRef": {"name": "terraform", "template": "plan-and-apply"},
                "arguments": {"parameters": [{"name": "region", "value": "eu-west-1"}]}}]]}]
        }),
        library(),
    );
    assert_eq!(a, strings(&["start wf[0].provision.plan"]));
    let node = run.st.node_by_name("wf[0].provision.plan").unwrap();
    assert_eq!(node.template_name.as_deref(), Some("tf"));
    assert_eq!(node.template_scope.as_deref(), Some("namespaced/terraform"));
    let provision = run.st.node_by_name("wf[0].provision").unwrap();
    assert_eq!(
        provision.template_ref.as_ref().unwrap().template.as_deref(),
        Some("plan-and-apply")
    );
    assert_eq!(
        run.run("wf[0].provision.plan", 0, "", 1),
        strings(&[
            "cleanup wf[0].provision.plan",
            "start wf[0].provision.apply"
        ])
    );
}

#[test]
fn template_defaults_apply_to_every_template() {
    let (run, a) = Run::start(json!({
        "entrypoint": "main",
        "templateDefaults": {"timeout": "30s", "container": {"env": [{"name": "FROM_DEFAULTS", "value": "1"}]}},
        "templates": [{"name": "main", "container": {"image": "a", "command": ["true"], "env": [{"name": "OWN", "value": "2"}]}}]
    }));
    assert_eq!(a, strings(&["start wf", "wake 30"]));
    // Lists are replaced, not merged: the template's own env wins.
    assert_eq!(run.env("wf", "OWN").as_deref(), Some("2"));
    assert_eq!(run.env("wf", "FROM_DEFAULTS"), None);
}

#[test]
fn dag_loops_make_task_groups() {
    let (mut run, a) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "dag": {"tasks": [
                {"name": "fan", "template": "e", "withItems": ["a", "b"]},
                {"name": "any", "depends": "fan.AnySucceeded", "template": "e"},
                {"name": "all-failed", "depends": "fan.AllFailed", "template": "e"},
                {"name": "use", "depends": "fan.AnySucceeded", "template": "show",
                 "arguments": {"parameters": [{"name": "v", "value": "{{tasks.fan.outputs.result}}"}]}}
            ]}},
            echo("e"),
            {"name": "show", "inputs": {"parameters": [{"name": "v"}]}, "container": {"image": "a", "command": ["echo", "{{inputs.parameters.v}}"]}}
        ]
    }));
    assert_eq!(a, strings(&["start wf.fan(0:a)", "start wf.fan(1:b)"]));
    assert_eq!(
        run.run("wf.fan(0:a)", 1, "", 1),
        strings(&["cleanup wf.fan(0:a)"])
    );
    assert_eq!(
        run.run("wf.fan(1:b)", 0, "\"B\"", 2),
        strings(&["cleanup wf.fan(1:b)", "start wf.any", "start wf.use"])
    );
    assert_eq!(run.spec("wf.use").command, ["echo", r#"["B"]"#]);
    assert_eq!(run.children("wf"), strings(&["wf.fan"]));
    assert_eq!(
        run.children("wf.fan"),
        strings(&["wf.fan(0:a)", "wf.fan(1:b)"])
    );
    assert_eq!(run.run("wf.any", 0, "", 3), strings(&["cleanup wf.any"]));
    // A failed iteration fails the TaskGroup, which the DAG reports.
    assert_eq!(
        run.run("wf.use", 0, "", 4),
        strings(&["cleanup wf.use", "finished Failed"])
    );
    assert_eq!(
        run.nodes(),
        strings(&[
            "wf DAG Failed",
            "wf.all-failed Skipped Omitted (omitted: depends condition not met)",
            "wf.any Pod Succeeded",
            "wf.fan TaskGroup Failed",
            "wf.fan(0:a) Pod Failed (Error (exit code 1))",
            "wf.fan(1:b) Pod Succeeded",
            "wf.use Pod Succeeded",
        ])
    );
}

#[test]
fn retry_failed_runs_failed_steps_again_and_keeps_the_rest() {
    let (mut run, _) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [[{"name": "a", "template": "e"}], [{"name": "b", "template": "e"}], [{"name": "c", "template": "e"}]]},
            echo("e")
        ]
    }));
    run.run("wf[0].a", 0, "", 1);
    assert_eq!(
        run.run("wf[1].b", 1, "", 2),
        strings(&["cleanup wf[1].b", "finished Failed"])
    );
    let err = run
        .try_cmd(
            switchyard_engine::Command::RetryFailed {
                by: "ops".into(),
                restart_successful: false,
                node_filter: None,
            },
            3,
        )
        .unwrap();
    assert_eq!(err, strings(&["start wf[1].b"]));
    assert_eq!(run.spec("wf[1].b").id, format!("{}-1", run.id("wf[1].b")));
    assert_eq!(
        run.phase("wf[0].a"),
        switchyard_engine::NodePhase::Succeeded
    );
    assert_eq!(run.wf_phase(), "Running");
    assert_eq!(
        run.run("wf[1].b", 0, "", 4),
        strings(&["cleanup wf[1].b", "start wf[2].c"])
    );
    assert_eq!(
        run.run("wf[2].c", 0, "", 5),
        strings(&["cleanup wf[2].c", "finished Succeeded"])
    );
    let err = run
        .try_cmd(
            switchyard_engine::Command::RetryFailed {
                by: "ops".into(),
                restart_successful: false,
                node_filter: None,
            },
            6,
        )
        .unwrap_err();
    assert_eq!(
        err,
        "run `wf` is Succeeded: only a failed run can be retried"
    );
}

#[test]
fn supplied_outputs_are_set_then_resumed() {
    let (mut run, _) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [[{"name": "approve", "template": "approve"}],
                [{"name": "use", "template": "show", "arguments": {"parameters": [{"name": "v", "value": "{{steps.approve.outputs.parameters.decision}}"}]}}]]},
            {"name": "approve", "suspend": {}, "outputs": {"parameters": [{"name": "decision", "valueFrom": {"supplied": {}, "default": "no"}}]}},
            {"name": "show", "inputs": {"parameters": [{"name": "v"}]}, "container": {"image": "a", "command": ["echo", "{{inputs.parameters.v}}"]}}
        ]
    }));
    let a = run.cmd(
        switchyard_engine::Command::SetOutputs {
            node_filter: "approve".into(),
            parameters: vec![("decision".into(), "yes".into())],
            message: None,
        },
        1,
    );
    assert_eq!(a, Vec::<String>::new());
    let a = run.cmd(
        switchyard_engine::Command::Resume {
            node_filter: Some("approve".into()),
            by: "carol".into(),
            message: None,
        },
        2,
    );
    assert_eq!(a, strings(&["start wf[1].use"]));
    assert_eq!(run.spec("wf[1].use").command, ["echo", "yes"]);
}

#[test]
fn lifecycle_hooks_run_when_their_expression_holds() {
    let (mut run, a) = Run::start(json!({
        "entrypoint": "main",
        "hooks": {"started": {"expression": "workflow.status == \"Running\"", "template": "note"}},
        "templates": [
            {"name": "main", "steps": [[{"name": "a", "template": "e",
                "hooks": {"failed": {"expression": "steps.a.status == \"Failed\"", "template": "note"}}}]]},
            echo("e"), echo("note")
        ]
    }));
    assert_eq!(a, strings(&["start wf[0].a", "start wf.hooks.started"]));
    assert_eq!(
        run.run("wf.hooks.started", 0, "", 1),
        strings(&["cleanup wf.hooks.started"])
    );
    assert_eq!(
        run.run("wf[0].a", 1, "", 2),
        strings(&["cleanup wf[0].a", "start wf[0].a.hooks.failed"])
    );
    assert_eq!(
        run.run("wf[0].a.hooks.failed", 0, "", 3),
        strings(&["cleanup wf[0].a.hooks.failed", "finished Failed"])
    );
    assert_eq!(run.children("wf"), strings(&["wf[0]", "wf.hooks.started"]));
}

#[test]
fn commands_about_unknown_nodes_are_refused() {
    let (mut run, _) = Run::start(json!({"entrypoint": "e", "templates": [echo("e")]}));
    let err = run
        .try_cmd(
            switchyard_engine::Command::StartFailed {
                node: "wf-1".into(),
                error: "x".into(),
            },
            1,
        )
        .unwrap_err();
    assert_eq!(err, "run `wf` has no node `wf-1`");
    let (mut run, _) = Run::start(
        json!({"entrypoint": "m", "templates": [{"name": "m", "steps": [[{"name": "a", "template": "e"}]]}, echo("e")]}),
    );
    let err = run
        .try_cmd(
            switchyard_engine::Command::StartFailed {
                node: "wf".into(),
                error: "x".into(),
            },
            1,
        )
        .unwrap_err();
    assert_eq!(err, "node `wf` of run `wf` is not a step");
    let err = run
        .try_cmd(
            switchyard_engine::Command::Resume {
                node_filter: Some("bogus=1".into()),
                by: "x".into(),
                message: None,
            },
            1,
        )
        .unwrap_err();
    assert_eq!(
        err,
        "invalid node filter `bogus=1`: unknown field `bogus` (use id, name, displayName, templateName or phase)"
    );
}

#[test]
fn container_sets_run_their_containers_in_order() {
    let (mut run, a) = Run::start(json!({
        "entrypoint": "main",
        "templates": [{"name": "main", "containerSet": {"containers": [
            {"name": "a", "image": "alpine", "command": ["echo", "a"]},
            {"name": "main", "image": "alpine", "command": ["echo", "main"], "dependencies": ["a"]}
        ]}}]
    }));
    assert_eq!(a, strings(&["start wf.a"]));
    assert_eq!(
        run.run("wf.a", 0, "", 1),
        strings(&["cleanup wf.a", "start wf.main"])
    );
    assert_eq!(
        run.run("wf.main", 0, "hi", 2),
        strings(&["cleanup wf.main", "finished Succeeded"])
    );
    assert_eq!(
        run.nodes(),
        strings(&[
            "wf Pod Succeeded",
            "wf.a Container Succeeded",
            "wf.main Container Succeeded"
        ])
    );
    assert_eq!(
        run.st
            .root()
            .unwrap()
            .outputs
            .as_ref()
            .unwrap()
            .result
            .as_deref(),
        Some("hi")
    );
}

fn argosay_library() -> switchyard_engine::Library {
    let mut lib = switchyard_engine::Library::default();
    lib.image_entrypoints.insert(
        "argoproj/argosay".into(),
        strings(&["/opt/switchyard", "__argosay"]),
    );
    lib
}

#[test]
fn containers_without_a_command_run_their_image_entrypoint_with_their_args() {
    let (mut run, a) = Run::start_with(
        json!({
            "entrypoint": "main",
            "arguments": {"parameters": [{"name": "image", "value": "argoproj/argosay:v2"}]},
            "templates": [
                {"name": "main", "steps": [
                    [{"name": "say", "template": "say", "arguments": {"parameters": [{"name": "msg", "value": "hi"}]}}],
                    [{"name": "set", "template": "set"}],
                    [{"name": "dynamic", "template": "dynamic"}]
                ]},
                {"name": "say", "inputs": {"parameters": [{"name": "msg"}]},
                 "container": {"image": "docker.io/argoproj/argosay:v2", "args": ["echo", "{{inputs.parameters.msg}}"]}},
                {"name": "set", "containerSet": {"containers": [
                    {"name": "main", "image": "argoproj/argosay:v1"}
                ]}},
                {"name": "dynamic", "container": {"image": "{{workflow.parameters.image}}", "args": ["exit", "0"]}}
            ]
        }),
        argosay_library(),
    );
    assert_eq!(a, strings(&["start wf[0].say"]));
    let say = run.spec("wf[0].say");
    assert_eq!(
        (&say.command, &say.args),
        (
            &strings(&["/opt/switchyard", "__argosay"]),
            &strings(&["echo", "hi"])
        )
    );
    assert_eq!(
        run.run("wf[0].say", 0, "hi", 1),
        strings(&["cleanup wf[0].say", "start wf[1].set.main"])
    );
    let set = run.spec("wf[1].set.main");
    assert_eq!(
        (&set.command, set.args.len()),
        (&strings(&["/opt/switchyard", "__argosay"]), 0)
    );
    assert_eq!(
        run.run("wf[1].set.main", 0, "hello argo", 2),
        strings(&["cleanup wf[1].set.main", "start wf[2].dynamic"])
    );
    let dynamic = run.spec("wf[2].dynamic");
    assert_eq!(
        (&dynamic.command, &dynamic.args),
        (
            &strings(&["/opt/switchyard", "__argosay"]),
            &strings(&["exit", "0"])
        )
    );
}

#[test]
fn submit_refuses_containers_whose_image_has_no_host_entrypoint() {
    let spec = json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "containerSet": {"containers": [
                {"name": "a", "image": "argoproj/argosay:v2", "args": ["echo"]},
                {"name": "b", "image": "alpine:3", "args": ["ls"]}
            ]}},
            {"name": "dynamic", "container": {"image": "{{workflow.parameters.image}}"}}
        ]
    });
    let entry =
        "the container has no `command`, and the local executor cannot run the entrypoint of image";
    let hint = "set `command`, or map the image to a host command with --image-entrypoint";
    assert_eq!(
        submit_errors(spec.clone(), argosay_library()),
        [format!(
            "spec.templates[0].containerSet.containers[1].command: container `b`: {entry} `alpine:3`: {hint}"
        )]
    );
    // Without any host entrypoint, an image known only at run time cannot have one either.
    assert_eq!(
        submit_errors(spec, switchyard_engine::Library::default()),
        [
            format!(
                "spec.templates[0].containerSet.containers[0].command: container `a`: {entry} `argoproj/argosay:v2`: {hint}"
            ),
            format!(
                "spec.templates[0].containerSet.containers[1].command: container `b`: {entry} `alpine:3`: {hint}"
            ),
            format!(
                "spec.templates[1].container.command: template `dynamic`: {entry} `{{{{workflow.parameters.image}}}}`: {hint}"
            ),
        ]
    );
}

#[test]
fn a_run_time_image_without_a_host_entrypoint_fails_its_step() {
    let (run, a) = Run::start_with(
        json!({
            "entrypoint": "main",
            "arguments": {"parameters": [{"name": "image", "value": "alpine:3"}]},
            "templates": [
                {"name": "main", "container": {"image": "{{workflow.parameters.image}}", "args": ["ls"]}}
            ]
        }),
        argosay_library(),
    );
    assert_eq!(a, strings(&["finished Error"]));
    assert_eq!(
        run.nodes(),
        strings(&[
            "wf Pod Error (template `main`: the container has no `command`, and the local executor cannot run the entrypoint of image `alpine:3`: set `command`, or map the image to a host command with --image-entrypoint)"
        ])
    );
}

#[test]
fn a_retried_steps_template_runs_its_steps_again() {
    let (mut run, a) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "retryStrategy": {"limit": 1}, "steps": [[{"name": "a", "template": "e"}]]},
            echo("e")
        ]
    }));
    assert_eq!(a, strings(&["start wf(0)[0].a"]));
    assert_eq!(
        run.run("wf(0)[0].a", 1, "", 1),
        strings(&["cleanup wf(0)[0].a", "start wf(1)[0].a"])
    );
    assert_eq!(
        run.run("wf(1)[0].a", 0, "", 2),
        strings(&["cleanup wf(1)[0].a", "finished Succeeded"])
    );
    assert_eq!(
        run.nodes(),
        strings(&[
            "wf Retry Succeeded",
            "wf(0) Steps Failed (child 'wf-3924147526' failed)",
            "wf(0)[0] StepGroup Failed (child 'wf-3924147526' failed)",
            "wf(0)[0].a Pod Failed (Error (exit code 1))",
            "wf(1) Steps Succeeded",
            "wf(1)[0] StepGroup Succeeded",
            "wf(1)[0].a Pod Succeeded",
        ])
    );
}

#[test]
fn dag_continue_on_lets_dependents_run() {
    let (mut run, _) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "dag": {"tasks": [
                {"name": "A", "template": "e", "continueOn": {"failed": true}},
                {"name": "B", "dependencies": ["A"], "template": "e"}
            ]}},
            echo("e")
        ]
    }));
    assert_eq!(
        run.run("wf.A", 1, "", 1),
        strings(&["cleanup wf.A", "start wf.B"])
    );
    assert_eq!(
        run.run("wf.B", 0, "", 2),
        strings(&["cleanup wf.B", "finished Succeeded"])
    );
}

#[test]
fn a_refused_command_changes_nothing() {
    let (mut run, _) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [[{"name": "a", "template": "gate"}, {"name": "b", "template": "gate"}]]},
            {"name": "gate", "suspend": {}, "outputs": {"parameters": [{"name": "x", "valueFrom": {"supplied": {}}}]}}
        ]
    }));
    let before = run.st.clone();
    let err = run
        .try_cmd(
            switchyard_engine::Command::SetOutputs {
                node_filter: "templateName=gate".into(),
                parameters: vec![("x".into(), "1".into()), ("y".into(), "2".into())],
                message: None,
            },
            1,
        )
        .unwrap_err();
    assert_eq!(err, "node `wf[0].a` has no output parameter `y`");
    assert_eq!(run.st, before);
}

#[test]
fn secrets_stay_out_of_the_state() {
    let (run, _) = Run::start(json!({
        "entrypoint": "main",
        "templates": [{"name": "main", "container": {"image": "a", "command": ["env"],
            "env": [{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token", "optional": true}}}]}}]
    }));
    assert_eq!(run.env("wf", "TOKEN"), None);
    assert_eq!(
        run.st.secret_env("wf"),
        [switchyard_engine::SecretEnvRef {
            name: "TOKEN".into(),
            secret: "creds".into(),
            key: Some("token".into()),
            optional: true
        }]
    );
    assert_eq!(run.st.node_of_step("wf").map(|n| n.id.as_str()), Some("wf"));
}

#[test]
fn template_active_deadline_seconds_limits_the_step() {
    let (mut run, a) = Run::start(json!({
        "entrypoint": "main",
        "templates": [{"name": "main", "activeDeadlineSeconds": "{{workflow.parameters.secs}}",
                       "container": {"image": "a", "command": ["sleep", "99"]}}],
        "arguments": {"parameters": [{"name": "secs", "value": "7"}]}
    }));
    assert_eq!(a, strings(&["start wf", "wake 7"]));
    run.started("wf", 1);
    assert_eq!(run.tick(7), strings(&["stop wf Timeout"]));
}

/// The seed scenario: a sensor creates a Workflow from a WorkflowTemplate with six
/// parameters; `plan` runs, the run waits at `approve`, survives a restart, is approved, and
/// `apply` runs. Hostile text in a parameter reaches the steps as data.
#[test]
fn seed_scenario_plan_approve_apply() {
    let wft: switchyard_model::workflow::WorkflowSpec = serde_json::from_value(json!({
        "entrypoint": "provision",
        "arguments": {"parameters": [
            {"name": "region"}, {"name": "cloud_provider"}, {"name": "resource_type"},
            {"name": "environment"}, {"name": "requester_name"}, {"name": "requester_email"}
        ]},
        "templates": [
            {"name": "provision", "dag": {"tasks": [
                {"name": "terraform-plan", "template": "terraform", "arguments": {"parameters": [{"name": "action", "value": "plan"}]}},
                {"name": "approve", "template": "approve", "dependencies": ["terraform-plan"]},
                {"name": "terraform-apply", "template": "terraform", "dependencies": ["approve"], "arguments": {"parameters": [{"name": "action", "value": "apply"}]}}
            ]}},
            {"name": "approve", "suspend": {}},
            {"name": "terraform", "inputs": {"parameters": [{"name": "action"}]},
             "script": {"image": "hashicorp/terraform:1.9", "command": ["sh"],
                        "env": [{"name": "TF_VAR_region", "value": "{{workflow.parameters.region}}"}],
                        "source": "terraform {{inputs.parameters.action}} -var env=\"$INPUT_PARAMETER_ACTION\""}}
        ]
    }))
    .unwrap();
    let mut lib = switchyard_engine::Library::default();
    lib.workflow_templates
        .insert("environment-order".into(), wft);
    let hostile = "'; touch /tmp/pwned #{{workflow.uid}}";
    let (mut run, a) = Run::start_with(
        json!({
            "workflowTemplateRef": {"name": "environment-order"},
            "arguments": {"parameters": [
                {"name": "region", "value": hostile},
                {"name": "cloud_provider", "value": "aws"},
                {"name": "resource_type", "value": "vpc"},
                {"name": "environment", "value": "dev"},
                {"name": "requester_name", "value": "Dana"},
                {"name": "requester_email", "value": "dana@example.com"}
            ]}
        }),
        lib,
    );
    assert_eq!(a, strings(&["start wf.terraform-plan"]));
    assert_eq!(
        run.env("wf.terraform-plan", "TF_VAR_region").as_deref(),
        Some(hostile)
    );
    assert_eq!(
        run.spec("wf.terraform-plan").script_source.as_deref(),
        Some("terraform plan -var env=\"$INPUT_PARAMETER_ACTION\"")
    );
    assert_eq!(
        run.run("wf.terraform-plan", 0, "Plan: 1 to add", 10),
        strings(&["cleanup wf.terraform-plan"])
    );
    assert_eq!(run.nodes()[1], "wf.approve Suspend Running");
    // Kill -9 and restart: reload from JSON; nothing to start, nothing to wake for.
    let json = serde_json::to_string(&run.st).unwrap();
    run.st = serde_json::from_str(&json).unwrap();
    assert!(switchyard_engine::restart_actions(&run.st).is_empty());
    assert_eq!(run.tick(100_000), Vec::<String>::new());
    let a = run.cmd(
        switchyard_engine::Command::Resume {
            node_filter: Some("displayName=approve".into()),
            by: "platform-lead".into(),
            message: Some("approved".into()),
        },
        100_001,
    );
    assert_eq!(a, strings(&["start wf.terraform-apply"]));
    assert_eq!(
        run.run("wf.terraform-apply", 0, "Apply complete!", 100_010),
        strings(&["cleanup wf.terraform-apply", "finished Succeeded"])
    );
    assert_eq!(
        run.nodes(),
        strings(&[
            "wf DAG Succeeded",
            "wf.approve Suspend Succeeded",
            "wf.terraform-apply Pod Succeeded",
            "wf.terraform-plan Pod Succeeded",
        ])
    );
    assert_eq!(run.st.status.progress, "3/3");
    let approve = run.st.node_by_name("wf.approve").unwrap();
    assert_eq!(approve.resumed_by.as_deref(), Some("platform-lead"));
}

#[test]
fn exit_codes_and_expression_tags_drive_conditions() {
    let (mut run, _) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [
                [{"name": "probe", "template": "e"}],
                [
                    {"name": "on-two", "template": "e", "when": "{{steps.probe.exitCode}} == 2"},
                    {"name": "expr", "template": "e", "when": "{{= steps.probe.status == 'Failed' && asInt(steps.probe.exitCode) > 1 }}"}
                ]
            ]},
            {"name": "e", "container": {"image": "a", "command": ["true"]}}
        ]
    }));
    // Without continueOn the failure ends the run.
    let a = run.run("wf[0].probe", 2, "", 1);
    assert_eq!(a, strings(&["cleanup wf[0].probe", "finished Failed"]));
    let (mut run, _) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [
                [{"name": "probe", "template": "e", "continueOn": {"failed": true}}],
                [
                    {"name": "on-two", "template": "e", "when": "{{steps.probe.exitCode}} == 2"},
                    {"name": "expr", "template": "e", "when": "{{= steps.probe.status == 'Failed' && asInt(steps.probe.exitCode) > 1 }}"},
                    {"name": "never", "template": "e", "when": "{{steps.probe.exitCode}} == 0"}
                ]
            ]},
            {"name": "e", "container": {"image": "a", "command": ["true"]}}
        ]
    }));
    let a = run.run("wf[0].probe", 2, "", 1);
    assert_eq!(
        a,
        strings(&[
            "cleanup wf[0].probe",
            "start wf[1].on-two",
            "start wf[1].expr"
        ])
    );
    assert_eq!(
        run.message("wf[1].never").as_deref(),
        Some("when '2 == 0' evaluated false")
    );
}

/// `lastRetry.duration` is whole seconds, as Argo's status stores times, so `asInt` reads it
/// even when the attempt ran for a fraction of a second more.
#[test]
fn last_retry_duration_is_whole_seconds() {
    use chrono::Duration;
    use switchyard_engine::{Command, apply};
    let spec = json!({
        "entrypoint": "main",
        "templates": [{"name": "main",
            "retryStrategy": {"limit": 3, "expression": "asInt(lastRetry.duration) < 120 && asInt(lastRetry.exitCode) > 1"},
            "container": {"image": "alpine", "command": ["echo", "after {{lastRetry.duration}}s"]}}]
    });
    let mut st = switchyard_engine::submit(
        "wf",
        "default",
        "uid-1",
        &common::workflow(spec),
        switchyard_engine::Library::default(),
        common::t(0),
    )
    .unwrap();
    let at = |secs: i64, millis: i64| common::t(secs) + Duration::milliseconds(millis);
    apply(&mut st, Command::Submit, at(0, 250)).unwrap();
    let first = st.node_by_name("wf(0)").unwrap().id.clone();
    assert_eq!(
        st.node_by_name("wf(0)")
            .unwrap()
            .step
            .as_ref()
            .unwrap()
            .spec
            .args,
        Vec::<String>::new()
    );
    assert_eq!(
        st.node_by_name("wf(0)")
            .unwrap()
            .step
            .as_ref()
            .unwrap()
            .spec
            .command,
        ["echo", "after 0s"]
    );
    let mut result = common::result(2, "", 1);
    result.started_at = at(0, 300);
    result.finished_at = at(1, 783);
    apply(
        &mut st,
        Command::StepExited {
            node: first,
            result,
        },
        at(1, 790),
    )
    .unwrap();
    // 1.783 s - 0.250 s of wall time, but 1 s - 0 s as the status stores the times.
    let second = st
        .node_by_name("wf(1)")
        .expect("the expression allowed a retry");
    assert_eq!(
        second.step.as_ref().unwrap().spec.command,
        ["echo", "after 1s"]
    );
    assert_eq!(
        st.node_by_name("wf").unwrap().phase,
        switchyard_engine::NodePhase::Running
    );
}

fn skipped_producer(
    consumer_input: serde_json::Value,
    output_default: Option<&str>,
) -> serde_json::Value {
    let mut from = json!({"path": "/tmp/out.txt"});
    if let Some(d) = output_default {
        from["default"] = json!(d);
    }
    json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "dag": {"tasks": [
                {"name": "producer", "template": "produce", "when": "false"},
                {"name": "consumer", "template": "consume", "depends": "producer.Succeeded || producer.Skipped",
                 "arguments": {"parameters": [{"name": "in", "value": "{{tasks.producer.outputs.parameters.msg}}"}]}}
            ]}},
            {"name": "produce", "outputs": {"parameters": [{"name": "msg", "valueFrom": from}]},
             "container": {"image": "alpine", "command": ["echo", "real-value"]}},
            {"name": "consume", "inputs": {"parameters": [consumer_input]},
             "container": {"image": "alpine", "command": ["echo", "consumer got: [{{inputs.parameters.in}}]"]}}
        ]
    })
}

/// The outputs of a skipped task: its declared default, else the consumer's input default,
/// else an error that names the cause.
#[test]
fn skipped_outputs_use_the_producer_default_then_the_consumer_default() {
    // The producer declares a default: the consumer gets it.
    let (run, a) = Run::start(skipped_producer(
        json!({"name": "in"}),
        Some("from-producer"),
    ));
    assert_eq!(a, strings(&["start wf.consumer"]));
    assert_eq!(
        run.spec("wf.consumer").command,
        ["echo", "consumer got: [from-producer]"]
    );

    // No producer default: the consumer's own input default applies.
    let (run, a) = Run::start(skipped_producer(
        json!({"name": "in", "default": "from-input"}),
        None,
    ));
    assert_eq!(a, strings(&["start wf.consumer"]));
    assert_eq!(
        run.spec("wf.consumer").command,
        ["echo", "consumer got: [from-input]"]
    );
    assert_eq!(
        run.phase("wf.producer"),
        switchyard_engine::NodePhase::Skipped
    );

    // Both declare one: the producer's wins (the argument is a real value then).
    let (run, _) = Run::start(skipped_producer(
        json!({"name": "in", "default": "from-input"}),
        Some("from-producer"),
    ));
    assert_eq!(
        run.spec("wf.consumer").command,
        ["echo", "consumer got: [from-producer]"]
    );

    // Neither: the consumer errors, saying why.
    let (run, a) = Run::start(skipped_producer(json!({"name": "in"}), None));
    assert_eq!(a, strings(&["finished Error"]));
    assert_eq!(
        run.message("wf.consumer").as_deref(),
        Some(
            "unable to substitute {{tasks.producer.outputs.parameters.msg}}: output is an absent optional (skipped/omitted node with no default); give the output a `valueFrom.default`, the input a `default`, or read it in an expression tag with `??`"
        )
    );
}

/// Expressions see the output of a skipped task without a default as nil, so `??` chooses a
/// fallback; a DAG output read from it without one takes its own default or fails.
#[test]
fn skipped_outputs_are_nil_to_expressions() {
    let spec = |outputs: serde_json::Value, argument: &str| {
        json!({
            "entrypoint": "main",
            "templates": [
                {"name": "main", "outputs": {"parameters": outputs}, "dag": {"tasks": [
                    {"name": "producer", "template": "produce", "when": "false"},
                    {"name": "consumer", "template": "consume", "depends": "producer.Skipped",
                     "arguments": {"parameters": [{"name": "in", "value": argument}]}}
                ]}},
                {"name": "produce", "outputs": {"parameters": [{"name": "msg", "valueFrom": {"path": "/tmp/out.txt"}}]},
                 "container": {"image": "alpine", "command": ["echo", "x"]}},
                {"name": "consume", "inputs": {"parameters": [{"name": "in"}]},
                 "container": {"image": "alpine", "command": ["echo", "{{inputs.parameters.in}}"]}}
            ]
        })
    };
    let outputs = json!([
        {"name": "result", "valueFrom": {"expression": "tasks.producer.outputs.parameters.msg ?? 'expr-fallback'"}},
        {"name": "own-default", "valueFrom": {"parameter": "{{tasks.producer.outputs.parameters.msg}}", "default": "dag-default"}},
        {"name": "nil-default", "valueFrom": {"expression": "tasks.producer.outputs.parameters.msg", "default": "nil-default"}}
    ]);
    let (mut run, a) = Run::start(spec(
        outputs,
        "{{=tasks.producer.outputs.parameters.msg ?? 'tag-fallback'}}",
    ));
    assert_eq!(a, strings(&["start wf.consumer"]));
    assert_eq!(run.spec("wf.consumer").command, ["echo", "tag-fallback"]);
    assert_eq!(
        run.run("wf.consumer", 0, "tag-fallback", 1),
        strings(&["cleanup wf.consumer", "finished Succeeded"])
    );
    let outputs: Vec<(String, String)> = run
        .st
        .root()
        .unwrap()
        .outputs
        .as_ref()
        .unwrap()
        .parameters
        .iter()
        .map(|p| (p.name.clone(), p.value.as_ref().unwrap().0.clone()))
        .collect();
    assert_eq!(
        outputs,
        [
            ("result".to_string(), "expr-fallback".to_string()),
            ("own-default".to_string(), "dag-default".to_string()),
            ("nil-default".to_string(), "nil-default".to_string()),
        ]
    );

    // An output read from it with neither `??` nor a default fails the DAG.
    let outputs = json!([{"name": "bare", "valueFrom": {"parameter": "{{tasks.producer.outputs.parameters.msg}}"}}]);
    let (mut run, _) = Run::start(spec(outputs, "x"));
    assert_eq!(
        run.run("wf.consumer", 0, "x", 1),
        strings(&["cleanup wf.consumer", "finished Error"])
    );
    assert_eq!(
        run.message("wf").as_deref(),
        Some(
            "output parameter `bare`: `{{tasks.producer.outputs.parameters.msg}}` is an absent optional (skipped/omitted node output with no default)"
        )
    );
}

/// In steps too, a skipped step's output without a default is nil to expressions.
#[test]
fn skipped_step_outputs_are_nil_to_expressions() {
    let (run, a) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [
                [{"name": "producer", "template": "produce", "when": "false"}],
                [{"name": "consumer", "template": "consume",
                  "arguments": {"parameters": [{"name": "in", "value": "{{=steps.producer.outputs.parameters.msg ?? 'none'}}"}]}}]
            ]},
            {"name": "produce", "outputs": {"parameters": [{"name": "msg", "valueFrom": {"path": "/tmp/out.txt"}}]},
             "container": {"image": "alpine", "command": ["echo", "x"]}},
            {"name": "consume", "inputs": {"parameters": [{"name": "in"}]},
             "container": {"image": "alpine", "command": ["echo", "{{inputs.parameters.in}}"]}}
        ]
    }));
    assert_eq!(a, strings(&["start wf[1].consumer"]));
    assert_eq!(run.spec("wf[1].consumer").command, ["echo", "none"]);
}

/// `sprig.date` formats the time of the reconcile pass that creates the step (sprig would
/// read the clock): a step created later sees a later time, and the same inputs always give
/// the same text.
#[test]
fn sprig_date_formats_the_time_of_the_pass() {
    let spec = json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "steps": [
                [{"name": "first", "template": "stamp"}],
                [{"name": "second", "template": "stamp"}]
            ]},
            {"name": "stamp", "container": {"image": "alpine", "command": [
                "echo", "{{=sprig.date('2006-01-02 15:04:05', workflow.creationTimestamp)}} {{=sprig.htmlDate(86400)}}"
            ]}}
        ]
    });
    let (mut run, a) = Run::start(spec.clone());
    assert_eq!(a, strings(&["start wf[0].first"]));
    assert_eq!(
        run.spec("wf[0].first").command,
        ["echo", "2024-01-01 00:00:00 1970-01-02"]
    );
    assert_eq!(
        run.run("wf[0].first", 0, "", 75),
        strings(&["cleanup wf[0].first", "start wf[1].second"])
    );
    assert_eq!(
        run.spec("wf[1].second").command,
        ["echo", "2024-01-01 00:01:15 1970-01-02"]
    );
    // Deterministic: the same commands at the same times give the same steps.
    let (mut again, _) = Run::start(spec);
    again.run("wf[0].first", 0, "", 75);
    assert_eq!(
        again.spec("wf[1].second").command,
        run.spec("wf[1].second").command
    );
}

/// An exit handler's argument that only names a skipped task's output without a default
/// gives way to the handler's own input default, as a task's argument does.
#[test]
fn exit_handler_arguments_give_way_to_input_defaults() {
    let (mut run, a) = Run::start(json!({
        "entrypoint": "main",
        "templates": [
            {"name": "main", "dag": {"tasks": [
                {"name": "producer", "template": "produce", "when": "false"},
                {"name": "worker", "template": "report", "depends": "producer.Skipped",
                 "arguments": {"parameters": [{"name": "in", "value": "work"}]},
                 "hooks": {"exit": {"template": "report", "arguments": {"parameters": [
                     {"name": "in", "value": "{{ tasks.producer.outputs.parameters.msg }}"}
                 ]}}}}
            ]}},
            {"name": "produce", "outputs": {"parameters": [{"name": "msg", "valueFrom": {"path": "/tmp/out.txt"}}]},
             "container": {"image": "alpine", "command": ["echo", "x"]}},
            {"name": "report", "inputs": {"parameters": [{"name": "in", "default": "nothing produced"}]},
             "container": {"image": "alpine", "command": ["echo", "{{inputs.parameters.in}}"]}}
        ]
    }));
    assert_eq!(a, strings(&["start wf.worker"]));
    assert_eq!(run.spec("wf.worker").command, ["echo", "work"]);
    assert_eq!(
        run.run("wf.worker", 0, "", 1),
        strings(&["cleanup wf.worker", "start wf.worker.onExit"])
    );
    assert_eq!(
        run.spec("wf.worker.onExit").command,
        ["echo", "nothing produced"]
    );
}
