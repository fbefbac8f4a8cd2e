//! The manifests the scenarios apply: a webhook EventSource and a Sensor whose trigger starts
//! one small workflow per event, the event's `uid` passed as the run's parameter `uid`, each
//! step appending `<uid> <step>` to a ledger file outside its scratch directory.

use std::path::Path;

/// The namespace every scenario's objects live in.
pub const NAMESPACE: &str = "default";
/// The webhook path of the chaos EventSource.
pub const ENDPOINT: &str = "/orders";

/// The chaos EventSource (`chaos`, event `orders` on `port`) and Sensor (`chaos`): one run
/// per event, running `steps` one after the other, each writing its ledger line and then
/// sleeping `sleep` seconds.
pub fn chaos_platform(port: u16, ledger: &Path, steps: &[&str], sleep: f64) -> String {
    let mut calls = String::new();
    for step in steps {
        calls.push_str(&format!(
            "                      - - {{name: {step}, template: step, arguments: {{parameters: [{{name: step, value: {step}}}]}}}}\n"
        ));
    }
    CHAOS_PLATFORM
        .replace("@PORT@", &port.to_string())
        .replace("@ENDPOINT@", ENDPOINT)
        .replace("@CALLS@", calls.trim_end_matches('\n'))
        .replace("@LEDGER@", &ledger.display().to_string())
        .replace("@SLEEP@", &format!("{sleep}"))
}

const CHAOS_PLATFORM: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: EventSource
metadata:
  name: chaos
spec:
  webhook:
    orders:
      port: "@PORT@"
      endpoint: @ENDPOINT@
      method: POST
---
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata:
  name: chaos
spec:
  dependencies:
    - name: order
      eventSourceName: chaos
      eventName: orders
  triggers:
    - template:
        name: run
        argoWorkflow:
          operation: submit
          source:
            resource:
              apiVersion: argoproj.io/v1alpha1
              kind: Workflow
              metadata:
                generateName: chaos-
              spec:
                entrypoint: main
                arguments:
                  parameters:
                    - name: uid
                templates:
                  - name: main
                    steps:
@CALLS@
                  - name: step
                    inputs:
                      parameters:
                        - name: step
                    container:
                      image: alpine
                      command: [sh, -c]
                      args: ['echo "$EVENT_UID $STEP" >> "$LEDGER"; sleep @SLEEP@']
                      env:
                        - {name: EVENT_UID, value: "{{workflow.parameters.uid}}"}
                        - {name: STEP, value: "{{inputs.parameters.step}}"}
                        - {name: LEDGER, value: "@LEDGER@"}
          parameters:
            - src: {dependencyName: order, dataKey: body.uid}
              dest: spec.arguments.parameters.0.value
"#;

/// A step of a phase workflow: writes `<run>:<step> start <ms>` to the ledger, sleeps, writes
/// `<run>:<step> end <ms>`.
fn phase_step(run: &str, step: &str, sleep: f64, ledger: &Path) -> String {
    format!(
        "  - name: {step}\n    container:\n      image: alpine\n      command: [sh, -c]\n      args: ['echo \"{run}:{step} start $(date +%s%3N)\" >> \"$LEDGER\"; sleep {sleep}; echo \"{run}:{step} end $(date +%s%3N)\" >> \"$LEDGER\"']\n      env:\n        - {{name: LEDGER, value: \"{}\"}}\n",
        ledger.display()
    )
}

fn workflow_head(name: &str, steps: &[&str]) -> String {
    let mut text = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  name: {name}\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    steps:\n"
    );
    for step in steps {
        text.push_str(&format!("    - - {{name: {step}, template: {step}}}\n"));
    }
    text
}

/// Three steps in a row (`one` sleeps `first_sleep` seconds, `two` and `three` a little).
pub fn phase_chain(name: &str, first_sleep: f64, ledger: &Path) -> String {
    let mut text = workflow_head(name, &["one", "two", "three"]);
    text.push_str(&phase_step(name, "one", first_sleep, ledger));
    text.push_str(&phase_step(name, "two", 0.3, ledger));
    text.push_str(&phase_step(name, "three", 0.1, ledger));
    text
}

/// `plan`, then a suspend node `approve`, then `apply`.
pub fn phase_gate(name: &str, ledger: &Path) -> String {
    let mut text = workflow_head(name, &["plan", "approve", "apply"]);
    text.push_str("  - name: approve\n    suspend: {}\n");
    text.push_str(&phase_step(name, "plan", 0.3, ledger));
    text.push_str(&phase_step(name, "apply", 0.1, ledger));
    text
}

/// One step `flaky` that fails its first attempt and succeeds its second, `backoff` seconds
/// later (retryStrategy limit 2). Each attempt writes `<run>:flaky start <ms>` and then
/// `fail` or `ok`.
pub fn phase_backoff(name: &str, backoff: u64, ledger: &Path) -> String {
    let ledger = ledger.display();
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  name: {name}\nspec:\n  entrypoint: flaky\n  templates:\n  - name: flaky\n    retryStrategy:\n      limit: 2\n      backoff: {{duration: \"{backoff}s\"}}\n    container:\n      image: alpine\n      command: [sh, -c]\n      args: ['echo \"{name}:flaky start $(date +%s%3N)\" >> \"$LEDGER\"; if [ -e \"$LEDGER.{name}\" ]; then echo \"{name}:flaky ok $(date +%s%3N)\" >> \"$LEDGER\"; exit 0; fi; touch \"$LEDGER.{name}\"; echo \"{name}:flaky fail $(date +%s%3N)\" >> \"$LEDGER\"; exit 1']\n      env:\n        - {{name: LEDGER, value: \"{ledger}\"}}\n"
    )
}

/// An EventSource `poison` (event `orders` on `port`) and two Sensors on it, each starting
/// a one-step run per event with the event's `uid`:
///
/// * `filter-poison`: a Lua filter that raises an error on an event whose body has
///   `poison: true` (a filter that fails, not one that says no);
/// * `template-poison`: a trigger parameter read from `body.required` with no default, so an
///   event without that field cannot be turned into a run (a template that fails).
pub fn poison_platform(port: u16) -> String {
    let trigger = |name: &str, extra_param: &str| {
        format!(
            r#"  triggers:
    - template:
        name: run
        argoWorkflow:
          operation: submit
          source:
            resource:
              apiVersion: argoproj.io/v1alpha1
              kind: Workflow
              metadata:
                generateName: {name}-
              spec:
                entrypoint: main
                arguments:
                  parameters:
                    - name: uid
                    - name: required
                      value: none
                templates:
                  - name: main
                    container:
                      image: alpine
                      command: ["true"]
          parameters:
            - src: {{dependencyName: order, dataKey: body.uid}}
              dest: spec.arguments.parameters.0.value
{extra_param}"#
        )
    };
    let required = "            - src: {dependencyName: order, dataKey: body.required}\n              dest: spec.arguments.parameters.1.value\n";
    format!(
        r#"apiVersion: argoproj.io/v1alpha1
kind: EventSource
metadata:
  name: poison
spec:
  webhook:
    orders:
      port: "{port}"
      endpoint: {ENDPOINT}
      method: POST
---
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata:
  name: filter-poison
spec:
  dependencies:
    - name: order
      eventSourceName: poison
      eventName: orders
      filters:
        script: |-
          if event.body.poison then error("poisoned event " .. event.body.uid) end
          return true
{}---
apiVersion: argoproj.io/v1alpha1
kind: Sensor
metadata:
  name: template-poison
spec:
  dependencies:
    - name: order
      eventSourceName: poison
      eventName: orders
{}"#,
        trigger("filter-poison", ""),
        trigger("template-poison", required),
    )
}

/// An EventSource `guarded` on `port` whose requests need `Authorization: Bearer <token>`
/// (a Secret `guarded-token`), with the default 1 MiB payload limit.
pub fn guarded_source(port: u16, token: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Secret
metadata:
  name: guarded-token
stringData:
  token: {token}
---
apiVersion: argoproj.io/v1alpha1
kind: EventSource
metadata:
  name: guarded
spec:
  webhook:
    hook:
      port: "{port}"
      endpoint: /hook
      method: POST
      authSecret:
        name: guarded-token
        key: token
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chaos_platform_lists_each_step_and_keeps_argo_placeholders() {
        let text = chaos_platform(4711, Path::new("/var/x/ledger"), &["first", "second"], 0.2);
        assert!(text.contains("port: \"4711\""));
        assert!(text.contains("- - {name: first, template: step, arguments: {parameters: [{name: step, value: first}]}}"));
        assert!(text.contains("- - {name: second,"));
        assert!(text.contains("{{workflow.parameters.uid}}"));
        assert!(text.contains("value: \"/var/x/ledger\""));
        assert!(text.contains("sleep 0.2'"));
        assert!(!text.contains('@'), "{text}");
    }

    #[test]
    fn phase_workflows_name_their_steps() {
        let l = Path::new("/l");
        assert!(phase_chain("r", 2.0, l).contains("echo \"r:one start"));
        assert!(phase_gate("g", l).contains("suspend: {}"));
        assert!(phase_backoff("b", 5, l).contains("backoff: {duration: \"5s\"}"));
        assert!(poison_platform(1).contains("template-poison"));
    }
}
