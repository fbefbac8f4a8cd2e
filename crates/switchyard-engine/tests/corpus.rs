//! Argo's own example workflows, loaded with the manifest loader, submitted and driven with
//! fake step results: node names and phases as Argo forms them. Skipped (with a message) when
//! the corpus is not on this machine.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{Run, strings};
use switchyard_engine::{Library, submit};
use switchyard_manifest::{Limits, Resource, Source, load};
use switchyard_model::workflow::Workflow;

const CORPUS: &str = "/work/shared/corpus/argo-workflows/examples";

fn corpus() -> Option<PathBuf> {
    let p = Path::new(CORPUS);
    if p.is_dir() {
        Some(p.to_path_buf())
    } else {
        eprintln!("skipped: the Argo examples corpus is not at {CORPUS}");
        None
    }
}

fn load_workflow(path: &Path) -> Option<Workflow> {
    let text = std::fs::read_to_string(path).ok()?;
    let out = load(
        &[Source::new(path.display().to_string(), text)],
        &Limits::default(),
    );
    out.objects.into_iter().find_map(|o| match o.resource {
        Resource::Workflow(w) => Some(*w),
        _ => None,
    })
}

/// Drives a run until it finishes or nothing is left to do: every started step runs and
/// exits as `outcome` says (exit code, stdout), with every declared output parameter written
/// as `<name>-value`; wake-ups are honoured in order. Returns the final time.
fn drive(run: &mut Run, first: Vec<String>, outcome: &dyn Fn(&str) -> (i32, String)) -> i64 {
    drive_with(run, first, &|_: &Run, name: &str| {
        let (code, stdout) = outcome(name);
        (code, stdout, None)
    })
}

/// What a fake step does: exit code, stdout, and its output parameters (`None`: every
/// declared one as `<name>-value`).
type Outcome = (i32, String, Option<Vec<(String, String)>>);

fn drive_with(run: &mut Run, first: Vec<String>, outcome: &dyn Fn(&Run, &str) -> Outcome) -> i64 {
    let mut queue: Vec<String> = Vec::new();
    let mut wakes: Vec<i64> = Vec::new();
    let mut now = 0;
    let absorb = |actions: Vec<String>, queue: &mut Vec<String>, wakes: &mut Vec<i64>| {
        for a in actions {
            if let Some(name) = a.strip_prefix("start ") {
                queue.push(name.to_string());
            } else if let Some(at) = a.strip_prefix("wake ") {
                wakes.push(at.parse().unwrap());
            }
        }
    };
    absorb(first, &mut queue, &mut wakes);
    for _ in 0..10_000 {
        if run.st.status.phase.is_finished() {
            break;
        }
        if !queue.is_empty() {
            let name = queue.remove(0);
            now += 1;
            let a = run.started(&name, now);
            absorb(a, &mut queue, &mut wakes);
            let (code, stdout, given) = outcome(run, &name);
            let pairs: Vec<(String, String)> = given.unwrap_or_else(|| {
                run.st
                    .node_by_name(&name)
                    .and_then(|n| n.step.as_ref())
                    .map(|s| {
                        s.declared_outputs
                            .iter()
                            .map(|p| (p.name.clone(), format!("{}-value", p.name)))
                            .collect()
                    })
                    .unwrap_or_default()
            });
            let outputs: Vec<(&str, Result<&str, &str>)> = pairs
                .iter()
                .map(|(d, v)| (d.as_str(), Ok(v.as_str())))
                .collect();
            let a = run.exited_with(&name, code, &stdout, &outputs, now);
            absorb(a, &mut queue, &mut wakes);
            continue;
        }
        wakes.sort();
        if wakes.is_empty() {
            break;
        }
        let at = wakes.remove(0);
        now = now.max(at);
        let a = run.tick(now);
        absorb(a, &mut queue, &mut wakes);
    }
    now
}

fn start(file: &str) -> Option<(Run, Vec<String>)> {
    start_with(file, Library::default())
}

fn start_with(file: &str, library: Library) -> Option<(Run, Vec<String>)> {
    let dir = corpus()?;
    let wf = load_workflow(&dir.join(file)).unwrap();
    let st = submit("wf", "argo", "uid", &wf, library, common::t(0)).unwrap();
    let mut run = Run {
        st,
        log: Vec::new(),
    };
    let a = run.cmd(switchyard_engine::Command::Submit, 0);
    Some((run, a))
}

#[test]
fn steps_yaml() {
    let Some((mut run, a)) = start("steps.yaml") else {
        return;
    };
    drive(&mut run, a, &|_| (0, String::new()));
    assert_eq!(
        run.nodes(),
        strings(&[
            "wf Steps Succeeded",
            "wf[0] StepGroup Succeeded",
            "wf[0].hello1 Pod Succeeded",
            "wf[1] StepGroup Succeeded",
            "wf[1].hello2a Pod Succeeded",
            "wf[1].hello2b Pod Succeeded",
        ])
    );
    assert_eq!(run.spec("wf[1].hello2a").args, ["hello2a"]);
    assert_eq!(run.wf_phase(), "Succeeded");
}

/// Examples that run `argoproj/argosay` with `args` only run the host command it is mapped to.
#[test]
fn argosay_examples_run_the_mapped_entrypoint() {
    let mut library = Library::default();
    library.image_entrypoints.insert(
        "argoproj/argosay".into(),
        strings(&["/opt/switchyard", "__argosay"]),
    );
    let cases = [
        ("steps-inline-workflow.yaml", "wf[0].a", &[][..]),
        ("dag-inline-workflow.yaml", "wf.a", &[]),
        ("label-value-from-workflow.yaml", "wf", &[]),
        ("container-set-template/sequence-workflow.yaml", "wf.c", &[]),
        (
            "skipped-output-defaults/producer-output-default.yaml",
            "wf.consumer",
            &["echo", "consumer got: [hello-from-producer]"],
        ),
        (
            "skipped-output-defaults/consumer-input-default.yaml",
            "wf.consumer",
            &["echo", "consumer got: [fallback-from-input]"],
        ),
        (
            "expression-tag-template-workflow.yaml",
            "wf.task-0(0:3)",
            &["echo", "hello 30 @ 2024\n", "/output"],
        ),
    ];
    for (file, node, args) in cases {
        let Some((mut run, a)) = start_with(file, library.clone()) else {
            return;
        };
        drive(&mut run, a, &|_| (0, String::new()));
        assert_eq!(run.wf_phase(), "Succeeded", "{file}");
        let spec = run.spec(node);
        assert_eq!(spec.command, ["/opt/switchyard", "__argosay"], "{file}");
        assert_eq!(spec.args, args, "{file}");
    }
}

#[test]
fn dag_diamond_yaml() {
    let Some((mut run, a)) = start("dag-diamond.yaml") else {
        return;
    };
    drive(&mut run, a, &|_| (0, String::new()));
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
    assert_eq!(run.spec("wf.D").command, ["echo", "D"]);
    assert_eq!(
        run.log
            .iter()
            .filter(|l| l.starts_with("start"))
            .cloned()
            .collect::<Vec<_>>(),
        strings(&["start wf.A", "start wf.B", "start wf.C", "start wf.D"])
    );
}

#[test]
fn loops_yaml() {
    let Some((mut run, a)) = start("loops.yaml") else {
        return;
    };
    drive(&mut run, a, &|_| (0, String::new()));
    assert_eq!(
        run.nodes(),
        strings(&[
            "wf Steps Succeeded",
            "wf[0] StepGroup Succeeded",
            "wf[0].print-message-loop(0:hello world) Pod Succeeded",
            "wf[0].print-message-loop(1:goodbye world) Pod Succeeded",
        ])
    );
    assert_eq!(
        run.spec("wf[0].print-message-loop(1:goodbye world)").args,
        ["goodbye world"]
    );
}

#[test]
fn coinflip_yaml() {
    for (side, other) in [("heads", "tails"), ("tails", "heads")] {
        let Some((mut run, a)) = start("coinflip.yaml") else {
            return;
        };
        drive(&mut run, a, &|name| {
            if name.ends_with("flip-coin") {
                (0, side.to_string())
            } else {
                (0, String::new())
            }
        });
        let nodes = run.nodes();
        assert_eq!(nodes[0], "wf Steps Succeeded");
        assert!(
            nodes.contains(&format!("wf[1].{side} Pod Succeeded")),
            "{nodes:?}"
        );
        assert!(
            nodes.contains(&format!(
                "wf[1].{other} Skipped Skipped (when '{side} == {other}' evaluated false)"
            )),
            "{nodes:?}"
        );
    }
}

#[test]
fn retry_with_steps_yaml() {
    let Some((mut run, a)) = start("retry-with-steps.yaml") else {
        return;
    };
    // Each step fails on its first two attempts.
    drive(&mut run, a, &|name| {
        if name.ends_with("(0)") || name.ends_with("(1)") {
            (1, String::new())
        } else {
            (0, String::new())
        }
    });
    assert_eq!(
        run.nodes(),
        strings(&[
            "wf Steps Succeeded",
            "wf[0] StepGroup Succeeded",
            "wf[0].hello1 Retry Succeeded",
            "wf[0].hello1(0) Pod Failed (Error (exit code 1))",
            "wf[0].hello1(1) Pod Failed (Error (exit code 1))",
            "wf[0].hello1(2) Pod Succeeded",
            "wf[1] StepGroup Succeeded",
            "wf[1].hello2a Retry Succeeded",
            "wf[1].hello2a(0) Pod Failed (Error (exit code 1))",
            "wf[1].hello2a(1) Pod Failed (Error (exit code 1))",
            "wf[1].hello2a(2) Pod Succeeded",
            "wf[1].hello2b Retry Succeeded",
            "wf[1].hello2b(0) Pod Failed (Error (exit code 1))",
            "wf[1].hello2b(1) Pod Failed (Error (exit code 1))",
            "wf[1].hello2b(2) Pod Succeeded",
        ])
    );
    // `{{retries}}` is the attempt number.
    assert!(run.spec("wf[0].hello1(2)").args[0].contains("print('retries: 2')"));
    // The next group hangs under the last attempt.
    assert_eq!(run.children("wf[0].hello1(2)"), strings(&["wf[1]"]));
}

#[test]
fn exit_handlers_yaml() {
    let Some((mut run, a)) = start("exit-handlers.yaml") else {
        return;
    };
    drive(&mut run, a, &|name| {
        if name == "wf" {
            (1, String::new())
        } else {
            (0, String::new())
        }
    });
    assert_eq!(
        run.nodes(),
        strings(&[
            "wf Pod Failed (Error (exit code 1))",
            "wf.onExit Steps Succeeded",
            "wf.onExit[0] StepGroup Succeeded",
            "wf.onExit[0].celebrate Skipped Skipped (when 'Failed == Succeeded' evaluated false)",
            "wf.onExit[0].cry Pod Succeeded",
            "wf.onExit[0].notify Pod Succeeded",
        ])
    );
    let args = &run.spec("wf.onExit[0].notify").args[0];
    assert!(
        args.starts_with(
            "echo send e-mail: wf Failed 1.000000. Failed steps \"[{\\\"displayName\\\":\\\"wf\\\""
        ),
        "{args}"
    );
    assert_eq!(run.wf_phase(), "Failed");
}

/// The labels of a Linux amd64 node, as a kubelet sets them: what the examples' node
/// selectors are written for.
fn linux_amd64() -> Library {
    Library {
        node_labels: [
            ("beta.kubernetes.io/arch", "amd64"),
            ("beta.kubernetes.io/os", "linux"),
            ("kubernetes.io/arch", "amd64"),
            ("kubernetes.io/hostname", "node"),
            ("kubernetes.io/os", "linux"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        ..Library::default()
    }
}

/// Whether everything of the run that is left waits for a node that can take its pod.
fn only_unschedulable_left(run: &Run) -> bool {
    let waiting: Vec<_> = run
        .st
        .status
        .nodes
        .values()
        .filter(|n| n.step.is_none() && !n.fulfilled())
        .filter(|n| n.node_type == switchyard_engine::NodeType::Pod)
        .collect();
    !waiting.is_empty()
        && waiting.iter().all(|n| {
            n.message
                .as_deref()
                .is_some_and(|m| m.starts_with("Unschedulable: "))
        })
}

/// Every example either runs to an end (all steps succeeding, suspend nodes resumed; a run
/// whose pods no node takes, like Argo's, waits until it is stopped) or is refused at submit
/// with precise problems; none panics or stalls.
#[test]
fn every_example_submits_or_is_refused_clearly() {
    let Some(dir) = corpus() else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut ran = 0;
    let mut refused = 0;
    let mut waited_for_a_node = 0;
    for file in files {
        let Some(wf) = load_workflow(&file) else {
            continue;
        };
        let st = match submit("wf", "argo", "uid", &wf, linux_amd64(), common::t(0)) {
            Ok(st) => st,
            Err(e) => {
                assert!(!e.problems().is_empty(), "{}", file.display());
                for p in e.problems() {
                    assert!(
                        !p.path.is_empty() && !p.message.is_empty(),
                        "{}: {p}",
                        file.display()
                    );
                }
                refused += 1;
                if std::env::var("CORPUS_VERBOSE").is_ok() {
                    eprintln!("REFUSED {}: {e}", file.display());
                }
                continue;
            }
        };
        let started = std::time::Instant::now();
        let mut run = Run {
            st,
            log: Vec::new(),
        };
        let a = run.cmd(switchyard_engine::Command::Submit, 0);
        let mut now = drive(&mut run, a, &|_| (0, "[1, 2]".to_string()));
        for _ in 0..20 {
            if run.st.status.phase.is_finished() {
                break;
            }
            now += 1;
            let a = run.try_cmd(
                switchyard_engine::Command::Resume {
                    node_filter: None,
                    by: "test".into(),
                    message: None,
                },
                now,
            );
            let Ok(a) = a else { break };
            now = now.max(drive(&mut run, a, &|_| (0, "[1, 2]".to_string())));
        }
        if !run.st.status.phase.is_finished() && only_unschedulable_left(&run) {
            now += 1;
            let stop = switchyard_engine::Command::Stop {
                by: "test".into(),
                message: None,
            };
            let a = run.cmd(stop, now);
            drive(&mut run, a, &|_| (0, "[1, 2]".to_string()));
            waited_for_a_node += 1;
        }
        assert!(
            run.st.status.phase.is_finished(),
            "{} stalled: {:#?}",
            file.display(),
            run.nodes()
        );
        if std::env::var("CORPUS_VERBOSE").is_ok() {
            eprintln!(
                "RAN {} {:?} {:?} in {:?}",
                file.display(),
                run.st.status.phase,
                run.st.status.message,
                started.elapsed()
            );
        }
        ran += 1;
    }
    assert!(ran > 50, "ran {ran}, refused {refused}");
    // hello-windows.yaml and hello-hybrid.yaml ask for Windows nodes.
    assert_eq!(waited_for_a_node, 2, "ran {ran}, refused {refused}");
}

/// The pods no node takes wait Pending until the workflow's `activeDeadlineSeconds` fails
/// them along with the sleeps it stops.
#[test]
fn timeouts_workflow_yaml() {
    let Some((mut run, a)) = start_with("timeouts-workflow.yaml", linux_amd64()) else {
        return;
    };
    let sleeps = [
        "wf[0].sleep-one-day(0:1)",
        "wf[0].sleep-one-day(1:2)",
        "wf[0].sleep-one-day(2:3)",
    ];
    let mut want: Vec<String> = sleeps.iter().map(|s| format!("start {s}")).collect();
    want.push("wake 30".into());
    assert_eq!(a, want);
    for s in sleeps {
        run.started(s, 1);
    }
    for i in 0..3 {
        let name = format!("wf[0].unschedulable({i}:{})", i + 1);
        assert_eq!(run.phase(&name), switchyard_engine::NodePhase::Pending);
        assert!(
            run.message(&name)
                .is_some_and(|m| m.starts_with("Unschedulable: 0/1 nodes are available")),
            "{name}"
        );
    }
    assert_eq!(run.tick(30).len(), 3);
    for s in sleeps {
        run.stopped(s, switchyard_engine::StopReason::Deadline, 31);
    }
    assert_eq!(run.wf_phase(), "Failed");
    let failed: Vec<String> = run
        .nodes()
        .into_iter()
        .filter(|n| n.contains(" Pod Failed (Step exceeded its deadline)"))
        .collect();
    assert_eq!(failed.len(), 6, "{:#?}", run.nodes());
}

#[test]
fn recursive_for_loop_yaml() {
    let Some((mut run, a)) = start("recursive-for-loop.yaml") else {
        return;
    };
    // The script prints its counter plus one.
    drive_with(&mut run, a, &|run: &Run, name: &str| {
        let source = run.spec(name).script_source.clone().unwrap_or_default();
        let n: i64 = source
            .trim()
            .trim_start_matches("print(")
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        (0, (n + 1).to_string(), None)
    });
    assert_eq!(run.wf_phase(), "Succeeded");
    // Ten levels, each a `loop` steps node calling itself until the counter reaches 10.
    let deepest = "wf[0].recurse[1].continue[1].continue[1].continue[1].continue[1].continue[1].continue[1].continue[1].continue[1].continue";
    assert_eq!(
        run.message(&format!("{deepest}[1].continue")).as_deref(),
        Some("when '10 < 10' evaluated false")
    );
    assert_eq!(
        run.spec(&format!("{deepest}[0].iterate-counter"))
            .script_source
            .as_deref(),
        Some("print(9 + 1)\n")
    );
    assert_eq!(run.st.status.progress, "10/10");
}

#[test]
fn parameter_aggregation_dag_yaml() {
    let Some((mut run, a)) = start("parameter-aggregation-dag.yaml") else {
        return;
    };
    drive_with(&mut run, a, &|run: &Run, name: &str| {
        let inputs = run
            .st
            .node_by_name(name)
            .unwrap()
            .inputs
            .clone()
            .unwrap_or_default();
        let input = |p: &str| {
            inputs
                .parameter(p)
                .and_then(|p| p.value.clone())
                .map(|v| v.0)
                .unwrap_or_default()
        };
        if name.contains("odd-or-even(") {
            let n: i64 = input("num").parse().unwrap();
            let evenness = if n % 2 == 0 { "even" } else { "odd" };
            (
                0,
                String::new(),
                Some(vec![
                    ("num".into(), n.to_string()),
                    ("evenness".into(), evenness.into()),
                ]),
            )
        } else if name.contains("divide-by-2(") {
            let n: i64 = input("num").parse().unwrap();
            (0, (n / 2).to_string(), None)
        } else {
            (0, String::new(), None)
        }
    });
    assert_eq!(run.wf_phase(), "Succeeded");
    assert_eq!(
        run.spec("wf.print-nums").args.last().unwrap(),
        r#"["1","2","3","4"]"#
    );
    assert_eq!(
        run.spec("wf.print-evenness").args.last().unwrap(),
        r#"["odd","even","odd","even"]"#
    );
    let nodes = run.nodes();
    for want in [
        "wf.divide-by-2 TaskGroup Succeeded",
        "wf.divide-by-2(0:evenness:odd,num:1) Skipped Skipped (when 'odd == even' evaluated false)",
        "wf.divide-by-2(1:evenness:even,num:2) Pod Succeeded",
        "wf.print(0:1) Pod Succeeded",
        "wf.print(1:2) Pod Succeeded",
    ] {
        assert!(
            nodes.contains(&want.to_string()),
            "{want} not in {nodes:#?}"
        );
    }
    assert_eq!(run.spec("wf.print(1:2)").args.last().unwrap(), "2");
}

#[test]
fn skipped_output_expression_fallback_yaml() {
    let mut library = Library::default();
    library.image_entrypoints.insert(
        "argoproj/argosay".into(),
        strings(&["/opt/switchyard", "__argosay"]),
    );
    let Some((mut run, a)) =
        start_with("skipped-output-defaults/expression-fallback.yaml", library)
    else {
        return;
    };
    assert_eq!(a, strings(&["finished Succeeded"]));
    drive(&mut run, a, &|_| (0, String::new()));
    assert_eq!(
        run.nodes(),
        strings(&[
            "wf DAG Succeeded",
            "wf.producer Skipped Skipped (when 'false' evaluated false)",
        ])
    );
    let outputs = run.st.root().unwrap().outputs.clone().unwrap();
    assert_eq!(outputs.parameters[0].name, "result");
    assert_eq!(
        outputs.parameters[0].value.as_ref().map(|v| v.0.as_str()),
        Some("expr-fallback")
    );
}

/// `asInt(lastRetry.duration)` reads the attempt's whole seconds: attempts that exit 2 are
/// retried, the first that exits 1 ends the retries.
#[test]
fn retry_conditional_yaml() {
    let Some((mut run, a)) = start("retry-conditional.yaml") else {
        return;
    };
    drive(&mut run, a, &|name| match name {
        "wf[0].safe-to-retry" => (0, "true".to_string()),
        "wf[1].retry(0)" | "wf[1].retry(1)" => (2, String::new()),
        _ => (1, String::new()),
    });
    assert_eq!(run.wf_phase(), "Failed");
    assert_eq!(
        run.children("wf[1].retry"),
        strings(&["wf[1].retry(0)", "wf[1].retry(1)", "wf[1].retry(2)"])
    );
    assert_eq!(
        run.message("wf[1].retry").as_deref(),
        Some("retryStrategy.expression evaluated to false")
    );
}
