//! The DAG shapes of B3 and what is derived from each: the Workflow manifest Switchyard runs,
//! and the stages the floor loops run with the same parallelism.

use serde_json::{Value, json};

use crate::floor::Stage;

/// The program every step runs (`command: ["true"]`, quoted: a bare `true` is a YAML boolean).
pub const STEP_PROGRAM: &str = "true";

/// One B3 workload: a DAG of steps that each run [`STEP_PROGRAM`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `steps` tasks, each depending on the one before it: one step runs at a time.
    Chain { steps: usize },
    /// `steps` independent tasks, at most `parallelism` running at once (the DAG template's
    /// `parallelism`).
    FanOut { steps: usize, parallelism: usize },
    /// `layers` layers of `width` tasks; every task of a layer depends on every task of the
    /// layer before it, so a layer runs all at once and starts when the previous one is done.
    Lattice { layers: usize, width: usize },
}

/// One task of the DAG: its name and the tasks it depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub name: String,
    pub dependencies: Vec<String>,
}

/// The workloads `switchyard-bench b3` runs, in order: the three of BENCHMARKS.md (a chain of
/// 200, a fan-out of 500 with parallelism 8, a 10 × 10 diamond lattice), then 1,000-step
/// versions of the chain and the fan-out.
pub const B3_SHAPES: [Shape; 5] = [
    Shape::Chain { steps: 200 },
    Shape::FanOut {
        steps: 500,
        parallelism: 8,
    },
    Shape::Lattice {
        layers: 10,
        width: 10,
    },
    Shape::Chain { steps: 1000 },
    Shape::FanOut {
        steps: 1000,
        parallelism: 8,
    },
];

impl Shape {
    /// A short name, usable in file names and in `metadata.generateName`: `chain-200`,
    /// `fanout-500-p8`, `lattice-10x10`.
    pub fn name(&self) -> String {
        match *self {
            Shape::Chain { steps } => format!("chain-{steps}"),
            Shape::FanOut { steps, parallelism } => format!("fanout-{steps}-p{parallelism}"),
            Shape::Lattice { layers, width } => format!("lattice-{layers}x{width}"),
        }
    }

    /// What the shape is, in words.
    pub fn describe(&self) -> String {
        match *self {
            Shape::Chain { steps } => {
                format!("a chain of {steps} steps, each after the one before")
            }
            Shape::FanOut { steps, parallelism } => {
                format!("{steps} independent steps, parallelism {parallelism}")
            }
            Shape::Lattice { layers, width } => format!(
                "{layers} layers of {width} steps, each step after every step of the layer before"
            ),
        }
    }

    /// The number of steps (processes) the workload runs.
    pub fn steps(&self) -> usize {
        match *self {
            Shape::Chain { steps } | Shape::FanOut { steps, .. } => steps,
            Shape::Lattice { layers, width } => layers * width,
        }
    }

    /// The most steps that can run at once.
    pub fn parallelism(&self) -> usize {
        match *self {
            Shape::Chain { .. } => 1,
            Shape::FanOut { parallelism, .. } => parallelism,
            Shape::Lattice { width, .. } => width,
        }
    }

    /// The nodes a finished run has: the DAG's own node and one per step.
    pub fn expected_nodes(&self) -> usize {
        self.steps() + 1
    }

    /// The DAG's tasks, in the order they are written in the manifest.
    pub fn tasks(&self) -> Vec<Task> {
        match *self {
            Shape::Chain { steps } => (0..steps)
                .map(|i| Task {
                    name: format!("t{i}"),
                    dependencies: if i == 0 {
                        Vec::new()
                    } else {
                        vec![format!("t{}", i - 1)]
                    },
                })
                .collect(),
            Shape::FanOut { steps, .. } => (0..steps)
                .map(|i| Task {
                    name: format!("t{i}"),
                    dependencies: Vec::new(),
                })
                .collect(),
            Shape::Lattice { layers, width } => {
                let name = |layer: usize, column: usize| format!("t{layer}-{column}");
                (0..layers)
                    .flat_map(|layer| {
                        (0..width).map(move |column| Task {
                            name: name(layer, column),
                            dependencies: match layer.checked_sub(1) {
                                Some(before) => (0..width).map(|c| name(before, c)).collect(),
                                None => Vec::new(),
                            },
                        })
                    })
                    .collect()
            }
        }
    }

    /// The Workflow manifest (JSON, which the loader reads as YAML): an entrypoint DAG of
    /// [`Shape::tasks`], each running the container template `noop`.
    pub fn manifest(&self) -> String {
        let tasks: Vec<Value> = self
            .tasks()
            .into_iter()
            .map(|t| {
                let mut task = json!({"name": t.name, "template": "noop"});
                if !t.dependencies.is_empty() {
                    task["dependencies"] = json!(t.dependencies);
                }
                task
            })
            .collect();
        let mut main = json!({"name": "main", "dag": {"tasks": tasks}});
        if let Shape::FanOut { parallelism, .. } = *self {
            main["parallelism"] = json!(parallelism);
        }
        let workflow = json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {"generateName": format!("b3-{}-", self.name())},
            "spec": {
                "entrypoint": "main",
                "templates": [
                    main,
                    {
                        "name": "noop",
                        "container": {"image": "alpine:3.20", "command": [STEP_PROGRAM]},
                    },
                ],
            },
        });
        // Serializing a `Value` built from strings and numbers cannot fail; `Display` is
        // the infallible form.
        format!("{workflow:#}")
    }

    /// The stages the floor loops run one after another, each with the parallelism the
    /// workflow allows: the whole chain with 1, the whole fan-out with its parallelism, and
    /// the lattice one layer at a time, all of a layer at once.
    pub fn stages(&self) -> Vec<Stage> {
        match *self {
            Shape::Chain { steps } => vec![Stage {
                steps,
                parallelism: 1,
            }],
            Shape::FanOut { steps, parallelism } => vec![Stage { steps, parallelism }],
            Shape::Lattice { layers, width } => vec![
                Stage {
                    steps: width,
                    parallelism: width,
                };
                layers
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_manifest::{Limits, Severity, Source, load, validate};

    #[test]
    fn names_are_short_and_distinct() {
        let names: Vec<String> = B3_SHAPES.iter().map(Shape::name).collect();
        assert_eq!(
            names,
            [
                "chain-200",
                "fanout-500-p8",
                "lattice-10x10",
                "chain-1000",
                "fanout-1000-p8"
            ]
        );
    }

    #[test]
    fn a_chain_depends_on_its_predecessor() {
        let tasks = Shape::Chain { steps: 3 }.tasks();
        let deps: Vec<(&str, Vec<&str>)> = tasks
            .iter()
            .map(|t| {
                (
                    t.name.as_str(),
                    t.dependencies.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            deps,
            [("t0", vec![]), ("t1", vec!["t0"]), ("t2", vec!["t1"])]
        );
    }

    #[test]
    fn a_lattice_task_depends_on_the_whole_previous_layer() {
        let shape = Shape::Lattice {
            layers: 3,
            width: 2,
        };
        let tasks = shape.tasks();
        assert_eq!(tasks.len(), 6);
        assert!(tasks[..2].iter().all(|t| t.dependencies.is_empty()));
        assert_eq!(tasks[2].name, "t1-0");
        assert_eq!(tasks[2].dependencies, ["t0-0", "t0-1"]);
        assert_eq!(tasks[5].name, "t2-1");
        assert_eq!(tasks[5].dependencies, ["t1-0", "t1-1"]);
    }

    #[test]
    fn the_fan_out_limits_parallelism_on_its_dag() {
        let manifest: Value = serde_json::from_str(
            &Shape::FanOut {
                steps: 4,
                parallelism: 2,
            }
            .manifest(),
        )
        .unwrap();
        let main = &manifest["spec"]["templates"][0];
        assert_eq!(main["parallelism"], 2);
        let tasks = main["dag"]["tasks"].as_array().unwrap();
        assert_eq!(tasks.len(), 4);
        assert!(tasks.iter().all(|t| t.get("dependencies").is_none()));
        assert_eq!(
            manifest["spec"]["templates"][1]["container"]["command"],
            json!(["true"])
        );
    }

    #[test]
    fn stages_cover_every_step_with_the_workflows_parallelism() {
        for shape in B3_SHAPES {
            let stages = shape.stages();
            assert_eq!(
                stages.iter().map(|s| s.steps).sum::<usize>(),
                shape.steps(),
                "{}",
                shape.name()
            );
            assert!(
                stages.iter().all(|s| s.parallelism == shape.parallelism()),
                "{}",
                shape.name()
            );
        }
        assert_eq!(
            Shape::Lattice {
                layers: 10,
                width: 10
            }
            .stages()
            .len(),
            10
        );
    }

    #[test]
    fn every_manifest_loads_and_validates_without_findings() {
        for shape in B3_SHAPES {
            let source = Source::new(format!("{}.json", shape.name()), shape.manifest());
            let loaded = load(&[source], &Limits::default());
            assert!(
                loaded.diagnostics.is_empty(),
                "{}: {:?}",
                shape.name(),
                loaded.diagnostics
            );
            assert_eq!(loaded.objects.len(), 1);
            let findings = validate(&loaded.objects, &|_, _, _| false);
            assert!(
                !findings.iter().any(|d| d.severity == Severity::Error),
                "{}: {findings:?}",
                shape.name()
            );
        }
    }
}
